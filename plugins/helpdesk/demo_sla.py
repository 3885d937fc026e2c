"""The help desk's demo service levels: a Berlin business calendar and one policy per priority."""

from __future__ import annotations

from datetime import time

from sqlalchemy.orm import Session

from engine.demo import get_or_create
from plugins.helpdesk.models import Calendar, SlaPolicy

# priority, response and resolution in business minutes (a business day is 9 hours)
DAY = 9 * 60
POLICIES = [
    (1, 30, 4 * 60),
    (2, 60, 8 * 60),
    (3, 4 * 60, 3 * DAY),
    (4, DAY, 5 * DAY),
]


def load(session: Session) -> None:
    calendar, _ = get_or_create(
        session,
        Calendar,
        slug="berlin-office",
        defaults={
            "name": "Berlin office",
            "timezone": "Europe/Berlin",
            "workdays": [1, 2, 3, 4, 5],
            "day_start": time(8, 0),
            "day_end": time(17, 0),
            "holiday_country": "DE",
            "holiday_subdivision": "BE",
        },
    )
    for priority, response, resolution in POLICIES:
        get_or_create(
            session,
            SlaPolicy,
            request_type=None,
            priority=priority,
            defaults={
                "name": f"Priority {priority}",
                "response_minutes": response,
                "resolution_minutes": resolution,
                "warn_percent": 75,
                "calendar_id": calendar.id,
            },
        )
