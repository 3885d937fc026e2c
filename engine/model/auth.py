"""Credentials: password hashes, web sessions and personal API tokens.

Nothing secret is stored as given. Passwords are argon2 hashes
(:data:`PASSWORDS`; a hash made with older parameters is replaced at the next
sign-in). Session ids and API tokens are random, shown to their owner once and
stored as their SHA-256 (:func:`digest`): they carry 256 bits of entropy, so a
fast hash is enough, and a leaked table signs nobody in.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ForeignKey, Index, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.model.base import Base, CreatedAtMixin, IdMixin, utcnow
from engine.model.people import Person

PASSWORDS = PasswordHasher()
"""The argon2 hasher (argon2-cffi's recommended parameters); rebind it to change them."""

TOKEN_PREFIX = "tf_"
"""API tokens start with this, so a leaked one is easy to recognise (secret scanners)."""


@functools.cache
def _unusable_hash() -> str:
    """Verified against when nobody has the e-mail given: that takes as long as a wrong password."""
    return PASSWORDS.hash(secrets.token_urlsafe(16))


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a session id or API token is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    """The argon2 hash of ``password``, to store in ``Person.password_hash``."""
    return PASSWORDS.hash(password)


def check_password(person: Person | None, password: str) -> bool:
    """Whether ``password`` is ``person``'s; rehashes it when the parameters changed.

    ``person`` may be ``None`` (no such e-mail) or have no password: the answer is
    then ``False`` after as much work as a real check, so timing tells nothing.
    The caller commits (a rehash changes ``person.password_hash``).
    """
    stored = person.password_hash if person is not None else None
    try:
        PASSWORDS.verify(stored or _unusable_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    if person is None or stored is None:
        return False
    if PASSWORDS.check_needs_rehash(stored):
        person.password_hash = PASSWORDS.hash(password)
    return True


class WebSession(CreatedAtMixin, Base):
    """A signed-in browser. ``key`` is the SHA-256 of the id in its ``tierflow_session`` cookie.

    A session ends when its person signs out, is disabled or changes password,
    after ``session_idle_minutes`` without a request (``last_seen_at``, written
    at most once a minute) and ``session_absolute_hours`` after sign-in.
    """

    __tablename__ = "web_session"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    user_agent: Mapped[str] = mapped_column(String(300), default="")

    def __repr__(self) -> str:
        return f"<WebSession person={self.person_id} since {self.created_at:%Y-%m-%d %H:%M}>"


class ApiToken(IdMixin, CreatedAtMixin, Base):
    """A personal API token (``Authorization: Bearer tf_…``), acting as its person.

    ``name`` says what it is for (``laptop``, ``monitoring``); ``last_used_at``
    is written at most once a minute. Revoked tokens are kept for the record.
    """

    __tablename__ = "api_token"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(default=False)

    def __repr__(self) -> str:
        state = " revoked" if self.revoked else ""
        return f"<ApiToken {self.id} {self.name!r} person={self.person_id}{state}>"


class SignInFailure(IdMixin, Base):
    """A failed sign-in: which e-mail was tried, from which address, when.

    What the sign-in throttle counts (:mod:`engine.web.throttle`); a success
    clears the e-mail's failures and rows older than the window are pruned.
    Kept in the database so that every web process sees the same count.
    """

    __tablename__ = "sign_in_failure"
    __table_args__ = (Index(None, "email", "failed_at"), Index(None, "address", "failed_at"))

    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(64))
    failed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    def __repr__(self) -> str:
        return f"<SignInFailure {self.email} from {self.address} at {self.failed_at:%H:%M:%S}>"


def start_session(db: Session, person_id: int, *, user_agent: str = "") -> str:
    """Record a new session for ``person_id``; return its id (the cookie value), fresh each time."""
    raw = secrets.token_urlsafe(32)
    db.add(WebSession(key=digest(raw), person_id=person_id, user_agent=user_agent[:300]))
    db.flush()
    return raw


def end_session(db: Session, raw: str) -> None:
    """End the session whose cookie value is ``raw`` (nothing happens if it has ended already)."""
    db.execute(delete(WebSession).where(WebSession.key == digest(raw)))


def end_sessions_of(db: Session, person_id: int) -> int:
    """End every session of ``person_id``; return how many there were."""
    result = db.execute(delete(WebSession).where(WebSession.person_id == person_id))
    return result.rowcount or 0


def issue_token(db: Session, person_id: int, name: str) -> str:
    """Create an API token named ``name`` for ``person_id``; return it (only its hash is kept)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.add(ApiToken(token_hash=digest(raw), person_id=person_id, name=name))
    db.flush()
    return raw
