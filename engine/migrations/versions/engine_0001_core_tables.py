"""Core tables: people, roles, teams, work items, tasks, events, comments, time, definitions.

Revision ID: engine_0001
Revises:
Create Date: 2026-11-23 11:19:15.761477
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "engine_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("engine",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("level", sa.String(length=2), nullable=True),
        sa.Column("cost_rate", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("weekly_capacity_minutes", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("is_staff", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level IN ('L1', 'L2', 'L3')", name=op.f("ck_person_level")),
        sa.CheckConstraint("cost_rate >= 0", name=op.f("ck_person_cost_rate_not_negative")),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_person_email_lowercase")),
        sa.CheckConstraint(
            "weekly_capacity_minutes >= 0", name=op.f("ck_person_capacity_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("email", name=op.f("uq_person_email")),
    )
    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("slug", name=op.f("uq_team_slug")),
    )
    op.create_table(
        "workflow_definition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_definition")),
        sa.UniqueConstraint(
            "name", "content_hash", name=op.f("uq_workflow_definition_name_content_hash")
        ),
    )
    op.create_table(
        "person_role",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "role IN ('requester', 'agent', 'project_manager', 'manager', 'admin')",
            name=op.f("ck_person_role_role"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_person_role_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("person_id", "role", name=op.f("pk_person_role")),
    )
    op.create_table(
        "team_membership",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('member', 'lead')", name=op.f("ck_team_membership_role")),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_team_membership_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["team.id"],
            name=op.f("fk_team_membership_team_id_team"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "person_id", name=op.f("pk_team_membership")),
    )
    op.create_index(
        op.f("ix_team_membership_person_id"), "team_membership", ["person_id"], unique=False
    )
    op.create_table(
        "work_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("requester_id", sa.Integer(), nullable=True),
        sa.Column("owner_team_id", sa.Integer(), nullable=True),
        sa.Column("current_team_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "custom",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("workflow_id", sa.String(length=200), nullable=True),
        sa.Column("definition_id", sa.Integer(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("priority BETWEEN 1 AND 4", name=op.f("ck_work_item_priority")),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["person.id"], name=op.f("fk_work_item_assignee_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["current_team_id"], ["team.id"], name=op.f("fk_work_item_current_team_id_team")
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["workflow_definition.id"],
            name=op.f("fk_work_item_definition_id_workflow_definition"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_team_id"], ["team.id"], name=op.f("fk_work_item_owner_team_id_team")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["work_item.id"],
            name=op.f("fk_work_item_parent_id_work_item"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["person.id"], name=op.f("fk_work_item_requester_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_item")),
        sa.UniqueConstraint("reference", name=op.f("uq_work_item_reference")),
        sa.UniqueConstraint("workflow_id", name=op.f("uq_work_item_workflow_id")),
    )
    op.create_index(
        op.f("ix_work_item_assignee_id_status"),
        "work_item",
        ["assignee_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_work_item_current_team_id_status"),
        "work_item",
        ["current_team_id", "status"],
        unique=False,
    )
    op.create_index(op.f("ix_work_item_kind_status"), "work_item", ["kind", "status"], unique=False)
    op.create_index(
        op.f("ix_work_item_owner_team_id_status"),
        "work_item",
        ["owner_team_id", "status"],
        unique=False,
    )
    op.create_index(op.f("ix_work_item_parent_id"), "work_item", ["parent_id"], unique=False)
    op.create_index(op.f("ix_work_item_requester_id"), "work_item", ["requester_id"], unique=False)
    op.create_table(
        "comment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["person.id"], name=op.f("fk_comment_author_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_item.id"],
            name=op.f("fk_comment_work_item_id_work_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment")),
    )
    op.create_index(
        op.f("ix_comment_work_item_id_created_at"),
        "comment",
        ["work_item_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["person.id"], name=op.f("fk_event_actor_id_person")),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_event_team_id_team")),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_item.id"],
            name=op.f("fk_event_work_item_id_work_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_event_idempotency_key")),
    )
    op.create_index(
        op.f("ix_event_type_occurred_at"), "event", ["type", "occurred_at"], unique=False
    )
    op.create_index(
        op.f("ix_event_work_item_id_occurred_at"),
        "event",
        ["work_item_id", "occurred_at"],
        unique=False,
    )
    op.create_table(
        "task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("workflow_id", sa.String(length=200), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("occurrence", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("form", sa.String(length=100), nullable=True),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'completed', 'cancelled')", name=op.f("ck_task_status")
        ),
        sa.CheckConstraint("occurrence >= 1", name=op.f("ck_task_occurrence_positive")),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["person.id"], name=op.f("fk_task_assignee_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["completed_by_id"], ["person.id"], name=op.f("fk_task_completed_by_id_person")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_task_team_id_team")),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_item.id"],
            name=op.f("fk_task_work_item_id_work_item"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
        sa.UniqueConstraint(
            "workflow_id",
            "step_id",
            "occurrence",
            name=op.f("uq_task_workflow_id_step_id_occurrence"),
        ),
    )
    op.create_index(
        op.f("ix_task_assignee_id_status_due_at"),
        "task",
        ["assignee_id", "status", "due_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_task_team_id_status_due_at"), "task", ["team_id", "status", "due_at"], unique=False
    )
    op.create_index(op.f("ix_task_work_item_id"), "task", ["work_item_id"], unique=False)
    op.create_table(
        "time_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("work_date", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("activity", sa.String(length=32), nullable=False),
        sa.Column("rate", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "minutes > 0 AND minutes <= 1440", name=op.f("ck_time_entry_minutes_in_a_day")
        ),
        sa.CheckConstraint("rate >= 0", name=op.f("ck_time_entry_rate_not_negative")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_time_entry_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["work_item_id"], ["work_item.id"], name=op.f("fk_time_entry_work_item_id_work_item")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_entry")),
    )
    op.create_index(
        op.f("ix_time_entry_person_id_work_date"),
        "time_entry",
        ["person_id", "work_date"],
        unique=False,
    )
    op.create_index(
        op.f("ix_time_entry_work_item_id_work_date"),
        "time_entry",
        ["work_item_id", "work_date"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_time_entry_work_item_id_work_date"), table_name="time_entry")
    op.drop_index(op.f("ix_time_entry_person_id_work_date"), table_name="time_entry")
    op.drop_table("time_entry")
    op.drop_index(op.f("ix_task_work_item_id"), table_name="task")
    op.drop_index(op.f("ix_task_team_id_status_due_at"), table_name="task")
    op.drop_index(op.f("ix_task_assignee_id_status_due_at"), table_name="task")
    op.drop_table("task")
    op.drop_index(op.f("ix_event_work_item_id_occurred_at"), table_name="event")
    op.drop_index(op.f("ix_event_type_occurred_at"), table_name="event")
    op.drop_table("event")
    op.drop_index(op.f("ix_comment_work_item_id_created_at"), table_name="comment")
    op.drop_table("comment")
    op.drop_index(op.f("ix_work_item_requester_id"), table_name="work_item")
    op.drop_index(op.f("ix_work_item_parent_id"), table_name="work_item")
    op.drop_index(op.f("ix_work_item_owner_team_id_status"), table_name="work_item")
    op.drop_index(op.f("ix_work_item_kind_status"), table_name="work_item")
    op.drop_index(op.f("ix_work_item_current_team_id_status"), table_name="work_item")
    op.drop_index(op.f("ix_work_item_assignee_id_status"), table_name="work_item")
    op.drop_table("work_item")
    op.drop_index(op.f("ix_team_membership_person_id"), table_name="team_membership")
    op.drop_table("team_membership")
    op.drop_table("person_role")
    op.drop_table("workflow_definition")
    op.drop_table("team")
    op.drop_table("person")
