"""Survey fixtures: a requester, a manager, two agents in two teams, a resolved and an open ticket.

``world`` is committed; ``browser(world)`` is a client that does not follow redirects.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.db import make_read_session_factory
from engine.model import Membership, Person, Team, WorkItem
from plugins.helpdesk import plugin as helpdesk_plugin
from plugins.helpdesk.models import Ticket
from plugins.helpdesk.survey.models import SurveyResponse
from tests.web.conftest import MakeApp, make_app  # noqa: F401 (fixture)

XSS = '<script>alert("x")</script>'


@dataclass
class World:
    app: Starlette
    requester: Person
    stranger: Person
    manager: Person
    fixer: Person
    other_fixer: Person
    desk: Team
    network: Team
    resolved: WorkItem
    still_open: WorkItem


@pytest.fixture
def world(
    session: Session,
    make_app: MakeApp,  # noqa: F811
    make_person,
    make_team,
    make_work_item,
) -> World:
    requester = make_person(name="Rita Requester", roles={"requester"})
    stranger = make_person(name="Sam Stranger", roles={"requester"})
    manager = make_person(name="Mona Manager", roles={"manager"})
    fixer = make_person(name="Fay Fixer", roles={"agent"})
    other_fixer = make_person(name=f"Otto {XSS}", roles={"agent"})
    desk = make_team(slug="desk", name="Help desk", tier="L1")
    network = make_team(slug="network", name="Network experts", tier="L3")
    session.add_all([Membership(team_id=desk.id, person_id=fixer.id),
                     Membership(team_id=network.id, person_id=other_fixer.id)])  # fmt: skip
    resolved = make_work_item(
        title="Printer jams", status="resolved", requester_id=requester.id, reference="TIC-00001"
    )
    still_open = make_work_item(title="VPN drops", status="open", requester_id=requester.id)
    session.add(
        Ticket(work_item_id=resolved.id, resolving_team_id=desk.id, resolved_by_id=fixer.id)
    )
    session.commit()
    app = make_app(("helpdesk", helpdesk_plugin))
    return World(app, requester, stranger, manager, fixer, other_fixer, desk, network,
                 resolved, still_open)  # fmt: skip


def browser(world: World) -> TestClient:
    return TestClient(world.app, raise_server_exceptions=False, follow_redirects=False)


def answers(world: World) -> list[SurveyResponse]:
    with make_read_session_factory(world.app.state.db)() as db:
        rows = db.scalars(select(SurveyResponse)).all()
        db.expunge_all()
        return list(rows)
