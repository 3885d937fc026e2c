"""The embedded Temporal dev server: start, stop, persistence, and no orphans ever."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from temporalio.client import WorkflowExecutionStatus

from engine.errors import ConfigError, TemporalError
from engine.runtime.client import check_health, connect
from engine.runtime.devserver import EmbeddedTemporal
from engine.runtime.worker import build_worker

from .temporal_samples import ApprovalWorkflow, shout

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (an unreaped zombie counts: it holds nothing any more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


async def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def test_start_serves_on_loopback_and_stop_leaves_no_process(tmp_path: Path) -> None:
    server = EmbeddedTemporal(tmp_path / "temporal")
    started = time.monotonic()
    address = await server.start()
    startup = time.monotonic() - started

    assert address.startswith("127.0.0.1:")
    assert server.address == address
    assert server.running
    pid = server.pid
    assert pid is not None
    assert os.getsid(pid) == pid  # its own session: a terminal's Ctrl-C reaches only us
    await check_health(await connect(address))
    assert server.db_file.exists()
    assert "start-dev" in server.log_file.read_text()
    print(f"embedded Temporal ready in {startup:.2f} s")  # shown with -s

    await server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert server.pid is None
    assert server.address is None
    assert not server.running
    await server.stop()  # idempotent


async def test_context_manager_starts_and_stops(tmp_path: Path) -> None:
    async with EmbeddedTemporal(tmp_path / "temporal", namespace="helpdesk") as server:
        pid = server.pid
        assert server.address is not None
        client = await connect(server.address, "helpdesk")  # the namespace was created
        await check_health(client)
    assert pid is not None
    assert _gone(pid)


async def test_a_second_server_on_the_same_data_refuses_and_names_the_first(
    temporal_server: EmbeddedTemporal,
) -> None:
    second = EmbeddedTemporal(temporal_server.data_dir)
    started = time.monotonic()
    with pytest.raises(
        TemporalError, match=rf"in use by the Temporal server pid {temporal_server.pid}"
    ):
        await second.start()
    assert time.monotonic() - started < 2
    assert second.pid is None
    assert temporal_server.address is not None
    await check_health(await connect(temporal_server.address))  # the first one is untouched


async def test_a_workflow_survives_a_server_restart(tmp_path: Path, task_queue: str) -> None:
    data_dir = tmp_path / "temporal"
    workflow_id = f"approval-{uuid.uuid4()}"
    async with EmbeddedTemporal(data_dir) as first:
        assert first.address is not None
        client = await connect(first.address)
        async with build_worker(
            client, task_queue, activities=[shout], workflows=[ApprovalWorkflow]
        ):
            handle = await client.start_workflow(
                ApprovalWorkflow.run, id=workflow_id, task_queue=task_queue
            )
            assert await handle.query(ApprovalWorkflow.waiting)

    async with EmbeddedTemporal(data_dir) as second:
        assert second.address is not None
        client = await connect(second.address)
        handle = client.get_workflow_handle(workflow_id)
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        async with build_worker(
            client, task_queue, activities=[shout], workflows=[ApprovalWorkflow]
        ):
            await handle.signal(ApprovalWorkflow.approve, "alice")
            result = await asyncio.wait_for(handle.result(), timeout=20)
    assert result.startswith("ALICE!")


_CRASHING_PARENT = """
import asyncio, os, sys
from pathlib import Path
from engine.runtime import devserver

if sys.argv[2] == "no-pdeathsig":  # as on a platform without PR_SET_PDEATHSIG
    devserver._die_with_parent = lambda: None

async def main():
    server = devserver.EmbeddedTemporal(Path(sys.argv[1]))
    await server.start()
    print(server.pid, flush=True)
    if sys.argv[3] == "exit":
        os._exit(0)  # leave without stopping the server
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def _server_of_a_parent(data_dir: Path, *, pdeathsig: bool, end: str) -> int:
    """Run a Python process that starts a server on ``data_dir``; end it; return the server pid.

    ``end`` is "sigkill" (the test kills the parent) or "exit" (it exits without stopping).
    """
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CRASHING_PARENT,
            str(data_dir),
            "pdeathsig" if pdeathsig else "no-pdeathsig",
            end,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(parent.stdout.readline), timeout=30)
        server_pid = int(line)
        assert not _gone(server_pid)
    finally:
        if end == "sigkill":
            parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
    return server_pid


async def test_the_server_dies_when_its_parent_is_killed(tmp_path: Path) -> None:
    server_pid = await _server_of_a_parent(tmp_path / "temporal", pdeathsig=True, end="sigkill")
    started = time.monotonic()
    assert await _wait_gone(server_pid, timeout=5)
    print(f"orphaned server gone {time.monotonic() - started:.2f} s after its parent was killed")


async def test_a_server_left_running_by_a_dead_parent_is_stopped_by_the_next_start(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "temporal"
    orphan = await _server_of_a_parent(data_dir, pdeathsig=False, end="exit")
    await asyncio.sleep(0.5)
    assert not _gone(orphan)  # nothing stopped it: without PDEATHSIG it would run forever

    async with EmbeddedTemporal(data_dir) as successor:
        assert _gone(orphan)
        assert successor.address is not None
        await check_health(await connect(successor.address))


async def test_a_server_that_exits_at_once_is_reported_with_its_log(tmp_path: Path) -> None:
    server = EmbeddedTemporal(tmp_path / "temporal", binary=Path("/bin/false"))
    with pytest.raises(TemporalError, match=r"exited with code 1 while starting.*temporal\.log"):
        await server.start()
    assert server.pid is None


async def test_a_server_that_never_answers_times_out_and_is_stopped(tmp_path: Path) -> None:
    binary = tmp_path / "silent-temporal"
    binary.write_text("#!/bin/sh\necho 'pretending to start'\nexec sleep 600\n")
    binary.chmod(0o755)
    server = EmbeddedTemporal(tmp_path / "temporal", binary=binary)
    with pytest.raises(TemporalError, match=r"did not answer .* within 1 s(.|\n)*pretending"):
        await server.start(timeout=1)
    assert server.pid is None
    holder = server.lock_file.read_text().split()
    assert await _wait_gone(int(holder[0]), timeout=5)  # the process it started is gone


def test_an_unknown_log_level_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'loud' is not one of debug, info, warn"):
        EmbeddedTemporal(tmp_path, log_level="loud")
