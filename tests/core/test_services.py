"""Plugin services start with the worker, show as start-up steps, and stop in reverse."""

from __future__ import annotations

import asyncio
import io

import pytest

from engine.contrib import Service
from engine.errors import PluginError
from engine.hookspecs import hookimpl
from engine.plugins import create_plugin_manager
from engine.progress import Steps
from engine.server import _Running, _stop, start_services


class EchoPlugin:
    """A real TCP echo server on a free loopback port, as a service."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.log: list[str] = []

    @hookimpl
    def tierflow_register_services(self, settings, pm, sessions, client):
        assert (settings, client) == ("the settings", "the client")

        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        async def start() -> str:
            self.server = await asyncio.start_server(echo, "127.0.0.1", 0)
            self.log.append("echo started")
            return f"on port {self.port}"

        async def stop() -> None:
            assert self.server is not None
            self.server.close()
            await self.server.wait_closed()
            self.log.append("echo stopped")

        async def start_other() -> None:
            self.log.append("other started")

        async def stop_other() -> None:
            self.log.append("other stopped")

        return [Service("echo", start, stop), Service("other", start_other, stop_other)]

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]


class BrokenPlugin:
    @hookimpl
    def tierflow_register_services(self):
        async def start() -> None:
            raise OSError(98, "Address already in use")

        async def stop() -> None:
            pass

        return [Service("listener", start, stop)]


async def _start(pm, running: _Running, stream: io.StringIO) -> None:
    await start_services(
        "the settings", pm, sessions=None, client="the client", steps=Steps(stream), running=running
    )


async def test_services_start_serve_and_stop_in_reverse() -> None:
    plugin = EchoPlugin()
    pm = create_plugin_manager(entry_points=False, plugins=[("echo", plugin)])
    running, shown = _Running(), io.StringIO()
    await _start(pm, running, shown)
    assert "Starting echo (echo) … done" in shown.getvalue()
    assert f"on port {plugin.port}" in shown.getvalue()
    reader, writer = await asyncio.open_connection("127.0.0.1", plugin.port)
    writer.write(b"ping\n")
    assert await reader.readline() == b"ping\n"
    writer.close()
    await _stop(running, Steps(io.StringIO()))
    assert plugin.log == ["echo started", "other started", "other stopped", "echo stopped"]


async def test_a_service_that_cannot_start_is_named() -> None:
    pm = create_plugin_manager(entry_points=False, plugins=[("mailer", BrokenPlugin())])
    with pytest.raises(PluginError, match=r"plugin 'mailer' could not start listener: .*in use"):
        await _start(pm, _Running(), io.StringIO())
