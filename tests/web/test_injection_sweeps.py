"""Sweeps over every page: script payloads come back escaped, SQL strings are only text.

The world of the authorization matrix is given hostile text in every field a
person can write (names, titles, descriptions, custom fields, comments, task
titles, knowledge-base articles); then every GET route of the app is fetched as
each kind of viewer, plainly and with hostile values in every query parameter a
page reads. No response may carry a payload unescaped, answer 500, or change the
database; and a requester's filtered list never shows someone else's request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.model import Comment, Event
from engine.web.access import route_policies
from plugins.helpdesk.kb.models import Article
from tests.web.conftest import sign_in
from tests.web.everyone import World, fill, snapshot

SCRIPT = "<script>alert('xss')</script>"
ATTRIBUTE = "\"'><img src=x onerror=alert(1)>"
PAYLOADS = (SCRIPT, ATTRIBUTE)
RAW = ("<script>alert(", "<img src=x onerror")
"""What must never appear in a page: the payloads' markup, unescaped."""

SQL = (
    "' OR '1'='1",
    "1; DROP TABLE task; --",
    "%' UNION SELECT email, password_hash FROM person --",
    "\\'; DELETE FROM work_item; --",
    "desc, (SELECT 1)",
    "x\x00y",
)
PARAMS = (
    "q", "view", "team", "sort", "status", "assignee", "after", "next", "filter",
    "unassigned", "overdue", "version", "role", "page", "done", "claimed", "submitted",
)  # fmt: skip
"""Query parameters the pages read (and some they do not), each given hostile values."""

VIEWERS = ("requester", "agent", "manager", "admin")


@pytest.fixture
def hostile(session: Session, everyone: World) -> World:
    """Everyone's world with payloads in every free-text field (committed)."""
    world = everyone
    for n, person in enumerate(world.people.values()):
        person.name = f"{PAYLOADS[n % 2]} {person.name}"
    for team in world.teams.values():
        team.name = f"{SCRIPT} {team.name}"
        team.description = ATTRIBUTE
    for variant, item in world.items.items():
        item.title = f"{SCRIPT} {variant}"
        item.description = ATTRIBUTE
        item.custom = {"summary": SCRIPT, "details": ATTRIBUTE, ATTRIBUTE: SCRIPT}
        for public in (True, False):
            session.add(
                Comment(work_item_id=item.id, author_id=item.requester_id, body=SCRIPT,
                        public=public)
            )  # fmt: skip
        session.add(
            Event(work_item_id=item.id, type=SCRIPT, data={"reason": ATTRIBUTE, SCRIPT: SCRIPT})
        )
    for task in world.tasks.values():
        task.title = SCRIPT
        task.data = {"diagnosis": ATTRIBUTE}
    for article in session.scalars(select(Article)):  # Markdown, rendered and sanitised
        article.title = f"{SCRIPT} article"
        article.body = f"{SCRIPT}\n\n{ATTRIBUTE}\n\n[link](javascript:alert(1))"
    session.commit()
    return world


def page_routes(app: Starlette) -> list[str]:
    """Every GET route that answers HTML (not the API, static files or health)."""
    return sorted(
        path
        for path, method in route_policies(app)
        if method == "GET" and not path.startswith(("/api/", "/static", "/healthz"))
    )


@pytest.fixture
def clients(full_app: Starlette, hostile: World) -> Iterator[dict[str, TestClient]]:
    """A signed-in client per viewer."""
    made = {}
    for viewer in VIEWERS:
        client = TestClient(full_app, raise_server_exceptions=False, follow_redirects=False)
        client.__enter__()
        sign_in(client, hostile.people[viewer])
        made[viewer] = client
    yield made
    for client in made.values():
        client.__exit__(None, None, None)


def fetch(client: TestClient, path: str, query: dict[str, str] | None = None) -> Any:
    reply = client.get(path + ("?" + urlencode(query) if query else ""))
    assert reply.status_code != 500, f"GET {path} {query or ''} answered 500"
    return reply


def assert_escaped(reply: Any, where: str) -> None:
    for raw in RAW:
        assert raw not in reply.text, f"{where}: {raw!r} came back unescaped"


def test_every_page_escapes_stored_payloads(
    full_app: Starlette, hostile: World, clients: dict[str, TestClient]
) -> None:
    seen = 0
    for path in page_routes(full_app):
        for variant in ("own", "other"):
            target = fill(path, hostile, variant)
            for viewer, client in clients.items():
                reply = fetch(client, target)
                assert_escaped(reply, f"GET {target} as {viewer}")
                seen += reply.status_code == 200 and "&lt;script&gt;alert(" in reply.text
    assert seen, "no page showed any of the stored text: the sweep looked at nothing"


def test_every_page_escapes_payloads_in_its_query(
    full_app: Starlette, hostile: World, clients: dict[str, TestClient]
) -> None:
    for path in page_routes(full_app):
        target = fill(path, hostile, "own")
        for payload in PAYLOADS:
            reply = fetch(clients["admin"], target, dict.fromkeys(PARAMS, payload))
            assert_escaped(reply, f"GET {target} with {payload!r} in every parameter")


def test_sql_in_every_query_parameter_is_only_text(
    full_app: Starlette, hostile: World, clients: dict[str, TestClient]
) -> None:
    before = snapshot(full_app)
    for path in page_routes(full_app):
        target = fill(path, hostile, "own")
        for text in SQL:
            for viewer in ("requester", "agent", "admin"):
                reply = fetch(clients[viewer], target, dict.fromkeys(PARAMS, text))
                if viewer == "requester":
                    assert "TIC-other" not in reply.text, (
                        f"GET {target} with {text!r} showed the requester someone else's item"
                    )
    assert snapshot(full_app) == before
