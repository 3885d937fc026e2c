"""Every hook a Tierflow plugin can implement.

A plugin is a module (or object) with functions decorated by
``engine.hookimpl`` and registered under the entry-point group ``tierflow``.
The engine always calls hooks with keyword arguments, so a plugin may accept
only the arguments it needs. Hooks named ``tierflow_register_*`` contribute
things and have all their results collected, in plugin registration order
reversed (pluggy's LIFO). Event hooks are named in the past tense.

``docs/plugins.md`` documents each hook; ``tests/test_docs.py`` fails when one
is missing there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click
    from sqlalchemy.orm import Session, sessionmaker
    from starlette.routing import BaseRoute
    from temporalio.client import Client

    from engine.config import Settings
    from engine.contrib import (
        ChoiceList,
        IntakePanel,
        ItemSection,
        MigrationBranch,
        NavItem,
        ReportSpec,
        RequestType,
        Service,
        SettingsSection,
    )
    from engine.demo import DemoHistory
    from engine.dsl.forms import Form
    from engine.model import Event, WorkItem
    from engine.plugins import PluginManager
    from engine.web.access import Viewer

PROJECT = "tierflow"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# ---------------------------------------------------------------- startup ---


@hookspec
def tierflow_startup(settings: Settings) -> None:
    """Check a plugin's own prerequisites once, when a process starts.

    Called by ``tierflow serve``, ``tierflow worker`` and ``tierflow web`` after
    every plugin is loaded and the database is migrated, before anything is
    served. ``settings`` is the resolved :class:`engine.config.Settings`.
    All implementations run; one that raises stops start-up, and the message
    names the plugin and the cause.

    Example::

        @hookimpl
        def tierflow_startup(settings):
            (settings.data_dir / "attachments").mkdir(exist_ok=True)
    """


@hookspec
def tierflow_register_settings() -> Iterable[SettingsSection] | None:
    """Return a plugin's own sections of settings.

    Each :class:`engine.contrib.SettingsSection` names a section and a pydantic
    model. Its values are read like the engine's: the table ``[name]`` of
    ``tierflow.toml`` and ``TIERFLOW_<NAME>__<FIELD>`` environment variables;
    a bad value stops the command before anything starts, naming the setting.
    Called once when a command loads its settings. All results are collected;
    a section named like a setting or another section stops the command. A
    plugin reads its values with ``settings.section(name, model)``.

    Example::

        @hookimpl
        def tierflow_register_settings():
            return [SettingsSection("mail", MailSettings, "Outgoing and incoming e-mail")]
    """


@hookspec
def tierflow_register_services(
    settings: Settings, pm: PluginManager, sessions: sessionmaker[Session], client: Client
) -> Iterable[Service] | None:
    """Return what a plugin runs beside the worker: a mail sender, a listener, a poller.

    Called by ``tierflow serve`` and ``tierflow worker`` once the Temporal
    worker runs, with the resolved ``settings``, the plugin manager ``pm``,
    the process's database ``sessions`` and its connected Temporal ``client``.
    Each :class:`engine.contrib.Service` is started in turn (its start shows as
    a start-up step) and stopped on shutdown, in reverse. Return nothing for
    a service its settings turn off. All results are collected.

    Example::

        @hookimpl
        def tierflow_register_services(settings, pm, sessions, client):
            return [Service("outbox sender", sender.start, sender.stop)]
    """


# ------------------------------------------------------------------ model ---


@hookspec
def tierflow_register_models() -> Iterable[ModuleType] | None:
    """Return the modules that declare a plugin's own tables.

    Each module defines mapped classes on the shared ``engine.model.Base`` and
    may point at core tables by foreign key. The engine imports nothing of a
    plugin by itself: this hook is how its tables join ``Base.metadata`` for
    migrations and the model check. All results are collected. Called whenever
    the metadata is assembled (migrations, ``tierflow db check``, tests).

    Example::

        @hookimpl
        def tierflow_register_models():
            return [helpdesk_models]
    """


@hookspec
def tierflow_register_migrations() -> MigrationBranch | None:
    """Return the Alembic branch that creates and evolves a plugin's tables.

    The result is an :class:`engine.contrib.MigrationBranch` (label = plugin
    name, directory of revision files). The branches of all plugins are added
    to Alembic's ``version_locations`` and upgraded together with the core.
    Called by ``tierflow db upgrade`` and ``tierflow serve`` before migrating.
    All results are collected.

    Example::

        @hookimpl
        def tierflow_register_migrations():
            return MigrationBranch("helpdesk", Path(__file__).parent / "migrations")
    """


# --------------------------------------------------------------- workflow ---


@hookspec
def tierflow_register_actions(
    pm: PluginManager, sessions: sessionmaker[Session]
) -> Iterable[Callable[..., Any]] | None:
    """Return the actions a plugin contributes to workflows.

    Each action is a Temporal activity function (``@activity.defn`` with a
    namespaced ``name`` such as ``"helpdesk.escalate"``) taking one dataclass
    argument (:class:`~engine.contrib.ActionInput`). ``sessions`` makes the
    worker's database sessions (bind actions to it, e.g. as methods of an
    object holding it) and ``pm`` is the plugin manager, for recording events.
    Called once by each worker at start-up, which registers every action, and
    by the workflow validator, which only reads their names (``sessions`` is
    then unbound); a workflow's ``action:`` step names one. All results are
    collected; two plugins contributing the same name stop start-up.

    Example::

        @hookimpl
        def tierflow_register_actions(pm, sessions):
            return HelpdeskActions(pm, sessions).all()
    """


@hookspec
def tierflow_register_workflow_dirs() -> Iterable[Path] | None:
    """Return folders of YAML workflow files a plugin ships.

    Called by the workflow loader when it validates and deploys: it reads
    every ``*.yaml`` workflow in these folders (and in the site's own
    ``workflows/`` folder, which wins on a name clash). All results are
    collected.

    Example::

        @hookimpl
        def tierflow_register_workflow_dirs():
            return [Path(__file__).parent / "workflows"]
    """


@hookspec
def tierflow_register_forms() -> Iterable[Path] | None:
    """Return YAML form definition files (or folders of them) a plugin ships.

    Called by the workflow loader; forms registered here can be named by any
    workflow's ``form:`` (a workflow may also define forms inline). All
    results are collected.

    Example::

        @hookimpl
        def tierflow_register_forms():
            return [Path(__file__).parent / "forms"]
    """


@hookspec
def tierflow_register_request_types() -> Iterable[RequestType] | None:
    """Return the request types requesters can submit (portal, API, e-mail).

    Each :class:`engine.contrib.RequestType` names the workflow that runs it.
    Called once by ``create_app()``: the portal lists them by ``title`` and
    ``POST /api/requests`` takes ``name``. All results are collected; a
    duplicate name stops start-up.

    Example::

        @hookimpl
        def tierflow_register_request_types():
            return [RequestType("incident", "Something is broken", workflow="incident")]
    """


@hookspec
def tierflow_register_choice_lists() -> Iterable[ChoiceList] | None:
    """Return lists of options that forms' choice fields take from the database.

    Each :class:`engine.contrib.ChoiceList` has a namespaced ``name`` that a
    ``choice`` or ``multi-choice`` field names with ``choices_from:`` instead
    of listing ``choices:``, and a ``load(session)`` returning ``(value,
    label)`` pairs. Called by the workflow validator, which only reads the
    names (an unknown one is an error); by the activity that opens a task,
    which loads the lists its form uses into the task (the person sees, and
    the completion is checked against, the options of the moment it opened);
    and by the task page and API, which show the task's kept options. (Intake
    forms do not resolve lists yet.) All results are collected; two plugins
    contributing the same name is an error.

    Example::

        @hookimpl
        def tierflow_register_choice_lists():
            return [ChoiceList("helpdesk.categories", load=active_choices)]
    """


# -------------------------------------------------------------------- web ---


@hookspec
def tierflow_register_routes() -> Iterable[BaseRoute] | None:
    """Return Starlette routes (``Route``/``Mount``) a plugin adds to the web app.

    Called once by ``create_app()``; paths are global, so prefix them with the
    plugin's name (``/helpdesk/...``). All results are collected, appended
    after the engine's own routes. Declare each with ``page()``, ``api()`` or
    ``mount()`` from ``engine.web.access``, which name who may use it.

    Example::

        @hookimpl
        def tierflow_register_routes():
            return [page("/projects", portfolio, allow="signed_in", name="projects.portfolio")]
    """


@hookspec
def tierflow_register_navigation() -> Iterable[NavItem] | None:
    """Return links for the web app's navigation bar.

    Each :class:`engine.contrib.NavItem` has a label, a path, the roles that see
    it and a sort order. Called once by ``create_app()``; all results are
    collected and sorted by ``order``.

    Example::

        @hookimpl
        def tierflow_register_navigation():
            return [NavItem("Projects", "/projects", order=30)]
    """


@hookspec
def tierflow_register_template_dirs() -> Iterable[Path] | None:
    """Return folders of Jinja2 templates a plugin's pages use.

    Templates live under ``templates/<plugin>/`` to avoid clashes. Called once
    by ``create_app()``; all results are collected and searched after the
    site's own override folder, so an admin can override any template.

    Example::

        @hookimpl
        def tierflow_register_template_dirs():
            return [Path(__file__).parent / "templates"]
    """


@hookspec
def tierflow_work_item_sections(
    item: WorkItem, viewer: Viewer, session: Session
) -> Iterable[ItemSection] | None:
    """Return panels a plugin adds to the page of one work item.

    ``item`` is the work item shown, ``viewer`` the person looking at it
    (:class:`engine.web.access.Viewer`: roles, teams) and ``session`` a
    read-only database session. Each :class:`engine.contrib.ItemSection` names
    a title (the panel's heading), a template (from the plugin's template
    folder), the context it prints and a sort order. Called by
    ``engine.web.item_page.load_item_page`` for every ``GET /items/{id}`` the
    viewer may see; decide here what this viewer may see (return nothing for
    the others). All results are collected and shown, lowest ``order`` first,
    after the item's details.

    Example::

        @hookimpl
        def tierflow_work_item_sections(item, viewer, session):
            return [ItemSection("Costs", "timekeeping/costs.html", {"rows": costs(session, item)})]
    """


@hookspec(firstresult=True)
def tierflow_describe_event(event: Event) -> str | None:
    """Return the sentence a work item's timeline shows for one of your plugin's events.

    ``event`` is the :class:`engine.model.Event` (``type``, ``data``,
    ``actor``, ``occurred_at``) of an event type the engine has no sentence
    of its own for (``sla_started``, ``rated`` …). Return one short sentence
    without the actor (the timeline adds "by <name>"), or ``None`` for an
    event that is not yours. Called by ``engine.web.timeline.event_sentence``
    for each such event on ``GET /items/{id}``, before the generic fallback
    that prints the type and data. The implementations run in turn until one
    answers: the first result that is not ``None`` is used (``firstresult``).
    Keep it quick and pure: no database queries.

    Example::

        @hookimpl
        def tierflow_describe_event(event):
            return f"Parcel sent ({event.data['carrier']})" if event.type == "shipped" else None
    """


# ----------------------------------------------------------------- portal ---


@hookspec
def tierflow_portal_intake_panels(
    request_type: RequestType,
    form: Form | None,
    answers: Mapping[str, str],
    viewer: Viewer,
    session: Session,
) -> Iterable[IntakePanel] | None:
    """Return panels that help a requester while they fill in a request type's form.

    ``request_type`` is the :class:`engine.contrib.RequestType` being asked
    for, ``form`` its intake form (``None`` when it has none), ``answers`` the
    text the requester has typed so far by field name (empty when the form is
    first shown), ``viewer`` the requester and ``session`` a read-only
    database session. Called by ``engine.web.portal`` each time it shows the
    form: ``GET /portal/new/{type}``, and ``POST`` when the form comes back
    with a mistake or with the panel's refresh button (see
    :class:`engine.contrib.IntakePanel`). All results are collected and shown
    inside the form, lowest ``order`` first; return nothing to show nothing.

    Example::

        @hookimpl
        def tierflow_portal_intake_panels(request_type, form, answers, viewer, session):
            return [IntakePanel("Known outages", "status/outages.html", {"rows": outages(session)})]
    """


# ---------------------------------------------------------------- reports ---


@hookspec
def tierflow_register_reports() -> Iterable[ReportSpec] | None:
    """Return reports for the reports dashboard and CSV export.

    Each :class:`engine.contrib.ReportSpec` names a report and a ``compute``
    callable taking a SQLAlchemy session and filters. Called by the reports
    dashboard when it lists reports. All results are collected; the
    dashboard lists them by title.

    Example::

        @hookimpl
        def tierflow_register_reports():
            return [ReportSpec("fcr", "First-contact resolution", compute=fcr_rows)]
    """


# -------------------------------------------------------------------- cli ---


@hookspec
def tierflow_register_commands(cli: click.Group) -> None:
    """Add commands to the ``tierflow`` command line.

    ``cli`` is the root :class:`click.Group`; add a command or a group named
    after the plugin. Called once when the CLI starts, after plugins load.
    All implementations run; return values are ignored.

    Example::

        @hookimpl
        def tierflow_register_commands(cli):
            cli.add_command(click.Command("sla-report", callback=print_sla))
    """


# ------------------------------------------------------------------- demo ---


@hookspec
def tierflow_load_demo_data(session: Session) -> None:
    """Add a plugin's demo data to the database, idempotently.

    Called by ``tierflow serve --demo`` and ``tierflow demo`` with an open
    SQLAlchemy ``session`` after migrations; the engine commits once after all
    plugins ran (and rolls back if one raises). Running it twice must add
    nothing: look rows up by a natural key first (``engine.demo.get_or_create``).
    Plugins meet through the shared model: a plugin that references rows
    another plugin's loader creates (a team, by slug) declares
    ``@hookimpl(trylast=True)`` so that it runs after the others. All
    implementations run.

    Example::

        @hookimpl
        def tierflow_load_demo_data(session):
            get_or_create(session, Team, slug="pmo", defaults={"name": "PMO"})
    """


@hookspec
def tierflow_register_demo_history() -> Iterable[DemoHistory] | None:
    """Return a plugin's demo history: work that ran through its workflows in past weeks.

    Called by ``tierflow serve --demo`` after the demo data is loaded, the
    workflows deployed and the worker started. Each
    :class:`engine.demo.DemoHistory`'s ``run(demo)`` is awaited in turn, a
    start-up step each, with an :class:`engine.demo.DemoRun`: the database
    ``sessions``, the server's Temporal ``client`` and ``task_queue`` (where
    runs of items left open go), the options of ``--demo-days``,
    ``--demo-per-day`` and ``--demo-seed``, and ``progress(done, total)``.
    It must add nothing when its history is there already, and returns a short
    detail for the step. All results are collected.

    Example::

        @hookimpl
        def tierflow_register_demo_history():
            return [DemoHistory("the project history", project_history.run)]
    """


# ----------------------------------------------------------------- events ---


@hookspec
def tierflow_event_recorded(event: Event, session: Session, pm: PluginManager) -> None:
    """React to an event appended to a work item's audit trail.

    Called by ``engine.events.record_event`` right after the event row is
    flushed, inside the same transaction (``session``), so what a subscriber
    writes commits or rolls back with the event. ``pm`` is the plugin manager
    the event was recorded with: pass it to ``record_event`` to append a
    follow-up event (give it a key derived from ``event.id``, and never react
    to your own follow-ups, or subscribers loop). Keep it quick; start
    anything slow as a workflow. All implementations run; one that raises
    aborts the transaction.

    Example::

        @hookimpl
        def tierflow_event_recorded(event, session, pm):
            if event.type == "escalated":
                notify_owner_team(session, pm, event)
    """
