"""Every help desk request type end to end on the real Temporal dev server, as people work it.

The plugin's workflows are deployed with ``deploy_all`` (as a site without
workflows of its own), requests come in through ``submit_request`` and tasks
are completed through ``complete_task`` by demo people of the right teams,
with every installed plugin's actions and event subscribers running (the
ticket facts, ownership, assignment and SLA parts included). At each step
the test checks the open task, the events, who owns the ticket (the help desk,
from start to end) and the facts of its ``Ticket`` row.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from engine.completion import complete_task
from engine.config import Settings, secret_key
from engine.contrib import RequestType
from engine.db import make_session_factory
from engine.demo import ensure_person
from engine.intake import Submission, submit_request
from engine.model import Event, Person, Task, Team, WorkItem
from engine.model import auth as credentials
from engine.plugins import PluginManager, create_plugin_manager, unique_by
from engine.runtime.activities import worker_activities
from engine.runtime.client import Runtime
from engine.runtime.interpreter import Interpreter
from engine.runtime.worker import build_worker
from engine.web.app import create_app
from engine.web.auth import SESSION_COOKIE
from engine.web.csrf import session_token
from engine.web.temporal import TemporalLink
from engine.workflows import deploy_all
from plugins.helpdesk import demo
from plugins.helpdesk.models import Ticket

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.timeout(180),
    pytest.mark.slow,
]

WAIT_SECONDS = 30
HANNAH, DIEGO, SAMUEL, MEI = (
    "hannah.lee@example.org",
    "diego.santos@example.org",
    "samuel.okafor@example.org",
    "mei.chen@example.org",
)
TOMAS, INGRID, ALICE = (
    "tomas.berg@example.org",
    "ingrid.novak@example.org",
    "alice.moreau@example.org",
)
MANAGER = "maria.keller@example.org"


@dataclass
class Desk:
    """The help desk on the dev server: a worker, the deployed workflows, the demo people."""

    client: Client
    runtime: Runtime
    pm: PluginManager
    sessions: sessionmaker[Session]
    request_types: dict[str, RequestType]

    def person(self, email: str) -> int:
        with self.sessions() as session:
            return session.scalars(select(Person.id).filter_by(email=email)).one()

    async def submit(
        self, kind: str, data: dict[str, Any], *, channel: str = "portal", logged_by: str = ""
    ) -> int:
        submission = Submission(
            kind, data, requester_id=self.person(ALICE), channel=channel, key=str(uuid.uuid4()),
            logged_by_id=self.person(logged_by) if logged_by else None,
        )  # fmt: skip
        done = await submit_request(
            self.sessions, self.pm, self.runtime, self.request_types, submission
        )
        return done.work_item_id

    async def task(self, item_id: int, step: str) -> Task:
        """The open task of ``step`` once the run has opened it."""
        for _ in range(WAIT_SECONDS * 10):
            with self.sessions() as session:
                query = select(Task).filter_by(work_item_id=item_id, step_id=step, status="open")
                task = session.scalars(query).first()
                if task is not None:
                    team = task.team.slug if task.team else None
                    session.expunge(task)
                    task.__dict__["team_slug"] = team
                    return task
            await asyncio.sleep(0.1)
        raise AssertionError(f"no open task '{step}' on item {item_id}: {self.state(item_id)}")

    async def complete(
        self, item_id: int, step: str, who: str, outcome: str, data: dict[str, Any] | None = None
    ) -> Task:
        task = await self.task(item_id, step)
        await complete_task(
            self.sessions, self.runtime, task.id, outcome=outcome, data=data or {},
            actor_id=self.person(who),
        )  # fmt: skip
        return task

    async def ended(self, item_id: int) -> dict[str, Any]:
        with self.sessions() as session:
            workflow_id = session.get(WorkItem, item_id).workflow_id
        handle = self.client.get_workflow_handle(workflow_id)
        return await asyncio.wait_for(handle.result(), WAIT_SECONDS)

    def state(self, item_id: int) -> dict[str, Any]:
        """The item's status, teams, events (type and data) and facts, read afresh."""
        with self.sessions() as session:
            item = session.get(WorkItem, item_id)
            events = session.scalars(
                select(Event).filter_by(work_item_id=item_id).order_by(Event.id)
            ).all()
            ticket = session.get(Ticket, item_id)
            slug = {team.id: team.slug for team in session.scalars(select(Team))}
            return {
                "status": item.status,
                "priority": item.priority,
                "owner": item.owner_team.slug if item.owner_team else None,
                "current": item.current_team.slug if item.current_team else None,
                "closed": item.closed_at is not None,
                "events": [(e.type, dict(e.data or {}), e.actor_id) for e in events],
                "facts": None if ticket is None else {
                    "first_contact": ticket.first_contact,
                    "resolving_tier": ticket.resolving_tier,
                    "resolving_team": slug.get(ticket.resolving_team_id),
                    "resolved_by": ticket.resolved_by_id,
                    "escalations": ticket.escalations,
                    "reopens": ticket.reopens,
                    "resolution_mode": ticket.resolution_mode,
                    "l1_capable": ticket.l1_capable,
                    "impact": ticket.impact,
                    "urgency": ticket.urgency,
                },
            }  # fmt: skip

    async def settled(self, item_id: int, event: str, count: int = 1) -> dict[str, Any]:
        """The item's state once ``count`` events of type ``event`` are recorded."""
        for _ in range(WAIT_SECONDS * 10):
            state = self.state(item_id)
            if sum(kind == event for kind, _, _ in state["events"]) >= count:
                return state
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {count} '{event}' events on item {item_id}: {state['events']}")


@pytest_asyncio.fixture(loop_scope="session")
async def desk(temporal_client: Client, db_engine: Engine, tmp_path: Path) -> AsyncIterator[Desk]:
    pm = create_plugin_manager()
    sessions = make_session_factory(db_engine)
    with sessions.begin() as session:
        demo.load(session)
        ensure_person(session, MANAGER, name="Maria Keller", roles={"manager"}, is_staff=True)
        deployment = deploy_all(session, pm, by="test", workflows_dir=tmp_path)  # no site files
    assert not deployment.problems, deployment.problems
    queue = f"helpdesk-{uuid.uuid4()}"
    worker = build_worker(
        temporal_client, queue, activities=worker_activities(pm, sessions), workflows=[Interpreter]
    )
    types = unique_by(pm, "tierflow_register_request_types", "name", expect=RequestType)
    async with worker:
        yield Desk(temporal_client, Runtime(temporal_client, queue), pm, sessions, types)


def events_of(state: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [data for type, data, _ in state["events"] if type == kind]


def owner_kept(state: dict[str, Any]) -> None:
    """The help desk became the owner once, at the start, and stayed the owner."""
    assert state["owner"] == "helpdesk-l1"
    assert events_of(state, "owner_changed") == [
        {"field": "owner_team", "from": None, "to": "helpdesk-l1"}
    ]


@dataclass(frozen=True)
class Journey:
    """One request type's way: its intake, the steps before triage, the second line's fix."""

    kind: str
    data: dict[str, Any]
    before: tuple[tuple[str, str, str, dict[str, Any]], ...]
    team: str
    tier: str
    step: str
    agent: str
    fix: dict[str, Any]


FIX = {"resolution": "Done properly this time.", "l1_capable": True}
JOURNEYS = [
    Journey(
        "incident",
        {"summary": "Screen stays black", "details": "After docking.", "impact": "medium",
         "urgency": "high"},
        (), "desktop-support", "L2", "desktop_fix", DIEGO, {**FIX, "mode": "on_site"},
    ),
    Journey(
        "service_request",
        {"summary": "Statistics package", "what": "software", "details": "For the budget.",
         "impact": "medium", "urgency": "high"},
        (), "analysts", "L2", "expert_fix", SAMUEL, FIX,
    ),
    Journey(
        "access_request",
        {"summary": "Finance folder", "system": "files/finance", "level": "write",
         "details": "Budget owner now.", "impact": "medium", "urgency": "high"},
        (("approval", MANAGER, "approved", {}),),
        "analysts", "L2", "expert_fix", SAMUEL, FIX,
    ),
    Journey(
        "new_hire",
        {"new_person": "Jana Novak", "start_date": "2026-12-14", "department": "Finance",
         "accounts": ["email", "erp"], "impact": "medium", "urgency": "high"},
        (("create_accounts", SAMUEL, "done", {"note": "jnovak created."}),
         ("prepare_workstation", MEI, "done", {"note": "LT-0099 imaged."})),
        "desktop-support", "L2", "desktop_fix", DIEGO, {**FIX, "mode": "remote"},
    ),
    Journey(
        "leaver",
        {"leaver": "Bob Fischer", "leaver_email": "bob.fischer@example.org",
         "last_day": "2026-12-18", "impact": "medium", "urgency": "high"},
        (("close_accounts", SAMUEL, "done", {"note": "Closed."}),
         ("collect_equipment", MEI, "done", {"note": "Collected."})),
        "network-l3", "L3", "expert_fix", INGRID, FIX,
    ),
]  # fmt: skip


@pytest.mark.parametrize("journey", JOURNEYS, ids=lambda journey: journey.kind)
async def test_l1_escalates_the_second_line_resolves_the_owner_confirms_and_closes(
    desk: Desk, journey: Journey
) -> None:
    item = await desk.submit(journey.kind, journey.data)
    for step, who, outcome, data in journey.before:
        await desk.complete(item, step, who, outcome, data)

    triage = await desk.task(item, "triage")
    state = desk.state(item)
    assert triage.team_slug == "helpdesk-l1"
    assert (state["status"], state["priority"], state["current"]) == ("open", 2, "helpdesk-l1")
    assert events_of(state, "prioritised") == [
        {"impact": "medium", "urgency": "high", "priority": 2}
    ]
    owner_kept(state)
    [sla] = events_of(state, "sla_started")  # the demo's policy for priority 2
    assert sla["policy_id"]
    assert sla["response_due"] < sla["resolution_due"]

    reason = f"Needs {journey.team}."
    await desk.complete(item, "triage", HANNAH, "escalate", {
        "category": "hardware", "diagnosis": "Looked at it.", "escalate_to": journey.team,
        "reason": reason,
    })  # fmt: skip
    fix = await desk.task(item, journey.step)
    state = desk.state(item)
    assert fix.team_slug == journey.team
    assert (state["status"], state["current"]) == ("escalated", journey.team)
    owner_kept(state)
    [escalated] = [(data, actor) for kind, data, actor in state["events"] if kind == "escalated"]
    assert escalated == (
        {"from_team": "helpdesk-l1", "to_team": journey.team, "from_tier": "L1",
         "to_tier": journey.tier, "reason": reason},
        desk.person(HANNAH),
    )  # fmt: skip
    assert state["facts"]["escalations"] == 1
    assert state["facts"]["first_contact"] is not True

    await desk.complete(item, journey.step, journey.agent, "fixed", journey.fix)
    confirm = await desk.task(item, "confirm")
    state = desk.state(item)
    assert confirm.team_slug == "helpdesk-l1"
    assert confirm.title.startswith("Confirm ")
    assert (state["status"], state["current"]) == ("resolved", "helpdesk-l1")
    owner_kept(state)
    mode = journey.fix.get("mode")
    [resolved] = [(data, actor) for kind, data, actor in state["events"] if kind == "resolved"]
    assert resolved == (
        {"team": journey.team, "tier": journey.tier, "resolution_mode": mode,
         "l1_capable": True, "first_contact": False},
        desk.person(journey.agent),
    )  # fmt: skip
    assert state["facts"] == {
        "first_contact": False, "resolving_tier": journey.tier, "resolving_team": journey.team,
        "resolved_by": desk.person(journey.agent), "escalations": 1, "reopens": 0,
        "resolution_mode": mode, "l1_capable": True, "impact": "medium", "urgency": "high",
    }  # fmt: skip

    await desk.complete(item, "confirm", HANNAH, "confirmed", {"note": "Works, thanks."})
    result = await desk.ended(item)
    state = await desk.settled(item, "closed")
    assert result["outcome"] == "resolved"
    assert (state["status"], state["closed"], state["current"]) == ("closed", True, "helpdesk-l1")
    assert [(d, a) for k, d, a in state["events"] if k == "closed"] == [
        ({"by": "owner"}, desk.person(HANNAH))
    ]
    owner_kept(state)
    assert events_of(state, "reopened") == []
    assert {"target": "resolution"} in events_of(state, "sla_met")


async def test_a_call_resolved_on_the_phone_is_first_contact_and_closed_at_once(desk: Desk) -> None:
    item = await desk.submit(
        "incident",
        {"summary": "Locked out", "details": "Forgot the password.", "resolved_on_call": True,
         "resolution": "Reset it with the caller."},
        channel="phone",
        logged_by=HANNAH,
    )  # fmt: skip
    result = await desk.ended(item)
    state = await desk.settled(item, "closed")
    assert result["outcome"] == "resolved"
    assert (state["status"], state["closed"], state["owner"]) == ("closed", True, "helpdesk-l1")
    [resolved] = [(data, actor) for kind, data, actor in state["events"] if kind == "resolved"]
    assert resolved == (
        {"team": "helpdesk-l1", "tier": "L1", "resolution_mode": None, "l1_capable": None,
         "first_contact": True},
        desk.person(HANNAH),
    )  # fmt: skip
    assert events_of(state, "closed") == [{"by": "owner"}]
    assert events_of(state, "task_opened") == []
    assert state["facts"]["first_contact"] is True
    assert state["facts"]["resolving_tier"] == "L1"
    assert state["facts"]["resolved_by"] == desk.person(HANNAH)
    assert state["facts"]["escalations"] == 0


async def test_a_manager_approves_an_access_request_on_the_web_task_page(
    desk: Desk, tmp_path: Path
) -> None:
    """The approval is for the manager role: Maria finds it under "For my role" and approves it
    on its task page; the run goes on to triage. Alice, who asked, sees no task to work."""
    item = await desk.submit("access_request", JOURNEYS[2].data)
    approval = await desk.task(item, "approval")
    assert (approval.role, approval.team_id, approval.assignee_id) == ("manager", None, None)
    settings = Settings(data_dir=tmp_path, task_queue=desk.runtime.task_queue)
    app = create_app(
        settings, desk.pm, db=desk.sessions.kw["bind"], temporal=TemporalLink(client=desk.client)
    )
    transport = httpx.ASGITransport(app=app)

    def browser(email: str) -> tuple[httpx.AsyncClient, str]:
        person_id = desk.person(email)
        with desk.sessions.begin() as session:
            session_id = credentials.start_session(session, person_id)
        cookies = {SESSION_COOKIE: session_id}
        client = httpx.AsyncClient(transport=transport, base_url="http://t", cookies=cookies)
        return client, session_token(secret_key(settings), session_id)

    alice, _ = browser(ALICE)
    async with alice:
        assert (await alice.get(f"/tasks/{approval.id}")).status_code == 403
        assert "Approve access" not in (await alice.get("/tasks?view=role")).text
    maria, token = browser(MANAGER)
    async with maria:
        queue = await maria.get("/tasks")
        assert queue.status_code == 200
        assert f'href="/tasks/{approval.id}"' in queue.text  # under "For my role"
        page = await maria.get(f"/tasks/{approval.id}")
        assert 'name="outcome" value="approved"' in page.text
        reply = await maria.post(
            f"/tasks/{approval.id}", data={"csrf_token": token, "outcome": "approved"}
        )
        assert reply.status_code == 303, reply.text
    triage = await desk.task(item, "triage")
    assert triage.team_slug == "helpdesk-l1"
    maria_id = desk.person(MANAGER)
    with desk.sessions() as session:
        done = session.get(Task, approval.id)
        assert (done.status, done.outcome, done.completed_by_id) == (
            "completed",
            "approved",
            maria_id,
        )
