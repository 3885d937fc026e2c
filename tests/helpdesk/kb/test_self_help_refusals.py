"""Self-help refuses what the portal would not take: a form without a subject, another channel.

"This solved it" closes a request only of a type whose portal form asks for a
subject (the text the articles were found for) and that the portal offers;
anything else is refused with a clear message and nothing is written. The
request it records is numbered by the engine's own reference helper.
"""

from __future__ import annotations

import hashlib
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette

from engine.contrib import RequestType
from engine.intake import reference_for
from engine.model import Event, WorkflowDefinition, WorkItem
from plugins.helpdesk.kb.models import SelfHelp
from tests.helpdesk.kb.conftest import Library


def counts(session: Session) -> tuple[int, int, int]:
    """Work items, events and self-help rows: what a refused request must not add to."""
    found = tuple(
        int(session.scalar(select(func.count()).select_from(table)) or 0)
        for table in (WorkItem, Event, SelfHelp)
    )
    session.rollback()
    return found  # type: ignore[return-value]


def post(client, token: str, request_type: str, article: int, **fields: str):
    return client.post(f"/kb/self-help/{request_type}", data={
        "csrf_token": token, "idempotency_key": f"key-{request_type}",
        "article": str(article), **fields,
    })  # fmt: skip


def test_a_request_type_whose_form_asks_no_subject_is_refused(
    kb_client, library: Library, session: Session
) -> None:
    client, token = kb_client("requester")
    before = counts(session)
    reply = post(client, token, "leaver", library.ids["vpn"], summary="s", leaver="Lee")
    assert reply.status_code == 422
    assert "Request type &#39;leaver&#39; asks for no subject" in reply.text
    assert "send the request form instead" in reply.text
    assert counts(session) == before


def api_only_type(app: Starlette, session: Session) -> str:
    """A request type whose deployed workflow takes requests by the API only (not the portal)."""
    shipped = session.scalars(select(WorkflowDefinition).filter_by(name="incident", active=True))
    incident = shipped.one()
    source = re.sub(r"(?m)^name: incident$", "name: incident_api", incident.source)
    source = re.sub(r"(?m)^  channels: \[.*\]$", "  channels: [api]", source)
    assert "channels: [api]" in source
    session.add(WorkflowDefinition(
        name="incident_api", version="1", content_hash=hashlib.sha256(source.encode()).hexdigest(),
        source=source, kind="ticket", shared_forms=incident.shared_forms, active=True,
    ))  # fmt: skip
    session.commit()
    app.state.request_types["api_only"] = RequestType("api_only", "By the API", "incident_api")
    return "api_only"


def test_a_request_type_the_portal_does_not_offer_is_refused(
    kb_client, library: Library, session: Session, full_app: Starlette
) -> None:
    name = api_only_type(full_app, session)
    client, token = kb_client("requester")
    assert client.get(f"/portal/new/{name}").status_code == 404  # the portal does not offer it
    before = counts(session)
    reply = post(client, token, name, library.ids["vpn"], summary="My VPN token expired")
    assert reply.status_code == 404
    assert "does not take requests by portal" in reply.text
    assert counts(session) == before


def test_the_closed_request_is_numbered_as_the_engine_numbers_requests(
    kb_client, library: Library, session: Session
) -> None:
    client, token = kb_client("requester")
    reply = post(client, token, "incident", library.ids["vpn"], summary="VPN token expired")
    assert reply.status_code == 303
    item_id = int(re.search(r"/items/(\d+)", reply.headers["location"]).group(1))
    item = session.get(WorkItem, item_id)
    assert item.reference == reference_for("ticket", item_id) == f"TIC-{item_id:05d}"
