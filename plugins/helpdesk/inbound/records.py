"""A mail's record and the claim one delivery holds on it while it works.

The same mail (Message-ID, sender and content fingerprint) has one record;
two deliveries of it at the same moment (a mail server retrying after a
timeout, or SMTP and IMAP together) must not both work on it. :func:`claim`
therefore takes the record in one conditional UPDATE: ``pending`` becomes
``taking`` with a random lease token and an expiry (:data:`LEASE`); a second
delivery finds a live lease and is told to try later (:class:`InProgress`,
SMTP ``451``), or a settled record and changes nothing but its count of
deliveries. Every later write names the token, so a delivery whose lease
expired and was taken over writes nothing. A settled reply whose signal is
still ``due`` (recorded, not yet known to be delivered) is claimed again by
the next delivery, to deliver it.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm import Session

from engine.comments import MAX_COMMENT
from engine.errors import TierflowError
from plugins.helpdesk.inbound.models import InboundMessage
from plugins.helpdesk.inbound.parse import Mail

LEASE = timedelta(minutes=5)
"""How long a delivery may hold a record before another may take it over (a crash)."""
M = InboundMessage


class TryLater(TierflowError):
    """The mail cannot be taken now; nothing is lost, it is taken when it comes again."""


class InProgress(TryLater):
    """Another delivery of the same mail is working on it right now."""


class Settled(Exception):
    """The claim was lost (it expired and another delivery took over): roll back."""


@dataclass(frozen=True)
class Result:
    """What became of a mail: its record's outcome and reason, and the ticket it went to."""

    outcome: str
    reason: str
    record_id: int
    work_item_id: int | None = None
    duplicate: bool = False


@dataclass(frozen=True)
class Claim:
    """A record this delivery holds: write to it only with :attr:`token`."""

    record_id: int
    token: str
    redeliver: bool = False
    """A settled reply whose signal is still to be delivered."""
    reused: bool = False


def result(row: InboundMessage, *, duplicate: bool = False) -> Result:
    return Result(row.outcome, row.reason, row.id, row.work_item_id, duplicate)


def claim(
    db: Session, mail: Mail, transport: str, envelope_sender: str, now: datetime
) -> Claim | Result | InProgress:
    """Record ``mail`` (or count a delivery of its record) and claim it; the record's
    :class:`Result` when it is settled; :class:`InProgress` (to raise once the count is
    committed) while another delivery holds it."""
    sender = mail.sender or envelope_sender[:320]
    found = db.scalars(
        select(M).filter_by(message_id=mail.message_id, sender=sender, fingerprint=mail.fingerprint)
    ).first()
    token = secrets.token_hex(16)
    if found is None:
        reused = db.scalars(select(M.id).filter_by(message_id=mail.message_id)).first()
        row = M(
            message_id=mail.message_id, transport=transport, sender=sender,
            sender_name=mail.sender_name, subject=mail.subject, size=mail.size,
            outcome="taking", claim_token=token, claim_expires=now + LEASE,
            fingerprint=mail.fingerprint, reused=reused is not None, headers=mail.summary,
            body_text=mail.text[:MAX_COMMENT * 5], body_html=mail.html[:MAX_COMMENT * 10],
        )  # fmt: skip
        db.add(row)
        db.flush()
        return Claim(row.id, token, reused=row.reused)
    db.execute(update(M).where(M.id == found.id).values(deliveries=M.deliveries + 1))
    open_ = or_(M.outcome.in_(("pending", "taking")), M.signal_state == "due")
    if take(db, found.id, token, now, open_):
        db.refresh(found)
        return Claim(found.id, token, redeliver=found.signal_state == "due", reused=found.reused)
    db.refresh(found)
    if found.outcome in ("pending", "taking") or found.signal_state == "due":
        return InProgress(f"another delivery of {mail.message_id[:100]} is being taken now")
    return result(found, duplicate=True)


def take(db: Session, record_id: int, token: str, now: datetime, condition: object) -> bool:
    """Claim record ``record_id`` if ``condition`` holds and no live lease is on it."""
    done = db.execute(
        update(M)
        .where(
            M.id == record_id,
            condition,  # type: ignore[arg-type]
            or_(M.claim_token.is_(None), M.claim_expires < now),
        )
        .values(
            claim_token=token,
            claim_expires=now + LEASE,
            outcome=case((M.outcome == "pending", "taking"), else_=M.outcome),
        )
    )
    return done.rowcount == 1  # type: ignore[attr-defined]


def settle(
    db: Session,
    held: Claim,
    outcome: str,
    reason: str,
    item_id: int | None = None,
    *,
    signal_due: bool = False,
) -> Result:
    """Write the outcome (and let the claim go, unless a signal is still ``due``)."""
    values: dict[str, object] = {"outcome": outcome, "reason": reason[:500]}
    if item_id is not None:
        values["work_item_id"] = item_id
    if signal_due:
        values["signal_state"] = "due"
    else:
        values |= {"claim_token": None, "claim_expires": None}
    _write(db, held, values)
    return Result(outcome, reason[:500], held.record_id, item_id)


def signal_done(db: Session, held: Claim, state: str, **values: object) -> None:
    """The reply's signal was delivered (``sent``), or could not be (``ended``): let go."""
    _write(db, held, {"signal_state": state, "claim_token": None, "claim_expires": None, **values})


def _write(db: Session, held: Claim, values: dict[str, object]) -> None:
    done = db.execute(
        update(M).where(M.id == held.record_id, M.claim_token == held.token).values(**values)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Settled


def release(db: Session, held: Claim, reason: str) -> None:
    """Let the claim go for a later delivery: ``taking`` is ``pending`` again, with why."""
    db.execute(
        update(M)
        .where(M.id == held.record_id, M.claim_token == held.token)
        .values(
            claim_token=None,
            claim_expires=None,
            reason=case((M.outcome == "taking", reason[:500]), else_=M.reason),
            outcome=case((M.outcome == "taking", "pending"), else_=M.outcome),
        )
    )
