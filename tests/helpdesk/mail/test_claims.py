"""Claiming the outbox: several workers at once take each mail once (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from plugins.helpdesk.mail.outbox import Outbox
from tests.helpdesk.mail.conftest import Desk, mail_settings

WORKERS = 4


def fill(desk: Desk, tickets: int) -> None:
    alice = desk.person("alice@example.org")
    for _ in range(tickets):
        desk.ticket(alice)


def test_concurrent_workers_claim_each_mail_once(desk: Desk) -> None:
    fill(desk, 40)
    settings = mail_settings(2525, batch_size=3)
    now = datetime.now(UTC)
    taken: list[int] = []
    lock, start = threading.Lock(), threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker() -> None:
        outbox = Outbox(desk.sessions, settings)
        start.wait()
        try:
            while claimed := outbox.claim(now):
                with lock:
                    taken.extend(mail.id for mail in claimed)
        except BaseException as exc:  # reported below, with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(taken) == sorted(row.id for row in desk.outbox())
    assert Counter(taken).most_common(1)[0][1] == 1
    assert {(row.state, row.attempts) for row in desk.outbox()} == {("sending", 1)}


def test_a_lease_that_runs_out_is_taken_over_and_the_old_claim_is_void(desk: Desk) -> None:
    fill(desk, 1)
    settings = mail_settings(2525, lease_seconds=30)
    now = datetime.now(UTC)
    first, second = Outbox(desk.sessions, settings), Outbox(desk.sessions, settings)
    [mine] = first.claim(now)
    assert second.claim(now + timedelta(seconds=29)) == []  # still leased
    assert first.phase(mine, "data")
    [theirs] = second.claim(now + timedelta(seconds=31))
    assert (theirs.id, theirs.attempt, theirs.resent) == (mine.id, 2, True)
    assert not first.sent(mine, now)  # the first worker's word no longer counts
    assert first.failed(mine, "late", now) == ""
    assert second.sent(theirs, now + timedelta(seconds=32))
    [row] = desk.outbox()
    assert (row.state, row.attempts, row.unconfirmed) == ("sent", 2, 1)
    assert "sent again with the same Message-ID" in row.note


def test_a_lease_lost_before_the_hand_over_is_no_unconfirmed_attempt(desk: Desk) -> None:
    fill(desk, 1)
    settings = mail_settings(2525, lease_seconds=30)
    now = datetime.now(UTC)
    outbox = Outbox(desk.sessions, settings)
    outbox.claim(now)  # the worker died before DATA
    [again] = outbox.claim(now + timedelta(minutes=1))
    assert (again.attempt, again.resent) == (2, False)
    assert outbox.sent(again, now)
    assert desk.outbox()[0].unconfirmed == 0
