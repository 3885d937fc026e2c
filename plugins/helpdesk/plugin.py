"""Hook implementations of the help desk plugin.

Each part of the help desk (SLA clocks, the lifecycle actions, ticket facts,
assignment, phone intake …) lives in a module of its own; this module only
hands their contributions to the engine.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from engine.config import Settings
from engine.contrib import (
    ChoiceList,
    IntakePanel,
    ItemSection,
    MigrationBranch,
    ReportSpec,
    RequestType,
    Service,
    SettingsSection,
)
from engine.demo import DemoHistory
from engine.dsl.forms import Form
from engine.hookspecs import hookimpl
from engine.model import Event, WorkItem
from engine.plugins import PluginManager
from engine.web.access import Viewer
from plugins.helpdesk import (
    assignment,
    calls,
    categories,
    demo,
    demo_stream_run,
    facts,
    inbound,
    kb,
    mail,
    models,
    ownership,
    sla,
    survey,
    views_assignment,
    views_categories,
    views_priority,
    views_sla,
    views_ticket,
    views_tickets,
)
from plugins.helpdesk.actions import LifecycleActions

HERE = Path(__file__).parent

PARTS: tuple[ModuleType, ...] = (kb, mail, inbound, survey)
"""Parts that are packages of their own. Each may define, in its ``__init__``: ``MODELS``
(model modules), ``ROUTES``, ``NAVIGATION``, ``SETTINGS`` (settings sections), ``REPORTS``
(report specs), and the functions ``actions(pm, sessions)``, ``on_event(event, session, pm)``,
``sections(item, viewer, session)``, ``intake_panels(request_type, form, answers, viewer,
session)``, ``services(settings, pm, sessions)``, ``commands(cli)`` and ``load_demo(session)``;
this module hands whatever a part defines to the engine."""


def _listed(name: str) -> list[Any]:
    return [entry for part in PARTS for entry in getattr(part, name, ())]


def _called(name: str, **kwargs: Any) -> list[Any]:
    return [
        entry
        for part in PARTS
        if (function := getattr(part, name, None)) is not None
        for entry in function(**kwargs) or ()
    ]


@hookimpl
def tierflow_register_settings() -> list[SettingsSection]:
    return _listed("SETTINGS")


@hookimpl
def tierflow_register_services(
    settings: Settings, pm: PluginManager, sessions: sessionmaker[Session], client: Client
) -> list[Service]:
    return _called("services", settings=settings, pm=pm, sessions=sessions, client=client)


@hookimpl
def tierflow_register_commands(cli: click.Group) -> None:
    for part in PARTS:
        if (add := getattr(part, "commands", None)) is not None:
            add(cli=cli)


@hookimpl
def tierflow_register_choice_lists() -> list[ChoiceList]:
    """The help desk's active categories, for ``choices_from: helpdesk.categories``."""
    return categories.choice_lists()


@hookimpl
def tierflow_register_reports() -> list[ReportSpec]:
    return _listed("REPORTS")


@hookimpl
def tierflow_register_models():
    return [models, *_listed("MODELS")]


@hookimpl
def tierflow_register_migrations() -> MigrationBranch:
    return MigrationBranch("helpdesk", HERE / "migrations")


@hookimpl
def tierflow_load_demo_data(session: Session) -> None:
    demo.load(session)
    for part in PARTS:
        if (load := getattr(part, "load_demo", None)) is not None:
            load(session)


@hookimpl
def tierflow_register_workflow_dirs() -> list[Path]:
    return [HERE / "workflows"]


@hookimpl
def tierflow_register_template_dirs() -> list[Path]:
    return [HERE / "templates"]


@hookimpl
def tierflow_register_actions(pm: PluginManager, sessions: sessionmaker[Session]) -> list[Any]:
    return [
        *LifecycleActions(pm, sessions).all(),
        *sla.SlaActions(pm, sessions).all(),
        *_called("actions", pm=pm, sessions=sessions),
    ]


@hookimpl
def tierflow_register_routes() -> list[Any]:
    return [
        *calls.ROUTES,
        *views_priority.ROUTES,
        *views_assignment.ROUTES,
        *views_sla.ROUTES,
        *views_categories.ROUTES,
        *views_tickets.ROUTES,
        *_listed("ROUTES"),
    ]


@hookimpl
def tierflow_register_navigation() -> list[Any]:
    return [
        *calls.NAVIGATION,
        *views_priority.NAVIGATION,
        *views_assignment.NAVIGATION,
        *views_sla.NAVIGATION,
        *views_categories.NAVIGATION,
        *views_tickets.NAVIGATION,
        *_listed("NAVIGATION"),
    ]


@hookimpl
def tierflow_event_recorded(event: Event, session: Session, pm: PluginManager) -> None:
    """Each part that follows the audit trail sees every event, in this order."""
    facts.on_event(event, session)
    ownership.on_event(event, session, pm)
    assignment.on_event(event, session, pm)
    sla.on_event(event, session, pm)
    for part in PARTS:
        if (subscriber := getattr(part, "on_event", None)) is not None:
            subscriber(event=event, session=session, pm=pm)


@hookimpl
def tierflow_describe_event(event: Event) -> str | None:
    """The help desk's events as timeline sentences (SLA clock, first response, resolved ...)."""
    return views_ticket.describe_event(event)


@hookimpl
def tierflow_work_item_sections(
    item: WorkItem, viewer: Viewer, session: Session
) -> list[ItemSection]:
    return [
        *views_ticket.sections(item, viewer, session),
        *_called("sections", item=item, viewer=viewer, session=session),
    ]


@hookimpl
def tierflow_portal_intake_panels(
    request_type: RequestType,
    form: Form | None,
    answers: dict[str, str],
    viewer: Viewer,
    session: Session,
) -> list[IntakePanel]:
    return _called(
        "intake_panels",
        request_type=request_type,
        form=form,
        answers=answers,
        viewer=viewer,
        session=session,
    )


@hookimpl
def tierflow_register_request_types() -> list[RequestType]:
    return [
        RequestType(
            "incident",
            "Report a problem",
            workflow="incident",
            description="Something is broken or does not work as it should.",
            category="support",
        ),
        RequestType(
            "service_request",
            "Ask for something",
            workflow="service_request",
            description="Software, equipment, or a change to how something is set up.",
            category="requests",
        ),
        RequestType(
            "access_request",
            "Request access",
            workflow="access_request",
            description="Access to a system, a shared folder or a role; a manager approves it.",
            category="access",
        ),
        RequestType(
            "new_hire",
            "Onboard a new colleague",
            workflow="new_hire",
            description="Accounts and a workstation ready for a new colleague's first day.",
            category="people",
        ),
        RequestType(
            "leaver",
            "Offboard a leaver",
            workflow="leaver",
            description="Close the accounts and collect the equipment of a colleague who leaves.",
            category="people",
        ),
    ]


@hookimpl
def tierflow_register_demo_history() -> list[DemoHistory]:
    return [demo_stream_run.HISTORY]
