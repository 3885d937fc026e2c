"""Checking and saving what the SLA admin pages post: policies, calendars, days off.

Each ``check_*`` takes the posted texts and returns the clean values or the
errors by field name (nothing is written then); each ``save_*`` writes clean
values. The pages (:mod:`plugins.helpdesk.views_sla`) only call these.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, time
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.dsl.suggest import did_you_mean
from plugins.helpdesk.calendar import CalendarError, check_holidays, check_zone
from plugins.helpdesk.models import Calendar, DayOff, SlaPolicy

SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_MINUTES = 60 * 24 * 366
"""A target of at most a year of business minutes."""
POLICY_FIELDS = (
    "name", "request_type", "priority", "response_minutes", "resolution_minutes",
    "warn_percent", "calendar", "active",
)  # fmt: skip
CALENDAR_FIELDS = (
    "slug", "name", "timezone", "workdays", "day_start", "day_end",
    "holiday_country", "holiday_subdivision",
)  # fmt: skip

Posted = dict[str, Any]
Row = TypeVar("Row", SlaPolicy, Calendar)
Errors = dict[str, str]


@dataclass(frozen=True)
class Checked:
    values: dict[str, Any]
    errors: Errors


def _clean(text: str) -> str:
    return text.strip() if "\x00" not in text else ""


def _whole(raw: str, low: int, high: int, *, what: str, into: tuple[Errors, str]) -> int | None:
    errors, name = into
    text = _clean(raw)
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or not low <= int(text) <= high:
        errors[name] = f"{what}: give a whole number from {low} to {high}"
        return None
    return int(text)


def _text(raw: str, limit: int, name: str, errors: Errors, required: bool = True) -> str:
    text = _clean(raw)
    if "\x00" in raw:
        errors[name] = "this text has a NUL character; type it again"
    elif required and not text:
        errors[name] = "fill this in"
    elif len(text) > limit:
        errors[name] = f"at most {limit} characters (this is {len(text)})"
    return text[:limit]


def check_policy(
    session: Session,
    posted: Posted,
    policy_id: int | None = None,
    known_types: Collection[str] = (),
) -> Checked:
    """A policy's posted fields, checked.

    The request type is one of ``known_types`` (the registered request types)
    or empty, the type-and-priority pair is unique, and the response target is
    not longer than the resolution target.
    """
    errors: Errors = {}
    values: dict[str, Any] = {"name": _text(posted.get("name", ""), 200, "name", errors)}
    kind = _clean(posted.get("request_type", ""))
    if kind and not SLUG.match(kind):
        errors["request_type"] = "a request type's name, such as incident (or empty: any type)"
    elif kind and kind not in known_types:
        hint = did_you_mean(kind, known_types)
        errors["request_type"] = (
            f"there is no request type '{kind}'{hint}; known: {', '.join(sorted(known_types))} "
            "(or empty: any type)"
        )
    values["request_type"] = kind or None
    priority = _clean(posted.get("priority", ""))
    values["priority"] = None
    if priority:
        values["priority"] = _whole(priority, 1, 4, what="priority", into=(errors, "priority"))
    for name, what in (("response_minutes", "response"), ("resolution_minutes", "resolution")):
        values[name] = _whole(
            posted.get(name, ""), 1, MAX_MINUTES, what=f"{what} in minutes", into=(errors, name)
        )
    response, resolution = values["response_minutes"], values["resolution_minutes"]
    if response is not None and resolution is not None and response > resolution:
        errors["response_minutes"] = (
            f"the response target ({response} minutes) must not be longer than the "
            f"resolution target ({resolution} minutes)"
        )
    values["warn_percent"] = _whole(
        posted.get("warn_percent", ""), 1, 99, what="percent", into=(errors, "warn_percent")
    )
    calendar = _clean(posted.get("calendar", ""))
    found = (
        session.get(Calendar, int(calendar)) if calendar.isdigit() and len(calendar) < 10 else None
    )
    if found is None:
        errors["calendar"] = "choose one of the calendars"
    values["calendar_id"] = found.id if found else None
    values["active"] = posted.get("active") == "true"
    if "request_type" not in errors and "priority" not in errors:
        clash = session.scalars(
            select(SlaPolicy).where(
                SlaPolicy.request_type.is_(None) if kind == "" else SlaPolicy.request_type == kind,
                SlaPolicy.priority.is_(None)
                if values["priority"] is None
                else SlaPolicy.priority == values["priority"],
                SlaPolicy.id != (policy_id or 0),
            )
        ).first()
        if clash is not None:
            errors["request_type"] = (
                f"the policy '{clash.name}' already covers this request type and priority; "
                "edit that one or choose another pair"
            )
    return Checked(values, errors)


def save_row(session: Session, model: type[Row], values: dict[str, Any], row_id: int | None) -> Row:
    """Write checked ``values`` to the row ``row_id`` of ``model``, or to a new one."""
    row = session.get(model, row_id) if row_id else model()
    assert row is not None
    for name, value in values.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    return row


def _valid_time(text: str) -> bool:
    try:
        time.fromisoformat(text)
    except ValueError:
        return False
    return True


def check_calendar(session: Session, posted: Posted, calendar_id: int | None = None) -> Checked:
    """A calendar's posted fields, checked against the zone and holiday databases."""
    errors: Errors = {}
    values: dict[str, Any] = {}
    if calendar_id is None:
        slug = _clean(posted.get("slug", ""))
        if not SLUG.match(slug):
            errors["slug"] = "lower-case letters, digits, - and _, starting with a letter"
        elif session.scalars(select(Calendar).filter_by(slug=slug)).first() is not None:
            errors["slug"] = f"there is a calendar '{slug}' already"
        values["slug"] = slug
    values["name"] = _text(posted.get("name", ""), 200, "name", errors)
    zone = _clean(posted.get("timezone", ""))
    try:
        check_zone(zone)
    except CalendarError as exc:
        errors["timezone"] = str(exc)
    values["timezone"] = zone[:64]
    days = posted.get("workdays") or []
    days = [days] if isinstance(days, str) else days
    if not days or any(day not in {str(n) for n in range(1, 8)} for day in days):
        errors["workdays"] = "tick at least one working day"
    values["workdays"] = sorted({int(day) for day in days if day in {str(n) for n in range(1, 8)}})
    start = _time_of(posted.get("day_start", ""), "day_start", errors)
    end = _time_of(posted.get("day_end", ""), "day_end", errors)
    if start and end and end <= start:
        errors["day_end"] = "the working day must end after it starts (no night shifts)"
    values["day_start"], values["day_end"] = start, end
    country = _clean(posted.get("holiday_country", "")).upper()
    subdivision = _clean(posted.get("holiday_subdivision", "")).upper() or None
    if country:
        try:
            check_holidays(country[:8], subdivision)
        except CalendarError as exc:
            field = (
                "holiday_subdivision"
                if subdivision and "subdivision" in str(exc)
                else "holiday_country"
            )
            errors[field] = str(exc)
    elif subdivision:
        errors["holiday_subdivision"] = "a subdivision needs a country"
    values["holiday_country"] = country[:8] or None
    values["holiday_subdivision"] = (subdivision or "")[:16] or None
    return Checked(values, errors)


def _time_of(raw: str, name: str, errors: Errors) -> time | None:
    text = _clean(raw)
    if re.fullmatch(r"\d{2}:\d{2}", text) and _valid_time(text):
        return time.fromisoformat(text)
    errors[name] = "a time of day such as 08:00"
    return None


def check_day_off(session: Session, calendar_id: int, posted: Posted) -> Checked:
    errors: Errors = {}
    text = _clean(posted.get("day", ""))
    day = None
    try:
        day = date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else None
    except ValueError:
        day = None
    if day is None:
        errors["day"] = "a day such as 2026-12-24"
    elif session.scalars(select(DayOff).filter_by(calendar_id=calendar_id, day=day)).first():
        errors["day"] = f"{day.isoformat()} is a day off already"
    name = _text(posted.get("day_name", ""), 200, "day_name", errors, required=False)
    return Checked({"day": day, "name": name}, errors)


def save_day_off(session: Session, calendar_id: int, values: dict[str, Any]) -> DayOff:
    day = DayOff(calendar_id=calendar_id, day=values["day"], name=values["name"])
    session.add(day)
    session.flush()
    return day
