"""Latency of the inbox queries (team queues, "My tasks", search) on 100,000 open tasks.

Run:  .venv/bin/python benchmarks/inbox.py [--tasks 100000] [--runs 200] [--backend both]

Seeds a fresh database on SQLite (a temporary file) and on PostgreSQL (a new
database on the server ``--postgres-url`` names, dropped afterwards) with open
tasks spread over ~10 teams and ~200 people, then times
``engine.web.inbox.inbox_page`` (a new session per call, as a page request
has) for each query below, round-robin so machine noise falls on all alike.

Baseline, measured in the same run on the same data: the bare
``SELECT id FROM task WHERE team_id = ? AND status = 'open' ORDER BY due_at,
id LIMIT 50``, the least any team-queue page can cost. The ratio says what
filtering, NULLs-last ordering, the keyset cursor and loading each row's work
item, team and assignee add on top of it.

``seed()`` and ``measure_queries()`` are separate so HTTP-level measurements
(benchmarks/inbox_http.py) reuse the seeded database; ``seed()`` reports its
progress through ``say`` (``say_to_stderr`` prints a line per step).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.db import create_db_engine, make_read_session_factory, normalise_url
from engine.migrate import upgrade
from engine.model import Membership, Person, Task, Team, WorkItem
from engine.web.inbox import InboxFilter, inbox_page

POSTGRES_URL = os.environ.get(
    "TIERFLOW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TARGET_P95_MS = 50.0
BASELINE = "baseline: bare SELECT id"
UNSCOPED = "search 'inc-0421', all teams"
"""Reads every open task (no index can serve a substring search); outside the target."""
BASELINE_SQL = text(
    "SELECT id FROM task WHERE team_id = :team AND status = 'open' ORDER BY due_at, id LIMIT 50"
)
WORDS = (
    "printer", "laptop", "vpn", "password", "mailbox", "monitor", "licence", "network",
    "phone", "badge", "wifi", "backup", "server", "database", "firewall", "scanner",
)  # fmt: skip
SITES = ("Berlin", "Lyon", "Leeds", "Porto", "Graz", "Turku", "Gent", "Brno")
CHUNK = 10_000


@dataclass
class Seeded:
    """What a measurement needs to know of the seeded data."""

    tasks: int
    teams: list[int]
    people: list[int]
    teams_of: dict[int, tuple[int, ...]]
    busiest: int
    """The person with the most assigned tasks."""
    seconds: float = 0.0


@dataclass
class Measurement:
    """The latencies of one query, in milliseconds."""

    name: str
    samples: list[float] = field(default_factory=list)
    rows: int = 0

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples, n=20, method="inclusive")[18]


# ------------------------------------------------------------------ seeding --


def say_to_stderr(text: str) -> None:
    """Print one progress line on stderr (figures go to stdout)."""
    print(f"  {text}", file=sys.stderr, flush=True)


def seed(
    db: Engine,
    *,
    tasks: int = 100_000,
    teams: int = 10,
    people: int = 200,
    rng_seed: int = 6,
    say: Callable[[str], None] = lambda _text: None,
) -> Seeded:
    """Bulk-insert ``tasks`` open tasks (one work item each) over ``teams`` and ``people``.

    Every person is in one team, every fifth in a second. 30 % of tasks are
    assigned to a member of their team; 10 % have no due date; due dates fall
    on whole hours from ten days ago to twenty days ahead (so many tie);
    priorities are 1-4 (10 % none).
    """
    rng = random.Random(rng_seed)
    started = time.perf_counter()
    with db.begin() as connection:
        team_ids = [
            connection.execute(
                insert(Team).values(slug=f"bench-{n}", name=f"Bench team {n}")
            ).inserted_primary_key[0]
            for n in range(teams)
        ]
        person_ids = [
            connection.execute(
                insert(Person).values(email=f"bench{n}@example.org", name=f"Bench Person {n}")
            ).inserted_primary_key[0]
            for n in range(people)
        ]
        teams_of: dict[int, tuple[int, ...]] = {}
        for n, person in enumerate(person_ids):
            mine = (team_ids[n % teams],)
            if n % 5 == 0:
                mine += (team_ids[(n + 1) % teams],)
            teams_of[person] = mine
        connection.execute(
            insert(Membership),
            [
                {"team_id": t, "person_id": p, "joined_at": NOW}
                for p, ts in teams_of.items()
                for t in ts
            ],
        )
        members: dict[int, list[int]] = {t: [] for t in team_ids}
        for person, mine in teams_of.items():
            for team in mine:
                members[team].append(person)
        say(f"{teams} teams and {people} people written; building {tasks:,} tasks")
        first_item = _next_id(connection, "work_item")
        items, rows = [], []
        for n in range(tasks):
            team = rng.choice(team_ids)
            due = None if rng.random() < 0.1 else NOW + timedelta(hours=rng.randint(-240, 480))
            created = NOW - timedelta(minutes=rng.randint(0, 60 * 24 * 60))
            title = f"{rng.choice(WORDS)} {rng.choice(WORDS)} in {rng.choice(SITES)}"
            items.append({
                "id": first_item + n, "kind": "ticket", "type": "incident", "status": "open",
                "reference": f"INC-{n + 1:06d}", "title": title.capitalize(),
                "priority": None if rng.random() < 0.1 else rng.randint(1, 4),
                "current_team_id": team, "owner_team_id": team, "custom": {},
                "created_at": created, "updated_at": created,
            })  # fmt: skip
            rows.append({
                "work_item_id": first_item + n, "workflow_id": f"bench-{n}", "step_id": "triage",
                "occurrence": 1, "title": f"Triage: {title}", "form": "triage", "team_id": team,
                "assignee_id": rng.choice(members[team]) if rng.random() < 0.3 else None,
                "status": "open", "due_at": due, "data": {}, "created_at": created,
            })  # fmt: skip
        for start in range(0, tasks, CHUNK):
            connection.execute(insert(WorkItem), items[start : start + CHUNK])
            connection.execute(insert(Task), rows[start : start + CHUNK])
            done = min(start + CHUNK, tasks)
            say(f"inserted {done:,} of {tasks:,} tasks ({time.perf_counter() - started:.1f} s)")
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT setval('work_item_id_seq', {first_item + tasks})"))
    if db.dialect.name == "postgresql":
        say("VACUUM ANALYZE")
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")  # what autovacuum would have done
    held: dict[int, int] = {}
    for row in rows:
        if row["assignee_id"] is not None:
            held[row["assignee_id"]] = held.get(row["assignee_id"], 0) + 1
    return Seeded(
        tasks=tasks,
        teams=team_ids,
        people=person_ids,
        teams_of=teams_of,
        busiest=max(held, key=held.__getitem__),
        seconds=time.perf_counter() - started,
    )


def _next_id(connection: Any, table: str) -> int:
    return (connection.execute(text(f"SELECT max(id) FROM {table}")).scalar() or 0) + 1


# ---------------------------------------------------------------- measuring --


def measure_queries(db: Engine, seeded: Seeded, *, runs: int = 200) -> list[Measurement]:
    """Time each inbox query ``runs`` times (after 5 unrecorded warm-up rounds), round-robin."""
    sessions = make_read_session_factory(db)
    rng = random.Random(1)
    page50 = {team: _cursor_of_page(sessions, team, 50) for team in seeded.teams}
    two_teams = [ts for ts in seeded.teams_of.values() if len(ts) == 2]

    def page(query: InboxFilter, after: str | None = None) -> int:
        with sessions() as session:
            return len(inbox_page(session, query, after=after, now=NOW).rows)

    def baseline() -> int:
        with sessions() as session:
            return len(session.execute(BASELINE_SQL, {"team": rng.choice(seeded.teams)}).all())

    def team_page(number: int) -> Callable[[], int]:
        def run() -> int:
            team = rng.choice(seeded.teams)
            return page(InboxFilter(team_ids=(team,)), page50[team] if number == 50 else None)

        return run

    queries: dict[str, Callable[[], int]] = {
        BASELINE: baseline,
        "team queue, first page": team_page(1),
        "team queue, page 50 (cursor)": team_page(50),
        "two teams, unassigned": lambda: page(
            InboxFilter(team_ids=rng.choice(two_teams), unassigned=True)
        ),
        "my tasks": lambda: page(InboxFilter(assignee_id=seeded.busiest)),
        "my tasks, by priority": lambda: page(
            InboxFilter(assignee_id=seeded.busiest, sort="priority")
        ),
        "search 'printer', team queue": lambda: page(
            InboxFilter(team_ids=(rng.choice(seeded.teams),), search="printer")
        ),
        "search 'inc-0421', team queue": lambda: page(
            InboxFilter(team_ids=(rng.choice(seeded.teams),), search="inc-0421")
        ),
        "search 'printer', two teams": lambda: page(
            InboxFilter(team_ids=rng.choice(two_teams), search="printer")
        ),
        UNSCOPED: lambda: page(InboxFilter(search="inc-0421")),
    }
    results = {name: Measurement(name) for name in queries}
    for round_ in range(runs + 5):
        for name, query in queries.items():
            started = time.perf_counter()
            rows = query()
            took = (time.perf_counter() - started) * 1000
            if round_ >= 5:
                results[name].samples.append(took)
                results[name].rows = rows
    return list(results.values())


def _cursor_of_page(sessions: Any, team: int, number: int) -> str | None:
    after = None
    with sessions() as session:
        for _ in range(number - 1):
            after = inbox_page(session, InboxFilter(team_ids=(team,)), after=after, now=NOW)
            after = after.next_cursor
    return after


# ---------------------------------------------------------------- databases --


@contextmanager
def database(backend: str, postgres_url: str = POSTGRES_URL) -> Iterator[Engine]:
    """A new migrated database on ``backend`` (``sqlite`` or ``postgresql``), dropped at the end."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tierflow-bench-") as folder:
            db = create_db_engine(f"sqlite:///{folder}/inbox.db")
            try:
                upgrade(db)
                yield db
            finally:
                db.dispose()
        return
    admin = create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
    name = f"tierflow_bench_{secrets.token_hex(4)}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    db = create_db_engine(normalise_url(postgres_url).set(database=name))
    try:
        upgrade(db)
        yield db
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def report(backend: str, seeded: Seeded, results: list[Measurement]) -> None:
    base = next(r for r in results if r.name == BASELINE)
    runs = len(base.samples)
    print(
        f"\n{backend}: {seeded.tasks:,} open tasks, {len(seeded.teams)} teams, "
        f"{len(seeded.people)} people (seeded in {seeded.seconds:.1f} s); {runs} runs each"
    )
    print(
        f"{'query':32} {'p50 ms':>8} {'p95 ms':>8} {'p50 ratio':>10} {'p95 ratio':>10} {'rows':>5}"
    )
    for r in results:
        print(
            f"{r.name:32} {r.p50:8.2f} {r.p95:8.2f} {r.p50 / base.p50:9.1f}x "
            f"{r.p95 / base.p95:9.1f}x {r.rows:5}"
        )
    scoped = [r for r in results if r.name not in (BASELINE, UNSCOPED)]
    worst = max(scoped, key=lambda r: r.p95)
    verdict = "met" if worst.p95 < TARGET_P95_MS else "NOT met"
    print(
        f"target p95 < {TARGET_P95_MS:g} ms (all but the unscoped search): {verdict} "
        f"(slowest: {worst.name}, {worst.p95:.1f} ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    options = parser.parse_args()
    backends = ("sqlite", "postgresql") if options.backend == "both" else (options.backend,)
    for backend in backends:
        with database(backend, options.postgres_url) as db:
            print(f"{backend}: seeding {options.tasks:,} tasks", file=sys.stderr, flush=True)
            seeded = seed(db, tasks=options.tasks, say=say_to_stderr)
            print(f"{backend}: seeded in {seeded.seconds:.1f} s", file=sys.stderr, flush=True)
            report(backend, seeded, measure_queries(db, seeded, runs=options.runs))


if __name__ == "__main__":
    main()
