"""A mail's subject as a ticket's title, and as the loop check compares it.

Mail programs put ``Re:``, ``Fwd:``, ``AW:``, ``WG:``, ``SV:`` (and the like)
before a subject, and the help desk's own mails carry a ticket's reference in
brackets (``[TIC-00008]``); neither belongs in a new ticket's title. A mail
without a subject takes the first line of its text as the title.
"""

from __future__ import annotations

import re

PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|fw|aw|wg|sv|vs|antw|tr|rif|odp)(?:\s*\[\d+\]|\(\d+\))?\s*:\s*)+",
    re.IGNORECASE,
)
AUTOMATIC_PREFIX = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?reply|out of office|abwesenheitsnotiz|"
    r"automatische antwort)\s*:\s*",
    re.IGNORECASE,
)
REFERENCE = re.compile(r"\[([A-Z]{3}-\d{5,10})\]")
TITLE_FROM_TEXT = 80
"""The longest title made from a mail's text."""


def _strip_prefixes(subject: str) -> str:
    before = None
    while before != subject:
        before = subject
        subject = AUTOMATIC_PREFIX.sub("", PREFIX.sub("", subject))
    return subject


def title_of(subject: str) -> tuple[str, tuple[str, ...]]:
    """``subject`` without reply and forward prefixes and ticket references, and the
    references it named (``("TIC-00008",)``)."""
    references = tuple(REFERENCE.findall(subject))
    title = _strip_prefixes(REFERENCE.sub(" ", _strip_prefixes(subject)))
    return " ".join(title.split()).strip(" -:|"), references


def title_from_text(text: str) -> str:
    """The first non-empty line of ``text``, cut to :data:`TITLE_FROM_TEXT` characters."""
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if line:
            return line if len(line) <= TITLE_FROM_TEXT else line[: TITLE_FROM_TEXT - 1] + "…"
    return ""


def normalised(subject: str) -> str:
    """``subject`` as the loop check compares it: no prefixes, one case, single spaces."""
    return " ".join(_strip_prefixes(subject).split()).casefold()
