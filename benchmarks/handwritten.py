"""The hand-written Temporal workflow the interpreter benchmark compares against.

It does the same work as ``interpreter.py``'s YAML definition, with the same
activities: four actions, three human tasks recorded through the engine's task
activities and completed by an update, and one decision.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from engine.contrib import ActionInput
    from engine.runtime.messages import CloseTaskInput, OpenTaskInput, TaskCompletion, TaskDone

SHORT = timedelta(seconds=10)
RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))


@workflow.defn(name="bench.handwritten")
class Handwritten:
    def __init__(self) -> None:
        self.open: dict[int, str] = {}
        self.done: dict[int, TaskCompletion] = {}

    @workflow.run
    async def run(self, work_item_id: int) -> dict[str, Any]:
        info = workflow.info()
        path = []
        for number, step in enumerate(("a1", "t1", "a2", "t2", "decide", "a3", "t3", "a4")):
            path.append(step)
            if step.startswith("a"):
                await workflow.execute_activity(
                    "bench.noop",
                    ActionInput(info.workflow_id, step, f"{info.workflow_id}/{step}/1",
                                work_item_id, {"n": number}),
                    start_to_close_timeout=timedelta(minutes=5),
                )  # fmt: skip
            elif step.startswith("t"):
                task_id = await workflow.execute_activity(
                    "engine.open_task",
                    OpenTaskInput(info.workflow_id, step, 1, work_item_id, step, "work",
                                  team="bench"),
                    result_type=int, start_to_close_timeout=SHORT, retry_policy=RETRY,
                )  # fmt: skip
                self.open[task_id] = step
                await workflow.wait_condition(lambda t=task_id: t in self.done)
            elif self.done and next(iter(self.done.values())).outcome != "done":
                return {"outcome": "odd", "path": path}
        return {"outcome": "done", "path": path}

    @workflow.query(name="open")
    def open_tasks(self) -> list[int]:
        return sorted(self.open)

    @workflow.update(name="complete_task")
    async def complete_task(self, completion: TaskCompletion) -> TaskDone:
        step = self.open.pop(completion.task_id)
        await workflow.execute_activity(
            "engine.close_task",
            CloseTaskInput(completion.task_id, "completed", completion.outcome, completion.data),
            start_to_close_timeout=SHORT, retry_policy=RETRY,
        )  # fmt: skip
        self.done[completion.task_id] = completion
        return TaskDone(completion.task_id, step, completion.outcome)

    @complete_task.validator
    def _check(self, completion: TaskCompletion) -> None:
        if completion.task_id not in self.open:
            raise ValueError(f"task {completion.task_id} is not open")
        if completion.outcome != "done":
            raise ValueError("outcome must be done")
