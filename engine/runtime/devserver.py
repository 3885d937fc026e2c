"""The embedded Temporal server: ``temporal server start-dev`` as a child of this process.

``tierflow serve`` runs it when no ``TIERFLOW_TEMPORAL_ADDRESS`` is configured.
Its state lives in one SQLite file in the data directory, so workflows survive
restarts. The server listens on loopback only, on free ports picked at start,
with the web UI off. Three things keep it from outliving or fighting us:

- On Linux it is started with ``PR_SET_PDEATHSIG`` = SIGTERM, so the kernel
  stops it if this process dies, even by SIGKILL. It runs in a session of its
  own, so a Ctrl-C in the terminal reaches only this process, which then stops
  everything in order, the server last.
- ``DATA/temporal.lock`` is locked (``flock``) by this process and inherited by
  the server, so it stays locked while either lives. Two servers on one SQLite
  file would corrupt each other's state; a second start on the same directory
  fails with the pid holding it, or waits for a server whose parent is gone to
  exit (stopping it if it is still running).
- :meth:`EmbeddedTemporal.stop` sends SIGTERM, waits, then SIGKILLs.

Its output is appended to ``DATA/temporal.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import functools
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, Self

from engine.errors import ConfigError, TemporalError
from engine.runtime.binaries import temporal_cli_path
from engine.runtime.client import check_health, connect

LOG_LEVELS = ("debug", "info", "warn", "error", "never")

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
_PORT_ATTEMPTS = 5
_POLL_SECONDS = 0.05
_LOCK_POLL_SECONDS = 0.1
_KILL_WAIT_SECONDS = 5.0
_LOG_TAIL_LINES = 15


class EmbeddedTemporal:
    """A Temporal dev server persisted to ``data_dir``, started and stopped by this process.

    ``start()`` must run on a thread that lives as long as the server (the
    event loop's): Linux delivers the parent-death signal when the thread that
    started the child exits, not only the process.

    Use it as ``async with EmbeddedTemporal(path) as server: ... server.address``
    or call :meth:`start` and :meth:`stop` yourself.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        binary: Path | None = None,
        ip: str = "127.0.0.1",
        namespace: str = "default",
        log_level: str = "warn",
    ) -> None:
        if log_level not in LOG_LEVELS:
            raise ConfigError(
                f"Temporal log level: '{log_level}' is not one of {', '.join(LOG_LEVELS)}"
            )
        # Absolute, because the server runs with the data directory as its working directory.
        self.data_dir = Path(data_dir).absolute()
        self.binary = (binary if binary is not None else temporal_cli_path()).absolute()
        self.ip = ip
        self.namespace = namespace
        self.log_level = log_level
        self._process: subprocess.Popen[bytes] | None = None
        self._address: str | None = None
        self._lock_fd: int | None = None

    def __repr__(self) -> str:
        state = f"pid {self.pid} on {self._address}" if self.running else "stopped"
        return f"<EmbeddedTemporal {self.data_dir} {state}>"

    @property
    def db_file(self) -> Path:
        return self.data_dir / "temporal.db"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "temporal.log"

    @property
    def lock_file(self) -> Path:
        return self.data_dir / "temporal.lock"

    @property
    def address_file(self) -> Path:
        """Holds :attr:`address` while the server runs (read by ``tierflow schedules``)."""
        return self.data_dir / "address"

    @property
    def address(self) -> str | None:
        """``host:port`` of the gRPC frontend once :meth:`start` returned, else None."""
        return self._address

    @property
    def pid(self) -> int | None:
        """The server's process id from start until :meth:`stop`, else None."""
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        """Whether the server process is alive (it may still be starting)."""
        return self._process is not None and self._process.poll() is None

    # -- start -----------------------------------------------------------------

    async def start(self, timeout: float = 30) -> str:
        """Start the server and return its address once it answers; raise TemporalError if not.

        ``timeout`` covers everything: waiting for an earlier server on the same
        data directory to exit, starting, and the first successful health check.
        On failure nothing is left running.
        """
        if self._process is not None:
            raise RuntimeError(f"{self!r} was already started")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            await self._lock(deadline)
            for _ in range(_PORT_ATTEMPTS):
                log_offset = self._launch()
                if await self._wait_ready(deadline, timeout, log_offset):
                    assert self._address is not None
                    self.address_file.write_text(self._address + "\n")
                    return self._address
                self._process = None  # it exited because a port was taken: pick others
            raise TemporalError(
                f"the Temporal server found no free ports on {self.ip} after "
                f"{_PORT_ATTEMPTS} attempts; see {self.log_file}"
            )
        except Exception:
            await self.stop()
            raise
        except BaseException:  # cancelled or interrupted: clean up without awaiting
            self._stop_blocking()
            raise

    async def _lock(self, deadline: float) -> None:
        """Take ``DATA/temporal.lock``, waiting for a server whose parent is gone to exit."""
        loop = asyncio.get_running_loop()
        fd = self._lock_fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        signalled: set[int] = set()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass
            else:
                return
            holder = _Holder.read(fd)
            if holder is not None and _alive(holder.server) and _alive(holder.parent):
                owner = (
                    "this process"
                    if holder.parent == os.getpid()
                    else f"another Tierflow process (pid {holder.parent})"
                )
                raise TemporalError(
                    f"{self.db_file} is in use by the Temporal server pid {holder.server} "
                    f"of {owner}; stop that one first, or give this one another data directory"
                )
            if (
                holder is not None
                and holder.server not in signalled
                and _alive(holder.server)
                and _runs_dev_server_on(holder.server, self.db_file)
            ):
                # Left behind by a Tierflow that died; it owns our database, stop it.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(holder.server, signal.SIGTERM)
                signalled.add(holder.server)
            if loop.time() >= deadline:
                who = f"pid {holder.server}" if holder else "another process"
                raise TemporalError(
                    f"{self.db_file} is still locked by {who} (see {self.lock_file}); "
                    f"if no Tierflow is running on {self.data_dir}, stop that process and retry"
                )
            await asyncio.sleep(_LOCK_POLL_SECONDS)

    def _launch(self) -> int:
        """Start the server process on fresh ports; return where its output starts in the log."""
        assert self._lock_fd is not None
        port, http_port, metrics_port = _free_ports(self.ip, 3)
        args = [
            str(self.binary),
            "server",
            "start-dev",
            "--disable-config-file",
            "--disable-config-env",
            "--ip", self.ip,
            "--port", str(port),
            "--headless",
            "--http-port", str(http_port),
            "--metrics-port", str(metrics_port),
            "--log-level", self.log_level,
            "--namespace", self.namespace,
            "--db-filename", str(self.db_file),
            # Without these two the server is bound by SQLite writes (../shared/TEMPORAL.md).
            "--sqlite-pragma", "journal_mode=wal",
            "--sqlite-pragma", "synchronous=normal",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            header = f"\n--- {stamp} tierflow (pid {os.getpid()}) runs: {shlex.join(args)}\n"
            log.write(header.encode())
            log.flush()
            offset = log.tell()
            try:
                self._process = subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.data_dir,
                    pass_fds=(self._lock_fd,),
                    start_new_session=True,
                    preexec_fn=_die_with_parent(),  # noqa: PLW1509 (prctl + getppid only)
                )
            except (OSError, subprocess.SubprocessError) as exc:
                raise TemporalError(f"cannot run {self.binary}: {exc}") from exc
        _Holder(server=self._process.pid, parent=os.getpid()).write(self._lock_fd)
        self._address = _client_address(self.ip, port)
        return offset

    async def _wait_ready(self, deadline: float, timeout: float, log_offset: int) -> bool:
        """Wait until the server answers; False if it exited because a port was taken."""
        assert self._process is not None
        assert self._address is not None
        loop = asyncio.get_running_loop()
        while True:
            returncode = self._process.poll()
            if returncode is not None:
                output = self._log_since(log_offset)
                if "address already in use" in output:
                    return False
                raise TemporalError(
                    f"the Temporal server exited with code {returncode} while starting; "
                    f"the end of {self.log_file}:\n{_tail(output)}"
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TemporalError(
                    f"the Temporal server (pid {self._process.pid}) did not answer on "
                    f"{self._address} within {timeout:g} s; the end of {self.log_file}:\n"
                    f"{_tail(self._log_since(log_offset))}"
                )
            try:
                client = await connect(self._address, self.namespace, timeout=min(remaining, 2))
                await check_health(client, timeout=min(remaining, 2))
            except TemporalError:
                await asyncio.sleep(_POLL_SECONDS)
            else:
                return True

    def _log_since(self, offset: int) -> str:
        try:
            with self.log_file.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        except OSError as exc:
            return f"(cannot read {self.log_file}: {exc.strerror})"

    # -- stop ------------------------------------------------------------------

    async def stop(self, timeout: float = 10) -> None:
        """Stop the server: SIGTERM, up to ``timeout`` seconds to exit, then SIGKILL.

        Safe to call at any time, any number of times.
        """
        if self._address is not None:  # only ours: a start refused by the lock wrote nothing
            self.address_file.unlink(missing_ok=True)
        process = self._process
        if process is not None:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                if not await _exited(process, timeout):
                    process.kill()
                    if not await _exited(process, _KILL_WAIT_SECONDS):
                        raise TemporalError(
                            f"the Temporal server (pid {process.pid}) did not exit after SIGKILL"
                        )
            self._process = None
        self._address = None
        self._unlock()

    def _stop_blocking(self) -> None:
        """Stop without the event loop (used when start() is cancelled)."""
        if self._address is not None:
            self.address_file.unlink(missing_ok=True)
        process, self._process, self._address = self._process, None, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(_KILL_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._unlock()

    def _unlock(self) -> None:
        # Closing our descriptor releases the lock once the server's copy is gone too.
        # The file itself stays: deleting a lock file races with the next locker.
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


class _Holder(NamedTuple):
    """Who holds the lock file: the server's pid and the pid of the process that started it."""

    server: int
    parent: int

    def write(self, fd: int) -> None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{self.server} {self.parent}\n".encode(), 0)

    @classmethod
    def read(cls, fd: int) -> _Holder | None:
        try:
            server, parent = os.pread(fd, 64, 0).split()
            return cls(int(server), int(parent))
        except ValueError:  # empty (being written) or not ours
            return None


def _free_ports(ip: str, count: int) -> list[int]:
    """``count`` distinct ports free on ``ip`` right now (the caller retries if one gets taken)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with contextlib.ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.socket(family, socket.SOCK_STREAM)) for _ in range(count)
        ]
        for sock in sockets:
            sock.bind((ip, 0))
        return [sock.getsockname()[1] for sock in sockets]


def _client_address(ip: str, port: int) -> str:
    """Where a client on this machine reaches a server bound to ``ip``."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(ip, ip)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@functools.cache
def _prctl() -> Callable[..., int]:
    function = ctypes.CDLL(None, use_errno=True).prctl
    function.argtypes = (ctypes.c_int, *[ctypes.c_ulong] * 4)
    function.restype = ctypes.c_int
    return function


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGTERM when this process dies (Linux only).

    It runs between fork and exec, so it only calls prctl(2) and getppid(2),
    both looked up before the fork.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = _prctl()
    sigterm = int(signal.SIGTERM)
    parent = os.getpid()

    def preexec() -> None:
        if prctl(_PR_SET_PDEATHSIG, sigterm, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


async def _exited(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``process`` to exit (and reap it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while process.poll() is None:
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL_SECONDS)
    return True


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (macOS), or it just exited
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def _runs_dev_server_on(pid: int, db_file: Path) -> bool:
    """Whether ``pid`` is a ``temporal server start-dev`` on ``db_file`` (Linux; else False)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return "start-dev" in args and str(db_file) in args


def _tail(text: str) -> str:
    lines = text.strip().splitlines()[-_LOG_TAIL_LINES:]
    return "\n".join(f"  {line}" for line in lines) if lines else "  (no output)"
