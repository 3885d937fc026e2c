"""``tierflow users``: add, list, disable, passwords, tokens; a refused command changes nothing."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta

import click.termui
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from engine.db import make_read_session_factory, make_session_factory
from engine.model import ApiToken, Person, Team, WebSession
from engine.model.auth import PASSWORDS, digest, start_session
from engine.web.auth import Authenticator, Lifetimes
from tests.conftest import Tierflow

PASSWORD = "correct horse battery"


@pytest.fixture
def users(
    tierflow: Tierflow, db_engine: Engine, monkeypatch: pytest.MonkeyPatch, fast_passwords
) -> Callable[..., object]:
    """``users(*args, stdin="")`` runs ``tierflow users ARGS`` on the test database."""
    url = db_engine.url.render_as_string(hide_password=False)

    def run(*args: str, stdin: str = ""):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return tierflow("users", *args, database_url=url)

    return run


@pytest.fixture
def teams(session: Session, make_team) -> None:
    make_team(slug="helpdesk-l1", name="Help desk")
    make_team(slug="network-l3", name="Network")
    session.commit()


def people(db_engine: Engine) -> list[Person]:
    with make_read_session_factory(db_engine)() as db:
        found = db.scalars(select(Person).order_by(Person.email)).all()
        for person in found:
            _ = person.role_names, [m.team_id for m in person.memberships]
        return list(found)


def count(db_engine: Engine, model: type) -> int:
    with make_read_session_factory(db_engine)() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def add_ann(users, *extra: str):
    return users(
        "add",
        "Ann@Example.org",
        "--name",
        "Ann Agent",
        "--role",
        "agent",
        "--role",
        "manager",
        "--level",
        "L1",
        "--team",
        "helpdesk-l1",
        "--password-stdin",
        *extra,
        stdin=f"{PASSWORD}\n",
    )


def test_add_then_list(users, db_engine: Engine, teams) -> None:
    added = add_ann(users)
    requester = users("add", "bob@example.org", "--name", "Bob", "--password-stdin", stdin=PASSWORD)
    listed = users("list")

    assert added.rc == 0, added.err
    assert added.out == "Added Ann Agent <ann@example.org> as agent, manager in helpdesk-l1.\n"
    assert requester.out == "Added Bob <bob@example.org> as requester.\n"
    ann, bob = people(db_engine)
    assert (ann.email, ann.level) == ("ann@example.org", "L1")
    assert (ann.is_staff, bob.is_staff) == (True, False)
    assert ann.role_names == {"agent", "manager"}
    assert PASSWORDS.verify(ann.password_hash, PASSWORD)
    assert listed.out.splitlines() == [
        "EMAIL            NAME       ROLES          LEVEL  TEAMS        STATUS",
        "ann@example.org  Ann Agent  agent,manager  L1     helpdesk-l1  active",
        "bob@example.org  Bob        requester      -      -            active",
    ]


def test_the_password_can_be_typed_at_the_prompt(
    users, db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(click.termui, "hidden_prompt_func", lambda _prompt: PASSWORD)
    assert users("add", "cy@example.org", "--name", "Cy").rc == 0
    (cy,) = people(db_engine)
    assert PASSWORDS.verify(cy.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("args", "stdin", "rc", "message"),
    [
        (
            ("--role", "agnt"),
            PASSWORD,
            2,
            "'agnt' is not one of 'requester', 'agent', 'project_manager', 'manager', 'admin'",
        ),
        (
            ("--team", "helpdesk-l2"),
            PASSWORD,
            1,
            "unknown team 'helpdesk-l2' (did you mean 'helpdesk-l1'?); "
            "known teams: helpdesk-l1, network-l3",
        ),
        ((), "short", 1, "the password is 5 characters long; use at least 8"),
        (("--level", "L4"), PASSWORD, 2, "'L4' is not one of 'L1', 'L2', 'L3'"),
    ],
    ids=["role", "team", "password", "level"],
)
def test_refused_adds_say_why_and_add_nobody(
    users, db_engine: Engine, teams, *, args: tuple[str, ...], stdin: str, rc: int, message: str
) -> None:
    reply = users("add", "x@example.org", "--name", "X", "--password-stdin", *args, stdin=stdin)

    assert reply.rc == rc
    assert message in reply.err
    assert count(db_engine, Person) == 0


def test_an_email_cannot_be_added_twice(users, db_engine: Engine, teams) -> None:
    add_ann(users)
    again = users("add", "ann@example.org", "--name", "Other", "--password-stdin", stdin=PASSWORD)

    assert again.rc == 1
    assert again.err == (
        "tierflow: error: ann@example.org exists already; "
        "set their password with 'tierflow users password ann@example.org'\n"
    )
    assert [person.name for person in people(db_engine)] == ["Ann Agent"]


def test_not_an_email(users, db_engine: Engine) -> None:
    reply = users("add", "ann", "--name", "Ann", "--password-stdin", stdin=PASSWORD)
    assert reply.rc == 1
    assert "'ann' is not an e-mail address" in reply.err


def sessions(db_engine: Engine, person_id: int, n: int) -> list[str]:
    with make_session_factory(db_engine).begin() as db:
        return [start_session(db, person_id) for _ in range(n)]


def test_disable_ends_sessions_and_stops_tokens(users, db_engine: Engine, teams) -> None:
    add_ann(users)
    (ann,) = people(db_engine)
    started = sessions(db_engine, ann.id, 2)
    token = users("token", "ann@example.org", "--name", "ci").out.strip()

    reply = users("disable", "ANN@example.org")

    assert (reply.rc, reply.out) == (0, "Disabled ann@example.org; ended 2 session(s).\n")
    assert count(db_engine, WebSession) == 0
    authenticator = Authenticator(db_engine, Lifetimes(timedelta(hours=1), timedelta(days=1)))
    assert authenticator.from_session(started[0]).is_anonymous
    assert authenticator.from_token(token).is_anonymous
    assert users("list").out.splitlines()[1].endswith("disabled")

    assert users("enable", "ann@example.org").rc == 0
    assert authenticator.from_token(token).name == "Ann Agent"


def test_password_sets_a_new_one_and_ends_sessions(users, db_engine: Engine, teams) -> None:
    add_ann(users)
    (ann,) = people(db_engine)
    sessions(db_engine, ann.id, 1)

    reply = users("password", "ann@example.org", "--password-stdin", stdin="a new passphrase\n")

    assert reply.rc == 0
    assert reply.out == "Set the password of ann@example.org; ended 1 session(s).\n"
    (ann,) = people(db_engine)
    assert PASSWORDS.verify(ann.password_hash, "a new passphrase")
    assert count(db_engine, WebSession) == 0


def test_token_is_printed_once_and_stored_hashed(users, db_engine: Engine, teams) -> None:
    add_ann(users)

    reply = users("token", "ann@example.org", "--name", "monitoring")

    assert reply.rc == 0
    token = reply.out.strip()
    assert token.startswith("tf_")
    assert "not shown again" in reply.err
    with make_read_session_factory(db_engine)() as db:
        stored = db.scalars(select(ApiToken)).one()
    assert (stored.name, stored.token_hash) == ("monitoring", digest(token))


@pytest.mark.parametrize("command", ["disable", "enable", "password", "token"])
def test_an_unknown_person_is_named_with_a_suggestion(
    users, db_engine: Engine, teams, command: str
) -> None:
    add_ann(users)
    extra = {"token": ["--name", "x"], "password": ["--password-stdin"]}.get(command, [])

    reply = users(command, "anne@example.org", *extra, stdin=PASSWORD)

    assert reply.rc == 1
    assert reply.err == (
        "tierflow: error: nobody has the e-mail 'anne@example.org' "
        "(did you mean 'ann@example.org'?); 'tierflow users list' shows everyone\n"
    )
    assert count(db_engine, ApiToken) == 0


def test_list_on_a_fresh_install(tierflow: Tierflow) -> None:
    reply = tierflow("users", "list")
    assert (reply.rc, reply.out) == (
        0,
        "Nobody has been added yet; add someone with 'tierflow users add'.\n",
    )


def test_no_team_needed_and_none_known(users, db_engine: Engine) -> None:
    reply = add_ann(users)
    assert reply.rc == 1
    assert "unknown team 'helpdesk-l1'; known teams: none yet" in reply.err
    assert count(db_engine, Team) == 0
