"""A fresh task queue per runtime test; the Temporal server is the run's (tests/conftest.py)."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def task_queue(request: pytest.FixtureRequest) -> str:
    """A task queue no other test uses, named after the test for readable server logs."""
    return f"{request.node.name}-{uuid.uuid4().hex[:8]}"
