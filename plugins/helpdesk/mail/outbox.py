"""The outbox's state changes: claiming due mails, recording each attempt's outcome, retrying.

Claiming is one guarded ``UPDATE`` per row (``... WHERE id = :id AND <still
due>``): whichever worker's update matches a row owns it, on SQLite (writers
take turns) and on PostgreSQL, where candidates are first read ``FOR UPDATE
SKIP LOCKED`` so that workers do not queue behind each other. A claim gives
the row a random ``claim`` token and a lease; every later write about that
attempt names the token, so a worker whose lease ran out (and whose row
another worker took over) cannot overwrite what the new owner records.

A row whose lease ran out is due again. If its last attempt had reached the
``data`` phase (the message was being handed to the server), nobody knows
whether the server took it: the row counts one ``unconfirmed`` attempt and
is sent again with the same Message-ID and the same bytes.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from plugins.helpdesk.mail.models import OutboxMail
from plugins.helpdesk.mail.settings import MailSettings

RETRYABLE = frozenset({"queued", "failed"})
"""States an admin's "retry now" applies to."""


@dataclass(frozen=True)
class Claimed:
    """A mail a worker owns for one attempt (plain values: no session is kept open)."""

    id: int
    claim: str
    work_item_id: int
    kind: str
    attempt: int
    to_address: str
    to_name: str
    context: dict[str, Any]
    message_key: str
    message_id: str | None
    message: str | None
    resent: bool
    """The previous attempt handed the message over and was never confirmed."""


def _due(now: datetime, hold: timedelta) -> Any:
    return or_(
        and_(
            OutboxMail.state == "queued",
            OutboxMail.next_attempt_at <= now,
            or_(OutboxMail.held.is_(False), OutboxMail.created_at <= now - hold),
        ),
        and_(OutboxMail.state == "sending", OutboxMail.lease_until < now),
    )


class Outbox:
    """Claims and outcomes, each in a short transaction of its own."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: MailSettings,
        *,
        jitter: random.Random | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.jitter = jitter or random.Random()

    def claim(self, now: datetime, limit: int | None = None) -> list[Claimed]:
        """Take up to ``limit`` (``batch_size``) due mails for one attempt each."""
        due = _due(now, timedelta(seconds=self.settings.hold_seconds))
        token = secrets.token_hex(16)
        with self.sessions.begin() as session:
            candidates = (
                select(OutboxMail.id)
                .where(due)
                .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
                .limit(limit or self.settings.batch_size)
            )
            if session.get_bind().dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True)
            taken = [
                row_id
                for row_id in session.scalars(candidates).all()
                if session.execute(self._take(row_id, due, token, now)).rowcount == 1
            ]
            rows = session.scalars(
                select(OutboxMail).where(OutboxMail.id.in_(taken)).order_by(OutboxMail.id)
            ).all()
            return [_claimed(row) for row in rows]

    def _take(self, row_id: int, due: Any, token: str, now: datetime) -> Any:
        handed_over = and_(OutboxMail.state == "sending", OutboxMail.phase == "data")
        return (
            update(OutboxMail)
            .where(OutboxMail.id == row_id, due)
            .values(
                state="sending",
                claim=token,
                lease_until=now + timedelta(seconds=self.settings.lease_seconds),
                attempts=OutboxMail.attempts + 1,
                unconfirmed=OutboxMail.unconfirmed + case((handed_over, 1), else_=0),
                phase=case((handed_over, "resend"), else_=None),
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )

    def _mine(self, session: Session, mail: Claimed) -> OutboxMail | None:
        row = session.scalars(
            select(OutboxMail)
            .where(OutboxMail.id == mail.id, OutboxMail.claim == mail.claim)
            .with_for_update()
        ).one_or_none()
        return row if row is not None and row.state == "sending" else None

    def prepare(self, mail: Claimed, *, message_id: str, subject: str, message: str) -> bool:
        """Store the rendered message (first attempt only). ``False``: the claim was lost."""
        with self.sessions.begin() as session:
            row = self._mine(session, mail)
            if row is None:
                return False
            if row.message is None:
                row.message_id, row.subject, row.message = message_id, subject, message
            return True

    def phase(self, mail: Claimed, phase: str) -> bool:
        """Record how far the attempt got (``data``: handing over). ``False``: claim lost."""
        with self.sessions.begin() as session:
            row = self._mine(session, mail)
            if row is None:
                return False
            row.phase = phase
            return True

    def sent(self, mail: Claimed, now: datetime) -> bool:
        """The server accepted the message. ``False``: the claim was lost meanwhile."""
        with self.sessions.begin() as session:
            row = self._mine(session, mail)
            if row is None:
                return False
            row.state, row.sent_at, row.claim, row.lease_until = "sent", now, None, None
            row.phase, row.last_error = None, ""
            if row.unconfirmed:
                row.note = (
                    f"{row.unconfirmed} earlier attempt(s) were cut off while handing the message "
                    "over; it was sent again with the same Message-ID, so the recipient may hold "
                    "two copies of one message"
                )
            return True

    def failed(self, mail: Claimed, error: str, now: datetime, *, permanent: bool = False) -> str:
        """Record a failed attempt: back to ``queued`` after a backoff, or ``failed`` for good.

        Returns the row's new state (``""`` if the claim was lost).
        """
        with self.sessions.begin() as session:
            row = self._mine(session, mail)
            if row is None:
                return ""
            row.last_error, row.claim, row.lease_until, row.phase = error[:2000], None, None, None
            if permanent or row.attempts >= self.settings.max_attempts:
                row.state = "failed"
            else:
                row.state = "queued"
                row.next_attempt_at = now + timedelta(seconds=self.backoff(row.attempts))
            return row.state

    def backoff(self, attempts: int) -> float:
        """Seconds before attempt ``attempts + 1``: doubling from the base, capped, ±20 % jitter."""
        base = self.settings.retry_base_seconds * 2 ** min(attempts - 1, 30)
        return min(base, self.settings.retry_max_seconds) * self.jitter.uniform(0.8, 1.2)

    def thread_of(self, mail: Claimed) -> str | None:
        """The Message-ID of the ticket's first mail (not this one), to thread this one under."""
        with self.sessions() as session:
            first = session.execute(
                select(OutboxMail.id, OutboxMail.message_id, OutboxMail.message_key)
                .where(
                    OutboxMail.work_item_id == mail.work_item_id,
                    OutboxMail.state.not_in(("skipped", "merged")),
                )
                .order_by(OutboxMail.id)
                .limit(1)
            ).one_or_none()
        if first is None or first.id == mail.id:
            return None
        return first.message_id or f"<{first.message_key}@{self.settings.domain}>"


def retry_now(session: Session, row_id: int, now: datetime) -> bool:
    """An admin's "retry now": a failed or waiting mail is due at once, with fresh attempts.

    ``False`` when the row is not in a state that can be retried (sent,
    sending, skipped, merged) or does not exist.
    """
    row = session.get(OutboxMail, row_id, with_for_update=True)
    if row is None or row.state not in RETRYABLE:
        return False
    row.state, row.next_attempt_at, row.attempts, row.held = "queued", now, 0, False
    return True


def _claimed(row: OutboxMail) -> Claimed:
    assert row.claim is not None
    return Claimed(
        id=row.id,
        claim=row.claim,
        work_item_id=row.work_item_id,
        kind=row.kind,
        attempt=row.attempts,
        to_address=row.to_address,
        to_name=row.to_name,
        context=dict(row.context),
        message_key=row.message_key,
        message_id=row.message_id,
        message=row.message,
        resent=row.phase == "resend",
    )
