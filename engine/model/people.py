"""People, their roles, teams and team memberships."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from engine.model.base import Base, IdMixin, TimestampMixin, utcnow

LEVELS = ("L1", "L2", "L3")
"""Support levels a staff member works at."""

ROLES = ("requester", "agent", "project_manager", "manager", "admin")
"""What a person may do; the web layer decides access from these."""

MEMBERSHIP_ROLES = ("member", "lead")


def one_of(column: str, values: Iterable[str]) -> str:
    """SQL for a CHECK constraint that ``column`` holds one of ``values``."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Person(IdMixin, TimestampMixin, Base):
    """Anyone Tierflow knows: a requester, a staff member, or both.

    ``email`` is the natural key, stored lower-case. ``cost_rate`` is the hourly
    cost used to price time entries; ``weekly_capacity_minutes`` feeds resource
    reports. People are deactivated (``active = False``), not deleted.
    """

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint(one_of("level", LEVELS), name="level"),
        CheckConstraint("cost_rate >= 0", name="cost_rate_not_negative"),
        CheckConstraint("weekly_capacity_minutes >= 0", name="capacity_not_negative"),
    )

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    level: Mapped[str | None] = mapped_column(String(2))
    cost_rate: Mapped[Decimal] = mapped_column(Numeric(10, 2), default=Decimal("0.00"))
    weekly_capacity_minutes: Mapped[int] = mapped_column(default=2400)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(default=True)
    is_staff: Mapped[bool] = mapped_column(default=False)

    roles: Mapped[list[PersonRole]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def role_names(self) -> frozenset[str]:
        """The names of this person's roles, e.g. ``{"agent", "manager"}``."""
        return frozenset(role.role for role in self.roles)

    def has_role(self, role: str) -> bool:
        return role in self.role_names

    def grant(self, *roles: str) -> None:
        """Give this person ``roles`` (those already held are left alone)."""
        for role in roles:
            if role not in self.role_names:
                self.roles.append(PersonRole(role=role))

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.email}>"


class PersonRole(Base):
    """One role held by one person."""

    __tablename__ = "person_role"
    __table_args__ = (CheckConstraint(one_of("role", ROLES), name="role"),)

    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)

    person: Mapped[Person] = relationship(back_populates="roles")

    def __repr__(self) -> str:
        return f"<PersonRole {self.person_id} {self.role}>"


class Team(IdMixin, TimestampMixin, Base):
    """A group that owns and works items: a help-desk tier, desktop support, the PMO.

    ``slug`` is the name workflows use (``team: helpdesk-l1``); ``tier`` is free
    text such as ``L1``, ``L2``, ``L3`` or ``PMO``.
    """

    __tablename__ = "team"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(default=True)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="team", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Team {self.id} {self.slug}>"


class Membership(Base):
    """A person's membership of a team, as a plain member or its lead."""

    __tablename__ = "team_membership"
    __table_args__ = (CheckConstraint(one_of("role", MEMBERSHIP_ROLES), name="role"),)

    team_id: Mapped[int] = mapped_column(
        ForeignKey("team.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16), default="member")
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)

    team: Mapped[Team] = relationship(back_populates="memberships")
    person: Mapped[Person] = relationship(back_populates="memberships")

    def __repr__(self) -> str:
        return f"<Membership team={self.team_id} person={self.person_id} {self.role}>"
