"""Running scenarios on Temporal's time-skipping test server, with no Tierflow server at all.

One :class:`ScenarioEnvironment` per command: a temporary SQLite database
(migrated with every installed plugin's branches, every workflow deployed to
it) and one test server (the ``temporal-test-server`` binary, never a
download). Each scenario file gets a fresh task queue and an in-process worker
running the interpreter and every activity; each action is wrapped so that
its calls are recorded and, where a scenario stubs it, its result is the
stub's. Each scenario gets a fresh work item and run id, and its run is
terminated if it is still going at the end.

How a scenario's run is played is :mod:`engine.scenarios_play`; its action
stubs, :mod:`engine.scenarios_stubs`.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import Engine, select
from temporalio.client import (
    Client,
)
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from engine import workflows as service
from engine.db import create_db_engine, make_read_session_factory, make_session_factory
from engine.demo import ensure_person, ensure_team
from engine.dsl.durations import format_duration
from engine.dsl.loader import LoadedWorkflow, PathKey
from engine.migrate import upgrade
from engine.model import WorkItem
from engine.plugins import PluginManager, load_models, migration_branches
from engine.runtime.binaries import test_server_path
from engine.runtime.interpreter import Interpreter
from engine.runtime.messages import (
    RUN_WORKFLOW,
    RunInput,
)
from engine.runtime.worker import build_worker
from engine.scenarios import Interaction, Scenario
from engine.scenarios_expect import Observed, first_difference
from engine.scenarios_plan import Plan
from engine.scenarios_play import ScenarioFailed, ScenarioRun, person_id
from engine.scenarios_stubs import Recorder, scenario_activities


@dataclass
class Result:
    """How one scenario went."""

    plan: Plan
    number: int
    passed: bool
    seconds: float
    message: str = ""
    at: PathKey = ()
    observed: Observed | None = None

    @property
    def name(self) -> str:
        return self.plan.scenarios[self.number].name

    @property
    def where(self) -> str:
        """``file:line:col`` of what failed (the scenario itself when nothing finer is known)."""
        problem = self.plan.source.problem(("scenarios", self.number, *self.at), "")
        return f"{problem.file}:{problem.line}:{problem.column}"


# ------------------------------------------------------- the environment ---


_SDK_LOG = logging.getLogger("temporalio")


class ScenarioEnvironment:
    """A temporary database with every workflow deployed, and one time-skipping test server."""

    def __init__(self, pm: PluginManager, loaded: Sequence[LoadedWorkflow]) -> None:
        self.pm = pm
        self.loaded = list(loaded)
        self.hashes: dict[str, str] = {}
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._db: Engine | None = None
        self._env: WorkflowEnvironment | None = None

    async def __aenter__(self) -> ScenarioEnvironment:
        self._log_level = _SDK_LOG.level
        _SDK_LOG.setLevel(logging.CRITICAL)  # a failing action is reported by its scenario
        self._folder = tempfile.TemporaryDirectory(prefix="tierflow-scenarios-")
        try:
            self._db = create_db_engine(f"sqlite:///{Path(self._folder.name) / 'scenarios.db'}")
            load_models(self.pm)
            upgrade(self._db, migration_branches(self.pm))
            self.sessions = make_session_factory(self._db)
            self.reads = make_read_session_factory(self._db)
            with self.sessions.begin() as session:
                deployed = service.deploy(session, self.loaded, by="tierflow workflows test")
            self.hashes = {result.name: result.content_hash for result in deployed}
            self._env = await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=str(test_server_path()), runtime=_quiet_runtime()
            )
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._env is not None:
            await self._env.shutdown()
            self._env = None
        if self._db is not None:
            self._db.dispose()
            self._db = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None
        _SDK_LOG.setLevel(self._log_level)

    @property
    def env(self) -> WorkflowEnvironment:
        assert self._env is not None, "use the environment with 'async with'"
        return self._env

    @property
    def client(self) -> Client:
        return self.env.client

    async def run_plan(
        self,
        plan: Plan,
        report: Callable[[Result], None],
        wanted: Callable[[Scenario], bool] = lambda _s: True,
    ) -> list[Result]:
        """Run ``plan``'s scenarios (those ``wanted``) one by one; ``report`` each as it ends."""
        self._seed(plan)
        recorder = Recorder()
        queue = f"scenarios-{uuid.uuid4().hex}"
        worker = build_worker(
            self.client,
            queue,
            activities=scenario_activities(
                self.pm, self.sessions, recorder, plan.source.stub_names
            ),
            workflows=[Interpreter],
            graceful_shutdown=timedelta(seconds=1),
        )
        results = []
        async with worker:
            for number, scenario in enumerate(plan.scenarios):
                if not wanted(scenario):
                    continue
                result = await self._run_one(plan, number, queue, recorder)
                report(result)
                results.append(result)
        return results

    def _seed(self, plan: Plan) -> None:
        with self.sessions.begin() as session:
            for slug in sorted(plan.teams):
                ensure_team(session, slug, name=slug)
            for person in plan.people.values():
                ensure_person(
                    session,
                    person.email,
                    name=person.name or person.email.split("@")[0],
                    roles=set(person.roles),
                    teams=dict.fromkeys(person.teams, "member"),
                )

    def _work_item(self, plan: Plan, number: int, run_id: str) -> int:
        scenario, workflow = plan.scenarios[number], plan.subject.main.workflow
        spec = scenario.item
        summary = plan.inputs[number].get("summary")
        with self.sessions.begin() as session:
            if spec.reference:  # an earlier scenario's item may hold it: it is done with it
                for old in session.scalars(select(WorkItem).filter_by(reference=spec.reference)):
                    old.reference = None
                session.flush()
            item = WorkItem(
                kind=workflow.kind,
                type=spec.type or workflow.name,
                title=(spec.title or (summary if isinstance(summary, str) else scenario.name))[
                    :300
                ],
                status=spec.status,
                priority=spec.priority,
                channel=spec.channel,
                description=spec.description,
                custom=to_jsonable_python(spec.custom),
                workflow_id=run_id,
                requester_id=person_id(session, spec.requester),
                assignee_id=person_id(session, spec.assignee),
                owner_team=ensure_team(session, spec.owner_team) if spec.owner_team else None,
                current_team=ensure_team(session, spec.current_team) if spec.current_team else None,
            )
            session.add(item)
            session.flush()
            item.reference = spec.reference or f"SCN-{item.id}"
            return item.id

    async def _run_one(self, plan: Plan, number: int, queue: str, recorder: Recorder) -> Result:
        started = time.perf_counter()
        scenario = plan.scenarios[number]
        run_id = f"scenario-{uuid.uuid4().hex[:16]}"
        item_id = self._work_item(plan, number, run_id)
        recording = recorder.open(run_id, to_jsonable_python(scenario.stubs))
        run: ScenarioRun | None = None
        try:
            handle = await self.client.start_workflow(
                RUN_WORKFLOW,
                RunInput(
                    definition=plan.subject.name,
                    content_hash=self.hashes[plan.subject.name],
                    work_item_id=item_id,
                    input=plan.inputs[number],
                ),
                id=run_id,
                task_queue=queue,
                result_type=dict,
            )
            run = ScenarioRun(
                self.env, self.reads, plan, handle, item_id=item_id, recording=recording
            )
            for index, step in enumerate(scenario.do):
                try:
                    await run.interact(step)
                except ScenarioFailed as exc:
                    raise ScenarioFailed(
                        f"{_describe(step)}: {exc.message}", ("do", index)
                    ) from None
            observed = await run.observe()
        except ScenarioFailed as exc:
            seconds = time.perf_counter() - started
            return Result(plan, number, False, seconds, exc.message, exc.at)
        finally:
            if run is not None:
                await run.stop()
            recorder.close(run_id)
        order = list(_expect_data(plan, number))
        difference = first_difference(scenario.expect, order, observed)
        seconds = time.perf_counter() - started
        if difference is None:
            return Result(plan, number, True, seconds, observed=observed)
        at = ("expect", *difference.at) if difference.at else ()
        return Result(plan, number, False, seconds, difference.message, at, observed)


@cache
def _quiet_runtime() -> Runtime:
    """A Temporal runtime that logs only errors: the test server is not the production server,
    and the SDK's warning that it lacks a recent server's features is noise here."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


def _expect_data(plan: Plan, number: int) -> dict[str, Any]:
    data = plan.source.data["scenarios"][number].get("expect")
    return data if isinstance(data, dict) else {}


def _describe(step: Interaction) -> str:
    value = step.wait if step.kind == "wait" else getattr(step, step.kind)
    if isinstance(value, timedelta):
        value = format_duration(value)
    return f"{step.kind}: {value}"
