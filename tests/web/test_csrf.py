"""CSRF: forged or cross-site requests are refused before anything changes; real forms pass."""

from __future__ import annotations

import pytest
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient

from engine.db import make_read_session_factory
from engine.hookspecs import hookimpl
from engine.model import Person, Team
from engine.model.auth import hash_password, issue_token
from engine.web.access import api, page
from engine.web.auth import SESSION_COOKIE
from engine.web.csrf import CROSS_SITE, MISSING, PRE_SESSION_COOKIE, WRONG
from tests.web.conftest import MakeApp, form_token, sign_in

PASSWORD = "correct horse battery"


def _add(request: Request, slug: str) -> Response:
    with request.app.state.sessions.begin() as db:
        db.add(Team(slug=slug, name=slug.title()))
    return PlainTextResponse(f"added {slug}", status_code=201)


async def add_team(request: Request) -> Response:
    async with request.form() as form:
        return await run_in_threadpool(_add, request, str(form["slug"]))


async def add_team_from_json(request: Request) -> Response:
    body = await request.json()
    return await run_in_threadpool(_add, request, body["slug"])


class Writes:
    @hookimpl
    def tierflow_register_routes(self):
        return [
            page("/teams", add_team, allow="signed_in", methods=("POST",)),
            api("/api/teams", add_team_from_json, allow="signed_in", methods=("POST",)),
        ]


@pytest.fixture
def app(make_app: MakeApp) -> Starlette:
    return make_app(("writes", Writes()))


@pytest.fixture
def person(session: Session, make_person, fast_passwords) -> Person:
    ann = make_person(email="ann@example.org", name="Ann", password_hash=hash_password(PASSWORD))
    session.commit()
    return ann


def teams(app: Starlette) -> list[str]:
    with make_read_session_factory(app.state.db)() as db:
        return list(db.scalars(select(Team.slug).order_by(Team.slug)))


def test_a_form_with_its_token_goes_through(
    client: TestClient, app: Starlette, person: Person
) -> None:
    token = sign_in(client, person)
    home = client.get("/")
    assert form_token(home.text) == token  # the sign-out form in the header carries it

    reply = client.post("/teams", data={"csrf_token": token, "slug": "ops"})

    assert (reply.status_code, reply.text) == (201, "added ops")  # the body reached the endpoint
    assert teams(app) == ["ops"]


def test_multipart_forms_and_the_header_work_too(
    client: TestClient, app: Starlette, person: Person
) -> None:
    token = sign_in(client, person)

    as_multipart = client.post(
        "/teams",
        data={"csrf_token": token, "slug": "ops"},
        files={"attachment": ("notes.txt", b"hello", "text/plain")},
    )
    as_json = client.post("/api/teams", json={"slug": "net"}, headers={"X-CSRF-Token": token})

    assert (as_multipart.status_code, as_json.status_code) == (201, 201)
    assert teams(app) == ["net", "ops"]


@pytest.mark.parametrize(
    ("token", "headers", "message"),
    [
        (None, {}, MISSING),
        ("0" * 64, {}, WRONG),
        ("valid", {"Origin": "https://evil.example"}, CROSS_SITE),
        ("valid", {"Origin": "null"}, CROSS_SITE),
        ("valid", {"Sec-Fetch-Site": "cross-site"}, CROSS_SITE),
    ],
    ids=["missing", "wrong", "other-origin", "null-origin", "cross-site"],
)
def test_forged_requests_are_refused_and_change_nothing(
    client: TestClient,
    *,
    app: Starlette,
    person: Person,
    token: str | None,
    headers: dict[str, str],
    message: str,
) -> None:
    valid = sign_in(client, person)
    data = {"slug": "ops"} | ({"csrf_token": valid if token == "valid" else token} if token else {})

    reply = client.post("/teams", data=data, headers=headers | {"accept": "text/html"})

    assert reply.status_code == 403
    assert "text/html" in reply.headers["content-type"]
    assert str(escape(message)) in reply.text
    assert teams(app) == []


def test_the_same_origin_passes(client: TestClient, app: Starlette, person: Person) -> None:
    token = sign_in(client, person)
    headers = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    reply = client.post("/teams", data={"csrf_token": token, "slug": "ops"}, headers=headers)
    assert reply.status_code == 201


def test_another_sessions_token_is_refused(
    client: TestClient, app: Starlette, person: Person
) -> None:
    other = sign_in(client, person)
    sign_in(client, person)  # a second session: its cookie replaces the first

    reply = client.post("/api/teams", json={"slug": "ops"}, headers={"X-CSRF-Token": other})

    assert reply.status_code == 403
    assert reply.json() == {"error": WRONG, "status": 403}
    assert teams(app) == []


def test_bearer_requests_without_a_session_cookie_need_no_token(
    client: TestClient, app: Starlette, session: Session, person: Person
) -> None:
    token = issue_token(session, person.id, "ci")
    session.commit()
    auth = {"Authorization": f"Bearer {token}"}

    assert client.post("/api/teams", json={"slug": "ops"}, headers=auth).status_code == 201
    sign_in(client, person)  # with the session cookie as well, the CSRF token is needed again
    assert client.post("/api/teams", json={"slug": "net"}, headers=auth).status_code == 403
    assert teams(app) == ["ops"]


def test_anonymous_api_calls_get_401_not_a_csrf_refusal(client: TestClient) -> None:
    reply = client.post("/api/teams", json={"slug": "ops"})
    assert reply.status_code == 401


def test_sign_out_needs_the_token(client: TestClient, person: Person) -> None:
    sign_in(client, person)

    assert client.post("/sign-out").status_code == 403
    assert client.get("/").text.count("Signed in as") == 1


# ------------------------------------------------- the anonymous sign-in form ---


def test_the_sign_in_form_is_bound_to_a_pre_session_cookie(
    client: TestClient, person: Person
) -> None:
    form = client.get("/sign-in")
    token = form_token(form.text)
    assert PRE_SESSION_COOKIE in form.cookies
    assert form_token(client.get("/sign-in").text) == token  # the cookie is kept, not renewed
    fields = {"email": person.email, "password": PASSWORD}

    assert client.post("/sign-in", data=fields).status_code == 403
    assert client.post("/sign-in", data=fields | {"csrf_token": "0" * 64}).status_code == 403
    cross = client.post(
        "/sign-in",
        data=fields | {"csrf_token": token},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert SESSION_COOKIE not in cross.cookies

    signed_in = client.post("/sign-in", data=fields | {"csrf_token": token})
    assert signed_in.status_code == 303
    # once signed in, forms are bound to the session: the pre-session token no longer does
    assert client.post("/teams", data={"csrf_token": token, "slug": "x"}).status_code == 403


def test_sign_in_without_the_pre_session_cookie_is_refused(
    client: TestClient, app: Starlette, person: Person
) -> None:
    """No cookie at all: a login-CSRF attempt from a browser that sends no Origin header."""
    reply = client.post("/sign-in", data={"email": person.email, "password": PASSWORD})

    assert reply.status_code == 403
    assert "did not send back the sign-in page&#39;s cookie" in reply.text
    assert SESSION_COOKIE not in reply.cookies
    with make_read_session_factory(app.state.db)() as db:
        assert db.scalar(select(func.count()).select_from(Team)) == 0
