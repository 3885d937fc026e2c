"""`tierflow worker` and `tierflow web` run apart against a shared Temporal and database."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.runtime.devserver import EmbeddedTemporal
from tests.core.test_serve import get_health
from tests.procs import alive, descendants, free_port

pytestmark = pytest.mark.slow

TIERFLOW = Path(sys.executable).with_name("tierflow")


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("w") as out:
        return subprocess.Popen(
            [str(TIERFLOW), *args], stdout=out, stderr=subprocess.STDOUT, env=env
        )


async def healthy(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 60):
    for _ in range(int(timeout / 0.2)):
        assert proc.poll() is None, log.read_text()
        try:
            status, body = await asyncio.to_thread(get_health, port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        if status == 200:
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(log.read_text())


async def test_worker_and_web_apart(database_url: str, tmp_path: Path) -> None:
    async with EmbeddedTemporal(tmp_path / "temporal") as temporal:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
        env |= {
            "TIERFLOW_TEMPORAL_ADDRESS": str(temporal.address),
            "TIERFLOW_DATABASE_URL": database_url,
            "TIERFLOW_TASK_QUEUE": "scale-out",
        }
        port = free_port()
        worker_log, web_log = tmp_path / "worker.log", tmp_path / "web.log"
        worker = start(["worker", "--data-dir", str(tmp_path / "w")], env, worker_log)
        web = start(["web", "--data-dir", str(tmp_path / "web"), "--port", str(port)], env, web_log)
        try:
            assert await healthy(port, web, web_log) == {"database": "ok", "temporal": "ok"}
            for _ in range(300):
                if "Tierflow is running" in worker_log.read_text() or worker.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            assert "Tierflow is running" in worker_log.read_text(), worker_log.read_text()
            for proc in (worker, web):
                assert not descendants(proc.pid), "only 'serve' may start a Temporal server"
                proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(worker.wait, 30) == 0, worker_log.read_text()
            assert await asyncio.to_thread(web.wait, 30) == 0, web_log.read_text()
        finally:
            for proc in (worker, web):
                proc.kill()
        assert "Starting worker on task queue 'scale-out'" in worker_log.read_text()
        assert "Starting web server" not in worker_log.read_text()
        assert f"Tierflow is running at http://127.0.0.1:{port}" in web_log.read_text()
        assert not alive(worker.pid)


def test_worker_alone_needs_a_temporal_address(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
    result = subprocess.run(
        [str(TIERFLOW), "worker", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "TIERFLOW_TEMPORAL_ADDRESS: must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_signal_during_start_up_stops_at_once(tmp_path: Path) -> None:
    """Ctrl-C while Temporal does not answer yet: stop now, not after the connect timeout."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # accepts connections, never answers
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
    env["TIERFLOW_TEMPORAL_ADDRESS"] = f"127.0.0.1:{silent.getsockname()[1]}"
    log = tmp_path / "worker.log"
    try:
        worker = start(["worker", "--data-dir", str(tmp_path / "w")], env, log)
        deadline = time.monotonic() + 30
        while "Connecting to Temporal" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert worker.wait(timeout=30) == 0, log.read_text()
        assert time.monotonic() - started < 3
    finally:
        silent.close()
    assert "Stopped." in log.read_text()
