"""Business time: adding and measuring working minutes on a calendar.

Pure arithmetic, no database: a :class:`Hours` value holds what a
:class:`~plugins.helpdesk.models.Calendar` row says (time zone, workdays,
the working day's start and end, public holidays of a country from the
``holidays`` library, the department's own days off). :func:`add_business`
and :func:`business_minutes` accept either.

Each working day is one interval ``[day_start, day_end)`` in local time,
turned into UTC day by day, so a day on which daylight saving time changes
still has its hours (a DST change at night does not shorten a 08:00-17:00
day). A moment outside business hours counts from the next working moment.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

if TYPE_CHECKING:
    from plugins.helpdesk.models import Calendar

MAX_DAYS = 3660
"""How far (about ten years) a calculation looks for working time before giving up."""


class CalendarError(ValueError):
    """A calendar that cannot be worked with: unknown zone or country, no working time."""


@dataclass(frozen=True)
class Hours:
    """A calendar's business hours as plain values."""

    timezone: str = "UTC"
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    day_start: time = time(8, 0)
    day_end: time = time(17, 0)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    days_off: frozenset[date] = field(default_factory=frozenset)
    name: str = ""

    def __post_init__(self) -> None:
        check_zone(self.timezone)
        if self.day_end <= self.day_start:
            raise CalendarError(
                f"calendar {self.name or '?'}: the day ends ({self.day_end:%H:%M}) before it "
                f"starts ({self.day_start:%H:%M}); give an end after the start"
            )
        if not self.workdays:
            raise CalendarError(f"calendar {self.name or '?'} has no workdays: give at least one")
        bad = sorted(day for day in self.workdays if day not in range(1, 8))
        if bad:
            raise CalendarError(
                f"calendar {self.name or '?'}: workdays are 1 (Monday) to 7 (Sunday), got {bad}"
            )
        if self.holiday_country:
            check_holidays(self.holiday_country, self.holiday_subdivision)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def of(cls, calendar: Calendar | Hours) -> Hours:
        """The hours of a ``Calendar`` row (its days off included), or ``calendar`` itself."""
        if isinstance(calendar, Hours):
            return calendar
        return cls(
            timezone=calendar.timezone,
            workdays=frozenset(calendar.workdays or ()),
            day_start=calendar.day_start,
            day_end=calendar.day_end,
            holiday_country=calendar.holiday_country or None,
            holiday_subdivision=calendar.holiday_subdivision or None,
            days_off=frozenset(off.day for off in calendar.days_off),
            name=calendar.slug,
        )

    def is_working_day(self, day: date) -> bool:
        if day.isoweekday() not in self.workdays or day in self.days_off:
            return False
        if self.holiday_country is None:
            return True
        return day not in _public_holidays(self.holiday_country, self.holiday_subdivision, day.year)

    def interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The working interval of ``day`` in UTC, or ``None`` for a day without work."""
        if not self.is_working_day(day):
            return None
        zone = self.zone
        start = datetime.combine(day, self.day_start, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day, self.day_end, tzinfo=zone).astimezone(UTC)
        return (start, end) if end > start else None

    def intervals(self, since: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals that end after ``since``, in order (raises after ``MAX_DAYS``)."""
        day = since.astimezone(self.zone).date() - timedelta(days=1)
        idle = 0
        while idle < MAX_DAYS:
            window = self.interval(day)
            day += timedelta(days=1)
            if window is None or window[1] <= since:
                idle += 1
                continue
            idle = 0
            yield window
        raise CalendarError(
            f"calendar {self.name or '?'} has no working time in the {MAX_DAYS} days after "
            f"{since.isoformat()}: check its workdays, hours and days off"
        )


def check_zone(name: str) -> None:
    """Raise :class:`CalendarError` unless ``name`` is an IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin"
        ) from None


def check_holidays(country: str, subdivision: str | None) -> None:
    """Raise :class:`CalendarError` unless the ``holidays`` library knows the country."""
    try:
        holidays.country_holidays(country, subdiv=subdivision or None, years=[2000])
    except NotImplementedError as exc:
        raise CalendarError(
            f"public holidays: {exc} (countries are ISO codes such as DE; subdivisions such as BY)"
        ) from None


@lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=[year]))


def public_holidays(hours: Hours, years: Iterable[int]) -> dict[date, str]:
    """The public holidays of ``hours``' country in ``years``, by day (for pages)."""
    if hours.holiday_country is None:
        return {}
    found = holidays.country_holidays(
        hours.holiday_country, subdiv=hours.holiday_subdivision, years=list(years)
    )
    return dict(sorted(found.items()))


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None:
        raise CalendarError(f"{what} {moment.isoformat()} has no time zone")
    return moment.astimezone(UTC)


def add_business_time(calendar: Calendar | Hours, start: datetime, amount: timedelta) -> datetime:
    """The moment ``amount`` of business time after ``start`` (in UTC).

    With nothing to add, ``start`` itself. A deadline that falls exactly at
    the end of a working day is that end, not the next day's start.
    """
    hours = Hours.of(calendar)
    start = _aware(start, "start")
    if amount < timedelta(0):
        raise CalendarError(f"cannot add negative business time ({amount})")
    if amount == timedelta(0):
        return start
    left = amount
    for opens, end in hours.intervals(start):
        begin = max(opens, start)
        if left <= end - begin:
            return begin + left
        left -= end - begin
    raise AssertionError("intervals() ends by raising")  # pragma: no cover


def add_business(calendar: Calendar | Hours, start: datetime, minutes: int) -> datetime:
    """The moment ``minutes`` business minutes after ``start`` (in UTC)."""
    return add_business_time(calendar, start, timedelta(minutes=minutes))


def business_time(calendar: Calendar | Hours, start: datetime, end: datetime) -> timedelta:
    """How much business time lies between ``start`` and ``end`` (nothing if end <= start)."""
    hours = Hours.of(calendar)
    start, end = _aware(start, "start"), _aware(end, "end")
    total = timedelta(0)
    if end <= start:
        return total
    for begin, finish in hours.intervals(start):
        if begin >= end:
            break
        total += min(finish, end) - max(begin, start)
    return total


def business_minutes(calendar: Calendar | Hours, start: datetime, end: datetime) -> int:
    """Whole business minutes between ``start`` and ``end`` (rounded down)."""
    return int(business_time(calendar, start, end).total_seconds() // 60)
