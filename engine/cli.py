"""The ``tierflow`` command.

Plugins are loaded before the command line is parsed, so that their commands
(``tierflow_register_commands``) appear in ``--help``; a plugin that fails to
load stops the command with its name and the cause.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel, SecretStr

from engine import __version__
from engine.cli_schedules import schedules
from engine.cli_users import users
from engine.cli_workflows import workflows
from engine.config import Settings, load_settings
from engine.contrib import SettingsSection
from engine.errors import TierflowError
from engine.plugins import PluginManager, create_plugin_manager
from engine.progress import Steps


class Context:
    """What every command gets: the plugin manager and the flags that shape settings."""

    def __init__(self, pm: PluginManager) -> None:
        self.pm = pm
        self.overrides: dict[str, Any] = {}

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(plugin_sections(self.pm), **self.overrides, **overrides)


pass_context = click.make_pass_decorator(Context)


def plugin_sections(pm: PluginManager) -> list[SettingsSection]:
    """The plugins' own settings sections (``tierflow_register_settings``)."""
    return [
        section
        for _plugin, section in pm.collect("tierflow_register_settings", expect=SettingsSection)
    ]


def _remember_data_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.find_object(Context).overrides["data_dir"] = value


def _data_dir(command):
    """``--data-dir`` before or after the command name (``tierflow serve --data-dir D``)."""
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        expose_value=False,
        callback=_remember_data_dir,
        help="Folder for the database, logs and keys [env TIERFLOW_DATA_DIR].",
    )(command)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tierflow")
@_data_dir
def cli() -> None:
    """Tierflow: the help desk, projects, operational work and timekeeping of an IT department."""


def _host_port(command):
    command = _data_dir(command)
    command = click.option("--port", type=int, help="Web port [env TIERFLOW_WEB_PORT].")(command)
    return click.option("--host", help="Web address [env TIERFLOW_WEB_HOST].")(command)


@cli.command()
@click.option("--demo", is_flag=True, help="Load the demo IT department (idempotent).")
@click.option(
    "--demo-days",
    type=click.IntRange(0, 366),
    help="With --demo: days of work history run through the workflows (0: none; default 90).",
)
@click.option(
    "--demo-per-day",
    type=click.FloatRange(0, 100),
    help="With --demo: requests on an ordinary working day of that history (default 1.2).",
)
@click.option(
    "--demo-seed",
    type=int,
    help="With --demo: the history's seed; the same seed, the same history (default 1).",
)
@_host_port
@pass_context
def serve(  # noqa: PLR0917 (one parameter per option)
    ctx: Context,
    demo: bool,
    demo_days: int | None,
    demo_per_day: float | None,
    demo_seed: int | None,
    host: str | None,
    port: int | None,
) -> None:
    """Run everything: migrations, Temporal (embedded unless configured), worker and web app."""
    from engine.demo import DemoOptions
    from engine.server import Parts, run

    settings = ctx.settings(web_host=host, web_port=port)
    given = {"days": demo_days, "per_day": demo_per_day, "seed": demo_seed}
    history = DemoOptions(**{name: value for name, value in given.items() if value is not None})
    parts = Parts(web=True, worker=True, demo=demo, demo_history=history)
    asyncio.run(run(settings, ctx.pm, parts, Steps()))


@cli.command()
@_data_dir
@pass_context
def worker(ctx: Context) -> None:
    """Run a worker only, against TIERFLOW_TEMPORAL_ADDRESS (scale out with more of these)."""
    from engine.server import Parts, run

    asyncio.run(run(ctx.settings(), ctx.pm, Parts(web=False, worker=True), Steps()))


@cli.command()
@_host_port
@pass_context
def web(ctx: Context, host: str | None, port: int | None) -> None:
    """Run the web app only, against TIERFLOW_TEMPORAL_ADDRESS and a shared database."""
    from engine.server import Parts, run

    settings = ctx.settings(web_host=host, web_port=port)
    asyncio.run(run(settings, ctx.pm, Parts(web=True, worker=False), Steps()))


@cli.group()
def db() -> None:
    """Database schema: upgrade, check, show the current revisions."""


@db.command("upgrade")
@_data_dir
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply every pending migration of the core and of each plugin."""
    from engine.server import prepare_database

    prepare_database(ctx.settings(), ctx.pm, Steps()).dispose()


@db.command("check")
@_data_dir
@pass_context
def db_check(ctx: Context) -> None:
    """Exit 1 if the database schema differs from the models (a missing migration)."""
    from engine.db import create_db_engine
    from engine.migrate import diff
    from engine.model import Base
    from engine.plugins import load_models

    load_models(ctx.pm)
    engine = create_db_engine(ctx.settings().effective_database_url)
    try:
        differences = diff(engine, Base.metadata)
    finally:
        engine.dispose()
    if differences:
        for line in differences:
            click.echo(f"  {line}")
        raise TierflowError(f"the schema differs from the models in {len(differences)} place(s)")
    click.echo("The schema matches the models.")


@db.command("current")
@_data_dir
@pass_context
def db_current(ctx: Context) -> None:
    """Show the applied revision of each migration branch."""
    from engine.db import create_db_engine
    from engine.migrate import current_heads, is_up_to_date
    from engine.plugins import migration_branches

    branches = migration_branches(ctx.pm)
    engine = create_db_engine(ctx.settings().effective_database_url)
    try:
        for head in sorted(current_heads(engine, branches)):
            click.echo(head)
        state = "up to date" if is_up_to_date(engine, branches) else "migrations pending"
        click.echo(f"({state})")
    finally:
        engine.dispose()


@cli.command()
@_data_dir
@pass_context
def demo(ctx: Context) -> None:
    """Load every plugin's demo data into the database (running it twice adds nothing)."""
    from engine.db import make_session_factory
    from engine.server import load_demo, prepare_database

    steps = Steps()
    engine = prepare_database(ctx.settings(), ctx.pm, steps)
    try:
        load_demo(ctx.pm, make_session_factory(engine), steps)
    finally:
        engine.dispose()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_context
def plugins(ctx: Context, as_json: bool) -> None:
    """List the installed plugins, their versions and the hooks they implement."""
    infos = ctx.pm.infos()
    if as_json:
        click.echo(json.dumps([asdict(info) for info in infos], indent=2))
        return
    for info in infos:
        click.echo(f"{info.name} {info.version}  ({info.module}, from {info.distribution})")
        for hook in info.hooks:
            click.echo(f"    {hook}")


@cli.command("config")
@_data_dir
@pass_context
def show_config(ctx: Context) -> None:
    """Show the resolved settings (secrets are never printed)."""
    settings = ctx.settings()
    for name, value in _flat_settings(settings, "TIERFLOW_"):
        click.echo(f"{name}={value}")
    click.echo(f"# database: {settings.effective_database_url}")


def _flat_settings(model: BaseModel, prefix: str) -> list[tuple[str, str]]:
    """Every setting as its environment name and printed value; a plugin section's fields too."""
    rows: list[tuple[str, str]] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            rows.extend(_flat_settings(value, f"{prefix}{name.upper()}__"))
        elif isinstance(value, SecretStr):
            rows.append((f"{prefix}{name.upper()}", "(set)" if value.get_secret_value() else ""))
        else:
            rows.append((f"{prefix}{name.upper()}", "" if value is None else str(value)))
    return rows


cli.add_command(workflows)
cli.add_command(schedules)
cli.add_command(users)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; never shows a traceback for a known error."""
    # Until serve installs its own handlers, SIGTERM stops like Ctrl-C: cleanly, no traceback.
    signal.signal(signal.SIGTERM, _interrupt)
    rc = _main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Leave without interpreter teardown: temporalio's runtime can abort at exit
    # (sdk-python #300, ../shared/TEMPORAL.md).
    os._exit(rc)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _main(argv: list[str] | None) -> int:
    try:
        pm = create_plugin_manager()
        pm.call("tierflow_register_commands", cli=cli)
        rc = cli.main(args=argv, prog_name="tierflow", standalone_mode=False, obj=Context(pm))
    except TierflowError as exc:
        click.echo(f"tierflow: error: {exc}", err=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except KeyboardInterrupt:
        return 130
    return rc if isinstance(rc, int) else 0
