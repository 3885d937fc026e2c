"""``tierflow schedules`` against a real Temporal server and database."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.cli import _main
from engine.runtime.devserver import EmbeddedTemporal
from tests.schedules.conftest import Deploy, workflow_yaml

pytestmark = pytest.mark.slow

SCHEDULE = """\
  cron: "30 18 * * 6"
  timezone: Europe/Paris
  overlap: buffer_one
  paused: true"""


@pytest.fixture
def tierflow(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path):
    """``tierflow(*args)``: run the CLI; its rc, standard output and standard error."""
    monkeypatch.setenv("TIERFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TIERFLOW_CONFIG", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = _main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err

    return run


def listed(tierflow, name: str) -> str:
    """The line of ``name`` in ``tierflow schedules list`` (listing lags behind creating)."""
    for _ in range(50):
        rc, out, err = tierflow("schedules", "list")
        assert rc == 0, err
        line = next((line for line in out.splitlines() if line.startswith(f"{name} ")), None)
        if line is not None:
            return line
        time.sleep(0.1)
    raise AssertionError(f"{name} never listed:\n{out}")


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch,
    migrated_database_url: str,
    temporal_server: EmbeddedTemporal,
    queue: str,
) -> None:
    """The test database, the session's Temporal server and this test's task queue."""
    assert temporal_server.address is not None
    monkeypatch.setenv("TIERFLOW_DATABASE_URL", migrated_database_url)
    monkeypatch.setenv("TIERFLOW_TEMPORAL_ADDRESS", temporal_server.address)
    monkeypatch.setenv("TIERFLOW_TASK_QUEUE", queue)


@pytest.mark.usefixtures("configured")
def test_sync_list_pause_resume_trigger(tierflow, deploy: Deploy, name: str) -> None:
    deploy(workflow_yaml(name, SCHEDULE))

    rc, out, err = tierflow("schedules", "sync")
    assert (rc, out, err) == (0, f"created    {name}\n", "")
    assert tierflow("schedules", "sync")[1] == f"unchanged  {name}\n"

    header = tierflow("schedules", "list")[1].splitlines()[0].split()
    assert header == [
        "NAME",
        "CRON",
        "TIMEZONE",
        "OVERLAP",
        "PAUSED",
        "NEXT",
        "RUNS",
        "LAST",
        "RUN",
    ]
    line = listed(tierflow, name)
    assert line.split()[:9] == [
        name, "30", "18", "*", "*", "6", "Europe/Paris", "buffer_one", "yes",
    ]  # fmt: skip
    assert "(paused by the workflow's YAML (schedule.paused))" in line
    assert line.endswith("never")
    assert line.count(" UTC") == 3  # the next three runs

    assert tierflow("schedules", "resume", name)[:2] == (0, f"Resumed the schedule of {name}.\n")
    assert listed(tierflow, name).split()[8] == "no"
    assert tierflow("schedules", "pause", name, "--note", "audit freeze")[0] == 0
    assert "yes (audit freeze)" in listed(tierflow, name)
    assert tierflow("schedules", "sync")[1] == f"unchanged  {name}\n"  # the pause stays
    assert "yes (audit freeze)" in listed(tierflow, name)

    assert tierflow("schedules", "trigger", name)[:2] == (0, f"Triggered a run of {name}.\n")
    for _ in range(50):
        if not listed(tierflow, name).endswith("never"):
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the triggered run does not show as the last run")

    rc, out, err = tierflow("schedules", "pause", "nosuch")
    assert rc == 1
    assert "workflow 'nosuch' has no schedule" in err


def test_without_an_address_it_uses_the_running_serve_or_says_what_to_do(
    tierflow, temporal_server: EmbeddedTemporal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TIERFLOW_TEMPORAL_ADDRESS", raising=False)
    rc, _out, err = tierflow("schedules", "list")
    assert rc == 1
    assert "start 'tierflow serve' or set TIERFLOW_TEMPORAL_ADDRESS" in err

    # what a running 'tierflow serve' leaves in its data directory
    address_file = tmp_path / "data" / "temporal" / "address"
    address_file.parent.mkdir(parents=True)
    address_file.write_text(temporal_server.address_file.read_text())
    rc, _out, err = tierflow("schedules", "list")
    assert (rc, err) == (0, "")

    address_file.write_text("127.0.0.1:1\n")  # left behind by a serve that was killed
    rc, _out, err = tierflow("schedules", "list")
    assert rc == 1
    assert "no Temporal server answers at 127.0.0.1:1" in err
