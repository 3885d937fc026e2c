"""The audit trail: events are appended once per key and subscribers hear of them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import PluginError
from engine.events import record_event
from engine.hookspecs import hookimpl
from engine.model import Event
from engine.plugins import create_plugin_manager


class Subscriber:
    def __init__(self, fail: bool = False) -> None:
        self.heard: list[tuple[str, int]] = []
        self.fail = fail

    @hookimpl
    def tierflow_event_recorded(self, event: Event, session: Session) -> None:
        if self.fail:
            raise RuntimeError("mail server unreachable")
        assert event in session
        self.heard.append((event.type, event.id))


def test_event_with_a_key_is_recorded_once(session: Session, make_work_item) -> None:
    spy = Subscriber()
    pm = create_plugin_manager(entry_points=False, plugins=[("spy", spy)])
    item = make_work_item()
    first = record_event(
        session, pm, work_item_id=item.id, type="escalated", data={"to": "L2"}, key="wf-1/esc/1"
    )
    again = record_event(
        session, pm, work_item_id=item.id, type="escalated", data={"to": "L2"}, key="wf-1/esc/1"
    )
    assert again.id == first.id
    assert spy.heard == [("escalated", first.id)]
    count = session.scalar(select(func.count()).select_from(Event).filter_by(type="escalated"))
    assert count == 1
    record_event(session, pm, work_item_id=item.id, type="comment")
    record_event(session, pm, work_item_id=item.id, type="comment")
    assert [kind for kind, _ in spy.heard] == ["escalated", "comment", "comment"]


def test_failing_subscriber_is_named(session: Session, make_work_item) -> None:
    pm = create_plugin_manager(entry_points=False, plugins=[("mailer", Subscriber(fail=True))])
    item = make_work_item()
    with pytest.raises(PluginError, match=r"plugin 'mailer' failed in tierflow_event_recorded"):
        record_event(session, pm, work_item_id=item.id, type="created")
