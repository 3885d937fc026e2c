"""Mail that must not make tickets: auto-replies, bulk mail, bounces, and our own mail back.

An out-of-office answer to the help desk's own notification would otherwise
make a ticket, whose notification is answered again, and so on. Each check
names the header that gave the mail away, for the record's reason. The rate
limit per sender (:func:`too_many`) catches the loops no header reveals.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugins.helpdesk.inbound.models import InboundMessage
from plugins.helpdesk.inbound.parse import Mail
from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.inbound.subjects import normalised

BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
DAEMONS = ("mailer-daemon@", "postmaster@")


def loop_reason(mail: Mail, envelope_sender: str | None, settings: InboundSettings) -> str:
    """Why ``mail`` is automatic (and is dropped), or ``""`` when a person sent it.

    ``envelope_sender`` is SMTP's ``MAIL FROM`` (``"<>"``, the null sender, for
    bounces; ``None`` when unknown, as for mail read over IMAP).
    """
    headers = mail.headers
    auto = headers.get("auto-submitted", "")
    if auto and auto.split(";")[0].strip() != "no":
        return f"an automatic reply (Auto-Submitted: {auto[:60]})"
    precedence = headers.get("precedence", "")
    if precedence in BULK_PRECEDENCE:
        return f"bulk or list mail (Precedence: {precedence[:30]})"
    for name in ("x-autoreply", "x-autorespond", "x-auto-response-suppress"):
        if name in headers:
            return f"an automatic reply ({_title(name)} header)"
    if mail.content_type == "multipart/report" or "x-failed-recipients" in headers:
        return "a delivery report (bounce)"
    if envelope_sender in ("", "<>") or headers.get("return-path", "").strip() == "<>":
        return "a bounce (empty return path)"
    if mail.sender.startswith(DAEMONS):
        return f"a bounce (from {mail.sender[:60]})"
    if mail.sender and settings.own_address(mail.sender):
        return f"mail from the help desk's own address {mail.sender}"
    return ""


def _title(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))


def too_many(db: Session, mail: Mail, now: datetime, settings: InboundSettings, *,
             excluding: int) -> str:  # fmt: skip
    """Why ``mail`` is dropped as part of a loop no header reveals, or ``""``: its sender
    sent ``per_sender_per_hour`` other mails within the hour or ``per_sender_per_day``
    within the day, or a mail with the same subject (:func:`normalised`) within the hour."""
    earlier = (
        select(InboundMessage.received_at, InboundMessage.subject)
        .where(
            InboundMessage.sender == mail.sender,
            InboundMessage.received_at > now - timedelta(days=1),
            InboundMessage.id != excluding,
        )
        .order_by(InboundMessage.id.desc())
        .limit(settings.per_sender_per_day)
    )
    rows = db.execute(earlier).all()
    hour = [subject for received, subject in rows if received > now - timedelta(hours=1)]
    if len(rows) >= settings.per_sender_per_day:
        return f"{mail.sender} sent more than {settings.per_sender_per_day} mails within a day"
    if len(hour) >= settings.per_sender_per_hour:
        limit = settings.per_sender_per_hour
        return f"{mail.sender} sent more than {limit} mails within an hour (a loop?)"
    subject = normalised(mail.subject)
    if any(normalised(earlier) == subject for earlier in hour):
        return (
            f"{mail.sender} sent a mail with this subject within the hour (an auto-responder loop?)"
        )
    return ""
