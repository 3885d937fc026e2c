"""Too many failed sign-ins lock the account, or the client's address, for a while."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.model import Person, SignInFailure, utcnow
from engine.model.auth import hash_password
from engine.web import throttle
from engine.web.auth import WRONG_CREDENTIALS
from tests.web.conftest import MakeApp
from tests.web.test_auth import PASSWORD, in_db, sessions_of, submit_sign_in

LIMITS = throttle.Limits(per_account=3, per_address=5, window=timedelta(minutes=15))


@pytest.fixture
def app(make_app: MakeApp) -> Starlette:
    return make_app(sign_in_failures_per_account=3, sign_in_failures_per_address=5)


@pytest.fixture
def ann(session: Session, make_person, fast_passwords) -> Person:
    person = make_person(
        email="ann@example.org", roles={"agent"}, password_hash=hash_password(PASSWORD)
    )
    session.commit()
    return person


def failures(app: Starlette) -> int:
    return in_db(app, select(func.count()).select_from(SignInFailure))


def test_the_account_locks_after_its_failures_and_even_the_right_password_waits(
    client: TestClient, app: Starlette, ann: Person
) -> None:
    for _ in range(3):
        reply = submit_sign_in(client, ann.email, "guess")
        assert reply.status_code == 400
        assert WRONG_CREDENTIALS in reply.text

    refused = submit_sign_in(client, "ANN@example.org", PASSWORD)

    assert refused.status_code == 429
    assert "Too many failed sign-ins for this account. Try again in 15 minutes" in refused.text
    assert 890 <= int(refused.headers["retry-after"]) <= 900
    assert sessions_of(app, ann) == 0
    assert failures(app) == 3  # a refused attempt is not checked, so not counted either


def test_failures_spread_over_accounts_lock_the_address(
    client: TestClient, app: Starlette, ann: Person
) -> None:
    for number in range(5):
        assert submit_sign_in(client, f"guess{number}@example.org", "x").status_code == 400

    refused = submit_sign_in(client, ann.email, PASSWORD)

    assert refused.status_code == 429
    assert "Too many failed sign-ins for your address" in refused.text


def test_a_success_clears_the_accounts_failures(
    client: TestClient, app: Starlette, ann: Person
) -> None:
    for _ in range(2):
        submit_sign_in(client, ann.email, "guess")
    assert submit_sign_in(client, ann.email, PASSWORD).status_code == 303
    assert failures(app) == 0


def test_the_lock_opens_when_the_failures_leave_the_window(session: Session, ann: Person) -> None:
    start = utcnow()
    for minute in (0, 1, 2):
        throttle.failed(
            session, LIMITS, ann.email, "10.0.0.1", now=start + timedelta(minutes=minute)
        )
    session.flush()

    at = start + timedelta(minutes=3)
    refused = throttle.locked(session, LIMITS, ann.email, "10.0.0.2", now=at)
    assert refused is not None
    assert refused.retry_after == 12 * 60  # the oldest of the three leaves at minute 15
    assert (
        throttle.locked(session, LIMITS, ann.email, "10.0.0.2", now=start + timedelta(minutes=15))
        is None
    )
    assert throttle.locked(session, LIMITS, "bob@example.org", "10.0.0.2", now=at) is None


def test_old_failures_are_pruned_as_new_ones_are_counted(session: Session, ann: Person) -> None:
    long_ago = utcnow() - timedelta(hours=2)
    throttle.failed(session, LIMITS, ann.email, "10.0.0.1", now=long_ago)
    throttle.failed(session, LIMITS, ann.email, "10.0.0.1")
    session.flush()
    assert session.scalar(select(func.count()).select_from(SignInFailure)) == 1
