"""Timekeeping's share of the demo: work items for time that belongs to no ticket or project."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.demo import ensure_work_item

INTERNAL = [
    ("INT-MEETINGS", "Team meetings"),
    ("INT-TRAINING", "Training and certification"),
    ("INT-ADMIN", "Administration"),
]


def load(session: Session) -> None:
    for reference, title in INTERNAL:
        ensure_work_item(
            session, reference, kind="internal", type="internal", status="open", title=title
        )
