"""Engines and sessions for the two databases Tierflow supports: SQLite and PostgreSQL.

SQLite (a file in the data directory) is the embedded default. Each connection
is set up for a multi-threaded web server and worker sharing one file: WAL
journal (readers never block the writer), foreign keys enforced, a 5 s busy
timeout and ``synchronous=NORMAL``. SQLAlchemy, not the ``sqlite3`` driver,
begins transactions, with ``BEGIN IMMEDIATE``: reads are repeatable,
savepoints and DDL are transactional, and a writer waits for the lock (up to
the busy timeout) instead of failing mid-transaction when another process
committed first. Read-only work (pages, the health check) uses
:func:`make_read_session_factory`, whose transactions begin ``DEFERRED`` and so
never wait for a writer.

PostgreSQL is the production database, reached through psycopg 3;
``postgresql://`` URLs are accepted and mean ``postgresql+psycopg://``.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.errors import DatabaseError

SQLITE_PRAGMAS: tuple[tuple[str, str], ...] = (
    ("busy_timeout", "5000"),
    ("foreign_keys", "ON"),
    ("journal_mode", "WAL"),
    ("synchronous", "NORMAL"),
)
"""Set on every new SQLite connection, in this order (the timeout first, so the rest can wait)."""

SQLITE_BEGIN = "BEGIN IMMEDIATE"
SQLITE_BEGIN_OPTION = "tierflow_sqlite_begin"
"""Execution option: ``"deferred"`` begins SQLite transactions that only read."""

_POSTGRES_ALIASES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg2"}
_SUPPORTED = "sqlite:///path/to/file.db or postgresql://user@host/database"


def redact(url: str | URL) -> str:
    """``url`` as text with its password replaced by ``***``, fit for logs and messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(//[^:/@]*:)[^@]*@", r"\1***@", str(url))


def normalise_url(url: str | URL) -> URL:
    """Parse ``url`` and pick Tierflow's driver: ``postgresql://`` becomes ``postgresql+psycopg://``.

    Raises :class:`DatabaseError` for text that is not a URL or names a
    database other than SQLite or PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise DatabaseError(
            f"invalid database URL {redact(url)!r}: {exc}; expected {_SUPPORTED}"
        ) from exc
    if parsed.drivername in _POSTGRES_ALIASES:
        return parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        return parsed
    raise DatabaseError(
        f"unsupported database {parsed.drivername!r} in {redact(parsed)!r}: "
        f"Tierflow runs on SQLite and PostgreSQL ({_SUPPORTED})"
    )


def create_db_engine(url: str | URL, **kw: Any) -> Engine:
    """Create the SQLAlchemy engine for ``url``; keyword arguments go to ``create_engine``.

    For a SQLite file the parent folder is created and every connection gets
    :data:`SQLITE_PRAGMAS`. For PostgreSQL, pooled connections are checked
    before use (``pool_pre_ping``), so a restarted server costs no failed request.
    Nothing connects yet; call :func:`ping` to find out whether the database is
    reachable.
    """
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        _create_sqlite_folder(parsed)
    else:
        kw.setdefault("pool_pre_ping", True)
    try:
        db = create_engine(parsed, **kw)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        raise DatabaseError(
            f"cannot use {redact(parsed)!r}: the PostgreSQL driver is not installed; "
            "install it with: pip install 'tierflow[postgres]'"
        ) from exc
    if db.dialect.name == "sqlite":
        event.listen(db, "connect", _configure_sqlite_connection)
        event.listen(db, "begin", _begin_sqlite_transaction)
    return db


def make_session_factory(db: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``db``; objects stay readable after commit (``expire_on_commit=False``)."""
    return sessionmaker(db, expire_on_commit=False)


def make_read_session_factory(db: Engine) -> sessionmaker[Session]:
    """Sessions for reading only: on SQLite they never wait for a writer's lock."""
    return sessionmaker(read_only(db), expire_on_commit=False)


def read_only(db: Engine) -> Engine:
    """``db`` with transactions that begin ``DEFERRED`` on SQLite (no change elsewhere)."""
    return db.execution_options(**{SQLITE_BEGIN_OPTION: "deferred"})


def ping(db: Engine) -> None:
    """Check that the database answers ``SELECT 1``; raise :class:`DatabaseError` saying why not."""
    try:
        with read_only(db).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise DatabaseError(
            f"cannot reach the database {redact(db.url)!r}: {reason}; check that the server "
            "is running and the URL (TIERFLOW_DATABASE_URL) is right"
        ) from exc


def _create_sqlite_folder(url: URL) -> None:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(
            f"cannot create the folder {str(folder)!r} for the SQLite database: {exc.strerror}"
        ) from exc


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: object) -> None:
    # Let SQLAlchemy emit BEGIN (see _begin_sqlite_transaction): the driver's own
    # "legacy" transaction control begins only before INSERT/UPDATE/DELETE.
    if hasattr(sqlite3, "LEGACY_TRANSACTION_CONTROL"):  # Python 3.12+
        dbapi_connection.autocommit = sqlite3.LEGACY_TRANSACTION_CONTROL
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION)
    connection.exec_driver_sql("BEGIN DEFERRED" if mode == "deferred" else SQLITE_BEGIN)
