"""Shared fixtures: databases (SQLite and PostgreSQL), sessions and model factories.

Every database test runs twice, on SQLite and on PostgreSQL (marked
``postgres``). PostgreSQL comes from ``TIERFLOW_TEST_POSTGRES_URL``, e.g.
``postgresql+psycopg://postgres@127.0.0.1:5432/test``: unset, those tests are
skipped; set but unreachable, they fail. The URL's user must be allowed to
create databases: each test run creates ``tierflow_test_<random>`` (migrated
once) and drops everything it created at the end.

Isolation: ``db_engine`` is the run's migrated database, emptied after each
test (a ``DELETE`` per table, a few milliseconds), so tests may commit freely
and other connections (threads, activities) see their data. ``database_url``
is a brand-new empty database per test, for tests that migrate or change the
schema themselves.

Also shared: one embedded Temporal dev server for the session
(``temporal_server``, ``temporal_client``), on whose event loop every async
test in the folders of ``SESSION_LOOP_FOLDERS`` runs; and ``tierflow``, which
runs the command line in-process.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pytest_asyncio import is_async_test
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from temporalio.client import Client

from engine.cli import _main
from engine.contrib import MigrationBranch
from engine.db import create_db_engine, make_session_factory, normalise_url, redact
from engine.migrate import outside_models, upgrade
from engine.model import Person, Team, WorkItem
from engine.plugins import create_plugin_manager, load_models, migration_branches
from engine.runtime.client import connect
from engine.runtime.devserver import EmbeddedTemporal

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
POSTGRES_URL_VARIABLE = "TIERFLOW_TEST_POSTGRES_URL"


def _installed_branches() -> list[MigrationBranch]:
    """Every installed plugin's branch, its models loaded into ``Base.metadata``."""
    pm = create_plugin_manager()
    load_models(pm)
    return migration_branches(pm)


MIGRATION_BRANCHES = _installed_branches()
"""The plugin branches every test database is migrated with (the core is always included)."""


# -------------------------------------------------------------- databases ---


@dataclass
class PostgresServer:
    """Creates and drops this run's databases on the server ``TIERFLOW_TEST_POSTGRES_URL`` names."""

    url: str
    admin: Engine
    prefix: str = field(default_factory=lambda: f"tierflow_test_{secrets.token_hex(4)}")
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def create(self) -> str:
        """Create a new empty database; return its URL."""
        name = f"{self.prefix}_{next(self.counter)}"
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return self.url_of(name)

    def drop(self, url: str) -> None:
        name = normalise_url(url).database
        with self.admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def drop_all(self) -> None:
        """Drop every database this run created, including any a failed test left behind."""
        with self.admin.connect() as connection:
            names = connection.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :pattern"),
                {"pattern": f"{self.prefix}%"},
            ).all()
            for name in names:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url_of(self, name: str) -> str:
        return normalise_url(self.url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The server ``TIERFLOW_TEST_POSTGRES_URL`` names; skips when unset, fails when down."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_URL_VARIABLE}, "
            "e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test"
        )
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        admin.dispose()
        pytest.fail(
            f"{POSTGRES_URL_VARIABLE}={redact(url)} is set but unreachable: {exc}", pytrace=False
        )
    server = PostgresServer(url, admin)
    try:
        yield server
    finally:
        server.drop_all()
        admin.dispose()


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``: every test using a database runs on both."""
    return request.param


@pytest.fixture
def database_url(db_backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty database (not migrated) for this test alone."""
    if db_backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create()
    try:
        yield url
    finally:
        server.drop(url)


@pytest.fixture(scope="session")
def migrated_database_url(
    db_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The URL of this run's database on ``db_backend``, migrated with core and plugin branches."""
    if db_backend == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'tierflow.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create()
    db = create_db_engine(url)
    try:
        upgrade(db, MIGRATION_BRANCHES)
    finally:
        db.dispose()
    return url


@pytest.fixture(scope="session")
def _tables_to_empty(migrated_database_url: str) -> list[str]:
    """Every table of the migrated database, children before parents (for cleaning up)."""
    db = create_db_engine(migrated_database_url)
    try:
        reflected = MetaData()
        reflected.reflect(db)
    finally:
        db.dispose()
    skipped = {"alembic_version", *outside_models()}  # a search index empties with its table
    return [t.name for t in reversed(reflected.sorted_tables) if t.name not in skipped]


@pytest.fixture
def db_engine(migrated_database_url: str, _tables_to_empty: list[str]) -> Iterator[Engine]:
    """An engine on the migrated database; every row the test wrote is deleted afterwards."""
    db = create_db_engine(migrated_database_url)
    try:
        yield db
    finally:
        db.dispose()
        _empty(migrated_database_url, _tables_to_empty)


def _empty(url: str, tables: list[str]) -> None:
    db = create_db_engine(url)
    try:
        with db.begin() as connection:
            if connection.dialect.name == "postgresql":
                # a session the test left open would otherwise make the clean-up hang
                connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            for table in tables:
                connection.exec_driver_sql(f'DELETE FROM "{table}"')
    finally:
        db.dispose()


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    """A session on ``db_engine``; what the test did not commit is rolled back."""
    with make_session_factory(db_engine)() as session:
        yield session


# -------------------------------------------------------------- factories ---


Factory = Callable[..., Any]


def _factory(session: Session, build: Callable[[int, dict[str, Any]], Any]) -> Factory:
    """Wrap ``build(n, overrides)`` as ``make([session], **overrides)``: add, flush, return."""
    numbers = itertools.count(1)

    def make(target: Session | None = None, /, **overrides: Any) -> Any:
        row = build(next(numbers), overrides)
        into = target or session
        into.add(row)
        into.flush()
        return row

    return make


@pytest.fixture
def make_person(session: Session) -> Callable[..., Person]:
    """``make_person(**overrides)`` adds a person (``roles={"agent"}`` grants roles) and flushes."""

    def build(n: int, overrides: dict[str, Any]) -> Person:
        roles = overrides.pop("roles", ())
        person = Person(**{"email": f"person{n}@example.org", "name": f"Person {n}"} | overrides)
        person.grant(*roles)
        return person

    return _factory(session, build)


@pytest.fixture
def make_team(session: Session) -> Callable[..., Team]:
    """``make_team(**overrides)`` adds a team (slug ``team-<n>``) and flushes."""

    def build(n: int, overrides: dict[str, Any]) -> Team:
        return Team(**{"slug": f"team-{n}", "name": f"Team {n}"} | overrides)

    return _factory(session, build)


@pytest.fixture
def make_work_item(session: Session) -> Callable[..., WorkItem]:
    """``make_work_item(**overrides)`` adds a new incident ticket and flushes."""

    def build(n: int, overrides: dict[str, Any]) -> WorkItem:
        defaults = {
            "kind": "ticket",
            "type": "incident",
            "title": f"Work item {n}",
            "status": "new",
        }
        return WorkItem(**defaults | overrides)

    return _factory(session, build)


# --------------------------------------------------------------- temporal ---


SESSION_LOOP_FOLDERS = (HERE / "runtime", HERE / "schedules")
"""Folders whose async tests all run on the session's event loop, the shared server's.

(The interpreter tests say so in their own ``pytestmark``.)
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if is_async_test(item) and any(map(item.path.is_relative_to, SESSION_LOOP_FOLDERS)):
            item.add_marker(session_loop, append=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[EmbeddedTemporal]:
    """An embedded Temporal dev server shared by the whole run; stopped at the end."""
    async with EmbeddedTemporal(tmp_path_factory.mktemp("temporal")) as server:
        yield server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_client(temporal_server: EmbeddedTemporal) -> Client:
    """A client of ``temporal_server``, made on the session's event loop."""
    assert temporal_server.address is not None
    return await connect(temporal_server.address)


# ------------------------------------------------------- the command line ---


@dataclass(frozen=True)
class Run:
    """What one command did: its exit code and what it printed."""

    rc: int
    out: str
    err: str


Tierflow = Callable[..., Run]


@pytest.fixture
def tierflow(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Tierflow:
    """``tierflow(*args, database_url=None)`` runs the CLI from the repository root.

    The data directory is the test's own, so no real database is touched.
    """
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("TIERFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TIERFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("TIERFLOW_CONFIG", raising=False)

    def run(*args: str, database_url: str | None = None) -> Run:
        if database_url is not None:
            monkeypatch.setenv("TIERFLOW_DATABASE_URL", database_url)
        capsys.readouterr()
        rc = _main(list(args))
        out, err = capsys.readouterr()
        return Run(rc, out, err)

    return run
