"""Activities behind the interpreter: definitions, work-item snapshots, tasks, notifications.

Each is idempotent. A task is keyed by ``(workflow id, step id, visit)`` (a
unique constraint), its events by the task, so a retry after a crash finds
what the first attempt wrote instead of writing it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.choices import UnknownChoiceList, load_choices
from engine.dsl.forms import Options
from engine.events import record_event
from engine.model import (
    Event,
    Membership,
    Person,
    PersonRole,
    Task,
    Team,
    WorkflowDefinition,
    WorkItem,
)
from engine.model.base import utcnow
from engine.plugins import PluginManager
from engine.runtime.messages import (
    CandidatesInput,
    CloseTaskInput,
    CreateItemInput,
    Definition,
    NotifyInput,
    OpenedTask,
    OpenTaskInput,
    ReassignTaskInput,
    RunInput,
)


def _fail(message: str, kind: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


class TaskActivities:
    """The interpreter's own activities, bound to a database and the plugins."""

    def __init__(self, pm: PluginManager, sessions: sessionmaker[Session]) -> None:
        self.pm = pm
        self.sessions = sessions

    @activity.defn(name="engine.load_definition")
    def load_definition(self, run: RunInput) -> Definition:
        """The definition version a run is pinned to: by hash, else the deployed one."""
        with self.sessions() as session:
            query = select(WorkflowDefinition).filter_by(name=run.definition)
            if run.content_hash:
                query = query.filter_by(content_hash=run.content_hash)
            else:
                query = query.filter_by(active=True)
            row = session.scalars(query.order_by(WorkflowDefinition.id.desc())).first()
            if row is None:
                which = run.content_hash[:12] or "deployed"
                raise _fail(
                    f"workflow '{run.definition}' has no {which} version; "
                    "deploy it with 'tierflow workflows deploy'",
                    "UnknownDefinition",
                )
            return Definition(row.name, row.content_hash, row.source, row.shared_forms)

    @activity.defn(name="engine.create_work_item")
    def create_work_item(self, args: CreateItemInput) -> int:
        """The work item of a run that started without one (once per workflow id)."""
        with self.sessions() as session, session.begin():
            found = session.scalars(
                select(WorkItem.id).filter_by(workflow_id=args.workflow_id)
            ).one_or_none()
            if found is not None:
                return found
            item = WorkItem(
                kind=args.kind, type=args.type, title=args.title[:300], status="open",
                channel=args.channel, workflow_id=args.workflow_id,
            )  # fmt: skip
            session.add(item)
            session.flush()
            record_event(
                session,
                self.pm,
                work_item_id=item.id,
                type="created",
                data={"channel": args.channel, "workflow": args.type},
                key=f"item/{args.workflow_id}/created",
            )
            return item.id

    @activity.defn(name="engine.task_candidates")
    def task_candidates(self, args: CandidatesInput) -> list[int]:
        """The ids of the active people who may complete a task for ``args`` (admins too)."""
        with self.sessions() as session:
            query = select(Person.id).where(Person.active)
            admins = set(session.scalars(query.join(PersonRole).filter_by(role="admin")))
            if args.person:
                found = session.scalars(query.filter_by(email=args.person.lower())).all()
            elif args.team:
                found = session.scalars(
                    query.join(Membership).join(Team).where(Team.slug == args.team)
                ).all()
            elif args.role:
                found = session.scalars(query.join(PersonRole).filter_by(role=args.role)).all()
            else:
                found = []
            return sorted(set(found) | admins)

    @activity.defn(name="engine.item_snapshot")
    def item_snapshot(self, work_item_id: int) -> dict[str, Any]:
        """The work item as expressions see it (``item.*``)."""
        with self.sessions() as session:
            item = session.get(WorkItem, work_item_id)
            if item is None:
                raise _fail(f"work item {work_item_id} does not exist", "UnknownWorkItem")
            return snapshot(item)

    @activity.defn(name="engine.open_task")
    def open_task(self, args: OpenTaskInput) -> int:
        """Create the task of a human step (once) and return its id."""
        with self.sessions() as session, session.begin():
            existing = _task(session, args)
            if existing is not None:
                return existing.id
            if args.work_item_id is None:
                raise _fail(f"step '{args.step_id}': a task needs a work item", "NoWorkItem")
            try:
                options = load_choices(self.pm, session, args.choice_lists)
            except UnknownChoiceList as exc:
                raise _fail(f"step '{args.step_id}': {exc}", "UnknownChoiceList") from None
            task = Task(
                work_item_id=args.work_item_id,
                workflow_id=args.workflow_id,
                step_id=args.step_id,
                occurrence=args.visit,
                title=args.title[:300],
                form=args.form,
                team_id=_team_id(session, args.team),
                role=None if args.team or args.person else args.role,
                assignee_id=_person_id(session, args.person),
                due_at=_moment(args.due_at),
            )
            try:
                with session.begin_nested():
                    session.add(task)
            except IntegrityError:  # a concurrent attempt won the race
                return _task(session, args).id  # type: ignore[union-attr]
            record_event(
                session,
                self.pm,
                work_item_id=args.work_item_id,
                type="task_opened",
                data={"task": task.id, "step": args.step_id, "team": args.team,
                      "role": args.role, "person": args.person, "due_at": args.due_at,
                      **({"choices": options} if options else {})},
                team_id=task.team_id,
                key=f"task/{task.id}/opened",
            )  # fmt: skip
            return task.id

    @activity.defn(name="engine.open_task_for")
    def open_task_for(self, args: OpenTaskInput) -> OpenedTask:
        """Create the task (once) and say who may complete it, in one activity."""
        allowed = self.task_candidates(CandidatesInput(args.team, args.role, args.person))
        task_id = self.open_task(args)
        with self.sessions() as session:  # a retry finds the options the first attempt read
            choices = opened_choices(session, task_id) if args.choice_lists else {}
        return OpenedTask(task_id, allowed, choices)

    @activity.defn(name="engine.close_task")
    def close_task(self, args: CloseTaskInput) -> None:
        """Record a task completed or cancelled; a repeat of the same close is a no-op."""
        with self.sessions() as session, session.begin():
            task = session.get(Task, args.task_id, with_for_update=True)
            if task is None:
                raise _fail(f"task {args.task_id} does not exist", "UnknownTask")
            if task.status == args.status:
                return
            if task.status != "open":
                raise _fail(f"task {args.task_id} is already {task.status}", "TaskClosed")
            task.status = args.status
            task.outcome = args.outcome or None
            task.data = dict(args.data)
            task.completed_at = utcnow()
            task.completed_by_id = args.actor_id
            record_event(
                session,
                self.pm,
                work_item_id=task.work_item_id,
                type=f"task_{args.status}",
                data={"task": task.id, "step": task.step_id, "outcome": args.outcome,
                      "reason": args.reason},
                actor_id=args.actor_id,
                team_id=task.team_id,
                key=f"task/{task.id}/closed",
            )  # fmt: skip

    @activity.defn(name="engine.reassign_task")
    def reassign_task(self, args: ReassignTaskInput) -> None:
        """Give an open task to another team or person; a repeat of the same key is a no-op."""
        with self.sessions() as session, session.begin():
            task = session.get(Task, args.task_id, with_for_update=True)
            if task is None or task.status != "open":
                return  # completed meanwhile: nothing to move
            if session.scalars(select(Event.id).filter_by(idempotency_key=args.key)).first():
                return  # moved already by an earlier attempt: what happened since stands
            before = {
                "team": task.team.slug if task.team else None,
                "person": task.assignee.email if task.assignee else None,
            }
            if args.team is not None or args.role is not None:
                task.team_id = _team_id(session, args.team)
                task.role = None if args.team else args.role
                task.assignee_id = None
            if args.person is not None:
                task.assignee_id = _person_id(session, args.person)
            record_event(
                session,
                self.pm,
                work_item_id=task.work_item_id,
                type="task_reassigned",
                data={"task": task.id, "step": task.step_id, "from": before,
                      "to": {"team": args.team, "person": args.person, "role": args.role}},
                team_id=task.team_id,
                key=args.key,
            )  # fmt: skip

    @activity.defn(name="engine.cancel_open_tasks")
    def cancel_open_tasks(self, workflow_id: str) -> int:
        """Cancel every open task of a run (the run was cancelled); returns how many."""
        with self.sessions() as session:
            ids = session.scalars(
                select(Task.id).filter_by(workflow_id=workflow_id, status="open")
            ).all()
        for task_id in ids:
            self.close_task(CloseTaskInput(task_id, "cancelled", reason="the run was cancelled"))
        return len(ids)

    @activity.defn(name="engine.notify")
    def notify(self, args: NotifyInput) -> None:
        """Record a rendered notification on the work item (sent by a mail plugin, if any)."""
        if args.work_item_id is None:
            return
        with self.sessions() as session, session.begin():
            record_event(
                session,
                self.pm,
                work_item_id=args.work_item_id,
                type="notified",
                data={"to": args.to, "subject": args.subject, "body": args.body},
                key=args.key,
            )

    def all(self) -> list[Any]:
        return [
            self.load_definition,
            self.create_work_item,
            self.task_candidates,
            self.item_snapshot,
            self.open_task,
            self.open_task_for,
            self.close_task,
            self.reassign_task,
            self.cancel_open_tasks,
            self.notify,
        ]


def snapshot(item: WorkItem) -> dict[str, Any]:
    """Plain data of a work item for expressions: no ORM object ever enters a workflow."""

    def person(p: Person | None) -> dict[str, Any] | None:
        return None if p is None else {"id": p.id, "email": p.email, "name": p.name}

    def team(t: Team | None) -> dict[str, Any] | None:
        return None if t is None else {"id": t.id, "slug": t.slug, "name": t.name, "tier": t.tier}

    return {
        "id": item.id,
        "reference": item.reference,
        "kind": item.kind,
        "type": item.type,
        "title": item.title,
        "status": item.status,
        "priority": item.priority,
        "channel": item.channel,
        "custom": dict(item.custom),
        "requester": person(item.requester),
        "assignee": person(item.assignee),
        "owner_team": team(item.owner_team),
        "current_team": team(item.current_team),
        "closed": item.closed_at is not None,
    }


def opened_choices(session: Session, task_id: int) -> Options:
    """The options of its form's choice lists that task ``task_id`` opened with (``{}``: none)."""
    data = session.scalars(
        select(Event.data).filter_by(idempotency_key=f"task/{task_id}/opened")
    ).first()
    return dict((data or {}).get("choices") or {})


def _task(session: Session, args: OpenTaskInput) -> Task | None:
    return session.scalars(
        select(Task).filter_by(
            workflow_id=args.workflow_id, step_id=args.step_id, occurrence=args.visit
        )
    ).one_or_none()


def _team_id(session: Session, slug: str | None) -> int | None:
    if not slug:
        return None
    found = session.scalars(select(Team.id).filter_by(slug=slug)).one_or_none()
    if found is None:
        raise _fail(f"there is no team '{slug}'", "UnknownTeam")
    return found


def _person_id(session: Session, email: str | None) -> int | None:
    if not email:
        return None
    found = session.scalars(select(Person.id).filter_by(email=email.lower())).one_or_none()
    if found is None:
        raise _fail(f"there is no person with the e-mail address '{email}'", "UnknownPerson")
    return found


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
