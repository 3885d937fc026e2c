"""Fixtures for the runtime tests: one embedded Temporal server for the session, a client,
and a fresh task queue per test.

Every async test in this directory runs on the session's event loop, the loop
the shared server and client were made on.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from pytest_asyncio import is_async_test
from temporalio.client import Client

from engine.runtime.client import connect
from engine.runtime.devserver import EmbeddedTemporal

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    session_loop = pytest.mark.asyncio(loop_scope="session")
    for item in items:
        if item.path.is_relative_to(_HERE) and is_async_test(item):
            item.add_marker(session_loop, append=False)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[EmbeddedTemporal]:
    """An embedded Temporal server shared by the runtime tests; stopped at the end."""
    async with EmbeddedTemporal(tmp_path_factory.mktemp("temporal")) as server:
        yield server


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def temporal_client(temporal_server: EmbeddedTemporal) -> Client:
    assert temporal_server.address is not None
    return await connect(temporal_server.address)


@pytest.fixture
def task_queue(request: pytest.FixtureRequest) -> str:
    """A task queue no other test uses, named after the test for readable server logs."""
    return f"{request.node.name}-{uuid.uuid4().hex[:8]}"
