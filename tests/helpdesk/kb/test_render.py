"""Articles' Markdown renders as CommonMark and nothing in it can run in a reader's browser."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from plugins.helpdesk.kb.render import TAGS, plain, render


def test_commonmark_renders() -> None:
    html = str(
        render("# Reset\n\n1. Open **the page**\n2. Choose `Reset`\n\n[help](https://x.org)")
    )
    assert "<h1>Reset</h1>" in html
    assert "<ol>" in html
    assert "<strong>the page</strong>" in html
    assert "<code>Reset</code>" in html
    assert '<a href="https://x.org" rel="noopener noreferrer nofollow">help</a>' in html


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>",
        "Text <script>alert(1)</script> inline",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](  javascript:alert(1))",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![x](javascript:alert(1))",
        '<iframe src="https://evil.example"></iframe>',
        "<div onclick=alert(1)>click</div>",
        "<style>body{display:none}</style>",
        "[x]: javascript:alert(1)\n\n[link][x]",
    ],
)
def test_nothing_runs(markdown: str) -> None:
    found = Elements()
    found.feed(str(render(markdown)))
    assert found.tags <= TAGS, found.tags
    for name, value in found.attributes:
        assert not name.startswith("on"), (markdown, name)
        if name in ("href", "src"):
            assert value.split(":", 1)[0].lower() in ("http", "https", "mailto"), value


class Elements(HTMLParser):
    """Every tag and attribute of a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(name, value or "") for name, value in attrs]


def test_raw_html_is_shown_as_text() -> None:
    assert str(render("a <b>bold</b> claim")) == "<p>a &lt;b&gt;bold&lt;/b&gt; claim</p>\n"


def test_plain_text_for_summaries() -> None:
    assert plain("**Open** the [page](https://x.org)") == "Open the page"
