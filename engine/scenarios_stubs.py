"""Actions in scenarios: each call recorded, and answered by the scenario's stub if it has one.

Every action a worker runs (the engine's and each plugin's) is wrapped in an
activity of the same name. A call is matched to its scenario by the run id
(a child's workflow id starts with its parent's), recorded once per
idempotency key (a retry is the same call), and answered with the scenario's
stub for that action, or by the real action. Actions that are not installed
may still be stubbed.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine import workflows as service
from engine.contrib import ActionInput
from engine.plugins import PluginManager
from engine.runtime.activities import worker_activities
from engine.scenarios_expect import Call


@dataclass
class Recording:
    stubs: dict[str, Any]
    calls: list[Call] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)


class Recorder:
    """Which scenario each action call belongs to (by run id), its stubs, and its calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, Recording] = {}

    def open(self, run_id: str, stubs: dict[str, Any]) -> Recording:
        with self._lock:
            self._runs[run_id] = Recording(stubs)
            return self._runs[run_id]

    def close(self, run_id: str) -> None:
        with self._lock:
            self._runs.pop(run_id, None)

    def call(self, name: str, action: ActionInput) -> tuple[bool, Any]:
        """Record the call (once per key: retries are one call); ``(stubbed?, stub result)``."""
        with self._lock:
            run = self._runs.get(action.workflow_id.split("/", 1)[0])
            if run is None:
                return False, None
            if action.key not in run.keys:
                run.keys.add(action.key)
                run.calls.append(Call(name, action.step_id, dict(action.args)))
            if name in run.stubs:
                return True, run.stubs[name]
        return False, None


def scenario_activities(
    pm: PluginManager,
    sessions: sessionmaker[Session],
    recorder: Recorder,
    stubbed: set[str],
) -> list[Callable[..., Any]]:
    """Every activity of a worker, with each action wrapped to record its calls and stub it."""
    actions = service.action_names(pm)
    found = []
    for function in worker_activities(pm, sessions):
        name = getattr(function, "__temporal_activity_definition").name
        found.append(_recording(name, function, recorder) if name in actions else function)
    found += [_recording(name, None, recorder) for name in sorted(stubbed - actions)]
    return found


def _recording(
    name: str, real: Callable[..., Any] | None, recorder: Recorder
) -> Callable[..., Any]:
    """An activity named ``name`` that records each call and returns the stub, or runs ``real``."""
    if real is not None and inspect.iscoroutinefunction(real):

        @activity.defn(name=name)
        async def run_async(action: ActionInput) -> Any:
            stubbed, result = recorder.call(name, action)
            return result if stubbed else await real(action)

        return run_async

    @activity.defn(name=name)
    def run(action: ActionInput) -> Any:
        stubbed, result = recorder.call(name, action)
        if stubbed:
            return result
        if real is None:
            raise ApplicationError(
                f"action '{name}' is not installed here and this scenario has no stub for it: "
                f"add 'stubs: {{{name}: <result>}}'",
                type="NoStub",
                non_retryable=True,
            )
        return real(action)

    return run
