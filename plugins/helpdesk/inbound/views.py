"""Inbound mail on the web: the administrators' record of every mail, and a ticket's files.

``GET /helpdesk/admin/inbound`` lists every mail received, newest first, 50 a
page (keyset: ``?before=<id>``, optionally ``?outcome=refused``): from whom,
what, by which transport, what became of it and why (each mail's page is in
:mod:`.views_mail`). ``GET
/helpdesk/items/{id}/attachments/{n}`` downloads a ticket's n-th file to
whoever may see the ticket (404 to anyone else, as for a missing one), always
as a download (``Content-Disposition: attachment``, ``nosniff``, a sandboxing
CSP), never rendered by the browser. The ticket page lists the files
(:func:`sections`).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.contrib import ItemSection, NavItem
from engine.model import WorkItem
from engine.web.access import Viewer, page, viewer_of
from engine.web.admin_support import as_id, read
from engine.web.errors import error_response
from engine.web.item_page import find_item
from engine.web.timeline import Moment, moment
from plugins.helpdesk.inbound.models import OUTCOMES, InboundAttachment, InboundMessage
from plugins.helpdesk.inbound.views_mail import PATH, mail_page, make_ticket_action, why

PAGE_SIZE = 50
MAX_NUMBER = 10_000
RENDERED_TYPES = frozenset(
    {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml"}
)
"""Types a browser would render as a page: served as ``application/octet-stream``."""


@dataclass(frozen=True)
class MailRow:
    """One received mail as the admin page prints it."""

    id: int
    received: Moment
    transport: str
    sender: str
    subject: str
    outcome: str
    reason: str
    deliveries: int
    item_reference: str
    item_url: str


@dataclass(frozen=True)
class FileRow:
    """One of a ticket's files as its page lists it."""

    filename: str
    size: str
    content_type: str
    url: str


def _mail_rows(db: Session, outcome: str, before: int | None) -> list[MailRow]:
    query = (
        select(InboundMessage, WorkItem.reference)
        .outerjoin(WorkItem, WorkItem.id == InboundMessage.work_item_id)
        .order_by(InboundMessage.id.desc())
        .limit(PAGE_SIZE)
    )
    if outcome:
        query = query.where(InboundMessage.outcome == outcome)
    if before is not None:
        query = query.where(InboundMessage.id < before)
    return [
        MailRow(
            id=row.id,
            received=moment(row.received_at),
            transport=row.transport.upper(),
            sender=row.sender or "(none)",
            subject=row.subject or "(no subject)",
            outcome=row.outcome,
            reason=why(row.outcome, row.reason),
            deliveries=row.deliveries,
            item_reference=reference or (f"#{row.work_item_id}" if row.work_item_id else ""),
            item_url=f"/items/{row.work_item_id}" if row.work_item_id else "",
        )
        for row, reference in db.execute(query).all()
    ]


async def inbound_page(request: Request) -> Response:
    """GET /helpdesk/admin/inbound: every mail received, newest first, with its outcome."""
    params = request.query_params
    outcome = params.get("outcome", "")
    raw_before = params.get("before", "")
    before = as_id(raw_before) if raw_before else None
    if outcome and outcome not in OUTCOMES:
        return error_response(
            request, 400, f"There is no outcome {outcome[:30]!r}; choose {', '.join(OUTCOMES)}."
        )
    if raw_before and before is None:
        problem = f"'before' must be a mail's number, not {raw_before[:30]!r}."
        return error_response(request, 400, problem)
    rows = await read(request, lambda db: _mail_rows(db, outcome, before))
    kept = {"outcome": outcome} if outcome else {}
    return request.app.state.templates.TemplateResponse(
        request,
        "helpdesk/inbound/mails.html",
        {
            "rows": rows,
            "outcome": outcome,
            "outcomes": OUTCOMES,
            "next_url": "?" + urlencode(kept | {"before": rows[-1].id})
            if len(rows) == PAGE_SIZE
            else None,
            "first_url": "?" + urlencode(kept) if before is not None else None,
        },
    )


def _file(db: Session, item_id: int, number: int, viewer: Viewer) -> InboundAttachment | None:
    if find_item(db, item_id, viewer) is None or not 0 < number <= MAX_NUMBER:
        return None
    query = (
        select(InboundAttachment)
        .where(InboundAttachment.work_item_id == item_id)
        .order_by(InboundAttachment.id)
        .offset(number - 1)
        .limit(1)
    )
    return db.scalars(query).first()


async def attachment_download(request: Request) -> Response:
    """GET /helpdesk/items/{item_id}/attachments/{number}: the file, as a download."""
    item_id: int = request.path_params["item_id"]
    number: int = request.path_params["number"]
    viewer = viewer_of(request)
    found = await read(request, lambda db: _file(db, item_id, number, viewer))
    if found is None:
        problem = f"Work item {item_id} has no file {number} that you may see."
        return error_response(request, 404, problem)
    rendered = found.content_type in RENDERED_TYPES
    return Response(
        found.content,
        media_type="application/octet-stream" if rendered else found.content_type,
        headers={
            "Content-Disposition": _disposition(found.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


def _disposition(filename: str) -> str:
    """``attachment`` with an ASCII name and the real one (RFC 6266 ``filename*``)."""
    plain = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename
    )
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def sections(item: WorkItem, viewer: Viewer, session: Session) -> list[ItemSection]:
    """The ticket's files from e-mail, if it has any (the page is for viewers who may see it)."""
    query = (
        select(InboundAttachment.filename, InboundAttachment.size, InboundAttachment.content_type)
        .where(InboundAttachment.work_item_id == item.id)
        .order_by(InboundAttachment.id)
        .limit(MAX_NUMBER)
    )
    files = [
        FileRow(name, _size(size), kind, f"/helpdesk/items/{item.id}/attachments/{number}")
        for number, (name, size, kind) in enumerate(session.execute(query).all(), start=1)
    ]
    if not files:
        return []
    return [ItemSection("Files from e-mail", "helpdesk/inbound/files.html", {"files": files}, 60)]


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / 1024 / 1024:.1f} MB"
    return f"{count / 1024:.0f} KB" if count >= 1024 else f"{count} bytes"


ROUTES: list[BaseRoute] = [
    page(PATH, inbound_page, allow="admin", name="helpdesk.inbound"),
    page(f"{PATH}/{{inbound_id:int}}", mail_page, allow="admin", name="helpdesk.inbound.mail"),
    page(
        f"{PATH}/{{inbound_id:int}}/ticket",
        make_ticket_action,
        allow="admin",
        methods=("POST",),
        name="helpdesk.inbound.ticket",
    ),
    page(
        "/helpdesk/items/{item_id:int}/attachments/{number:int}",
        attachment_download,
        allow="signed_in",
        name="helpdesk.inbound.attachment",
    ),
]

NAVIGATION = [NavItem("Inbound mail", PATH, roles=frozenset({"admin"}), order=96)]
