"""The authorization matrix: every route, every kind of viewer, own and someone else's objects.

Each route of the app (with every built-in plugin installed) is listed in
:data:`MATRIX` with who may use it; a route missing from the matrix, or listed
but gone, fails :func:`test_the_matrix_lists_every_route`. For each route the
test signs in each viewer in turn and asserts that the ones listed get through
and the others are refused: anonymous visitors are sent to sign in (pages) or
get 401 (API); signed-in people get 403, or 404 where an object's existence is
itself private. A refused request changes nothing in the database.

Getting through means the policy let the request reach its endpoint: what the
endpoint then answers (200, a redirect, 422 for an empty form, 409, or 503
because Temporal is not running in these tests) is the business of other tests;
only a server error (500) fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.web.access import route_policies
from tests.web.conftest import sign_in
from tests.web.everyone import World, fill, snapshot

VIEWERS = (
    "anonymous",
    "requester",
    "other_requester",
    "agent",
    "other_agent",
    "project_manager",
    "manager",
    "admin",
)
EVERYONE = frozenset(VIEWERS)
SIGNED_IN = EVERYONE - {"anonymous"}
AGENTS = frozenset({"agent", "other_agent", "admin"})
ADMINS = frozenset({"admin"})
# who may see item A (the requester's, worked by the agent's team) and item B (the others')
SEES_A = frozenset({"requester", "agent", "manager", "admin"})
SEES_B = frozenset({"other_requester", "other_agent", "manager", "admin"})
# who may act on task A (the agent's team's) and task B (the other agent's team's)
ACTS_A = frozenset({"agent", "admin"})
ACTS_B = frozenset({"other_agent", "admin"})
# who may send item A's and item B's run the help desk's signal requester_replied (who:
# requester): its requester only, not even an administrator (the signal speaks for them)
SENDS_A = frozenset({"requester"})
SENDS_B = frozenset({"other_requester"})
# who may act on item A's task for the manager role: whoever holds that role, and admins
ACTS_ROLE = frozenset({"manager", "admin"})
# who may withdraw item A and item B (open): its requester only ("Withdraw my request")
WITHDRAWS_A = frozenset({"requester"})
WITHDRAWS_B = frozenset({"other_requester"})


@dataclass(frozen=True)
class Case:
    """One way to call a route: which object (``own``: A, ``other``: B) and who gets through."""

    variant: str
    allowed: frozenset[str]


def same(allowed: frozenset[str]) -> tuple[Case, ...]:
    """A route without an object of its own: one case."""
    return (Case("own", allowed),)


def objects(own: frozenset[str], other: frozenset[str]) -> tuple[Case, ...]:
    """A route on an object: A (the requester's and the agent's own) and B (someone else's)."""
    return (Case("own", own), Case("other", other))


MATRIX: dict[tuple[str, str], tuple[Case, ...]] = {
    # the engine's own pages
    ("/", "GET"): same(EVERYONE),
    ("/healthz", "GET"): same(EVERYONE),
    ("/sign-in", "GET"): same(EVERYONE),
    ("/sign-in", "POST"): same(EVERYONE),
    ("/sign-out", "POST"): same(EVERYONE),
    ("/static", "*"): same(EVERYONE),
    ("/api/request-types", "GET"): same(EVERYONE),
    ("/api/openapi.json", "GET"): same(EVERYONE),
    # the request portal
    ("/portal", "GET"): same(SIGNED_IN),
    ("/portal/new/{request_type}", "GET"): same(SIGNED_IN),
    ("/portal/new/{request_type}", "POST"): same(SIGNED_IN),
    # tasks
    ("/tasks", "GET"): same(SIGNED_IN),
    ("/tasks/{task_id:int}", "GET"): (*objects(ACTS_A, ACTS_B), Case("role", ACTS_ROLE)),
    ("/tasks/{task_id:int}", "POST"): (*objects(ACTS_A, ACTS_B), Case("role", ACTS_ROLE)),
    # claiming takes a task into one's own queue: for members of its team only
    ("/tasks/{task_id:int}/claim", "POST"): objects(ACTS_A - ADMINS, ACTS_B - ADMINS),
    ("/tasks/{task_id:int}/unassign", "POST"): objects(ACTS_A, ACTS_B),
    # the work item page
    ("/items/{item_id:int}", "GET"): objects(SEES_A, SEES_B),
    ("/items/{item_id:int}/comments", "POST"): objects(SEES_A, SEES_B),
    ("/items/{item_id:int}/signals/{signal}", "POST"): objects(SENDS_A, SENDS_B),
    # cancelling: the owner team's members and administrators
    ("/items/{item_id:int}/cancel", "POST"): objects(ACTS_A, ACTS_B),
    ("/items/{item_id:int}/withdraw", "POST"): objects(WITHDRAWS_A, WITHDRAWS_B),
    # administration
    ("/admin", "GET"): same(ADMINS),
    ("/admin/workflows", "GET"): same(ADMINS),
    ("/admin/workflows/deploy", "POST"): same(ADMINS),
    ("/admin/workflows/{name}", "GET"): same(ADMINS),
    ("/admin/schedules", "GET"): same(ADMINS),
    ("/admin/schedules/{schedule_id:path}/pause", "POST"): same(ADMINS),
    ("/admin/schedules/{schedule_id:path}/resume", "POST"): same(ADMINS),
    ("/admin/people", "GET"): same(ADMINS),
    ("/admin/people/new", "GET"): same(ADMINS),
    ("/admin/people/new", "POST"): same(ADMINS),
    ("/admin/people/{person_id:int}", "GET"): same(ADMINS),
    ("/admin/people/{person_id:int}", "POST"): same(ADMINS),
    ("/admin/people/{person_id:int}/disable", "POST"): same(ADMINS),
    ("/admin/people/{person_id:int}/enable", "POST"): same(ADMINS),
    ("/admin/people/{person_id:int}/password", "POST"): same(ADMINS),
    ("/admin/teams", "GET"): same(ADMINS),
    ("/admin/teams", "POST"): same(ADMINS),
    ("/admin/teams/{team_id:int}", "GET"): same(ADMINS),
    ("/admin/teams/{team_id:int}", "POST"): same(ADMINS),
    ("/admin/teams/{team_id:int}/members", "POST"): same(ADMINS),
    ("/admin/teams/{team_id:int}/members/{person_id:int}", "POST"): same(ADMINS),
    ("/admin/teams/{team_id:int}/members/{person_id:int}/remove", "POST"): same(ADMINS),
    # the help desk: logging a call
    ("/helpdesk/calls/new", "GET"): same(AGENTS),
    ("/helpdesk/calls/new/{request_type}", "GET"): same(AGENTS),
    ("/helpdesk/calls/new/{request_type}", "POST"): same(AGENTS),
    # the help desk: assignment rules and skills
    ("/helpdesk/admin/assignment", "GET"): same(ADMINS),
    ("/helpdesk/admin/assignment/rules", "POST"): same(ADMINS),
    ("/helpdesk/admin/assignment/skills", "POST"): same(ADMINS),
    # the help desk: request categories (admins) and the staff ticket list (agents, managers)
    ("/helpdesk/admin/categories", "GET"): same(ADMINS),
    ("/helpdesk/admin/categories/new", "GET"): same(ADMINS),
    ("/helpdesk/admin/categories/new", "POST"): same(ADMINS),
    ("/helpdesk/admin/categories/{category_id:int}", "GET"): same(ADMINS),
    ("/helpdesk/admin/categories/{category_id:int}", "POST"): same(ADMINS),
    ("/helpdesk/admin/categories/{category_id:int}/deactivate", "POST"): same(ADMINS),
    ("/helpdesk/tickets", "GET"): same(AGENTS | {"manager"}),
    # the help desk: the impact x urgency priority matrix
    ("/helpdesk/admin/priority", "GET"): same(ADMINS),
    ("/helpdesk/admin/priority", "POST"): same(ADMINS),
    # help desk: the outbox of mails to requesters
    ("/helpdesk/admin/mail", "GET"): same(ADMINS),
    ("/helpdesk/admin/mail/{mail_id:int}", "GET"): same(ADMINS),
    ("/helpdesk/admin/mail/{mail_id:int}/retry", "POST"): same(ADMINS),
    # the help desk: SLA policies and business calendars
    ("/helpdesk/admin/sla", "GET"): same(ADMINS),
    ("/helpdesk/admin/sla/policies/new", "GET"): same(ADMINS),
    ("/helpdesk/admin/sla/policies/new", "POST"): same(ADMINS),
    ("/helpdesk/admin/sla/policies/{policy_id:int}", "GET"): same(ADMINS),
    ("/helpdesk/admin/sla/policies/{policy_id:int}", "POST"): same(ADMINS),
    ("/helpdesk/admin/sla/calendars/new", "GET"): same(ADMINS),
    ("/helpdesk/admin/sla/calendars/new", "POST"): same(ADMINS),
    ("/helpdesk/admin/sla/calendars/{calendar_id:int}", "GET"): same(ADMINS),
    ("/helpdesk/admin/sla/calendars/{calendar_id:int}", "POST"): same(ADMINS),
    ("/helpdesk/admin/sla/calendars/{calendar_id:int}/days-off", "POST"): same(ADMINS),
    ("/helpdesk/admin/sla/calendars/{calendar_id:int}/days-off/{day_id:int}/remove", "POST"): same(
        ADMINS
    ),
    # the help desk: satisfaction (only a ticket's requester rates it, signed in or by link)
    ("/survey/{item_id:int}", "GET"): objects(SENDS_A, SENDS_B),
    ("/survey/{item_id:int}", "POST"): objects(SENDS_A, SENDS_B),
    # the results: the policy lets agents in and the page shows a team lead their teams' and
    # people's lines; the agents here lead no team, so the page itself refuses them (403)
    ("/helpdesk/satisfaction", "GET"): same(frozenset({"manager", "admin"})),
    # the help desk: a mail's "open your request" link (signs its requester in by token; a
    # signed-in visitor goes on to the request's page, which decides)
    ("/helpdesk/open/{item_id:int}", "GET"): objects(SIGNED_IN, SIGNED_IN),
    # the help desk: inbound mail (the record of every mail; a ticket's files from e-mail)
    ("/helpdesk/admin/inbound", "GET"): same(ADMINS),
    ("/helpdesk/admin/inbound/{inbound_id:int}", "GET"): same(ADMINS),
    ("/helpdesk/admin/inbound/{inbound_id:int}/ticket", "POST"): same(ADMINS),
    ("/helpdesk/items/{item_id:int}/attachments/{number:int}", "GET"): objects(SEES_A, SEES_B),
    # the help desk: the knowledge base (the article is a published public one; who reads an
    # internal one or a draft is tested in tests/helpdesk/kb); team leads and administrators
    # publish (the agents here lead no team); level 2 and 3 agents draft from a resolution
    ("/kb", "GET"): same(SIGNED_IN),
    ("/kb/new", "GET"): same(AGENTS),
    ("/kb/new", "POST"): same(AGENTS),
    ("/kb/{article_id:int}", "GET"): same(SIGNED_IN),
    ("/kb/{article_id:int}/edit", "GET"): same(AGENTS),
    ("/kb/{article_id:int}/edit", "POST"): same(AGENTS),
    ("/kb/{article_id:int}/publish", "POST"): same(ADMINS),
    ("/kb/link/{item_id:int}", "POST"): objects(ACTS_A, ACTS_B),
    ("/kb/draft/{item_id:int}", "POST"): objects(ADMINS, ADMINS),
    ("/kb/self-help/{request_type}", "POST"): same(SIGNED_IN),
    ("/kb/self-help.js", "GET"): same(EVERYONE),
    ("/api/kb/suggestions", "GET"): same(SIGNED_IN),
    # the JSON API
    ("/api/requests", "POST"): same(SIGNED_IN),
    ("/api/work-items/{item_id:int}", "GET"): objects(SEES_A, SEES_B),
    ("/api/work-items/{item_id:int}/comments", "POST"): objects(SEES_A, SEES_B),
    ("/api/work-items/{item_id:int}/signals/{signal}", "POST"): objects(SENDS_A, SENDS_B),
    ("/api/tasks", "GET"): same(AGENTS),
    ("/api/tasks/{task_id:int}/complete", "POST"): (
        *objects(ACTS_A, ACTS_B),
        Case("role", ADMINS),  # the API is for agents: a manager approves on the task page
    ),
}


# public routes whose endpoint decides by a link's token: an anonymous visitor without one is
# refused there with 403 (a POST fails the CSRF check first) or sent to sign in
TOKEN_ROUTES = frozenset({"/survey/{item_id:int}", "/helpdesk/open/{item_id:int}"})


def refused(reply: Any, viewer: str, path: str, public: bool = False) -> bool:
    """Whether ``reply`` is a refusal (by policy or by object), as the viewer would see it."""
    if viewer == "anonymous":
        if path.startswith("/api/"):
            return reply.status_code == 401
        if public and reply.status_code == 403:
            return True
        return reply.status_code == 303 and reply.headers["location"].startswith("/sign-in")
    return reply.status_code in (403, 404)


def _cases() -> Iterator[Any]:
    for (path, method), cases in MATRIX.items():
        for case in cases:
            yield pytest.param(path, method, case, id=f"{method} {path} {case.variant}")


# ------------------------------------------------------------------ tests ---


def test_the_matrix_lists_every_route(full_app: Starlette) -> None:
    routes = {key for key in route_policies(full_app) if key[1] != "HEAD"}
    missing = sorted(routes - set(MATRIX))
    gone = sorted(set(MATRIX) - routes)
    assert not missing, f"routes missing from the authorization matrix: {missing}"
    assert not gone, f"the matrix lists routes the app does not have: {gone}"


@pytest.mark.parametrize(("path", "method", "case"), list(_cases()))
def test_who_gets_through(
    full_app: Starlette, everyone: World, path: str, method: str, case: Case
) -> None:
    app, world = full_app, everyone
    target = fill(path, world, case.variant)
    public = path in TOKEN_ROUTES
    for viewer in VIEWERS:
        with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
            headers = {}
            if viewer != "anonymous":
                headers["X-CSRF-Token"] = sign_in(client, world.people[viewer])
            before = snapshot(app) if method == "POST" else None
            body = {} if method == "POST" and target.startswith("/api/") else None
            reply = client.request(method, target, headers=headers, json=body)
            assert reply.status_code != 500, f"{viewer}: {method} {target} answered 500"
            denied = refused(reply, viewer, target, public)
            expected = viewer in case.allowed
            assert denied != expected, (
                f"{viewer} {'was refused' if denied else 'got through'} on {method} {target} "
                f"({reply.status_code}); the matrix says {'allowed' if expected else 'refused'}"
            )
            if denied and before is not None:
                assert snapshot(app) == before, f"a refused {method} {target} by {viewer} wrote"


@pytest.mark.parametrize("digits", [19, 5_000])
def test_an_id_too_long_for_any_column_matches_no_route(
    full_app: Starlette, everyone: World, digits: int
) -> None:
    with TestClient(full_app, raise_server_exceptions=False, follow_redirects=False) as client:
        token = sign_in(client, everyone.people["admin"])
        for path, method in route_policies(full_app):
            if ":int}" not in path or method == "HEAD":
                continue
            target = fill(re.sub(r"\{\w+:int\}", "9" * digits, path), everyone, "own")
            reply = client.request(method, target, headers={"X-CSRF-Token": token})
            assert reply.status_code == 404, f"{method} {target[:60]}...: {reply.status_code}"
