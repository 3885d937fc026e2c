"""The satisfaction survey: a requester rates a resolved ticket once; managers see the results."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.config import secret_key
from engine.db import make_read_session_factory
from engine.model import Event, WorkItem
from plugins.helpdesk.kb.models import SelfHelp
from plugins.helpdesk.models import Ticket
from plugins.helpdesk.survey.service import link_token, survey_url
from tests.helpdesk.survey.conftest import XSS, World, answers, browser
from tests.web.conftest import form_token, sign_in


def rated_events(world: World) -> list[dict]:
    with make_read_session_factory(world.app.state.db)() as db:
        return [e.data for e in db.scalars(select(Event).filter_by(type="rated")).all()]


def token_for(world: World, item: WorkItem) -> str:
    return link_token(secret_key(world.app.state.settings), item)


def test_the_link_in_the_mail_rates_without_signing_in_and_only_once(world: World) -> None:
    client, token = browser(world), token_for(world, world.resolved)
    page = client.get(f"/survey/{world.resolved.id}", params={"t": token, "rating": "4"})
    assert page.status_code == 200
    assert 'value="4" checked' in page.text
    assert answers(world) == []  # following a link (a mail scanner) stores nothing
    form = {"csrf_token": form_token(page.text), "t": token, "rating": "4", "comment": "Quick!"}
    done = client.post(f"/survey/{world.resolved.id}", data=form)
    assert done.status_code == 303
    [answer] = answers(world)
    assert (answer.rating, answer.comment, answer.respondent_id) == (
        4,
        "Quick!",
        world.requester.id,
    )
    assert (answer.team_id, answer.agent_id) == (world.desk.id, world.fixer.id)
    assert rated_events(world) == [{"rating": 4, "commented": True}]
    thanks = client.get(done.headers["location"])
    assert "Thank you: your rating was recorded." in thanks.text
    assert "You rated TIC-00001" in thanks.text
    again = client.post(f"/survey/{world.resolved.id}", data=form | {"rating": "1"})
    assert again.status_code == 409
    assert "already been rated" in again.text
    assert [a.rating for a in answers(world)] == [4]


def test_the_signed_in_requester_rates_from_the_ticket_page(world: World) -> None:
    client = browser(world)
    csrf = sign_in(client, world.requester)
    page = client.get(f"/items/{world.resolved.id}")
    assert "How did we do?" in page.text
    reply = client.post(
        f"/survey/{world.resolved.id}", data={"csrf_token": csrf, "rating": "5", "comment": XSS}
    )
    assert reply.status_code == 303
    page = client.get(f"/items/{world.resolved.id}")
    assert "You rated TIC-00001" in page.text
    assert XSS not in page.text
    assert "&lt;script&gt;" in page.text
    assert "How did we do?" not in client.get(f"/items/{world.still_open.id}").text


@pytest.mark.parametrize(
    ("who", "token", "status"),
    [
        ("stranger", "", 403),  # another requester, signed in
        ("manager", "", 403),  # the rating speaks for the requester: nobody else gives it
        (None, "not-a-token", 403),
        (None, "other-item", 403),  # a valid token of another ticket
    ],
)
def test_only_the_requester_may_rate(world: World, who: str | None, token: str, status: int):
    client = browser(world)
    csrf = sign_in(client, getattr(world, who)) if who else form_token(client.get("/sign-in").text)
    if token == "other-item":
        token = token_for(world, world.still_open)
    reply = client.post(
        f"/survey/{world.resolved.id}", data={"csrf_token": csrf, "t": token, "rating": "5"}
    )
    assert reply.status_code == status
    assert answers(world) == []


def test_anonymous_without_a_link_is_sent_to_sign_in(world: World) -> None:
    reply = browser(world).get(f"/survey/{world.resolved.id}")
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/sign-in?next=%2Fsurvey%2F")


@pytest.mark.parametrize(
    ("rating", "comment", "field"),
    [("", "kept", "rating"), ("7", "kept", "rating"), ("x", "", "rating"),
     ("3", "a\x00b", "comment"), ("3", "y" * 4001, "comment")],
)  # fmt: skip
def test_a_bad_answer_is_refused_per_field_with_the_input_kept(
    world: World, rating: str, comment: str, field: str
) -> None:
    client = browser(world)
    csrf = sign_in(client, world.requester)
    reply = client.post(
        f"/survey/{world.resolved.id}",
        data={"csrf_token": csrf, "rating": rating, "comment": comment},
    )
    assert reply.status_code == 422
    assert f'id="{field}-error"' in reply.text
    if comment == "kept":
        assert ">kept</textarea>" in reply.text
    assert answers(world) == []


def test_an_unresolved_request_cannot_be_rated_yet(world: World) -> None:
    client = browser(world)
    csrf = sign_in(client, world.requester)
    page = client.get(f"/survey/{world.still_open.id}")
    assert "once it is resolved" in page.text
    reply = client.post(f"/survey/{world.still_open.id}", data={"csrf_token": csrf, "rating": "5"})
    assert reply.status_code == 409
    assert client.get("/survey/999999").status_code == 404


def test_survey_url_is_absolute_and_carries_a_working_token(world: World) -> None:
    url = survey_url(world.app.state.settings, world.resolved, "https://it.example.org/", 5)
    assert url.startswith(f"https://it.example.org/survey/{world.resolved.id}?t=")
    assert url.endswith("&rating=5")
    path = url.removeprefix("https://it.example.org")
    assert 'value="5" checked' in browser(world).get(path).text


def test_results_by_team_and_agent(world: World, session: Session, make_work_item) -> None:
    ratings = [(world.desk, world.fixer, 5), (world.desk, world.fixer, 4),
               (world.network, world.other_fixer, 2)]  # fmt: skip
    for n, (team, agent, rating) in enumerate(ratings):
        item = make_work_item(status="closed", requester_id=world.requester.id)
        session.add(
            Ticket(work_item_id=item.id, resolving_team_id=team.id, resolved_by_id=agent.id)
        )
        session.commit()
        client = browser(world)
        csrf = sign_in(client, world.requester)
        comment = f"comment {n}" if rating < 3 else ""
        reply = client.post(
            f"/survey/{item.id}", data={"csrf_token": csrf, "rating": rating, "comment": comment}
        )
        assert reply.status_code == 303
    client = browser(world)
    sign_in(client, world.manager)
    page = client.get("/helpdesk/satisfaction?period=30")
    assert page.status_code == 200
    rows = {
        re.sub(r"<[^>]+>", "", row[0]).strip(): [re.sub(r"<[^>]+>", "", c).strip() for c in row[1:]]
        for row in (
            re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr)
            for tr in re.findall(r"<tr>(.*?)</tr>", page.text, re.S)
        )
        if row
    }
    assert rows["Help desk"][:3] == ["2", "4.50", "100 %"]
    assert rows["Network experts"][:3] == ["1", "2.00", "0 %"]
    assert rows["Fay Fixer"][:3] == ["2", "4.50", "100 %"]
    # ratings 1..5, then resolved (the unrated TIC-00001 too), rated and the response rate
    assert rows["Fay Fixer"][3:] == ["0", "0", "0", "1", "1", "3", "2", "67 %"]
    assert rows["Network experts"][8:] == ["1", "1", "100 %"]
    assert "Otto &lt;script&gt;" in page.text
    assert XSS not in page.text
    assert "comment 2" in page.text
    requester = browser(world)
    sign_in(requester, world.requester)
    assert requester.get("/helpdesk/satisfaction").status_code == 403


def test_a_request_closed_by_self_help_is_not_rated(world: World, session: Session) -> None:
    session.add(
        SelfHelp(requester_id=world.requester.id, key="k1", work_item_id=world.resolved.id,
                 request_type="incident")
    )  # fmt: skip
    session.commit()
    client = browser(world)
    csrf = sign_in(client, world.requester)
    assert "How did we do?" not in client.get(f"/items/{world.resolved.id}").text
    reply = client.post(f"/survey/{world.resolved.id}", data={"csrf_token": csrf, "rating": "5"})
    assert reply.status_code == 409
    assert answers(world) == []
