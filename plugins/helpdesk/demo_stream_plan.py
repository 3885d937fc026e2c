"""Planning the demo ticket stream: arrivals over the window, a journey for each ticket.

Pure and repeatable: the same window, rate, seed and number of requesters
give the same plans (every ticket draws from a generator of its own, seeded
by the stream's seed and its number). Tickets arrive in working hours, most
in the morning, more on Mondays and on a few busy days, hardly any at
weekends and none on the calendar's public holidays.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, time, timedelta

from plugins.helpdesk.demo_stream import BUSY_DAY, WEEKDAY_LOAD, TicketPlan, Window
from plugins.helpdesk.demo_stream_journeys import (
    JOURNEYS,
    OPEN_JOURNEYS,
    Journey,
    random_journey,
    ticket,
)


def plan_stream(window: Window, per_day: float, seed: int, people: int) -> list[TicketPlan]:
    """Every ticket of the window in order of arrival, for ``people`` requesters.

    The first tickets go one :data:`JOURNEYS` each, the random stream
    follows (``per_day`` on an ordinary working day), and the
    :data:`OPEN_JOURNEYS` arrive last, left open at the anchor.
    """
    if people < 1:
        raise ValueError("the demo stream needs at least one requester")
    rng = random.Random(seed)
    fixed = _first_days(window, len(JOURNEYS))
    arrivals = [(moment, journey) for moment, journey in zip(fixed, JOURNEYS, strict=True)]
    for moment in _arrivals(window, per_day, rng):
        arrivals.append((moment, None))
    plans = []
    for number, (moment, chosen) in enumerate(sorted(arrivals, key=_when), start=1):
        own = random.Random(f"{seed}/{number}")
        journey = chosen or random_journey(own)
        plans.append(ticket(window, number, moment, journey, rng=own, people=people))
    for offset, journey in enumerate(OPEN_JOURNEYS, start=len(plans) + 1):
        own = random.Random(f"{seed}/{offset}")
        moment = window.before(window.anchor, journey.hours_back * 60 + own.uniform(0, 20))
        plans.append(ticket(window, offset, moment, journey, rng=own, people=people))
    return sorted(plans, key=lambda plan: (plan.arrival, plan.number))


def _when(arrival: tuple[datetime, Journey | None]) -> datetime:
    return arrival[0]


def _first_days(window: Window, count: int) -> list[datetime]:
    """``count`` arrivals on the window's first working days, four a day from 09:10."""
    found: list[datetime] = []
    zone = window.hours.zone
    day = window.start.astimezone(zone).date() + timedelta(days=1)
    while len(found) < count:
        if window.hours.is_working_day(day):
            for slot in range(min(4, count - len(found))):
                local = datetime.combine(day, time(9 + 2 * slot, 10), tzinfo=zone)
                found.append(local.astimezone(UTC))
        day += timedelta(days=1)
    return found


def _arrivals(window: Window, per_day: float, rng: random.Random) -> list[datetime]:
    """The random stream's arrivals, up to two days before the anchor (the open tickets follow)."""
    zone = window.hours.zone
    found = []
    day = window.start.astimezone(zone).date()
    last = window.anchor.astimezone(zone).date() - timedelta(days=2)
    while day <= last:
        weekday = day.isoweekday()
        busy = BUSY_DAY[1] if rng.random() < BUSY_DAY[0] else 1.0
        holiday = weekday in window.hours.workdays and not window.hours.is_working_day(day)
        mean = 0.0 if holiday else per_day * WEEKDAY_LOAD[weekday] * busy
        for _ in range(_poisson(rng, mean)):
            minutes = rng.triangular(0, 9 * 60, 90)  # most arrive in the morning
            local = datetime.combine(day, time(8, 0), tzinfo=zone) + timedelta(minutes=minutes)
            moment = local.astimezone(UTC)
            if window.start < moment < window.anchor:
                found.append(moment)
        day += timedelta(days=1)
    return sorted(found)


def _poisson(rng: random.Random, mean: float) -> int:
    """A draw from the Poisson distribution of ``mean`` (Knuth's method; means are small)."""
    count, limit, product = 0, math.exp(-mean), rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
