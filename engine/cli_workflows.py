"""``tierflow workflows``: validate, deploy, list, show, diff, schema.

Problems in files are printed one per line as ``file:line:col: message`` on
standard output; the summary then goes to standard error as the command's
error and it exits 1. Progress and notes (such as "team names were not
checked") go to standard error too, so standard output stays easy to read by
programs and editors.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy.exc import SQLAlchemyError

from engine.cli_schedules import NO_SCHEDULES, NoTemporalServer, show_report, sync_deployed
from engine.db import make_session_factory
from engine.dsl.compare import compare
from engine.dsl.describe import describe, plural
from engine.dsl.diagram import mermaid
from engine.dsl.pinning import pinned_hash, shared_forms_json
from engine.dsl.problems import display_path
from engine.dsl.schema import json_schema_text
from engine.dsl.spec import Workflow
from engine.errors import DatabaseError, TierflowError

if TYPE_CHECKING:
    from engine import workflows as service
    from engine.cli import Context

# engine.workflows (migrations, the worker's activities) is imported by the
# commands that use it, as engine.cli does with engine.server: it would add
# half a second to every tierflow command.

WORKFLOWS_DIR = Path("workflows")

PROGRESS_FROM = 20
"""Show a progress bar (on a terminal) when validating at least this many files."""


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment (a container)
        return "unknown"


def _remember_data_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_object(object).overrides["data_dir"] = value  # the tierflow Context


def _options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--dir`` (the site's workflows folder) and ``--data-dir`` on every subcommand."""
    command = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        expose_value=False,
        callback=_remember_data_dir,
        help="Folder for the database, logs and keys [env TIERFLOW_DATA_DIR].",
    )(command)
    return click.option(
        "--dir",
        "workflows_dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=WORKFLOWS_DIR,
        show_default=True,
        help="The site's own folder of workflows and forms.",
    )(command)


@click.group()
def workflows() -> None:
    """Write, check, deploy and inspect YAML workflows (see docs/workflows.md)."""


@workflows.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@_options
@click.pass_obj
def validate(ctx: Context, paths: tuple[Path, ...], workflows_dir: Path) -> None:
    """Check workflow and forms files; by default every file deploy would load.

    Prints each problem as file:line:col: message and exits 1 if there is any.
    """
    checked = _check(ctx, workflows_dir, paths)
    for problem in checked.problems:
        click.echo(str(problem))
    count = plural(len(checked.files), "file")
    if checked.problems:
        files = {problem.file for problem in checked.problems}
        raise TierflowError(
            f"{plural(len(checked.problems), 'problem')} in {plural(len(files), 'file')} "
            f"({count} checked)"
        )
    click.echo(f"{count} checked, no problems ({plural(len(checked.loaded), 'workflow')})")


@workflows.command()
@click.option(
    "--by",
    metavar="EMAIL",
    default=_login,
    show_default="your login name",
    help="Who deploys (recorded with each new version).",
)
@click.option(
    "--schedules/--no-schedules",
    default=True,
    show_default=True,
    help="Then make the Temporal Schedules match, if a Temporal server answers.",
)
@_options
@click.pass_obj
def deploy(ctx: Context, by: str, schedules: bool, workflows_dir: Path) -> None:
    """Validate every workflow, then store each changed one as a new active version.

    Nothing is deployed if any file has a problem. Running it again with
    nothing changed writes nothing. Then the Temporal Schedules are made to
    match the workflows' 'schedule:' (as 'tierflow schedules sync' does); with
    no Temporal server to reach, 'tierflow serve' does it when it next starts.
    """
    from engine import workflows as service

    if not by.strip() or len(by) > 320:
        raise click.BadParameter("give who deploys, up to 320 characters", param_hint="--by")
    checked = _check(ctx, workflows_dir, ())
    if checked.problems:
        for problem in checked.problems:
            click.echo(str(problem))
        raise TierflowError(
            f"nothing deployed: fix the {plural(len(checked.problems), 'problem')} above first"
        )
    if not checked.loaded:
        click.echo(f"No workflows found in {workflows_dir} or any plugin: nothing to deploy.")
        return
    db = service.open_database(ctx.settings(), ctx.pm, migrate=True)
    assert db is not None
    try:
        with make_session_factory(db).begin() as session:
            results = service.deploy(session, checked.loaded, by=by.strip())
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise DatabaseError(f"deploying failed, nothing was deployed: {cause}") from exc
    finally:
        db.dispose()
    width = max(len(result.name) for result in results)
    for result in results:
        was = f" (was {result.previous_hash[:8]})" if result.previous_hash else ""
        click.echo(
            f"{result.status:<11} {result.name:<{width}}  {result.version} "
            f"({result.content_hash[:8]}){was}  {result.path}"
        )
    counts = {status: sum(r.status == status for r in results) for status in _STATUSES}
    click.echo(", ".join(f"{n} {status}" for status, n in counts.items() if n) + ".")
    for warning in checked.warnings:
        click.echo(f"warning: {warning}", err=True)
    if schedules:
        _sync_schedules(ctx)


_STATUSES = ("created", "reactivated", "unchanged")


def _sync_schedules(ctx: Context) -> None:
    """After a deploy: make the schedules match, or say when that will happen."""
    try:
        report = sync_deployed(ctx)
    except NoTemporalServer as exc:
        click.echo(
            f"note: the workflows are deployed, but their schedules were not synced: {exc}. "
            "'tierflow serve' (its worker) syncs them when it next starts; or run "
            "'tierflow schedules sync' once a Temporal server answers.",
            err=True,
        )
        return
    if not (report.changed or report.unchanged or report.failed):
        click.echo(NO_SCHEDULES)
        return
    click.echo("Schedules:")
    try:
        show_report(report, indent="  ")
    except TierflowError as exc:
        raise TierflowError(f"the workflows are deployed, but {exc}") from exc


@workflows.command("list")
@_options
@click.pass_obj
def list_(ctx: Context, workflows_dir: Path) -> None:
    """The deployed workflows: kind, number of versions, the active version."""
    from engine import workflows as service

    rows = _with_session(ctx, service.summaries) or []
    if not rows:
        click.echo("No workflows are deployed yet: run 'tierflow workflows deploy'.")
        return
    table = [("NAME", "KIND", "VERSIONS", "DEPLOYED")]
    for row in rows:
        active = row.active
        shown = "(none active)"
        if active is not None:
            when = f"{active.deployed_at:%Y-%m-%d %H:%M} UTC" if active.deployed_at else ""
            by = f" by {active.deployed_by}" if active.deployed_by else ""
            shown = f"{active.version} ({active.content_hash[:8]}) {when}{by}"
        table.append((row.name, row.kind, str(row.versions), shown))
    widths = [max(len(line[i]) for line in table) for i in range(3)]
    for line in table:
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=False)]
        click.echo("  ".join([*cells, line[3]]))


@workflows.command()
@click.argument("name")
@click.option("--version", "prefix", metavar="HASH", help="A deployed version (hash prefix).")
@_options
@click.pass_obj
def show(ctx: Context, name: str, prefix: str | None, workflows_dir: Path) -> None:
    """A workflow's steps, forms and Mermaid diagram: its file, or a deployed --version."""
    from engine import workflows as service

    checked = _check(ctx, workflows_dir, (), quiet=True)
    if prefix is None:
        item = next((i for i in checked.loaded if i.workflow.name == name), None)
        if item is None:
            _not_found(name, checked)
        header = f"file {display_path(item.path)} · sha256 {item.content_hash[:8]}"
        workflow, shared = item.workflow, item.forms
    else:
        row = _with_session(ctx, lambda s: service.find_version(s, name, prefix))
        if row is None:
            raise service.WorkflowNotFound("no workflow is deployed yet")
        active = "active" if row.active else "not active"
        header = (
            f"deployed version {row.version} · sha256 {row.content_hash[:8]} · "
            f"{row.deployed_at:%Y-%m-%d %H:%M} UTC by {row.deployed_by or '?'} · {active}"
        )
        workflow, shared = service.stored_workflow(row), None
    click.echo(describe(workflow, header, shared))
    click.echo("")
    click.echo("Diagram (Mermaid):")
    click.echo("```mermaid")
    click.echo(mermaid(workflow))
    click.echo("```")


@workflows.command()
@click.argument("name")
@click.argument("old", required=False)
@click.argument("new", required=False)
@_options
@click.pass_obj
def diff(ctx: Context, name: str, old: str | None, new: str | None, workflows_dir: Path) -> None:
    """What changed, step by step, between two versions (default: the two latest).

    OLD and NEW are hash prefixes of deployed versions, or 'file' for the
    workflow's file as it is now (to see what deploying would change).
    """
    from engine import workflows as service

    sides = _with_session(ctx, lambda s: service.versions(s, name)) or []
    if old is None and new is None and len(sides) < 2:
        raise service.WorkflowNotFound(
            f"workflow '{name}' has {plural(len(sides), 'deployed version')}: "
            f"compare it with its file: tierflow workflows diff {name} "
            f"{sides[-1].content_hash[:8] if sides else 'OLD'} file"
        )
    if old is None and new is None:
        old, new = sides[-2].content_hash, sides[-1].content_hash
    elif new is None:
        new = "file"
    before, before_label = _side(ctx, name, old or "", workflows_dir)
    after, after_label = _side(ctx, name, new or "", workflows_dir)
    click.echo(f"{name}: {before_label} → {after_label}")
    changes = compare(before, after)
    for change in changes:
        click.echo(f"  {change}")
    click.echo(f"{plural(len(changes), 'change')}." if changes else "No changes.")


@workflows.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (e.g. workflows/schema.json) instead of printing.",
)
def schema(output: Path | None) -> None:
    """The JSON Schema of workflow and forms files, for editors (VS Code's YAML extension)."""
    content = json_schema_text()
    if output is None:
        click.echo(content, nl=False)
        return
    output.write_text(content, encoding="utf-8")
    click.echo(f"Wrote {output}", err=True)


# ---------------------------------------------------------------- helpers ---


def _check(
    ctx: Context, workflows_dir: Path, paths: tuple[Path, ...], *, quiet: bool = False
) -> service.Checked:
    from engine import workflows as service

    sources = service.find_sources(ctx.pm, workflows_dir)
    targets = service.expand(paths) if paths else list(sources.files)
    teams = service.database_teams(ctx.settings())
    if teams.note and not quiet:
        click.echo(f"note: {teams.note}", err=True)
    catalog = service.build_catalog(ctx.pm, teams.slugs)
    with click.progressbar(
        length=len(targets),
        label=f"Validating {plural(len(targets), 'file')}",
        file=sys.stderr,
        hidden=quiet or len(targets) < PROGRESS_FROM,
    ) as bar:
        return service.check(sources, targets, catalog, progress=lambda _path: bar.update(1))


def _with_session(ctx: Context, work: Callable[[Any], Any]) -> Any:
    """``work(session)`` on the configured database; ``None`` when nothing was ever deployed."""
    from engine import workflows as service

    db = service.open_database(ctx.settings(), ctx.pm, migrate=False)
    if db is None:
        return None
    try:
        with make_session_factory(db)() as session:
            return work(session)
    finally:
        db.dispose()


def _side(ctx: Context, name: str, which: str, workflows_dir: Path) -> tuple[Workflow, str]:
    from engine import workflows as service

    if which == "file":
        checked = _check(ctx, workflows_dir, (), quiet=True)
        item = next((i for i in checked.loaded if i.workflow.name == name), None)
        if item is None:
            _not_found(name, checked)
        # as a deploy would freeze it: with the shared forms it names
        digest = pinned_hash(item.source, shared_forms_json(item.forms))
        workflow = item.workflow.model_copy(update={"forms": {**item.forms, **item.workflow.forms}})
        return workflow, f"file {display_path(item.path)} ({digest[:8]})"
    row = _with_session(ctx, lambda s: service.find_version(s, name, which))
    if row is None:
        raise service.WorkflowNotFound("no workflow is deployed yet")
    when = f"{row.deployed_at:%Y-%m-%d %H:%M} UTC" if row.deployed_at else "never deployed"
    return service.stored_workflow(row), f"{row.version} ({row.content_hash[:8]}, {when})"


def _not_found(name: str, checked: service.Checked) -> Any:
    from engine import workflows as service

    names = ", ".join(sorted(i.workflow.name for i in checked.loaded)) or "none"
    broken = ""
    if checked.problems:
        files = len({problem.file for problem in checked.problems})
        broken = (
            f"; {plural(files, 'file')} did not load: run 'tierflow workflows validate' to see why"
        )
    raise service.WorkflowNotFound(f"no valid workflow named '{name}' (found: {names}){broken}")


from engine.cli_scenarios import test as _scenario_test  # noqa: E402 (kept apart: see its module)

workflows.add_command(_scenario_test)
