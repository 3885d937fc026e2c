"""Migrations: the core and plugin branches build exactly the schema the models describe."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, ForeignKey, Integer, MetaData, String, Table, inspect, text

from engine.contrib import MigrationBranch
from engine.db import create_db_engine, make_session_factory
from engine.errors import DatabaseError
from engine.migrate import (
    CORE,
    current_heads,
    diff,
    is_up_to_date,
    revision,
    script_heads,
    upgrade,
)
from engine.model import Base, Team, UTCDateTime
from engine.plugins import create_plugin_manager, load_models, migration_branches
from plugins.helpdesk import models as helpdesk_models

HELPDESK_BRANCH = MigrationBranch("helpdesk", Path(helpdesk_models.__file__).parent / "migrations")

CORE_HEAD = next(iter(script_heads()))
"""The latest core revision (``engine_NNNN``)."""
HELPDESK_HEAD = next(iter(script_heads([HELPDESK_BRANCH]) - script_heads()))
"""The help desk branch's latest revision (``helpdesk_NNNN``)."""
ALL_HEADS = {CORE_HEAD, HELPDESK_HEAD}
HELPDESK_TABLES = {name for name in Base.metadata.tables if name.startswith("helpdesk_")}


@pytest.fixture
def empty_engine(database_url: str) -> Iterator[Engine]:
    db = create_db_engine(database_url)
    yield db
    db.dispose()


def test_upgrade_from_empty_builds_exactly_the_models(empty_engine: Engine) -> None:
    assert current_heads(empty_engine) == set()
    assert not is_up_to_date(empty_engine, [HELPDESK_BRANCH])

    upgrade(empty_engine, [HELPDESK_BRANCH])

    assert diff(empty_engine, Base.metadata) == []
    assert current_heads(empty_engine, [HELPDESK_BRANCH]) == ALL_HEADS
    assert script_heads([HELPDESK_BRANCH]) == ALL_HEADS
    assert is_up_to_date(empty_engine, [HELPDESK_BRANCH])
    if empty_engine.dialect.name == "sqlite":  # switched off while migrating, back on after
        with empty_engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_diff_finds_what_the_models_do_not_have(empty_engine: Engine) -> None:
    upgrade(empty_engine, [HELPDESK_BRANCH])
    with empty_engine.begin() as connection:
        connection.execute(text("ALTER TABLE team ADD COLUMN budget INTEGER"))
        connection.execute(text("CREATE INDEX ix_custom ON person (name)"))

    found = sorted(str(difference) for difference in diff(empty_engine, Base.metadata))

    assert found == ["remove column team.budget", "remove index ix_custom on person"]


def test_concurrent_upgrades_do_not_collide(database_url: str) -> None:
    """Web and worker processes starting together both migrate; one waits for the other."""
    engines = [create_db_engine(database_url) for _ in range(3)]
    errors: list[BaseException] = []

    def migrate(db: Engine) -> None:
        try:
            upgrade(db, [HELPDESK_BRANCH])
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(db,)) for db in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert errors == []
        assert is_up_to_date(engines[0], [HELPDESK_BRANCH])
    finally:
        for db in engines:
            db.dispose()


def test_upgrading_again_changes_nothing(empty_engine: Engine) -> None:
    upgrade(empty_engine, [HELPDESK_BRANCH])
    with make_session_factory(empty_engine).begin() as session:
        session.add(Team(slug="ops", name="Operations"))

    upgrade(empty_engine, [HELPDESK_BRANCH])

    with empty_engine.connect() as connection:
        assert connection.scalar(text("SELECT slug FROM team")) == "ops"
        versions = connection.scalars(text("SELECT version_num FROM alembic_version")).all()
    # Alembic leaves out a head another branch's depends_on implies (engine_0001 once
    # helpdesk_0001 is applied); a later core revision is a head of its own again
    assert set(versions) <= ALL_HEADS
    assert HELPDESK_HEAD in versions
    assert current_heads(empty_engine, [HELPDESK_BRANCH]) == ALL_HEADS


def test_a_plugin_installed_later_gets_its_tables(empty_engine: Engine) -> None:
    upgrade(empty_engine)
    assert "helpdesk_category" not in inspect(empty_engine).get_table_names()
    assert is_up_to_date(empty_engine)
    assert not is_up_to_date(empty_engine, [HELPDESK_BRANCH])
    differences = [str(d) for d in diff(empty_engine, Base.metadata)]
    assert {d for d in differences if d.startswith("add table ")} == {
        f"add table {name}" for name in HELPDESK_TABLES
    }
    assert "add index ix_helpdesk_category_parent_id on helpdesk_category" in differences
    assert all(d.startswith("add ") and " helpdesk_" in d for d in differences), differences

    upgrade(empty_engine, [HELPDESK_BRANCH])

    assert "helpdesk_category" in inspect(empty_engine).get_table_names()
    assert is_up_to_date(empty_engine, [HELPDESK_BRANCH])


def test_a_revision_of_an_uninstalled_plugin_is_named(empty_engine: Engine) -> None:
    upgrade(empty_engine, [HELPDESK_BRANCH])

    with pytest.raises(DatabaseError, match=rf"{HELPDESK_HEAD} .*install the plugin"):
        is_up_to_date(empty_engine)
    with pytest.raises(DatabaseError, match=rf"Can't locate revision.*{HELPDESK_HEAD}"):
        upgrade(empty_engine)


def test_a_failing_migration_leaves_the_database_untouched(
    empty_engine: Engine, tmp_path: Path
) -> None:
    upgrade(empty_engine)
    broken = MigrationBranch("broken", tmp_path)
    (tmp_path / "broken_0001_oops.py").write_text(
        "from alembic import op\n"
        "import sqlalchemy as sa\n"
        "revision = 'broken_0001'\n"
        "down_revision = None\n"
        "branch_labels = ('broken',)\n"
        "depends_on = 'engine_0001'\n"
        "def upgrade():\n"
        "    op.create_table('half_done', sa.Column('id', sa.Integer, primary_key=True))\n"
        "    op.execute('SELECT * FROM no_such_table')\n"
    )

    with pytest.raises(DatabaseError, match="no_such_table"):
        upgrade(empty_engine, [broken])

    assert "half_done" not in inspect(empty_engine).get_table_names()
    assert current_heads(empty_engine) == {CORE_HEAD}


def test_revision_starts_a_plugin_branch_that_upgrades_cleanly(
    empty_engine: Engine, tmp_path: Path
) -> None:
    upgrade(empty_engine, [HELPDESK_BRANCH])
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    Table(
        "demo_asset",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("tag", String(32), nullable=False, unique=True),
        Column("owner_id", ForeignKey("person.id", ondelete="SET NULL"), index=True),
        Column("bought_at", UTCDateTime()),
    )
    demo = MigrationBranch("demo", tmp_path / "demo_migrations")
    branches = [HELPDESK_BRANCH, demo]

    path = revision("assets", "demo", branches, engine=empty_engine, metadata=metadata)

    source = path.read_text()
    assert path.name == "demo_0001_assets.py"
    assert "branch_labels: str | Sequence[str] | None = ('demo',)" in source
    assert f"depends_on: str | Sequence[str] | None = '{CORE_HEAD}'" in source
    assert "sa.DateTime(timezone=True)" in source
    assert "engine" not in source.replace(f"'{CORE_HEAD}'", "")  # frozen: no model imports
    assert "helpdesk_category" not in source
    upgrade(empty_engine, branches)
    assert diff(empty_engine, metadata) == []
    assert current_heads(empty_engine, branches) == ALL_HEADS | {"demo_0001"}


def test_revision_refuses_an_unknown_branch() -> None:
    with pytest.raises(DatabaseError, match="unknown migration branch 'nope'"):
        revision("x", "nope", autogenerate=False)


def test_revisions_are_frozen_history() -> None:
    """Revision files use plain SQLAlchemy types and never import the models they predate."""
    files = [*CORE.directory.glob("*.py"), *HELPDESK_BRANCH.directory.glob("*.py")]
    assert len(files) >= 2
    for file in files:
        source = file.read_text()
        imports = re.findall(r"^(?:from|import) (\S+)", source, flags=re.MULTILINE)
        allowed = {"__future__", "collections.abc", "alembic", "sqlalchemy", "sqlalchemy.dialects"}
        assert set(imports) <= allowed, file


def test_installed_plugins_migrate_to_exactly_their_models(empty_engine: Engine) -> None:
    """What `tierflow db upgrade` builds is what the models of every installed plugin describe."""
    pm = create_plugin_manager()
    load_models(pm)
    branches = migration_branches(pm)
    upgrade(empty_engine, branches)
    assert diff(empty_engine, Base.metadata) == []
    assert is_up_to_date(empty_engine, branches)
