"""The sign-in throttle: too many failed sign-ins lock an e-mail, or an address, for a while.

Failures are rows of :class:`~engine.model.SignInFailure`, so every web process
counts the same ones. An e-mail with ``sign_in_failures_per_account`` failures
within ``sign_in_window_minutes`` is refused until the oldest of them leaves the
window; so is a client address with ``sign_in_failures_per_address`` (one
address guessing many accounts). A refused attempt is not checked at all: the
password is never compared, so guessing gains nothing. A successful sign-in
clears that e-mail's failures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.config import Settings
from engine.model import SignInFailure, utcnow

MAX_ADDRESS = 64


@dataclass(frozen=True)
class Limits:
    """How many failures are allowed within ``window``, per e-mail and per address."""

    per_account: int
    per_address: int
    window: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            per_account=settings.sign_in_failures_per_account,
            per_address=settings.sign_in_failures_per_address,
            window=timedelta(minutes=settings.sign_in_window_minutes),
        )


@dataclass(frozen=True)
class Locked:
    """A refusal: why, and how many seconds until an attempt is counted again."""

    message: str
    retry_after: int


def locked(
    db: Session, limits: Limits, email: str, address: str, now: datetime | None = None
) -> Locked | None:
    """The refusal for a sign-in as ``email`` from ``address``, or ``None`` to go ahead."""
    now = now or utcnow()
    since = now - limits.window
    checks = (
        (SignInFailure.email == email.strip().lower(), limits.per_account, "this account"),
        (SignInFailure.address == address[:MAX_ADDRESS], limits.per_address, "your address"),
    )
    for where, allowed, whom in checks:
        # locked while ``allowed`` failures lie in the window: until the allowed-th latest leaves it
        latest = db.scalars(
            select(SignInFailure.failed_at)
            .where(where, SignInFailure.failed_at > since)
            .order_by(SignInFailure.failed_at.desc())
            .offset(allowed - 1)
            .limit(1)
        ).first()
        if latest is not None:
            seconds = max(1, math.ceil((latest + limits.window - now).total_seconds()))
            minutes = math.ceil(seconds / 60)
            return Locked(
                f"Too many failed sign-ins for {whom}. Try again in {minutes} "
                f"minute{'s' if minutes != 1 else ''}, or ask an administrator to set a new "
                "password.",
                seconds,
            )
    return None


def failed(
    db: Session, limits: Limits, email: str, address: str, now: datetime | None = None
) -> None:
    """Count a failed sign-in (and forget failures older than the window). The caller commits."""
    now = now or utcnow()
    db.execute(delete(SignInFailure).where(SignInFailure.failed_at <= now - limits.window))
    db.add(
        SignInFailure(email=email.strip().lower()[:320], address=address[:MAX_ADDRESS],
                      failed_at=now)
    )  # fmt: skip


def succeeded(db: Session, email: str) -> None:
    """Forget ``email``'s failures after it signed in. The caller commits."""
    db.execute(delete(SignInFailure).where(SignInFailure.email == email.strip().lower()))
