"""Schema migrations: Alembic driven from code, with one branch for the core and one per plugin.

There is no ``alembic.ini``: :func:`alembic_config` builds the configuration
with the core's revisions (branch ``engine``, in ``engine/migrations/versions``)
plus the folder of every plugin's :class:`~engine.contrib.MigrationBranch`.
All branches share one ``alembic_version`` table. Revision ids read
``<branch>_<number>`` (``engine_0001``, ``helpdesk_0003``); a plugin's first
revision ``depends_on`` a core revision, so the core's tables exist before the
plugin's foreign keys point at them.

:func:`upgrade` applies everything pending in one transaction (PostgreSQL and
SQLite both have transactional DDL, the latter with an engine made by
:func:`engine.db.create_db_engine`), so a failed migration leaves the database
as it was. :func:`diff` compares a live database with the models, which is how
the tests and ``tierflow db check`` catch a missing migration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.script.revision import ResolutionError, Revision, RevisionMap
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, MetaData, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import SQLAlchemyError

from engine.contrib import MigrationBranch
from engine.db import redact
from engine.errors import DatabaseError
from engine.model import Base

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
CORE = MigrationBranch("engine", MIGRATIONS_DIR / "versions")
"""The core's own branch of revisions."""

_LOCK_ID = 7_469_657_266  # PostgreSQL advisory lock serialising concurrent upgrades ("tierf")
_MAX_LABEL = 27  # revision ids "<label>_NNNN" must fit alembic_version's VARCHAR(32)


@dataclass(frozen=True)
class SchemaDifference:
    """One way a live database differs from the models, as found by :func:`diff`.

    ``str()`` gives a readable line (``add table helpdesk_category``); ``entry``
    is Alembic's raw autogenerate entry for programs that want the details.
    """

    description: str
    entry: Any

    def __str__(self) -> str:
        return self.description


def alembic_config(
    branches: Sequence[MigrationBranch] = (),
    *,
    connection: Connection | None = None,
    metadata: MetaData | None = None,
) -> Config:
    """The Alembic configuration for the core plus ``branches``, built in code.

    ``connection`` and ``metadata`` are handed to ``engine/migrations/env.py``
    through ``config.attributes``.
    """
    config = Config()
    config.set_main_option("script_location", _escape(str(MIGRATIONS_DIR)))
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations",
        _escape(os.pathsep.join(str(branch.directory) for branch in _all_branches(branches))),
    )
    config.attributes["connection"] = connection
    config.attributes["target_metadata"] = metadata
    return config


def upgrade(engine: Engine, branches: Sequence[MigrationBranch] = ()) -> None:
    """Bring the schema to the latest revision of the core and of every branch given.

    Everything pending runs in one transaction; on PostgreSQL an advisory lock
    makes a second process starting at the same time wait, then find nothing
    to do. On SQLite foreign keys are switched off while migrating (batch
    migrations rebuild tables, which would otherwise fire ``ON DELETE``
    actions) and checked before committing. Failures raise
    :class:`~engine.errors.DatabaseError` naming the database and the cause.
    """
    try:
        with (
            engine.connect() as connection,
            _foreign_keys_off(connection),
            connection.begin(),
        ):
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
            command.upgrade(alembic_config(branches, connection=connection), "heads")
            _check_foreign_keys(connection)
    except CommandError as exc:
        raise DatabaseError(f"cannot migrate {redact(engine.url)!r}: {exc}{_hint(exc)}") from exc
    except SQLAlchemyError as exc:
        raise DatabaseError(f"migrating {redact(engine.url)!r} failed: {_first_line(exc)}") from exc


def script_heads(branches: Sequence[MigrationBranch] = ()) -> set[str]:
    """The latest revision of each branch in the code (core plus ``branches``)."""
    return set(ScriptDirectory.from_config(alembic_config(branches)).get_heads())


def current_heads(engine: Engine, branches: Sequence[MigrationBranch] = ()) -> set[str]:
    """The latest applied revision of each branch; empty for a new database.

    Alembic's version table leaves out a revision another branch depends on
    (the core's, once a plugin built on it); it is counted here, so a fully
    migrated database gives the same set as :func:`script_heads`. Revisions
    that neither the core nor ``branches`` know are returned as they are.
    """
    revisions = _revision_map(branches)
    applied = _applied(revisions, _version_table(engine))
    children = {
        parent
        for rev_id in applied
        if (rev := _lookup(revisions, rev_id)) is not None
        for parent in _to_tuple(rev.down_revision)
    }
    return applied - children


def is_up_to_date(engine: Engine, branches: Sequence[MigrationBranch] = ()) -> bool:
    """Whether every revision of the core and of ``branches`` has been applied.

    Raises :class:`~engine.errors.DatabaseError` when the database is at a
    revision that none of them knows, since :func:`upgrade` would fail too.
    """
    revisions = _revision_map(branches)
    recorded = _version_table(engine)
    unknown = sorted(rev_id for rev_id in recorded if _lookup(revisions, rev_id) is None)
    if unknown:
        raise DatabaseError(
            f"{redact(engine.url)!r} is at revision(s) {', '.join(unknown)} that no "
            f"installed migration knows{_UNKNOWN_HINT}"
        )
    return script_heads(branches) <= _applied(revisions, recorded)


def diff(engine: Engine, metadata: MetaData) -> list[SchemaDifference]:
    """How the live schema differs from ``metadata``; ``[]`` when they agree.

    Compares tables, columns, types, nullability, indexes, unique constraints
    and foreign keys (Alembic autogenerate). Import every plugin's models
    first so that their tables are part of ``metadata``.
    """
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"target_metadata": metadata, **context_options(connection)}
        )
        entries = compare_metadata(context, metadata)
    return [SchemaDifference(_describe(entry), entry) for entry in entries]


def revision(
    message: str,
    branch: str = CORE.label,
    branches: Sequence[MigrationBranch] = (),
    *,
    autogenerate: bool = True,
    engine: Engine | None = None,
    metadata: MetaData | None = None,
) -> Path:
    """Write a new revision file for ``branch`` and return its path.

    ``branch`` is ``"engine"`` or the label of one of ``branches``. With
    ``autogenerate`` the file holds the operations that bring ``engine`` (a
    database at the latest revision) to ``metadata`` (default: ``Base.metadata``
    with whatever models are imported); review it before committing, since it
    covers every table, not only the branch's own. The first revision of a
    plugin's branch starts the branch and depends on the core's latest revision.
    """
    every = {b.label: b for b in _all_branches(branches)}
    if branch not in every:
        raise DatabaseError(
            f"unknown migration branch {branch!r}; known: {', '.join(sorted(every))}"
        )
    if len(branch) > _MAX_LABEL:
        raise DatabaseError(f"branch label {branch!r} is longer than {_MAX_LABEL} characters")
    if autogenerate and engine is None:
        raise DatabaseError("autogenerating a revision needs a database at the latest revision")

    script = ScriptDirectory.from_config(alembic_config(branches))
    existing = [rev for rev in script.walk_revisions() if branch in rev.branch_labels]
    options: dict[str, Any] = {
        "rev_id": f"{branch}_{len(existing) + 1:04d}",
        "version_path": str(every[branch].directory),
    }
    if existing:
        options["head"] = f"{branch}@head"
    else:
        core_heads = script.revision_map.get_revisions(f"{CORE.label}@head")
        options |= {
            "head": "base",
            "branch_label": branch,
            "depends_on": [rev.revision for rev in core_heads if rev is not None],
        }
    every[branch].directory.mkdir(parents=True, exist_ok=True)

    def write(config: Config) -> Path:
        try:
            result = command.revision(config, message, autogenerate=autogenerate, **options)
        except CommandError as exc:
            raise DatabaseError(f"cannot write a revision for {branch!r}: {exc}") from exc
        assert isinstance(result, Script), result  # one revision from one env.py
        return Path(result.path)

    if engine is None:
        return write(alembic_config(branches))
    with engine.connect() as connection:
        return write(
            alembic_config(branches, connection=connection, metadata=metadata or Base.metadata)
        )


OUTSIDE_MODELS = "outside_models"
"""The key of ``MetaData.info`` naming what migrations build beside the models.

A plugin's migration may create dialect-specific objects no mapped class
describes: a full-text index (an SQLite FTS5 virtual table, its shadow tables
and triggers; a PostgreSQL ``tsvector`` column and its GIN index). The module
declaring the models adds their names to
``Base.metadata.info.setdefault(OUTSIDE_MODELS, set())`` — tables and indexes by
name, columns as ``table.column`` — and :func:`diff` and autogenerate leave
them alone instead of proposing to drop them.
"""


def outside_models() -> frozenset[str]:
    """The names migrations build beside the models, as the imported model modules declare."""
    return frozenset(Base.metadata.info.get(OUTSIDE_MODELS, ()))


def include_name(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
    """Alembic's ``include_name``: compare everything but what :data:`OUTSIDE_MODELS` names."""
    outside = outside_models()
    table = parent_names.get("table_name")
    return name not in outside and (table is None or f"{table}.{name}" not in outside)


def context_options(connection: Connection) -> dict[str, Any]:
    """The options ``env.py`` and :func:`diff` configure Alembic with."""
    return {
        "render_as_batch": connection.dialect.name == "sqlite",
        "compare_type": True,
        "compare_server_default": False,
        "render_item": render_item,
        "include_name": include_name,
    }


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | bool:
    """Render Tierflow's column types as the plain SQLAlchemy types they store.

    Revisions are frozen history and must not import model code, so a
    ``UTCDateTime`` column is written as ``sa.DateTime(timezone=True)``.
    ``JSONB`` is spelled out because Alembic renders it correctly only when
    autogenerating against PostgreSQL.
    """
    if type_ != "type":
        return False
    if isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl_instance!r}"
    if isinstance(obj, JSONB):
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return "postgresql.JSONB(astext_type=sa.Text())"
    return False


@contextmanager
def _foreign_keys_off(connection: Connection) -> Iterator[None]:
    if connection.dialect.name != "sqlite":
        yield
        return
    # PRAGMA foreign_keys is a no-op inside a transaction: set it on the raw
    # driver connection before SQLAlchemy begins one.
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection: Connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise DatabaseError(
            f"the migration would leave {len(broken)} row(s) with broken foreign keys "
            f"in {', '.join(tables)}; nothing was changed"
        )


def _all_branches(branches: Sequence[MigrationBranch]) -> list[MigrationBranch]:
    every = [CORE]
    for branch in branches:
        if branch.label in {b.label for b in every}:
            raise DatabaseError(f"two migration branches are labelled {branch.label!r}")
        every.append(branch)
    return every


def _version_table(engine: Engine) -> set[str]:
    """The revisions recorded in ``alembic_version`` (Alembic's "current heads")."""
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"cannot read the schema revision of {redact(engine.url)!r}: {_first_line(exc)}"
        ) from exc


def _revision_map(branches: Sequence[MigrationBranch]) -> RevisionMap:
    return ScriptDirectory.from_config(alembic_config(branches)).revision_map


def _lookup(revisions: RevisionMap, rev_id: str) -> Revision | None:
    try:
        return revisions.get_revision(rev_id)
    except ResolutionError:
        return None


def _applied(revisions: RevisionMap, recorded: set[str]) -> set[str]:
    """``recorded`` and every revision they build on (down revisions and dependencies)."""
    applied: set[str] = set()
    pending = list(recorded)
    while pending:
        rev_id = pending.pop()
        if rev_id in applied:
            continue
        applied.add(rev_id)
        rev = _lookup(revisions, rev_id)
        if rev is None:
            continue
        pending.extend(_to_tuple(rev.down_revision))
        for dependency in _to_tuple(rev.dependencies):
            pending.extend(r.revision for r in revisions.get_revisions(dependency) if r)
    return applied


def _to_tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


_UNKNOWN_HINT = (
    "; install the plugin that created it again, or use the Tierflow version that "
    "migrated this database"
)


def _hint(exc: CommandError) -> str:
    return _UNKNOWN_HINT if "Can't locate revision" in str(exc) else ""


def _first_line(exc: SQLAlchemyError) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip()
    return text.splitlines()[0] if text else type(cause).__name__


def _escape(value: str) -> str:
    return value.replace("%", "%%")  # Config values go through ConfigParser interpolation


def _describe(entry: Any) -> str:
    if isinstance(entry, list):
        return "; ".join(_describe(item) for item in entry)
    action, *args = entry
    verb = action.replace("_", " ")
    if action in ("add_table", "remove_table"):
        return f"{verb} {args[0].name}"
    if action in ("add_column", "remove_column"):
        _schema, table, column = args
        return f"{verb} {table}.{column.name}"
    if action in ("add_index", "remove_index", "add_constraint", "remove_constraint"):
        return f"{verb} {args[0].name} on {args[0].table.name}"
    if action in ("add_fk", "remove_fk"):
        return f"{verb} {args[0].name} on {args[0].parent.name}"
    if action.startswith("modify_"):
        _schema, table, column, _info, old, new = args
        return f"{verb} of {table}.{column}: {old!r} -> {new!r}"
    return repr(entry)
