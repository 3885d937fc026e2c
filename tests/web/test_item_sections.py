"""Plugins add panels to the work item page; the help desk's show a ticket's tier path and facts.

The panels come from ``tierflow_work_item_sections``; the help desk's are for
staff only, and whatever names or reasons people typed come back escaped.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.contrib import ItemSection
from engine.errors import PluginError
from engine.events import record_event
from engine.hookspecs import hookimpl
from engine.model import Membership, Person, WorkItem
from engine.plugins import create_plugin_manager
from engine.web.access import Viewer
from engine.web.item_page import load_item_page
from plugins.helpdesk import plugin as helpdesk
from plugins.helpdesk.views_ticket import HandOff, TeamInfo, stops
from tests.web.conftest import MakeApp, sign_in

XSS = '<script>alert("x")</script>'
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def page(client: TestClient, person: Person, item: WorkItem) -> str:
    sign_in(client, person)
    response = client.get(f"/items/{item.id}")
    assert response.status_code == 200, response.text
    return response.text


def panel(text: str, title: str) -> str | None:
    """The ``<section>`` whose ``<h2>`` reads ``title``, if the page has one."""
    found = re.search(
        r'<section aria-labelledby="([^"]+)">\s*<h2 id="\1">' + re.escape(title) + r"</h2>"
        r"(.*?)</section>",
        text,
        re.S,
    )
    return found.group(0) if found else None


def plain(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


# ------------------------------------------------------------ engine hook ---


class Panels:
    """A third-party plugin adding two panels, the second first by order."""

    def __init__(self, templates: Path) -> None:
        self.templates = templates
        self.seen: list[tuple[int, str | None]] = []

    @hookimpl
    def tierflow_register_template_dirs(self) -> list[Path]:
        return [self.templates]

    @hookimpl
    def tierflow_work_item_sections(self, item: WorkItem, viewer: Viewer, session: Session):
        self.seen.append((item.id, viewer.email))
        assert session.get(WorkItem, item.id) is item
        return [
            ItemSection("Costs", "panels/costs.html", {"total": f"{XSS} 120 EUR"}, order=20),
            ItemSection("Parts", "panels/parts.html", {"parts": ["toner", "drum"]}, order=5),
        ]


@pytest.fixture
def panels(tmp_path: Path) -> Panels:
    folder = tmp_path / "panel_templates" / "panels"
    folder.mkdir(parents=True)
    (folder / "costs.html").write_text("<p>Total: {{ section.context.total }}</p>")
    (folder / "parts.html").write_text(
        '<ul aria-labelledby="{{ section.heading_id }}">'
        "{% for p in section.context.parts %}<li>{{ p }}</li>{% endfor %}</ul>"
    )
    return Panels(folder.parent)


def test_plugins_add_panels_in_their_order(
    make_app: MakeApp, panels: Panels, session: Session, make_person, make_work_item
) -> None:
    agent = make_person(name="Ann Agent", roles={"manager"})
    item = make_work_item(title="Printer jams")
    session.commit()
    with TestClient(make_app(("panels", panels))) as client:
        text = page(client, agent, item)

    parts, costs = panel(text, "Parts"), panel(text, "Costs")
    assert parts is not None
    assert costs is not None
    assert text.index(parts) < text.index(costs) < text.index("Timeline</h2>")
    assert re.search(
        r'<ul aria-labelledby="section-1-parts"><li>toner</li><li>drum</li></ul>', parts
    )
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; 120 EUR" in costs
    assert XSS not in text
    assert panels.seen == [(item.id, agent.email)]


def test_a_panel_that_is_not_an_item_section_names_its_plugin(
    session: Session, make_person, make_work_item
) -> None:
    class Broken:
        @hookimpl
        def tierflow_work_item_sections(self, item, viewer, session):
            return ["<p>not a section</p>"]

    pm = create_plugin_manager(entry_points=False, plugins=[("broken", Broken())])
    item = make_work_item()
    viewer = Viewer(person_id=1, name="Ann", email="ann@example.org", roles=frozenset({"admin"}))
    with pytest.raises(PluginError, match=r"plugin 'broken' returned .* expected ItemSection"):
        load_item_page(session, item.id, viewer, T0, pm)
    assert load_item_page(session, item.id, viewer, T0).sections == []  # type: ignore[union-attr]


# ---------------------------------------------------- the help desk's panels ---


@pytest.fixture
def ticket(session: Session, make_person, make_team) -> dict:
    """A ticket escalated from the help desk to desktop support and handed back, then resolved."""
    l1 = make_team(slug="helpdesk-l1", name="Help desk", tier="L1")
    l2 = make_team(slug="desktop-support", name=f"Desktop {XSS}", tier="L2")
    hannah = make_person(name="Hannah Lee", roles={"agent"})
    diego = make_person(name="Diego Santos", roles={"agent"})
    rita = make_person(name="Rita Requester", roles={"requester"})
    session.add(Membership(team_id=l1.id, person_id=hannah.id))
    session.add(Membership(team_id=l2.id, person_id=diego.id))
    item = WorkItem(
        kind="ticket", type="incident", title="Printer jams", status="resolved",
        reference="INC-00042", requester_id=rita.id, owner_team_id=l1.id, current_team_id=l1.id,
    )  # fmt: skip
    session.add(item)
    session.flush()
    pm = create_plugin_manager(entry_points=False, plugins=[("helpdesk", helpdesk)])
    moments = (T0 + timedelta(minutes=n) for n in range(100))

    def record(type, data, actor=None, team=None):
        record_event(
            session, pm, work_item_id=item.id, type=type, data=data, at=next(moments),
            actor_id=actor.id if actor else None, team_id=team.id if team else None,
        )  # fmt: skip

    up = {"from_team": l1.slug, "to_team": l2.slug, "from_tier": "L1", "to_tier": "L2"}
    down = {"from_team": l2.slug, "to_team": l1.slug, "from_tier": "L2", "to_tier": "L1"}
    record("created", {"channel": "portal"})
    record("team_changed", {"field": "current_team", "from": None, "to": l1.slug})
    record("escalated", up | {"reason": f"needs hands on {XSS}"}, actor=hannah, team=l1)
    record("team_changed", {"field": "current_team", "from": l1.slug, "to": l2.slug})
    record("team_changed", {"field": "current_team", "from": l2.slug, "to": l1.slug})
    record("de_escalated", down | {"reason": "a password reset"}, actor=diego, team=l2)
    fixed = {"team": l1.slug, "tier": "L1", "resolution_mode": "remote", "l1_capable": None,
             "first_contact": True}  # fmt: skip
    record("resolved", fixed, actor=hannah, team=l1)
    session.commit()
    return {"item": item, "hannah": hannah, "rita": rita, "diego": diego}


def test_staff_see_the_tier_path_and_the_facts(make_app: MakeApp, ticket: dict) -> None:
    with TestClient(make_app(("helpdesk", helpdesk))) as client:
        text = page(client, ticket["hannah"], ticket["item"])

    path = panel(text, "Tier path")
    assert path is not None
    heading = re.search(r'<h2 id="([^"]+)">Tier path</h2>', path).group(1)  # type: ignore[union-attr]
    assert f'<ol class="tier-path" aria-labelledby="{heading}">' in path
    steps = [plain(li) for li in re.findall(r"<li>(.*?)</li>", path, re.S)]
    assert steps == [
        "Started at Help desk (L1) , 2026-03-02 09:01 UTC",
        f"Escalated to Desktop {XSS} (L2) , 2026-03-02 09:02 UTC , by Hannah Lee"
        f" — reason: needs hands on {XSS}",
        "De-escalated to Help desk (L1) , 2026-03-02 09:04 UTC , by Diego Santos"
        " — reason: a password reset",
    ]
    assert plain(path).startswith(f"Tier path Help desk (L1) → Desktop {XSS} (L2) → Help desk (L1)")
    assert XSS not in text
    assert "&lt;script&gt;" in path

    facts = panel(text, "Ticket facts")
    assert facts is not None
    rows = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", facts, re.S))
    assert rows["Resolved at first contact"] == "No"
    assert rows["Escalations"] == "1"
    assert rows["Reopened"] == "Never"
    assert rows["Resolving tier"] == "L1, Help desk"
    assert rows["Resolved by"] == "Hannah Lee"
    assert rows["Worked"] == "Remotely"
    assert rows["Level 1 could have resolved it"] == "Yes"  # resolved at L1: by definition
    assert plain(rows["Resolved"]) == "2026-03-02 09:06 UTC"
    assert rows["First response"] == "No response yet"


def test_requesters_see_neither_panel(make_app: MakeApp, ticket: dict) -> None:
    with TestClient(make_app(("helpdesk", helpdesk))) as client:
        text = page(client, ticket["rita"], ticket["item"])
    assert "Tier path" not in text
    assert "Ticket facts" not in text
    assert "needs hands on" not in text


def test_other_work_items_get_no_help_desk_panels(
    make_app: MakeApp, session: Session, make_person, make_work_item
) -> None:
    agent = make_person(roles={"manager"})
    item = make_work_item(kind="project", type="rollout")
    session.commit()
    with TestClient(make_app(("helpdesk", helpdesk))) as client:
        assert "Tier path" not in page(client, agent, item)


def test_facts_of_a_ticket_without_a_facts_row_come_from_its_events(
    make_app: MakeApp, session: Session, make_person, make_work_item
) -> None:
    agent = make_person(roles={"manager"})
    item = make_work_item()  # written before the help desk plugin was installed
    session.commit()
    with TestClient(make_app(("helpdesk", helpdesk))) as client:
        text = page(client, agent, item)
    rows = dict(re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", panel(text, "Ticket facts") or ""))
    assert rows["Resolved at first contact"] == "Not resolved yet"
    assert "The ticket has not reached a team yet." in (panel(text, "Tier path") or "")


# ------------------------------------------------------------- the path, pure ---

TEAMS = {
    "hd": TeamInfo("Help desk (L1)", "L1"),
    "ds": TeamInfo("Desktop support", "L2"),
    "nw": TeamInfo("Network", "L3"),
}


def hop(type: str, source: str | None, target: str, minute: int) -> HandOff:
    if type == "team_changed":
        data = {"from": source, "to": target}
    else:
        data = {"from_team": source, "to_team": target, "reason": f"r{minute}"}
    return HandOff(type, data, T0 + timedelta(minutes=minute), f"P{minute}")


def test_an_escalation_and_its_move_are_one_hand_off_whichever_comes_first() -> None:
    events = [
        hop("team_changed", "hd", "ds", 1),
        hop("escalated", "hd", "ds", 1),
        hop("escalated", "ds", "nw", 2),
        hop("team_changed", "ds", "nw", 2),
        hop("team_changed", "nw", "hd", 3),  # a plain move, no reason
    ]
    path = stops(events, TEAMS, "hd", T0)
    assert [(s.how, s.label, s.reason) for s in path] == [
        ("Started at", "Help desk (L1)", None),
        ("Escalated to", "Desktop support (L2)", "r1"),
        ("Escalated to", "Network (L3)", "r2"),
        ("Moved to", "Help desk (L1)", None),
    ]
    assert stops([], TEAMS, "hd", T0)[0].label == "Help desk (L1)"
    assert stops([], TEAMS, None, T0) == []
    unknown = stops([hop("escalated", None, "zz", 1)], TEAMS, None, None)
    assert [(s.how, s.label) for s in unknown] == [("Started at", "zz")]
