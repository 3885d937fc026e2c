"""Alembic's environment for Tierflow, run by :mod:`engine.migrate` (there is no alembic.ini).

``engine.migrate`` opens the connection (and the transaction) and passes it in
``config.attributes["connection"]``, with the models' metadata in
``config.attributes["target_metadata"]`` when autogenerating.
"""

from __future__ import annotations

from alembic import context

from engine.migrate import context_options

config = context.config
connection = config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError(
        "Tierflow migrations run against a live database through engine.migrate "
        "(`tierflow db upgrade`), not through the alembic command"
    )

context.configure(
    connection=connection,
    target_metadata=config.attributes.get("target_metadata"),
    **context_options(connection),
)
with context.begin_transaction():
    context.run_migrations()
