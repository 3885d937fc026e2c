"""The help desk's own tables, on the shared ``Base`` and pointing at core tables."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.model import Base, IdMixin, Team


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
