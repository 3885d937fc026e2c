"""Tierflow on Temporal: the server, the client, the worker, and what runs on the worker.

- :mod:`engine.runtime.binaries` finds the ``temporal`` and ``temporal-test-server`` executables.
- :mod:`engine.runtime.devserver` runs the embedded dev server (``EmbeddedTemporal``).
- :mod:`engine.runtime.client` connects (``connect``) and checks health (``check_health``).
- :mod:`engine.runtime.worker` builds (``build_worker``) and runs (``run_worker_until``) a worker.
- :mod:`engine.runtime.activities` holds the engine's generic activities.

Import from the submodules. This package imports nothing on purpose: the
workflow sandbox re-imports a workflow's parent packages for every run, so
anything imported here would be paid for again and again.
"""
