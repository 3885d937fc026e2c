"""The lifecycle actions: what each records and changes, once per key, and how bad input fails."""

from __future__ import annotations

import re
from datetime import date, time
from typing import Any

import pytest
from sqlalchemy import Engine, select
from temporalio.exceptions import ApplicationError

from engine.contrib import ActionInput
from engine.db import make_session_factory
from engine.events import record_event
from engine.model import Event, Person, Team, WorkItem
from engine.plugins import create_plugin_manager
from plugins.helpdesk.actions import LifecycleActions
from plugins.helpdesk.models import Calendar, Category, DayOff, PriorityRule


class Desk:
    """Two tiers of teams, an agent of each, a requester and one open ticket owned by L1."""

    def __init__(self, db_engine: Engine) -> None:
        self.sessions = make_session_factory(db_engine)
        self.actions = LifecycleActions(create_plugin_manager(entry_points=False), self.sessions)
        with self.sessions.begin() as session:
            l1 = Team(slug="helpdesk-l1", name="Help desk", tier="L1")
            l2 = Team(slug="desktop-support", name="Desktop support", tier="L2")
            l3 = Team(slug="network-l3", name="Network", tier="L3")
            gone = Team(slug="old-team", name="Old", tier="L2", active=False)
            hannah = Person(email="hannah.lee@example.org", name="Hannah Lee")
            diego = Person(email="diego.santos@example.org", name="Diego Santos")
            rita = Person(email="rita@example.org", name="Rita Requester")
            session.add_all([l1, l2, l3, gone, hannah, diego, rita])
            session.flush()
            session.add(Category(slug="hardware", name="Hardware", default_team_id=l2.id))
            session.add(Category(slug="misc", name="Misc"))
            item = WorkItem(
                kind="ticket", type="incident", title="Dock", status="open", requester=rita,
                owner_team=l1, current_team=l1, custom={"impact": "medium"},
            )  # fmt: skip
            session.add(item)
            session.flush()
            pm = create_plugin_manager(entry_points=False)
            record_event(session, pm, work_item_id=item.id, type="created", actor_id=hannah.id)
            self.item, self.hannah, self.diego = item.id, hannah.id, diego.id
        self.calls = 0

    def run(self, name: str, key: str | None = None, **args: Any) -> Any:
        """Call action ``name`` (``helpdesk.<name>``) as step ``name`` with ``args``."""
        self.calls += 1
        action = ActionInput("wf-1", name, key or f"wf-1/{name}/{self.calls}", self.item, args)
        return getattr(self.actions, name)(action)

    def events(self, kind: str | None = None) -> list[tuple[str, dict[str, Any], int | None]]:
        with self.sessions() as session:
            query = select(Event).filter_by(work_item_id=self.item).order_by(Event.id)
            rows = session.scalars(query).all()
            return [(e.type, e.data, e.actor_id) for e in rows if kind in (None, e.type)]

    def item_now(self) -> dict[str, Any]:
        with self.sessions() as session:
            item = session.get(WorkItem, self.item)
            return {
                "status": item.status, "priority": item.priority,
                "owner": item.owner_team.slug, "current": item.current_team.slug,
                "closed": item.closed_at is not None,
            }  # fmt: skip


@pytest.fixture
def desk(db_engine: Engine) -> Desk:
    return Desk(db_engine)


def refused(call: Any, *words: str) -> ApplicationError:
    """The ApplicationError ``call()`` raises: not retried, naming the step and ``words``."""
    with pytest.raises(ApplicationError) as caught:
        call()
    assert caught.value.non_retryable
    assert caught.value.type == "BadArguments"
    for word in words:
        assert word in str(caught.value), str(caught.value)
    return caught.value


# -------------------------------------------------------------- prioritise ---


def test_prioritise_reads_the_matrix_and_records_why(desk: Desk) -> None:
    assert desk.run("prioritise", key="k1", impact="high", urgency="medium") == 2
    with desk.sessions.begin() as session:
        session.add(PriorityRule(impact="low", urgency="low", priority=3))
    assert desk.run("prioritise", key="k2", impact="low", urgency="low") == 3
    assert desk.item_now()["priority"] == 3
    assert [data for _, data, _ in desk.events("prioritised")] == [
        {"impact": "high", "urgency": "medium", "priority": 2},
        {"impact": "low", "urgency": "low", "priority": 3},
    ]


def test_a_retried_action_writes_nothing_twice(desk: Desk) -> None:
    first = desk.run("escalate", key="same", to="desktop-support", reason="r", by=desk.hannah)
    before = desk.events()
    again = desk.run("escalate", key="same", to="desktop-support", reason="r", by=desk.hannah)
    assert again == first == {"escalated": True, "team": "desktop-support", "tier": "L2"}
    assert desk.events() == before
    assert desk.run("prioritise", key="p", impact="low", urgency="high") == 3
    assert desk.run("prioritise", key="p", impact="low", urgency="high") == 3
    assert desk.run("resolve", key="r", by=desk.diego) == desk.run("resolve", key="r")
    assert desk.run("reopen", key="o", by="owner") == desk.run("reopen", key="o", by="owner") == 1
    assert desk.run("close", key="c", by="auto") == desk.run("close", key="c", by="auto") == "auto"
    kinds = [kind for kind, _, _ in desk.events()]
    for kind in ("escalated", "prioritised", "resolved", "reopened", "closed"):
        assert kinds.count(kind) == 1, kind


def test_bad_levels_fail_the_step_for_good(desk: Desk) -> None:
    refused(
        lambda: desk.run("prioritise", impact="huge", urgency="high"),
        "step 'prioritise'",
        "impact must be one of high, medium, low; got 'huge'",
    )
    assert desk.events("prioritised") == []


# ------------------------------------------------------------------- tiers ---


def test_escalate_moves_the_ticket_and_keeps_its_owner(desk: Desk) -> None:
    moved = desk.run("escalate", to="desktop-support", reason="Hands on.", by=str(desk.hannah))
    assert moved == {"escalated": True, "team": "desktop-support", "tier": "L2"}
    assert desk.item_now() | {"priority": None} == {
        "status": "escalated", "priority": None, "owner": "helpdesk-l1",
        "current": "desktop-support", "closed": False,
    }  # fmt: skip
    assert desk.events("escalated") == [
        (
            "escalated",
            {"from_team": "helpdesk-l1", "to_team": "desktop-support", "from_tier": "L1",
             "to_tier": "L2", "reason": "Hands on."},
            desk.hannah,
        )
    ]  # fmt: skip
    further = desk.run("escalate", to="network-l3", reason="AP.", by="diego.santos@example.org")
    assert further["tier"] == "L3"
    assert desk.events("escalated")[-1][1] | {"reason": ""} == {
        "from_team": "desktop-support", "to_team": "network-l3", "from_tier": "L2",
        "to_tier": "L3", "reason": "",
    }  # fmt: skip
    assert desk.events("escalated")[-1][2] == desk.diego
    assert desk.events("owner_changed") == []


def test_without_a_team_the_categorys_team_and_to_the_same_team_nothing(desk: Desk) -> None:
    assert desk.run("escalate", to="", category="hardware", reason="r")["team"] == "desktop-support"
    same = desk.run("escalate", to="desktop-support", reason="again")
    assert same == {
        "escalated": False, "team": "desktop-support", "tier": "L2",
        "refused": "the ticket is with Desktop support already",
    }  # fmt: skip
    assert len(desk.events("escalated")) == 1


def test_escalating_to_the_owner_or_a_tier_not_offered_is_refused_and_changes_nothing(
    desk: Desk,
) -> None:
    with desk.sessions.begin() as session:
        session.add(Team(slug="pmo", name="PMO", tier="PMO"))
    before = desk.events()
    own = desk.run("escalate", to="helpdesk-l1", reason="r", tiers=["L2", "L3"])
    assert own["escalated"] is False
    assert own["refused"] == "the ticket is with Help desk already"
    pmo = desk.run("escalate", to="pmo", reason="r", tiers=["L2", "L3"])
    assert pmo == {
        "escalated": False, "team": "pmo", "tier": "PMO",
        "refused": "PMO (PMO) takes no escalations; choose a team of L2, L3",
    }  # fmt: skip
    assert desk.events() == before
    assert desk.item_now()["current"] == "helpdesk-l1"
    desk.run("escalate", to="desktop-support", reason="r", tiers=["L2", "L3"])
    back = desk.run("escalate", to="helpdesk-l1", reason="r")
    assert back["refused"] == "Help desk owns the ticket: give it back instead of escalating"
    assert desk.item_now()["current"] == "desktop-support"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"to": "desktop-suport"}, "there is no active team 'desktop-suport'"),
        ({"to": "old-team"}, "there is no active team 'old-team'"),
        ({"to": None, "category": "misc"}, "needs with: {to: <team slug>}"),
        ({"category": "nope"}, "category='nope'"),
        ({"to": "network-l3", "by": "nobody@example.org"}, "by: there is no person"),
        ({"to": "network-l3", "by": 99999}, "there is no person 99999"),
    ],
)
def test_escalating_to_nowhere_or_by_nobody_fails_and_changes_nothing(
    desk: Desk, args: dict[str, Any], words: str
) -> None:
    before = desk.events()
    refused(lambda: desk.run("escalate", **args), "step 'escalate'", "helpdesk", words)
    assert desk.events() == before
    assert desk.item_now()["current"] == "helpdesk-l1"


def test_de_escalate_gives_it_back_to_the_owner(desk: Desk) -> None:
    desk.run("escalate", to="network-l3", reason="AP")
    back = desk.run("de_escalate", reason="L1 can do it.", by=desk.diego)
    assert back == {"escalated": True, "team": "helpdesk-l1", "tier": "L1"}
    assert desk.item_now()["status"] == "open"
    assert desk.events("de_escalated") == [
        (
            "de_escalated",
            {"from_team": "network-l3", "to_team": "helpdesk-l1", "from_tier": "L3",
             "to_tier": "L1", "reason": "L1 can do it."},
            desk.diego,
        )
    ]  # fmt: skip


# --------------------------------------------------------------- resolving ---


def test_resolve_records_the_resolving_team_tier_and_how(desk: Desk) -> None:
    desk.run("escalate", to="desktop-support", reason="r")
    assert desk.run("resolve", mode="on_site", l1_capable="true", by=desk.diego) == {
        "team": "desktop-support",
        "tier": "L2",
    }
    assert desk.item_now()["status"] == "resolved"
    assert desk.events("resolved") == [
        (
            "resolved",
            {"team": "desktop-support", "tier": "L2", "resolution_mode": "on_site",
             "l1_capable": True, "first_contact": False},
            desk.diego,
        )
    ]  # fmt: skip


def test_a_resolution_without_a_resolver_is_the_creators(desk: Desk) -> None:
    desk.run("resolve", first_contact=True, mode="", l1_capable=None)
    [(_, data, actor)] = desk.events("resolved")
    assert actor == desk.hannah  # who logged the call
    assert (data["first_contact"], data["resolution_mode"], data["l1_capable"]) == (
        True,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"mode": "teleport"}, "mode must be one of remote, on_site (or none); got 'teleport'"),
        ({"l1_capable": "maybe"}, "l1_capable must be true or false; got 'maybe'"),
        ({"first_contact": 1}, "first_contact must be true or false; got 1"),
    ],
)
def test_bad_resolutions_fail_and_change_nothing(
    desk: Desk, args: dict[str, Any], words: str
) -> None:
    refused(lambda: desk.run("resolve", **args), "step 'resolve'", words)
    assert desk.events("resolved") == []
    assert desk.item_now()["status"] == "open"


def test_reopen_counts_and_hands_back_to_the_owner(desk: Desk) -> None:
    desk.run("escalate", to="desktop-support", reason="r")
    desk.run("resolve", by=desk.diego)
    assert desk.run("reopen", by="requester") == 1
    assert desk.item_now() | {"priority": None} == {
        "status": "open", "priority": None, "owner": "helpdesk-l1", "current": "helpdesk-l1",
        "closed": False,
    }  # fmt: skip
    desk.run("resolve", by=desk.hannah)
    assert desk.run("reopen", by="owner") == 2
    assert [data for _, data, _ in desk.events("reopened")] == [
        {"times": 1, "by": "requester"},
        {"times": 2, "by": "owner"},
    ]
    refused(lambda: desk.run("reopen", by="someone"), "by must be one of requester, owner")


def test_close_by_the_owner_or_by_itself(desk: Desk) -> None:
    refused(lambda: desk.run("close", by="requester"), "by must be one of owner, auto")
    assert desk.run("close", by="owner", person=desk.hannah) == "owner"
    assert (desk.item_now()["closed"], desk.item_now()["status"]) == (True, "closed")
    assert desk.events("closed") == [("closed", {"by": "owner"}, desk.hannah)]


def test_an_action_of_a_run_without_a_work_item_fails(desk: Desk) -> None:
    action = ActionInput("wf-2", "close", "wf-2/close/1", None, {"by": "auto"})
    refused(lambda: desk.actions.close(action), "step 'close'", "no work item")


# ----------------------------------------------------------- business days ---


def test_business_days_skip_weekends(desk: Desk) -> None:
    friday = "2026-12-04T10:00:00+00:00"
    assert desk.run("business_days_ahead", days=5, **{"from": friday}) == (
        "2026-12-11T10:00:00+00:00"
    )
    saturday = "2026-12-05T12:00:00+01:00"  # counts from Monday 08:00: a whole working day
    assert desk.run("business_days_ahead", days=1, **{"from": saturday}) == (
        "2026-12-07T17:00:00+00:00"
    )
    assert desk.run("business_days_ahead", days=0, **{"from": friday}) == friday


def test_business_days_follow_the_calendar_and_its_days_off(desk: Desk) -> None:
    with desk.sessions.begin() as session:
        calendar = Calendar(
            slug="paris", name="Paris", timezone="Europe/Paris", day_start=time(9),
            day_end=time(18),
        )  # fmt: skip
        calendar.days_off.append(DayOff(day=date(2026, 12, 7), name="Closed"))
        session.add(calendar)
    friday = "2026-12-04T10:00:00+01:00"
    got = desk.run("business_days_ahead", days=2, calendar="paris", **{"from": friday})
    assert got == "2026-12-09T09:00:00+00:00"  # Tuesday, Wednesday 10:00 Paris; Monday closed
    assert desk.run("business_days_ahead", days=2, **{"from": friday}) == got  # the first one


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"days": "5", "from": "2026-12-04T10:00:00+00:00"}, "days must be a whole number"),
        ({"days": 400, "from": "2026-12-04T10:00:00+00:00"}, "from 0 to 365; got 400"),
        ({"days": 5, "from": "2026-12-04T10:00:00"}, "from must be a time with its zone"),
        ({"days": 5, "from": "soon"}, "got 'soon'"),
        ({"days": 5, "from": "2026-12-04T10:00:00Z", "calendar": "mars"}, "no calendar 'mars'"),
    ],
)
def test_bad_business_days_fail(desk: Desk, args: dict[str, Any], words: str) -> None:
    refused(lambda: desk.run("business_days_ahead", **args), re.sub(r"\s+", " ", words))


def test_business_hours_skip_the_night_and_the_weekend(desk: Desk) -> None:
    friday = "2026-12-04T15:00:00+00:00"  # two hours left on Friday, two more on Monday
    assert desk.run("business_hours_ahead", hours=4, **{"from": friday}) == (
        "2026-12-07T10:00:00+00:00"
    )
    one_day = desk.run("business_hours_ahead", hours=0, days=1, **{"from": friday})
    assert one_day == desk.run("business_days_ahead", days=1, **{"from": friday})
    assert desk.run("business_hours_ahead", hours=0, **{"from": friday}) == friday
    refused(lambda: desk.run("business_hours_ahead", hours=-1, **{"from": friday}), "hours must")


def test_business_days_before_walk_back_over_the_weekend_but_not_into_the_past(
    desk: Desk,
) -> None:
    monday = "2026-12-14T08:00:00+00:00"  # a first day: three working days before is Wed 08:00
    early = "2026-12-01T09:00:00+00:00"
    got = desk.run("business_days_before", days=3, to=monday, **{"from": early})
    assert got == "2026-12-09T08:00:00+00:00"
    late = "2026-12-10T12:00:00+00:00"  # asked later than that: the clock starts at once
    assert desk.run("business_days_before", days=3, to=monday, **{"from": late}) == late
    refused(
        lambda: desk.run("business_days_before", days=3, to="soon", **{"from": early}),
        "to must be a time with its zone",
    )


def test_de_escalating_one_step_goes_back_to_the_team_it_came_from(desk: Desk) -> None:
    desk.run("escalate", to="desktop-support", reason="Hands on.")
    desk.run("escalate", to="network-l3", reason="The access point.")
    down = desk.run("de_escalate", previous=True, reason="Swap the cable.", by=str(desk.diego))
    assert down == {"escalated": True, "team": "desktop-support", "tier": "L2"}
    assert desk.events("de_escalated")[-1][1] | {"reason": ""} == {
        "from_team": "network-l3", "to_team": "desktop-support", "from_tier": "L3",
        "to_tier": "L2", "reason": "",
    }  # fmt: skip
    assert len(desk.events("escalated")) == 2  # a step down is not an escalation
    home = desk.run("de_escalate", previous=True, reason="Done here.")
    assert home["team"] == "helpdesk-l1"  # desktop support came from the help desk
