"""The immutable store of deployed workflow definitions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.model.base import Base, CreatedAtMixin, IdMixin


class WorkflowDefinition(IdMixin, CreatedAtMixin, Base):
    """One version of a YAML workflow, exactly as deployed.

    Rows are never changed once written (only ``active`` and ``deployed_at``
    move): a running workflow is pinned to its definition by ``content_hash``
    (the SHA-256 of ``source``), so editing a file creates a new row and never
    alters a running instance. ``version`` is a human label; ``kind`` the kind
    of work item the workflow drives; ``path`` the file it was loaded from;
    ``deployed_by`` who deployed it (an e-mail address or login name);
    ``shared_forms`` the forms it names from forms files or plugins, as JSON,
    frozen with it (they are part of ``content_hash``), so editing a shared
    form never changes a running instance either.
    """

    __tablename__ = "workflow_definition"
    __table_args__ = (UniqueConstraint("name", "content_hash"),)

    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(32))
    deployed_at: Mapped[datetime | None]
    deployed_by: Mapped[str | None] = mapped_column(String(320))
    shared_forms: Mapped[str] = mapped_column(Text, default="", server_default="")
    active: Mapped[bool] = mapped_column(default=False)

    def __repr__(self) -> str:
        return f"<WorkflowDefinition {self.id} {self.name} {self.version} {self.content_hash[:8]}>"
