"""The satisfaction survey's table: one answer per ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.model import Base, IdMixin, Person, Team, WorkItem


class SurveyResponse(IdMixin, Base):
    """A requester's rating of how their ticket was handled (1 poor .. 5 excellent).

    One per ticket (the unique ``work_item_id``). ``team_id`` and ``agent_id``
    are who resolved it when the answer came in, kept so that results by team
    and agent stay the same when people move teams.
    """

    __tablename__ = "helpdesk_survey_response"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        Index(None, "answered_at"),
    )

    work_item_id: Mapped[int] = mapped_column(
        ForeignKey("work_item.id", ondelete="CASCADE"), unique=True
    )
    rating: Mapped[int]
    comment: Mapped[str] = mapped_column(Text, default="")
    respondent_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("team.id", ondelete="SET NULL"), index=True
    )
    agent_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    answered_at: Mapped[datetime]

    work_item: Mapped[WorkItem] = relationship()
    team: Mapped[Team | None] = relationship()
    agent: Mapped[Person | None] = relationship(foreign_keys=[agent_id])
