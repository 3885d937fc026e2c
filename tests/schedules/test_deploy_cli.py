"""``tierflow workflows deploy`` makes the Temporal Schedules match the YAML it deploys.

The command runs in-process on a thread (it runs its own event loop); the
schedules are read back with the session's Temporal client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.client import Client, ScheduleDescription, ScheduleOverlapPolicy
from temporalio.service import RPCError, RPCStatusCode

from engine.cli import _main
from engine.runtime.devserver import EmbeddedTemporal
from engine.runtime.schedules import YAML_NOTE, applied_memo, schedule_id
from tests.schedules.conftest import workflow_yaml
from tests.workflows.conftest import plugin_workflows

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("db_engine", "queue")]

PARIS = ZoneInfo("Europe/Paris")
SATURDAYS = """\
  cron: "30 18 * * 6"
  timezone: Europe/Paris
  overlap: buffer_one
  catchup_window: 6h"""
WEEKDAYS = """\
  cron: "0 6 * * 1-5"
  timezone: Europe/Paris
  overlap: buffer_one
  catchup_window: 6h
  paused: true"""

Tierflow = Callable[..., Awaitable[tuple[int, str, str]]]

SHIPPED = len(plugin_workflows())
"""Workflows installed plugins ship: deployed beside the test's own (which has another name)."""


def summary(created: int = 0, unchanged: int = 0) -> str:
    """The last line of a deploy's list of workflows: ``1 created, 5 unchanged.``"""
    counts = {"created": created, "unchanged": unchanged}
    return ", ".join(f"{n} {what}" for what, n in counts.items() if n) + "."


def status_of(out: str, name: str) -> str:
    """What deploying did with the workflow ``name``, as its line of the output says."""
    return next(line.split()[0] for line in out.splitlines() if line.split()[1:2] == [name])


@pytest.fixture
def tierflow(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    migrated_database_url: str,
    queue: str,
) -> Tierflow:
    """``await tierflow(*args)``: run the CLI on the test database; its rc, stdout and stderr.

    No Temporal address is configured: a test sets one, or writes the address
    file a running ``tierflow serve`` leaves in the data directory.
    """
    monkeypatch.setenv("TIERFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TIERFLOW_DATABASE_URL", migrated_database_url)
    monkeypatch.setenv("TIERFLOW_TASK_QUEUE", queue)
    monkeypatch.delenv("TIERFLOW_TEMPORAL_ADDRESS", raising=False)
    monkeypatch.delenv("TIERFLOW_CONFIG", raising=False)

    async def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = await asyncio.to_thread(_main, list(args))
        out, err = capsys.readouterr()
        return rc, out, err

    return run


@pytest.fixture
def workflow_file(tmp_path: Path, name: str) -> Path:
    """``<name>.yaml``, alone in the site's workflows folder (the test writes it)."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    return folder / f"{name}.yaml"


@pytest.fixture
def deploy(tierflow: Tierflow, workflow_file: Path) -> Tierflow:
    """``await deploy(*options)``: ``tierflow workflows deploy`` of the site's folder."""

    async def run(*options: str) -> tuple[int, str, str]:
        return await tierflow("workflows", "deploy", "--dir", str(workflow_file.parent), *options)

    return run


@pytest.fixture
def served(
    tierflow: Tierflow, monkeypatch: pytest.MonkeyPatch, temporal_server: EmbeddedTemporal
) -> None:
    """TIERFLOW_TEMPORAL_ADDRESS is the session's Temporal server (set after ``tierflow``)."""
    assert temporal_server.address is not None
    monkeypatch.setenv("TIERFLOW_TEMPORAL_ADDRESS", temporal_server.address)


async def described(client: Client, name: str) -> ScheduleDescription | None:
    """The schedule of workflow ``name`` as Temporal describes it, or None if there is none."""
    try:
        return await client.get_schedule_handle(schedule_id(name)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


@pytest.mark.usefixtures("served")
async def test_deploy_creates_updates_and_removes_the_schedule(
    deploy: Tierflow, workflow_file: Path, name: str, temporal_client: Client
) -> None:
    workflow_file.write_text(workflow_yaml(name, SATURDAYS))
    rc, out, err = await deploy("--by", "admin@example.org")
    assert rc == 0, err
    assert status_of(out, name) == "created"
    assert out.endswith(f"{summary(1 + SHIPPED)}\nSchedules:\n  created    {name}\n")
    created = await described(temporal_client, name)
    assert created is not None
    assert applied_memo(temporal_client, created)["cron"] == "30 18 * * 6"
    assert created.schedule.spec.time_zone_name == "Europe/Paris"
    assert created.schedule.policy.overlap == ScheduleOverlapPolicy.BUFFER_ONE
    assert created.schedule.policy.catchup_window == timedelta(hours=6)
    assert not created.schedule.state.paused
    runs = [moment.astimezone(PARIS) for moment in created.info.next_action_times]
    assert runs
    assert all((t.weekday(), t.hour, t.minute) == (5, 18, 30) for t in runs)

    rc, out, err = await deploy()
    assert rc == 0, err
    assert out.endswith(f"{summary(0, 1 + SHIPPED)}\nSchedules:\n  unchanged  {name}\n")

    # a file with a problem: nothing is deployed and the schedule stays as it was
    workflow_file.write_text(workflow_yaml(name, WEEKDAYS).replace("end:", "ends:"))
    rc, out, err = await deploy()
    assert rc == 1
    assert "nothing deployed: fix the" in err
    kept = await described(temporal_client, name)
    assert kept is not None
    assert applied_memo(temporal_client, kept) == applied_memo(temporal_client, created)

    workflow_file.write_text(workflow_yaml(name, WEEKDAYS))
    rc, out, err = await deploy()
    assert rc == 0, err
    assert status_of(out, name) == "created"
    assert out.endswith(f"{summary(1, SHIPPED)}\nSchedules:\n  updated    {name}\n")
    updated = await described(temporal_client, name)
    assert updated is not None
    assert applied_memo(temporal_client, updated)["cron"] == "0 6 * * 1-5"
    assert (updated.schedule.state.paused, updated.schedule.state.note) == (True, YAML_NOTE)
    runs = [moment.astimezone(PARIS) for moment in updated.info.next_action_times]
    assert runs
    assert all(t.weekday() < 5 and (t.hour, t.minute) == (6, 0) for t in runs)

    workflow_file.write_text(workflow_yaml(name))  # no 'schedule:' any more
    rc, out, err = await deploy()
    assert rc == 0, err
    assert status_of(out, name) == "created"
    assert out.endswith(f"{summary(1, SHIPPED)}\nSchedules:\n  deleted    {name}\n")
    assert await described(temporal_client, name) is None


async def test_deploy_without_a_server_deploys_and_says_when_schedules_follow(
    deploy: Tierflow,
    workflow_file: Path,
    tmp_path: Path,
    temporal_server: EmbeddedTemporal,
    temporal_client: Client,
) -> None:
    name = workflow_file.stem
    workflow_file.write_text(workflow_yaml(name, SATURDAYS))

    rc, out, err = await deploy()
    assert rc == 0, err
    assert status_of(out, name) == "created"
    assert out.endswith(f"{summary(1 + SHIPPED)}\n")
    assert (
        "note: the workflows are deployed, but their schedules were not synced: "
        "no Temporal server: TIERFLOW_TEMPORAL_ADDRESS is unset"
    ) in err
    assert "'tierflow serve' (its worker) syncs them when it next starts" in err
    assert await described(temporal_client, name) is None

    # the embedded server of a 'tierflow serve' running on this data directory
    address_file = tmp_path / "data" / "temporal" / "address"
    address_file.parent.mkdir(parents=True)
    address_file.write_text(temporal_server.address_file.read_text())

    rc, out, err = await deploy("--no-schedules")
    assert (rc, out.endswith(f"{summary(0, 1 + SHIPPED)}\n")) == (0, True)
    assert "schedules" not in err
    assert await described(temporal_client, name) is None

    rc, out, err = await deploy()
    assert rc == 0, err
    assert out.endswith(f"{summary(0, 1 + SHIPPED)}\nSchedules:\n  created    {name}\n")
    assert await described(temporal_client, name) is not None
