"""The knowledge base's report for the reports dashboard: self-help deflections.

``compute(session, since=..., until=...)`` returns one row per week, request
type and article: how many requests the article closed by self-help that
week. Weeks start on Monday (UTC) and are named by that day. The period
filters (:func:`period`) are shared with the help desk's other reports.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.contrib import ReportSpec
from engine.errors import TierflowError
from plugins.helpdesk.kb.models import Article, SelfHelp

PERIOD_FILTERS = ("since", "until")
DEFLECTION_COLUMNS = ("week", "request_type", "article_id", "article", "deflections")
DELETED = "(article deleted)"


class ReportFilterError(TierflowError):
    """A report's filter that is unknown or not a date; nothing was computed."""


def moment(name: str, value: object) -> datetime | None:
    """Filter ``name``'s value as an aware UTC datetime: a datetime, a date (its midnight),
    an ISO 8601 text, or ``None``/``""`` (no bound); :class:`ReportFilterError` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ReportFilterError(
                f"filter {name!r}: {value[:40]!r} is not a date; write it as 2026-01-31 "
                "or 2026-01-31T08:00:00+00:00"
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    raise ReportFilterError(f"filter {name!r}: a date is needed, not {type(value).__name__}")


def period(report: str, filters: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """``(since, until)`` from a report's filters; an unknown filter is refused by name."""
    unknown = sorted(set(filters) - set(PERIOD_FILTERS))
    if unknown:
        raise ReportFilterError(
            f"report {report!r} takes the filters {', '.join(PERIOD_FILTERS)}; "
            f"not {', '.join(repr(name[:40]) for name in unknown)}"
        )
    since, until = moment("since", filters.get("since")), moment("until", filters.get("until"))
    if since is not None and until is not None and until <= since:
        raise ReportFilterError(f"filter 'until' ({until:%Y-%m-%d}) must come after 'since'")
    return since, until


def week_of(moment_: datetime) -> str:
    """The Monday (UTC) starting the week of ``moment_``, as ``2026-11-30``."""
    day = moment_.astimezone(UTC).date()
    return (day - timedelta(days=day.weekday())).isoformat()


def deflection_rows(session: Session, **filters: Any) -> list[dict[str, Any]]:
    """Requests closed by self-help per week, request type and article; latest week first,
    then most deflections."""
    since, until = period("helpdesk.self_help_deflections", filters)
    window = [
        *([] if since is None else [SelfHelp.created_at >= since]),
        *([] if until is None else [SelfHelp.created_at < until]),
    ]
    found = session.execute(
        select(SelfHelp.created_at, SelfHelp.request_type, Article.id, Article.title)
        .outerjoin(Article, Article.id == SelfHelp.article_id)
        .where(*window)
    ).all()
    counted = Counter((week_of(at), kind, aid, title or DELETED) for at, kind, aid, title in found)
    rows = [dict(zip(DEFLECTION_COLUMNS, (*key, n), strict=True)) for key, n in counted.items()]
    return sorted(rows, key=_deflection_order)


def _deflection_order(row: dict[str, Any]) -> tuple[Any, ...]:
    monday = date.fromisoformat(row["week"])
    return (-monday.toordinal(), -row["deflections"], row["request_type"], row["article_id"] or 0)


REPORTS = [
    ReportSpec(
        "helpdesk.self_help_deflections",
        "Self-help deflections",
        "Requests closed by self-help with a knowledge-base article, per week, request type "
        "and article. Filters: since, until (dates).",
        compute=deflection_rows,
        columns=DEFLECTION_COLUMNS,
    )
]
