"""Reconciling Temporal Schedules with the deployed YAML, on the real dev server.

Runs on SQLite and PostgreSQL (``db_engine``).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from temporalio.client import Client, ScheduleDescription, ScheduleOverlapPolicy
from temporalio.service import RPCError, RPCStatusCode

from engine.db import make_session_factory
from engine.runtime.devserver import EmbeddedTemporal
from engine.runtime.messages import RUN_WORKFLOW, RunInput
from engine.runtime.schedules import (
    YAML_NOTE,
    DesiredSchedule,
    ReconcileReport,
    desired_schedules,
    reconcile,
    schedule_id,
    start_sync,
)
from tests.schedules.conftest import Deploy, deactivate, workflow_yaml

pytestmark = pytest.mark.slow

PARIS = ZoneInfo("Europe/Paris")
SCHEDULE = """\
  cron: "30 18 * * 6"
  timezone: Europe/Paris
  overlap: buffer_one
  catchup_window: 6h
  paused: true
  input: {scope: servers}"""


async def sync(client: Client, db: Engine, queue: str) -> ReconcileReport:
    with make_session_factory(db)() as session:
        desired = desired_schedules(session)
    return await reconcile(client, queue, desired)


async def describe(client: Client, name: str) -> ScheduleDescription:
    return await client.get_schedule_handle(schedule_id(name)).describe()


def run_input(client: Client, description: ScheduleDescription) -> RunInput:
    action = description.schedule.action
    converter = client.data_converter.payload_converter
    [value] = converter.from_payloads(list(action.args), [RunInput])  # type: ignore[attr-defined]
    return value


async def test_yaml_schedule_is_created_kept_updated_and_deleted(
    temporal_client: Client, db_engine: Engine, deploy: Deploy, queue: str, name: str
) -> None:
    first = deploy(workflow_yaml(name, SCHEDULE))
    deploy(workflow_yaml(f"{name}-plain"))  # no schedule: none is made

    report = await sync(temporal_client, db_engine, queue)
    assert (report.created, report.updated, report.deleted, report.failed) == ([name], [], [], {})

    described = await describe(temporal_client, name)
    schedule = described.schedule
    assert schedule.spec.time_zone_name == "Europe/Paris"
    assert schedule.policy.overlap == ScheduleOverlapPolicy.BUFFER_ONE
    assert schedule.policy.catchup_window == timedelta(hours=6)
    assert (schedule.state.paused, schedule.state.note) == (True, YAML_NOTE)
    assert schedule.action.workflow == RUN_WORKFLOW  # type: ignore[attr-defined]
    assert schedule.action.task_queue == queue  # type: ignore[attr-defined]
    assert schedule.action.id == f"tierflow/{name}/scheduled"  # type: ignore[attr-defined]
    assert run_input(temporal_client, described) == RunInput(
        definition=name, content_hash=first, work_item_id=None, input={"scope": "servers"}
    )
    # the cron in its time zone: Saturdays at 18:30 Paris time, whatever the UTC offset
    nexts = [moment.astimezone(PARIS) for moment in described.info.next_action_times]
    assert nexts
    assert all((m.weekday(), m.hour, m.minute) == (5, 18, 30) for m in nexts)

    again = await sync(temporal_client, db_engine, queue)
    assert (again.unchanged, again.changed) == ([name], False)
    assert (await describe(temporal_client, name)).info.last_updated_at == (
        described.info.last_updated_at
    )

    edited = deploy(workflow_yaml(name, SCHEDULE.replace("30 18 * * 6", "0 7 * * 1")))
    report = await sync(temporal_client, db_engine, queue)
    assert (report.updated, report.created, report.deleted) == ([name], [], [])
    described = await describe(temporal_client, name)
    assert run_input(temporal_client, described).content_hash == edited != first
    nexts = [moment.astimezone(PARIS) for moment in described.info.next_action_times]
    assert all((m.weekday(), m.hour, m.minute) == (0, 7, 0) for m in nexts)

    deploy(workflow_yaml(name))  # the schedule taken out of the YAML
    report = await sync(temporal_client, db_engine, queue)
    assert (report.deleted, report.created, report.updated) == ([name], [], [])
    with pytest.raises(RPCError) as missing:
        await describe(temporal_client, name)
    assert missing.value.status == RPCStatusCode.NOT_FOUND


async def test_deactivating_deletes_only_tierflow_schedules(
    temporal_client: Client, db_engine: Engine, deploy: Deploy, queue: str, name: str
) -> None:
    deploy(workflow_yaml(name, SCHEDULE))
    assert (await sync(temporal_client, db_engine, queue)).created == [name]
    foreign = await temporal_client.create_schedule(
        f"other-{name}", (await describe(temporal_client, name)).schedule
    )
    try:
        with make_session_factory(db_engine).begin() as session:
            deactivate(session, name)
        report = await _until_deleted(temporal_client, db_engine, queue)
        assert report.deleted == [name]
        await foreign.describe()  # not Tierflow's: left alone
    finally:
        await foreign.delete()


async def _until_deleted(client: Client, db: Engine, queue: str) -> ReconcileReport:
    """Reconcile until something is deleted (listing schedules lags behind creating them)."""
    for _ in range(50):
        report = await sync(client, db, queue)
        if report.deleted:
            return report
        await asyncio.sleep(0.1)
    raise AssertionError("the schedule was never deleted")


async def test_an_operators_pause_survives_reconciles_until_the_yaml_changes_paused(
    temporal_client: Client, db_engine: Engine, deploy: Deploy, queue: str, name: str
) -> None:
    running = SCHEDULE.replace("paused: true", "paused: false")
    deploy(workflow_yaml(name, running))
    assert (await sync(temporal_client, db_engine, queue)).created == [name]
    assert not (await describe(temporal_client, name)).schedule.state.paused

    handle = temporal_client.get_schedule_handle(schedule_id(name))
    await handle.pause(note="patching frozen for the audit")
    assert (await sync(temporal_client, db_engine, queue)).unchanged == [name]
    deploy(workflow_yaml(name, running.replace("30 18", "45 18")))  # another cron, same paused
    assert (await sync(temporal_client, db_engine, queue)).updated == [name]
    state = (await describe(temporal_client, name)).schedule.state
    assert (state.paused, state.note) == (True, "patching frozen for the audit")

    await handle.unpause()
    deploy(workflow_yaml(name, SCHEDULE))  # the YAML now says paused: applied
    assert (await sync(temporal_client, db_engine, queue)).updated == [name]
    assert (await describe(temporal_client, name)).schedule.state.paused
    deploy(workflow_yaml(name, running))  # and back
    assert (await sync(temporal_client, db_engine, queue)).updated == [name]
    assert not (await describe(temporal_client, name)).schedule.state.paused


async def test_a_schedule_temporal_refuses_fails_alone(
    temporal_client: Client, queue: str, name: str
) -> None:
    good = DesiredSchedule(workflow=name, content_hash="ab" * 32, cron="0 3 * * *")
    bad = replace(good, workflow=f"{name}-x", timezone="Europe/Atlantis")  # YAML checks refuse it
    report = await reconcile(temporal_client, queue, {good.id: good, bad.id: bad})
    assert report.created == [name]
    assert list(report.failed) == [bad.workflow]
    assert "Atlantis" in report.failed[bad.workflow]


async def test_trigger_starts_a_run_of_the_interpreter(
    temporal_client: Client, db_engine: Engine, deploy: Deploy, queue: str, name: str
) -> None:
    digest = deploy(workflow_yaml(name, SCHEDULE))
    await sync(temporal_client, db_engine, queue)
    await temporal_client.get_schedule_handle(schedule_id(name)).trigger()  # even when paused
    for _ in range(100):
        recent = (await describe(temporal_client, name)).info.recent_actions
        if recent:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the triggered run never started")
    workflow_id = recent[0].action.workflow_id  # type: ignore[attr-defined]
    assert workflow_id.startswith(f"tierflow/{name}/scheduled")
    run = temporal_client.get_workflow_handle(workflow_id)
    started = await run.describe()
    assert (started.workflow_type, started.task_queue) == (RUN_WORKFLOW, queue)
    history = await run.fetch_history()
    payloads = history.events[0].workflow_execution_started_event_attributes.input.payloads
    [value] = temporal_client.data_converter.payload_converter.from_payloads(
        list(payloads), [RunInput]
    )
    assert (value.definition, value.content_hash, value.work_item_id) == (name, digest, None)
    await run.terminate("test done")


async def test_the_embedded_server_publishes_its_address(temporal_server: EmbeddedTemporal) -> None:
    assert temporal_server.address_file.read_text().strip() == temporal_server.address


async def test_the_address_file_goes_when_the_server_stops(tmp_path) -> None:
    server = EmbeddedTemporal(tmp_path / "temporal")
    address = await server.start()
    assert server.address_file.read_text().strip() == address
    await server.stop()
    assert not server.address_file.exists()


async def test_the_worker_keeps_schedules_in_sync_in_the_background(
    temporal_client: Client, db_engine: Engine, deploy: Deploy, queue: str, name: str
) -> None:
    task, stop = start_sync(temporal_client, queue, make_session_factory(db_engine), every=0.1)
    try:
        deploy(workflow_yaml(name, SCHEDULE))
        for _ in range(100):
            try:
                await describe(temporal_client, name)
                break
            except RPCError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the background sync never created the schedule")
    finally:
        await stop()
    assert task.cancelled()
