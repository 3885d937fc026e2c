"""Who is asking: the session cookie or API token of each request, resolved to a :class:`Viewer`.

:class:`AuthMiddleware` (pure ASGI) sets ``request.state.viewer`` on every
request: from ``Authorization: Bearer <token>`` when the header is sent,
otherwise from the ``tierflow_session`` cookie, otherwise :data:`ANONYMOUS`.
One query loads the person with their roles and team ids. A session that was
idle longer than ``session_idle_minutes``, is older than
``session_absolute_hours``, or whose person is disabled, is ended and the
request is anonymous. ``last_seen_at`` (``last_used_at`` for tokens) is
written at most once a minute, so most requests only read. That read is one
statement, built once, on a plain connection (no ORM session); on PostgreSQL
it runs outside a transaction, which spares every request a ``BEGIN`` and a
``ROLLBACK`` round trip to the server (one statement sees one snapshot anyway).

:func:`sign_in` and :func:`sign_out` are what the sign-in page calls;
:func:`set_session_cookie` and :func:`clear_session_cookie` write the cookie
(HttpOnly, SameSite=Lax, Path=/, Secure on https or with ``secure_cookies``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Row, Select, bindparam, delete, select, update
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from engine.config import Settings
from engine.db import make_session_factory, read_only
from engine.model import ApiToken, Membership, Person, PersonRole, WebSession, utcnow
from engine.model.auth import check_password, digest, end_session, start_session
from engine.web import throttle
from engine.web.access import ANONYMOUS, Viewer

log = logging.getLogger("tierflow.web.auth")

SESSION_COOKIE = "tierflow_session"
TOUCH_EVERY = timedelta(minutes=1)
"""``last_seen_at`` / ``last_used_at`` are written at most this often."""

WRONG_CREDENTIALS = "E-mail or password is wrong."
DISABLED = "This account is disabled. Ask an administrator to enable it again."
BAD_TOKEN = (
    "The API token was not accepted: it is unknown or revoked, or its person is disabled. "
    "Create a new one with 'tierflow users token EMAIL --name NAME'."
)


def _viewer_query(*extra: Any) -> Select[Any]:
    """Person, roles and team ids in one query (a row per role and team), plus ``extra``."""
    return (
        select(
            Person.id,
            Person.name,
            Person.email,
            Person.level,
            Person.active,
            PersonRole.role,
            Membership.team_id,
            *extra,
        )
        .select_from(Person)
        .outerjoin(PersonRole, PersonRole.person_id == Person.id)
        .outerjoin(Membership, Membership.person_id == Person.id)
    )


def _viewer(rows: list[Row[Any]]) -> Viewer:
    first = rows[0]
    return Viewer(
        person_id=first.id,
        name=first.name,
        email=first.email,
        roles=frozenset(row.role for row in rows if row.role is not None),
        level=first.level,
        team_ids=frozenset(row.team_id for row in rows if row.team_id is not None),
    )


_BY_SESSION = (
    _viewer_query(WebSession.created_at, WebSession.last_seen_at)
    .join(WebSession, WebSession.person_id == Person.id)
    .where(WebSession.key == bindparam("key"))
)
_BY_TOKEN = (
    _viewer_query(ApiToken.id.label("token_id"), ApiToken.last_used_at)
    .join(ApiToken, ApiToken.person_id == Person.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked.is_(False))
)


def load_viewer(db: Session, person_id: int) -> Viewer:
    """Person ``person_id`` as a viewer; :data:`ANONYMOUS` if there is none or they are disabled."""
    rows = db.execute(_viewer_query().where(Person.id == person_id)).all()
    return _viewer(rows) if rows and rows[0].active else ANONYMOUS


@dataclass(frozen=True)
class Lifetimes:
    """How long a web session lasts: idle and in all."""

    idle: timedelta
    absolute: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Lifetimes:
        return cls(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_absolute_hours),
        )


class Authenticator:
    """Resolves session ids and API tokens to viewers (blocking: call it in a thread)."""

    def __init__(self, db: Engine, lifetimes: Lifetimes) -> None:
        reads = read_only(db)
        if db.dialect.name == "postgresql":  # SQLite's connections keep their own settings
            reads = reads.execution_options(isolation_level="AUTOCOMMIT")
        self.reads = reads
        self.writes = make_session_factory(db)
        self.lifetimes = lifetimes

    def _read(self, query: Select[Any], **params: Any) -> list[Row[Any]]:
        with self.reads.connect() as connection:
            return list(connection.execute(query, params).all())

    def from_session(self, raw: str, now: datetime | None = None) -> Viewer:
        key = digest(raw)
        now = now or utcnow()
        rows = self._read(_BY_SESSION, key=key)
        if not rows:
            return ANONYMOUS
        first = rows[0]
        if (
            not first.active
            or now - first.last_seen_at > self.lifetimes.idle
            or now - first.created_at > self.lifetimes.absolute
        ):
            with self.writes.begin() as db:
                db.execute(delete(WebSession).where(WebSession.key == key))
            return ANONYMOUS
        if now - first.last_seen_at >= TOUCH_EVERY:
            with self.writes.begin() as db:
                db.execute(update(WebSession).where(WebSession.key == key).values(last_seen_at=now))
        return _viewer(rows)

    def from_token(self, raw: str, now: datetime | None = None) -> Viewer:
        token_hash = digest(raw)
        now = now or utcnow()
        rows = self._read(_BY_TOKEN, token_hash=token_hash)
        if not rows or not rows[0].active:
            return ANONYMOUS
        last_used = rows[0].last_used_at
        if last_used is None or now - last_used >= TOUCH_EVERY:
            with self.writes.begin() as db:
                db.execute(
                    update(ApiToken).where(ApiToken.id == rows[0].token_id).values(last_used_at=now)
                )
        return _viewer(rows)


def bearer_token(connection: HTTPConnection) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (``""`` if it is empty)."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class AuthMiddleware:
    """Sets ``scope["state"]["viewer"]`` (and ``"auth_problem"`` for a refused token).

    Paths under ``skip`` (static files) are left anonymous without a lookup.
    """

    def __init__(
        self, app: ASGIApp, *, db: Engine, settings: Settings, skip: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.authenticator = Authenticator(db, Lifetimes.of(settings))
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            state = scope.setdefault("state", {})
            state["viewer"] = ANONYMOUS
            if not scope["path"].startswith(self.skip):
                await self._identify(HTTPConnection(scope), state)
        await self.app(scope, receive, send)

    async def _identify(self, connection: HTTPConnection, state: dict[str, Any]) -> None:
        token = bearer_token(connection)
        if token is not None:
            viewer = await run_in_threadpool(self.authenticator.from_token, token)
            state["viewer"] = viewer
            if viewer.is_anonymous:
                state["auth_problem"] = BAD_TOKEN
            return
        raw = connection.cookies.get(SESSION_COOKIE)
        if raw:
            state["viewer"] = await run_in_threadpool(self.authenticator.from_session, raw)


# -------------------------------------------------------- signing in and out ---


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to: a new session id, or a message for the form.

    ``retry_after`` (seconds) is set when the throttle refused the attempt unchecked.
    """

    session_id: str | None = None
    problem: str = ""
    retry_after: int | None = None


def sign_in(
    db: Session,
    email: str,
    password: str,
    *,
    user_agent: str = "",
    replacing: str | None = None,
    address: str = "",
    limits: throttle.Limits | None = None,
) -> SignIn:
    """Check ``email`` and ``password``; on success start a new session and commit.

    The message never says which of the two was wrong. A session the browser
    had before (``replacing``) is ended: every sign-in gets a new id. With
    ``limits``, too many recent failures for the e-mail or for ``address`` (the
    client's) refuse the attempt without checking it, and a failure is counted.
    """
    email = email.strip().lower()
    if limits is not None:
        refused = throttle.locked(db, limits, email, address)
        if refused is not None:
            log.warning("sign-in as %s from %s refused: too many failures", email, address)
            return SignIn(problem=refused.message, retry_after=refused.retry_after)
    person = db.scalars(select(Person).where(Person.email == email)).one_or_none()
    if not check_password(person, password):
        if limits is not None:
            throttle.failed(db, limits, email, address)
            db.commit()
        return SignIn(problem=WRONG_CREDENTIALS)
    assert person is not None
    if not person.active:
        return SignIn(problem=DISABLED)
    if limits is not None:
        throttle.succeeded(db, email)
    if replacing:
        end_session(db, replacing)
    raw = start_session(db, person.id, user_agent=user_agent)
    db.commit()
    log.info("%s signed in", person.email)
    return SignIn(session_id=raw)


def sign_out(db: Session, raw: str | None) -> None:
    """End the session ``raw`` (if any) and commit."""
    if raw:
        end_session(db, raw)
        db.commit()


def cookie_is_secure(connection: HTTPConnection, settings: Settings) -> bool:
    return connection.url.scheme == "https" or settings.secure_cookies


def set_session_cookie(
    response: Response, connection: HTTPConnection, settings: Settings, session_id: str
) -> None:
    """Give the browser ``session_id``: HttpOnly, SameSite=Lax, Path=/, Secure on https."""
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(connection, settings),
    )


def clear_session_cookie(
    response: Response, connection: HTTPConnection, settings: Settings
) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_is_secure(connection, settings),
    )
