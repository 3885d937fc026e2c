"""The outbox admin pages: every mail to requesters, its attempts and errors, "retry now".

``/helpdesk/admin/mail`` lists mails newest first, 50 a page (keyset pages:
``?before=<id>``), optionally of one state (``?state=failed``); each mail
has a page with its attempts, last error, note and the message as sent, and a
"retry now" button while it is queued or failed. Admins only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.contrib import NavItem
from engine.model import WorkItem, utcnow
from engine.web.access import page
from engine.web.admin_support import as_id, missing, notice, read, redirect, write
from engine.web.errors import error_response
from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.mail.models import STATES, OutboxMail
from plugins.helpdesk.mail.outbox import RETRYABLE, retry_now
from plugins.helpdesk.mail.replies import reply_problem
from plugins.helpdesk.mail.settings import MailSettings

PATH = "/helpdesk/admin/mail"
PAGE_SIZE = 50
NOTICES = {"retry": "The mail is due now; the sender takes it within its polling interval."}


@dataclass(frozen=True)
class MailRow:
    """One line of the outbox list, as printed."""

    id: int
    created: str
    kind: str
    reference: str
    item_id: int
    to: str
    subject: str
    state: str
    attempts: int
    next_try: str
    last_error: str


@dataclass(frozen=True)
class StateLink:
    """A filter link: a state, how many mails are in it, and whether it is chosen."""

    state: str
    count: int
    chosen: bool


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment is not None else ""


def _subject(mail: OutboxMail) -> str:
    """The subject as sent, or what stands in for it before (or instead of) a first attempt."""
    if mail.subject:
        return mail.subject
    if mail.state == "merged" and mail.merged_into_id is not None:
        return f"(merged into mail {mail.merged_into_id})"
    if mail.state == "skipped":
        return "(not sent: skipped)"
    return "(not rendered yet)"


def _list(db: Session, state: str, before: int | None) -> dict[str, Any]:
    query = (
        select(OutboxMail, WorkItem.reference)
        .join(WorkItem, WorkItem.id == OutboxMail.work_item_id)
        .order_by(OutboxMail.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if state:
        query = query.where(OutboxMail.state == state)
    if before is not None:
        query = query.where(OutboxMail.id < before)
    found = db.execute(query).all()
    rows = [
        MailRow(
            mail.id, _when(mail.created_at), mail.kind, reference or f"#{mail.work_item_id}",
            mail.work_item_id, mail.to_address, _subject(mail), mail.state,
            mail.attempts, _when(mail.next_attempt_at) if mail.state == "queued" else "",
            mail.last_error[:120],
        )
        for mail, reference in found[:PAGE_SIZE]
    ]  # fmt: skip
    counts = dict(
        db.execute(select(OutboxMail.state, func.count()).group_by(OutboxMail.state)).tuples().all()
    )
    return {
        "rows": rows,
        "states": [StateLink(s, counts.get(s, 0), s == state) for s in STATES],
        "total": sum(counts.values()),
        "older": rows[-1].id if len(found) > PAGE_SIZE else None,
    }


async def outbox(request: Request) -> Response:
    """GET /helpdesk/admin/mail: the outbox, newest first, optionally one state."""
    state = request.query_params.get("state", "")
    raw_before = request.query_params.get("before", "")
    before = as_id(raw_before) if raw_before else None
    if state and state not in STATES:
        return error_response(
            request, 400, f"state: {state[:40]!r} is not a state; use one of {', '.join(STATES)}"
        )
    if raw_before and before is None:
        return error_response(request, 400, f"before: {raw_before[:40]!r} is not a mail number")
    listing = await read(request, lambda db: _list(db, state, before))
    site = request.app.state.settings
    settings = site.section("mail", MailSettings)
    replies = reply_problem(settings, site.section("inbound", InboundSettings))
    return request.app.state.templates.TemplateResponse(
        request,
        "helpdesk/mail/admin/outbox.html",
        {**listing, "state": state, "sending": settings.sending, "paged": before is not None,
         "reply_problem": replies},
    )  # fmt: skip


def _detail(db: Session, mail_id: int) -> dict[str, Any] | None:
    mail = db.get(OutboxMail, mail_id)
    if mail is None:
        return None
    item = mail.work_item
    facts = [
        ("State", mail.state),
        ("Kind", mail.kind),
        ("To", f"{mail.to_name} <{mail.to_address}>"),
        ("Message-ID", mail.message_id or f"<{mail.message_key}@…> (domain set at first send)"),
        ("Queued", _when(mail.created_at)),
        ("Attempts", str(mail.attempts)),
        ("Next try", _when(mail.next_attempt_at) if mail.state == "queued" else ""),
        ("Claimed until", _when(mail.lease_until) if mail.state == "sending" else ""),
        ("Sent", _when(mail.sent_at)),
        ("Unconfirmed hand-overs", str(mail.unconfirmed)),
    ]
    return {
        "mail_id": mail.id,
        "subject": _subject(mail),
        "item": (item.id, item.reference or f"#{item.id}", item.title),
        "facts": [(label, value) for label, value in facts if value],
        "last_error": mail.last_error,
        "note": mail.note,
        "merged_into": mail.merged_into_id,
        "message": mail.message or "",
        "context": json.dumps(dict(mail.context), indent=2, ensure_ascii=False),
        "retryable": mail.state in RETRYABLE,
    }


async def mail_page(request: Request) -> Response:
    """GET /helpdesk/admin/mail/{mail_id}: one mail, its attempts, the message as sent."""
    mail_id = request.path_params["mail_id"]
    state = await read(request, lambda db: _detail(db, mail_id))
    if state is None:
        return missing(request, f"mail {mail_id}", PATH)
    return request.app.state.templates.TemplateResponse(
        request, "helpdesk/mail/admin/mail.html", {**state, "notice": notice(request, NOTICES)}
    )


async def mail_retry(request: Request) -> Response:
    """POST /helpdesk/admin/mail/{mail_id}/retry: a queued or failed mail is due at once."""
    mail_id = request.path_params["mail_id"]

    def run(db: Session) -> str:
        row = db.get(OutboxMail, mail_id)
        if row is None:
            return "missing"
        return "done" if retry_now(db, mail_id, utcnow()) else row.state

    outcome = await write(request, run)
    if outcome == "missing":
        return missing(request, f"mail {mail_id}", PATH)
    if outcome != "done":
        return error_response(
            request, 409, f"Mail {mail_id} is {outcome}: only a queued or failed mail is retried."
        )
    return redirect(request, "helpdesk.mail.detail", "retry", mail_id=mail_id)


MAIL = PATH + "/{mail_id:int}"
ROUTES: list[BaseRoute] = [
    page(PATH, outbox, allow="admin", name="helpdesk.mail"),
    page(MAIL, mail_page, allow="admin", name="helpdesk.mail.detail"),
    page(MAIL + "/retry", mail_retry, allow="admin", methods=("POST",),
         name="helpdesk.mail.retry"),
]  # fmt: skip

NAVIGATION = [NavItem("Mail", PATH, roles=frozenset({"admin"}), order=95)]
