"""A mail's words: HTML sanitised with nh3 and turned into text, quoted history cut off.

Tickets and comments hold plain text, which the pages print escaped; the
sanitised HTML is kept on the mail's record only. nh3 (the Rust sanitiser
ammonia) removes ``<script>``, ``<style>`` and the ``<head>`` with their content, every
event-handler attribute and every URL scheme but http, https, mailto and cid.
The text is made from the *sanitised* HTML, so nothing a script held can
reach it.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

URL_SCHEMES = frozenset({"http", "https", "mailto", "cid"})
REMOVED_WITH_CONTENT = frozenset({"script", "style", "head", "title", "template", "noscript"})
"""Elements dropped with everything inside them (nh3 keeps the text of other unknown tags)."""
BLOCKS = frozenset(
    {"p", "div", "br", "tr", "li", "ul", "ol", "table", "blockquote", "pre", "hr"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "header", "footer"}
)

# where a reply's quoted history starts (only markers mail programs write on a line of their own)
_QUOTE_STARTS = (
    re.compile(r"^\s*On .{1,200}(wrote|schrieb|a écrit|escribió)\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Am .{1,200} schrieb .{1,200}:\s*$"),
    re.compile(r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht)\s*-{2,}\s*$", re.I),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above "From: ... Sent: ..."
)
_OUTLOOK_HEADER = re.compile(r"^\s*(From|Von|De)\s*:", re.IGNORECASE)


def sanitise(html: str) -> str:
    """``html`` with everything that could run or load script removed (nh3's defaults, and
    only the :data:`URL_SCHEMES`)."""
    return nh3.clean(
        html,
        clean_content_tags=set(REMOVED_WITH_CONTENT),
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )


class _Text(HTMLParser):
    """Collects the text of (sanitised) HTML, a line break around each block element."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    """The text of ``html`` (sanitised first), with paragraphs kept as blank-line breaks."""
    parser = _Text()
    parser.feed(sanitise(html))
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean_text(text: str) -> str:
    """``text`` with unix line ends and no control characters but tabs and newlines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c.isprintable() or c in "\n\t").strip()


def strip_quoted(text: str) -> str:
    """A reply's own words: ``text`` up to where its quoted history starts.

    Cut only at markers mail programs write ("On ... wrote:", "-----Original
    Message-----", Outlook's rule followed by "From:") or at a trailing block of
    ``>`` lines; if that would leave nothing, the whole text is kept.
    """
    lines = text.split("\n")
    cut = len(lines)
    for number, line in enumerate(lines):
        if any(pattern.match(line) for pattern in _QUOTE_STARTS[:3]):
            cut = number
            break
        if _QUOTE_STARTS[3].match(line) and _next_is_header(lines, number):
            cut = number
            break
    while cut > 0 and (lines[cut - 1].startswith(">") or not lines[cut - 1].strip()):
        cut -= 1  # a trailing block of quoted lines (quotes between one's own lines stay)
    own = "\n".join(lines[:cut]).strip()
    return own or text.strip()


def _next_is_header(lines: list[str], number: int) -> bool:
    following = [line for line in lines[number + 1 : number + 3] if line.strip()]
    return bool(following) and bool(_OUTLOOK_HEADER.match(following[0]))
