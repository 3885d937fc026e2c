"""Workflow files and their deployed versions: find, check, deploy, look up.

The files are the site's own ``workflows/`` folder (searched recursively, less
any ``examples`` folder in it; it wins when a plugin ships a workflow of the
same name, and checking and deploying warn that it does), every folder a plugin
returns from ``tierflow_register_workflow_dirs`` and every forms file or folder
from ``tierflow_register_forms``; fragments files among them lend their
fragments to every workflow, whose deployed text has the steps written out.
Names they may use come from a :class:`~engine.dsl.catalog.Catalog`: the
actions of the core and of every plugin, and the teams in the database when
one is reachable.

Deploying stores each workflow whose text changed as a new, immutable
:class:`~engine.model.WorkflowDefinition` row and makes it the active version
of its name; running it again with nothing changed writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from engine.choices import choice_list_names
from engine.config import Settings
from engine.db import create_db_engine, normalise_url, ping, redact
from engine.dsl.catalog import Catalog
from engine.dsl.loader import LoadedWorkflow, parse_file
from engine.dsl.parse import parse_definition
from engine.dsl.pinning import pinned_hash, shared_forms_json
from engine.dsl.problems import Problem, display_path
from engine.dsl.spec import Workflow
from engine.dsl.validate import validate_files
from engine.errors import DatabaseError, PluginError, TierflowError
from engine.migrate import current_heads, is_up_to_date, upgrade
from engine.model import Team, WorkflowDefinition
from engine.model.base import utcnow
from engine.plugins import PluginManager, load_models, migration_branches, unique_by
from engine.runtime.activities import CoreActivities

WORKFLOWS_DIR = Path("workflows")
"""The site's own folder of workflows and forms, relative to the working directory."""
EXAMPLES = "examples"
"""A folder of this name inside the site's folder holds examples to copy, never deployed."""

SUFFIXES = (".yaml", ".yml")
SCENARIO_SUFFIXES = (".scenarios.yaml", ".scenarios.yml")
"""Scenario files (``tierflow workflows test``) sit beside workflows but are not workflows."""
_LOCK_ID = 7_469_657_267  # PostgreSQL advisory lock serialising concurrent deploys


class WorkflowNotFound(TierflowError):
    """No workflow, or no version of it, matches what was asked for."""


# ------------------------------------------------------------------ files ---


@dataclass(frozen=True)
class Sources:
    """The YAML files to load, the site's first, and which of them are the site's own."""

    files: tuple[Path, ...]
    site: frozenset[Path]
    plugins: Mapping[Path, str] = field(default_factory=dict)
    """Which plugin each of the plugins' files comes from."""


def find_sources(pm: PluginManager, workflows_dir: Path = WORKFLOWS_DIR) -> Sources:
    """Every workflow and forms file: the site's folder, then each plugin's folders and forms.

    A plugin folder that does not exist is an error naming the plugin; a
    missing site folder just means the site has no workflows of its own yet.
    Its ``examples`` folder (:data:`EXAMPLES`) is not read: examples are there
    to be copied, and one would otherwise replace a plugin's workflow.
    """
    site = _yaml_files(workflows_dir, skip=EXAMPLES) if workflows_dir.is_dir() else []
    found = list(site)
    owners: dict[Path, str] = {}
    for hook in ("tierflow_register_workflow_dirs", "tierflow_register_forms"):
        for plugin, location in pm.collect(hook):
            path = Path(location)
            if not path.exists():
                raise PluginError(
                    f"plugin '{plugin}' returned {path} from {hook}, which does not exist",
                    plugin=plugin,
                )
            files = _yaml_files(path) if path.is_dir() else [path]
            found += files
            owners.update((file.resolve(), plugin) for file in files)
    unique = list(dict.fromkeys(path.resolve() for path in found))
    return Sources(tuple(unique), frozenset(path.resolve() for path in site), owners)


def expand(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and the YAML files inside folders; a missing path is an error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += _yaml_files(path)
        elif path.exists():
            files.append(path)
        else:
            raise TierflowError(f"{path}: no such file or folder")
    return list(dict.fromkeys(path.resolve() for path in files))


def _yaml_files(folder: Path, skip: str | None = None) -> list[Path]:
    """The workflow and forms files under ``folder``, less hidden ones and a ``skip`` folder's."""
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix in SUFFIXES
        and not path.name.endswith(SCENARIO_SUFFIXES)
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and skip not in path.relative_to(folder).parts[:-1]
    )


# ---------------------------------------------------------------- catalog ---


def action_names(pm: PluginManager) -> frozenset[str]:
    """The actions a workflow may name: the engine's own and every plugin's.

    The engine's internal activities (opening tasks, loading definitions) are
    not actions. Activities are only listed here, never run, so the session
    factory is an unbound one.
    """
    unbound: sessionmaker[Session] = sessionmaker()
    core = CoreActivities(pm, unbound).all()
    plugins = unique_by(pm, "tierflow_register_actions", "name", pm=pm, sessions=unbound)
    return frozenset(getattr(fn, "__temporal_activity_definition").name for fn in core) | set(
        plugins
    )


@dataclass(frozen=True)
class Teams:
    """The team slugs to check names against (``None``: not checked) and why not."""

    slugs: frozenset[str] | None
    note: str = ""


def database_teams(settings: Settings) -> Teams:
    """The active teams in the configured database, or ``None`` with the reason it was skipped.

    Nothing is created: a SQLite file that does not exist yet, an unreachable
    server, a database without the tables or without any team all mean
    "do not check team names" rather than an error.
    """
    url = settings.effective_database_url
    if _missing_sqlite(url):
        return Teams(None, f"no database at {redact(url)} yet; team names were not checked")
    options = {} if url.startswith("sqlite") else {"connect_args": {"connect_timeout": 5}}
    try:
        db = create_db_engine(url, **options)
    except DatabaseError as exc:
        return Teams(None, f"{exc}; team names were not checked")
    try:
        with db.connect() as connection:
            slugs = connection.scalars(select(Team.slug).where(Team.active)).all()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return Teams(None, f"cannot read teams from {redact(url)}: {reason}; not checked")
    finally:
        db.dispose()
    if not slugs:
        return Teams(None, "the database has no teams yet; team names were not checked")
    return Teams(frozenset(slugs))


def build_catalog(pm: PluginManager, teams: frozenset[str] | None) -> Catalog:
    """What workflows may name outside their files: actions, choice lists, and ``teams``
    (``None``: any)."""
    return Catalog(actions=action_names(pm), teams=teams, choice_lists=choice_list_names(pm))


def _missing_sqlite(url: str) -> bool:
    parsed = normalise_url(url)
    database = parsed.database or ""
    return (
        parsed.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
        and not Path(database).expanduser().exists()
    )


# ------------------------------------------------------------- validating ---


@dataclass(frozen=True)
class Checked:
    """The outcome of checking files: the valid workflows and every problem found."""

    files: tuple[Path, ...]
    loaded: list[LoadedWorkflow]
    problems: list[Problem]
    warnings: list[str] = field(default_factory=list)
    """Site workflows that replace a plugin's workflow of the same name, in words."""


def check(
    sources: Sources,
    targets: Sequence[Path],
    catalog: Catalog,
    progress: Callable[[Path], None] | None = None,
) -> Checked:
    """Validate ``targets`` together with all ``sources`` (their shared forms, workflow names).

    Problems are reported for ``targets`` only. A plugin's workflow whose name
    the site's folder also defines is left out: the site's file wins.
    ``progress(path)`` is told of each of ``targets`` once, as it is checked
    (or at once, for one that is left out).
    """
    kept = _without_overridden(sources)
    replaced = set(sources.files) - set(kept)
    left_out = [path for path in targets if path.resolve() in replaced]
    targets = [path for path in targets if path.resolve() not in replaced]
    wanted = {path.resolve() for path in targets}
    pending = set(wanted)

    def checked(path: Path) -> None:
        if progress is not None and path.resolve() in pending:
            pending.discard(path.resolve())
            progress(path)

    for path in left_out if progress is not None else ():
        progress(path)
    files = list(dict.fromkeys([*kept, *targets]))
    loaded, problems = validate_files(files, catalog, progress=checked)
    mine = [item for item in loaded if item.path.resolve() in wanted]
    return Checked(tuple(targets), mine, problems_in(problems, targets), replacements(sources))


def _without_overridden(sources: Sources) -> list[Path]:
    """``sources`` less the plugin workflows that a site file of the same name replaces."""
    theirs = [path for path in sources.files if path not in sources.site]
    if not theirs:
        return list(sources.files)
    names = {_name(path) for path in sources.site} - {None}
    return [path for path in sources.files if path in sources.site or _name(path) not in names]


def replacements(sources: Sources) -> list[str]:
    """A warning for each site workflow that replaces a plugin's workflow of the same name.

    Replacing one is allowed (that is how a site changes a shipped workflow),
    but it must never happen unnoticed: ``site workflow incident
    (workflows/incident.yaml) replaces the helpdesk plugin's
    (plugins/helpdesk/workflows/incident.yaml)``.
    """
    if not sources.site:
        return []
    theirs = {
        name: path
        for path in sources.files
        if path not in sources.site and (name := _name(path)) is not None
    }
    warnings = []
    for path in sorted(sources.site):
        name = _name(path)
        if name is not None and name in theirs:
            plugin = sources.plugins.get(theirs[name], "a")
            warnings.append(
                f"site workflow {name} ({display_path(path)}) replaces the {plugin} plugin's "
                f"({display_path(theirs[name])})"
            )
    return warnings


def _name(path: Path) -> str | None:
    data = parse_file(path).data
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def stored_workflow(row: WorkflowDefinition) -> Workflow:
    """The workflow a deployed definition holds (its source was validated when deployed)."""
    return parse_definition(row.source, row.content_hash, row.shared_forms)


# --------------------------------------------------------------- database ---


def open_database(settings: Settings, pm: PluginManager, *, migrate: bool) -> Engine | None:
    """An engine on the configured database, or ``None`` when nothing was ever deployed there.

    With ``migrate`` (deploying) the database is created if need be and brought
    up to date. Without it (listing, showing) nothing is created: a missing
    SQLite file or an empty database gives ``None``; one that needs migrating
    is an error saying to run ``tierflow db upgrade``.
    """
    url = settings.effective_database_url
    if not migrate and _missing_sqlite(url):
        return None
    db = create_db_engine(url)
    try:
        ping(db)
        load_models(pm)
        branches = migration_branches(pm)
        if migrate:
            upgrade(db, branches)
        elif not current_heads(db, branches):
            db.dispose()
            return None
        elif not is_up_to_date(db, branches):
            raise DatabaseError(
                f"the database {redact(url)} needs migrating first: run 'tierflow db upgrade'"
            )
    except BaseException:
        db.dispose()
        raise
    return db


Status = Literal["created", "unchanged", "reactivated"]


@dataclass(frozen=True)
class Deployed:
    """What deploying did with one workflow."""

    name: str
    status: Status
    version: str
    content_hash: str
    path: str
    previous_hash: str | None = None


def deploy(
    session: Session,
    loaded: Sequence[LoadedWorkflow],
    *,
    by: str,
    now: datetime | None = None,
) -> list[Deployed]:
    """Make each workflow in ``loaded`` the active version of its name; return what changed.

    A workflow whose text (``content_hash``) is already the active version is
    ``unchanged``; one never deployed before gets a new row (``created``); one
    that was deployed before but is not active any more (an edit was undone)
    becomes active again (``reactivated``). Rows are never edited otherwise,
    so runs pinned to a version keep it. The caller commits.
    """
    longest = WorkflowDefinition.__table__.c.kind.type.length
    for item in loaded:
        if len(item.workflow.kind) > longest:
            raise TierflowError(
                f"{display_path(item.path)}: kind '{item.workflow.kind}' is longer than "
                f"{longest} characters: use a shorter kind"
            )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK_ID})"))
    moment = now or utcnow()
    results = []
    for item in sorted(loaded, key=lambda item: item.workflow.name):
        name = item.workflow.name
        rows = session.scalars(select(WorkflowDefinition).filter_by(name=name)).all()
        active = next((row for row in rows if row.active), None)
        forms = shared_forms_json(item.forms)
        digest = pinned_hash(item.source, forms)
        row = next((row for row in rows if row.content_hash == digest), None)
        status: Status = "created" if row is None else "reactivated"
        if row is None:
            row = WorkflowDefinition(
                name=name,
                version=item.workflow.version,
                content_hash=digest,
                source=item.source,
                shared_forms=forms,
                path=display_path(item.path),
                kind=item.workflow.kind,
            )
            session.add(row)
        if row is active:
            status, active = "unchanged", None
        else:
            if active is not None:
                active.active = False
            row.active, row.deployed_at, row.deployed_by = True, moment, by
        session.flush()
        previous = active.content_hash if active is not None else None
        results.append(
            Deployed(name, status, row.version, row.content_hash, row.path or "", previous)
        )
    return results


@dataclass(frozen=True)
class Summary:
    """One line of ``tierflow workflows list``."""

    name: str
    kind: str
    versions: int
    active: WorkflowDefinition | None


def summaries(session: Session) -> list[Summary]:
    """Every deployed workflow name with its number of versions and its active version."""
    counts = session.execute(
        select(WorkflowDefinition.name, func.count()).group_by(WorkflowDefinition.name)
    ).all()
    active = {
        row.name: row
        for row in session.scalars(select(WorkflowDefinition).filter_by(active=True)).all()
    }
    rows = []
    for name, count in sorted(counts):
        latest = active.get(name) or versions(session, name)[-1]
        rows.append(Summary(name, latest.kind, count, active.get(name)))
    return rows


def versions(session: Session, name: str) -> list[WorkflowDefinition]:
    """Every stored version of ``name``, oldest first."""
    return list(
        session.scalars(
            select(WorkflowDefinition)
            .filter_by(name=name)
            .order_by(WorkflowDefinition.created_at, WorkflowDefinition.id)
        ).all()
    )


def find_version(session: Session, name: str, prefix: str | None) -> WorkflowDefinition:
    """The version of ``name`` whose hash starts with ``prefix`` (default: the active one)."""
    rows = versions(session, name)
    if not rows:
        raise WorkflowNotFound(f"no version of workflow '{name}' is deployed")
    if prefix is None:
        active = [row for row in rows if row.active]
        if not active:
            raise WorkflowNotFound(f"workflow '{name}' has no active version")
        return active[0]
    matches = [row for row in rows if row.content_hash.startswith(prefix.lower())]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(row.content_hash[:8] for row in rows)
    if not matches:
        raise WorkflowNotFound(
            f"workflow '{name}' has no version {prefix!r}; its versions are {known}"
        )
    raise WorkflowNotFound(f"{prefix!r} matches several versions of '{name}': give more digits")


def problems_in(problems: Sequence[Problem], files: Iterable[Path]) -> list[Problem]:
    """The problems found in ``files``, and in the fragments they use (``via`` one of them)."""
    wanted = {display_path(path) for path in files}
    return [problem for problem in problems if wanted & {problem.file, problem.via}]


# ----------------------------------------------------------- all at once ---


@dataclass(frozen=True)
class Deployment:
    """What :func:`deploy_all` found and did: every problem, or what each workflow became."""

    problems: list[Problem]
    results: list[Deployed]
    files: int
    warnings: list[str] = field(default_factory=list)
    """Site workflows that replaced a plugin's (see :func:`replacements`)."""


def team_slugs(session: Session) -> frozenset[str] | None:
    """The active teams' slugs to check workflows against; ``None`` (unchecked) when none exist."""
    slugs = frozenset(session.scalars(select(Team.slug).where(Team.active)).all())
    return slugs or None


def check_all(session: Session, pm: PluginManager, workflows_dir: Path = WORKFLOWS_DIR) -> Checked:
    """Validate every workflow file (the site's and every plugin's) against the database's teams."""
    sources = find_sources(pm, workflows_dir)
    catalog = build_catalog(pm, team_slugs(session))
    return check(sources, list(sources.files), catalog)


def deploy_all(
    session: Session,
    pm: PluginManager,
    *,
    by: str,
    workflows_dir: Path = WORKFLOWS_DIR,
) -> Deployment:
    """Check every workflow file, then deploy them all, or nothing if any has a problem.

    The caller commits. Running it again with nothing changed writes nothing.
    """
    checked = check_all(session, pm, workflows_dir)
    if checked.problems:
        return Deployment(checked.problems, [], len(checked.files), checked.warnings)
    deployed = deploy(session, checked.loaded, by=by)
    return Deployment([], deployed, len(checked.files), checked.warnings)
