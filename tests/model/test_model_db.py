"""Engines: URLs, SQLite's connection set-up and transactions, and errors a person can act on."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from engine.db import create_db_engine, make_session_factory, normalise_url, ping, redact
from engine.errors import DatabaseError
from engine.model import Team


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://app:pw@db:5432/tierflow", "postgresql+psycopg://app:***@db:5432/tierflow"),
        ("postgres://app@db/tierflow", "postgresql+psycopg://app@db/tierflow"),
        ("postgresql+psycopg://app@db/tierflow", "postgresql+psycopg://app@db/tierflow"),
        ("sqlite:////srv/tierflow/tierflow.db", "sqlite:////srv/tierflow/tierflow.db"),
    ],
)
def test_urls_pick_tierflows_driver(given: str, expected: str) -> None:
    assert normalise_url(given).render_as_string(hide_password=True) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("mysql://app@db/tierflow", "unsupported database 'mysql'.*SQLite and PostgreSQL"),
        ("not a url", "invalid database URL 'not a url'"),
    ],
)
def test_other_urls_are_refused(given: str, message: str) -> None:
    with pytest.raises(DatabaseError, match=message):
        create_db_engine(given)


def test_redact_hides_passwords() -> None:
    assert redact("postgresql://app:s3cret@db/x") == "postgresql://app:***@db/x"
    assert "s3cret" not in redact("postgresql://app:s3cret@db:what/x")
    assert redact("sqlite:///tierflow.db") == "sqlite:///tierflow.db"


def test_sqlite_connections_are_set_up_for_a_shared_file(tmp_path: Path) -> None:
    db = create_db_engine(f"sqlite:///{tmp_path / 'new' / 'folder' / 'tierflow.db'}")
    try:
        with db.connect() as connection:
            pragmas = {
                name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
    finally:
        db.dispose()

    assert pragmas == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 5000,
        "synchronous": 1,  # NORMAL
    }
    assert (tmp_path / "new" / "folder" / "tierflow.db").exists()


def test_savepoints_roll_back_alone(db_engine: Engine) -> None:
    with make_session_factory(db_engine)() as session:
        session.add(Team(slug="kept", name="Kept"))
        session.flush()
        nested = session.begin_nested()
        session.add(Team(slug="dropped", name="Dropped"))
        session.flush()
        nested.rollback()
        session.commit()

        assert session.scalars(select(Team.slug)).all() == ["kept"]


def test_a_rolled_back_transaction_leaves_nothing(db_engine: Engine) -> None:
    sessions = make_session_factory(db_engine)
    with sessions() as session:
        session.add(Team(slug="gone", name="Gone"))
        session.flush()
        session.rollback()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 0


def test_sqlite_writers_wait_for_each_other(tmp_path: Path) -> None:
    """A read-then-write transaction waits for a concurrent writer instead of failing."""
    db = create_db_engine(f"sqlite:///{tmp_path / 'tierflow.db'}")
    Team.__table__.create(db)
    sessions = make_session_factory(db)
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with sessions.begin() as session:
                count = session.scalar(select(func.count()).select_from(Team))
                session.add(Team(slug=f"second-{count}", name="Second"))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with sessions.begin() as first:
        first.add(Team(slug="first", name="First"))
        first.flush()
        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.2)
    thread.join(timeout=10)

    with sessions() as session:
        slugs = sorted(session.scalars(select(Team.slug)))
    db.dispose()

    assert errors == []
    assert slugs == ["first", "second-1"]


def test_ping_answers_quietly_when_the_database_is_up(db_engine: Engine) -> None:
    ping(db_engine)
    with db_engine.connect() as connection:
        assert connection.execute(text("SELECT 1")).scalar() == 1


def test_ping_names_an_unreachable_server_without_its_password() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = create_db_engine(f"postgresql://app:s3cret@127.0.0.1:{port}/tierflow")
    try:
        with pytest.raises(DatabaseError, match=rf"cannot reach .*:{port}/tierflow") as e:
            ping(db)
    finally:
        db.dispose()

    assert "s3cret" not in str(e.value)
    assert "app:***@" in str(e.value)
