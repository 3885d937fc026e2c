"""The interpreter's machine steps: action, decide, wait, parallel, notify, call and end.

Human tasks are in :mod:`engine.runtime.human_tasks`; the run loop that calls
these (``_<kind>(step)``) is :mod:`engine.runtime.interpreter`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

from engine.runtime.flow import ACTION_TIMEOUT, DB_RETRY, SHORT, End, Evaluation

with workflow.unsafe.imports_passed_through():
    from engine.contrib import ActionInput
    from engine.dsl.spec import Step
    from engine.runtime.messages import RUN_WORKFLOW, NotifyInput, RunInput


class StepTypes(Evaluation):
    """One method per machine step type; each returns the names its ``set``/``next`` may read."""

    async def _action(self, step: Step) -> dict[str, Any]:
        args = self._render_value(step, step.args, {})
        retry = RetryPolicy(
            maximum_attempts=step.retry.max_attempts if step.retry else 5,
            initial_interval=(step.retry and step.retry.initial_interval) or timedelta(seconds=1),
        )
        result = await workflow.execute_activity(
            step.action,
            ActionInput(
                workflow_id=workflow.info().workflow_id,
                step_id=step.id,
                key=self._key(step),
                work_item_id=self._work_item_id,
                args=args,
            ),
            start_to_close_timeout=step.timeout or ACTION_TIMEOUT,
            retry_policy=retry,
        )
        self.steps[step.id] = {"result": result}
        if step.result:
            self.vars[step.result] = result
        await self._item_changed()
        return {"result": result}

    async def _decide(self, step: Step) -> dict[str, Any]:
        return {}

    async def _wait(self, step: Step) -> dict[str, Any]:
        spec = step.wait
        assert spec is not None
        if spec.duration is not None:
            await workflow.sleep(spec.duration)
            return {}
        if spec.until is not None:
            until = self._moment(step, self._render(step, spec.until, {}))
            await workflow.sleep(max(until - workflow.now(), timedelta(0)))
            return {}
        name = str(spec.signal)
        try:
            await workflow.wait_condition(lambda: name in self.signals, timeout=spec.timeout)
        except TimeoutError:
            self.steps[step.id] = {"signal": None, "timed_out": True}
            return {"signal": None, "timed_out": True}
        payload = self.signals.pop(name)
        self.steps[step.id] = {"signal": payload, "timed_out": False}
        return {"signal": payload, "timed_out": False}

    async def _parallel(self, step: Step) -> dict[str, Any]:
        spec = step.parallel
        assert spec is not None
        branches = {
            name: asyncio.ensure_future(self._run_list(steps))
            for name, steps in spec.branches.items()
        }
        mode = asyncio.FIRST_COMPLETED if spec.wait_for == "first" else asyncio.FIRST_EXCEPTION
        done, pending = await workflow.wait(list(branches.values()), return_when=mode)
        for future in pending:
            future.cancel()
        if pending:
            await workflow.wait(list(pending))
        for future in done:
            if future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        outcomes = {
            name: future.result()
            for name, future in branches.items()
            if future.done() and not future.cancelled() and future.exception() is None
        }
        winner = (
            next((n for n, f in branches.items() if f in done), None)
            if spec.wait_for == "first"
            else None
        )
        self.steps[step.id] = {"outcomes": outcomes, "first": winner}
        return {"outcomes": outcomes, "first": winner}

    async def _send(self, key: str, to: list[str], subject: str, body: str) -> None:
        await workflow.execute_activity(
            "engine.notify",
            NotifyInput(key=key, work_item_id=self._work_item_id,
                        to=to, subject=subject, body=body),
            start_to_close_timeout=SHORT,
            retry_policy=DB_RETRY,
        )  # fmt: skip

    async def _notify(self, step: Step) -> dict[str, Any]:
        message = step.notify
        assert message is not None
        to = [str(self._render(step, r, {})) for r in message.to]
        await self._send(
            self._key(step), to, str(self._render(step, message.subject, {})),
            str(self._render(step, message.body, {})),
        )  # fmt: skip
        return {}

    async def _call(self, step: Step) -> dict[str, Any]:
        spec = step.call
        assert spec is not None
        child = RunInput(
            definition=spec.workflow,
            work_item_id=self._work_item_id,
            input=self._render_value(step, spec.input, {}),
        )
        result = await workflow.execute_child_workflow(
            RUN_WORKFLOW, child, id=self._key(step), result_type=dict
        )
        self.steps[step.id] = {"result": result}
        if step.result:
            self.vars[step.result] = result
        await self._item_changed()
        return {"result": result}

    async def _end(self, step: Step) -> End:
        assert step.end is not None
        return End(step.end.outcome)
