"""Web fixtures: the app on the test database, clients, and signing a person in.

``make_app(*plugins)`` builds the app as ``create_app`` does (no entry-point
plugins unless ``entry_points=True``); ``sign_in(client, person)`` gives the
client a session cookie for ``person`` without a password and returns the CSRF
token its forms send. ``fast_passwords`` swaps argon2's parameters for the
cheapest ones, so tests that hash passwords stay quick.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.config import Settings, secret_key
from engine.model import Person
from engine.model import auth as credentials
from engine.plugins import create_plugin_manager
from engine.web.app import create_app
from engine.web.auth import SESSION_COOKIE
from engine.web.csrf import session_token
from engine.web.temporal import TemporalLink
from tests.web.everyone import World
from tests.web.everyone import build as build_world

MakeApp = Callable[..., Starlette]


def closed_port() -> int:
    """A loopback port nothing listens on (Temporal is "down" for the web tests)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_app(db_engine: Engine, tmp_path) -> MakeApp:
    """``make_app(("name", plugin), ..., entry_points=False, **settings)``: the web app."""

    def make(
        *plugins: tuple[str, object], entry_points: bool = False, **settings: Any
    ) -> Starlette:
        pm = create_plugin_manager(entry_points=entry_points, plugins=list(plugins))
        link = TemporalLink(address=f"127.0.0.1:{closed_port()}")
        return create_app(Settings(data_dir=tmp_path, **settings), pm, db=db_engine, temporal=link)

    return make


@pytest.fixture
def app(make_app: MakeApp) -> Starlette:
    return make_app()


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """A browser on ``app`` that does not follow redirects (tests look at them)."""
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as browser:
        yield browser


def sign_in(client: TestClient, person: Person) -> str:
    """Give ``client`` a new session of ``person`` (committed); return its CSRF token."""
    app = client.app
    assert isinstance(app, Starlette)
    with app.state.sessions.begin() as db:
        session_id = credentials.start_session(db, person.id)
    client.cookies.set(SESSION_COOKIE, session_id)
    return session_token(secret_key(app.state.settings), session_id)


def form_token(html: str) -> str:
    """The ``csrf_token`` hidden field of the (first) form in ``html``."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no csrf_token field"
    return found.group(1)


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> PasswordHasher:
    """argon2 with its cheapest parameters for this test; returns the hasher."""
    hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    monkeypatch.setattr(credentials, "PASSWORDS", hasher)
    return hasher


@pytest.fixture
def full_app(make_app: MakeApp) -> Starlette:
    """The app with every built-in plugin, as ``tierflow serve`` builds it."""
    return make_app(entry_points=True)


@pytest.fixture
def everyone(session, full_app: Starlette, make_person, make_team, fast_passwords) -> World:
    """A person of each kind and two of everything (see ``tests/web/everyone.py``), committed."""
    return build_world(session, full_app, make_person, make_team)
