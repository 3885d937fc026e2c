"""How a request comes in: a request type's intake form becomes a work item and a workflow run.

The portal, the JSON API and the CLI all submit through :func:`submit_request`.
A submission with the caller's idempotency key creates at most one work item
and one run, however often it is repeated: the key names the run
(``<workflow>/<key>``) and the work item holds that name under a unique
constraint.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio.service import RPCError

from engine.contrib import RequestType
from engine.dsl.forms import Form, validate_submission
from engine.dsl.parse import parse_definition
from engine.dsl.spec import Workflow
from engine.dsl.suggest import did_you_mean
from engine.errors import TemporalError, TierflowError
from engine.events import record_event
from engine.model import WorkflowDefinition, WorkItem
from engine.plugins import PluginManager
from engine.runtime.client import Runtime

CHANNELS = ("portal", "api", "email", "phone")
MAX_KEY = 100
MAX_TYPE_NAME = 64
"""Request type names in addresses are at most this long."""


class IntakeError(TierflowError):
    """A submission that cannot be taken as it is; ``status`` is the HTTP status it means."""

    status = 400


class UnknownRequestType(IntakeError):
    status = 404


class IntakeInvalid(IntakeError):
    """The data does not fit the intake form: ``errors`` are ``{field, message}`` dicts."""

    status = 422

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass(frozen=True)
class Submission:
    """One request as submitted: its type, the intake form's data, who and how."""

    request_type: str
    data: dict[str, Any] = field(default_factory=dict)
    requester_id: int | None = None
    channel: str = "portal"
    key: str | None = None
    """The caller's idempotency key (``Idempotency-Key``); a fresh one if none is given."""
    logged_by_id: int | None = None
    """An agent logging a call for the requester (``channel: phone``)."""


@dataclass(frozen=True)
class Intake:
    """A request type ready to take submissions: its deployed workflow and intake form."""

    request_type: RequestType
    definition: WorkflowDefinition
    workflow: Workflow

    @property
    def form(self) -> Form | None:
        name = self.workflow.start.form
        return self.workflow.forms.get(name) if name else None

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple({*self.workflow.start.channels, "api"})


def intake_for(session: Session, request_types: dict[str, RequestType], name: str) -> Intake:
    """The intake of request type ``name``; raises :class:`UnknownRequestType` if it has none."""
    request_type = request_types.get(name)
    if request_type is None:
        hint = did_you_mean(name, request_types)
        raise UnknownRequestType(f"there is no request type '{name}'{hint}")
    definition = session.scalars(
        select(WorkflowDefinition).filter_by(name=request_type.workflow, active=True)
    ).first()
    if definition is None:
        raise UnknownRequestType(
            f"request type '{name}' runs workflow '{request_type.workflow}', which is not "
            "deployed; an administrator deploys it with 'tierflow workflows deploy'"
        )
    workflow = parse_definition(
        definition.source, definition.content_hash, definition.shared_forms or ""
    )
    return Intake(request_type, definition, workflow)


def channel_intake(
    session: Session, request_types: dict[str, RequestType], name: str, channel: str
) -> Intake:
    """The intake of request type ``name`` if it takes requests by ``channel``.

    :class:`UnknownRequestType` (404) if there is no such type (a name longer
    than any type's is not looked up), its workflow is not deployed, or it does
    not take ``channel``; the message says which.
    """
    if len(name) > MAX_TYPE_NAME:
        raise UnknownRequestType(f"there is no request type '{name[:MAX_TYPE_NAME]}...'")
    intake = intake_for(session, request_types, name)
    if channel not in intake.channels:
        raise UnknownRequestType(
            f"request type '{name}' does not take requests by {channel}; it takes them by: "
            f"{', '.join(sorted(intake.channels))}"
        )
    return intake


def check_submission(intake: Intake, submission: Submission) -> dict[str, Any]:
    """The submission's clean data, or :class:`IntakeInvalid` naming every field at fault.

    A field with ``channels`` that leave out the submission's channel is refused
    when given (a requester cannot say "resolved during the call") and keeps its
    default otherwise.
    """
    if submission.channel not in intake.channels:
        raise IntakeError(
            f"request type '{intake.request_type.name}' does not take requests by "
            f"{submission.channel}; it takes them by: {', '.join(sorted(intake.channels))}"
        )
    if submission.key is not None and not 0 < len(submission.key) <= MAX_KEY:
        raise IntakeError(f"the idempotency key must be 1 to {MAX_KEY} characters long")
    form = intake.form
    if form is None:
        return dict(submission.data)
    shown = form.for_channel(submission.channel)  # fields for other channels keep their default
    data = {k: v for k, v in submission.data.items() if shown.field(k) or not form.field(k)}
    clean, errors = validate_submission(form, data)
    errors = form.channel_errors(submission.data, submission.channel) + errors
    if errors:
        raise IntakeInvalid(
            "the request does not fit the form: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors),
            errors,
        )
    return to_jsonable_python(clean or {})


def _title(intake: Intake, data: dict[str, Any]) -> str:
    for name in ("summary", "title", "subject"):
        if isinstance(data.get(name), str) and data[name].strip():
            return data[name].strip()[:300]
    return intake.request_type.title[:300]


def reference_for(kind: str, item_id: int) -> str:
    """A work item's reference as requesters read it: ``TIC-00042`` for ticket 42."""
    return f"{kind[:3].upper()}-{item_id:05d}"


@dataclass(frozen=True)
class Submitted:
    work_item_id: int
    reference: str
    workflow_id: str
    created: bool


def record_request(
    sessions: sessionmaker[Session],
    pm: PluginManager,
    request_types: dict[str, RequestType],
    submission: Submission,
) -> tuple[Submitted, Intake, dict[str, Any]]:
    """Write the work item (once per key) and its ``created`` event; the run is started after."""
    key = submission.key or str(uuid.uuid4())
    scope = f"{submission.requester_id or 'anonymous'}-{key}"
    try:
        with sessions() as session, session.begin():
            intake = intake_for(session, request_types, submission.request_type)
            data = check_submission(intake, submission)
            workflow_id = f"{intake.definition.name}/{scope}"
            item = session.scalars(select(WorkItem).filter_by(workflow_id=workflow_id)).first()
            if item is not None:
                return _submitted(item, False), intake, data
            item = WorkItem(
                kind=intake.workflow.kind,
                type=intake.request_type.name,
                title=_title(intake, data),
                description=str(data.get("details") or data.get("description") or ""),
                status="new",
                requester_id=submission.requester_id,
                channel=submission.channel,
                workflow_id=workflow_id,
                definition_id=intake.definition.id,
                custom=data,
            )
            session.add(item)
            session.flush()
            item.reference = reference_for(item.kind, item.id)
            record_event(
                session, pm, work_item_id=item.id, type="created",
                actor_id=submission.logged_by_id or submission.requester_id,
                data={"channel": submission.channel, "request_type": item.type},
            )  # fmt: skip
            return _submitted(item, True), intake, data
    except IntegrityError:  # the same key, submitted at the same moment: the first wins
        with sessions() as session:  # the rollback expired what the first session loaded
            intake = intake_for(session, request_types, submission.request_type)
            item = session.scalars(select(WorkItem).filter_by(workflow_id=workflow_id)).one()
            return _submitted(item, False), intake, data


def _submitted(item: WorkItem, created: bool) -> Submitted:
    return Submitted(item.id, item.reference or "", item.workflow_id or "", created)


async def submit_request(
    sessions: sessionmaker[Session],
    pm: PluginManager,
    runtime: Runtime,
    request_types: dict[str, RequestType],
    submission: Submission,
) -> Submitted:
    """Take a request: the work item, then its run (both once per idempotency key).

    A repeat starts nothing new: the run's start is itself idempotent, so a
    repeat after Temporal was unreachable starts the run the first attempt
    could not. Temporal failing at the start raises :class:`TemporalError`.
    """
    submitted, intake, data = await asyncio.to_thread(
        record_request, sessions, pm, request_types, submission
    )
    definition, _, scope = submitted.workflow_id.partition("/")
    try:
        await runtime.start(
            definition,
            key=scope,
            work_item_id=submitted.work_item_id,
            input=data,
            content_hash=intake.definition.content_hash,
        )
    except RPCError as exc:  # Temporal went away after the client connected
        raise TemporalError(
            f"request {submitted.reference} is recorded, but its run '{submitted.workflow_id}' "
            f"could not be started: {exc}; submit it again with the same idempotency key"
        ) from exc
    return submitted
