"""Temporal Schedules that match the ``schedule:`` of the deployed workflows.

Every active definition with a ``schedule:`` has one Temporal Schedule, id
``tierflow/<workflow name>``, that starts the interpreter (``tierflow.run``)
pinned to that definition's ``content_hash``. :func:`reconcile` creates,
updates and deletes schedules (only ids starting with ``tierflow/``) until
Temporal matches the database; the worker runs it every 30 s
(:func:`keep_in_sync`) and ``tierflow schedules sync`` runs it at once.

What was applied is remembered in the scheduled action's memo
(:data:`MEMO_KEY`): a fingerprint of everything taken from the YAML, and the
YAML's ``paused`` value. A schedule whose fingerprint matches is left alone,
so reconciling is idempotent. ``paused`` from the YAML is applied when the
schedule is created and when the YAML's value changed since; otherwise the
schedule's current state is kept, so an operator's ``tierflow schedules
pause`` survives the next reconcile.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from engine.errors import TemporalError, TierflowError
from engine.model import WorkflowDefinition
from engine.runtime.messages import RUN_WORKFLOW, RunInput
from engine.workflows import stored_workflow

log = logging.getLogger(__name__)

PREFIX = "tierflow/"
"""Schedules whose id starts with this belong to Tierflow; others are never touched."""

MEMO_KEY = "tierflow_schedule"
"""The scheduled action's memo entry holding what the last reconcile applied."""

YAML_NOTE = "paused by the workflow's YAML (schedule.paused)"

_OVERLAP = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "buffer_all": ScheduleOverlapPolicy.BUFFER_ALL,
    "cancel_other": ScheduleOverlapPolicy.CANCEL_OTHER,
    "terminate_other": ScheduleOverlapPolicy.TERMINATE_OTHER,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}
OVERLAP_NAMES = {policy: name for name, policy in _OVERLAP.items()}


def schedule_id(workflow: str) -> str:
    return f"{PREFIX}{workflow}"


@dataclass(frozen=True)
class DesiredSchedule:
    """What the active version of a workflow's YAML asks of its schedule."""

    workflow: str
    content_hash: str
    cron: str
    timezone: str = "UTC"
    overlap: str = "skip"
    catchup_window: timedelta | None = None
    paused: bool = False
    input: Mapping[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return schedule_id(self.workflow)

    def fingerprint(self, task_queue: str) -> str:
        """A digest of everything applied from the YAML except ``paused``."""
        catchup = None if self.catchup_window is None else self.catchup_window.total_seconds()
        fields = [
            self.workflow,
            self.content_hash,
            self.cron,
            self.timezone,
            self.overlap,
            catchup,
            dict(self.input),
            task_queue,
            RUN_WORKFLOW,
        ]
        text = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def schedule(self, task_queue: str, *, state: ScheduleState) -> Schedule:
        """The Temporal schedule for this YAML, in ``state``."""
        memo = {
            MEMO_KEY: {
                "fingerprint": self.fingerprint(task_queue),
                "paused": self.paused,
                "cron": self.cron,
                "timezone": self.timezone,
                "content_hash": self.content_hash,
            }
        }
        action = ScheduleActionStartWorkflow(
            RUN_WORKFLOW,
            RunInput(
                definition=self.workflow,
                content_hash=self.content_hash,
                work_item_id=None,
                input=dict(self.input),
            ),
            id=f"{self.id}/scheduled",
            task_queue=task_queue,
            memo=memo,
        )
        return Schedule(
            action=action,
            spec=ScheduleSpec(cron_expressions=[self.cron], time_zone_name=self.timezone),
            policy=SchedulePolicy(
                overlap=_OVERLAP[self.overlap], catchup_window=self.catchup_window
            ),
            state=state,
        )


def desired_schedules(session: Session) -> dict[str, DesiredSchedule]:
    """The schedules the active definitions ask for, by schedule id."""
    rows = session.scalars(
        select(WorkflowDefinition)
        .where(WorkflowDefinition.active)
        .order_by(WorkflowDefinition.name)
    ).all()
    found: dict[str, DesiredSchedule] = {}
    for row in rows:
        if "schedule" not in row.source:  # most definitions have none: skip parsing them
            continue
        wanted = stored_workflow(row).schedule
        if wanted is None:
            continue
        desired = DesiredSchedule(
            workflow=row.name,
            content_hash=row.content_hash,
            cron=wanted.cron,
            timezone=wanted.timezone,
            overlap=wanted.overlap,
            catchup_window=wanted.catchup_window,
            paused=wanted.paused,
            input=wanted.input,
        )
        found[desired.id] = desired
    return found


@dataclass
class ReconcileReport:
    """What one reconcile did, by workflow name."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)

    def __str__(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("created", self.created),
                ("updated", self.updated),
                ("deleted", self.deleted),
                ("unchanged", self.unchanged),
            )
            if names
        ]
        parts += [f"failed {name}: {why}" for name, why in self.failed.items()]
        return "; ".join(parts) or "no schedules"


async def reconcile(
    client: Client, task_queue: str, desired: Mapping[str, DesiredSchedule]
) -> ReconcileReport:
    """Create, update and delete ``tierflow/`` schedules so that Temporal matches ``desired``.

    A schedule that fails (a time zone Temporal does not know, say) is
    reported in ``failed`` and the others are still reconciled.
    """
    report = ReconcileReport()
    for wanted in desired.values():
        try:
            status = await _apply(client, task_queue, wanted)
        except RPCError as exc:
            report.failed[wanted.workflow] = exc.message
            continue
        getattr(report, status).append(wanted.workflow)
    async for listed in await client.list_schedules():
        if not listed.id.startswith(PREFIX) or listed.id in desired:
            continue
        name = listed.id.removeprefix(PREFIX)
        try:
            await client.get_schedule_handle(listed.id).delete()
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # listing lags: already gone is fine
                report.failed[name] = exc.message
            continue
        report.deleted.append(name)
    return report


async def _apply(client: Client, task_queue: str, wanted: DesiredSchedule) -> str:
    """Make one schedule match; return ``created``, ``updated`` or ``unchanged``."""
    handle = client.get_schedule_handle(wanted.id)
    try:
        await handle.describe()
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        state = ScheduleState(paused=wanted.paused, note=YAML_NOTE if wanted.paused else None)
        try:
            await client.create_schedule(wanted.id, wanted.schedule(task_queue, state=state))
        except ScheduleAlreadyRunningError:
            pass  # created meanwhile (another worker): update it below
        else:
            return "created"
    outcome = "unchanged"

    def updater(update: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal outcome
        current = update.description
        applied = applied_memo(client, current)
        fingerprint = wanted.fingerprint(task_queue)
        if applied.get("fingerprint") == fingerprint and applied.get("paused") == wanted.paused:
            outcome = "unchanged"
            return None
        state = current.schedule.state
        if applied.get("paused") != wanted.paused:  # the YAML's paused changed: apply it
            state.paused = wanted.paused
            state.note = YAML_NOTE if wanted.paused else None
        outcome = "updated"
        return ScheduleUpdate(schedule=wanted.schedule(task_queue, state=state))

    await handle.update(updater)
    return outcome


def applied_memo(client: Client, description: ScheduleDescription) -> dict[str, Any]:
    """What the last reconcile applied to a schedule (from its action's memo), or ``{}``."""
    action = description.schedule.action
    memo = getattr(action, "memo", None) or {}
    payload = memo.get(MEMO_KEY)
    if payload is None:
        return {}
    value = client.data_converter.payload_converter.from_payload(payload)
    return value if isinstance(value, dict) else {}


async def keep_in_sync(
    client: Client,
    task_queue: str,
    sessions: sessionmaker[Session],
    every: float = 30,
) -> None:
    """Reconcile now and then every ``every`` seconds, forever; a failure is logged, not raised."""
    while True:
        try:
            await sync_once(client, task_queue, lambda: _read(sessions))
        except Exception:
            log.exception("reconciling the Temporal schedules failed; retrying in %g s", every)
        await asyncio.sleep(every)


async def sync_once(
    client: Client, task_queue: str, read: Callable[[], dict[str, DesiredSchedule]]
) -> ReconcileReport:
    """Read what the database asks for (on a thread), reconcile, log what changed."""
    desired = await asyncio.to_thread(read)
    report = await reconcile(client, task_queue, desired)
    if report.changed or report.failed:
        log.info("schedules: %s", report)
    return report


def _read(sessions: sessionmaker[Session]) -> dict[str, DesiredSchedule]:
    with sessions() as session:
        return desired_schedules(session)


def start_sync(
    client: Client, task_queue: str, sessions: sessionmaker[Session], every: float = 30
) -> tuple[asyncio.Task[None], Callable[[], Awaitable[None]]]:
    """Run :func:`keep_in_sync` in a background task; return it and a function that stops it."""
    task = asyncio.create_task(
        keep_in_sync(client, task_queue, sessions, every), name="schedule sync"
    )

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return task, stop


# ------------------------------------------------------ operating them -------


class ScheduleNotFound(TierflowError):
    """A workflow has no Tierflow schedule."""


@dataclass(frozen=True)
class ScheduleRow:
    """One schedule as ``tierflow schedules list`` shows it."""

    name: str
    cron: str
    timezone: str
    overlap: str
    paused: bool
    note: str | None
    next_runs: list[datetime]
    last_run: datetime | None


async def list_schedules(client: Client) -> list[ScheduleRow]:
    """Every Tierflow schedule on the server, by workflow name."""
    ids = sorted([s.id async for s in await client.list_schedules() if s.id.startswith(PREFIX)])
    rows = []
    for id_ in ids:
        try:
            description = await client.get_schedule_handle(id_).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:  # deleted since it was listed
                continue
            raise
        schedule, info = description.schedule, description.info
        applied = applied_memo(client, description)
        rows.append(
            ScheduleRow(
                name=id_.removeprefix(PREFIX),
                cron=applied.get("cron") or " ".join(schedule.spec.cron_expressions) or "?",
                timezone=applied.get("timezone") or schedule.spec.time_zone_name or "UTC",
                overlap=OVERLAP_NAMES.get(schedule.policy.overlap, str(schedule.policy.overlap)),
                paused=schedule.state.paused,
                note=schedule.state.note,
                next_runs=list(info.next_action_times),
                last_run=info.recent_actions[-1].started_at if info.recent_actions else None,
            )
        )
    return rows


async def _handle(client: Client, name: str) -> ScheduleHandle:
    handle = client.get_schedule_handle(schedule_id(name))
    try:
        await handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise ScheduleNotFound(
                f"workflow '{name}' has no schedule (does its YAML have 'schedule:', and is it "
                "deployed and synced? 'tierflow schedules list' shows the schedules)"
            ) from exc
        raise TemporalError(f"cannot read the schedule of '{name}': {exc.message}") from exc
    return handle


async def pause(client: Client, name: str, note: str) -> None:
    """Pause a workflow's schedule (it stays paused across reconciles, see the module doc)."""
    await (await _handle(client, name)).pause(note=note)


async def resume(client: Client, name: str, note: str) -> None:
    await (await _handle(client, name)).unpause(note=note)


async def trigger(client: Client, name: str) -> None:
    """Start a run now, as the schedule would (its overlap policy applies)."""
    await (await _handle(client, name)).trigger()
