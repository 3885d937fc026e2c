"""Workflows and activities the runtime tests run (Temporal wants them at module level).

Kept apart from the test modules so that the workflow sandbox, which re-imports
a workflow's module for every run, does not import pytest with it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

from engine.errors import TierflowError

from . import sandbox_probe


@dataclass(frozen=True)
class ShoutInput:
    name: str


@activity.defn(name="tests.shout")
def shout(args: ShoutInput) -> str:
    """A synchronous activity; says which thread ran it."""
    return f"{args.name.upper()}! ({threading.current_thread().name})"


@workflow.defn(name="tests.Greeting")
class GreetingWorkflow:
    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(
            shout, ShoutInput(name), start_to_close_timeout=timedelta(seconds=30)
        )


@workflow.defn(name="tests.Approval")
class ApprovalWorkflow:
    """Waits for an ``approve`` signal, then greets the approver."""

    def __init__(self) -> None:
        self.approver: str | None = None

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.approver is not None)
        assert self.approver is not None
        return await workflow.execute_activity(
            shout, ShoutInput(self.approver), start_to_close_timeout=timedelta(seconds=30)
        )

    @workflow.signal
    def approve(self, approver: str) -> None:
        self.approver = approver

    @workflow.query
    def waiting(self) -> bool:
        return self.approver is None


@workflow.defn(name="tests.Sleepy")
class SleepyWorkflow:
    """Sleeps, and returns how many seconds passed on the workflow's clock."""

    @workflow.run
    async def run(self, hours: float) -> float:
        started = workflow.now()
        await asyncio.sleep(timedelta(hours=hours).total_seconds())
        return (workflow.now() - started).total_seconds()


@workflow.defn(name="tests.ModuleIdentity")
class ModuleIdentityWorkflow:
    """Returns identities of objects from modules it imports, to compare with the worker's."""

    @workflow.run
    async def run(self) -> list[int]:
        return [id(TierflowError), sandbox_probe.TOKEN]
