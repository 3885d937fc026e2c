"""The assignment admin page: each team's rule and each agent's skills, for admins only."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.db import make_read_session_factory
from engine.model import Membership, Person, Team
from plugins.helpdesk import plugin as helpdesk_plugin
from plugins.helpdesk.models import AssignmentRule, Category, Skill
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)

PAGE = "/helpdesk/admin/assignment"
XSS = '<script>alert("x")</script>'


@dataclass
class World:
    app: Starlette
    admin: Person
    agent: Person
    other: Person
    desk: Team
    network: Team
    hardware: Category
    wifi: Category


@pytest.fixture
def world(session: Session, make_app: MakeApp, make_person, make_team) -> World:  # noqa: F811
    admin = make_person(name="Ada Admin", roles={"admin"})
    agent = make_person(name="Al Agent", roles={"agent"})
    other = make_person(name=f"Otto {XSS}", roles={"agent"})
    make_person(name="Rita Requester", roles={"requester"})
    desk = make_team(slug="desk", name="Help desk", tier="L1")
    network = make_team(slug="network", name=f"Network {XSS}", tier="L3")
    session.add_all([Membership(team_id=desk.id, person_id=p.id) for p in (agent, other)])
    hardware, wifi = Category(slug="hardware", name="Hardware"), Category(slug="wifi", name="Wi-Fi")
    session.add_all([hardware, wifi])
    session.flush()
    session.add(AssignmentRule(team_id=desk.id, rule="round_robin", last_person_id=agent.id))
    session.add(Skill(person_id=agent.id, category_id=hardware.id))
    session.commit()
    app = make_app(("helpdesk", helpdesk_plugin))
    return World(app, admin, agent, other, desk, network, hardware, wifi)


@pytest.fixture
def admin(world: World) -> tuple[TestClient, str]:
    client = TestClient(world.app, raise_server_exceptions=False, follow_redirects=False)
    return client, sign_in(client, world.admin)


def rules(world: World) -> dict[int, str]:
    with make_read_session_factory(world.app.state.db)() as db:
        return dict(db.execute(select(AssignmentRule.team_id, AssignmentRule.rule)).tuples().all())


def skills(world: World) -> set[tuple[int, int]]:
    with make_read_session_factory(world.app.state.db)() as db:
        return set(db.execute(select(Skill.person_id, Skill.category_id)).tuples().all())


def selected(page: str, field: str) -> str:
    select_tag = re.search(rf'<select id="{field}".*?</select>', page, re.S)
    assert select_tag, f"no select {field}"
    chosen = re.findall(r'<option value="(\w+)" selected>', select_tag.group(0))
    return chosen[0] if chosen else ""


def ticked(page: str) -> set[str]:
    return set(re.findall(r'id="(skill-\d+-\d+)" name="skills-\d+" value="\d+" checked', page))


def test_the_page_shows_every_team_rule_and_agent_skills(world: World, admin) -> None:
    client, _ = admin
    reply = client.get(PAGE)
    assert reply.status_code == 200
    page = reply.text
    assert selected(page, f"rule-{world.desk.id}") == "round_robin"
    assert selected(page, f"rule-{world.network.id}") == "manual"  # no row: manual claim
    assert "Al Agent" in page  # round robin's last
    assert ticked(page) == {f"skill-{world.agent.id}-{world.hardware.id}"}
    assert "Rita Requester" not in page  # not an agent
    assert XSS not in page
    assert html.escape(XSS) in page.replace("&#34;", "&quot;")
    forms = page.count("<form ")
    assert forms == 3  # rules, skills, sign out
    assert page.count('name="csrf_token"') == forms


def test_only_admins_reach_the_page(world: World) -> None:
    client = TestClient(world.app, raise_server_exceptions=False, follow_redirects=False)
    token = sign_in(client, world.agent)
    assert client.get(PAGE).status_code == 403
    posted = {"csrf_token": token, f"rule-{world.desk.id}": "manual"}
    assert client.post(f"{PAGE}/rules", data=posted).status_code == 403
    assert rules(world)[world.desk.id] == "round_robin"


def test_saving_the_rules(world: World, admin) -> None:
    client, token = admin
    posted = {
        "csrf_token": token,
        f"rule-{world.desk.id}": "least_loaded",
        f"rule-{world.network.id}": "skill_match",
    }
    reply = client.post(f"{PAGE}/rules", data=posted)
    assert reply.status_code == 303
    assert reply.headers["location"] == f"{PAGE}?done=rules"
    assert rules(world) == {world.desk.id: "least_loaded", world.network.id: "skill_match"}
    assert "The teams&#39; rules were saved." in client.get(reply.headers["location"]).text


def test_a_bad_rule_answers_422_with_the_error_and_the_input_kept(world: World, admin) -> None:
    client, token = admin
    posted = {
        "csrf_token": token,
        f"rule-{world.desk.id}": "manual",
        f"rule-{world.network.id}": "by_horoscope",
    }
    reply = client.post(f"{PAGE}/rules", data=posted)
    assert reply.status_code == 422
    page = reply.text
    assert "&#39;by_horoscope&#39; is not a rule; choose one of: manual, round_robin" in page
    assert f'href="#rule-{world.network.id}"' in page  # the summary leads to the control
    assert f'aria-describedby="rule-{world.network.id}-error"' in page
    assert selected(page, f"rule-{world.desk.id}") == "manual"  # as posted, not as stored
    assert rules(world) == {world.desk.id: "round_robin"}  # nothing saved


@pytest.mark.parametrize(
    ("field", "value"),
    [("rule-999999", "manual"), ("rule-99999999999", "manual"), ("rule-x", "manual"), ("", "")],
)
def test_a_rule_for_no_team_or_none_at_all_is_refused(
    world: World, admin, field: str, value: str
) -> None:
    client, token = admin
    posted = {"csrf_token": token, f"rule-{world.desk.id}": "manual"} if field else {}
    if field:
        posted[field] = value
    reply = client.post(f"{PAGE}/rules", data=posted | {"csrf_token": token})
    if field == "rule-x":  # not a rule field: ignored, the rest saved
        assert reply.status_code == 303
        return
    assert reply.status_code == 422
    assert "reload the page" in reply.text
    assert rules(world) == {world.desk.id: "round_robin"}


def test_saving_skills_sets_and_clears_them(world: World, admin) -> None:
    client, token = admin
    agent, other = world.agent.id, world.other.id
    posted = {
        "csrf_token": token,
        "people": [str(agent), str(other)],
        f"skills-{other}": [str(world.hardware.id), str(world.wifi.id)],
    }
    reply = client.post(f"{PAGE}/skills", data=posted)
    assert reply.status_code == 303
    assert skills(world) == {(other, world.hardware.id), (other, world.wifi.id)}


def test_a_bad_skill_answers_422_with_the_ticks_kept(world: World, admin) -> None:
    client, token = admin
    other = world.other.id
    posted = {
        "csrf_token": token,
        "people": [str(world.agent.id), str(other)],
        f"skills-{other}": [str(world.wifi.id), "424242"],
    }
    reply = client.post(f"{PAGE}/skills", data=posted)
    assert reply.status_code == 422
    assert "&#39;424242&#39; is not an active category" in reply.text
    assert f'href="#skills-{other}-cells"' in reply.text
    assert ticked(reply.text) == {f"skill-{other}-{world.wifi.id}"}  # as posted
    assert skills(world) == {(world.agent.id, world.hardware.id)}


@pytest.mark.parametrize(
    "people",
    [[], ["nobody"], ["99999999999"], ["<requester>"]],
)
def test_skills_for_someone_not_an_agent_are_refused(world: World, admin, people) -> None:
    client, token = admin
    listed = [p.replace("<requester>", str(world.admin.id)) for p in people]
    reply = client.post(
        f"{PAGE}/skills", data={"csrf_token": token, "people": listed, "skills-1": "1"}
    )
    assert reply.status_code == 422
    assert "reload the page" in reply.text
    assert skills(world) == {(world.agent.id, world.hardware.id)}


def test_a_post_without_the_csrf_token_is_refused(world: World, admin) -> None:
    client, _ = admin
    reply = client.post(f"{PAGE}/rules", data={f"rule-{world.desk.id}": "manual"})
    assert reply.status_code == 403
    assert rules(world) == {world.desk.id: "round_robin"}
