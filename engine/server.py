"""Runs Tierflow's processes: ``serve`` (everything), ``worker`` and ``web`` (one part each).

Every step is shown as it happens. On SIGINT/SIGTERM everything this process
started is stopped in reverse order, the embedded Temporal server last, so no
process is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import uvicorn
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette
from temporalio.client import Client

from engine.config import Settings, ensure_data_dir, secret_key
from engine.contrib import Service
from engine.db import create_db_engine, make_session_factory, ping, redact
from engine.demo import DemoHistory, DemoOptions, DemoRun, load_demo_data
from engine.errors import ConfigError, PluginError, TierflowError
from engine.migrate import upgrade
from engine.plugins import PluginManager, load_models, migration_branches
from engine.progress import Steps
from engine.runtime.activities import worker_activities
from engine.runtime.client import connect
from engine.runtime.devserver import EmbeddedTemporal
from engine.runtime.interpreter import Interpreter
from engine.runtime.schedules import start_sync
from engine.runtime.worker import build_worker
from engine.web.app import create_app
from engine.web.temporal import TemporalLink
from engine.workflows import deploy_all


@dataclass(frozen=True)
class Parts:
    """Which parts a process runs."""

    web: bool = True
    worker: bool = True
    demo: bool = False
    demo_history: DemoOptions = field(default_factory=DemoOptions)
    """With ``demo``: how much work history the plugins run (``tierflow_register_demo_history``)."""


@dataclass
class _Running:
    """What has been started, so that shutdown stops exactly that, in reverse."""

    stops: list[tuple[str, Callable[[], Awaitable[None]]]] = field(default_factory=list)
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)


def prepare_database(settings: Settings, pm: PluginManager, steps: Steps) -> Engine:
    """Connect to the database and bring its schema (core and plugins) up to date."""
    url = settings.effective_database_url
    with steps.step(f"Migrating database {redact(url)}"):
        db = create_db_engine(url)
        ping(db)
        load_models(pm)
        upgrade(db, migration_branches(pm))
    return db


def load_demo(pm: PluginManager, sessions: sessionmaker[Session], steps: Steps) -> None:
    """Load the demo department, then deploy every workflow so that its portal works at once."""
    with steps.step("Loading demo data") as detail:
        added = load_demo_data(pm, sessions)
        detail.append(
            ", ".join(f"{n} {t}" for t, n in sorted(added.items())) + " added"
            if added
            else "already present, nothing added"
        )
    with steps.step("Deploying workflows") as detail, sessions.begin() as session:
        done = deploy_all(session, pm, by="tierflow demo")
        if done.problems:
            raise TierflowError(
                "the demo cannot deploy the workflows:\n"
                + "\n".join(str(problem) for problem in done.problems)
            )
        changed = [result.name for result in done.results if result.status != "unchanged"]
        detail.append(", ".join(changed) + " deployed" if changed else "all up to date")


async def load_demo_history(
    pm: PluginManager,
    sessions: sessionmaker[Session],
    *,
    client: Client,
    task_queue: str,
    options: DemoOptions,
    steps: Steps,
) -> None:
    """Run every plugin's demo history, a step each, once the worker runs (its open items'
    runs are this server's); a count of items shows as they are done."""
    for plugin, history in pm.collect("tierflow_register_demo_history", expect=DemoHistory):
        with steps.step(f"Running {history.name} ({plugin})") as detail:
            shown = _Shown(steps)
            demo = DemoRun(pm, sessions, client, task_queue, options, shown.progress)
            detail.append(await history.run(demo))


class _Shown:
    """Prints a history's progress on its step's line: the count done, about ten times."""

    def __init__(self, steps: Steps) -> None:
        self.steps, self.last = steps, 0

    def progress(self, done: int, total: int) -> None:
        every = max(1, total // 10)
        if done - self.last >= every and done < total:
            self.last = done
            print(f" {done}/{total}", end="", file=self.steps.stream, flush=True)


def check_parts(settings: Settings, parts: Parts) -> None:
    """Refuse a combination that cannot work before anything is touched."""
    if settings.embedded_temporal and not (parts.web and parts.worker):
        raise ConfigError(
            "TIERFLOW_TEMPORAL_ADDRESS: must be set to run the worker or the web app on "
            "their own (only 'tierflow serve' starts the embedded Temporal server)"
        )


async def run(settings: Settings, pm: PluginManager, parts: Parts, steps: Steps) -> None:
    """Start the requested parts, wait for a stop signal, stop everything started.

    A signal during start-up stops at once (what started is stopped again); a
    second Ctrl-C while stopping leaves without waiting (the embedded Temporal
    server dies with this process).
    """
    check_parts(settings, parts)
    _configure_logging(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():
            steps.say("Stopping now, without waiting.")
            os._exit(130)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    running = _Running()
    try:
        starting = asyncio.create_task(_start(settings, pm, parts, steps, running))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([starting, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
        else:
            stopper.cancel()
            starting.result()
            steps.say("Tierflow is running" + (f" at {settings.web_url}" if parts.web else ""))
            steps.say("Press Ctrl-C to stop.")
            await _wait(stop, running)
    finally:
        steps.say("Stopping …")
        await _stop(running, steps)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        steps.say("Stopped.")


QUIET_LOGGERS = ("alembic", "temporalio")
"""Chatty at INFO about things the start-up steps already show; heard from at DEBUG only."""


def _configure_logging(settings: Settings) -> None:
    level = settings.log_level.upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(level if level == "DEBUG" else "WARNING")


async def _start(
    settings: Settings, pm: PluginManager, parts: Parts, steps: Steps, running: _Running
) -> None:
    steps.say(f"Starting Tierflow (data in {settings.data_dir})")
    sock = _bind(settings) if parts.web else None  # a busy port fails before anything starts
    if sock is not None:
        running.stops.append(("web socket", _closer(sock)))
    ensure_data_dir(settings)
    secret_key(settings)
    client = await _temporal(settings, steps, running) if parts.worker else None
    db = await asyncio.to_thread(prepare_database, settings, pm, steps)
    running.stops.append(("database connections", lambda: asyncio.to_thread(db.dispose)))
    sessions = make_session_factory(db)
    with steps.step("Starting plugins") as detail:
        pm.call("tierflow_startup", settings=settings)
        detail.append(", ".join(info.name for info in pm.infos()) or "none installed")
    if parts.demo:
        await asyncio.to_thread(load_demo, pm, sessions, steps)
    app = None
    if parts.web:
        link = TemporalLink(
            client=client, address=settings.temporal_address, namespace=settings.temporal_namespace
        )
        app = create_app(settings, pm, db=db, temporal=link)
    if client is not None:
        with steps.step(f"Starting worker on task queue '{settings.task_queue}'"):
            worker = build_worker(
                client,
                settings.task_queue,
                activities=worker_activities(pm, sessions),
                workflows=[Interpreter],
            )
            running.tasks["worker"] = asyncio.create_task(worker.run(), name="worker")
            running.stops.append(("worker", worker.shutdown))
        task, stop_sync = start_sync(client, settings.task_queue, sessions)
        running.tasks["schedule sync"] = task
        running.stops.append(("schedule sync", stop_sync))
        await start_services(
            settings, pm, sessions=sessions, client=client, steps=steps, running=running
        )
        if parts.demo:
            await load_demo_history(
                pm, sessions, client=client, task_queue=settings.task_queue,
                options=parts.demo_history, steps=steps,
            )  # fmt: skip
    if app is not None and sock is not None:
        await _start_web(settings, app, sock, steps, running)


async def start_services(
    settings: Settings,
    pm: PluginManager,
    *,
    sessions: sessionmaker[Session],
    client: Client,
    steps: Steps,
    running: _Running,
) -> None:
    """Start every plugin service (``tierflow_register_services``), each a start-up step."""
    services = pm.collect(
        "tierflow_register_services",
        expect=Service,
        settings=settings,
        pm=pm,
        sessions=sessions,
        client=client,
    )
    for plugin, service in services:
        with steps.step(f"Starting {service.name} ({plugin})") as detail:
            running.stops.append((service.name, service.stop))
            try:
                shown = await service.start()
            except TierflowError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin '{plugin}' could not start {service.name}: {exc}", plugin=plugin
                ) from exc
            if shown:
                detail.append(shown)


def _closer(sock: socket.socket) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        sock.close()

    return close


async def _temporal(settings: Settings, steps: Steps, running: _Running) -> Client:
    address = settings.temporal_address
    if settings.embedded_temporal:
        server = EmbeddedTemporal(
            settings.data_dir / "temporal", namespace=settings.temporal_namespace
        )
        with steps.step("Starting embedded Temporal server") as detail:
            running.stops.append(("Temporal server", server.stop))
            address = await server.start()
            detail.append(f"on {address}, pid {server.pid}")
        running.tasks["Temporal server"] = asyncio.create_task(_watch(server), name="temporal")
    with steps.step(f"Connecting to Temporal at {address}"):
        return await connect(address, settings.temporal_namespace)


async def _watch(server: EmbeddedTemporal, every: float = 1.0) -> None:
    """Return when the embedded server has died (so that serve stops instead of limping on)."""
    while server.running:
        await asyncio.sleep(every)
    raise TierflowError(f"the embedded Temporal server exited; see {server.log_file}")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


def _bind(settings: Settings) -> socket.socket:
    family = socket.AF_INET6 if ":" in settings.web_host else socket.AF_INET
    # naming the protocol lets asyncio turn on TCP_NODELAY for every connection; without it a
    # kept-alive response's body waited ~40 ms for the client's delayed acknowledgement
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    where = f"{settings.web_host}:{settings.web_port}"
    try:
        sock.bind((settings.web_host, settings.web_port))
    except socket.gaierror as exc:
        sock.close()
        raise ConfigError(
            f"--host / TIERFLOW_WEB_HOST: {settings.web_host!r} is not an address: {exc.strerror}"
        ) from exc
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"--port / TIERFLOW_WEB_PORT: {where} is already in use "
                "(is another Tierflow running? pick another port)"
            ) from exc
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ConfigError(
                f"--host / TIERFLOW_WEB_HOST: {settings.web_host} is not an address of this "
                "machine (use 127.0.0.1, or 0.0.0.0 for every address)"
            ) from exc
        raise ConfigError(f"--host / --port: cannot listen on {where}: {exc.strerror}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def _start_web(
    settings: Settings, app: Starlette, sock: socket.socket, steps: Steps, running: _Running
) -> None:
    with steps.step(f"Starting web server on {settings.web_url}"):
        config = uvicorn.Config(
            app,
            log_level="debug" if settings.log_level == "debug" else "warning",
            access_log=settings.log_level == "debug",
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        server = _Server(config)
        running.tasks["web"] = asyncio.create_task(server.serve(sockets=[sock]), name="web")

        async def stop_web() -> None:
            server.should_exit = True
            with contextlib.suppress(Exception):
                await running.tasks["web"]

        running.stops.append(("web server", stop_web))
        while not server.started:
            if running.tasks["web"].done():
                running.tasks["web"].result()
                raise TierflowError("the web server stopped while starting")
            await asyncio.sleep(0.02)


async def _wait(stop: asyncio.Event, running: _Running) -> None:
    """Wait for a stop signal, or for a part to end on its own (which is an error)."""
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait(
        [stopper, *running.tasks.values()], return_when=asyncio.FIRST_COMPLETED
    )
    stopper.cancel()
    watcher = running.tasks.get("Temporal server")
    if watcher is not None and watcher not in done:
        watcher.cancel()
    for name, task in running.tasks.items():
        if task in done:
            exc = task.exception()
            if isinstance(exc, TierflowError):
                raise exc
            cause = f": {type(exc).__name__}: {exc}" if exc else ""
            raise TierflowError(f"the {name} stopped unexpectedly{cause}")


async def _stop(running: _Running, steps: Steps) -> None:
    for name, stop in reversed(running.stops):
        try:
            with steps.step(f"Stopping {name}"):
                await asyncio.wait_for(stop(), timeout=15)
        except Exception as exc:  # keep stopping the rest; report what failed
            steps.say(f"  could not stop {name} cleanly: {type(exc).__name__}: {exc}")
