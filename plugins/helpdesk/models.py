"""The help desk's own tables, on the shared ``Base`` and pointing at core tables."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from engine.model import Base, IdMixin, Person, Team, WorkItem
from engine.model.people import one_of


class Category(IdMixin, Base):
    """A request category (hardware, network, access ...), optionally nested.

    ``default_team`` is where new requests of the category are routed first;
    it is cleared, not blocking, when that team is deleted.
    """

    __tablename__ = "helpdesk_category"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("helpdesk_category.id"), index=True)
    default_team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Category | None] = relationship(
        back_populates="children", remote_side="Category.id"
    )
    children: Mapped[list[Category]] = relationship(
        back_populates="parent", order_by="Category.name"
    )
    default_team: Mapped[Team | None] = relationship()

    def __repr__(self) -> str:
        return f"<Category {self.id} {self.slug}>"


# ------------------------------------------------------------------ priority ---

LEVELS3 = ("high", "medium", "low")
"""The values of impact and urgency."""


class PriorityRule(Base):
    """One cell of the impact x urgency matrix: which priority (1 most urgent .. 4) it gives.

    Administrators change the matrix; a ticket's priority is worked out from it
    when impact and urgency are known.
    """

    __tablename__ = "helpdesk_priority_rule"
    __table_args__ = (
        CheckConstraint(one_of("impact", LEVELS3), name="impact"),
        CheckConstraint(one_of("urgency", LEVELS3), name="urgency"),
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority"),
    )

    impact: Mapped[str] = mapped_column(String(8), primary_key=True)
    urgency: Mapped[str] = mapped_column(String(8), primary_key=True)
    priority: Mapped[int]

    def __repr__(self) -> str:
        return f"<PriorityRule {self.impact}x{self.urgency} -> P{self.priority}>"


# ---------------------------------------------------------------- calendars ---


class Calendar(IdMixin, Base):
    """Business hours in a time zone, with a country's public holidays and the department's own.

    ``workdays`` are ISO weekday numbers (1 Monday .. 7 Sunday); the day runs
    from ``day_start`` to ``day_end`` local time. ``holiday_country`` (and
    ``holiday_subdivision``) name the public holidays of the ``holidays``
    library; :class:`DayOff` rows add the department's own.
    """

    __tablename__ = "helpdesk_calendar"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    workdays: Mapped[list[int]] = mapped_column(JSON, default=lambda: [1, 2, 3, 4, 5])
    day_start: Mapped[time] = mapped_column(default=time(8, 0))
    day_end: Mapped[time] = mapped_column(default=time(17, 0))
    holiday_country: Mapped[str | None] = mapped_column(String(8))
    holiday_subdivision: Mapped[str | None] = mapped_column(String(16))

    days_off: Mapped[list[DayOff]] = relationship(
        back_populates="calendar", cascade="all, delete-orphan", order_by="DayOff.day"
    )

    def __repr__(self) -> str:
        return f"<Calendar {self.slug} {self.timezone}>"


class DayOff(IdMixin, Base):
    """A day the department does not work besides the public holidays (a closing day)."""

    __tablename__ = "helpdesk_day_off"
    __table_args__ = (UniqueConstraint("calendar_id", "day"),)

    calendar_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_calendar.id", ondelete="CASCADE"))
    day: Mapped[date]
    name: Mapped[str] = mapped_column(String(200), default="")

    calendar: Mapped[Calendar] = relationship(back_populates="days_off")

    def __repr__(self) -> str:
        return f"<DayOff {self.day} {self.name!r}>"


# --------------------------------------------------------------------- SLAs ---


class SlaPolicy(IdMixin, Base):
    """Response and resolution targets, in business minutes of a calendar.

    A policy applies to tickets of ``request_type`` (none: any type) and
    ``priority`` (none: any priority); the most specific active one wins.
    ``warn_percent`` of a target elapsed gives the warning before the breach.
    """

    __tablename__ = "helpdesk_sla_policy"
    __table_args__ = (
        CheckConstraint("response_minutes > 0", name="response_positive"),
        CheckConstraint("resolution_minutes > 0", name="resolution_positive"),
        CheckConstraint("warn_percent BETWEEN 1 AND 99", name="warn_percent"),
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority"),
        UniqueConstraint("request_type", "priority"),
    )

    name: Mapped[str] = mapped_column(String(200))
    request_type: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[int | None]
    response_minutes: Mapped[int]
    resolution_minutes: Mapped[int]
    warn_percent: Mapped[int] = mapped_column(default=75)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("helpdesk_calendar.id"))
    active: Mapped[bool] = mapped_column(default=True)

    calendar: Mapped[Calendar] = relationship()

    def __repr__(self) -> str:
        return f"<SlaPolicy {self.name!r} {self.request_type or '*'}/P{self.priority or '*'}>"


# --------------------------------------------------------------- assignment ---

ASSIGNMENT_RULES = ("manual", "round_robin", "least_loaded", "skill_match")


class AssignmentRule(Base):
    """How a team's new tasks find a person: claimed by hand, or given to someone by a rule.

    ``last_person`` is where round robin stopped.
    """

    __tablename__ = "helpdesk_assignment_rule"
    __table_args__ = (CheckConstraint(one_of("rule", ASSIGNMENT_RULES), name="rule"),)

    team_id: Mapped[int] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    rule: Mapped[str] = mapped_column(String(16), default="manual")
    last_person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))

    team: Mapped[Team] = relationship()
    last_person: Mapped[Person | None] = relationship()

    def __repr__(self) -> str:
        return f"<AssignmentRule team={self.team_id} {self.rule}>"


class Skill(Base):
    """A person's skill in a request category (what skill-match assignment looks for)."""

    __tablename__ = "helpdesk_skill"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int] = mapped_column(
        ForeignKey("helpdesk_category.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    person: Mapped[Person] = relationship()
    category: Mapped[Category] = relationship()

    def __repr__(self) -> str:
        return f"<Skill person={self.person_id} category={self.category_id}>"


# -------------------------------------------------------------------- facts ---

RESOLUTION_MODES = ("remote", "on_site")


class Ticket(Base):
    """A help-desk ticket's own facts, recorded as they happen (the reports read these).

    One row per ticket work item. ``first_contact`` is true when L1 resolved it
    at first contact, without escalation or reopening; ``resolving_tier`` is
    the tier (``L1``/``L2``/``L3``) of the team that resolved it last;
    ``l1_capable`` is the resolving L2/L3 agent's judgement that L1 could have
    solved it. SLA targets and breaches are kept here for reports, and can be
    recomputed from the item's events.
    """

    __tablename__ = "helpdesk_ticket"
    __table_args__ = (
        CheckConstraint(one_of("resolution_mode", RESOLUTION_MODES), name="resolution_mode"),
        CheckConstraint(one_of("impact", LEVELS3), name="impact"),
        CheckConstraint(one_of("urgency", LEVELS3), name="urgency"),
    )

    work_item_id: Mapped[int] = mapped_column(
        ForeignKey("work_item.id", ondelete="CASCADE"), primary_key=True
    )
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_category.id", ondelete="SET NULL"), index=True
    )
    impact: Mapped[str | None] = mapped_column(String(8))
    urgency: Mapped[str | None] = mapped_column(String(8))
    first_contact: Mapped[bool | None]
    resolving_tier: Mapped[str | None] = mapped_column(String(16))
    resolving_team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="SET NULL")
    )
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    escalations: Mapped[int] = mapped_column(default=0)
    reopens: Mapped[int] = mapped_column(default=0)
    resolution_mode: Mapped[str | None] = mapped_column(String(8))
    l1_capable: Mapped[bool | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    sla_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("helpdesk_sla_policy.id", ondelete="SET NULL")
    )
    response_due_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    response_breached: Mapped[bool] = mapped_column(default=False)
    resolution_breached: Mapped[bool] = mapped_column(default=False)

    work_item: Mapped[WorkItem] = relationship()
    category: Mapped[Category | None] = relationship()

    def __repr__(self) -> str:
        return f"<Ticket item={self.work_item_id} tier={self.resolving_tier}>"


def ticket_row(session: Session, work_item_id: int, *, lock: bool = False) -> Ticket:
    """The ticket's facts row, created if missing (another transaction may create it at once).

    With ``lock`` the row is locked for the rest of the transaction.
    """
    row = session.get(Ticket, work_item_id, with_for_update=lock)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = Ticket(work_item_id=work_item_id)
            session.add(row)
            session.flush()
    except IntegrityError:  # added meanwhile by another transaction
        row = session.get(Ticket, work_item_id, with_for_update=lock, populate_existing=True)
        assert row is not None
    return row
