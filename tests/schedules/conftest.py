"""Schedules of a workflow name of each test's own, and deploying definitions to a database.

The schedules live on the run's shared Temporal server (``tests/conftest.py``).
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session
from temporalio.client import Client

from engine.db import make_session_factory
from engine.dsl.catalog import Catalog
from engine.dsl.pinning import pinned_hash
from engine.dsl.validate import load_workflow_text
from engine.model import WorkflowDefinition
from engine.runtime.schedules import reconcile


@pytest.fixture
def name() -> str:
    """A workflow name of this test's own, so no test sees another's schedules."""
    return f"patching-{secrets.token_hex(3)}"


@pytest_asyncio.fixture
async def queue(temporal_client: Client) -> AsyncIterator[str]:
    """A task queue; every Tierflow schedule is deleted after the test."""
    yield f"schedules-{secrets.token_hex(4)}"
    await reconcile(temporal_client, "unused", {})


def workflow_yaml(name: str = "patching", schedule: str | None = None) -> str:
    """A small valid workflow; ``schedule`` is the YAML under ``schedule:`` (indented 2)."""
    block = f"schedule:\n{schedule}\n" if schedule else ""
    return (
        f"name: {name}\nkind: maintenance\n{block}"
        "steps:\n  - id: done\n    end: {outcome: completed}\n"
    )


Deploy = Callable[[str], str]


@pytest.fixture
def deploy(db_engine: Engine) -> Deploy:
    """``deploy(source)``: make ``source`` the active version of its workflow; return its hash."""
    sessions = make_session_factory(db_engine)

    def run(source: str) -> str:
        workflow, problems = load_workflow_text(source, "test.yaml", Catalog())
        assert not problems, "\n".join(map(str, problems))
        assert workflow is not None
        digest = pinned_hash(source, "")
        with sessions.begin() as session:
            deactivate(session, workflow.name)
            row = session.scalars(
                select(WorkflowDefinition).filter_by(name=workflow.name, content_hash=digest)
            ).one_or_none()
            if row is None:  # a new version; else an earlier one, deployed again
                row = WorkflowDefinition(
                    name=workflow.name, version="1", content_hash=digest, source=source,
                    shared_forms="", kind=workflow.kind,
                )  # fmt: skip
                session.add(row)
            row.active = True
        return digest

    return run


def deactivate(session: Session, name: str) -> None:
    session.execute(
        update(WorkflowDefinition).where(WorkflowDefinition.name == name).values(active=False)
    )
