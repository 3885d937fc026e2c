"""HTTP latency of the inbox (GET /tasks, GET /api/tasks) through the real web app, 100,000 tasks.

Run:  .venv/bin/python benchmarks/inbox_http.py [--database both] [--requests 150]
                                                [--concurrency 1 10 50] [--tasks 100000]

Seeds a new database with ``benchmarks.inbox.seed`` (SQLite: a temporary file;
PostgreSQL: a database of its own on ``--postgres-url``, dropped at the end),
starts ``tierflow web`` on it in a subprocess (uvicorn, one process, as an
operator runs it; Temporal is a closed port, which no GET here needs), signs
the busiest agent in through the sign-in form (session cookie) and gives them a
personal API token. Then, for each concurrency (by default 1, which is
single-request latency with nothing queued, then 10 and 50), it fires ``--requests``
requests at each endpoint below from that many concurrent connections
(httpx's async client, in this process), the endpoints taking turns in
``--rounds`` rounds so that machine noise falls on all alike, and prints p50,
p95 and p99 latency and requests per second.

Baseline, through the same stack in the same run: ``GET /api/request-types``
with the same cookie or token. It passes the same middleware (the session or
token is looked up on every request) and answers a small JSON list without a
query, so an endpoint's ratio over it is what the inbox itself costs.
The load generator shares the machine's cores with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.inbox import POSTGRES_URL, TARGET_P95_MS, Seeded, database, say_to_stderr, seed
from engine.model import Person, Team
from engine.model.auth import hash_password, issue_token
from engine.progress import Steps

PASSWORD = "inbox-benchmark-password"
BASELINE_HTML = "baseline: /api/request-types (cookie)"
BASELINE_API = "baseline: /api/request-types (token)"


@dataclass
class Endpoint:
    name: str
    path: str
    api: bool
    """Sent with the bearer token; otherwise with the session cookie."""
    samples: list[float] = field(default_factory=list)
    busy: float = 0.0
    errors: int = 0
    """Requests the server dropped without an answer (counted, not timed)."""
    """Seconds spent with this endpoint's requests in flight (for requests/s)."""

    @property
    def baseline(self) -> str:
        return BASELINE_API if self.api else BASELINE_HTML

    def quantile(self, q: int) -> float:
        return statistics.quantiles(self.samples, n=100, method="inclusive")[q - 1]


# ------------------------------------------------------------- the server --


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def tierflow_web(db: Engine, folder: Path, steps: Steps) -> Iterator[str]:
    """``tierflow web`` on ``db`` in a subprocess; yields its base URL, stops it at the end."""
    port = free_port()
    env = os.environ | {
        "TIERFLOW_DATABASE_URL": db.url.render_as_string(hide_password=False),
        "TIERFLOW_DATA_DIR": str(folder),
        "TIERFLOW_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",  # nothing listens
        "TIERFLOW_WEB_HOST": "127.0.0.1",
        "TIERFLOW_WEB_PORT": str(port),
    }
    command = [str(Path(sys.executable).with_name("tierflow")), "web"]
    base = f"http://127.0.0.1:{port}"
    log = folder / "web.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        with steps.step(f"Starting tierflow web on {base}") as detail:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"tierflow web exited:\n{log.read_text()}")
                try:
                    if httpx.get(f"{base}/api/request-types", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"tierflow web did not answer in 60 s:\n{log.read_text()}")
                time.sleep(0.1)
            detail.append(f"pid {process.pid}")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------- the viewer --


@dataclass
class Agent:
    email: str
    token: str
    team_id: int
    team_slug: str


def make_agent(db: Engine, seeded: Seeded) -> Agent:
    """The busiest person becomes an agent with a password and a personal API token."""
    with Session(db) as session, session.begin():
        person = session.get(Person, seeded.busiest)
        person.grant("agent")
        person.password_hash = hash_password(PASSWORD)
        team_id = seeded.teams_of[person.id][0]
        slug = session.scalars(select(Team.slug).where(Team.id == team_id)).one()
        token = issue_token(session, person.id, "inbox benchmark")
        email = person.email
    return Agent(email=email, token=token, team_id=team_id, team_slug=slug)


async def sign_in(client: httpx.AsyncClient, agent: Agent) -> None:
    """Sign in through the form, as a browser does: the client keeps the session cookie."""
    form = await client.get("/sign-in")
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if form.status_code != 200 or found is None:
        raise SystemExit(f"GET /sign-in answered {form.status_code} without a csrf_token field")
    reply = await client.post(
        "/sign-in",
        data={"csrf_token": found.group(1), "email": agent.email, "password": PASSWORD},
    )
    if reply.status_code != 303:
        raise SystemExit(f"signing in answered {reply.status_code}: {reply.text[:300]}")


async def endpoints(cookie: httpx.AsyncClient, api: httpx.AsyncClient, agent: Agent) -> list:
    """The measured endpoints; the cursors of their next pages are read from first pages."""
    team = f"view=team&team={agent.team_id}"
    first = await cookie.get(f"/tasks?{team}")
    link = re.search(r'href="(\?[^"]*after=[^"]*)"', first.text)
    if link is None:
        raise SystemExit("the team queue page has no next-page link")
    html_after = parse_qs(urlsplit(html.unescape(link.group(1))).query)["after"][0]
    api_after = (await api.get(f"/api/tasks?team={agent.team_slug}")).json()["next"]
    quoted = httpx.QueryParams({"after": html_after})
    return [
        Endpoint(BASELINE_HTML, "/api/request-types", api=False),
        Endpoint("GET /tasks (my tasks)", "/tasks", api=False),
        Endpoint("GET /tasks team queue", f"/tasks?{team}", api=False),
        Endpoint(
            "GET /tasks team, unassigned, by priority",
            f"/tasks?{team}&unassigned=1&sort=priority",
            api=False,
        ),
        Endpoint("GET /tasks team, search 'printer'", f"/tasks?{team}&q=printer", api=False),
        Endpoint("GET /tasks team, next page", f"/tasks?{team}&{quoted}", api=False),
        Endpoint(BASELINE_API, "/api/request-types", api=True),
        Endpoint("GET /api/tasks?assignee=me", "/api/tasks?assignee=me", api=True),
        Endpoint("GET /api/tasks?team=", f"/api/tasks?team={agent.team_slug}", api=True),
        Endpoint(
            "GET /api/tasks team, unassigned, by priority",
            f"/api/tasks?team={agent.team_slug}&assignee=none&sort=priority",
            api=True,
        ),
        Endpoint(
            "GET /api/tasks team, next page",
            f"/api/tasks?team={agent.team_slug}&{httpx.QueryParams({'after': api_after})}",
            api=True,
        ),
    ]


# ------------------------------------------------------------- measuring --


async def fire(client: httpx.AsyncClient, endpoint: Endpoint, count: int, concurrency: int) -> None:
    """``count`` requests at ``endpoint`` from ``concurrency`` workers; each must answer 200."""
    left = count

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            started = time.perf_counter()
            try:
                reply = await client.get(endpoint.path)
            except httpx.TransportError:
                endpoint.errors += 1
                continue
            endpoint.samples.append((time.perf_counter() - started) * 1000)
            if reply.status_code != 200:
                problem = f"{endpoint.path} answered {reply.status_code}: {reply.text[:300]}"
                raise SystemExit(problem)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    endpoint.busy += time.perf_counter() - started


async def measure(
    base: str, agent: Agent, *, requests: int, concurrency: int, rounds: int
) -> list[Endpoint]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with (
        httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as cookie,
        httpx.AsyncClient(
            base_url=base,
            limits=limits,
            timeout=60,
            headers={"Authorization": f"Bearer {agent.token}"},
        ) as api,
    ):
        await sign_in(cookie, agent)
        measured = await endpoints(cookie, api, agent)
        for endpoint in measured:  # warm up: connections, caches, the first render
            await fire(api if endpoint.api else cookie, endpoint, concurrency, concurrency)
            endpoint.samples.clear()
            endpoint.busy, endpoint.errors = 0.0, 0
        per_round = max(1, requests // rounds)
        for _ in range(rounds):
            for endpoint in measured:
                await fire(api if endpoint.api else cookie, endpoint, per_round, concurrency)
    return measured


def report(backend: str, concurrency: int, measured: list[Endpoint]) -> None:
    base = {e.name: e for e in measured if e.name in (BASELINE_HTML, BASELINE_API)}
    load = ", ".join(f"{n:.1f}" for n in os.getloadavg())
    print(
        f"\n{backend}, concurrency {concurrency}, {len(measured[0].samples)} requests each "
        f"(load average after: {load})"
    )
    print(
        f"{'endpoint':44} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7} {'p50 ratio':>9}"
        f" {'dropped':>7}"
    )
    for e in measured:
        ratio = e.quantile(50) / base[e.baseline].quantile(50)
        print(
            f"{e.name:44} {e.quantile(50):8.1f} {e.quantile(95):8.1f} {e.quantile(99):8.1f} "
            f"{len(e.samples) / e.busy:7.0f} {ratio:8.1f}x {e.errors:7}"
        )
    inbox = [e for e in measured if e.name not in base]
    worst = max(inbox, key=lambda e: e.quantile(95))
    verdict = "met" if worst.quantile(95) < TARGET_P95_MS else "NOT met"
    print(
        f"target p95 < {TARGET_P95_MS:g} ms: {verdict} "
        f"(slowest: {worst.name}, {worst.quantile(95):.1f} ms)"
    )


def run(backend: str, options: argparse.Namespace) -> None:
    steps = Steps(sys.stderr)
    steps.say(f"{backend}: {options.tasks:,} open tasks")
    with (
        tempfile.TemporaryDirectory(prefix="tierflow-bench-web-") as folder,
        database(backend, options.postgres_url) as db,
    ):
        seeded = seed(db, tasks=options.tasks, say=say_to_stderr)
        steps.say(f"  seeded in {seeded.seconds:.1f} s")
        with steps.step("Making the busiest person an agent with a password and an API token"):
            agent = make_agent(db, seeded)
        with tierflow_web(db, Path(folder), steps) as base:
            for concurrency in options.concurrency:
                with steps.step(f"Measuring at concurrency {concurrency}"):
                    measured = asyncio.run(
                        measure(
                            base,
                            agent,
                            requests=options.requests,
                            concurrency=concurrency,
                            rounds=options.rounds,
                        )
                    )
                report(backend, concurrency, measured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=150, help="per endpoint and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--database", choices=("sqlite", "postgres", "postgresql", "both"), default="both"
    )
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    options = parser.parse_args()
    chosen = {"postgres": "postgresql", "both": None}.get(options.database, options.database)
    for backend in ("sqlite", "postgresql") if chosen is None else (chosen,):
        run(backend, options)


if __name__ == "__main__":
    main()
