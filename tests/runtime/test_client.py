"""Connecting to Temporal and checking its health, against a real dev server."""

from __future__ import annotations

import socket
import time

import pytest
from temporalio.client import Client

from engine.errors import TemporalError
from engine.runtime.client import check_health, connect
from engine.runtime.devserver import EmbeddedTemporal

pytestmark = pytest.mark.slow


async def test_connect_and_health(temporal_server: EmbeddedTemporal) -> None:
    assert temporal_server.address is not None
    client = await connect(temporal_server.address)
    assert client.namespace == "default"
    await check_health(client)


async def test_nothing_listening_fails_fast_with_the_address() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, so nothing listens
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"
    started = time.monotonic()
    with pytest.raises(TemporalError, match=rf"cannot connect to Temporal at {address}.*"):
        await connect(address, timeout=2)
    assert time.monotonic() - started < 3


async def test_an_unknown_namespace_is_named(temporal_server: EmbeddedTemporal) -> None:
    assert temporal_server.address is not None
    with pytest.raises(TemporalError, match=r"no namespace 'no-such-team'.*namespace create"):
        await connect(temporal_server.address, "no-such-team")


async def test_health_check_fails_fast_once_the_server_is_gone(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = EmbeddedTemporal(tmp_path_factory.mktemp("gone"))
    address = await server.start()
    client: Client = await connect(address)
    await check_health(client)
    await server.stop()

    started = time.monotonic()
    with pytest.raises(TemporalError, match=rf"Temporal at {address} is not answering"):
        await check_health(client, timeout=2)
    assert time.monotonic() - started < 3
