"""The web server's listening socket: every connection it accepts sends without delay."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from engine.config import Settings
from engine.server import _bind
from tests.procs import free_port


async def test_accepted_connections_have_tcp_nodelay(tmp_path: Path) -> None:
    port = free_port()
    sock = _bind(Settings(data_dir=tmp_path, web_host="127.0.0.1", web_port=port))
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accepted(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(accepted, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(seen, 5) != 0
        writer.close()
