"""A workflow for the core-activity tests (kept apart from pytest for the sandbox)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from engine.contrib import ActionInput


@workflow.defn(name="tests.RecordTwice")
class RecordTwice:
    """Records one event twice under one key (a retry), then calls a plugin's action."""

    @workflow.run
    async def run(self, work_item_id: int) -> list:
        args = ActionInput(
            workflow_id=workflow.info().workflow_id,
            step_id="escalate",
            key=f"{workflow.info().workflow_id}/escalate/1",
            work_item_id=work_item_id,
            args={"type": "escalated", "data": {"to": "desktop-support"}},
        )
        results = []
        for _ in range(2):
            results.append(
                await workflow.execute_activity(
                    "engine.record_event", args, start_to_close_timeout=timedelta(seconds=30)
                )
            )
        results.append(
            await workflow.execute_activity(
                "acme.greet", "desk", start_to_close_timeout=timedelta(seconds=30)
            )
        )
        return results
