"""The one interpreter workflow: it runs every YAML definition, step by step.

Workflow code here touches no database, clock or network: it sees plain data,
uses ``workflow.now()`` and Temporal timers, and does all I/O through
activities. A run is pinned to the definition version it started with (its
content hash, resolved once by a local activity and recorded in the history),
so deploying an edited file never changes a running instance.

The step types live in :mod:`engine.runtime.step_types` and
:mod:`engine.runtime.human_tasks`, expressions in :mod:`engine.runtime.flow`;
this module runs the lists of steps, keeps the run's state and answers queries.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError, is_cancelled_exception

from engine.runtime.flow import DB_RETRY, SHORT, End, Goto, failed, reads_item
from engine.runtime.human_tasks import HumanTasks
from engine.runtime.step_types import StepTypes

with workflow.unsafe.imports_passed_through():
    from engine.dsl.parse import parse_definition
    from engine.dsl.spec import Step, Workflow
    from engine.runtime.messages import (
        RUN_WORKFLOW,
        SIGNAL,
        CreateItemInput,
        Definition,
        OpenTask,
        Resume,
        RunInput,
        SignalInput,
        TaskCompletion,
    )

LAZY_ITEM = "lazy-item-refresh"
"""Patch id: the work item is loaded only when a step's expressions read it."""
SIDE_PATH_STOPPED = "side-path-stopped-mid-action"
"""Patch id: a side path stopped while one of its actions runs is stopped, not failed.

Before it, the cancelled action's error was taken for the side path failing, which
failed the run ("Cancelled") when the run ended, or restarted a ``beside``, at that moment."""


def _lists(steps: list[Step], into: dict[str, list[Step]]) -> dict[str, list[Step]]:
    """Each step id mapped to the list of steps it is in (parallel branches included)."""
    for step in steps:
        into[step.id] = steps
        for branch in step.parallel.branches.values() if step.parallel else ():
            _lists(branch, into)
    return into


@workflow.defn(name=RUN_WORKFLOW)
class Interpreter(StepTypes, HumanTasks):
    """Runs one work item's workflow definition."""

    def __init__(self) -> None:
        self.spec: Workflow | None = None
        self.definition: Definition | None = None
        self.run_input: RunInput | None = None
        self.item: dict[str, Any] = {}
        self.vars: dict[str, Any] = {}
        self.steps: dict[str, dict[str, Any]] = {}
        self.visits: dict[str, int] = {}
        self.current: list[str] = []
        self.path: list[str] = []
        self.open_tasks: dict[int, OpenTask] = {}
        self.completions: dict[int, TaskCompletion] = {}
        self.completing: set[int] = set()
        self.signals: dict[str, dict[str, Any]] = {}
        self.item_stale = True
        self.lazy_item = True
        self.opening = 0
        self.lists: dict[str, list[Step]] = {}
        self.side_paths: set[asyncio.Future[str]] = set()
        self.beside: dict[str, asyncio.Future[str]] = {}
        self.side_failure: BaseException | None = None
        self.main: asyncio.Task[Any] | None = None

    # -- the run ------------------------------------------------------------

    @workflow.run
    async def run(self, run: RunInput) -> dict[str, Any]:
        self.run_input = run
        self.main = asyncio.current_task()
        self.definition = await workflow.execute_local_activity(
            "engine.load_definition", run, result_type=Definition, start_to_close_timeout=SHORT
        )
        try:
            self.spec = parse_definition(
                self.definition.source,
                self.definition.content_hash,
                self.definition.shared_forms,
            )
        except ValueError as exc:  # deployed definitions are validated; this one was not
            raise ApplicationError(
                f"workflow '{run.definition}' ({self.definition.content_hash[:12]}) does not "
                f"load: {exc}",
                type="BadDefinition",
                non_retryable=True,
            ) from None
        self.lists = _lists(self.spec.steps, {})
        self.vars = dict(self.spec.variables)
        if run.work_item_id is None:  # a scheduled run: its own operational work item
            self.run_input = replace(run, work_item_id=await self._create_item())
        resume = run.resume
        if resume is not None:
            self.vars, self.steps = dict(resume.vars), dict(resume.steps)
            self.visits, self.path = dict(resume.visits), list(resume.path)
        # Runs started before this patch loaded the item eagerly (at the start and
        # after every task, action and call); their histories must replay the same.
        self.lazy_item = workflow.patched(LAZY_ITEM)
        await self._item_changed()
        try:
            outcome = await self._run_list(self.spec.steps, resume)
        except asyncio.CancelledError:
            await self._stop_side_paths()
            await workflow.execute_activity(
                "engine.cancel_open_tasks",
                workflow.info().workflow_id,
                start_to_close_timeout=SHORT,
                retry_policy=DB_RETRY,
            )
            if self.side_failure is not None:
                raise self.side_failure from None
            raise
        await self._stop_side_paths()
        return {"outcome": outcome, "vars": self.vars, "path": self.path}

    async def _run_list(
        self, steps: list[Step], resume: Resume | None = None, start: str | None = None
    ) -> str:
        """Run ``steps`` from the first (or ``start``, or where ``resume`` says); return the end."""
        index = {step.id: number for number, step in enumerate(steps)}
        top = self.spec is not None and steps is self.spec.steps
        first = resume.step if resume is not None else start
        number = index[first] if first is not None else 0
        while number < len(steps):
            step = steps[number]
            if top and resume is None and self._may_continue_as_new():
                await self._continue_as_new(Resume(step.id))
            moved = await self._run_step(step, resume if top else None)
            resume = None
            if isinstance(moved, End):
                return moved.outcome
            if isinstance(moved, Goto):
                if moved.step not in index:
                    raise failed(step, f"goes to '{moved.step}', which is not in the same list")
                number = index[moved.step]
            else:
                number += 1
        return "completed"

    async def _run_step(self, step: Step, resume: Resume | None = None) -> Goto | End | None:
        if resume is None or resume.task is None:
            self.visits[step.id] = self.visits.get(step.id, 0) + 1
            self.path.append(step.id)
        self.current.append(step.id)
        try:
            await self._item_for(step)
            if resume is not None and resume.task is not None:
                local = await self._task(step, resume)
            else:
                local = await getattr(self, f"_{step.kind}")(step)
        finally:
            self.current.remove(step.id)
        if isinstance(local, (Goto, End)):
            return local
        local = local or {}
        await self._item_for(step)
        for name, template in step.set.items():
            self.vars[name] = self._render(step, template, local)
        if step.beside is not None:
            self._start_side_path(step, step.beside, restart=True)
        if step.decide is not None:
            return Goto(self._choose(step, step.decide, local))
        if isinstance(step.next, str):
            return Goto(step.next)
        if isinstance(step.next, list):
            return Goto(self._choose(step, step.next, local))
        return None

    # -- side paths: escalations that keep their task open ----------------------

    def _start_side_path(self, step: Step, start: str, restart: bool = False) -> None:
        """Run the steps from ``start`` (in ``step``'s list) beside the run's own path.

        The side path ends at an ``end`` step or the end of its list, without
        ending the run; when the run ends, side paths still going are cancelled
        (closing their open tasks). A side path that fails fails the run. With
        ``restart`` (a step's ``beside``), one such side path runs per ``start``:
        a side path from ``start`` still going is cancelled first (a timer reset).
        """
        steps = self.lists[step.id]
        if start not in {each.id for each in steps}:
            raise failed(step, f"escalates to '{start}', which is not in the same list")
        if restart:
            running = self.beside.pop(start, None)
            if running is not None and not running.done():
                running.cancel()
        side = asyncio.ensure_future(self._side_path(steps, start))
        self.side_paths.add(side)
        if restart:
            self.beside[start] = side

    async def _side_path(self, steps: list[Step], start: str) -> str:
        me = asyncio.current_task()  # not in ``finally``: a run evicted from the cache has no loop
        try:
            return await self._run_list(steps, start=start)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # it fails the run, through the run's own path
            if is_cancelled_exception(exc) and workflow.patched(SIDE_PATH_STOPPED):
                raise asyncio.CancelledError from None  # stopped while an action ran
            if self.side_failure is None:
                self.side_failure = exc
                assert self.main is not None
                self.main.cancel()
            return "failed"
        finally:
            self.side_paths.discard(me)  # type: ignore[arg-type]

    async def _stop_side_paths(self) -> None:
        going = list(self.side_paths)
        for side in going:
            side.cancel()
        if going:
            await workflow.wait(going)

    # -- signals and queries ------------------------------------------------

    @workflow.signal(name=SIGNAL)
    def signal(self, signal: SignalInput) -> None:
        self.signals[signal.name] = dict(signal.payload)

    @workflow.query(name="current_steps")
    def current_steps(self) -> list[str]:
        return list(self.current)

    @workflow.query(name="path")
    def visited(self) -> list[str]:
        """Every step entered so far, in order (a step visited twice appears twice)."""
        return list(self.path)

    @workflow.query(name="open_tasks")
    def open_task_list(self) -> list[OpenTask]:
        return sorted(self.open_tasks.values(), key=lambda task: task.task_id)

    # -- the run's bookkeeping ----------------------------------------------------

    async def _create_item(self) -> int:
        assert self.spec is not None
        info = workflow.info()
        title = f"{self.spec.title or self.spec.name} {workflow.now():%Y-%m-%d %H:%M} UTC"
        return await workflow.execute_activity(
            "engine.create_work_item",
            CreateItemInput(info.workflow_id, self.spec.kind, self.spec.name, title),
            result_type=int,
            start_to_close_timeout=SHORT,
            retry_policy=DB_RETRY,
        )

    def _may_continue_as_new(self) -> bool:
        """The history is long, and no side path is going (it would be lost)."""
        if self.side_paths:
            return False
        info = workflow.info()
        limit = self.run_input.history_limit if self.run_input else 0
        if limit and info.get_current_history_length() > limit:
            return True
        return info.is_continue_as_new_suggested()

    async def _continue_as_new(self, resume: Resume) -> None:
        """Start afresh with the same definition version and this run's state."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self.run_input is not None
        assert self.definition is not None
        carried = Resume(
            resume.step, self.vars, self.steps, self.visits, self.path, resume.task, resume.fired
        )
        workflow.continue_as_new(
            replace(self.run_input, content_hash=self.definition.content_hash, resume=carried)
        )

    @property
    def _work_item_id(self) -> int | None:
        return self.run_input.work_item_id if self.run_input else None

    def _key(self, step: Step) -> str:
        return f"{workflow.info().workflow_id}/{step.id}/{self.visits[step.id]}"

    async def _item_changed(self) -> None:
        """The work item may have changed: load it again now, or when a step reads it."""
        self.item_stale = True
        if not self.lazy_item:
            await self._refresh_item()

    async def _item_for(self, step: Step) -> None:
        """Load the work item afresh if it may have changed and ``step`` reads it."""
        if self.lazy_item and self.item_stale and reads_item(step):
            await self._refresh_item()

    async def _refresh_item(self) -> None:
        self.item_stale = False
        if self.run_input is None or self.run_input.work_item_id is None:
            return
        self.item = await workflow.execute_local_activity(
            "engine.item_snapshot",
            self.run_input.work_item_id,
            result_type=dict,
            start_to_close_timeout=SHORT,
        )
