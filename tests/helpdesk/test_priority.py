"""The impact x urgency matrix: its defaults, changing it, and its admin page (admins only)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.db import make_read_session_factory
from engine.model import Person
from plugins.helpdesk import plugin as helpdesk_plugin
from plugins.helpdesk.models import LEVELS3, PriorityRule
from plugins.helpdesk.priority import (
    DEFAULT_MATRIX,
    PriorityError,
    matrix,
    priority_for,
    save_matrix,
    seed_default,
)
from plugins.helpdesk.views_priority import field_name
from tests.web.conftest import MakeApp, make_app, sign_in  # noqa: F401 (fixture)

PAGE = "/helpdesk/admin/priority"


# ------------------------------------------------------------------ matrix ---


def test_the_default_matrix_covers_every_cell_and_p1_needs_both_high() -> None:
    assert set(DEFAULT_MATRIX) == {(i, u) for i in LEVELS3 for u in LEVELS3}
    assert [cell for cell, p in DEFAULT_MATRIX.items() if p == 1] == [("high", "high")]
    assert DEFAULT_MATRIX[("low", "low")] == 4


def test_without_rows_the_defaults_apply_and_rows_override_them(session: Session) -> None:
    assert priority_for(session, "high", "medium") == 2
    session.add(PriorityRule(impact="high", urgency="medium", priority=1))
    session.flush()
    assert priority_for(session, "high", "medium") == 1
    assert priority_for(session, " HIGH ", "medium") == 1  # as a form or template may give it
    assert matrix(session) == DEFAULT_MATRIX | {("high", "medium"): 1}


@pytest.mark.parametrize(
    ("impact", "urgency", "words"),
    [
        ("huge", "high", "impact must be one of high, medium, low; got 'huge'"),
        ("high", None, "urgency must be one of high, medium, low; got None"),
        ("high", 3, "urgency must be one of"),
        ("", "low", "impact must be one of"),
    ],
)
def test_unknown_levels_are_refused_with_the_choices(
    session: Session, impact: object, urgency: object, words: str
) -> None:
    with pytest.raises(PriorityError, match=re.escape(words)):
        priority_for(session, impact, urgency)


def test_saving_checks_every_cell_first_and_counts_changes(session: Session) -> None:
    seed_default(session)
    with pytest.raises(PriorityError, match=re.escape("1 (most urgent) to 4; got 5")):
        save_matrix(session, {("high", "high"): 2, ("low", "low"): 5})
    assert matrix(session) == DEFAULT_MATRIX  # the good cell before the bad one was not written
    assert save_matrix(session, {("high", "high"): 2, ("low", "low"): "3"}) == 2
    assert save_matrix(session, {("high", "high"): 2}) == 0
    assert priority_for(session, "low", "low") == 3


def test_seeding_fills_missing_cells_and_keeps_changed_ones(session: Session) -> None:
    session.add(PriorityRule(impact="low", urgency="low", priority=2))
    session.flush()
    seed_default(session)
    seed_default(session)
    assert len(session.scalars(select(PriorityRule)).all()) == 9
    assert priority_for(session, "low", "low") == 2


# -------------------------------------------------------------------- page ---


@pytest.fixture
def app(session: Session, make_app: MakeApp, make_person) -> tuple[Starlette, Person, Person]:  # noqa: F811
    admin = make_person(name="Ada Admin", roles={"admin"})
    agent = make_person(name="Al Agent", roles={"agent"})
    session.commit()
    return make_app(("helpdesk", helpdesk_plugin)), admin, agent


def cells(app: Starlette) -> dict[tuple[str, str], int]:
    with make_read_session_factory(app.state.db)() as db:
        return matrix(db)


def selected(page: str, field: str) -> str:
    found = re.search(rf'<select id="{field}".*?</select>', page, re.S)
    assert found, f"no select {field}"
    chosen = re.findall(r'<option value="(\d)" selected>', found.group(0))
    return chosen[0] if chosen else ""


def form(**changes: str) -> dict[str, str]:
    values = {field_name(i, u): str(p) for (i, u), p in DEFAULT_MATRIX.items()}
    return values | changes


def test_the_page_shows_every_cell_with_its_priority(app) -> None:
    web, admin, _ = app
    with TestClient(web, follow_redirects=False) as client:
        sign_in(client, admin)
        page = client.get(PAGE)
    assert page.status_code == 200
    assert "<h1>Priorities</h1>" in page.text
    for (impact, urgency), priority in DEFAULT_MATRIX.items():
        assert selected(page.text, field_name(impact, urgency)) == str(priority)
    assert 'aria-label="Priority for high impact and low urgency"' in page.text
    assert f'<a href="{PAGE}" aria-current="page">Priorities</a>' in page.text  # navigation


def test_an_admin_saves_the_matrix_and_new_priorities_apply(app) -> None:
    web, admin, _ = app
    with TestClient(web, follow_redirects=False) as client:
        token = sign_in(client, admin)
        reply = client.post(
            PAGE, data=form(**{"csrf_token": token, field_name("high", "medium"): "1"})
        )
        assert reply.status_code == 303
        assert reply.headers["location"] == f"{PAGE}?done=saved"
        page = client.get(reply.headers["location"])
    assert "The priority matrix was saved" in page.text
    assert selected(page.text, field_name("high", "medium")) == "1"
    assert cells(web) == DEFAULT_MATRIX | {("high", "medium"): 1}


@pytest.mark.parametrize(
    "bad", ["0", "5", "", "one", "1; DROP TABLE x", "\uff11", "2" * 5000, "\x00"]
)
def test_a_bad_cell_is_422_with_the_input_kept_and_nothing_saved(app, bad: str) -> None:
    web, admin, _ = app
    with TestClient(web, follow_redirects=False) as client:
        token = sign_in(client, admin)
        changes = {
            "csrf_token": token,
            field_name("low", "low"): bad,
            field_name("high", "high"): "2",
        }
        reply = client.post(PAGE, data=form(**changes))
    assert reply.status_code == 422
    assert "Nothing was saved" in reply.text
    assert 'href="#impact-low-urgency-low"' in reply.text
    assert "Low impact, low urgency: choose a priority from 1 (critical) to 4 (low)" in reply.text
    assert 'aria-describedby="impact-low-urgency-low-error"' in reply.text
    assert selected(reply.text, field_name("high", "high")) == "2"  # what was posted is kept
    assert cells(web) == DEFAULT_MATRIX


def test_a_missing_cell_is_an_error_too(app) -> None:
    web, admin, _ = app
    values = form()
    del values[field_name("medium", "high")]
    with TestClient(web, follow_redirects=False) as client:
        values["csrf_token"] = sign_in(client, admin)
        reply = client.post(PAGE, data=values)
    assert reply.status_code == 422
    assert "Medium impact, high urgency" in reply.text


def test_agents_may_not_see_or_change_it(app) -> None:
    web, _, agent = app
    with TestClient(web, follow_redirects=False) as client:
        token = sign_in(client, agent)
        assert client.get(PAGE).status_code == 403
        reply = client.post(PAGE, data=form(**{"csrf_token": token, field_name("low", "low"): "1"}))
        assert reply.status_code == 403
    assert cells(web) == DEFAULT_MATRIX
