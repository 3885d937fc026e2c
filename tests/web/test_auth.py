"""Signing in and out, sessions and their limits, API tokens, and who may reach which route."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, Router
from starlette.testclient import TestClient

from engine.config import secret_key
from engine.contrib import NavItem
from engine.db import make_read_session_factory
from engine.demo import DEMO_PASSWORD, load_demo_data
from engine.hookspecs import hookimpl
from engine.model import ApiToken, Membership, Person, Task, WebSession, WorkItem, utcnow
from engine.model.auth import digest, hash_password, issue_token
from engine.plugins import create_plugin_manager
from engine.web.access import (
    ANONYMOUS,
    Viewer,
    api,
    can_act_on_task,
    can_view_work_item,
    mount,
    page,
    route_policies,
    safe_next,
    undeclared_routes,
    viewer_of,
)
from engine.web.auth import SESSION_COOKIE, WRONG_CREDENTIALS
from engine.web.csrf import session_token
from tests.web.conftest import MakeApp, form_token, sign_in

PASSWORD = "correct horse battery"


async def whoami(request: Request) -> Response:
    viewer = viewer_of(request)
    return JSONResponse(
        {
            "name": viewer.name,
            "roles": sorted(viewer.roles),
            "level": viewer.level,
            "teams": sorted(viewer.team_ids),
        }
    )


def agents_page(request: Request) -> Response:  # a sync endpoint: run in a thread
    return PlainTextResponse(f"queue of {viewer_of(request).name}")


class Probe:
    """Routes with each kind of policy, an undeclared one, and role-limited navigation."""

    @hookimpl
    def tierflow_register_routes(self):
        return [
            page("/agents", agents_page, allow="agent"),
            page("/oversight", agents_page, allow=("manager", "project_manager")),
            api("/api/whoami", whoami, allow="signed_in"),
            api("/api/agents", whoami, allow="agent"),
            Route("/forgotten", agents_page),
            mount("/tools", Router([Route("/purge", agents_page)]), allow="admin"),
        ]

    @hookimpl
    def tierflow_register_navigation(self):
        return [
            NavItem("Everyone's", "/mine"),
            NavItem("Queue", "/agents", roles=frozenset({"agent"})),
            NavItem("Reports", "/reports", roles=frozenset({"manager"})),
        ]


@pytest.fixture
def app(make_app: MakeApp) -> Starlette:
    return make_app(("probe", Probe()))


@pytest.fixture
def person(session: Session, make_person, make_team, fast_passwords) -> Person:
    """Ann, an L2 agent and project manager in two teams, with password ``PASSWORD`` (committed)."""
    ann = make_person(
        email="ann@example.org",
        name="Ann Agent",
        level="L2",
        roles={"agent", "project_manager"},
        password_hash=hash_password(PASSWORD),
    )
    session.add_all(Membership(team_id=make_team().id, person_id=ann.id) for _ in range(2))
    session.commit()
    return ann


def submit_sign_in(client: TestClient, email: str, password: str, next_: str = "") -> Any:
    """Open the sign-in page and send its form, as a browser does."""
    form = client.get("/sign-in", params={"next": next_} if next_ else None)
    assert form.status_code == 200
    fields = {"csrf_token": form_token(form.text), "email": email, "password": password}
    return client.post("/sign-in", data=fields | {"next": next_})


def in_db(app: Starlette, query: Any) -> Any:
    """The first value ``query`` finds, read without taking SQLite's write lock."""
    with make_read_session_factory(app.state.db)() as db:
        return db.scalar(query)


def sessions_of(app: Starlette, person: Person) -> int:
    return in_db(app, select(func.count()).select_from(WebSession).filter_by(person_id=person.id))


# ------------------------------------------------------------- signing in ---


def test_sign_in_starts_a_session_and_goes_on_to_next(
    client: TestClient, app: Starlette, person: Person
) -> None:
    reply = submit_sign_in(client, "ANN@example.org ", PASSWORD, next_="/agents")

    assert reply.status_code == 303
    assert reply.headers["location"] == "/agents"
    assert sessions_of(app, person) == 1
    assert client.get("/agents").text == "queue of Ann Agent"
    home = client.get("/")
    assert "Signed in as <strong>Ann Agent</strong>" in home.text
    assert 'action="/sign-out"' in home.text


@pytest.mark.parametrize(
    ("email", "password"), [("ann@example.org", "wrong password"), ("nobody@example.org", PASSWORD)]
)
def test_a_failed_sign_in_does_not_say_which_part_was_wrong(
    client: TestClient, app: Starlette, person: Person, email: str, password: str
) -> None:
    reply = submit_sign_in(client, email, password)

    assert reply.status_code == 400
    assert WRONG_CREDENTIALS in reply.text
    assert f'value="{email}"' in reply.text  # the e-mail is kept, the password is not
    assert password not in reply.text
    assert SESSION_COOKIE not in reply.cookies
    assert sessions_of(app, person) == 0


def test_sign_in_form_is_labelled(client: TestClient) -> None:
    html = client.get("/sign-in").text
    assert '<label for="email">E-mail</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'autocomplete="current-password"' in html


def test_a_new_session_id_at_every_sign_in(
    client: TestClient, app: Starlette, person: Person
) -> None:
    planted = "id-an-attacker-chose"
    client.cookies.set(SESSION_COOKIE, planted)
    assert client.get("/api/whoami").status_code == 401  # an unknown id signs nobody in

    first = submit_sign_in(client, person.email, PASSWORD).cookies[SESSION_COOKIE]
    assert first != planted
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, first)
    # signed in already, and signing in again: the session is replaced, not reused
    fields = {"email": person.email, "password": PASSWORD}
    token = session_token(secret_key(app.state.settings), first)
    second = client.post("/sign-in", data=fields | {"csrf_token": token}).cookies[SESSION_COOKIE]

    assert second != first
    assert in_db(app, select(WebSession.key).filter_by(key=digest(first))) is None
    assert sessions_of(app, person) == 1


def test_sign_in_rehashes_a_password_made_with_old_parameters(
    client: TestClient, app: Starlette, person: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_hash = person.password_hash
    stronger = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    monkeypatch.setattr("engine.model.auth.PASSWORDS", stronger)

    assert submit_sign_in(client, person.email, PASSWORD).status_code == 303

    new_hash = in_db(app, select(Person.password_hash).filter_by(id=person.id))
    assert new_hash != old_hash
    assert not stronger.check_needs_rehash(new_hash)
    assert stronger.verify(new_hash, PASSWORD)


def test_a_disabled_person_cannot_sign_in(
    client: TestClient, session: Session, person: Person
) -> None:
    person.active = False
    session.commit()

    reply = submit_sign_in(client, person.email, PASSWORD)

    assert reply.status_code == 400
    assert "disabled" in reply.text
    assert SESSION_COOKIE not in reply.cookies


def test_demo_people_sign_in_with_the_demo_password(
    client: TestClient, app: Starlette, db_engine
) -> None:
    load_demo_data(create_plugin_manager(), app.state.sessions)

    assert submit_sign_in(client, "hannah.lee@example.org", DEMO_PASSWORD).status_code == 303
    assert client.get("/api/whoami").json()["level"] == "L1"
    client.cookies.clear()
    assert submit_sign_in(client, "admin@example.org", DEMO_PASSWORD).status_code == 303
    assert client.get("/api/whoami").json()["roles"] == ["admin"]


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/\tevil",
        "evil.example",
        "/sign-in",
        "",
    ],
)
def test_next_never_leaves_the_site(target: str) -> None:
    assert safe_next(target) == "/"


def test_next_keeps_local_paths_with_their_query() -> None:
    assert safe_next("/inbox?team=3#top") == "/inbox?team=3#top"


def test_sign_in_refuses_to_redirect_off_site(client: TestClient, person: Person) -> None:
    form = client.get("/sign-in")
    reply = client.post(
        "/sign-in",
        data={
            "csrf_token": form_token(form.text),
            "email": person.email,
            "password": PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert reply.status_code == 303
    assert reply.headers["location"] == "/"
    signed_in = client.get("/sign-in", params={"next": "https://evil.example"})
    assert signed_in.headers["location"] == "/"


# ------------------------------------------------------ session lifetime ---


def test_sign_out_ends_the_session(client: TestClient, app: Starlette, person: Person) -> None:
    token = sign_in(client, person)
    cookie = client.cookies[SESSION_COOKIE]

    reply = client.post("/sign-out", data={"csrf_token": token})

    assert reply.status_code == 303
    assert 'tierflow_session=""' in reply.headers["set-cookie"]
    assert sessions_of(app, person) == 0
    client.cookies.set(SESSION_COOKIE, cookie)  # the old cookie, replayed
    assert client.get("/api/whoami").status_code == 401


def age_sessions(app: Starlette, **ago: timedelta) -> None:
    now = utcnow()
    with app.state.sessions.begin() as db:
        db.execute(update(WebSession).values({column: now - d for column, d in ago.items()}))


@pytest.mark.parametrize(
    ("ago", "signed_in"),
    [
        ({"last_seen_at": timedelta(hours=7, minutes=59)}, True),
        ({"last_seen_at": timedelta(hours=8, minutes=1)}, False),
        ({"created_at": timedelta(days=6, hours=23)}, True),
        ({"created_at": timedelta(days=7, minutes=1)}, False),
    ],
    ids=["idle-within", "idle-past", "absolute-within", "absolute-past"],
)
def test_sessions_end_after_the_idle_and_absolute_timeouts(
    client: TestClient, app: Starlette, person: Person, ago: dict, signed_in: bool
) -> None:
    sign_in(client, person)
    age_sessions(app, **ago)

    reply = client.get("/agents")

    assert (reply.status_code == 200) is signed_in
    assert sessions_of(app, person) == int(signed_in)
    if not signed_in:
        assert reply.headers["location"] == "/sign-in?next=%2Fagents"


def test_timeouts_come_from_the_settings(make_app: MakeApp, person: Person) -> None:
    app = make_app(("probe", Probe()), session_idle_minutes=5)
    with TestClient(app, follow_redirects=False) as client:
        sign_in(client, person)
        age_sessions(app, last_seen_at=timedelta(minutes=6))
        assert client.get("/api/whoami").status_code == 401


def test_last_seen_is_written_at_most_once_a_minute(
    client: TestClient, app: Starlette, person: Person
) -> None:
    sign_in(client, person)
    age_sessions(app, last_seen_at=timedelta(seconds=30))
    before = in_db(app, select(WebSession.last_seen_at))
    client.get("/agents")
    assert in_db(app, select(WebSession.last_seen_at)) == before

    age_sessions(app, last_seen_at=timedelta(minutes=2))
    client.get("/agents")
    assert utcnow() - in_db(app, select(WebSession.last_seen_at)) < timedelta(seconds=10)


def test_disabling_a_person_ends_their_session(
    client: TestClient, app: Starlette, person: Person
) -> None:
    sign_in(client, person)
    assert client.get("/agents").status_code == 200
    with app.state.sessions.begin() as db:
        db.execute(update(Person).filter_by(id=person.id).values(active=False))

    assert client.get("/agents").status_code == 303
    assert sessions_of(app, person) == 0


def cookie_flags(reply: Any, name: str) -> set[str]:
    """The attributes of the cookie ``name`` that ``reply`` sets, lower-cased."""
    (cookie,) = [c for c in reply.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    return {part.strip().lower() for part in cookie.split(";")[1:]}


@pytest.mark.parametrize(
    ("base_url", "settings", "secure"),
    [
        ("http://testserver", {}, False),
        ("https://testserver", {}, True),
        ("http://testserver", {"secure_cookies": True}, True),  # behind a TLS proxy
    ],
)
def test_cookie_flags(
    make_app: MakeApp, person: Person, base_url: str, settings: dict, secure: bool
) -> None:
    app = make_app(**settings)
    with TestClient(app, base_url=base_url, follow_redirects=False) as client:
        form = client.get("/sign-in")
        client.cookies.set("tierflow_csrf", form.cookies["tierflow_csrf"])  # kept even if Secure
        fields = {"csrf_token": form_token(form.text), "email": person.email}
        reply = client.post("/sign-in", data=fields | {"password": PASSWORD})

    assert reply.status_code == 303
    for flags in (cookie_flags(form, "tierflow_csrf"), cookie_flags(reply, SESSION_COOKIE)):
        assert {"httponly", "samesite=lax", "path=/"} <= flags
        assert ("secure" in flags) is secure


# ------------------------------------------------------------ API tokens ---


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_api_token_acts_as_its_person(
    client: TestClient, app: Starlette, session: Session, person: Person
) -> None:
    token = issue_token(session, person.id, "laptop")
    teams = sorted(m.team_id for m in person.memberships)
    session.commit()

    reply = client.get("/api/whoami", headers=bearer(token))

    assert reply.status_code == 200
    assert reply.json() == {
        "name": "Ann Agent",
        "roles": ["agent", "project_manager"],
        "level": "L2",
        "teams": teams,
    }
    assert token.startswith("tf_")
    stored = in_db(app, select(ApiToken).filter_by(person_id=person.id))
    assert stored.token_hash == digest(token) != token
    assert stored.last_used_at is not None


@pytest.mark.parametrize("case", ["revoked", "wrong", "empty", "disabled"])
def test_refused_api_tokens_get_401(
    client: TestClient, session: Session, person: Person, case: str
) -> None:
    token = issue_token(session, person.id, "laptop")
    if case == "revoked":
        session.execute(update(ApiToken).values(revoked=True))
    if case == "disabled":
        person.active = False
    session.commit()
    sent = {"wrong": token + "x", "empty": ""}.get(case, token)

    reply = client.get("/api/whoami", headers=bearer(sent))

    assert reply.status_code == 401
    assert "not accepted" in reply.json()["error"]
    assert reply.headers["www-authenticate"].startswith("Bearer")


# ------------------------------------------------------------- policies ---


@pytest.mark.parametrize(
    ("roles", "page_status", "api_status"),
    [
        (None, 303, 401),
        ({"requester"}, 403, 403),
        ({"agent"}, 200, 200),
        ({"admin"}, 200, 200),
    ],
)
def test_pages_redirect_or_403_and_the_api_answers_401_or_403(
    client: TestClient,
    *,
    session: Session,
    make_person: Callable[..., Person],
    roles: set[str] | None,
    page_status: int,
    api_status: int,
) -> None:
    if roles is not None:
        someone = make_person(name="Rita Requester", roles=roles)
        session.commit()
        sign_in(client, someone)

    shown = client.get("/agents", headers={"accept": "text/html"})
    answered = client.get("/api/agents")

    assert (shown.status_code, answered.status_code) == (page_status, api_status)
    if page_status == 303:
        assert shown.headers["location"] == "/sign-in?next=%2Fagents"
        assert answered.json()["error"].startswith("Sign in, or send a personal API token")
    if page_status == 403:
        assert "text/html" in shown.headers["content-type"]
        assert "this page is for agents only" in shown.text
        assert answered.json() == {
            "error": "You are signed in as Rita Requester, but this endpoint is for agents "
            "only. Ask an administrator if you need access.",
            "status": 403,
        }


def test_a_mount_guards_everything_inside_it(
    client: TestClient, session: Session, make_person: Callable[..., Person]
) -> None:
    agent, admin = make_person(roles={"agent"}), make_person(name="Ada", roles={"admin"})
    session.commit()

    assert client.get("/tools/purge").headers["location"] == "/sign-in?next=%2Ftools%2Fpurge"
    sign_in(client, agent)
    assert client.get("/tools/purge").status_code == 403
    client.cookies.clear()
    sign_in(client, admin)
    assert client.get("/tools/purge").text == "queue of Ada"


def test_a_tuple_lets_in_any_of_its_policies(
    client: TestClient, session: Session, make_person: Callable[..., Person]
) -> None:
    manager, agent = make_person(roles={"project_manager"}), make_person(roles={"agent"})
    session.commit()
    sign_in(client, manager)
    assert client.get("/oversight").status_code == 200
    client.cookies.clear()
    sign_in(client, agent)
    assert client.get("/oversight").status_code == 403


def test_after_signing_in_the_redirect_comes_back_with_the_query(
    client: TestClient, person: Person
) -> None:
    sent = client.get("/agents?team=3")
    assert parse_qs(urlsplit(sent.headers["location"]).query) == {"next": ["/agents?team=3"]}
    reply = submit_sign_in(client, person.email, PASSWORD, next_="/agents?team=3")
    assert reply.headers["location"] == "/agents?team=3"


def test_every_route_has_a_policy_but_the_undeclared_one(app: Starlette) -> None:
    policies = route_policies(app)

    assert policies[("/", "GET")] == ("public",)
    assert policies[("/sign-in", "POST")] == ("public",)
    assert policies[("/agents", "GET")] == ("agent",)
    assert policies[("/oversight", "HEAD")] == ("manager", "project_manager")
    assert policies[("/api/whoami", "GET")] == ("signed_in",)
    assert policies[("/static", "*")] == ("public",)
    assert policies[("/tools/purge", "GET")] == ("admin",)  # inherited from the mount
    assert undeclared_routes(app) == [("/forgotten", "GET"), ("/forgotten", "HEAD")]


def test_an_unknown_policy_is_refused_where_the_route_is_declared() -> None:
    with pytest.raises(ValueError, match=r"page /x: unknown access policy 'agnet'; allow= takes"):
        page("/x", whoami, allow=("agnet",))


def test_navigation_shows_what_the_viewer_may_see(
    client: TestClient, session: Session, make_person: Callable[..., Person]
) -> None:
    assert "Everyone" not in client.get("/").text
    agent = make_person(roles={"agent"})
    session.commit()
    sign_in(client, agent)

    html = client.get("/").text

    assert ">Everyone&#39;s<" in html
    assert ">Queue<" in html
    assert ">Reports<" not in html


# ------------------------------------------------------- object-level rules ---


def viewer(person_id: int = 7, roles: set[str] = frozenset(), teams: set[int] = frozenset()):
    return Viewer(person_id, "V", "v@example.org", frozenset(roles), None, frozenset(teams))


@pytest.mark.parametrize(
    ("who", "item", "visible"),
    [
        (ANONYMOUS, {"requester_id": None}, False),
        (viewer(), {"requester_id": 7}, True),
        (viewer(), {"requester_id": 8}, False),
        (viewer(roles={"requester"}, teams={1}), {"current_team_id": 1}, False),
        (viewer(roles={"agent"}, teams={1}), {"current_team_id": 1}, True),
        (viewer(roles={"agent"}, teams={1}), {"owner_team_id": 1, "current_team_id": 2}, True),
        (viewer(roles={"agent"}, teams={1}), {"current_team_id": 2}, False),
        (viewer(roles={"agent"}), {"assignee_id": 7}, True),
        # worked on it before: a task of theirs or their team's, since handed back
        (viewer(roles={"agent"}), {"current_team_id": 1, "tasks": [Task(assignee_id=7)]}, True),
        (
            viewer(roles={"agent"}, teams={2}),
            {"current_team_id": 1, "tasks": [Task(team_id=2)]},
            True,
        ),
        (
            viewer(roles={"agent"}, teams={3}),
            {"current_team_id": 1, "tasks": [Task(team_id=2)]},
            False,
        ),
        # a task given to them by name, or to a role they hold: they may work it, so see it
        (
            viewer(roles={"requester"}),
            {"current_team_id": 1, "tasks": [Task(assignee_id=7)]},
            True,
        ),
        (viewer(roles={"project_manager"}), {"tasks": [Task(role="project_manager")]}, True),
        (viewer(roles={"requester"}), {"tasks": [Task(role="manager")]}, False),
        (viewer(roles={"agent"}, teams={1}), {"tasks": [Task(role="agent", team_id=2)]}, False),
        (viewer(roles={"manager"}), {"requester_id": 8}, True),
        (viewer(roles={"admin"}), {"requester_id": 8}, True),
    ],
)
def test_who_may_see_a_work_item(who: Viewer, item: dict, visible: bool) -> None:
    assert can_view_work_item(who, WorkItem(**item)) is visible


@pytest.mark.parametrize(
    ("who", "task", "allowed"),
    [
        (ANONYMOUS, {"team_id": None}, False),
        (viewer(roles={"agent"}, teams={1}), {"team_id": 1}, True),
        (viewer(roles={"agent"}, teams={1}), {"team_id": 2}, False),
        (viewer(roles={"agent"}), {"team_id": 2, "assignee_id": 7}, True),
        (viewer(roles={"manager"}), {"team_id": 2}, False),
        (viewer(roles={"admin"}), {"team_id": 2}, True),
        # a task for a role: whoever holds it, while nobody has been given the task
        (viewer(roles={"manager"}), {"role": "manager"}, True),
        (viewer(roles={"agent"}, teams={1}), {"role": "manager"}, False),
        (viewer(roles={"manager"}), {"role": "manager", "assignee_id": 8}, False),
        (viewer(roles={"admin"}), {"role": "manager"}, True),
    ],
)
def test_who_may_act_on_a_task(who: Viewer, task: dict, allowed: bool) -> None:
    assert can_act_on_task(who, Task(**task)) is allowed


def test_viewer_properties() -> None:
    admin = viewer(roles={"admin", "agent"})
    assert ANONYMOUS.is_anonymous
    assert not admin.is_anonymous
    assert (admin.is_admin, admin.is_agent, admin.has("agent")) == (True, True, True)
    assert not admin.has("manager")
