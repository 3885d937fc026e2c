"""Demo data: every plugin contributes its share through ``tierflow_load_demo_data``.

Every demo person signs in with the password :data:`DEMO_PASSWORD`; the engine
adds an administrator, ``admin@example.org``.

Plugins may also contribute a history (``tierflow_register_demo_history``): work
that ran through the real workflows over the past weeks, some of it still open
on the server's Temporal. :func:`shift_times` is the generic tool such a
history uses to place what a run recorded on a clock ahead of time back where
it belongs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import JSON, Date, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from engine.model import Base, Membership, Person, Team, WorkItem
from engine.model.auth import hash_password
from engine.model.base import UTCDateTime
from engine.plugins import PluginManager

M = TypeVar("M", bound=Base)

DEMO_PASSWORD = "tierflow-demo"
"""The password of every demo person (documented in the README: demo data only)."""

DEMO_ADMIN = "admin@example.org"


def get_or_create(
    session: Session, model: type[M], defaults: Mapping[str, Any] | None = None, **lookup: Any
) -> tuple[M, bool]:
    """Return the row of ``model`` matching ``lookup``, creating it with ``defaults`` if absent.

    The second value says whether the row was created. Demo loaders use this so
    that loading twice adds nothing.
    """
    row = session.scalars(select(model).filter_by(**lookup)).one_or_none()
    if row is not None:
        return row, False
    row = model(**lookup, **(defaults or {}))
    session.add(row)
    session.flush()
    return row, True


def load_demo_data(pm: PluginManager, sessions: sessionmaker[Session]) -> dict[str, int]:
    """Run every plugin's demo loader in one transaction; return rows added per table."""
    with sessions() as session, session.begin():
        before = _counts(session)
        ensure_person(
            session,
            DEMO_ADMIN,
            name="Ada Admin",
            is_staff=True,
            cost_rate=Decimal("60.00"),
            roles={"admin"},
        )
        pm.call("tierflow_load_demo_data", session=session)
        session.flush()
        after = _counts(session)
    return {name: after[name] - before[name] for name in after if after[name] != before[name]}


def _counts(session: Session) -> dict[str, int]:
    return {
        table.name: session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    }


def ensure_team(session: Session, slug: str, **fields: Any) -> Team:
    """The team with ``slug``, created with ``fields`` if it does not exist yet."""
    team, _ = get_or_create(session, Team, slug=slug, defaults=fields)
    return team


def ensure_person(
    session: Session,
    email: str,
    *,
    roles: set[str] | frozenset[str] = frozenset(),
    teams: Mapping[str, str] | None = None,
    password: str | None = DEMO_PASSWORD,
    **fields: Any,
) -> Person:
    """The person with ``email``, created with ``fields``; adds missing roles and memberships.

    ``teams`` maps team slugs (which must exist) to the membership role
    (``member`` or ``lead``). Existing roles and memberships are left alone. A
    person without a password gets ``password`` (``None``: none).
    """
    person, _ = get_or_create(session, Person, email=email.lower(), defaults=fields)
    if person.password_hash is None and password is not None:
        person.password_hash = _hashed(password)
    person.grant(*sorted(roles))
    for slug, role in (teams or {}).items():
        team = session.scalars(select(Team).filter_by(slug=slug)).one()
        get_or_create(
            session, Membership, team_id=team.id, person_id=person.id, defaults={"role": role}
        )
    session.flush()
    return person


@functools.cache
def _hashed(password: str) -> str:
    """One hash per demo password, shared by the demo people (hashing takes ~0.1 s each)."""
    return hash_password(password)


def ensure_work_item(session: Session, reference: str, **fields: Any) -> WorkItem:
    """The work item with ``reference`` (its natural key), created with ``fields`` if absent."""
    item, _ = get_or_create(session, WorkItem, reference=reference, defaults=fields)
    return item


# ------------------------------------------------------------ histories ---


@dataclass(frozen=True)
class DemoOptions:
    """How much history a demo gets: ``days`` back from now, ``per_day`` items per working day.

    ``seed`` makes it repeatable: the same seed gives the same history.
    """

    days: int = 90
    per_day: float = 1.2
    seed: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.days <= 366:
            raise ValueError(f"demo days must be 0 to 366, got {self.days}")
        if not 0 <= self.per_day <= 100:
            raise ValueError(f"demo items per working day must be 0 to 100, got {self.per_day}")


@dataclass(frozen=True)
class DemoRun:
    """What a history is run with: the live Temporal ``client`` and ``task_queue`` (where its
    open items' runs go), the database ``sessions``, the plugin manager, the options, and
    ``progress(done, total)`` to call as it goes."""

    pm: PluginManager
    sessions: sessionmaker[Session]
    client: Client
    task_queue: str
    options: DemoOptions = field(default_factory=DemoOptions)
    progress: Callable[[int, int], None] = lambda _done, _total: None


@dataclass(frozen=True)
class DemoHistory:
    """A plugin's demo history: ``run(demo)`` adds it (nothing if it is there) and returns a
    short detail for the start-up step ("183 tickets, 12 open")."""

    name: str
    run: Callable[[DemoRun], Awaitable[str]]


def shift_times(session: Session, start: datetime, end: datetime, by: timedelta) -> int:
    """Move every moment in ``[start, end]`` recorded anywhere in the shared model by ``by``.

    Every table on the shared ``Base``: its UTC datetime columns, its date
    columns (a day moves by ``by``'s whole days), and the ISO dates and times
    in the texts of its JSON columns (an event's deadlines, a form's day).
    Meant for a span no real record can be in (a simulated clock years
    ahead), so that nothing else is touched. Returns how many rows changed.
    """
    changed = 0
    for table in Base.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        columns = [c for c in table.columns if isinstance(c.type, (UTCDateTime, Date, JSON))]
        if not keys or not columns:
            continue
        for row in session.execute(select(*keys, *columns)).all():
            values = {}
            for column, value in zip(columns, row[len(keys) :], strict=True):
                moved = _moved(value, start, end, by)
                if moved != value:
                    values[column.name] = moved
            if values:
                match = [key == row[number] for number, key in enumerate(keys)]
                session.execute(update(table).where(*match).values(values))
                changed += 1
    session.expire_all()
    return changed


_ISO = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})?)?")


def _moved(value: Any, start: datetime, end: datetime, by: timedelta) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return value + by if start <= aware <= end else value
    if isinstance(value, date):
        return value + timedelta(days=by.days) if start.date() <= value <= end.date() else value
    if isinstance(value, str):
        return _ISO.sub(lambda found: _moved_text(found.group(0), start, end, by), value)
    if isinstance(value, list):
        return [_moved(each, start, end, by) for each in value]
    if isinstance(value, dict):
        return {key: _moved(each, start, end, by) for key, each in value.items()}
    return value


def _moved_text(text: str, start: datetime, end: datetime, by: timedelta) -> str:
    try:
        parsed: date = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    except ValueError:
        return text
    moved = _moved(parsed, start, end, by)
    if moved == parsed:
        return text
    return moved.isoformat().replace("+00:00", "Z") if text.endswith("Z") else moved.isoformat()
