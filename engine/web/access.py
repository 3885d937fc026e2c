"""Who may see what: the viewer, the named access policies and the routes that declare them.

Every route states its policy where it is declared, and nowhere else::

    routes = [
        page("/inbox", inbox, allow="agent"),
        page("/portal", portal, allow=("requester", "agent")),
        api("/api/tickets", create_ticket, allow="requester", methods=("POST",)),
    ]

The policies (:data:`POLICIES`): ``public`` lets everyone in, signed in or not;
``signed_in`` anyone signed in; ``requester``, ``agent``, ``project_manager``,
``manager`` and ``admin`` whoever holds that role. An administrator passes every
policy. A tuple lets in whoever passes any one of its policies.

A refused page sends an anonymous visitor to ``/sign-in?next=<path>`` (303) and
answers a signed-in one 403 with the HTML error page; a refused API call
answers JSON 401 (nobody signed in, no valid token) or 403. :func:`route_policies`
lists every route with its policy, so a test can check that none was forgotten.

Whether a viewer may see one work item or act on one task is decided by
:func:`can_view_work_item` and :func:`can_act_on_task`, also here (and
:func:`own_request_refusal`: nobody completes a role's task on their own request).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.model import ROLES
from engine.web.errors import error_response

if TYPE_CHECKING:
    from engine.contrib import NavItem
    from engine.model import Task, WorkItem

SIGN_IN_PATH = "/sign-in"


class IdConvertor(IntegerConvertor):
    """``{name:int}`` in a path: 1 to 18 digits, so an id always fits a 64-bit column.

    Starlette's own takes any number of digits, and one of thousands fails
    Python's int conversion limit (a 500); a longer number simply matches no
    route (404). Registered as ``int`` before any route is declared: this
    module is where routes are declared from.
    """

    regex = "[0-9]{1,18}"


register_url_convertor("int", IdConvertor())

POLICIES: dict[str, str] = {
    "public": "everyone",
    "signed_in": "signed-in people",
    "requester": "requesters",
    "agent": "agents",
    "project_manager": "project managers",
    "manager": "managers",
    "admin": "administrators",
}
"""Each policy a route may declare, with who it lets in (used in refusals)."""

assert set(ROLES) <= set(POLICIES), "every role is a policy of the same name"

Allow = str | tuple[str, ...]
Endpoint = Callable[[Request], Awaitable[Response] | Response]


@dataclass(frozen=True)
class Viewer:
    """The person making a request, as the access rules need them; :data:`ANONYMOUS` if nobody."""

    person_id: int | None
    name: str
    email: str
    roles: frozenset[str] = frozenset()
    level: str | None = None
    team_ids: frozenset[int] = frozenset()

    @property
    def is_anonymous(self) -> bool:
        return self.person_id is None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_agent(self) -> bool:
        return "agent" in self.roles

    def has(self, role: str) -> bool:
        """Whether this person holds ``role`` itself (see :func:`allows` for the admin's pass)."""
        return role in self.roles


ANONYMOUS = Viewer(person_id=None, name="", email="")


def viewer_of(request: HTTPConnection) -> Viewer:
    """The request's viewer (set by the auth middleware); :data:`ANONYMOUS` without one."""
    viewer = request.scope.get("state", {}).get("viewer", ANONYMOUS)
    assert isinstance(viewer, Viewer), viewer
    return viewer


def allows(viewer: Viewer, allow: Allow) -> bool:
    """Whether ``viewer`` passes ``allow`` (a policy name, or a tuple: any one of them)."""
    policies = (allow,) if isinstance(allow, str) else allow
    if "public" in policies:
        return True
    if viewer.is_anonymous:
        return False
    return viewer.is_admin or "signed_in" in policies or not viewer.roles.isdisjoint(policies)


def policy(allow: Allow, where: str = "") -> tuple[str, ...]:
    """``allow`` as a tuple of known policy names; ``ValueError`` naming ``where`` otherwise."""
    policies = (allow,) if isinstance(allow, str) else tuple(allow)
    unknown = [name for name in policies if name not in POLICIES]
    if unknown or not policies:
        given = ", ".join(repr(name) for name in unknown) or "nothing"
        raise ValueError(
            f"{where or 'route'}: unknown access policy {given}; "
            f"allow= takes one or more of: {', '.join(POLICIES)}"
        )
    return policies


def who(policies: Iterable[str]) -> str:
    """``("agent", "manager")`` as ``agents or managers``."""
    return " or ".join(POLICIES[name] for name in policies)


# ------------------------------------------------------------------ refusals ---

Kind = Literal["page", "api"]


def sign_in_url(request: HTTPConnection) -> str:
    """The sign-in page, coming back to this page (a GET) afterwards."""
    if request.scope.get("method", "GET") not in ("GET", "HEAD"):
        return SIGN_IN_PATH
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{SIGN_IN_PATH}?{urlencode({'next': here})}"


def safe_next(target: object) -> str:
    """``target`` if it is a path on this site other than sign-in, else ``/``: no open redirect."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return "/"  # browsers read "/\\evil.example" as "//evil.example"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path == SIGN_IN_PATH:
        return "/"
    return target


def refusal(request: Request, policies: tuple[str, ...], kind: Kind) -> Response:
    """The answer to a viewer who does not pass ``policies``."""
    viewer = viewer_of(request)
    if viewer.is_anonymous and kind == "page":
        return RedirectResponse(sign_in_url(request), status_code=303)
    if viewer.is_anonymous:
        problem = request.scope.get("state", {}).get("auth_problem")
        return error_response(
            request,
            401,
            problem or "Sign in, or send a personal API token as 'Authorization: Bearer <token>'.",
            as_json=True,
            headers={"WWW-Authenticate": 'Bearer realm="tierflow"'},
        )
    what = "page" if kind == "page" else "endpoint"
    return error_response(
        request,
        403,
        f"You are signed in as {viewer.name}, but this {what} is for {who(policies)} only. "
        "Ask an administrator if you need access.",
        as_json=kind == "api" or None,
    )


def _guarded(endpoint: Endpoint, policies: tuple[str, ...], kind: Kind) -> Endpoint:
    call = endpoint if _is_async(endpoint) else functools.partial(run_in_threadpool, endpoint)

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        if not allows(viewer_of(request), policies):
            return refusal(request, policies, kind)
        return await call(request)  # type: ignore[misc]

    return guarded


def _is_async(endpoint: object) -> bool:
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    return inspect.iscoroutinefunction(endpoint) or (
        callable(endpoint) and inspect.iscoroutinefunction(endpoint.__call__)
    )


class GuardedRoute(Route):
    """A route whose endpoint is only reached by viewers who pass ``allow``."""

    def __init__(
        self,
        path: str,
        endpoint: Endpoint,
        *,
        allow: Allow,
        kind: Kind,
        methods: Collection[str],
        name: str | None,
    ) -> None:
        policies = policy(allow, f"{kind} {path}")
        super().__init__(path, _guarded(endpoint, policies, kind), methods=list(methods), name=name)
        self.allow = policies
        self.kind = kind


def page(
    path: str,
    endpoint: Endpoint,
    *,
    allow: Allow,
    methods: Collection[str] = ("GET",),
    name: str | None = None,
) -> Route:
    """An HTML page: anonymous visitors are sent to sign in, others without access get 403."""
    return GuardedRoute(path, endpoint, allow=allow, kind="page", methods=methods, name=name)


def api(
    path: str,
    endpoint: Endpoint,
    *,
    allow: Allow,
    methods: Collection[str] = ("GET",),
    name: str | None = None,
) -> Route:
    """A JSON endpoint: 401 without a signed-in viewer or valid token, 403 without access."""
    return GuardedRoute(path, endpoint, allow=allow, kind="api", methods=methods, name=name)


class _GuardedApp:
    """An ASGI app reached only by viewers who pass ``policies`` (what :func:`mount` wraps)."""

    def __init__(self, app: ASGIApp, policies: tuple[str, ...]) -> None:
        self.app = app
        self.policies = policies

    @property
    def routes(self) -> list[BaseRoute]:
        return list(getattr(self.app, "routes", []))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] in ("http", "websocket")
        if not guarded or allows(viewer_of(HTTPConnection(scope)), self.policies):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
        else:
            request = Request(scope, receive)
            kind: Kind = "api" if request.url.path.startswith("/api/") else "page"
            await refusal(request, self.policies, kind)(scope, receive, send)


class GuardedMount(Mount):
    """A mount reached only by viewers who pass ``allow``."""

    def __init__(self, path: str, app: ASGIApp, *, allow: Allow, name: str | None) -> None:
        policies = policy(allow, f"mount {path}")
        super().__init__(
            path, app=app if policies == ("public",) else _GuardedApp(app, policies), name=name
        )
        self.allow = policies


def mount(path: str, app: ASGIApp, *, allow: Allow, name: str | None = None) -> Mount:
    """A mounted ASGI app (static files, a sub-application) behind policy ``allow``.

    Routes inside it that declare no policy of their own are reported with this one.
    """
    return GuardedMount(path, app, allow=allow, name=name)


def route_policies(app: object) -> dict[tuple[str, str], tuple[str, ...]]:
    """Every ``(path, method)`` of ``app`` with its policy; ``()`` where none was declared.

    Mounts are walked (their paths prefixed); an app mounted without routes of
    its own (static files) is listed once, with method ``"*"``.
    """
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    _walk(getattr(app, "routes", []), "", (), found)
    return found


def undeclared_routes(app: object) -> list[tuple[str, str]]:
    """The ``(path, method)`` pairs of ``app`` that declare no access policy."""
    return sorted(key for key, policies in route_policies(app).items() if not policies)


def _walk(
    routes: Iterable[BaseRoute],
    prefix: str,
    inherited: tuple[str, ...],
    found: dict[tuple[str, str], tuple[str, ...]],
) -> None:
    for route in routes:
        policies: tuple[str, ...] = getattr(route, "allow", ()) or inherited
        path = prefix + getattr(route, "path", "")
        if isinstance(route, Mount) and route.routes:
            _walk(route.routes, path, policies, found)
        elif isinstance(route, Route) and route.methods:
            for method in sorted(route.methods):
                found[(path, method)] = policies
        else:
            found[(path, "*")] = policies


# ------------------------------------------------------ what a viewer sees ---


def visible_navigation(viewer: Viewer, items: Iterable[NavItem]) -> list[NavItem]:
    """The links ``viewer`` may see: none when anonymous; an item's ``roles`` limit it further."""
    if viewer.is_anonymous:
        return []
    return [item for item in items if not item.roles or allows(viewer, tuple(item.roles))]


def can_view_work_item(viewer: Viewer, item: WorkItem) -> bool:
    """Whether ``viewer`` may see ``item``.

    Managers and administrators see everything; everyone sees what they
    requested and what has a task they may work (open or done: a manager who
    approved a request keeps it); agents and project managers also see what is
    assigned to them and what one of their teams owns or works now: an L2
    agent keeps the ticket they fixed after it went back to the help desk.
    """
    if viewer.is_anonymous:
        return False
    if viewer.is_admin or viewer.has("manager") or item.requester_id == viewer.person_id:
        return True
    if any(can_act_on_task(viewer, task) for task in item.tasks):
        return True
    if not (viewer.is_agent or viewer.has("project_manager")):
        return False
    return (
        item.assignee_id == viewer.person_id
        or item.current_team_id in viewer.team_ids
        or item.owner_team_id in viewer.team_ids
    )


def can_act_on_task(viewer: Viewer, task: Task) -> bool:
    """Whether ``viewer`` may work ``task``: it is theirs, their team's or their role's.

    A task addressed to a role (``task: {role: manager}``, no team, nobody
    holding it) is for whoever holds that role; administrators may work any
    task. Whether the task is still open is the caller's question, and so is
    :func:`own_request_refusal`.
    """
    if viewer.is_anonymous:
        return False
    return (
        viewer.is_admin
        or task.assignee_id == viewer.person_id
        or (task.team_id is not None and task.team_id in viewer.team_ids)
        or (
            task.role is not None
            and task.team_id is None
            and task.assignee_id is None
            and viewer.has(task.role)
        )
    )


def own_request_refusal(viewer: Viewer, task: Task) -> str:
    """Why ``viewer`` may not complete ``task``, or ``""``: nobody decides their own request.

    A task addressed to a role is a check by someone else (a manager approves
    an access request): the person who requested the work item may not complete
    it, whatever roles they hold.
    """
    item = task.work_item
    if task.role is None or viewer.is_anonymous or item.requester_id != viewer.person_id:
        return ""
    reference = item.reference or f"work item {item.id}"
    return (
        f"You requested {reference} yourself, so you cannot complete its task for the "
        f"{task.role.replace('_', ' ')} role: someone else who holds that role has to."
    )
