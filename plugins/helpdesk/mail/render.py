"""Turning an outbox row into an e-mail: templates (admins may replace them) and safe headers.

Each kind of mail is one template, ``helpdesk/mail/<kind>.html`` (created,
status, resolved, comment, notice), extending ``helpdesk/mail/_layout.html``;
it fills the blocks ``subject``, ``text`` (the plain-text part) and optionally
``html`` (by default the text's paragraphs). Templates are looked up first in
the admins' folder (``[mail] templates_dir``, else ``<data_dir>/templates``),
then in the plugin's own, so a file ``<data_dir>/templates/helpdesk/mail/
resolved.html`` replaces the resolution mail. The same file is rendered once
per part, with ``part`` set to ``subject``, ``text`` or ``html``; subject and
text without HTML escaping, html with it. Templates run sandboxed.

Header safety: the subject and every display name are reduced to one line
(any line break or control character becomes a space) before they reach
:class:`email.message.EmailMessage` (policy SMTP), and addresses are parsed
by :class:`email.headerregistry.Address`, so nothing a requester types into a
title or a name can add a header.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import ChainableUndefined, Environment, FileSystemLoader, TemplateError
from jinja2.loaders import split_template_path
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from engine.errors import TierflowError
from engine.model import utcnow
from plugins.helpdesk.mail.settings import MailSettings

SHIPPED = Path(__file__).resolve().parent.parent / "templates"
POLICY = policy.SMTP.clone(cte_type="7bit")
"""CRLF line ends; bodies quoted-printable or base64, so no server needs 8BITMIME."""
MAX_SUBJECT = 200
STATUS_WORDS = {
    "open": "open: we are working on it",
    "resolved": "resolved",
    "closed": "closed",
    "new": "new",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


class RenderError(TierflowError):
    """A template that cannot be rendered (names the template and the cause)."""


@dataclass(frozen=True)
class Rendered:
    """A mail's three parts."""

    subject: str
    text: str
    html: str


def one_line(text: str) -> str:
    """``text`` on one line: line breaks and other control characters become single spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


def paragraphs(text: str) -> Markup:
    """Text as HTML paragraphs (blank lines part them, line breaks kept), escaped first.

    Markup (a block rendered with autoescape, its values already escaped) is not
    escaped twice.
    """
    safe = str(escape(text)).replace("\r\n", "\n")
    blocks = [block.strip() for block in re.split(r"\n\s*\n", safe)]
    return Markup("\n".join(f"<p>{'<br>'.join(b.splitlines())}</p>" for b in blocks if b))


class OverridableLoader(FileSystemLoader):
    """A :class:`FileSystemLoader` whose cached templates also go stale when an earlier folder
    gains (or loses) the file.

    Jinja's own check looks only at the file it found: a shipped template, once
    cached, would stay in use after an admin adds an override in the folder
    before it, until a restart. Here a template is up to date only while the
    file that would be found now is the same one, unchanged.
    """

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, unchanged = super().get_source(environment, template)

        def uptodate() -> bool:
            return unchanged() and self._first(template) == filename

        return source, filename, uptodate

    def _first(self, template: str) -> str | None:
        """The path of the file ``template`` names in the first folder that has it."""
        pieces = split_template_path(template)
        for folder in self.searchpath:
            path = os.path.normpath(posixpath.join(folder, *pieces))
            if os.path.isfile(path):
                return path
        return None


class Renderer:
    """Renders mails from the admins' templates, falling back to the shipped ones."""

    def __init__(self, settings: MailSettings, data_dir: Path) -> None:
        self.settings = settings
        self.folders = [settings.template_folder(data_dir), SHIPPED]
        loader = OverridableLoader([str(folder) for folder in self.folders])
        options: dict[str, Any] = {"loader": loader, "undefined": ChainableUndefined}
        self._plain = SandboxedEnvironment(autoescape=False, keep_trailing_newline=True, **options)
        self._html = SandboxedEnvironment(autoescape=True, **options)
        for environment in (self._plain, self._html):  # both compile the whole file
            environment.filters["paragraphs"] = paragraphs

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        """The subject, text and HTML of a mail of ``kind``; :class:`RenderError` if it fails."""
        name = f"helpdesk/mail/{kind}.html"
        values = {**self._extra(context), **context}  # the sender's extras (a signed link) win
        try:
            subject = self._plain.get_template(name).render(values, part="subject")
            text = self._plain.get_template(name).render(values, part="text").strip() + "\n"
            html = self._html.get_template(name).render(values, part="html")
        except TemplateError as exc:
            where = f"{exc.filename}:{exc.lineno}" if hasattr(exc, "lineno") else name
            raise RenderError(f"mail template {where}: {exc.message or exc}") from exc
        reference = str(context.get("item", {}).get("reference", ""))
        return Rendered(_subject(subject, reference), text, html)

    def _extra(self, context: dict[str, Any]) -> dict[str, Any]:
        item = context.get("item", {})
        status = context.get("status", {})
        return {
            "link": f"{self.settings.site_url}/items/{item.get('id', '')}",
            "site_url": self.settings.site_url,
            "sender_name": self.settings.from_name,
            "status_words": STATUS_WORDS.get(str(status.get("to")), str(status.get("to", ""))),
            "reopened": status.get("from") in ("resolved", "closed")
            and status.get("to") != "closed",
        }


def _subject(rendered: str, reference: str) -> str:
    subject = one_line(rendered)
    tag = f"[{reference}]"
    if reference and tag not in subject:
        subject = f"{tag} {subject}".strip()
    return subject[:MAX_SUBJECT]


@dataclass(frozen=True)
class Envelope:
    """Who a mail goes to, its Message-ID and the thread it belongs to."""

    to_name: str
    to_address: str
    message_id: str
    thread: str | None = None
    """The Message-ID of the ticket's first mail (In-Reply-To, References); ``None``: this is it."""


def build(rendered: Rendered, settings: MailSettings, envelope: Envelope) -> EmailMessage:
    """The message: headers made safe, a text part and its HTML alternative."""
    message = EmailMessage(policy=POLICY)
    message["Subject"] = one_line(rendered.subject)
    message["From"] = Address(one_line(settings.from_name), addr_spec=settings.from_address)
    message["To"] = Address(one_line(envelope.to_name), addr_spec=envelope.to_address)
    reply_to = settings.reply_to or settings.from_address
    if reply_to:
        message["Reply-To"] = Address(one_line(settings.from_name), addr_spec=reply_to)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = envelope.message_id
    if envelope.thread is not None:
        message["In-Reply-To"] = envelope.thread
        message["References"] = envelope.thread
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def message_id(key: str, settings: MailSettings) -> str:
    """``<tierflow.<item>.<token>@<domain>>``: a row's ``message_key`` at the sender's domain."""
    return f"<{key}@{settings.domain}>"
