"""Moving an open task (an overdue rule) once per key: a retried move undoes nothing done since."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from engine.db import make_session_factory
from engine.model import Event, Task
from engine.plugins import create_plugin_manager
from engine.runtime.messages import ReassignTaskInput
from engine.runtime.task_activities import TaskActivities


def test_a_retried_move_leaves_a_later_claim_alone(
    db_engine: Engine, session: Session, make_team, make_person, make_work_item
) -> None:
    l1, l2 = make_team(slug="helpdesk-l1"), make_team(slug="desktop-support")
    mei = make_person(email="mei@example.org", roles={"agent"})
    item = make_work_item()
    task = Task(work_item_id=item.id, workflow_id="wf-1", step_id="fix", team_id=l1.id)
    session.add(task)
    session.commit()
    activities = TaskActivities(
        create_plugin_manager(entry_points=False), make_session_factory(db_engine)
    )
    move = ReassignTaskInput(task_id=task.id, key="wf-1/fix/overdue/1", team="desktop-support")

    activities.reassign_task(move)
    session.expire_all()
    task.assignee_id = mei.id  # Mei claims it in its new queue
    session.commit()
    activities.reassign_task(move)  # the activity's retry, after its first attempt had committed

    session.expire_all()
    assert (task.team_id, task.assignee_id) == (l2.id, mei.id)
    moves = session.scalars(select(Event).filter_by(type="task_reassigned")).all()
    assert len(moves) == 1
