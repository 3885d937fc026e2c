"""Where one inbox request's time goes: the real app in this process, one request at a time.

Run:  .venv/bin/python benchmarks/inbox_profile.py [--database sqlite] [--url URL]
                                                   [--requests 100] [--profile PATH ...]

Seeds a new database with ``benchmarks.inbox.seed`` (or uses an already seeded
one given by ``--url``), builds the web app with ``create_app`` as
``tierflow web`` does, signs the busiest agent in with a session cookie and an
API token, and sends requests through httpx's ASGI transport, one at a time, so
there is no queueing: what is measured is what one request costs. For each
endpoint it prints the median and p95 in milliseconds, the CPU time of this
process per request (the server and the client; on a shared, loaded machine it
varies much less than the latency does), how many SQL statements a request
sends and the share of the time spent inside them. With
``--profile PATH`` (``{team}`` and ``{slug}`` stand for the agent's team) it
runs pyinstrument over ``--requests`` requests of each path given and prints
the call tree; pyinstrument is a development tool from PyPI, not a dependency
(``pip install --target DIR pyinstrument``, then put DIR on ``PYTHONPATH``).
The blocking parts that the app hands to a worker thread run in the event
loop's thread here, so the profiler sees them.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx2 as httpx
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.inbox import POSTGRES_URL, database, say_to_stderr, seed
from engine.config import load_settings
from engine.db import create_db_engine
from engine.model import Membership, Person, Task, Team
from engine.model.auth import issue_token, start_session
from engine.plugins import create_plugin_manager
from engine.web import api, auth, tasks
from engine.web.app import create_app
from engine.web.auth import SESSION_COOKIE
from engine.web.temporal import TemporalLink

T = TypeVar("T")


async def _inline(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``run_in_threadpool`` without the thread, so a profiler of this thread sees the work."""
    return func(*args, **kwargs)


def _agent(db: Engine) -> tuple[str, str, int, str]:
    """Session id, API token, team id and slug of the person holding the most tasks."""
    with Session(db) as session, session.begin():
        person_id = session.scalars(
            select(Task.assignee_id)
            .where(Task.assignee_id.is_not(None))
            .group_by(Task.assignee_id)
            .order_by(func.count().desc(), Task.assignee_id)
            .limit(1)
        ).one()
        person = session.get(Person, person_id)
        person.grant("agent")
        team_id, slug = session.execute(
            select(Team.id, Team.slug)
            .join(Membership, Membership.team_id == Team.id)
            .where(Membership.person_id == person_id)
            .order_by(Team.id)
            .limit(1)
        ).one()
        return (
            start_session(session, person_id),
            issue_token(session, person_id, "profile"),
            team_id,
            slug,
        )


def _paths(team_id: int, slug: str) -> list[tuple[str, str, bool]]:
    """``(name, path, sent with the token)`` of the endpoints measured."""
    team = f"view=team&team={team_id}"
    api_team = f"/api/tasks?team={slug}"
    by_priority = "unassigned=1&sort=priority"
    return [
        ("baseline /api/request-types (cookie)", "/api/request-types", False),
        ("GET /tasks (my tasks)", "/tasks", False),
        ("GET /tasks team queue", f"/tasks?{team}", False),
        ("GET /tasks team, unassigned, priority", f"/tasks?{team}&{by_priority}", False),
        ("baseline /api/request-types (token)", "/api/request-types", True),
        ("GET /api/tasks?assignee=me", "/api/tasks?assignee=me", True),
        ("GET /api/tasks team, unassigned, prio", f"{api_team}&assignee=none&sort=priority", True),
    ]  # fmt: skip


async def _run(db: Engine, folder: Path, options: argparse.Namespace) -> None:
    for module in (auth, tasks, api):
        module.run_in_threadpool = _inline  # type: ignore[attr-defined]
    session_id, token, team_id, slug = _agent(db)
    settings = load_settings(
        database_url=db.url.render_as_string(hide_password=False), data_dir=folder
    )
    app = create_app(
        settings, create_plugin_manager(), db=db, temporal=TemporalLink(address="127.0.0.1:9")
    )
    statements = [0, 0.0]

    @event.listens_for(db, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["started"] = time.perf_counter()

    @event.listens_for(db, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements[0] += 1
        statements[1] += time.perf_counter() - conn.info.pop("started")

    transport = httpx.ASGITransport(app=app)
    base = "http://tierflow.test"
    cookies = {SESSION_COOKIE: session_id}
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(transport=transport, base_url=base, cookies=cookies) as cookie,
        httpx.AsyncClient(transport=transport, base_url=base, headers=headers) as bearer,
    ):

        async def get(path: str, use_token: bool) -> float:
            started = time.perf_counter()
            reply = await (bearer if use_token else cookie).get(path)
            took = (time.perf_counter() - started) * 1000
            if reply.status_code != 200:
                raise SystemExit(f"{path} answered {reply.status_code}: {reply.text[:300]}")
            return took

        paths = _paths(team_id, slug)
        heads = ("p50 ms", "p95 ms", "CPU ms", "SQL/req", "in SQL")
        print(f"{'endpoint':40} " + " ".join(f"{head:>7}" for head in heads))
        for name, path, use_token in paths:
            for _ in range(5):
                await get(path, use_token)
            statements[:] = [0, 0.0]
            cpu = time.process_time()
            samples = [await get(path, use_token) for _ in range(options.requests)]
            cpu = (time.process_time() - cpu) * 1000 / options.requests
            share = statements[1] * 1000 / sum(samples)
            print(
                f"{name:40} {statistics.median(samples):7.2f} "
                f"{statistics.quantiles(samples, n=20, method='inclusive')[18]:7.2f} {cpu:7.2f} "
                f"{statements[0] / options.requests:7.1f} {share:6.0%}"
            )
        for template in options.profile:
            from pyinstrument import Profiler  # a development tool, installed apart

            wanted = template.format(team=team_id, slug=slug)
            profiler = Profiler(interval=0.0002, async_mode="disabled")
            with profiler:
                for _ in range(options.requests):
                    await get(wanted, wanted.startswith("/api/"))
            print(f"\n===== pyinstrument, {options.requests} x GET {wanted}")
            print(profiler.output_text(unicode=False, color=False, show_all=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--url", help="an already seeded, migrated database (not dropped)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--profile", nargs="*", default=[], metavar="PATH")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tierflow-profile-") as folder:
        if options.url:
            db = create_db_engine(options.url)
            asyncio.run(_run(db, Path(folder), options))
            db.dispose()
            return
        with database(options.database, options.postgres_url) as db:
            seed(db, tasks=options.tasks, say=say_to_stderr)
            asyncio.run(_run(db, Path(folder), options))


if __name__ == "__main__":
    main()
