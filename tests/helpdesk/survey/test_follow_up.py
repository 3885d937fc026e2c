"""Satisfaction for team leads, the response rate, and low ratings followed up.

A team lead sees the lines of the teams they lead and of the people in them,
never another team's; an agent who leads no team is refused; managers see
everything. The response rate counts the resolved requests that could be
rated. A rating of 1 or 2 is listed as needing follow-up and tells the
ticket's owner team.
"""

from __future__ import annotations

import re
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.model import Event, Membership, WorkItem, utcnow
from plugins.helpdesk.kb.models import SelfHelp
from plugins.helpdesk.models import Ticket
from plugins.helpdesk.survey.results import EVERYTHING, Scope, results
from tests.helpdesk.survey.conftest import World, browser
from tests.web.conftest import sign_in


def resolved_ticket(session: Session, make_work_item, world: World, team, agent, **item) -> int:
    """A closed ticket of the world's requester, resolved by ``agent`` of ``team``."""
    made = make_work_item(status="closed", requester_id=world.requester.id, **item)
    session.add(Ticket(work_item_id=made.id, resolving_team_id=team.id, resolved_by_id=agent.id,
                       resolved_at=utcnow()))  # fmt: skip
    made_id = made.id
    session.commit()  # and read nothing after: SQLite takes one writer at a time
    return made_id


def rate(world: World, item_id: int, rating: int, comment: str = "") -> None:
    client = browser(world)
    csrf = sign_in(client, world.requester)
    reply = client.post(
        f"/survey/{item_id}", data={"csrf_token": csrf, "rating": rating, "comment": comment}
    )
    assert reply.status_code == 303


def table_rows(html: str) -> dict[str, list[str]]:
    """The results tables' rows by their first cell."""
    rows = (
        re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr)
        for tr in re.findall(r"<tr>(.*?)</tr>", html, re.S)
    )
    return {
        re.sub(r"<[^>]+>", "", row[0]).strip(): [re.sub(r"<[^>]+>", "", c).strip() for c in row[1:]]
        for row in rows
        if row
    }


def test_a_team_lead_sees_their_teams_and_people_not_other_teams(
    world: World, session: Session, make_person, make_work_item
) -> None:
    lead = make_person(name="Lee Lead", roles={"agent"})
    session.add(Membership(team_id=world.desk.id, person_id=lead.id, role="lead"))
    session.commit()
    mine = resolved_ticket(session, make_work_item, world, world.desk, world.fixer)
    elsewhere = resolved_ticket(session, make_work_item, world, world.network, world.other_fixer)
    helped = resolved_ticket(session, make_work_item, world, world.network, world.fixer)
    rate(world, mine, 5)
    rate(world, elsewhere, 1, "Nobody called back")
    rate(world, helped, 4)

    client = browser(world)
    sign_in(client, lead)
    page = client.get("/helpdesk/satisfaction")
    assert page.status_code == 200
    rows = table_rows(page.text)
    assert rows["Help desk"][:3] == ["1", "5.00", "100 %"]
    assert rows["Fay Fixer"][:3] == ["2", "4.50", "100 %"]  # her answers for any team
    assert rows["All"][:2] == ["2", "4.50"]
    assert "Network experts" not in rows
    assert not any(name.startswith("Otto") for name in rows)
    assert "Nobody called back" not in page.text
    assert "The teams you lead (Help desk) and the people in them." in page.text

    member = browser(world)
    sign_in(member, world.fixer)  # an agent who leads no team
    refused = member.get("/helpdesk/satisfaction")
    assert refused.status_code == 403
    assert "you lead no team" in refused.text

    manager = browser(world)
    sign_in(manager, world.manager)
    everything = manager.get("/helpdesk/satisfaction")
    assert {"Help desk", "Network experts", "Fay Fixer"} <= table_rows(everything.text).keys()
    follow_up = everything.text.split("<h2>Needs follow-up</h2>")[1].split("<h2>")[0]
    assert f'href="/items/{elsewhere}"' in follow_up
    assert "rated 1 (Poor), resolved by Otto &lt;script&gt;" in follow_up
    assert "Nobody called back" in follow_up
    assert f'href="/items/{mine}"' not in follow_up


def test_a_low_rating_tells_the_owner_team(world: World, session: Session, make_work_item) -> None:
    owned = {"owner_team_id": world.desk.id, "reference": "TIC-00077", "title": "Laptop is slow"}
    low = resolved_ticket(session, make_work_item, world, world.network, world.other_fixer, **owned)
    fine = resolved_ticket(session, make_work_item, world, world.desk, world.fixer,
                           owner_team_id=world.desk.id)  # fmt: skip
    unowned = resolved_ticket(session, make_work_item, world, world.desk, world.fixer)
    rate(world, low, 2, "Took a week")
    rate(world, fine, 3)
    rate(world, unowned, 1)

    notices = session.scalars(select(Event).filter_by(type="notified")).all()
    assert [(n.work_item_id, n.team_id, n.data["to"]) for n in notices] == [
        (low, world.desk.id, ["owner_team"])
    ]
    [notice] = notices
    assert notice.data["subject"] == "[TIC-00077] Rated 2 of 5 (Fair): needs follow-up"
    assert "The requester rated TIC-00077 (Laptop is slow) 2 of 5 (Fair)." in notice.data["body"]
    assert "Their comment: Took a week" in notice.data["body"]
    assert f"/items/{low}" in notice.data["body"]
    who = SimpleNamespace(id=world.requester.id)
    session.rollback()  # before the app writes: SQLite takes one writer at a time
    requester = browser(world)
    sign_in(requester, who)
    assert "needs follow-up" not in requester.get(f"/items/{low}").text  # for the team only


def test_the_response_rate_counts_requests_that_could_be_rated(
    world: World, session: Session, make_work_item
) -> None:
    fixer = (world.desk, world.fixer)
    rated = resolved_ticket(session, make_work_item, world, *fixer)
    resolved_ticket(session, make_work_item, world, *fixer)  # resolved, not rated yet
    self_help = resolved_ticket(session, make_work_item, world, *fixer)
    session.add(SelfHelp(requester_id=world.requester.id, key="k", work_item_id=self_help,
                         request_type="incident"))  # fmt: skip
    nobody = make_work_item(status="closed")  # no requester to ask
    project = make_work_item(kind="project", status="closed", requester_id=world.requester.id)
    old = make_work_item(status="closed", requester_id=world.requester.id)
    for made in (nobody, project, old):
        session.add(
            Ticket(
                work_item_id=made.id,
                resolving_team_id=world.desk.id,
                resolved_by_id=world.fixer.id,
                resolved_at=utcnow() - timedelta(days=100 if made is old else 0),
            )
        )
    session.commit()  # fmt: skip
    rate(world, rated, 4)

    month = results(session, utcnow() - timedelta(days=30))
    # world.resolved (TIC-00001, unrated) counts too: it is resolved, with a requester
    fay = next(line for line in month.agents if line.name == "Fay Fixer")
    assert (fay.answers, fay.resolved, fay.rated, fay.response_percent) == (1, 3, 1, 33)
    assert (month.overall.resolved, month.overall.rated) == (3, 1)
    [desk] = month.teams
    assert (desk.name, desk.resolved, desk.rated) == ("Help desk", 3, 1)
    assert results(session, None).overall.resolved == 4  # the one resolved 100 days ago
    network_only = Scope(team_ids=frozenset({world.network.id}))
    assert results(session, None, scope=network_only).overall.resolved == 0
    assert results(session, None, scope=EVERYTHING).overall.response_percent == 25
    session.rollback()
    assert session.get(WorkItem, self_help) is not None
