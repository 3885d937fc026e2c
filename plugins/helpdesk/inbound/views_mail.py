"""One received mail on the web, for administrators, and "Make a ticket from it".

``GET /helpdesk/admin/inbound/{inbound_id}`` shows a mail's record: a summary
of its headers, its text, its sanitised HTML as escaped source (never
rendered: the browser shows the markup as text), the files kept, the outcome
and why. ``POST /helpdesk/admin/inbound/{inbound_id}/ticket`` makes the ticket
a dropped, refused or held mail would have made (:mod:`.remake`), idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from engine.errors import TemporalError
from engine.model import WorkItem
from engine.runtime.client import Runtime
from engine.web.access import viewer_of
from engine.web.admin_support import read
from engine.web.errors import error_response
from engine.web.timeline import Moment, moment
from plugins.helpdesk.inbound.models import InboundAttachment, InboundMessage
from plugins.helpdesk.inbound.process import Inbox
from plugins.helpdesk.inbound.records import TryLater
from plugins.helpdesk.inbound.remake import REMAKEABLE, NotRemakeable, make_ticket
from plugins.helpdesk.inbound.settings import InboundSettings

PATH = "/helpdesk/admin/inbound"
TEMPORAL_DOWN = "The workflow engine cannot be reached just now; try again."


def why(outcome: str, reason: str) -> str:
    """``reason`` without a leading repeat of ``outcome`` ("held: …", "created TIC-1")."""
    for prefix in (f"{outcome}: ", "created "):
        if reason.startswith(prefix):
            return reason.removeprefix(prefix) if prefix != "created " else ""
    return reason


@dataclass(frozen=True)
class FileLine:
    """A file the mail brought, as the page lists it."""

    filename: str
    content_type: str
    size: int
    url: str


@dataclass(frozen=True)
class MailPage:
    """Everything the mail's page prints."""

    id: int
    received: Moment
    transport: str
    sender: str
    subject: str
    message_id: str
    reused: bool
    deliveries: int
    outcome: str
    why: str
    authentication: str
    headers: str
    text: str
    html: str
    item_reference: str
    item_url: str
    files: list[FileLine]
    remakeable: bool


def _page(db: Session, inbound_id: int) -> MailPage | None:
    row = db.get(InboundMessage, inbound_id)
    if row is None:
        return None
    item = db.get(WorkItem, row.work_item_id) if row.work_item_id else None
    files = []
    if item is not None:
        query = (
            select(InboundAttachment).filter_by(work_item_id=item.id).order_by(InboundAttachment.id)
        )
        for number, file in enumerate(db.scalars(query), start=1):
            if file.message_id == row.id:
                url = f"/helpdesk/items/{item.id}/attachments/{number}"
                files.append(FileLine(file.filename, file.content_type, file.size, url))
    name = f"{row.sender_name} <{row.sender}>" if row.sender_name else row.sender
    return MailPage(
        id=row.id, received=moment(row.received_at), transport=row.transport.upper(),
        sender=name or "(none)", subject=row.subject or "(no subject)",
        message_id=row.message_id, reused=row.reused, deliveries=row.deliveries,
        outcome=row.outcome, why=why(row.outcome, row.reason),
        authentication=row.authentication, headers=row.headers, text=row.body_text,
        html=row.body_html, item_reference=item.reference or f"#{item.id}" if item else "",
        item_url=f"/items/{item.id}" if item else "", files=files,
        remakeable=row.outcome in REMAKEABLE,
    )  # fmt: skip


async def mail_page(request: Request) -> Response:
    """GET /helpdesk/admin/inbound/{inbound_id}: one mail, what became of it and why."""
    inbound_id: int = request.path_params["inbound_id"]
    found = await read(request, lambda db: _page(db, inbound_id))
    if found is None:
        return error_response(request, 404, f"There is no mail {inbound_id}; see {PATH}.")
    done = request.query_params.get("done") == "ticket"
    return request.app.state.templates.TemplateResponse(
        request, "helpdesk/inbound/mail.html", {"mail": found, "done": done}
    )


async def make_ticket_action(request: Request) -> Response:
    """POST /helpdesk/admin/inbound/{inbound_id}/ticket: the ticket the mail would have made."""
    inbound_id: int = request.path_params["inbound_id"]
    found = await read(request, lambda db: db.get(InboundMessage, inbound_id))
    back = RedirectResponse(f"{PATH}/{inbound_id}?done=ticket", 303)
    if found is None:
        return error_response(request, 404, f"There is no mail {inbound_id}; see {PATH}.")
    if found.outcome == "ticket":  # made already (by this action or by the mail)
        return back
    if found.outcome not in REMAKEABLE:
        problem = f"Mail {inbound_id} was not dropped, refused or held: it is {found.outcome}."
        return error_response(request, 409, problem)
    state = request.app.state
    try:
        runtime = Runtime(await state.temporal.client(), state.settings.task_queue)
        settings = state.settings.section("inbound", InboundSettings)
        inbox = Inbox(settings, state.pm, state.sessions, runtime, state.request_types)
        await make_ticket(inbox, inbound_id, viewer_of(request).name)
    except NotRemakeable as exc:
        return error_response(request, exc.status, str(exc))
    except (TemporalError, TryLater) as exc:
        return error_response(request, 503, f"{TEMPORAL_DOWN} ({exc})")
    return back
