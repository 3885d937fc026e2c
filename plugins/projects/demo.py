"""The projects plugin's share of the demo: the PMO, its project managers, one project."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from engine.demo import ensure_person, ensure_team, ensure_work_item

DOMAIN = "example.org"


def load(session: Session) -> None:
    pmo = ensure_team(
        session,
        "pmo",
        name="Project management office",
        tier="PMO",
        description="Plans and steers the department's projects.",
    )
    laura = ensure_person(
        session,
        f"laura.kim@{DOMAIN}",
        name="Laura Kim",
        cost_rate=Decimal("65.00"),
        weekly_capacity_minutes=40 * 60,
        is_staff=True,
        roles={"project_manager"},
        teams={"pmo": "lead"},
    )
    ensure_person(
        session,
        f"raj.patel@{DOMAIN}",
        name="Raj Patel",
        cost_rate=Decimal("60.00"),
        weekly_capacity_minutes=40 * 60,
        is_staff=True,
        roles={"project_manager"},
        teams={"pmo": "member"},
    )
    project = ensure_work_item(
        session,
        "PRJ-0001",
        kind="project",
        type="project",
        status="active",
        title="Windows 11 roll-out",
        owner_team_id=pmo.id,
        current_team_id=pmo.id,
        assignee_id=laura.id,
        description="Upgrade every laptop before support ends.",
    )
    for number, title in enumerate(["Pilot group", "Wave 1: head office", "Wave 2: branches"], 1):
        ensure_work_item(
            session,
            f"PRJ-0001-T{number}",
            kind="task",
            type="project_task",
            status="open",
            title=title,
            parent_id=project.id,
            owner_team_id=pmo.id,
            current_team_id=pmo.id,
        )
