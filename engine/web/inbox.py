"""The data behind "My tasks" and the team queues: filtered, sorted task rows, page by page.

Pages are cut by *keyset*, not by offset: a page ends with an opaque cursor
holding the last row's sort key and task id, and the next page starts after
it. Page 50 costs what page 1 costs, and rows are neither skipped nor repeated
while others claim or complete tasks in between. Every order is total (ties go
to the task id) and puts tasks without a due date (or priority) last, in both
directions.

A nullable sort key is read in two segments, the rows with a value and then
the rows without, so each query walks the ``(team_id, status, due_at)`` or
``(assignee_id, status, due_at)`` index of ``task`` in order and stops after
one page; several teams are read one by one and merged. The priority lives on
the work item, where no index of ``task`` can order by it. A queue's
*unassigned* tasks by priority (what a team picks its next work from) are
therefore read one priority at a time (1 to 4, then none), each in task id
order along the partial ``(team_id, status, id) WHERE assignee_id IS NULL``
index: a page reads about a page's worth of rows per priority it shows, where
one query sorted every unassigned task of the queue. A priority that few of
them have is the costly case: finding its rows reads the queue once, without
sorting it. Other priority orders (a whole queue, "My tasks") still sort their
scope in one query: no index serves them one priority at a time. A search is a
substring match (``ILIKE``; SQLite's ``LIKE``, which ignores ASCII case): it
stops early for a frequent word but reads every task in scope for a rare one,
so pages should search within a queue, not everything (see
``benchmarks/README.md``).

Claiming is one ``UPDATE ... WHERE status = 'open' AND assignee_id IS NULL``,
so of two people claiming at once exactly one wins; the loser is told who did.
No function here commits: the caller owns the transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from engine.errors import TierflowError
from engine.events import record_event
from engine.model import PRIORITIES, Membership, Person, Task, Team, WorkItem
from engine.plugins import PluginManager

STATUSES = ("open", "completed", "cancelled", "all")
SORTS = ("due", "priority", "created")
"""Sort keys; each may be prefixed with ``-`` for descending."""
MAX_LIMIT = 200
MAX_SEARCH = 200
MAX_FANOUT = 10
"""Up to this many teams are read one by one (each in index order) and merged."""
DEFAULT_CURSOR_KEY = b"tierflow inbox cursor"
"""Signs cursors when no key is given; the web layer passes the app's secret key."""


class InboxError(TierflowError):
    """Base of the errors of this module."""


class BadFilter(InboxError, ValueError):
    """A filter value is not allowed (unknown sort or status, limit out of range ...)."""


class BadCursor(InboxError, ValueError):
    """The ``after`` cursor is malformed, was altered, or belongs to another sort order."""


class TaskNotFound(InboxError, LookupError):
    """No task has the id given."""


class TaskNotOpen(InboxError):
    """The task was completed or cancelled."""


class NotYourTeam(InboxError):
    """The task is in the queue of a team the person is not a member of."""


class AlreadyClaimed(InboxError):
    """Someone else holds the task; ``holder`` is their name."""

    def __init__(self, message: str, *, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class NotYourTask(InboxError):
    """The task is assigned to someone else, so it is not the person's to give back."""


# ------------------------------------------------------------------ filter --


@dataclass(frozen=True)
class InboxFilter:
    """Which tasks a page shows and in what order; invalid values raise :class:`BadFilter`.

    ``team_ids`` None means any team (an empty tuple: none). ``search`` matches
    the task title, the work item's title or its reference, ignoring case.
    ``overdue_only`` keeps open tasks whose due time has passed. ``roles``
    keeps the tasks addressed to one of those roles that nobody holds yet (the
    "For my role" queue; an empty tuple: none).
    """

    team_ids: tuple[int, ...] | None = None
    roles: tuple[str, ...] | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    status: str = "open"
    overdue_only: bool = False
    search: str | None = None
    priority: int | None = None
    sort: str = "due"
    limit: int = 50

    def __post_init__(self) -> None:
        if self.team_ids is not None and not isinstance(self.team_ids, tuple):
            object.__setattr__(self, "team_ids", tuple(self.team_ids))
        if self.roles is not None and not isinstance(self.roles, tuple):
            object.__setattr__(self, "roles", tuple(self.roles))
        _sort_of(self.sort)
        if self.status not in STATUSES:
            raise BadFilter(f"unknown status {self.status!r}; choose one of {', '.join(STATUSES)}")
        if not 1 <= self.limit <= MAX_LIMIT:
            raise BadFilter(f"limit {self.limit} is out of range; give 1 to {MAX_LIMIT}")
        if self.priority is not None and self.priority not in PRIORITIES:
            raise BadFilter(f"priority {self.priority!r} is not one of 1, 2, 3, 4")
        if self.search is not None and len(self.search) > MAX_SEARCH:
            raise BadFilter(
                f"the search is {len(self.search)} characters long; at most {MAX_SEARCH}"
            )
        if self.unassigned and self.assignee_id is not None:
            raise BadFilter("ask for unassigned tasks or for one assignee's, not both")


@dataclass(frozen=True)
class _Sort:
    name: str
    column: InstrumentedAttribute[Any]
    nullable: bool
    descending: bool

    @property
    def needs_item(self) -> bool:
        return self.name == "priority"

    @property
    def values(self) -> tuple[Any, ...] | None:
        """Every value the column can hold, in this order, if they are few; else None."""
        if self.name != "priority":
            return None
        return tuple(reversed(PRIORITIES)) if self.descending else PRIORITIES


_SORT_COLUMNS: dict[str, tuple[InstrumentedAttribute[Any], bool]] = {
    "due": (Task.due_at, True),
    "priority": (WorkItem.priority, True),
    "created": (Task.created_at, False),
}


def _sort_of(text: str) -> _Sort:
    name = text[1:] if text.startswith("-") else text
    if name not in _SORT_COLUMNS:
        raise BadFilter(
            f"unknown sort {text[:50]!r}; sort by one of {', '.join(SORTS)} "
            "(with '-' in front for descending, e.g. -due)"
        )
    column, nullable = _SORT_COLUMNS[name]
    return _Sort(name, column, nullable, descending=text.startswith("-"))


# -------------------------------------------------------------------- rows --


@dataclass(frozen=True)
class InboxRow:
    """One task as a queue or "My tasks" lists it."""

    task_id: int
    task_title: str
    step_id: str
    form: str | None
    status: str
    due_at: datetime | None
    overdue: bool
    work_item_id: int
    reference: str | None
    title: str
    priority: int | None
    kind: str
    team_id: int | None
    team_slug: str | None
    team_name: str | None
    assignee_id: int | None
    assignee_name: str | None
    created_at: datetime


@dataclass(frozen=True)
class InboxPage:
    """A page of rows and the cursor of the next page (None on the last one)."""

    rows: tuple[InboxRow, ...]
    next_cursor: str | None


def inbox_page(
    session: Session,
    filter: InboxFilter,
    *,
    after: str | None,
    now: datetime,
    key: bytes = DEFAULT_CURSOR_KEY,
) -> InboxPage:
    """The page of tasks matching ``filter`` that follows cursor ``after`` (None: the first).

    ``now`` (aware) decides which tasks are overdue. ``key`` signs and checks
    cursors; a cursor that was altered, cut short or made for another sort
    order raises :class:`BadCursor`.
    """
    sort = _sort_of(filter.sort)
    cursor = None if after is None else _decode(after, sort, key)
    keys = _page_keys(session, filter, sort, cursor, now)
    rows = _rows(session, [task_id for _, task_id in keys[: filter.limit]], now)
    if len(keys) <= filter.limit:
        return InboxPage(rows, None)
    return InboxPage(rows, _encode(sort, *keys[filter.limit - 1], key))


_SEARCHED = (Task.title, WorkItem.title, WorkItem.reference)
_ROW_COLUMNS = (
    Task.id, Task.title, Task.step_id, Task.form, Task.status, Task.due_at,
    WorkItem.id, WorkItem.reference, WorkItem.title, WorkItem.priority, WorkItem.kind,
    Task.team_id, Team.slug, Team.name, Task.assignee_id, Person.name, Task.created_at,
)  # fmt: skip
"""What :class:`InboxRow` holds, in its order (``overdue`` is computed after ``due_at``)."""


def _page_keys(
    session: Session,
    filter: InboxFilter,
    sort: _Sort,
    cursor: tuple[Any, int] | None,
    now: datetime,
) -> list[tuple[Any, int]]:
    """``(sort value, task id)`` of up to ``limit + 1`` rows in order; one more means a next page.

    Several teams are read one by one and merged here: each read walks its
    team's index in order and stops at ``limit + 1`` rows, where one read of
    all of them would sort every row of every team.
    """
    teams, wanted = filter.team_ids, filter.limit + 1
    dialect = session.get_bind().dialect.name
    scopes = [teams] if teams is None or not 1 < len(teams) <= MAX_FANOUT else [(t,) for t in teams]
    keys: list[tuple[Any, int]] = []
    for scope in scopes:
        base = select(sort.column, Task.id).where(*_conditions(filter, scope, now, dialect))
        if _needs_item(filter, sort):
            base = base.join(WorkItem, WorkItem.id == Task.work_item_id)
        one_pass = dialect == "postgresql" and not sort.descending and _searching(filter)
        by_value = filter.unassigned and scope is not None and not one_pass
        keys += _keys(session, base, sort, cursor, wanted, one_pass=one_pass, by_value=by_value)
    if len(scopes) > 1:
        valued = sorted((k for k in keys if k[0] is not None), reverse=sort.descending)
        empty = sorted((k for k in keys if k[0] is None), reverse=sort.descending)
        keys = (valued + empty)[:wanted]
    return keys


def _conditions(
    filter: InboxFilter, teams: tuple[int, ...] | None, now: datetime, dialect: str
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if teams is not None:
        where.append(Task.team_id == teams[0] if len(teams) == 1 else Task.team_id.in_(teams))
    if filter.assignee_id is not None:
        where.append(Task.assignee_id == filter.assignee_id)
    if filter.roles is not None:
        where += [Task.role.in_(filter.roles), Task.team_id.is_(None), Task.assignee_id.is_(None)]
    if filter.unassigned:
        where.append(Task.assignee_id.is_(None))
    if filter.status != "all":
        where.append(Task.status == filter.status)
    if filter.overdue_only:
        where += [Task.status == "open", Task.due_at < now]
    if filter.priority is not None:
        where.append(WorkItem.priority == filter.priority)
    text = (filter.search or "").strip()
    if text:
        pattern = "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"
        # SQLite's LIKE ignores (ASCII) case already; lower() on every row costs three times more
        match = "like" if dialect == "sqlite" else "ilike"
        where.append(or_(*(getattr(c, match)(pattern, escape="/") for c in _SEARCHED)))
    return where


def _searching(filter: InboxFilter) -> bool:
    return bool((filter.search or "").strip())


def _needs_item(filter: InboxFilter, sort: _Sort) -> bool:
    return sort.needs_item or filter.priority is not None or _searching(filter)


def _keys(
    session: Session,
    base: Select[tuple[Any, int]],
    sort: _Sort,
    cursor: tuple[Any, int] | None,
    wanted: int,
    *,
    one_pass: bool = False,
    by_value: bool = False,
) -> list[tuple[Any, int]]:
    """``(sort value, task id)`` of the first ``wanted`` rows of ``base`` after ``cursor``.

    ``one_pass`` reads both segments in one query, for a search on PostgreSQL:
    a search may read every row in scope, and once is half of twice. There,
    indexes keep NULLs last in ascending order, so a frequent word still stops
    early, in index order. ``by_value`` reads a sort column of few values (the
    priority) one value at a time, for a scope an index keeps in task id order.
    """
    column, descending = sort.column, sort.descending
    if one_pass:
        query = base if cursor is None else base.where(_beyond_nulls_last(column, *cursor))
        query = query.order_by(column.asc().nulls_last(), Task.id.asc()).limit(wanted)
        return [(value, task_id) for value, task_id in session.execute(query)]
    by_id = Task.id.desc() if descending else Task.id.asc()
    keys: list[tuple[Any, int]] = []
    in_nulls = cursor is not None and cursor[0] is None
    if by_value and sort.values is not None and not in_nulls:
        keys = _keys_by_value(session, base, sort, cursor, wanted)
    elif not in_nulls:
        query = base.where(column.is_not(None))
        if cursor is not None:
            query = query.where(_beyond(column, descending, *cursor))
        query = query.order_by(column.desc() if descending else column.asc(), by_id)
        keys = [(value, task_id) for value, task_id in session.execute(query.limit(wanted))]
    if len(keys) < wanted and sort.nullable:
        query = base.where(column.is_(None))
        if in_nulls:
            assert cursor is not None
            query = query.where(Task.id < cursor[1] if descending else Task.id > cursor[1])
        query = query.order_by(by_id).limit(wanted - len(keys))
        keys += [(None, task_id) for _, task_id in session.execute(query)]
    return keys


def _keys_by_value(
    session: Session,
    base: Select[tuple[Any, int]],
    sort: _Sort,
    cursor: tuple[Any, int] | None,
    wanted: int,
) -> list[tuple[Any, int]]:
    """The non-NULL segment of :func:`_keys` for a column of few values, one value at a time.

    Each query asks for one value in task id order, which the index on a
    team's unassigned tasks serves without sorting; it stops once the page is full.
    """
    assert sort.values is not None
    column, descending = sort.column, sort.descending
    by_id = Task.id.desc() if descending else Task.id.asc()
    values = sort.values
    if cursor is not None:
        values = values[values.index(cursor[0]) :] if cursor[0] in values else ()
    keys: list[tuple[Any, int]] = []
    for value in values:
        query = base.where(column == value)
        if cursor is not None and value == cursor[0]:
            query = query.where(Task.id < cursor[1] if descending else Task.id > cursor[1])
        query = query.order_by(by_id).limit(wanted - len(keys))
        keys += [(value, task_id) for _, task_id in session.execute(query)]
        if len(keys) >= wanted:
            break
    return keys


def _beyond(
    column: InstrumentedAttribute[Any], descending: bool, value: Any, task_id: int
) -> ColumnElement[bool]:
    """Rows after ``(value, task_id)``, written so the index range starts at ``value``."""
    if descending:
        return and_(column <= value, or_(column < value, Task.id < task_id))
    return and_(column >= value, or_(column > value, Task.id > task_id))


def _beyond_nulls_last(
    column: InstrumentedAttribute[Any], value: Any, task_id: int
) -> ColumnElement[bool]:
    """Rows after ``(value, task_id)`` in ascending order with NULLs last."""
    if value is None:
        return and_(column.is_(None), Task.id > task_id)
    return or_(column.is_(None), _beyond(column, False, value, task_id))


def _rows(session: Session, ids: Sequence[int], now: datetime) -> tuple[InboxRow, ...]:
    if not ids:
        return ()
    query = (
        select(*_ROW_COLUMNS)
        .join(WorkItem, WorkItem.id == Task.work_item_id)
        .outerjoin(Team, Team.id == Task.team_id)
        .outerjoin(Person, Person.id == Task.assignee_id)
        .where(Task.id.in_(ids))
    )
    found = {}
    for r in session.execute(query):
        due, status = r[5], r[4]
        overdue = status == "open" and due is not None and due < now
        found[r[0]] = InboxRow(*r[:6], overdue, *r[6:])
    return tuple(found[i] for i in ids if i in found)


# ----------------------------------------------------------------- cursors --


def _encode(sort: _Sort, value: datetime | int | None, task_id: int, key: bytes) -> str:
    plain = value.isoformat() if isinstance(value, datetime) else value
    payload = json.dumps([sort.name, plain, task_id], separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(payload, key))}"


def _decode(cursor: str, sort: _Sort, key: bytes) -> tuple[Any, int]:
    """``(sort value, task id)`` from ``cursor``; :class:`BadCursor` if it is not one of ours."""
    shown = repr(cursor[:40]) + ("..." if len(cursor) > 40 else "")
    damaged = BadCursor(
        f"the page cursor {shown} is damaged or was changed; start again from the first page"
    )
    try:
        body, _, signature = cursor.partition(".")
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (binascii.Error, ValueError):
        raise damaged from None
    if not hmac.compare_digest(given, _mac(payload, key)):
        raise damaged
    try:
        name, value, task_id = json.loads(payload)
    except (ValueError, TypeError):
        raise damaged from None
    if name != sort.name:
        raise BadCursor(
            f"the page cursor was made for sorting by {name!r}, not {sort.name!r}; "
            "start again from the first page"
        )
    if not isinstance(task_id, int) or isinstance(task_id, bool):
        raise damaged
    if value is None and not sort.nullable:
        raise damaged
    if value is not None and sort.name == "priority":
        if not isinstance(value, int) or isinstance(value, bool):
            raise damaged
    elif value is not None:
        try:
            value = datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise damaged from None
        if value.tzinfo is None:
            raise damaged
    return value, task_id


def _mac(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, b"inbox-cursor:" + payload, hashlib.sha256).digest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --------------------------------------------------------- claim, give back --


def claim(session: Session, task_id: int, person_id: int, *, pm: PluginManager) -> Task:
    """Assign open task ``task_id`` of one of the person's teams to them; record ``task_claimed``.

    One conditional ``UPDATE``: of two concurrent claims exactly one changes
    the row. Claiming a task one already holds changes nothing. Raises
    :class:`TaskNotFound`, :class:`TaskNotOpen`, :class:`NotYourTeam` or
    :class:`AlreadyClaimed` (naming the holder).
    """
    teams = select(Membership.team_id).where(Membership.person_id == person_id)
    changed = _update(
        session,
        task_id,
        [Task.assignee_id.is_(None), Task.team_id.in_(teams)],
        assignee_id=person_id,
    )
    task = _task(session, task_id, "claimed")
    if changed:
        _record(session, pm, task, "task_claimed", person_id)
        return task
    if task.assignee_id == person_id:
        return task
    if not session.scalar(teams.where(Membership.team_id == task.team_id)):
        queue = f"team '{task.team.name}'" if task.team else "no team"
        raise NotYourTeam(
            f"task {task_id} ({task.title!r}) is in the queue of {queue}, and person "
            f"{person_id} is not a member; ask a lead of that team to assign it"
        )
    holder = _name(task.assignee, task.assignee_id)
    raise AlreadyClaimed(
        f"task {task_id} ({task.title!r}) is already claimed by {holder}; "
        "ask them to give it back or a team lead to reassign it",
        holder=holder,
    )


def unassign(session: Session, task_id: int, person_id: int, *, pm: PluginManager) -> Task:
    """Give open task ``task_id`` back to its team's queue; record ``task_unassigned``.

    Only the task's assignee may give it back; a task nobody holds is left as
    it is. Raises :class:`TaskNotFound`, :class:`TaskNotOpen` or
    :class:`NotYourTask`.
    """
    changed = _update(session, task_id, [Task.assignee_id == person_id], assignee_id=None)
    task = _task(session, task_id, "given back")
    if changed:
        _record(session, pm, task, "task_unassigned", person_id)
        return task
    if task.assignee_id is None:
        return task
    raise NotYourTask(
        f"task {task_id} ({task.title!r}) is assigned to "
        f"{_name(task.assignee, task.assignee_id)}, not to person {person_id}; "
        "only its assignee can give it back"
    )


def _update(
    session: Session, task_id: int, where: list[ColumnElement[bool]], **values: Any
) -> bool:
    statement = (
        update(Task)
        .where(Task.id == task_id, Task.status == "open", *where)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined]


def _task(session: Session, task_id: int, verb: str) -> Task:
    """The task as it is now in the database; raises unless it exists and is open."""
    task = session.get(Task, task_id, populate_existing=True)
    if task is None:
        raise TaskNotFound(f"task {task_id} does not exist")
    if task.status != "open":
        raise TaskNotOpen(
            f"task {task_id} ({task.title!r}) is {task.status}; only open tasks can be {verb}"
        )
    return task


def _record(session: Session, pm: PluginManager, task: Task, type: str, actor: int) -> None:
    record_event(
        session,
        pm,
        work_item_id=task.work_item_id,
        type=type,
        data={"task": task.id, "step": task.step_id},
        actor_id=actor,
        team_id=task.team_id,
    )


def _name(person: Person | None, person_id: int | None) -> str:
    return person.name if person is not None else f"person {person_id}"
