"""A received mail's bytes as plain values: who sent it, what it answers, its words and files.

Parsing never fails: :mod:`email` with ``policy.default`` reads whatever
arrives, and what cannot be read (no sender, an unknown charset, a broken
header) becomes an empty value or a replacement character, for the processing
to decide on. A mail without a Message-ID gets one made from a hash of its
bytes, so that the same bytes delivered twice are still recognised.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from email import policy
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from plugins.helpdesk.inbound.body import clean_text, html_to_text, sanitise
from plugins.helpdesk.inbound.models import MAX_MESSAGE_ID

MAX_REFERENCES = 100
MAX_FILENAME = 200
LOOP_HEADERS = (
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "return-path",
    "x-failed-recipients",
)
"""Headers the loop check reads (their values are kept, lower-case)."""
SUMMARY_HEADERS = ("from", "sender", "reply-to", "to", "cc", "date", "message-id",
                   "in-reply-to", "return-path", "authentication-results")  # fmt: skip
"""Headers the admin page shows of a mail (first 300 characters of each)."""
_ID = re.compile(r"<[^<>\s]{1,500}>")
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,40}/[a-z0-9][a-z0-9!#$&^_.+-]{0,50}$")


@dataclass(frozen=True)
class Attachment:
    """A file of the mail, with a name safe to offer for download."""

    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Mail:
    """What the processing needs of one mail."""

    message_id: str
    sender: str
    """The From address, lower-case; ``""`` when there is none that could be an address."""
    sender_name: str
    subject: str
    references: tuple[str, ...]
    """Message-IDs of In-Reply-To and References, in that order."""
    headers: dict[str, str]
    """The :data:`LOOP_HEADERS` present, lower-case values."""
    content_type: str
    text: str
    html: str
    """The HTML body sanitised (``""`` if there is none)."""
    attachments: tuple[Attachment, ...]
    skipped: tuple[str, ...]
    """Why files were not kept ("report.iso: larger than 10 MB")."""
    size: int
    fingerprint: str = ""
    """A hash of what the sender wrote (From, To, Date, Subject, text, HTML, files), the same
    for every delivery of the mail, whichever trace headers the servers on the way added."""
    authentication: tuple[str, ...] = ()
    """The ``Authentication-Results`` headers, top-most first."""
    summary: str = ""
    """The :data:`SUMMARY_HEADERS` present, ``Name: value`` one a line."""


def parse(raw: bytes, *, max_attachment_bytes: int, max_attachments: int) -> Mail:
    """``raw`` (a whole RFC 5322 message) as a :class:`Mail`."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    name, address = _sender(message)
    text, html = _bodies(message)
    kept, skipped = _attachments(message, max_attachment_bytes, max_attachments)
    subject = " ".join(clean_text(_header(message, "subject")).split())[:300]
    return Mail(
        message_id=_message_id(message, raw),
        sender=address,
        sender_name=name,
        subject=subject,
        references=tuple(
            _ID.findall(_header(message, "in-reply-to") + " " + _header(message, "references"))
        )[:MAX_REFERENCES],
        headers={
            name: _header(message, name).strip().lower() for name in LOOP_HEADERS if name in message
        },
        content_type=message.get_content_type(),
        text=text,
        html=html,
        attachments=kept,
        skipped=skipped,
        size=len(raw),
        fingerprint=_fingerprint(message, text, html, kept),
        authentication=tuple(_all(message, "authentication-results")),
        summary="\n".join(
            f"{name.title()}: {value[:300]}"
            for name in SUMMARY_HEADERS
            for value in _all(message, name)
        ),
    )


def _all(message: EmailMessage, name: str) -> list[str]:
    """Every value of header ``name``, top-most first, on one line each (raw if unreadable)."""
    values = []
    for key, raw in message.raw_items():
        if key.lower() == name:
            try:
                value = str(message.policy.header_fetch_parse(key, raw))
            except (HeaderParseError, ValueError, IndexError, AttributeError):
                value = str(raw)
            values.append(" ".join(clean_text(value).split()))
    return values


def _fingerprint(message: EmailMessage, text: str, html: str, files: tuple[Attachment, ...]) -> str:
    parts = [_raw(message, name) for name in ("from", "to", "date", "subject")]
    parts += [text, html, *(hashlib.sha256(file.content).hexdigest() for file in files)]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "replace")).hexdigest()


def _raw(message: EmailMessage, name: str) -> str:
    """The first header ``name`` as it was written, unfolded (``""`` if absent)."""
    for key, value in message.raw_items():
        if key.lower() == name:  # 8-bit bytes (SMTPUTF8) arrive as surrogate escapes
            text = str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return re.sub(r"\r?\n(?=[ \t])", "", text).strip()
    return ""


def _header(message: EmailMessage, name: str) -> str:
    """A header's decoded value, ``""`` when absent or unreadable."""
    try:
        value = message.get(name)
        return "" if value is None else str(value)
    except (HeaderParseError, ValueError, IndexError, AttributeError):
        return ""  # a header the parser could not make sense of counts as absent


def _sender(message: EmailMessage) -> tuple[str, str]:
    """(display name on one line, address): read from the header as written, then the name
    decoded, so that an encoded line break in the name leaves the address readable."""
    pairs = getaddresses([_raw(message, "from")])
    name, address = pairs[0] if pairs else ("", "")
    name = _decoded(name)
    address = address.strip().lower()
    local, at, domain = address.partition("@")
    if not (local and at and "." in domain) or any(c.isspace() or c in "<>," for c in address):
        address = ""
    flat = "".join(c if c.isprintable() else " " for c in name)  # CR, LF, tabs: spaces
    return " ".join(flat.split())[:200], address[:320]


def _decoded(words: str) -> str:
    """RFC 2047 encoded words decoded (as written when they cannot be)."""
    try:
        return str(make_header(decode_header(words)))
    except (HeaderParseError, UnicodeDecodeError, LookupError, ValueError):
        return words


def _message_id(message: EmailMessage, raw: bytes) -> str:
    found = _ID.search(_header(message, "message-id"))
    if found is None:
        return f"<sha256.{hashlib.sha256(raw).hexdigest()[:48]}@no-message-id.invalid>"
    value = found.group(0)
    if len(value) > MAX_MESSAGE_ID:
        return f"<sha256.{hashlib.sha256(value.encode()).hexdigest()[:48]}@long-id.invalid>"
    return value


def _bodies(message: EmailMessage) -> tuple[str, str]:
    """(text, sanitised html): the text/plain part preferred, else the HTML's text."""
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    html = sanitise(_text_of(rich)) if rich is not None else ""
    if plain is not None:
        return clean_text(_text_of(plain)), html
    return (clean_text(html_to_text(html)) if html else ""), html


def _text_of(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know: read it as UTF-8
        return payload.decode("utf-8", errors="replace")


def _attachments(
    message: EmailMessage, max_bytes: int, max_count: int
) -> tuple[tuple[Attachment, ...], tuple[str, ...]]:
    kept: list[Attachment] = []
    skipped: list[str] = []
    for position, part in enumerate(message.iter_attachments(), start=1):
        content_type = part.get_content_type()
        if not _CONTENT_TYPE.match(content_type):
            content_type = "application/octet-stream"
        filename = safe_filename(part.get_filename(), position, content_type)
        content = _bytes(part)
        if len(content) > max_bytes:
            skipped.append(f"{filename}: larger than {_size(max_bytes)}")
        elif len(kept) >= max_count:
            skipped.append(f"{filename}: more than {max_count} files in one mail")
        else:
            kept.append(Attachment(filename, content_type, content))
    return tuple(kept), tuple(skipped)


def _bytes(part: EmailMessage) -> bytes:
    if part.get_content_maintype() == "message":  # a forwarded mail: keep it whole
        inner = part.get_payload(0)
        return inner.as_bytes() if isinstance(inner, EmailMessage) else b""
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def safe_filename(name: str | None, position: int, content_type: str) -> str:
    """``name`` without folders, control or reserved characters, at most 200 characters;
    ``attachment-<position>.<ext>`` when nothing is left."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable() and c not in '<>:"|?*;').strip(" .")
    if not base:
        extension = ".eml" if content_type == "message/rfc822" else None
        extension = extension or mimetypes.guess_extension(content_type) or ".bin"
        return f"attachment-{position}{extension}"
    if len(base) > MAX_FILENAME:
        stem, dot, extension = base.rpartition(".")
        extension = extension if dot and len(extension) <= 10 else ""
        keep = MAX_FILENAME - len(extension) - 1
        base = f"{(stem or base)[:keep]}.{extension}" if extension else base[:MAX_FILENAME]
    return base


def _size(count: int) -> str:
    return f"{count / 1024 / 1024:g} MB" if count >= 1024 * 1024 else f"{count} bytes"
