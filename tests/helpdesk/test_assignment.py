"""Assignment rules per team: who gets a task that opens for the team, ties included.

The rules run first as the subscriber runs them (:func:`assign_task` in the
task's transaction), then through the real task-opening activity (twice, as a
retry would; from many threads at once), and through the interpreter on the
time-skipping server.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from engine.db import make_session_factory
from engine.model import Event, Membership, Person, Task, Team, WorkItem
from engine.model.base import utcnow
from engine.plugins import create_plugin_manager
from engine.runtime.activities import worker_activities
from engine.runtime.binaries import test_server_path
from engine.runtime.interpreter import Interpreter
from engine.runtime.messages import (
    COMPLETE_TASK,
    OpenTask,
    OpenTaskInput,
    ReassignTaskInput,
    TaskCompletion,
    TaskDone,
)
from engine.runtime.task_activities import TaskActivities
from engine.runtime.worker import build_worker
from engine.web.inbox import InboxFilter, inbox_page
from plugins.helpdesk import assignment
from plugins.helpdesk import plugin as helpdesk_plugin
from plugins.helpdesk.assignment import assign_task
from plugins.helpdesk.models import AssignmentRule, Category, Skill, Ticket
from tests.interpreter.conftest import Harness

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@dataclass
class Desk:
    """A team with agents (by id) and a rule, and a way to open its tasks."""

    session: Session
    team: Team
    agents: list[Person]
    item: WorkItem
    make_person: Callable[..., Person]
    steps: itertools.count = field(default_factory=lambda: itertools.count(1))

    def rule(self, rule: str, last: Person | None = None) -> AssignmentRule:
        row = self.session.get(AssignmentRule, self.team.id)
        if row is None:
            row = AssignmentRule(team_id=self.team.id)
            self.session.add(row)
        row.rule, row.last_person_id = rule, last.id if last else None
        self.session.flush()
        return row

    def task(self, **fields: Any) -> Task:
        """A task row (not through the rule): ``assignee``, ``status``, ``created_at``, ``team``."""
        team = fields.pop("team", self.team)
        assignee = fields.pop("assignee", None)
        task = Task(
            work_item_id=fields.pop("item", self.item).id,
            workflow_id="run-1",
            step_id=f"step-{next(self.steps)}",
            title="Fix it",
            team_id=team.id,
            assignee_id=assignee.id if assignee else None,
            **fields,
        )
        self.session.add(task)
        self.session.flush()
        return task

    def open(self, **fields: Any) -> Task:
        """Open a task for the team and apply the rule, as the subscriber does."""
        task = self.task(**fields)
        assign_task(self.session, task.id)
        self.session.refresh(task)
        return task

    def agent(self, name: str, *, role: str = "member", **fields: Any) -> Person:
        person = self.make_person(name=name, roles=fields.pop("roles", {"agent"}), **fields)
        self.session.add(Membership(team_id=self.team.id, person_id=person.id, role=role))
        self.session.flush()
        return person

    def decisions(self) -> list[dict[str, Any]]:
        query = select(Event.data).where(Event.type == "task_assigned").order_by(Event.id)
        return list(self.session.scalars(query))


@pytest.fixture
def desk(session: Session, make_person, make_team, make_work_item) -> Desk:
    """Team "Desk" with agents Ann, Ben and Cat (ids in that order), Ann its lead."""
    team = make_team(slug="desk", name="Desk")
    built = Desk(session, team, [], make_work_item(title="Printer on fire"), make_person)
    built.agents = [
        built.agent("Ann", role="lead"),
        built.agent("Ben"),
        built.agent("Cat"),
    ]
    return built


def names(tasks: list[Task]) -> list[str]:
    return [task.assignee.name if task.assignee else "-" for task in tasks]


# ---------------------------------------------------------------- manual ---


def test_without_a_rule_or_with_manual_claim_tasks_stay_in_the_queue(desk: Desk) -> None:
    assert desk.open().assignee_id is None
    desk.rule("manual")
    assert desk.open().assignee_id is None
    assert desk.decisions() == []


# ----------------------------------------------------------- round robin ---


def test_round_robin_takes_turns_by_person_id_and_wraps_around(desk: Desk) -> None:
    rule = desk.rule("round_robin")
    tasks = [desk.open() for _ in range(5)]
    assert names(tasks) == ["Ann", "Ben", "Cat", "Ann", "Ben"]
    assert rule.last_person_id == desk.agents[1].id
    reasons = [d["reason"] for d in desk.decisions()]
    assert reasons[0] == "first in turn"
    assert reasons[3] == "next in turn (wrapped around to the first)"


def test_round_robin_skips_disabled_people_non_agents_and_non_members(
    desk: Desk, make_team
) -> None:
    ann, ben, _cat = desk.agents
    desk.agent("Dan (requester only)", roles={"requester"})
    other = make_team(slug="elsewhere")
    outsider = desk.make_person(name="Eve", roles={"agent"})
    desk.session.add(Membership(team_id=other.id, person_id=outsider.id))
    ben.active = False
    desk.rule("round_robin", last=ann)
    assert names([desk.open() for _ in range(3)]) == ["Cat", "Ann", "Cat"]


def test_round_robin_goes_on_after_a_last_person_who_left_the_team(desk: Desk) -> None:
    _ann, ben, _cat = desk.agents
    desk.rule("round_robin", last=ben)
    desk.session.delete(desk.session.get(Membership, (desk.team.id, ben.id)))
    desk.session.flush()
    assert names([desk.open(), desk.open()]) == ["Cat", "Ann"]


# ---------------------------------------------------------- least loaded ---


def test_least_loaded_counts_open_tasks_in_every_team(desk: Desk, make_team) -> None:
    ann, ben, cat = desk.agents
    other = make_team(slug="other")
    desk.task(assignee=ann)
    desk.task(assignee=ben, team=other)  # another team's work counts too
    desk.task(assignee=ben, team=other)
    desk.task(assignee=cat, status="completed")  # closed work does not
    desk.rule("least_loaded")
    task = desk.open()
    assert task.assignee_id == cat.id
    [decision] = desk.decisions()
    assert decision == {
        "task": task.id, "step": task.step_id, "rule": "least_loaded", "person": cat.email,
        "person_id": cat.id, "reason": "fewest open tasks (0)", "tie_break": None,
        "fallback": False,
    }  # fmt: skip


def test_least_loaded_ties_go_to_the_longest_since_the_last_assignment(desk: Desk) -> None:
    ann, ben, cat = desk.agents
    desk.task(assignee=ann, status="completed", created_at=T0 + timedelta(hours=2))
    desk.task(assignee=ben, status="completed", created_at=T0)
    desk.task(assignee=cat, status="completed", created_at=T0 + timedelta(hours=1))
    desk.rule("least_loaded")
    assert desk.open().assignee_id == ben.id
    assert desk.decisions()[-1]["tie_break"] == "last_assigned"
    assert "longest since their last assignment" in desk.decisions()[-1]["reason"]


def test_least_loaded_never_assigned_counts_as_longest_ago(desk: Desk) -> None:
    ann, ben, cat = desk.agents
    desk.task(assignee=ann, status="completed", created_at=T0)
    desk.task(assignee=cat, status="completed", created_at=T0)
    desk.rule("least_loaded")
    assert desk.open().assignee_id == ben.id


def test_least_loaded_equal_loads_and_equal_times_go_to_the_lowest_person_id(desk: Desk) -> None:
    ann, ben, cat = desk.agents
    for person in (cat, ben, ann):
        desk.task(assignee=person, created_at=T0)  # one open task each, opened at once
    desk.rule("least_loaded")
    assert desk.open().assignee_id == ann.id
    assert desk.decisions()[-1]["tie_break"] == "person_id"


def test_least_loaded_counts_a_claim_as_an_assignment(desk: Desk) -> None:
    ann, ben, cat = desk.agents
    for person in (ann, ben, cat):
        desk.task(assignee=person, status="completed", created_at=T0)
    # Ann claimed a task later on (an event), so she was given work most recently but Ben
    desk.session.add(
        Event(work_item_id=desk.item.id, type="task_claimed", actor_id=ann.id,
              occurred_at=T0 + timedelta(hours=3))
    )  # fmt: skip
    desk.session.add(
        Event(work_item_id=desk.item.id, type="task_claimed", actor_id=cat.id,
              occurred_at=T0 + timedelta(hours=1))
    )  # fmt: skip
    desk.rule("least_loaded")
    assert desk.open().assignee_id == ben.id


def test_least_loaded_looks_for_the_last_assignment_among_recent_tasks_only(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann, ben, cat = desk.agents
    desk.task(assignee=cat, status="completed", created_at=T0)
    desk.task(assignee=ben, status="completed", created_at=T0 + timedelta(hours=1))
    desk.task(assignee=ann, status="completed", created_at=T0 + timedelta(hours=2))
    for _ in range(3):
        desk.task()  # newer tasks nobody holds
    desk.rule("least_loaded")
    monkeypatch.setattr(assignment, "RECENT_TASKS", 4)  # those three and the new one
    assert desk.open().assignee_id == ann.id  # nobody's last assignment seen: all "never"
    assert desk.decisions()[-1]["tie_break"] == "person_id"
    monkeypatch.setattr(assignment, "RECENT_TASKS", 100)
    assert desk.open().assignee_id == cat.id  # Ben and Cat tie on load; hers is older
    assert desk.decisions()[-1]["tie_break"] == "last_assigned"


def test_least_loaded_spreads_a_burst_evenly(desk: Desk) -> None:
    desk.rule("least_loaded")
    assert names([desk.open() for _ in range(6)]) == ["Ann", "Ben", "Cat"] * 2


# ----------------------------------------------------------- skill match ---


@pytest.fixture
def network(session: Session) -> Category:
    root = Category(slug="network", name="Network")
    session.add(root)
    session.flush()
    return root


def skilled(desk: Desk, person: Person, category: Category) -> None:
    desk.session.add(Skill(person_id=person.id, category_id=category.id))
    desk.session.flush()


def test_skill_match_gives_the_least_loaded_of_the_skilled(desk: Desk, network) -> None:
    _ann, ben, cat = desk.agents
    skilled(desk, ben, network)
    skilled(desk, cat, network)
    desk.task(assignee=ben)
    desk.item.custom = {"category": "network"}
    desk.rule("skill_match")
    assert desk.open().assignee_id == cat.id  # Ann has least, but no skill
    decision = desk.decisions()[-1]
    assert (decision["rule"], decision["fallback"]) == ("skill_match", False)
    assert decision["reason"] == "skilled in 'network'; fewest open tasks (0)"


def test_skill_match_ties_among_the_skilled_go_to_the_lowest_id(desk: Desk, network) -> None:
    _ann, ben, cat = desk.agents
    skilled(desk, cat, network)
    skilled(desk, ben, network)
    desk.item.custom = {"category": network.id}
    desk.rule("skill_match")
    assert desk.open().assignee_id == ben.id
    assert desk.decisions()[-1]["tie_break"] == "person_id"


def test_a_skill_in_a_parent_category_covers_its_children(desk: Desk, network) -> None:
    wifi = Category(slug="wifi", name="Wi-Fi", parent_id=network.id)
    desk.session.add(wifi)
    desk.session.flush()
    skilled(desk, desk.agents[2], network)
    desk.session.add(Ticket(work_item_id=desk.item.id, category_id=wifi.id))  # the Ticket row's
    desk.rule("skill_match")
    assert desk.open().assignee_id == desk.agents[2].id


def test_skill_match_with_nobody_skilled_falls_back_to_least_loaded(desk: Desk, network) -> None:
    ann, ben, _cat = desk.agents
    outsider = desk.make_person(name="Zoe", roles={"agent"})
    skilled(desk, outsider, network)  # skilled, but not in the team
    desk.task(assignee=ann)
    desk.item.custom = {"category": "network"}
    desk.rule("skill_match")
    assert desk.open().assignee_id == ben.id
    decision = desk.decisions()[-1]
    assert decision["fallback"] is True
    assert decision["tie_break"] == "person_id"
    assert (
        "nobody in Desk has the skill 'network'; fell back to fewest open tasks (0)"
        in (decision["reason"])
    )


def test_skill_match_without_a_category_falls_back_and_says_so(desk: Desk) -> None:
    desk.item.custom = {"category": "no-such-category"}
    desk.rule("skill_match")
    assert desk.open().assignee_id == desk.agents[0].id
    decision = desk.decisions()[-1]
    assert decision["fallback"] is True
    assert decision["reason"].startswith("the item has no category")


# ------------------------------------------------------------ edge cases ---


def test_a_team_without_active_agents_leaves_the_task_and_says_why(desk: Desk, make_team) -> None:
    empty = make_team(slug="empty", name="Empty")
    desk.session.add(AssignmentRule(team_id=empty.id, rule="round_robin"))
    task = desk.open(team=empty)
    assert task.assignee_id is None
    reason = desk.session.scalars(select(Event.data).filter_by(type="task_not_assigned")).one()
    assert reason["reason"] == "Empty has no active agents to assign"


def test_a_task_for_a_person_or_decided_before_is_left_alone(desk: Desk) -> None:
    ann, _ben, cat = desk.agents
    desk.rule("round_robin")
    given = desk.open(assignee=cat)
    assert given.assignee_id == cat.id
    task = desk.open()
    assert task.assignee_id == ann.id
    task.assignee_id = None  # given back to the queue: the rule does not run again
    assert assign_task(desk.session, task.id) is None
    assert task.assignee_id is None
    assert len(desk.decisions()) == 1


# ------------------------------------- through the task-opening activity ---


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(db_engine)


@pytest.fixture
def activities(sessions: sessionmaker[Session]) -> TaskActivities:
    """The interpreter's task activities with the help desk plugin installed (its subscriber)."""
    pm = create_plugin_manager(entry_points=False, plugins=[("helpdesk", helpdesk_plugin)])
    return TaskActivities(pm, sessions)


def opening(desk: Desk, step: str = "triage") -> OpenTaskInput:
    return OpenTaskInput(
        workflow_id=f"run-{desk.item.id}", step_id=step, visit=1, work_item_id=desk.item.id,
        title="Triage", form="triage", team=desk.team.slug,
    )  # fmt: skip


def test_the_opening_activity_assigns_once_even_when_it_runs_twice(
    desk: Desk, activities: TaskActivities, sessions: sessionmaker[Session]
) -> None:
    ann, ben, _cat = desk.agents
    desk.rule("round_robin", last=ann)
    desk.session.commit()
    first = activities.open_task_for(opening(desk))
    again = activities.open_task_for(opening(desk))  # the activity retried after a timeout
    assert again.task_id == first.task_id
    assert ben.id in first.allowed  # the workflow lets the assignee complete it
    with sessions() as db:
        assert db.get(Task, first.task_id).assignee_id == ben.id
        assert db.get(AssignmentRule, desk.team.id).last_person_id == ben.id
        types = db.scalars(select(Event.type).order_by(Event.id)).all()
        assert types == ["task_opened", "task_assigned"]
        mine = inbox_page(db, InboxFilter(assignee_id=ben.id), after=None, now=utcnow())
        assert [row.task_id for row in mine.rows] == [first.task_id]  # Ben's "My tasks"
        queue = InboxFilter(team_ids=(desk.team.id,), unassigned=True)
        assert inbox_page(db, queue, after=None, now=utcnow()).rows == ()


def test_a_task_moved_to_another_team_is_decided_by_that_teams_rule_once(
    desk: Desk, activities: TaskActivities, sessions: sessionmaker[Session], make_team
) -> None:
    second = make_team(slug="second-line", name="Second line")
    expert = desk.make_person(name="Xena", roles={"agent"})
    desk.session.add(Membership(team_id=second.id, person_id=expert.id))
    desk.session.add(AssignmentRule(team_id=second.id, rule="least_loaded"))
    desk.session.commit()  # the desk's own rule: none (manual claim)
    opened = activities.open_task(opening(desk))
    move = ReassignTaskInput(opened, key="run/triage/overdue/1", team="second-line")
    activities.reassign_task(move)
    with sessions() as db:
        task = db.get(Task, opened)
        assert (task.team_id, task.assignee_id) == (second.id, expert.id)
        [decision] = db.scalars(select(Event.data).filter_by(type="task_assigned")).all()
        assert (decision["rule"], decision["person"]) == ("least_loaded", expert.email)


def test_tasks_opening_at_once_are_spread_evenly_by_round_robin(
    desk: Desk, activities: TaskActivities, sessions: sessionmaker[Session]
) -> None:
    desk.rule("round_robin")
    desk.session.commit()
    threads, per_thread = 6, 4
    start = threading.Barrier(threads)

    def open_some(thread: int) -> list[int]:
        start.wait()
        return [
            activities.open_task(opening(desk, f"step-{thread}-{n}")) for n in range(per_thread)
        ]

    with ThreadPoolExecutor(threads) as pool:
        opened = [task for batch in pool.map(open_some, range(threads)) for task in batch]
    with sessions() as db:
        assignees = db.scalars(select(Task.assignee_id).where(Task.id.in_(opened))).all()
        decided = db.scalar(select(func.count()).where(Event.type == "task_assigned"))
    assert Counter(assignees) == {person.id: 8 for person in desk.agents}
    assert decided == threads * per_thread


# ------------------------------------------------ on the interpreter ---

FLOW = """
name: assigned_flow
kind: ticket
forms:
  triage:
    fields:
      - {name: note, type: text}
    outcomes: [resolved]
steps:
  - id: triage
    task: {team: helpdesk-l1, form: triage}
  - id: done
    end: resolved
"""


@pytest_asyncio.fixture(loop_scope="session")
async def harness(db_engine: Engine) -> AsyncIterator[Harness]:
    """The interpreter on the time-skipping server, its worker with the help desk plugin."""
    pm = create_plugin_manager(entry_points=False, plugins=[("helpdesk", helpdesk_plugin)])
    sessions = make_session_factory(db_engine)
    queue = f"assign-{uuid.uuid4()}"
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path())
    ) as env:
        worker = build_worker(
            env.client, queue, activities=worker_activities(pm, sessions), workflows=[Interpreter]
        )
        async with worker:
            yield Harness(env.client, queue, sessions, env)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(60)
async def test_a_workflow_task_goes_to_the_next_agent_who_can_complete_it(
    harness: Harness, session: Session, make_person, make_team
) -> None:
    team = make_team(slug="helpdesk-l1", name="Help desk")
    ann, ben = (make_person(name=name, roles={"agent"}) for name in ("Ann", "Ben"))
    stranger = make_person(name="Stan", roles={"agent"})
    session.add_all(Membership(team_id=team.id, person_id=p.id) for p in (ann, ben))
    session.add(AssignmentRule(team_id=team.id, rule="round_robin", last_person_id=ann.id))
    session.commit()
    handle = await harness.start(FLOW)
    for _ in range(200):
        [task] = await handle.query("open_tasks", result_type=list[OpenTask]) or [None]
        if task is not None:
            break
        await asyncio.sleep(0.05)
    assert task is not None
    with harness.sessions() as db:
        assert db.get(Task, task.task_id).assignee_id == ben.id
        assert db.scalar(select(func.count()).where(Event.type == "task_assigned")) == 1
    with pytest.raises(WorkflowUpdateFailedError):
        await handle.execute_update(
            COMPLETE_TASK, TaskCompletion(task.task_id, "resolved", {}, actor_id=stranger.id),
            result_type=TaskDone,
        )  # fmt: skip
    await handle.execute_update(
        COMPLETE_TASK, TaskCompletion(task.task_id, "resolved", {}, actor_id=ben.id),
        result_type=TaskDone,
    )  # fmt: skip
    assert (await handle.result())["outcome"] == "resolved"
