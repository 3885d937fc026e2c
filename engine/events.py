"""Appending to the audit trail. Every change to a work item is an Event; KPIs come from them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from temporalio import activity

from engine.model import Event
from engine.model.base import utcnow
from engine.plugins import PluginManager


def record_event(
    session: Session,
    pm: PluginManager,
    *,
    work_item_id: int,
    type: str,
    data: dict[str, Any] | None = None,
    actor_id: int | None = None,
    team_id: int | None = None,
    key: str | None = None,
    at: datetime | None = None,
) -> Event:
    """Append an event and tell subscribers (``tierflow_event_recorded``) in the same transaction.

    With a ``key``, recording the same event again returns the first one and
    tells nobody twice: that is what makes activities safe to retry. Without
    ``at`` it happens now: in an activity, at the time the workflow's run is at
    (the attempt's start as Temporal records it), so that a run on the
    time-skipping test server writes its history at the times the run saw.
    """
    if key is not None:
        existing = session.scalars(select(Event).filter_by(idempotency_key=key)).one_or_none()
        if existing is not None:
            return existing
    event = Event(
        work_item_id=work_item_id,
        type=type,
        data=data or {},
        actor_id=actor_id,
        team_id=team_id,
        idempotency_key=key,
        occurred_at=at or event_time(),
    )
    try:
        with session.begin_nested():
            session.add(event)
    except IntegrityError:
        if key is None:
            raise
        # another process recorded the same key between our look-up and insert
        return session.scalars(select(Event).filter_by(idempotency_key=key)).one()
    pm.call("tierflow_event_recorded", event=event, session=session, pm=pm)
    return event


def event_time() -> datetime:
    """Now, or in a Temporal activity the start of its current attempt (the run's clock)."""
    if activity.in_activity():
        return activity.info().started_time.astimezone(UTC)
    return utcnow()
