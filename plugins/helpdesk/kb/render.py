"""Articles' Markdown as safe HTML: CommonMark by markdown-it-py, then sanitised by nh3.

Raw HTML in the Markdown is not passed through (``html: False`` prints it as
text), markdown-it refuses ``javascript:``-style link targets, and nh3 (the
ammonia sanitiser) then keeps only the tags, attributes and URL schemes
listed here, whatever the renderer let by: two independent layers.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_MARKDOWN.enable("table")

TAGS = frozenset(
    {
        "a", "p", "br", "hr", "strong", "em", "code", "pre", "blockquote",
        "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
        "table", "thead", "tbody", "tr", "th", "td", "img",
    }
)  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def render(markdown: str) -> Markup:
    """``markdown`` as sanitised HTML, safe to print in a page as it is."""
    html = _MARKDOWN.render(markdown)
    clean = nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # sanitised by nh3 just above


def plain(markdown: str) -> str:
    """The text of ``markdown`` without its markup (for summaries and snippets)."""
    return nh3.clean(_MARKDOWN.render(markdown), tags=set()).strip()
