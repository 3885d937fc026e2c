"""Hook implementations of the help desk plugin."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from engine.contrib import MigrationBranch, RequestType
from engine.hookspecs import hookimpl
from plugins.helpdesk import demo, models

HERE = Path(__file__).parent


@hookimpl
def tierflow_register_models():
    return [models]


@hookimpl
def tierflow_register_migrations() -> MigrationBranch:
    return MigrationBranch("helpdesk", HERE / "migrations")


@hookimpl
def tierflow_load_demo_data(session: Session) -> None:
    demo.load(session)


@hookimpl
def tierflow_register_workflow_dirs() -> list[Path]:
    return [HERE / "workflows"]


@hookimpl
def tierflow_register_request_types() -> list[RequestType]:
    return [
        RequestType(
            "incident",
            "Report a problem",
            workflow="incident",
            description="Something is broken or does not work as it should.",
            category="support",
        )
    ]
