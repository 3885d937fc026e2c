"""The categories admin page: list, add, edit and deactivate request categories (admins only)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.db import make_read_session_factory
from engine.model import Person, Team, WorkItem
from plugins.helpdesk import plugin as helpdesk_plugin
from plugins.helpdesk.categories import SEPARATOR
from plugins.helpdesk.models import Category, Skill, Ticket
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)

PAGE = "/helpdesk/admin/categories"
XSS = '<script>alert("x")</script>'


def helpdesk_app(make_app: MakeApp) -> Starlette:  # noqa: F811
    """The app with the help desk plugin and these pages."""
    return make_app(("helpdesk", helpdesk_plugin))


@dataclass
class World:
    app: Starlette
    admin: Person
    agent: Person
    desk: Team
    old: Team
    hardware: Category
    printers: Category
    network: Category


@pytest.fixture
def world(session: Session, make_app: MakeApp, make_person, make_team) -> World:  # noqa: F811
    admin = make_person(name="Ada Admin", roles={"admin"})
    agent = make_person(name="Al Agent", roles={"agent"})
    desk = make_team(slug="desk", name=f"Help desk {XSS}", tier="L1")
    old = make_team(slug="old", name="Old team", tier="L2")
    old.active = False
    hardware = Category(slug="hardware", name="Hardware", default_team_id=desk.id)
    network = Category(slug="network", name="Network")
    session.add_all([hardware, network])
    session.flush()
    printers = Category(slug="printers", name="Printers", parent_id=hardware.id)
    session.add(printers)
    session.flush()
    item = WorkItem(kind="ticket", type="incident", title="Printer jam", status="open")
    session.add(item)
    session.flush()
    session.add(Ticket(work_item_id=item.id, category_id=printers.id))
    session.add(Skill(person_id=agent.id, category_id=network.id))
    session.commit()
    return World(helpdesk_app(make_app), admin, agent, desk, old, hardware, printers, network)


@pytest.fixture
def admin(world: World) -> tuple[TestClient, str]:
    client = TestClient(world.app, raise_server_exceptions=False, follow_redirects=False)
    return client, sign_in(client, world.admin)


def stored(world: World) -> dict[str, tuple[Any, ...]]:
    with make_read_session_factory(world.app.state.db)() as db:
        return {
            row.slug: (row.name, row.parent_id, row.default_team_id, row.active)
            for row in db.scalars(select(Category))
        }


def post(client: TestClient, token: str, path: str, **fields: str) -> Any:
    return client.post(path, data={"csrf_token": token, **fields})


def test_the_list_shows_the_tree_teams_and_use(world: World, admin: tuple[TestClient, str]):
    client, _ = admin
    reply = client.get(PAGE)
    assert reply.status_code == 200
    assert f"Hardware{SEPARATOR}Printers" in reply.text
    assert "Help desk &lt;script&gt;" in reply.text
    assert XSS not in reply.text
    assert f"{PAGE}/{world.printers.id}" in reply.text
    assert f"{PAGE}/{world.network.id}/deactivate" in reply.text


def test_an_admin_adds_a_category_under_a_parent(world: World, admin: tuple[TestClient, str]):
    client, token = admin
    chosen = {"parent": str(world.network.id), "default_team": str(world.desk.id)}
    reply = post(client, token, f"{PAGE}/new", name="Wi-Fi", slug="wifi", active="true", **chosen)
    assert reply.status_code == 303, reply.text
    assert reply.headers["location"] == f"{PAGE}?done=saved"
    assert stored(world)["wifi"] == ("Wi-Fi", world.network.id, world.desk.id, True)
    assert f"Network{SEPARATOR}Wi-Fi" in client.get(PAGE).text


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"slug": "Net Work"}, "slug", "is not a slug"),
        ({"slug": ""}, "slug", "ill this in"),
        ({"slug": "network"}, "slug", "a category &#39;network&#39; already"),
        ({"name": ""}, "name", "ill this in"),
        ({"name": "x" * 201}, "name", "at most 200 characters"),
        ({"default_team": "999999"}, "default_team", "there is no team"),
        ({"default_team": "abc"}, "default_team", "there is no team"),
        ({"parent": "999999"}, "parent", "there is no category"),
        ({"parent": "1" * 30}, "parent", "there is no category"),
    ],
)
def test_a_bad_new_category_answers_422_keeping_the_input(
    world: World, admin: tuple[TestClient, str], fields: dict[str, str], field: str, message: str
):
    client, token = admin
    before = stored(world)
    given = {"name": "Wi-Fi", "slug": "wifi", "parent": "", "default_team": "", **fields}
    reply = post(client, token, f"{PAGE}/new", **given)
    assert reply.status_code == 422
    error = re.search(rf'id="field-{field}-error".*?</', reply.text, re.S)
    assert error, reply.text
    assert message.lower() in error.group(0).lower()
    if given["name"] and len(given["name"]) < 50:
        assert f'value="{given["name"]}"' in reply.text
    assert stored(world) == before


def test_an_inactive_team_is_refused(world: World, admin: tuple[TestClient, str]):
    client, token = admin
    reply = post(client, token, f"{PAGE}/new", name="X", slug="x", default_team=str(world.old.id))
    assert reply.status_code == 422
    assert "is inactive" in reply.text


def test_a_parent_cycle_is_refused(world: World, admin: tuple[TestClient, str]):
    client, token = admin
    before = stored(world)
    path = f"{PAGE}/{world.hardware.id}"
    reply = post(client, token, path, name="Hardware", slug="hardware",
                 parent=str(world.printers.id), active="true")  # fmt: skip
    assert reply.status_code == 422
    assert "cannot sit under itself" in reply.text
    assert "hardware → printers" in reply.text
    reply = post(client, token, path, name="Hardware", parent=str(world.hardware.id))
    assert reply.status_code == 422
    assert "cannot sit under itself" in reply.text
    assert stored(world) == before


def test_a_used_slug_is_fixed_an_unused_one_changes(world: World, admin: tuple[TestClient, str]):
    client, token = admin
    form = client.get(f"{PAGE}/{world.printers.id}").text
    assert 'name="slug"' not in form
    assert "<code>printers</code>" in form
    reply = post(client, token, f"{PAGE}/{world.printers.id}", name="Printers & scanners",
                 slug="scanners", parent=str(world.hardware.id), active="true")  # fmt: skip
    assert reply.status_code == 422
    assert "cannot change" in reply.text
    reply = post(client, token, f"{PAGE}/{world.printers.id}", name="Printers & scanners",
                 parent=str(world.hardware.id), active="true")  # fmt: skip
    assert reply.status_code == 303
    assert stored(world)["printers"][0] == "Printers & scanners"
    assert 'name="slug"' in client.get(f"{PAGE}/{world.hardware.id}").text
    reply = post(client, token, f"{PAGE}/{world.hardware.id}", name="Hardware", slug="devices")
    assert reply.status_code == 303
    assert stored(world)["devices"] == ("Hardware", None, None, False)


def test_deactivating_keeps_the_category(world: World, admin: tuple[TestClient, str]):
    client, token = admin
    reply = post(client, token, f"{PAGE}/{world.printers.id}/deactivate")
    assert reply.status_code == 303
    assert reply.headers["location"] == f"{PAGE}?done=deactivated"
    assert stored(world)["printers"][3] is False
    assert "no longer choose it" in client.get(f"{PAGE}?done=deactivated").text


def test_an_unknown_category_is_404(world: World, admin: tuple[TestClient, str]):
    client, token = admin
    before = stored(world)
    assert client.get(f"{PAGE}/999999").status_code == 404
    assert post(client, token, f"{PAGE}/999999", name="X").status_code == 404
    assert post(client, token, f"{PAGE}/999999/deactivate").status_code == 404
    assert stored(world) == before


def test_only_admins_see_the_page_and_its_link(world: World):
    client = TestClient(world.app, raise_server_exceptions=False, follow_redirects=False)
    sign_in(client, world.agent)
    assert client.get(PAGE).status_code == 403
    assert f'href="{PAGE}"' not in client.get("/").text
    sign_in(client, world.admin)
    assert f'href="{PAGE}"' in client.get("/").text
