"""Work items and everything attached to them: tasks, events, comments, time entries."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from engine.model.base import Base, CreatedAtMixin, IdMixin, TimestampMixin, utcnow
from engine.model.definitions import WorkflowDefinition
from engine.model.people import Person, Team, one_of

TASK_STATUSES = ("open", "completed", "cancelled")

PRIORITIES = (1, 2, 3, 4)
"""1 is the most urgent."""


class WorkItem(IdMixin, TimestampMixin, Base):
    """Anything that takes effort: a ticket, a project, a project task, a maintenance run.

    ``kind`` (``ticket``, ``project``, ``task``, ``maintenance`` ...) and ``type``
    (``incident``, ``service_request`` ...) are open-ended strings so plugins can
    add their own. The **owner team** keeps the item from cradle to grave (the
    help desk, even once a ticket is escalated); the **current team** and the
    assignee are who works it now. ``custom`` holds a type's own fields.
    ``workflow_id`` is the Temporal workflow id of the run that drives the item.
    """

    __tablename__ = "work_item"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority"),
        Index(None, "kind", "status"),
        Index(None, "current_team_id", "status"),
        Index(None, "assignee_id", "status"),
        Index(None, "owner_team_id", "status"),
    )

    kind: Mapped[str] = mapped_column(String(32))
    type: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int | None]
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    owner_team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    current_team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("work_item.id", ondelete="CASCADE"), index=True
    )
    custom: Mapped[dict[str, Any]] = mapped_column(default=dict)
    channel: Mapped[str | None] = mapped_column(String(16))
    workflow_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    definition_id: Mapped[int | None] = mapped_column(ForeignKey("workflow_definition.id"))
    closed_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]

    requester: Mapped[Person | None] = relationship(foreign_keys=[requester_id])
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id])
    owner_team: Mapped[Team | None] = relationship(foreign_keys=[owner_team_id])
    current_team: Mapped[Team | None] = relationship(foreign_keys=[current_team_id])
    definition: Mapped[WorkflowDefinition | None] = relationship()
    parent: Mapped[WorkItem | None] = relationship(
        back_populates="children", remote_side="WorkItem.id"
    )
    children: Mapped[list[WorkItem]] = relationship(
        back_populates="parent", cascade="all", passive_deletes=True, order_by="WorkItem.id"
    )
    tasks: Mapped[list[Task]] = relationship(
        back_populates="work_item",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Task.id",
    )
    events: Mapped[list[Event]] = relationship(
        back_populates="work_item",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(Event.occurred_at, Event.id)",
    )
    comments: Mapped[list[Comment]] = relationship(
        back_populates="work_item",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="(Comment.created_at, Comment.id)",
    )
    time_entries: Mapped[list[TimeEntry]] = relationship(
        back_populates="work_item", order_by="(TimeEntry.work_date, TimeEntry.id)"
    )

    def __repr__(self) -> str:
        return f"<WorkItem {self.id} {self.kind}/{self.type} {self.reference or ''} {self.status}>"


class Task(IdMixin, CreatedAtMixin, Base):
    """A human step of a running workflow, waiting in a team queue or a person's inbox.

    ``(workflow_id, step_id, occurrence)`` is the runtime's idempotency key: a
    retried activity finds the task it already created instead of adding another.
    ``occurrence`` counts visits of the same step in one run (loops).
    """

    __tablename__ = "task"
    __table_args__ = (
        UniqueConstraint("workflow_id", "step_id", "occurrence"),
        CheckConstraint(one_of("status", TASK_STATUSES), name="status"),
        CheckConstraint("occurrence >= 1", name="occurrence_positive"),
        Index(None, "team_id", "status", "due_at"),
        Index(  # a queue's unassigned tasks by priority, read one priority at a time
            "ix_task_unassigned_team_id_status_id",
            "team_id",
            "status",
            "id",
            sqlite_where=text("assignee_id IS NULL"),
            postgresql_where=text("assignee_id IS NULL"),
        ),
        Index(None, "assignee_id", "status", "due_at"),
    )

    work_item_id: Mapped[int] = mapped_column(
        ForeignKey("work_item.id", ondelete="CASCADE"), index=True
    )
    workflow_id: Mapped[str] = mapped_column(String(200))
    step_id: Mapped[str] = mapped_column(String(100))
    occurrence: Mapped[int] = mapped_column(default=1)
    title: Mapped[str] = mapped_column(String(300), default="")
    form: Mapped[str | None] = mapped_column(String(100))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    role: Mapped[str | None] = mapped_column(String(32))
    """The role the task is addressed to (``task: {role: manager}``), if not a team or person."""
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    due_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    work_item: Mapped[WorkItem] = relationship(back_populates="tasks")
    team: Mapped[Team | None] = relationship()
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id])
    completed_by: Mapped[Person | None] = relationship(foreign_keys=[completed_by_id])

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.workflow_id}/{self.step_id}#{self.occurrence} {self.status}>"


class Event(IdMixin, Base):
    """One entry of a work item's append-only audit trail; KPIs are computed from these.

    ``type`` names what happened (``created``, ``assigned``, ``escalated`` ...)
    and ``data`` the details. ``idempotency_key``, when given, makes recording
    the same event twice impossible. Updating an event is refused; events go
    away only with their work item.
    """

    __tablename__ = "event"
    __table_args__ = (
        Index(None, "work_item_id", "occurred_at"),
        Index(None, "type", "occurred_at"),
    )

    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_item.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)

    work_item: Mapped[WorkItem] = relationship(back_populates="events")
    actor: Mapped[Person | None] = relationship()
    team: Mapped[Team | None] = relationship()

    def __repr__(self) -> str:
        return f"<Event {self.id} {self.type} item={self.work_item_id}>"


@event.listens_for(Event, "before_update")
def _refuse_event_update(_mapper: Mapper[Event], _connection: object, target: Event) -> None:
    raise InvalidRequestError(
        f"event {target.id} ({target.type}) cannot be changed: the audit trail is append-only; "
        "record a new event instead"
    )


class Comment(IdMixin, CreatedAtMixin, Base):
    """A note on a work item; ``public`` ones are shown to the requester."""

    __tablename__ = "comment"
    __table_args__ = (Index(None, "work_item_id", "created_at"),)

    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_item.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    body: Mapped[str] = mapped_column(Text)
    public: Mapped[bool] = mapped_column(default=False)

    work_item: Mapped[WorkItem] = relationship(back_populates="comments")
    author: Mapped[Person | None] = relationship()

    def __repr__(self) -> str:
        return f"<Comment {self.id} item={self.work_item_id}>"


class TimeEntry(IdMixin, CreatedAtMixin, Base):
    """Minutes a person spent on a work item on one day.

    ``rate`` copies the person's hourly cost rate when the entry is made, so
    later rate changes do not reprice past work. A work item with time logged
    against it cannot be deleted (the entries are records, not details).
    """

    __tablename__ = "time_entry"
    __table_args__ = (
        CheckConstraint("minutes > 0 AND minutes <= 1440", name="minutes_in_a_day"),
        CheckConstraint("rate >= 0", name="rate_not_negative"),
        Index(None, "person_id", "work_date"),
        Index(None, "work_item_id", "work_date"),
    )

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"))
    work_item_id: Mapped[int] = mapped_column(ForeignKey("work_item.id"))
    work_date: Mapped[date]
    minutes: Mapped[int]
    activity: Mapped[str] = mapped_column(String(32))
    rate: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0.00"))
    note: Mapped[str] = mapped_column(Text, default="")

    person: Mapped[Person] = relationship()
    work_item: Mapped[WorkItem] = relationship(back_populates="time_entries")

    @property
    def cost(self) -> Decimal:
        """What this entry cost: minutes at the hourly ``rate``, rounded to cents."""
        return (self.rate * self.minutes / 60).quantize(Decimal("0.01"))

    def __repr__(self) -> str:
        return f"<TimeEntry {self.id} person={self.person_id} {self.work_date} {self.minutes}m>"
