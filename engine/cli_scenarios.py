"""``tierflow workflows test``: run the scenario files written beside workflows.

Each scenario prints one line as it finishes, ``PASS name (0.3 s)`` or
``FAIL name: <the first difference>`` followed by where the scenario says
so (``file:line:col``) and the way the run went. Problems in a scenario file
itself are printed like workflow problems, ``file:line:col: message``, and
its scenarios do not run. A summary ends the output; the command exits 1 if
any scenario failed or any file had a problem.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from engine.dsl.describe import plural
from engine.errors import TierflowError

if TYPE_CHECKING:
    from engine.cli import Context
    from engine.scenarios_plan import Collected
    from engine.scenarios_run import Result

# engine.scenarios and engine.scenarios_run (Temporal, the worker's activities)
# are imported when the command runs, as engine.cli_workflows does with
# engine.workflows: importing them would slow down every other tierflow command.


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--dir",
    "workflows_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("workflows"),
    show_default=True,
    help="The site's own folder of workflows and forms.",
)
@click.option(
    "-k",
    "--match",
    metavar="TEXT",
    help="Run only the scenarios whose name contains TEXT (ignoring case).",
)
@click.option(
    "--show",
    is_flag=True,
    help="After each scenario, print what its run did as an expect: block to paste.",
)
@click.pass_obj
def test(
    ctx: Context, paths: tuple[Path, ...], workflows_dir: Path, match: str | None, show: bool
) -> None:
    """Run scenario tests of workflows on Temporal's time-skipping test server.

    PATHS are scenario files (*.scenarios.yaml), folders holding some, or
    workflow files (their NAME.scenarios.yaml beside them is run); by default
    every scenario file in the site's folder and in plugins' workflow folders.
    Nothing needs to be running: each command uses a temporary database and
    an in-process worker. Prints PASS or FAIL per scenario with the first
    difference, and exits 1 if any scenario fails.
    """
    from engine import scenarios_plan

    started = time.perf_counter()
    collected = scenarios_plan.collect(ctx.pm, workflows_dir, paths)
    for problem in collected.problems:
        click.echo(str(problem))
    if not collected.files and paths:
        raise TierflowError(f"no scenario files (*.scenarios.yaml) in {', '.join(map(str, paths))}")
    if not collected.files:
        click.echo(
            f"No scenario files (*.scenarios.yaml) in {workflows_dir} or any plugin's "
            "workflow folders: write one beside a workflow (see docs/scenarios.md)."
        )
        return
    wanted = (match or "").lower()
    total = sum(1 for plan in collected.plans for s in plan.scenarios if wanted in s.name.lower())
    if match and collected.plans and not total:
        raise TierflowError(f"no scenario name contains {match!r}")
    results = asyncio.run(_run(ctx, collected, wanted, show)) if total else []
    failed = sum(not result.passed for result in results)
    seconds = time.perf_counter() - started
    files = plural(len(collected.files), "file")
    summary = f"{plural(len(results), 'scenario')} in {files}: {len(results) - failed} passed"
    summary += f", {failed} failed" if failed else ""
    click.echo(f"{summary} ({seconds:.1f} s)")
    if collected.problems:
        broken = len({problem.file for problem in collected.problems})
        raise TierflowError(
            f"{plural(len(collected.problems), 'problem')} in {plural(broken, 'file')}: "
            "fix them to run the scenarios of those files"
        )
    if failed:
        raise TierflowError(f"{failed} of {plural(len(results), 'scenario')} failed")


async def _run(ctx: Context, collected: Collected, wanted: str, show: bool) -> list[Result]:
    from engine.scenarios_expect import render_expect
    from engine.scenarios_run import ScenarioEnvironment

    def report(result: Result) -> None:
        if result.passed:
            click.echo(f"PASS {result.name} ({result.seconds:.2f} s)")
        else:
            click.echo(f"FAIL {result.name}: {result.message}")
            click.echo(f"     at {result.where} ({result.seconds:.2f} s)")
        if show and result.observed is not None:
            click.echo("\n".join(render_expect(result.observed)))

    results: list[Result] = []
    async with ScenarioEnvironment(ctx.pm, collected.loaded) as environment:
        for plan in collected.plans:
            count = sum(wanted in s.name.lower() for s in plan.scenarios)
            if not count:
                continue
            click.echo(f"{plan.source.file}: {plan.subject.name}, {plural(count, 'scenario')}")
            results += await environment.run_plan(plan, report, lambda s: wanted in s.name.lower())
    return results
