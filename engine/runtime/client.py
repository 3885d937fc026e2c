"""Connecting to Temporal, and asking whether it is up.

Both functions turn every way the SDK can fail (a refused connection, an
unknown namespace, a timeout) into one :class:`engine.errors.TemporalError`
that names the address and says what to do.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from engine.errors import TemporalError

_FIX = (
    "is a Temporal server running there? Set TIERFLOW_TEMPORAL_ADDRESS to its host:port, "
    "or unset it to let 'tierflow serve' start the embedded server"
)
# Extra seconds allowed on top of the RPC's own deadline before asyncio gives up on it.
_GRACE = 1.0


async def connect(address: str, namespace: str = "default", *, timeout: float = 10) -> Client:
    """Connect to the Temporal frontend at ``address`` (``host:port``) and check ``namespace``.

    Returns a client once the server has answered and the namespace exists, so a
    typo in either is reported here rather than later by a worker that never
    receives a task. Raises :class:`TemporalError` when that does not happen
    within ``timeout`` seconds.
    """
    try:
        async with asyncio.timeout(timeout + _GRACE):
            client = await Client.connect(
                address, namespace=namespace, connect_timeout=timedelta(seconds=timeout)
            )
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace), timeout=timedelta(seconds=timeout)
            )
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise TemporalError(
                f"Temporal at {address} has no namespace '{namespace}'; create it with "
                f"'temporal operator namespace create --address {address} {namespace}' "
                f"or set TIERFLOW_TEMPORAL_NAMESPACE to an existing one"
            ) from exc
        raise TemporalError(f"cannot connect to Temporal at {address}: {exc}; {_FIX}") from exc
    except TimeoutError as exc:  # before OSError, of which it is a subclass
        raise TemporalError(
            f"cannot connect to Temporal at {address}: no answer within {timeout:g} s; {_FIX}"
        ) from exc
    except (RuntimeError, OSError) as exc:  # the SDK reports a failed connect as RuntimeError
        raise TemporalError(f"cannot connect to Temporal at {address}: {exc}; {_FIX}") from exc
    return client


async def check_health(client: Client, timeout: float = 2) -> None:
    """Return when the server behind ``client`` answers its health check within ``timeout`` s.

    Raises :class:`TemporalError` otherwise. It does not retry, so it returns
    quickly when the server is down (a refused connection fails at once; a
    server that hangs is given ``timeout`` seconds): fit for ``GET /healthz``.
    """
    address = client.service_client.config.target_host
    try:
        async with asyncio.timeout(timeout + _GRACE):
            serving = await client.service_client.check_health(
                retry=False, timeout=timedelta(seconds=timeout)
            )
    except RPCError as exc:
        raise TemporalError(f"Temporal at {address} is not answering: {exc}") from exc
    except TimeoutError as exc:
        raise TemporalError(
            f"Temporal at {address} is not answering: no reply within {timeout:g} s"
        ) from exc
    if not serving:
        raise TemporalError(f"Temporal at {address} answered, but its workflow service is down")
