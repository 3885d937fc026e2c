"""The reports plugin's share of the demo: the IT manager who reads the reports."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from engine.demo import ensure_person


def load(session: Session) -> None:
    ensure_person(
        session,
        "grace.turner@example.org",
        name="Grace Turner",
        cost_rate=Decimal("85.00"),
        weekly_capacity_minutes=40 * 60,
        is_staff=True,
        roles={"manager"},
    )
