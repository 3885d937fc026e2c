"""Plugins describe their own events on the timeline (``tierflow_describe_event``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from engine.errors import PluginError
from engine.events import record_event
from engine.hookspecs import hookimpl
from engine.model import Event
from engine.plugins import create_plugin_manager
from engine.web.access import Viewer
from engine.web.item_page import load_item_page

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STAFF = Viewer(person_id=1, name="Ann", email="ann@example.org", roles=frozenset({"admin"}))


class Shipping:
    """A third-party plugin that knows its ``shipped`` events, and nothing else."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    @hookimpl
    def tierflow_describe_event(self, event: Event) -> str | None:
        self.asked.append(event.type)
        if event.type != "shipped":
            return None
        return f"Parcel sent with {event.data['carrier']}"


def _sentences(session: Session, item_id: int, pm) -> list[str]:
    page = load_item_page(session, item_id, STAFF, T0, pm)
    return [entry.text for entry in page.timeline]  # type: ignore[union-attr]


def test_a_plugin_describes_its_events_and_the_rest_keep_theirs(
    session: Session, make_person, make_work_item
) -> None:
    shipping = Shipping()
    pm = create_plugin_manager(entry_points=False, plugins=[("shipping", shipping)])
    sam = make_person(name="Sam Shipper", roles={"agent"})
    item = make_work_item()
    for type, data in (
        ("shipped", {"carrier": "DHL", "weight": 2}),
        ("weighed", {"grams": 900}),
        ("commented", {"public": True}),
    ):
        record_event(session, pm, work_item_id=item.id, type=type, data=data, actor_id=sam.id)
    session.flush()

    texts = _sentences(session, item.id, pm)

    assert "Parcel sent with DHL by Sam Shipper" in texts
    assert "Weighed (grams: 900) by Sam Shipper" in texts  # nobody knew it: the fallback
    assert "Public comment added by Sam Shipper" in texts
    assert "commented" not in shipping.asked  # the engine's own types are not asked for
    assert sorted(set(shipping.asked)) == ["shipped", "weighed"]


def test_an_answer_that_is_not_text_names_the_hook(session: Session, make_work_item) -> None:
    class Broken:
        @hookimpl
        def tierflow_describe_event(self, event):
            return ["not", "text"]

    pm = create_plugin_manager(entry_points=False, plugins=[("broken", Broken())])
    item = make_work_item()
    record_event(session, pm, work_item_id=item.id, type="shipped", data={})
    session.flush()
    with pytest.raises(PluginError, match=r"tierflow_describe_event returned \['not', 'text'\]"):
        _sentences(session, item.id, pm)
