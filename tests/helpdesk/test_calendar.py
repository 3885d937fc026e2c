"""Business time on a calendar: hand-computed cases, properties, and calendars from the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from plugins.helpdesk.calendar import (
    CalendarError,
    Hours,
    add_business,
    business_minutes,
    business_time,
)
from plugins.helpdesk.models import Calendar, DayOff
from plugins.helpdesk.sla import hours_of

BERLIN = ZoneInfo("Europe/Berlin")
GERMANY = Hours("Europe/Berlin", holiday_country="DE", name="berlin")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        # within one day
        (local(2030, 6, 4, 9, 0), 30, local(2030, 6, 4, 9, 30)),
        # a deadline at the end of the day stays there
        (local(2030, 6, 4, 16, 0), 60, local(2030, 6, 4, 17, 0)),
        # over the night
        (local(2030, 6, 4, 16, 0), 61, local(2030, 6, 5, 8, 1)),
        # before opening: counts from 08:00
        (local(2030, 6, 4, 6, 30), 30, local(2030, 6, 4, 8, 30)),
        # after closing: the next morning
        (local(2030, 6, 4, 19, 0), 30, local(2030, 6, 5, 8, 30)),
        # Friday 15:00 + 4 h: 2 h on Friday, Monday 10 June 2030 is Whit Monday, so Tuesday 10:00
        (local(2030, 6, 7, 15, 0), 240, local(2030, 6, 11, 10, 0)),
        # Saturday: Monday 08:30
        (local(2030, 6, 1, 11, 0), 30, local(2030, 6, 3, 8, 30)),
        # 3 business days (27 h) from Tuesday 24 December 2030 12:00: 5 h on the 24th,
        # 25/26 are holidays, Fri 27th 9 h, Mon 30th 9 h, Tue 31st 4 h -> 12:00
        (local(2030, 12, 24, 12, 0), 27 * 60, local(2030, 12, 31, 12, 0)),
        # the clocks go forward on Sunday 31 March 2030: Friday 16:00 + 2 h = Monday 09:00 CEST
        (local(2030, 3, 29, 16, 0), 120, local(2030, 4, 1, 9, 0)),
        # and back on Sunday 27 October 2030
        (local(2030, 10, 25, 16, 0), 120, local(2030, 10, 28, 9, 0)),
    ],
)
def test_adding_business_minutes_by_hand(start: datetime, minutes: int, expected: datetime) -> None:
    assert add_business(GERMANY, start, minutes) == expected
    assert business_minutes(GERMANY, start, expected) == minutes


def test_a_day_of_business_hours_is_nine_real_hours_on_the_days_the_clocks_change() -> None:
    spring = Hours("Europe/Berlin", workdays=frozenset(range(1, 8)), name="every day")
    day = business_time(spring, local(2030, 3, 31, 0, 0), local(2030, 4, 1, 0, 0))
    assert day == timedelta(hours=9)
    assert business_time(spring, local(2030, 10, 27, 0, 0), local(2030, 10, 28, 0, 0)) == day


def test_measuring_leaves_out_nights_weekends_holidays_and_days_off() -> None:
    closing = Hours("Europe/Berlin", holiday_country="DE", days_off=frozenset({date(2030, 6, 4)}))
    # Friday 7 June 09:00 to Wednesday 12 June 09:00: Fri 8 h, Whit Monday, Tue 9 h, Wed 1 h
    assert business_minutes(GERMANY, local(2030, 6, 7, 9), local(2030, 6, 12, 9)) == 18 * 60
    # a day off on Tuesday 4 June: Monday 16:00 to Wednesday 09:00 is 1 h + 1 h
    assert business_minutes(closing, local(2030, 6, 3, 16), local(2030, 6, 5, 9)) == 120
    assert business_minutes(GERMANY, local(2030, 6, 5, 9), local(2030, 6, 3, 9)) == 0


def test_a_subdivision_adds_its_own_holidays() -> None:
    bavaria = Hours("Europe/Berlin", holiday_country="DE", holiday_subdivision="BY")
    corpus_christi = local(2030, 6, 20, 9)  # a holiday in Bavaria, not in Berlin
    assert add_business(GERMANY, corpus_christi, 60) == local(2030, 6, 20, 10)
    assert add_business(bavaria, corpus_christi, 60) == local(2030, 6, 21, 9)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        (lambda: Hours("Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (lambda: Hours(day_start=time(17), day_end=time(8)), "ends (08:00) before it starts"),
        (lambda: Hours(workdays=frozenset()), "has no workdays"),
        (lambda: Hours(workdays=frozenset({0, 8})), "workdays are 1 (Monday) to 7"),
        (lambda: Hours(holiday_country="XX"), "Country XX not available"),
        (lambda: Hours(holiday_country="DE", holiday_subdivision="ZZ"), "subdivision ZZ"),
    ],
)
def test_calendars_that_cannot_work_say_why(hours: Callable[[], Hours], message: str) -> None:
    with pytest.raises(CalendarError, match=message.replace("(", r"\(").replace(")", r"\)")):
        hours()


def test_times_without_a_zone_and_negative_amounts_are_refused() -> None:
    with pytest.raises(CalendarError, match="has no time zone"):
        add_business(GERMANY, datetime(2030, 6, 4, 9), 10)
    with pytest.raises(CalendarError, match="negative"):
        add_business(GERMANY, local(2030, 6, 4, 9), -1)


def test_a_calendar_with_no_working_time_left_says_so() -> None:
    off = frozenset(date(2030, 1, 1) + timedelta(days=n) for n in range(4000))
    with pytest.raises(CalendarError, match="no working time in the 3660 days"):
        add_business(Hours(days_off=off, name="closed"), local(2030, 1, 1, 9), 1)


# ------------------------------------------------------------------ properties ---

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


@st.composite
def calendars(draw: st.DrawFn) -> Hours:
    start = draw(st.integers(0, 20 * 60))
    end = draw(st.integers(start + 15, 23 * 60 + 59))
    return Hours(
        timezone=draw(st.sampled_from(ZONES)),
        workdays=frozenset(draw(st.sets(st.integers(1, 7), min_size=1))),
        day_start=time(start // 60, start % 60),
        day_end=time(end // 60, end % 60),
        holiday_country=draw(st.sampled_from([None, "DE", "US", "FR"])),
    )


moments = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2032, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(calendars(), moments, st.integers(0, 20_000))
def test_measuring_what_was_added_gives_it_back(
    hours: Hours, start: datetime, minutes: int
) -> None:
    end = add_business(hours, start, minutes)
    assert end >= start
    assert business_minutes(hours, start, end) == minutes
    if minutes:  # nothing earlier reaches it
        assert business_minutes(hours, start, end - timedelta(seconds=1)) == minutes - 1


@settings(max_examples=300, deadline=None)
@given(calendars(), moments, moments)
def test_adding_what_was_measured_lands_at_or_before_the_end(
    hours: Hours, start: datetime, end: datetime
) -> None:
    measured = business_time(hours, start, end)
    reached = add_business(hours, start, int(measured.total_seconds() // 60))
    assert reached <= max(start, end)
    assert business_time(hours, reached, end) < timedelta(minutes=1) or end <= start


@settings(max_examples=200, deadline=None)
@given(calendars(), moments, st.integers(0, 5000), st.integers(0, 5000))
def test_business_time_adds_up(hours: Hours, start: datetime, a: int, b: int) -> None:
    middle = add_business(hours, start, a)
    assert add_business(hours, middle, b) == add_business(hours, start, a + b)


# -------------------------------------------------------------- the database ---


def test_a_calendar_row_with_days_off_works_the_same(session: Session) -> None:
    calendar = Calendar(
        slug="berlin", name="Berlin office", timezone="Europe/Berlin", workdays=[1, 2, 3, 4, 5],
        day_start=time(8), day_end=time(17), holiday_country="DE",
    )  # fmt: skip
    calendar.days_off.append(DayOff(day=date(2030, 6, 11), name="Team day"))
    session.add(calendar)
    session.commit()
    session.expunge_all()
    hours = hours_of(session, "berlin")
    assert hours.days_off == frozenset({date(2030, 6, 11)})
    # Friday 15:00 + 4 h: Whit Monday and the team day on Tuesday -> Wednesday 10:00
    assert add_business(hours, local(2030, 6, 7, 15), 240) == local(2030, 6, 12, 10)
    row = session.get(Calendar, calendar.id)
    assert add_business(row, local(2030, 6, 7, 15), 240) == local(2030, 6, 12, 10)
    with pytest.raises(CalendarError, match="there is no calendar 'nowhere'"):
        hours_of(session, "nowhere")
