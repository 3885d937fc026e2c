"""The SLA admin pages: policies, business calendars and their days off (admins only).

``/helpdesk/admin/sla`` lists policies and calendars; each has a page to add
one and a page to edit it. A refused form answers 422 with every field's
error and the input kept; nothing is written then. Running clocks keep the
deadlines they have; new clocks use what is saved here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.contrib import NavItem
from engine.web.access import page
from engine.web.admin_support import (
    Field,
    missing,
    notice,
    read,
    redirect,
    submitted,
    widgets,
    write,
)
from engine.web.forms import Widget
from plugins.helpdesk.calendar import Hours, public_holidays
from plugins.helpdesk.models import Calendar, DayOff, SlaPolicy
from plugins.helpdesk.sla_forms import (
    WEEKDAYS,
    Checked,
    check_calendar,
    check_day_off,
    check_policy,
    save_day_off,
    save_row,
)

PATH = "/helpdesk/admin/sla"
NOTICES = {
    "policy": "The policy was saved. New SLA clocks use it; running ones keep their deadlines.",
    "calendar": "The calendar was saved. New SLA clocks use it.",
    "day_off": "The day off was added.",
    "removed": "The day off was removed.",
}


@dataclass(frozen=True)
class PolicyRow:
    id: int
    name: str
    applies_to: str
    response: str
    resolution: str
    warn: str
    calendar: str
    active: str


@dataclass(frozen=True)
class CalendarRow:
    id: int
    name: str
    slug: str
    hours: str
    holidays: str
    days_off: int


@dataclass(frozen=True)
class DayOffRow:
    id: int
    day: str
    name: str


def minutes_text(minutes: int) -> str:
    """Business minutes as people say them: 30 min, 4 h, 1 h 30 min."""
    hours, rest = divmod(minutes, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{rest} min"] if rest else [])
    return " ".join(parts) or "0 min"


def _lists(db: Session) -> tuple[list[PolicyRow], list[CalendarRow]]:
    policies = db.scalars(
        select(SlaPolicy).options(selectinload(SlaPolicy.calendar)).order_by(SlaPolicy.name)
    )
    calendars = db.scalars(
        select(Calendar).options(selectinload(Calendar.days_off)).order_by(Calendar.name)
    )
    return (
        [
            PolicyRow(
                p.id, p.name,
                f"{p.request_type or 'any type'}, "
                f"{f'priority {p.priority}' if p.priority else 'any priority'}",
                minutes_text(p.response_minutes), minutes_text(p.resolution_minutes),
                f"{p.warn_percent} %", p.calendar.name, "yes" if p.active else "no",
            )
            for p in policies
        ],
        [
            CalendarRow(
                c.id, c.name, c.slug,
                f"{', '.join(WEEKDAYS[d - 1][:3] for d in sorted(c.workdays))} "
                f"{c.day_start:%H:%M}-{c.day_end:%H:%M} ({c.timezone})",
                " ".join(filter(None, (c.holiday_country, c.holiday_subdivision))) or "none",
                len(c.days_off),
            )
            for c in calendars
        ],
    )  # fmt: skip


def _render(
    request: Request, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, template, {**context, "notice": notice(request, NOTICES)}, status_code=status
    )


async def _checked_write(
    request: Request,
    row: tuple[type[SlaPolicy] | type[Calendar], int | None],
    check: Callable[[Session], Checked],
    store: Callable[[Session, dict[str, Any]], object],
) -> Checked | None:
    """Check and (without errors) store in one transaction; ``None``: the row is gone."""
    model, row_id = row

    def run(db: Session) -> Checked | None:
        if row_id is not None and db.get(model, row_id) is None:
            return None
        checked = check(db)
        if not checked.errors:
            store(db, checked.values)
        return checked

    return await write(request, run)


async def sla_overview(request: Request) -> Response:
    """GET /helpdesk/admin/sla: every policy and calendar."""
    policies, calendars = await read(request, _lists)
    return _render(request, "helpdesk/sla.html", {"policies": policies, "calendars": calendars})


# ------------------------------------------------------------------ policies ---


def _policy_fields(calendars: list[tuple[str, str]]) -> list[Field]:
    return [
        Field("name", "Name", required=True, attrs=(("maxlength", "200"),)),
        Field("request_type", "Request type", help="Such as incident; empty: any type."),
        Field(
            "priority", "Priority", control="select",
            options=(("", "Any priority"), *((str(p), f"Priority {p}") for p in range(1, 5))),
        ),
        Field("response_minutes", "Response target", control="number", required=True,
              help="Business minutes until the first response.", attrs=(("min", "1"),)),
        Field("resolution_minutes", "Resolution target", control="number", required=True,
              help="Business minutes until the ticket is resolved.", attrs=(("min", "1"),)),
        Field("warn_percent", "Warn at", control="number", required=True,
              help="Percent of each target elapsed (1-99).", attrs=(("min", "1"), ("max", "99"))),
        Field("calendar", "Business calendar", control="select", required=True,
              options=(("", "Choose…"), *calendars)),
        Field("active", "Active (applies to new tickets)", control="checkbox"),
    ]  # fmt: skip


def _policy_values(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "name": policy.name, "request_type": policy.request_type or "",
        "priority": str(policy.priority or ""), "response_minutes": str(policy.response_minutes),
        "resolution_minutes": str(policy.resolution_minutes),
        "warn_percent": str(policy.warn_percent), "calendar": str(policy.calendar_id),
        "active": "true" if policy.active else "",
    }  # fmt: skip


def _calendar_choices(db: Session) -> list[tuple[str, str]]:
    return [(str(c.id), c.name) for c in db.scalars(select(Calendar).order_by(Calendar.name))]


async def _policy_page(
    request: Request, policy_id: int | None, values: dict[str, Any], errors: dict[str, str],
    status: int = 200,
) -> Response:  # fmt: skip
    calendars = await read(request, _calendar_choices)
    form = widgets(_policy_fields(calendars), values, errors)
    return _render(
        request, "helpdesk/sla_policy.html",
        {"policy_id": policy_id, "form": form, "no_calendars": not calendars}, status,
    )  # fmt: skip


async def policy_new(request: Request) -> Response:
    """GET /helpdesk/admin/sla/policies/new: the form for a new policy."""
    return await _policy_page(request, None, {"warn_percent": "75", "active": "true"}, {})


async def policy_edit(request: Request) -> Response:
    """GET /helpdesk/admin/sla/policies/{id}: a policy's form, filled in."""
    policy_id = request.path_params["policy_id"]
    values = await read(
        request, lambda db: (p := db.get(SlaPolicy, policy_id)) and _policy_values(p)
    )
    if not values:
        return missing(request, f"SLA policy {policy_id}", PATH)
    return await _policy_page(request, policy_id, values, {})


async def policy_save(request: Request) -> Response:
    """POST .../policies/new or .../policies/{id}: save, or 422 with the errors."""
    policy_id = request.path_params.get("policy_id")
    posted = submitted(await request.form())
    types = request.app.state.request_types
    checked = await _checked_write(
        request, (SlaPolicy, policy_id), lambda db: check_policy(db, posted, policy_id, types),
        lambda db, values: save_row(db, SlaPolicy, values, policy_id),
    )  # fmt: skip
    if checked is None:
        return missing(request, f"SLA policy {policy_id}", PATH)
    if checked.errors:
        return await _policy_page(request, policy_id, posted, checked.errors, 422)
    return redirect(request, "helpdesk.sla", "policy")


# ----------------------------------------------------------------- calendars ---


def _calendar_fields(new: bool) -> list[Field]:
    slug = [Field("slug", "Slug", required=True, help="Lower-case, such as berlin-office.")]
    return [
        *(slug if new else []),
        Field("name", "Name", required=True, attrs=(("maxlength", "200"),)),
        Field("timezone", "Time zone", required=True, help="An IANA name such as Europe/Berlin."),
        Field("workdays", "Working days", control="checkboxes", required=True,
              options=tuple((str(n), day) for n, day in enumerate(WEEKDAYS, 1))),
        Field("day_start", "Day starts", required=True, help="Local time, such as 08:00."),
        Field("day_end", "Day ends", required=True, help="Local time, such as 17:00."),
        Field("holiday_country", "Public holidays of", help="A country code such as DE; "
              "empty: no public holidays."),
        Field("holiday_subdivision", "Region", help="Such as BY for Bavaria; empty: national."),
    ]  # fmt: skip


def _calendar_values(calendar: Calendar) -> dict[str, Any]:
    return {
        "name": calendar.name, "timezone": calendar.timezone,
        "workdays": [str(d) for d in calendar.workdays],
        "day_start": f"{calendar.day_start:%H:%M}", "day_end": f"{calendar.day_end:%H:%M}",
        "holiday_country": calendar.holiday_country or "",
        "holiday_subdivision": calendar.holiday_subdivision or "",
    }  # fmt: skip


def _calendar_state(db: Session, calendar_id: int) -> dict[str, Any] | None:
    calendar = db.get(Calendar, calendar_id)
    if calendar is None:
        return None
    year = date.today().year
    holidays = public_holidays(Hours.of(calendar), [year, year + 1])
    return {
        "values": _calendar_values(calendar),
        "slug": calendar.slug,
        "days_off": [DayOffRow(d.id, d.day.isoformat(), d.name) for d in calendar.days_off],
        "holidays": [(day.isoformat(), name) for day, name in holidays.items()],
    }


async def _calendar_page(
    request: Request, calendar_id: int | None, values: dict[str, Any], errors: dict[str, str],
    status: int = 200, *, day_form: list[Widget] | None = None,
) -> Response:  # fmt: skip
    state: dict[str, Any] = {"days_off": [], "holidays": [], "slug": ""}
    if calendar_id is not None:
        state = await read(request, lambda db: _calendar_state(db, calendar_id)) or state
    form = widgets(_calendar_fields(calendar_id is None), values, errors)
    day = day_form or widgets(_day_fields(), {}, {})
    return _render(
        request, "helpdesk/sla_calendar.html",
        {"calendar_id": calendar_id, "form": form, "day_form": day, **state}, status,
    )  # fmt: skip


async def calendar_new(request: Request) -> Response:
    """GET /helpdesk/admin/sla/calendars/new: the form for a new calendar."""
    values = {"timezone": "Europe/Berlin", "workdays": ["1", "2", "3", "4", "5"],
              "day_start": "08:00", "day_end": "17:00"}  # fmt: skip
    return await _calendar_page(request, None, values, {})


async def calendar_edit(request: Request) -> Response:
    """GET /helpdesk/admin/sla/calendars/{id}: the calendar, its holidays and days off."""
    calendar_id = request.path_params["calendar_id"]
    state = await read(request, lambda db: _calendar_state(db, calendar_id))
    if state is None:
        return missing(request, f"calendar {calendar_id}", PATH)
    return await _calendar_page(request, calendar_id, state["values"], {})


async def calendar_save(request: Request) -> Response:
    """POST .../calendars/new or .../calendars/{id}: save, or 422 with the errors."""
    calendar_id = request.path_params.get("calendar_id")
    posted = submitted(await request.form(), "workdays")
    checked = await _checked_write(
        request, (Calendar, calendar_id), lambda db: check_calendar(db, posted, calendar_id),
        lambda db, values: save_row(db, Calendar, values, calendar_id),
    )  # fmt: skip
    if checked is None:
        return missing(request, f"calendar {calendar_id}", PATH)
    if checked.errors:
        return await _calendar_page(request, calendar_id, posted, checked.errors, 422)
    return redirect(request, "helpdesk.sla", "calendar")


def _day_fields() -> list[Field]:
    return [
        Field("day", "Day", control="date", required=True),
        Field("day_name", "What it is", help="Such as Company outing."),
    ]


async def day_off_add(request: Request) -> Response:
    """POST .../calendars/{id}/days-off: add a day the department does not work."""
    calendar_id = request.path_params["calendar_id"]
    posted = submitted(await request.form())
    checked = await _checked_write(
        request, (Calendar, calendar_id), lambda db: check_day_off(db, calendar_id, posted),
        lambda db, values: save_day_off(db, calendar_id, values),
    )  # fmt: skip
    if checked is None:
        return missing(request, f"calendar {calendar_id}", PATH)
    if checked.errors:
        state = await read(request, lambda db: _calendar_state(db, calendar_id))
        day_form = widgets(_day_fields(), posted, checked.errors)
        return await _calendar_page(
            request, calendar_id, state["values"], {}, 422, day_form=day_form
        )
    return redirect(request, "helpdesk.sla.calendar", "day_off", calendar_id=calendar_id)


async def day_off_remove(request: Request) -> Response:
    """POST .../calendars/{id}/days-off/{day_id}/remove: the department works that day after all."""
    calendar_id, day_id = request.path_params["calendar_id"], request.path_params["day_id"]

    def remove(db: Session) -> bool:
        day = db.get(DayOff, day_id)
        if day is None or day.calendar_id != calendar_id:
            return False
        db.delete(day)
        return True

    if not await write(request, remove):
        return missing(request, f"day off {day_id} of calendar {calendar_id}", PATH)
    return redirect(request, "helpdesk.sla.calendar", "removed", calendar_id=calendar_id)


POLICY = PATH + "/policies/{policy_id:int}"
CALENDAR = PATH + "/calendars/{calendar_id:int}"
ROUTES: list[BaseRoute] = [
    page(PATH, sla_overview, allow="admin", name="helpdesk.sla"),
    page(PATH + "/policies/new", policy_new, allow="admin", name="helpdesk.sla.policy_new"),
    page(PATH + "/policies/new", policy_save, allow="admin", methods=("POST",),
         name="helpdesk.sla.policy_add"),
    page(POLICY, policy_edit, allow="admin", name="helpdesk.sla.policy"),
    page(POLICY, policy_save, allow="admin", methods=("POST",), name="helpdesk.sla.policy_save"),
    page(PATH + "/calendars/new", calendar_new, allow="admin", name="helpdesk.sla.calendar_new"),
    page(PATH + "/calendars/new", calendar_save, allow="admin", methods=("POST",),
         name="helpdesk.sla.calendar_add"),
    page(CALENDAR, calendar_edit, allow="admin", name="helpdesk.sla.calendar"),
    page(CALENDAR, calendar_save, allow="admin", methods=("POST",),
         name="helpdesk.sla.calendar_save"),
    page(CALENDAR + "/days-off", day_off_add, allow="admin", methods=("POST",),
         name="helpdesk.sla.day_off_add"),
    page(CALENDAR + "/days-off/{day_id:int}/remove", day_off_remove, allow="admin",
         methods=("POST",), name="helpdesk.sla.day_off_remove"),
]  # fmt: skip

NAVIGATION = [NavItem("SLAs", PATH, roles=frozenset({"admin"}), order=94)]
