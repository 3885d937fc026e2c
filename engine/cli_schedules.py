"""``tierflow schedules``: list, pause, resume, trigger and sync the workflows' Temporal Schedules.

The commands talk to ``TIERFLOW_TEMPORAL_ADDRESS`` or, when it is unset, to the
embedded server of a running ``tierflow serve`` (its address is in
``DATA/temporal/address`` while it runs).
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from engine.config import Settings
from engine.errors import TemporalError, TierflowError

if TYPE_CHECKING:
    from temporalio.client import Client

    from engine.cli import Context
    from engine.runtime.schedules import ReconcileReport

# engine.runtime.schedules (temporalio, engine.workflows) is imported by the commands
# that use it, as engine.cli does with engine.server: it would slow every tierflow command.

T = TypeVar("T")

NO_SERVER = "start 'tierflow serve' or set TIERFLOW_TEMPORAL_ADDRESS"
NO_SCHEDULES = "No deployed workflow has a 'schedule:': there are no schedules."
NEXT_RUNS_SHOWN = 3


def _remember_data_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_object(object).overrides["data_dir"] = value  # the tierflow Context


def _data_dir(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        expose_value=False,
        callback=_remember_data_dir,
        help="Folder for the database, logs and keys [env TIERFLOW_DATA_DIR].",
    )(command)


class NoTemporalServer(TemporalError):
    """No Temporal server is configured or running, or none answers at its address."""


def temporal_address(settings: Settings) -> str:
    """Where Temporal is: the configured address, or that of a running ``tierflow serve``."""
    if settings.temporal_address:
        return settings.temporal_address
    path = settings.data_dir / "temporal" / "address"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        raise NoTemporalServer(
            f"no Temporal server: TIERFLOW_TEMPORAL_ADDRESS is unset and no 'tierflow serve' "
            f"is running on {settings.data_dir} (there is no {path}); {NO_SERVER}"
        ) from None
    except OSError as exc:
        raise NoTemporalServer(f"cannot read {path}: {exc.strerror}; {NO_SERVER}") from exc


async def connect_temporal(settings: Settings) -> Client:
    """A client on the server :func:`temporal_address` finds; :class:`NoTemporalServer` if none."""
    from engine.runtime.client import connect

    address = temporal_address(settings)
    try:
        return await connect(address, settings.temporal_namespace, timeout=5)
    except TemporalError as exc:
        raise NoTemporalServer(f"no Temporal server answers at {address}; {NO_SERVER}") from exc


def _run(ctx: Context, work: Callable[[Client, Settings], Awaitable[T]]) -> T:
    """Connect to Temporal and run ``work``; the caller's process leaves via ``os._exit``."""
    settings = ctx.settings()

    async def main() -> T:
        return await work(await connect_temporal(settings), settings)

    return asyncio.run(main())


def sync_deployed(ctx: Context) -> ReconcileReport:
    """Make the schedules match the deployed workflows now (raises :class:`NoTemporalServer`)."""
    from engine import workflows
    from engine.db import make_session_factory
    from engine.runtime import schedules as service

    db = workflows.open_database(ctx.settings(), ctx.pm, migrate=False)
    desired: dict[str, service.DesiredSchedule] = {}
    if db is not None:
        try:
            with make_session_factory(db)() as session:
                desired = service.desired_schedules(session)
        finally:
            db.dispose()
    return _run(
        ctx, lambda client, settings: service.reconcile(client, settings.task_queue, desired)
    )


def show_report(report: ReconcileReport, *, indent: str = "") -> None:
    """Print what a reconcile did, a schedule a line; raise if any schedule failed."""
    for label in ("created", "updated", "deleted", "unchanged"):
        for name in getattr(report, label):
            click.echo(f"{indent}{label:<10} {name}")
    for name, why in report.failed.items():
        click.echo(f"{indent}{'failed':<10} {name}: {why}")
    if report.failed:
        raise TierflowError(f"{len(report.failed)} schedule(s) could not be synced (see above)")


def _who() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in this environment (a container)
        return "unknown"


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


@click.group()
def schedules() -> None:
    """The Temporal Schedules of the deployed workflows that have a 'schedule:'."""


@schedules.command("list")
@_data_dir
@click.pass_obj
def list_(ctx: Context) -> None:
    """Each schedule: cron, time zone, overlap policy, paused, next runs and last run."""
    from engine.runtime import schedules as service

    rows = _run(ctx, lambda client, _settings: service.list_schedules(client))
    if not rows:
        click.echo("No schedules: no deployed workflow has a 'schedule:' (or not synced yet).")
        return
    table = [("NAME", "CRON", "TIMEZONE", "OVERLAP", "PAUSED", "NEXT RUNS", "LAST RUN")]
    for row in rows:
        paused = ("yes" + (f" ({row.note})" if row.note else "")) if row.paused else "no"
        nexts = ", ".join(_when(moment) for moment in row.next_runs[:NEXT_RUNS_SHOWN])
        last = _when(row.last_run) if row.last_run else "never"
        table.append((row.name, row.cron, row.timezone, row.overlap, paused, nexts or "-", last))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


@schedules.command()
@click.argument("name")
@click.option("--note", help="Why (shown by 'tierflow schedules list').")
@_data_dir
@click.pass_obj
def pause(ctx: Context, name: str, note: str | None) -> None:
    """Start no runs of workflow NAME until 'tierflow schedules resume NAME'.

    It stays paused when workflows are redeployed, unless the YAML's
    'schedule: paused:' itself changes.
    """
    from engine.runtime import schedules as service

    why = note or f"paused by {_who()} with 'tierflow schedules pause'"
    _run(ctx, lambda client, _settings: service.pause(client, name, why))
    click.echo(f"Paused the schedule of {name}.")


@schedules.command()
@click.argument("name")
@_data_dir
@click.pass_obj
def resume(ctx: Context, name: str) -> None:
    """Start runs of workflow NAME on its schedule again."""
    from engine.runtime import schedules as service

    why = f"resumed by {_who()} with 'tierflow schedules resume'"
    _run(ctx, lambda client, _settings: service.resume(client, name, why))
    click.echo(f"Resumed the schedule of {name}.")


@schedules.command()
@click.argument("name")
@_data_dir
@click.pass_obj
def trigger(ctx: Context, name: str) -> None:
    """Start a run of workflow NAME now, as its schedule would (its overlap policy applies)."""
    from engine.runtime import schedules as service

    _run(ctx, lambda client, _settings: service.trigger(client, name))
    click.echo(f"Triggered a run of {name}.")


@schedules.command()
@_data_dir
@click.pass_obj
def sync(ctx: Context) -> None:
    """Make the schedules match the deployed workflows now (a worker does it every 30 s)."""
    report = sync_deployed(ctx)
    show_report(report)
    if not (report.changed or report.unchanged):
        click.echo(NO_SCHEDULES)
