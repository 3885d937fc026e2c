"""The inbox data layer: filters, orders, keyset pages, cursors, claims and their races."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, select, text
from sqlalchemy.orm import Session

from engine.db import make_session_factory
from engine.model import Event, Membership, Person, Task, Team, WorkItem
from engine.plugins import create_plugin_manager
from engine.web.inbox import (
    AlreadyClaimed,
    BadCursor,
    BadFilter,
    InboxFilter,
    InboxPage,
    NotYourTask,
    NotYourTeam,
    TaskNotFound,
    TaskNotOpen,
    claim,
    inbox_page,
    unassign,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def pm():
    return create_plugin_manager(entry_points=False)


@pytest.fixture
def make_task(session: Session, make_work_item) -> Callable[..., Task]:
    """``make_task(team=..., item=..., **task_columns)``: a task on a new work item unless given."""
    numbers = itertools.count(1)

    def make(*, item: WorkItem | None = None, team: Team | None = None, **overrides: Any) -> Task:
        n = next(numbers)
        item = item or make_work_item(reference=f"INC-{n:04d}", title=f"Item {n}")
        task = Task(
            **{
                "work_item_id": item.id,
                "workflow_id": f"wf-{n}",
                "step_id": "triage",
                "title": f"Task {n}",
                "team_id": team.id if team else None,
            }
            | overrides
        )
        session.add(task)
        session.flush()
        return task

    return make


def page_ids(session: Session, query: InboxFilter, *, after: str | None = None) -> list[int]:
    return [row.task_id for row in inbox_page(session, query, after=after, now=NOW).rows]


def walk(session: Session, query: InboxFilter) -> tuple[list[int], list[InboxPage]]:
    """Every page of ``query``, following cursors to the end."""
    pages, after = [], None
    while True:
        page = inbox_page(session, query, after=after, now=NOW)
        pages.append(page)
        if page.next_cursor is None:
            return [row.task_id for p in pages for row in p.rows], pages
        assert len(pages) < 500, "the cursor does not advance"
        after = page.next_cursor


def member(session: Session, person: Person, *teams: Team) -> None:
    session.add_all(Membership(team_id=team.id, person_id=person.id) for team in teams)
    session.flush()


# ----------------------------------------------------------------- filters --


def test_team_queue_is_its_open_tasks_soonest_due_first_undated_last(
    session: Session, make_team, make_task
) -> None:
    l1, l2 = make_team(), make_team()
    later = make_task(team=l1, due_at=NOW + 2 * HOUR)
    undated = make_task(team=l1)
    sooner = make_task(team=l1, due_at=NOW - HOUR)
    make_task(team=l1, due_at=NOW, status="completed")
    make_task(team=l2, due_at=NOW - 5 * HOUR)

    rows = inbox_page(session, InboxFilter(team_ids=(l1.id,)), after=None, now=NOW).rows

    assert [r.task_id for r in rows] == [sooner.id, later.id, undated.id]
    first = rows[0]
    assert (first.team_slug, first.team_name, first.status, first.step_id) == (
        l1.slug,
        l1.name,
        "open",
        "triage",
    )
    assert first.reference == sooner.work_item.reference
    assert first.title == sooner.work_item.title
    assert [r.overdue for r in rows] == [True, False, False]


def test_filters_narrow_the_rows(
    session: Session, make_team, make_person, make_task, make_work_item
) -> None:
    team = make_team()
    ann = make_person(name="Ann")
    urgent = make_work_item(priority=1, reference="INC-7001", title="Printer on fire")
    mine = make_task(team=team, assignee_id=ann.id, due_at=NOW + HOUR, item=urgent)
    late = make_task(team=team, due_at=NOW - HOUR, title="Call back the requester")
    done = make_task(team=team, status="completed", due_at=NOW - HOUR)
    dropped = make_task(team=team, status="cancelled")
    free = make_task(team=team, due_at=NOW + 3 * HOUR)

    def ids(**kw: Any) -> set[int]:
        return set(page_ids(session, InboxFilter(team_ids=(team.id,), **kw)))

    assert ids() == {mine.id, late.id, free.id}
    assert ids(assignee_id=ann.id) == {mine.id}
    assert ids(unassigned=True) == {late.id, free.id}
    assert ids(status="completed") == {done.id}
    assert ids(status="cancelled") == {dropped.id}
    assert ids(status="all") == {mine.id, late.id, done.id, dropped.id, free.id}
    assert ids(overdue_only=True, status="all") == {late.id}
    assert ids(priority=1) == {mine.id}
    assert ids(search="printer") == {mine.id}  # the work item's title, any case
    assert ids(search="inc-7001") == {mine.id}  # its reference
    assert ids(search="CALL BACK") == {late.id}  # the task's title
    assert ids(search="   ") == {mine.id, late.id, free.id}
    assert page_ids(session, InboxFilter(team_ids=())) == []
    row = inbox_page(session, InboxFilter(assignee_id=ann.id), after=None, now=NOW).rows[0]
    assert (row.assignee_id, row.assignee_name, row.priority, row.kind) == (
        ann.id,
        "Ann",
        1,
        "ticket",
    )


def test_overdue_is_an_open_task_past_its_due_time(session: Session, make_team, make_task) -> None:
    team = make_team()
    past = make_task(team=team, due_at=NOW - timedelta(seconds=1))
    exactly = make_task(team=team, due_at=NOW)
    future = make_task(team=team, due_at=NOW + HOUR)
    undated = make_task(team=team)
    closed_late = make_task(team=team, due_at=NOW - HOUR, status="completed")

    rows = inbox_page(
        session, InboxFilter(team_ids=(team.id,), status="all"), after=None, now=NOW
    ).rows

    overdue = {row.task_id: row.overdue for row in rows}
    assert overdue == {
        past.id: True,
        exactly.id: False,
        future.id: False,
        undated.id: False,
        closed_late.id: False,
    }
    later = inbox_page(session, InboxFilter(team_ids=(team.id,)), after=None, now=NOW + 2 * HOUR)
    assert {r.task_id for r in later.rows if r.overdue} == {past.id, exactly.id, future.id}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sort": "due; DROP TABLE task"}, "unknown sort 'due; DROP TABLE task'; sort by one of"),
        ({"sort": "title"}, "sort by one of due, priority, created"),
        ({"sort": "--due"}, "unknown sort '--due'"),
        ({"status": "open' OR '1'='1"}, "unknown status"),
        ({"limit": 0}, "limit 0 is out of range; give 1 to 200"),
        ({"limit": 201}, "limit 201 is out of range"),
        ({"priority": 9}, "priority 9 is not one of 1, 2, 3, 4"),
        ({"search": "x" * 201}, "at most 200"),
        ({"assignee_id": 1, "unassigned": True}, "not both"),
    ],
)
def test_bad_filters_are_refused_by_name(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BadFilter) as caught:
        InboxFilter(**changes)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_team_ids_may_be_any_sequence() -> None:
    assert InboxFilter(team_ids=[3, 1]).team_ids == (3, 1)  # type: ignore[arg-type]


SPECIAL_TITLES = (
    "Paper 100% jammed",
    "under_score",
    r"back\slash",
    "slash/path",
    "O'Brien's laptop",
    "plain printer",
)


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("%", ["Paper 100% jammed"]),
        ("_", ["under_score"]),
        ("\\", [r"back\slash"]),
        ("/", ["slash/path"]),
        ("'", ["O'Brien's laptop"]),
        ("'; DROP TABLE task; --", []),
        ("x' OR '1'='1", []),
        ("%' OR 1=1 --", []),
        ("printer' --", []),
    ],
)
def test_search_text_is_matched_literally_never_run_as_sql(
    session: Session, make_team, make_task, search: str, found: list[str]
) -> None:
    team = make_team()
    for title in SPECIAL_TITLES:
        make_task(team=team, title=title)

    rows = inbox_page(session, InboxFilter(search=search), after=None, now=NOW).rows

    assert sorted(r.task_title for r in rows) == sorted(found)
    assert session.scalar(select(Task.id).limit(1)) is not None  # the table is still there
    assert inspect(session.connection()).has_table("task")


# ------------------------------------------------------ orders and paging --


@pytest.fixture
def ties(session: Session, make_team, make_task, make_work_item) -> tuple[Team, Team]:
    """Two teams with 26 open tasks sharing few due dates, priorities and creation times."""
    a, b = make_team(), make_team()
    dues = [NOW - HOUR, NOW, NOW + HOUR, None]
    priorities = [2, None, 1, 4]
    created = [NOW - 3 * HOUR, NOW - 2 * HOUR, NOW - 3 * HOUR]
    for n in range(26):
        item = make_work_item(priority=priorities[n % 4], reference=f"T-{n}")
        make_task(
            item=item,
            team=(a, b)[n % 3 == 0],
            due_at=dues[n % 4 if n % 5 else 3],
            created_at=created[n % 3],
        )
    make_task(team=a, due_at=NOW, status="completed")
    return a, b


def expected_order(
    session: Session, teams: list[int] | None, sort: str, search: str | None = None
) -> list[int]:
    """The order ``sort`` means, worked out in Python from every open task."""
    descending, name = sort.startswith("-"), sort.lstrip("-")
    tasks = session.scalars(select(Task).filter_by(status="open")).all()
    tasks = [t for t in tasks if teams is None or t.team_id in teams]
    tasks = [t for t in tasks if search is None or search in t.work_item.reference.lower()]
    value = {
        "due": lambda t: t.due_at,
        "priority": lambda t: t.work_item.priority,
        "created": lambda t: t.created_at,
    }[name]
    valued = sorted(((value(t), t.id) for t in tasks if value(t) is not None), reverse=descending)
    undated = sorted((t.id for t in tasks if value(t) is None), reverse=descending)
    return [task_id for _, task_id in valued] + undated


@pytest.mark.parametrize("sort", ["due", "-due", "priority", "-priority", "created", "-created"])
@pytest.mark.parametrize("scope", ["one team", "two teams", "every team", "searched"])
def test_pages_visit_every_row_once_in_a_total_order(
    session: Session, ties: tuple[Team, Team], sort: str, scope: str
) -> None:
    a, b = ties
    teams = {"one team": [a.id], "two teams": [a.id, b.id]}.get(scope)
    search = "t-1" if scope == "searched" else None  # T-1, T-10 ... T-19
    expected = expected_order(session, teams, sort, search)
    assert len(expected) >= 9

    for limit in (1, 2, 7, 50):
        query = InboxFilter(
            team_ids=None if teams is None else tuple(teams),
            sort=sort,
            limit=limit,
            search=search,
        )
        seen, pages = walk(session, query)
        assert seen == expected, f"limit {limit}"
        assert len(pages) == -(-len(expected) // limit)  # no empty last page
        assert all(len(p.rows) == limit for p in pages[:-1])


def test_undated_tasks_come_last_in_both_directions(session: Session, make_team, make_task) -> None:
    team = make_team()
    undated = [make_task(team=team).id for _ in range(2)]
    early = make_task(team=team, due_at=NOW).id
    late = make_task(team=team, due_at=NOW + HOUR).id

    def order(sort: str) -> list[int]:
        return walk(session, InboxFilter(team_ids=(team.id,), sort=sort, limit=1))[0]

    assert order("due") == [early, late, *undated]
    assert order("-due") == [late, early, *reversed(undated)]


def test_a_page_started_before_changes_neither_skips_nor_repeats(
    session: Session, make_team, make_task
) -> None:
    team = make_team()
    tasks = [make_task(team=team, due_at=NOW + (n // 3) * HOUR) for n in range(9)]
    query = InboxFilter(team_ids=(team.id,), limit=4)
    first = inbox_page(session, query, after=None, now=NOW)
    # the first row is completed and a new, earliest task arrives meanwhile
    tasks[0].status = "completed"
    make_task(team=team, due_at=NOW - HOUR)
    session.flush()

    rest, _ = walk_from(session, query, first.next_cursor)

    assert [r.task_id for r in first.rows] + rest == [t.id for t in tasks]


def walk_from(session: Session, query: InboxFilter, after: str | None) -> tuple[list[int], int]:
    seen, pages = [], 0
    while after is not None:
        page = inbox_page(session, query, after=after, now=NOW)
        seen += [row.task_id for row in page.rows]
        after, pages = page.next_cursor, pages + 1
    return seen, pages


# ----------------------------------------------------------------- cursors --


@pytest.fixture
def cursor(session: Session, make_team, make_task) -> tuple[InboxFilter, str]:
    team = make_team()
    for n in range(5):
        make_task(team=team, due_at=NOW + n * HOUR)
    query = InboxFilter(team_ids=(team.id,), limit=2)
    page = inbox_page(session, query, after=None, now=NOW)
    assert page.next_cursor is not None
    return query, page.next_cursor


def flip(text_: str, at: int) -> str:
    return text_[:at] + ("A" if text_[at] != "A" else "B") + text_[at + 1 :]


def test_a_cursor_leads_to_the_next_page(session: Session, cursor) -> None:
    query, after = cursor
    assert len(inbox_page(session, query, after=after, now=NOW).rows) == 2


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda c: flip(c, 3), id="payload changed"),
        pytest.param(lambda c: flip(c, len(c) - 2), id="signature changed"),
        pytest.param(lambda c: c.split(".")[0], id="signature cut off"),
        pytest.param(lambda c: c[:-5], id="cut short"),
        pytest.param(lambda c: "", id="empty"),
        pytest.param(lambda c: "not a cursor", id="garbage"),
        pytest.param(lambda c: "é.ü", id="not ascii"),
        pytest.param(lambda c: "'; DROP TABLE task; --", id="sql"),
        pytest.param(lambda c: c + "." + c, id="doubled"),
    ],
)
def test_a_damaged_cursor_is_refused(session: Session, cursor, damage) -> None:
    query, after = cursor
    with pytest.raises(BadCursor, match="damaged or was changed; start again from the first page"):
        inbox_page(session, query, after=damage(after), now=NOW)


def test_a_cursor_forged_with_another_key_or_for_another_sort_is_refused(
    session: Session, cursor
) -> None:
    query, after = cursor
    with pytest.raises(BadCursor, match="damaged"):
        inbox_page(session, query, after=after, now=NOW, key=b"another secret")
    other = InboxFilter(team_ids=query.team_ids, limit=2, sort="created")
    with pytest.raises(BadCursor, match="made for sorting by 'due', not 'created'"):
        inbox_page(session, other, after=after, now=NOW)
    assert isinstance(BadCursor("x"), ValueError)


def test_a_cursor_signed_with_the_apps_key_works_only_with_it(session: Session, cursor) -> None:
    query, _ = cursor
    page = inbox_page(session, query, after=None, now=NOW, key=b"app secret")
    assert page.next_cursor is not None
    assert inbox_page(session, query, after=page.next_cursor, now=NOW, key=b"app secret").rows
    with pytest.raises(BadCursor):
        inbox_page(session, query, after=page.next_cursor, now=NOW)


# ------------------------------------------------------------ index usage --


@pytest.fixture
def statements(db_engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(db_engine, "before_cursor_execute", record)
    yield seen
    event.remove(db_engine, "before_cursor_execute", record)


QUEUES = {
    "team queue": (
        lambda team, person: InboxFilter(team_ids=(team,)),
        "ix_task_team_id_status_due_at",
    ),
    "my tasks": (
        lambda team, person: InboxFilter(assignee_id=person),
        "ix_task_assignee_id_status_due_at",
    ),
}


@pytest.mark.parametrize("queue", QUEUES)
def test_queues_walk_the_task_indexes_in_order(
    session: Session, desk, make_task, statements, queue: str
) -> None:
    query, index = QUEUES[queue]
    team, person = desk["team"], desk["ann"]
    for n in range(30):
        make_task(team=team, due_at=NOW + n * HOUR, assignee_id=person.id if n % 2 else None)
    session.commit()
    statements.clear()
    inbox_page(session, query(team.id, person.id), after=None, now=NOW)
    keyset = [(s, p) for s, p in statements if "ORDER BY" in s]
    assert keyset
    connection = session.connection()
    for statement, parameters in keyset:
        if connection.dialect.name == "sqlite":
            found = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = "\n".join(row[-1] for row in found)
            assert "TEMP B-TREE" not in plan, plan
        else:  # a tiny table: make the planner show what it would do with a big one
            connection.execute(text("SET LOCAL enable_seqscan = off"))
            connection.execute(text("SET LOCAL enable_bitmapscan = off"))
            found = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plan = "\n".join(row[0] for row in found)
            assert "Seq Scan" not in plan, plan
        assert index in plan, plan


# ------------------------------------------------------------------ claims --


@pytest.fixture
def desk(session: Session, make_team, make_person, make_task) -> dict[str, Any]:
    team, other_team = make_team(name="Service desk"), make_team(name="Network")
    ann, bob, eve = make_person(name="Ann"), make_person(name="Bob"), make_person(name="Eve")
    member(session, ann, team)
    member(session, bob, team)
    member(session, eve, other_team)
    task = make_task(team=team, title="Reset password", due_at=NOW)
    return {"team": team, "ann": ann, "bob": bob, "eve": eve, "task": task}


def events(session: Session, type_: str) -> list[Event]:
    return list(session.scalars(select(Event).filter_by(type=type_).order_by(Event.id)))


def test_claiming_assigns_the_task_and_records_who(session: Session, pm, desk) -> None:
    task, ann = desk["task"], desk["ann"]

    claimed = claim(session, task.id, ann.id, pm=pm)

    assert claimed.assignee_id == ann.id
    assert claimed.assignee is not None
    assert claimed.assignee.name == "Ann"
    (recorded,) = events(session, "task_claimed")
    assert (recorded.work_item_id, recorded.actor_id, recorded.team_id) == (
        task.work_item_id,
        ann.id,
        desk["team"].id,
    )
    assert recorded.data == {"task": task.id, "step": "triage"}
    claim(session, task.id, ann.id, pm=pm)  # already hers: nothing changes
    assert len(events(session, "task_claimed")) == 1
    mine = inbox_page(session, InboxFilter(assignee_id=ann.id), after=None, now=NOW)
    assert [r.task_id for r in mine.rows] == [task.id]


def test_claims_that_are_not_allowed_say_why(
    session: Session, pm, desk, make_task, make_team
) -> None:
    task, ann, bob, eve = desk["task"], desk["ann"], desk["bob"], desk["eve"]
    claim(session, task.id, ann.id, pm=pm)

    with pytest.raises(
        AlreadyClaimed, match=r"'Reset password'\) is already claimed by Ann"
    ) as info:
        claim(session, task.id, bob.id, pm=pm)
    assert info.value.holder == "Ann"
    with pytest.raises(NotYourTeam, match="queue of team 'Service desk', and person"):
        claim(session, task.id, eve.id, pm=pm)
    nobody = make_task(team=None, title="No queue")
    with pytest.raises(NotYourTeam, match="queue of no team"):
        claim(session, nobody.id, ann.id, pm=pm)
    done = make_task(team=desk["team"], status="completed")
    with pytest.raises(TaskNotOpen, match="is completed; only open tasks can be claimed"):
        claim(session, done.id, ann.id, pm=pm)
    with pytest.raises(TaskNotFound, match="task 999999 does not exist"):
        claim(session, 999_999, ann.id, pm=pm)
    session.refresh(task)
    assert task.assignee_id == ann.id
    assert len(events(session, "task_claimed")) == 1


def test_giving_a_task_back_puts_it_in_the_queue(session: Session, pm, desk) -> None:
    task, ann, bob = desk["task"], desk["ann"], desk["bob"]
    claim(session, task.id, ann.id, pm=pm)

    with pytest.raises(NotYourTask, match="assigned to Ann, not to person"):
        unassign(session, task.id, bob.id, pm=pm)
    back = unassign(session, task.id, ann.id, pm=pm)

    assert back.assignee_id is None
    (recorded,) = events(session, "task_unassigned")
    assert (recorded.actor_id, recorded.data["task"]) == (ann.id, task.id)
    unassign(session, task.id, ann.id, pm=pm)  # nobody holds it: nothing changes
    assert len(events(session, "task_unassigned")) == 1
    queue = InboxFilter(team_ids=(desk["team"].id,), unassigned=True)
    assert page_ids(session, queue) == [task.id]
    claim(session, task.id, bob.id, pm=pm)  # free again for the team
    task.status = "cancelled"
    session.flush()
    with pytest.raises(TaskNotOpen, match="only open tasks can be given back"):
        unassign(session, task.id, bob.id, pm=pm)


def test_a_claim_waits_for_a_concurrent_one_and_loses_to_it(
    session: Session, db_engine: Engine, pm, desk
) -> None:
    task_id, ann, bob = desk["task"].id, desk["ann"].id, desk["bob"].id
    session.commit()
    sessions = make_session_factory(db_engine)
    outcome: dict[str, Any] = {}

    def bob_claims() -> None:
        with sessions() as other:
            try:
                claim(other, task_id, bob, pm=pm)
                other.commit()
                outcome["won"] = True
            except AlreadyClaimed as exc:
                outcome["lost"] = exc

    with sessions() as first:
        claim(first, task_id, ann, pm=pm)  # holds the row until it commits
        second = threading.Thread(target=bob_claims)
        second.start()
        second.join(0.5)
        assert second.is_alive(), "the second claim should wait for the first transaction"
        first.commit()
    second.join(10)

    assert outcome.keys() == {"lost"}
    assert outcome["lost"].holder == "Ann"
    with sessions() as check:
        assert check.get(Task, task_id).assignee_id == ann
        assert len(events(check, "task_claimed")) == 1


def test_of_simultaneous_claims_exactly_one_wins(db_engine: Engine, session: Session, pm, desk):
    ann, bob = desk["ann"].id, desk["bob"].id
    team = desk["team"]
    tasks = [desk["task"].id]
    for n in range(4):
        item = WorkItem(kind="ticket", type="incident", title=f"Race {n}", status="new")
        session.add(item)
        session.flush()
        race = Task(work_item_id=item.id, workflow_id=f"race-{n}", step_id="s", team_id=team.id)
        session.add(race)
        session.flush()
        tasks.append(race.id)
    session.commit()
    sessions = make_session_factory(db_engine)
    names = {ann: "Ann", bob: "Bob"}

    for task_id in tasks:
        start = threading.Barrier(2)
        results: dict[int, str] = {}

        def attempt(person: int, task_id: int = task_id, start=start, results=results) -> None:
            with sessions() as mine:
                start.wait()
                try:
                    claim(mine, task_id, person, pm=pm)
                    mine.commit()
                    results[person] = "won"
                except AlreadyClaimed as exc:
                    results[person] = f"lost to {exc.holder}"

        threads = [threading.Thread(target=attempt, args=(p,)) for p in (ann, bob)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)

        winner = next(p for p, r in results.items() if r == "won")
        loser = bob if winner == ann else ann
        assert results == {winner: "won", loser: f"lost to {names[winner]}"}
        with sessions() as check:
            assert check.get(Task, task_id).assignee_id == winner
    with sessions() as check:
        assert len(events(check, "task_claimed")) == len(tasks)
