"""Plain value types that plugins return from contribution hooks.

They live apart from :mod:`engine.hookspecs` so that plugins and the engine can
import them without pulling in pluggy, and so that each is easy to construct in
a test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class MigrationBranch:
    """An Alembic branch of migrations owned by one plugin.

    ``label`` is the branch label (the plugin's name) and ``directory`` the folder
    holding its revision files. The branch's first revision declares
    ``depends_on = "engine"`` (or a later core revision) so that core tables
    exist before a plugin's foreign keys point at them.
    """

    label: str
    directory: Path


@dataclass(frozen=True)
class NavItem:
    """A link in the web app's navigation bar.

    ``roles`` limits who sees it (empty: every signed-in person); ``order``
    sorts the bar, lower first.
    """

    label: str
    path: str
    roles: frozenset[str] = frozenset()
    order: int = 100


@dataclass(frozen=True)
class RequestType:
    """A kind of request a requester can submit in the portal or the API.

    ``workflow`` names the YAML workflow that runs each request of this type.
    """

    name: str
    title: str
    workflow: str
    description: str = ""
    category: str = ""


@dataclass(frozen=True)
class ItemSection:
    """A panel a plugin adds to a work item's page (``tierflow_work_item_sections``).

    ``title`` is the panel's heading; ``template`` (a template of the plugin's,
    e.g. ``"helpdesk/ticket_tier_path.html"``) prints its body and reads
    ``section.context`` (plain values, computed in Python) and
    ``section.heading_id`` (the heading's id, for ``aria-labelledby``).
    Panels are shown lowest ``order`` first, then by title.
    """

    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    order: int = 100


@dataclass(frozen=True)
class IntakePanel:
    """A panel on a request type's portal form (``tierflow_portal_intake_panels``).

    It is shown inside the form, after its fields and its send button (Enter
    in a field still sends the request), lowest ``order`` first. ``title`` is
    its heading; ``template`` prints its body and reads ``panel.context``
    (plain values: the database session is closed by then) and
    ``panel.heading_id``. A submit button named
    ``{{ refresh_field }}`` sends the form back to be shown again with the
    answers so far (nothing is submitted, the hook sees the answers); a button
    with a ``formaction`` sends the whole form, CSRF token and idempotency key
    included, to a route of the plugin's.
    """

    title: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    order: int = 100


@dataclass(frozen=True)
class ReportSpec:
    """A report the reports dashboard lists.

    ``compute`` is called with a SQLAlchemy session and keyword filters and
    returns rows (a list of dicts) the dashboard prints and exports as CSV.
    """

    name: str
    title: str
    description: str = ""
    compute: object = None
    columns: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ActionInput:
    """What every action (a workflow's ``action:`` step) receives: one dataclass argument.

    ``args`` holds the step's ``with:`` values, already rendered. ``key``
    (workflow id / step id / visit) is stable across retries: write with it
    (a unique column, an idempotency key) so that a retry writes nothing twice.
    """

    workflow_id: str
    step_id: str
    key: str
    work_item_id: int | None = None
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SettingsSection:
    """A plugin's own settings (``tierflow_register_settings``), read like the engine's.

    ``name`` is the section: the table ``[name]`` in ``tierflow.toml`` and the
    environment prefix ``TIERFLOW_<NAME>__`` (``TIERFLOW_MAIL__SMTP_HOST``).
    ``model`` is a pydantic model whose fields all have defaults; give it
    ``model_config = ConfigDict(extra="forbid")`` so that a misspelt setting is
    refused. Read it with ``settings.section(name, model)``.
    """

    name: str
    model: type
    description: str = ""


@dataclass(frozen=True)
class Service:
    """Something a plugin runs beside the worker for as long as the process lives.

    ``start`` is awaited when ``tierflow serve`` or ``tierflow worker`` starts
    (after the Temporal worker); it returns once the service is ready (a bound
    port, a first poll), optionally with a short detail the start-up progress
    shows ("on 127.0.0.1:2525"), and raises to stop start-up. ``stop`` is awaited
    on shutdown, in reverse order of starting; it must not raise.
    """

    name: str
    start: Callable[[], Awaitable[str | None]]
    stop: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ChoiceList:
    """Options a form's choice field takes from the database (``choices_from: <name>``).

    ``name`` is what a form names it by, namespaced like an action
    (``"helpdesk.categories"``). ``load`` is called with a database session and
    returns the options as ``(value, label)`` pairs, in the order people see
    them: the value is stored, the label shown. It runs when a task opens (the
    task keeps the options of that moment); it only reads.
    """

    name: str
    load: Callable[[Session], list[tuple[str, str]]]
    description: str = ""
