"""The SLA clock as people work tickets, on the real Temporal dev server.

A ticket the help desk escalates at once has been responded to (the triage
task a staff member completed): no response warning or breach; a call an
agent logged was responded to on the phone. Closing stops the clock, and the
clock recomputed from the events alone says what was recorded live.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from engine.model import Event
from plugins.helpdesk.models import Ticket
from plugins.helpdesk.sla import clock_of
from tests.helpdesk.test_lifecycle_live import (  # noqa: F401 (the desk fixture)
    DIEGO,
    HANNAH,
    Desk,
    desk,
    events_of,
)

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(180),
    pytest.mark.slow,
]


def recomputed_equals_recorded(on: Desk, item: int) -> None:
    """The clock from the events alone agrees with the ticket's row and its live events."""
    with on.sessions() as session:
        clock, _ = clock_of(session, item, datetime.now(UTC))
        row = session.get(Ticket, item)
        assert row is not None
        assert row.response_due_at == clock.targets["response"].due
        assert row.resolution_due_at == clock.targets["resolution"].due
        assert row.response_breached is False
        assert clock.met("response") is True
        assert clock.met("resolution") is True
        assert clock.stopped_at is not None
        first = session.scalars(
            select(Event).filter_by(work_item_id=item, type="first_response")
        ).one()
        assert row.first_response_at == first.occurred_at
        assert clock.targets["response"].stopped_at == max(first.occurred_at, clock.start)


async def test_l1_escalating_at_once_has_responded_and_closing_stops_the_clock(
    desk: Desk,  # noqa: F811
) -> None:
    item = await desk.submit(
        "incident",
        {"summary": "Dock dead", "details": "No screen.", "impact": "medium", "urgency": "high"},
    )
    await desk.complete(item, "triage", HANNAH, "escalate", {
        "category": "hardware", "diagnosis": "Dock.", "escalate_to": "desktop-support",
        "reason": "Hands on.",
    })  # fmt: skip
    state = await desk.settled(item, "sla_met")
    [response] = [(a, d) for k, d, a in state["events"] if k == "first_response"]
    assert response == (desk.person(HANNAH), {"by_event": "task_completed"})
    assert events_of(state, "sla_met") == [{"target": "response"}]

    await desk.complete(item, "desktop_fix", DIEGO, "fixed", {
        "resolution": "New dock.", "l1_capable": False, "mode": "on_site",
    })  # fmt: skip
    await desk.complete(item, "confirm", HANNAH, "confirmed", {"note": "Works."})
    await desk.ended(item)
    state = await desk.settled(item, "sla_stopped")
    assert events_of(state, "sla_stopped") == [{}], "closing stopped the clock once"
    assert {"target": "response"} not in events_of(state, "sla_warning")
    assert {"target": "response"} not in events_of(state, "sla_breached")
    assert len(events_of(state, "first_response")) == 1
    recomputed_equals_recorded(desk, item)


async def test_a_call_resolved_on_the_phone_was_responded_to_on_the_phone(
    desk: Desk,  # noqa: F811
) -> None:
    item = await desk.submit(
        "incident",
        {"summary": "Locked out", "details": "Password.", "impact": "low", "urgency": "medium",
         "resolved_on_call": True, "resolution": "Reset it."},
        channel="phone",
        logged_by=HANNAH,
    )  # fmt: skip
    await desk.ended(item)
    state = await desk.settled(item, "sla_stopped")
    [response] = [(a, d) for k, d, a in state["events"] if k == "first_response"]
    assert response == (desk.person(HANNAH), {"by_event": "created"})
    met = events_of(state, "sla_met")
    assert {"target": "response"} in met
    assert {"target": "resolution"} in met
    assert state["facts"]["l1_capable"] is True, "resolved at L1: L1 could, by definition"
    assert state["facts"]["first_contact"] is True
    recomputed_equals_recorded(desk, item)
