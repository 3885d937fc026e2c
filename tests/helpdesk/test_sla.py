"""SLA policies, the SLA actions outside a run, the clock's arithmetic, and the admin pages."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient
from temporalio.exceptions import ApplicationError

from engine.contrib import ActionInput
from engine.db import make_session_factory
from engine.events import record_event
from engine.model import Event, WorkItem
from engine.plugins import create_plugin_manager
from plugins.helpdesk import demo_sla
from plugins.helpdesk import plugin as helpdesk_plugin
from plugins.helpdesk.calendar import Hours, add_business
from plugins.helpdesk.models import Calendar, DayOff, SlaPolicy, Ticket
from plugins.helpdesk.sla import SlaActions, events_of, select_policy
from plugins.helpdesk.sla_clock import Fact, minutes_by_team, recompute, segments
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)

BERLIN = ZoneInfo("Europe/Berlin")
GERMANY = Hours("Europe/Berlin", holiday_country="DE", name="berlin")
XSS = '<script>alert("x")</script>'


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN).astimezone(UTC)  # type: ignore[misc]


def _calendar(session: Session) -> Calendar:
    calendar = Calendar(
        slug="berlin", name="Berlin office", timezone="Europe/Berlin", workdays=[1, 2, 3, 4, 5],
        day_start=time(8), day_end=time(17), holiday_country="DE",
    )  # fmt: skip
    session.add(calendar)
    session.flush()
    return calendar


def _policy(session: Session, calendar: Calendar, name: str, **fields: object) -> SlaPolicy:
    policy = SlaPolicy(
        name=name, calendar=calendar, response_minutes=60, resolution_minutes=480, **fields
    )
    session.add(policy)
    session.flush()
    return policy


def test_the_most_specific_active_policy_wins(session: Session) -> None:
    calendar = _calendar(session)
    default = _policy(session, calendar, "Default")
    p1 = _policy(session, calendar, "Any P1", priority=1)
    incident = _policy(session, calendar, "Incidents", request_type="incident")
    incident_p1 = _policy(session, calendar, "Incidents P1", request_type="incident", priority=1)
    _policy(session, calendar, "Old", request_type="incident", priority=2, active=False)
    assert select_policy(session, "incident", 1) == incident_p1
    assert select_policy(session, "incident", 2) == incident  # the P2 one is inactive
    assert select_policy(session, "access", 1) == p1
    assert select_policy(session, "access", 3) == default
    assert select_policy(session, "incident", None) == incident
    default.active = False
    assert select_policy(session, "access", 3) is None


# ------------------------------------------------------------- the actions ---


@pytest.fixture
def actions(session: Session) -> tuple[SlaActions, sessionmaker[Session]]:
    sessions = make_session_factory(session.get_bind())
    pm = create_plugin_manager(entry_points=False, plugins=[("helpdesk", helpdesk_plugin)])
    return SlaActions(pm, sessions), sessions


def _item(session: Session, **fields: object) -> int:
    item = WorkItem(kind="ticket", type="incident", title="VPN", status="new", **fields)
    session.add(item)
    session.commit()
    return item.id


def _act(item: int, step: str, **args: object) -> ActionInput:
    return ActionInput("wf-1", step, f"wf-1/{step}/1", item, dict(args))


def test_start_is_idempotent_and_without_a_policy_nothing_starts(session, actions) -> None:
    sla, sessions = actions
    item = _item(session, priority=2)
    assert sla.sla_start(_act(item, "sla")) == {
        "started": False, "paused": False, "response_due": None, "resolution_due": None,
    }  # fmt: skip
    _policy(session, _calendar(session), "Default")
    session.commit()
    begin = local(2030, 6, 7, 16, 30).isoformat()
    first = sla.sla_start(_act(item, "sla2", **{"from": begin}))
    again = sla.sla_start(_act(item, "sla2", **{"from": begin}))  # a retry
    assert first == again
    assert first["response_due"] == local(2030, 6, 11, 8, 30).isoformat()
    assert first["resolution_due"] == local(2030, 6, 11, 15, 30).isoformat()
    assert first["response_warn"] == local(2030, 6, 11, 8, 15).isoformat()
    with sessions() as check:
        assert [e.type for e in events_of(check, item)] == ["sla_started"]
        ticket = check.get(Ticket, item)
        assert ticket is not None
        assert ticket.resolution_due_at == local(2030, 6, 11, 15, 30)


def test_bad_arguments_and_missing_items_are_not_retried(session, actions) -> None:
    sla, _ = actions
    _policy(session, _calendar(session), "Default")
    item = _item(session)
    with pytest.raises(ApplicationError, match="'from' must be a time") as caught:
        sla.sla_start(_act(item, "sla", **{"from": "tomorrow"}))
    assert caught.value.non_retryable
    with pytest.raises(ApplicationError, match="'from' needs a time zone"):
        sla.sla_start(_act(item, "sla", **{"from": "2030-06-07T09:00"}))
    with pytest.raises(ApplicationError, match="work item 999999 is none"):
        sla.sla_pause(_act(999999, "ask"))


def test_pausing_twice_resuming_unpaused_and_stopping_twice_change_nothing(session, actions):
    sla, sessions = actions
    _policy(session, _calendar(session), "Default")
    item = _item(session)
    assert sla.sla_pause(_act(item, "ask"))["started"] is False  # no clock yet: nothing
    sla.sla_start(_act(item, "sla"))
    assert sla.sla_resume(_act(item, "resume0"))["paused"] is False
    assert sla.sla_pause(_act(item, "ask", reason="vendor"))["paused"] is True
    sla.sla_pause(_act(item, "ask_again", reason="vendor"))
    sla.sla_resume(_act(item, "resume"))
    sla.sla_stop(_act(item, "stop"))
    assert sla.sla_stop(_act(item, "stop_again"))["stopped"] is True
    tick = sla.sla_tick(_act(item, "tick"))
    assert (tick["done"], tick["next"], tick["warned"], tick["breached"]) == (True, None, [], [])
    with sessions() as check:
        kinds = [e.type for e in events_of(check, item)]
    assert kinds == ["sla_started", "sla_paused", "sla_resumed", "sla_stopped"]


def test_first_response_and_resolution_stop_their_targets(session) -> None:
    """Recorded by other parts of the help desk: the clock says met or breached in the same step."""
    _policy(session, _calendar(session), "Default")
    item = _item(session)
    pm = create_plugin_manager(entry_points=False, plugins=[("helpdesk", helpdesk_plugin)])
    sla = SlaActions(pm, make_session_factory(session.get_bind()))
    sla.sla_start(_act(item, "sla", **{"from": local(2030, 6, 4, 9).isoformat()}))
    for kind, at in (
        ("first_response", local(2030, 6, 4, 9, 40)),
        ("resolved", local(2030, 6, 6, 9)),
    ):
        record_event(session, pm, work_item_id=item, type=kind, data={}, at=at)
    session.commit()
    found = [(e.type, e.data.get("target")) for e in events_of(session, item)][2:]
    # response met at 09:40 (due 10:00); resolution due 4 June 17:00, resolved on the 6th
    assert ("sla_met", "response") in found
    assert ("sla_breached", "resolution") in found
    ticket = session.get(Ticket, item)
    assert ticket is not None
    assert (ticket.response_breached, ticket.resolution_breached) == (False, True)


# ---------------------------------------------------------- pure recompute ---


def test_recompute_holds_targets_while_paused_and_moves_their_deadlines() -> None:
    started = Fact(
        "sla_started", local(2030, 6, 4, 9),
        {"start": local(2030, 6, 4, 9).isoformat(), "calendar": "berlin", "warn_percent": 50,
         "response_minutes": 60, "resolution_minutes": 600},
    )  # fmt: skip
    events = [
        started,
        Fact("team_changed", local(2030, 6, 4, 9), {"to": "helpdesk-l1"}),
        Fact("first_response", local(2030, 6, 4, 9, 30)),
        Fact("sla_paused", local(2030, 6, 4, 16), {"reason": "vendor"}),
    ]
    # while paused, the projection: resolution was due Wed 5 June 10:00 (8 h on Tuesday + 2 h)
    paused = recompute(events, GERMANY, local(2030, 6, 5, 12))
    assert paused.paused
    assert paused.targets["resolution"].due == local(2030, 6, 5, 15)  # + 5 h held (16-17, 8-12)
    assert not paused.breached("resolution")
    assert paused.elapsed(GERMANY, "resolution") == 7 * 60
    assert paused.next_checkpoint() is None  # nothing runs: the clock sleeps until resumed
    events += [
        Fact("sla_resumed", local(2030, 6, 5, 12)),
        Fact("team_changed", local(2030, 6, 5, 12), {"to": "network-l3"}),
        Fact("reopened", local(2030, 6, 6, 12)),
        Fact("sla_stopped", local(2030, 6, 6, 15)),
    ]
    done = recompute(events, GERMANY, local(2030, 6, 7, 12))
    assert done.targets["resolution"].due == local(2030, 6, 5, 15)
    assert done.breached("resolution")
    assert done.met("response") is True
    assert done.stopped_at == local(2030, 6, 6, 15)
    held = segments(events, GERMANY, local(2030, 6, 7, 12))
    # L1: Tue 09:00-16:00 (the pause 16:00-Wed 12:00 left out); L3: Wed 12:00 - Thu 15:00
    assert minutes_by_team(held) == {"helpdesk-l1": 7 * 60, "network-l3": 5 * 60 + 7 * 60}


def test_without_a_start_the_clock_is_not_started() -> None:
    clock = recompute([Fact("created", local(2030, 6, 4, 9))], GERMANY, local(2030, 6, 5, 9))
    assert not clock.started
    assert segments([], GERMANY, local(2030, 6, 5, 9)) == []


# --------------------------------------------------------------- the pages ---


@pytest.fixture
def admin(session: Session, make_app: MakeApp, make_person) -> tuple[TestClient, str, Session]:  # noqa: F811
    person = make_person(name="Ada Admin", roles={"admin"})
    session.commit()
    app = make_app(("helpdesk", helpdesk_plugin))
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    return client, sign_in(client, person), session


POLICY = {
    "name": "Incidents P1", "request_type": "incident", "priority": "1",
    "response_minutes": "30", "resolution_minutes": "240", "warn_percent": "75",
    "active": "true",
}  # fmt: skip
CALENDAR = {
    "slug": "paris", "name": "Paris office", "timezone": "Europe/Paris",
    "workdays": ["1", "2", "3", "4", "5"], "day_start": "09:00", "day_end": "18:00",
    "holiday_country": "fr",
}  # fmt: skip


def test_an_admin_adds_a_calendar_a_day_off_and_a_policy(admin) -> None:
    client, token, session = admin

    def rows(model: type) -> list:
        found = list(session.scalars(select(model)))
        session.expunge_all()
        session.rollback()  # SQLite: no read transaction left open while the app writes
        return found

    assert client.get("/helpdesk/admin/sla").status_code == 200
    reply = client.post("/helpdesk/admin/sla/calendars/new", data={**CALENDAR, "csrf_token": token})
    assert reply.status_code == 303
    [calendar] = rows(Calendar)
    assert (calendar.slug, calendar.holiday_country, calendar.workdays) == (
        "paris", "FR", [1, 2, 3, 4, 5],
    )  # fmt: skip
    here = f"/helpdesk/admin/sla/calendars/{calendar.id}"
    assert "Bastille Day" in client.get(here).text or "National Day" in client.get(here).text
    day = {"day": "2030-06-11", "day_name": f"Outing {XSS}", "csrf_token": token}
    assert client.post(f"{here}/days-off", data=day).status_code == 303
    again = client.post(f"{here}/days-off", data=day)
    assert again.status_code == 422
    assert "is a day off already" in again.text
    assert XSS not in again.text
    assert "Outing &lt;script&gt;alert(" in client.get(here).text
    posted = {**POLICY, "calendar": str(calendar.id), "csrf_token": token}
    assert client.post("/helpdesk/admin/sla/policies/new", data=posted).status_code == 303
    [policy] = rows(SlaPolicy)
    assert (policy.response_minutes, policy.priority, policy.calendar_id) == (30, 1, calendar.id)
    edit = client.post(
        f"/helpdesk/admin/sla/policies/{policy.id}",
        data={**posted, "response_minutes": "45", "active": ""},
    )
    assert edit.status_code == 303
    [policy] = rows(SlaPolicy)
    assert (policy.response_minutes, policy.active) == (45, False)
    listing = client.get("/helpdesk/admin/sla").text
    assert "45 min" in listing
    assert "4 h" in listing
    [off] = rows(DayOff)
    url = f"{here}/days-off/{off.id}/remove"
    assert client.post(url, data={"csrf_token": token}).status_code == 303
    assert rows(DayOff) == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"workdays": []}, "workdays", "tick at least one working day"),
        ({"workdays": ["9"]}, "workdays", "tick at least one working day"),
        ({"day_start": "25:00"}, "day_start", "a time of day such as 08:00"),
        ({"day_end": "08:00"}, "day_end", "must end after it starts"),
        ({"holiday_country": "XX"}, "holiday_country", "Country XX not available"),
        ({"holiday_subdivision": "ZZ"}, "holiday_subdivision", "subdivision ZZ"),
        ({"slug": "Paris Office"}, "slug", "lower-case letters"),
        ({"name": ""}, "name", "fill this in"),
        ({"name": "a\x00b"}, "name", "NUL character"),
    ],
)
def test_a_bad_calendar_is_422_with_the_error_and_the_input_kept(admin, change, field, message):
    client, token, session = admin
    posted = {**CALENDAR, **change, "csrf_token": token}
    reply = client.post("/helpdesk/admin/sla/calendars/new", data=posted)
    assert reply.status_code == 422
    assert f'id="field-{field}-error"' in reply.text
    assert message.lower() in reply.text.lower()
    assert 'value="Paris office"' in reply.text or field == "name"
    assert session.scalars(select(Calendar)).all() == []


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"response_minutes": "0"}, "response_minutes", "from 1 to"),
        ({"resolution_minutes": "ten"}, "resolution_minutes", "whole number"),
        ({"warn_percent": "100"}, "warn_percent", "from 1 to 99"),
        ({"priority": "7"}, "priority", "from 1 to 4"),
        ({"calendar": "999999"}, "calendar", "choose one of the calendars"),
        ({"request_type": "Not A Type"}, "request_type", "a request type"),
        ({"request_type": "incident"}, "request_type", "already covers"),
        (
            {"request_type": "incidnet"},
            "request_type",
            "there is no request type &#39;incidnet&#39; (did you mean &#39;incident&#39;?)",
        ),
        (
            {"response_minutes": "300"},
            "response_minutes",
            "the response target (300 minutes) must not be longer than the resolution target (240",
        ),
    ],
)
def test_a_bad_policy_is_422_with_the_error_and_the_input_kept(admin, change, field, message):
    client, token, session = admin
    calendar = _calendar(session)
    _policy(session, calendar, "Existing", request_type="incident", priority=1)
    session.commit()
    posted = {**POLICY, "calendar": str(calendar.id), **change, "csrf_token": token}
    reply = client.post("/helpdesk/admin/sla/policies/new", data=posted)
    assert reply.status_code == 422
    assert f'id="field-{field}-error"' in reply.text
    assert message.lower() in reply.text.lower()
    assert 'value="Incidents P1"' in reply.text
    assert len(session.scalars(select(SlaPolicy)).all()) == 1


def test_unknown_ids_are_404_and_posts_without_a_token_are_refused(admin) -> None:
    client, token, session = admin
    assert client.get("/helpdesk/admin/sla/policies/999999").status_code == 404
    assert client.get("/helpdesk/admin/sla/calendars/999999").status_code == 404
    gone = client.post("/helpdesk/admin/sla/calendars/999999", data={"csrf_token": token})
    assert gone.status_code == 404
    refused = client.post("/helpdesk/admin/sla/calendars/new", data=CALENDAR)
    assert refused.status_code == 403
    assert session.scalars(select(Calendar)).all() == []
    assert not session.scalars(select(Event)).all()


def test_the_demo_has_a_berlin_calendar_and_a_policy_per_priority(session: Session) -> None:
    demo_sla.load(session)
    demo_sla.load(session)  # loading twice adds nothing
    policies = session.scalars(select(SlaPolicy).order_by(SlaPolicy.priority)).all()
    assert [(p.priority, p.response_minutes, p.resolution_minutes) for p in policies] == [
        (1, 30, 240), (2, 60, 480), (3, 240, 3 * 540), (4, 540, 5 * 540),
    ]  # fmt: skip
    assert select_policy(session, "incident", 1) == policies[0]
    hours = Hours.of(session.scalars(select(Calendar)).one())
    # P3 (27 h) from Thursday 24 December 2026 10:00: 7 h on the 24th, Christmas and the
    # weekend off, 9 h on Monday 28th and Tuesday 29th, 2 h on Wednesday 30th
    due = add_business(hours, datetime(2026, 12, 24, 10, tzinfo=BERLIN), 3 * 540)
    assert due == datetime(2026, 12, 30, 10, tzinfo=BERLIN)
