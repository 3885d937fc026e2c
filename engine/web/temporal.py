"""The web app's link to Temporal: a client made once, lazily, and re-made after a failure."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from temporalio.client import Client

from engine.runtime.client import check_health, connect


class TemporalLink:
    """Gives the web app a Temporal client.

    ``tierflow serve`` hands over the client it already has; ``tierflow web``
    gives an address and the link connects on first use, so the web app starts
    (and ``/healthz`` can say what is wrong) even while Temporal is down.
    """

    def __init__(
        self, *, client: Client | None = None, address: str = "", namespace: str = "default"
    ) -> None:
        self._client = client
        self.address = address
        self.namespace = namespace
        self._lock = asyncio.Lock()

    async def client(self, *, timeout: float = 5) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await connect(self.address, self.namespace, timeout=timeout)
        return self._client

    async def check(self, *, timeout: float = 2) -> None:
        """Raise :class:`engine.errors.TemporalError` unless Temporal answers within ``timeout``."""
        client = await self.client(timeout=timeout)
        await check_health(client, timeout=timeout)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
