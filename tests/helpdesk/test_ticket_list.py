"""The staff ticket list: who sees which tickets, the filters, the orders, the pages, bad input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.model import Event, Membership, Person, Task, WorkItem
from plugins.helpdesk.models import Category, Ticket
from plugins.helpdesk.tickets import PAGE_SIZE, encode_cursor
from tests.helpdesk.test_categories import helpdesk_app
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)

PAGE = "/helpdesk/tickets"
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class World:
    app: Starlette
    people: dict[str, Person]
    items: dict[str, WorkItem]


def _ticket(session: Session, name: str, **fields) -> WorkItem:
    facts = fields.pop("facts", {})
    fields = {"status": "open", "title": f"Ticket {name}", **fields}
    item = WorkItem(kind="ticket", type="incident", reference=f"TIC-{name}", **fields)
    session.add(item)
    session.flush()
    session.add(Ticket(work_item_id=item.id, **facts))
    return item


def _events(session: Session, item: WorkItem, *types: str) -> None:
    for n, kind in enumerate(types):
        at = NOW - timedelta(hours=len(types) - n)
        session.add(Event(work_item_id=item.id, type=kind, occurred_at=at))


@pytest.fixture
def world(session: Session, make_app: MakeApp, make_person, make_team) -> World:  # noqa: F811
    people = {
        name: make_person(name=name.title(), roles={role})
        for name, role in (("agent", "agent"), ("other", "agent"), ("manager", "manager"),
                           ("admin", "admin"), ("requester", "requester"))
    }  # fmt: skip
    desk, l2 = make_team(slug="desk", name="Help desk"), make_team(slug="l2", name="Second line")
    session.add(Membership(team_id=desk.id, person_id=people["agent"].id))
    session.add(Membership(team_id=l2.id, person_id=people["other"].id))
    printers = Category(slug="printers", name="Printers")
    session.add(printers)
    session.flush()
    due = NOW + timedelta(hours=4)
    items = {
        "a": _ticket(session, "A", owner_team_id=desk.id, current_team_id=desk.id, priority=2,
                     requester_id=people["requester"].id, channel="portal",
                     facts={"category_id": printers.id, "resolution_breached": True,
                            "resolution_due_at": due - timedelta(hours=9)}),
        "b": _ticket(session, "B", owner_team_id=desk.id, current_team_id=l2.id, priority=1,
                     assignee_id=people["other"].id, status="waiting",
                     facts={"resolution_due_at": due + timedelta(hours=1)}),
        "c": _ticket(session, "C", owner_team_id=l2.id, current_team_id=l2.id, priority=3,
                     channel="email", facts={"resolution_due_at": due}),
        "d": _ticket(session, "D", title="Fixed (100%)", owner_team_id=l2.id, current_team_id=l2.id,
                     status="resolved", facts={"resolution_due_at": due}),
        "e": _ticket(session, "E", owner_team_id=l2.id, current_team_id=l2.id,
                     status="waiting_vendor",
                     facts={"resolution_due_at": due + timedelta(hours=2)}),
        "f": _ticket(session, "F", owner_team_id=desk.id, current_team_id=desk.id, priority=4,
                     assignee_id=people["agent"].id, facts={}),
    }  # fmt: skip
    _events(session, items["b"], "sla_started", "sla_paused")
    _events(session, items["c"], "sla_started", "sla_warning")
    _events(session, items["e"], "sla_started", "sla_paused", "sla_resumed")
    session.add(Task(work_item_id=items["d"].id, workflow_id="d", step_id="fix", title="Fix",
                     form="f", assignee_id=people["agent"].id, status="completed"))  # fmt: skip
    session.add(
        WorkItem(kind="project", type="project", title="Ticket-like project", status="open")
    )
    session.commit()
    return World(helpdesk_app(make_app), people, items)


def client_of(world: World, who: str) -> TestClient:
    client = TestClient(world.app, raise_server_exceptions=False, follow_redirects=False)
    sign_in(client, world.people[who])
    return client


def shown(reply) -> list[str]:
    assert reply.status_code == 200, reply.text
    return re.findall(r'<th scope="row"><a href="/items/\d+">TIC-(\w+)</a>', reply.text)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("agent", ["A", "B", "F"]),  # D is resolved (not open); its own team and the task
        ("other", ["C", "B", "E"]),
        ("manager", ["A", "C", "B", "E", "F"]),
        ("admin", ["A", "C", "B", "E", "F"]),
    ],
)
def test_each_viewer_sees_what_they_may_by_resolution_due(world: World, who: str, expected):
    assert shown(client_of(world, who).get(PAGE)) == expected


def test_an_agent_sees_what_they_worked_on_and_nothing_else(world: World):
    client = client_of(world, "agent")
    assert shown(client.get(PAGE, params={"status": "all"})) == ["A", "D", "B", "F"]
    assert shown(client.get(PAGE, params={"status": "all", "owner_team": "l2"})) == ["D"]


def test_requesters_and_anonymous_visitors_are_refused(world: World):
    assert client_of(world, "requester").get(PAGE).status_code == 403
    anonymous = TestClient(world.app, follow_redirects=False)
    assert anonymous.get(PAGE).headers["location"].startswith("/sign-in")


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sla": "breached"}, ["A"]),
        ({"sla": "paused"}, ["B"]),
        ({"sla": "warned"}, ["C"]),
        ({"sla": "on_track"}, ["E"]),
        ({"status": "waiting"}, ["B", "E"]),  # for the requester, for a supplier
        ({"status": "resolved"}, ["D"]),
        ({"status": "all", "sort": "age"}, ["A", "B", "C", "D", "E", "F"]),
        ({"priority": "3"}, ["C"]),
        ({"channel": "email"}, ["C"]),
        ({"category": "printers"}, ["A"]),
        ({"current_team": "l2"}, ["C", "B", "E"]),
        ({"owner_team": "desk", "current_team": "desk"}, ["A", "F"]),
        ({"assignee": "unassigned"}, ["A", "C", "E"]),
        ({"assignee": "me"}, []),
        ({"q": "tic-c"}, ["C"]),
        ({"q": "100%", "status": "all"}, ["D"]),
        ({"q": "_"}, []),
        ({"sort": "priority"}, ["B", "A", "C", "F", "E"]),
    ],
)
def test_the_filters(world: World, params: dict[str, str], expected: list[str]):
    assert shown(client_of(world, "admin").get(PAGE, params=params)) == expected


def test_a_row_says_what_staff_need(world: World):
    page = client_of(world, "manager").get(PAGE, params={"q": "TIC-B"}).text
    row = re.search(r"<tr>\s*<th scope=\"row\">.*?</tr>", page, re.S)
    assert row
    cells = re.findall(r"<td>(.*?)</td>", row.group(0), re.S)
    assert f'href="/items/{world.items["b"].id}"' in row.group(0)
    assert cells[1:] == ["—", "Help desk", "Second line", "Other", "waiting", "P1",
                         cells[7], "Paused", "0 min"]  # fmt: skip
    assert cells[7].endswith(" UTC")


def test_pages_of_fifty_cover_every_ticket_once(world: World, session: Session):
    extra = [
        _ticket(session, f"X{n}", priority=(n % 5) or None,
                facts={"resolution_due_at": NOW + timedelta(minutes=n % 7)} if n % 3 else {})
        for n in range(2 * PAGE_SIZE + 7)
    ]  # fmt: skip
    session.commit()
    client = client_of(world, "admin")
    for sort in ("due", "priority", "age"):
        seen, url, pages = [], f"{PAGE}?sort={sort}", 0
        while url:
            reply = client.get(url)
            seen += shown(reply)
            found = re.search(r'<a href="([^"]+)" rel="next">', reply.text)
            url = found.group(1).replace("&amp;", "&") if found else ""
            pages += 1
        assert pages == 3
        assert len(seen) == len(set(seen)) == len(extra) + 5, sort


@pytest.mark.parametrize(
    "params",
    [
        {"status": "bogus"},
        {"priority": "9"},
        {"priority": "1.0"},
        {"assignee": "someone"},
        {"sla": "late"},
        {"channel": "fax"},
        {"sort": "title"},
        {"owner_team": "nobody"},
        {"current_team": "x" * 500},
        {"category": "nothing"},
        {"q": "x" * 201},
        {"after": "not a cursor"},
        {"after": "e30"},
        {"after": encode_cursor("priority", 2, 1)},
        {"sort": "priority", "after": encode_cursor("priority", 9, 1)},
        {"sort": "priority", "after": encode_cursor("priority", 2, 10**30)},
        {"sort": "age", "after": encode_cursor("age", None, 1)},
        {"after": encode_cursor("due", "yesterday", 1)},  # type: ignore[arg-type]
        {"after": encode_cursor("due", "2026-01-01T00:00:00", 1)},  # type: ignore[arg-type]
    ],
)
def test_bad_filter_values_answer_400_saying_which(world: World, params: dict[str, str]):
    reply = client_of(world, "agent").get(PAGE, params=params)
    assert reply.status_code == 400, reply.text
    name = next(iter(params)) if "after" not in params else "after"
    assert f"{name}=" in reply.text or f"{name}:" in reply.text


def test_the_link_shows_for_staff_only(world: World):
    assert f'href="{PAGE}"' in client_of(world, "agent").get("/").text
    assert f'href="{PAGE}"' in client_of(world, "manager").get("/").text
    assert f'href="{PAGE}"' not in client_of(world, "requester").get("/").text
