"""Hook implementations of the reports plugin."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.hookspecs import hookimpl
from plugins.reports import demo


@hookimpl
def tierflow_load_demo_data(session: Session) -> None:
    demo.load(session)
