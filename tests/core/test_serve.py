"""`tierflow serve --demo` as a user runs it: healthy, stops cleanly, restarts, same data."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.procs import alive, descendants, free_port

pytestmark = pytest.mark.slow

TIERFLOW = Path(sys.executable).with_name("tierflow")
DEMO_TEAMS = {"helpdesk-l1", "desktop-support", "analysts", "network-l3", "applications-l3", "pmo"}


def get_health(port: int) -> tuple[int, dict[str, str]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as reply:
        return reply.code, json.load(reply)


class Serve:
    def __init__(self, data_dir: Path, log: Path) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TIERFLOW_")}
        self.log = log
        command = [str(TIERFLOW), "serve", "--demo", "--data-dir", str(data_dir)]
        command += ["--demo-days", "0"]  # no ticket history: restarts compare every row
        with log.open("w") as out:
            self.proc = subprocess.Popen(
                [*command, "--port", str(self.port)], stdout=out, stderr=subprocess.STDOUT, env=env
            )

    def wait_healthy(self, timeout: float = 90) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited early:\n{self.log.read_text()}"
            try:
                status, body = get_health(self.port)
            except OSError:
                time.sleep(0.2)
                continue
            if status == 200:
                return body
            time.sleep(0.2)
        raise AssertionError(f"not healthy in {timeout} s:\n{self.log.read_text()}")

    def terminate(self) -> str:
        started = descendants(self.proc.pid)
        assert started, "serve started no child process (the Temporal server)"
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0, self.log.read_text()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in started) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in started if alive(pid)], "orphans left behind"
        return self.log.read_text()


def table_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def test_serve_demo_stops_cleanly_and_restarts_with_the_same_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Serve(data, tmp_path / "first.log")
    try:
        assert first.wait_healthy() == {"database": "ok", "temporal": "ok"}
        with sqlite3.connect(data / "tierflow.db") as conn:
            teams = {row[0] for row in conn.execute("SELECT slug FROM team")}
            people = conn.execute("SELECT count(*) FROM person WHERE is_staff").fetchone()[0]
        assert teams >= DEMO_TEAMS
        assert people >= 10
        out = first.terminate()
    finally:
        first.proc.kill()
    assert f"Tierflow is running at http://127.0.0.1:{first.port}" in out
    assert "Stopped." in out
    assert (data / "temporal" / "temporal.db").exists()
    counts = table_counts(data / "tierflow.db")

    second = Serve(data, tmp_path / "second.log")
    try:
        assert second.wait_healthy() == {"database": "ok", "temporal": "ok"}
        out = second.terminate()
    finally:
        second.proc.kill()
    assert "already present, nothing added" in out
    assert table_counts(data / "tierflow.db") == counts
