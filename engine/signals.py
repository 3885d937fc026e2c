"""Signals people send a work item's run: a workflow's ``signals:``, checked and delivered.

A workflow may offer signals to people (``signals: requester_replied: {who:
requester, when: "item.status == 'resolved'", form: reply, comment: true}``).
Which ones a person may send now is decided here, for the definition version
the item's run is pinned to: ``who`` names the sender (the requester, a member
of the owner or current team, the assignee, a role or a team's member) and
``when`` is a condition over the item. :func:`check_signal` re-checks all of it
and validates the form's data; :func:`deliver` sends the signal through
:class:`~engine.runtime.client.Runtime`, and :func:`record_signal` records a
``signalled`` event (and the public comment of ``comment: true``).

The web page and the JSON API use the same functions, so both answer the
same way: 404 for a signal the workflow does not offer, 403 for a sender
``who`` leaves out, 409 while ``when`` does not hold or the run has ended,
422 for data that does not fit the form, 503 while Temporal is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from ruamel.yaml import YAMLError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from temporalio.service import RPCError, RPCStatusCode

from engine.comments import comment_errors, is_staff, post_comment
from engine.dsl.expressions import ExpressionError, evaluate
from engine.dsl.forms import Form, validate_submission
from engine.dsl.parse import parse_definition
from engine.dsl.spec import SignalOffer, Workflow
from engine.errors import TemporalError, TierflowError
from engine.events import record_event
from engine.model import Event, Membership, Team, WorkflowDefinition, WorkItem
from engine.plugins import PluginManager
from engine.runtime.client import Runtime
from engine.runtime.task_activities import snapshot

SIGNAL_TIMEOUT = 10.0
"""Seconds to wait for Temporal to accept a signal before giving up (503)."""


class Sender(Protocol):
    """Who sends a signal: the web layer's viewer fits."""

    @property
    def person_id(self) -> int | None: ...
    @property
    def roles(self) -> frozenset[str]: ...
    @property
    def team_ids(self) -> frozenset[int]: ...


class SignalError(TierflowError):
    """A signal that may not be sent: ``status`` (403, 404, 409, 422), field ``errors``."""

    def __init__(
        self, status: int, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


@dataclass(frozen=True)
class Offered:
    """A signal of the item's workflow, as a page shows it."""

    name: str
    label: str
    form: Form | None
    comment: bool


def item_workflow(db: Session, item: WorkItem) -> Workflow | None:
    """The workflow version ``item`` runs (its pinned definition), else its active one."""
    definition = item.definition
    if definition is None and item.workflow_id:
        name = item.workflow_id.split("/", 1)[0]
        query = select(WorkflowDefinition).filter_by(name=name, active=True)
        definition = db.scalars(query).first()
    if definition is None:
        return None
    try:
        return parse_definition(
            definition.source, definition.content_hash, definition.shared_forms or ""
        )
    except (ValueError, YAMLError):  # deployed definitions are validated
        return None


def label_of(name: str, offer: SignalOffer) -> str:
    return offer.label or name.replace("_", " ").capitalize()


def may_send(db: Session, offer: SignalOffer, sender: Sender, item: WorkItem) -> bool:
    """Whether ``sender`` is one of the people ``offer.who`` names, for ``item``."""
    if sender.person_id is None:
        return False
    for who in offer.who:
        kind, _, value = who.partition(":")
        if (
            (who == "requester" and item.requester_id == sender.person_id)
            or (who == "assignee" and item.assignee_id == sender.person_id)
            or (who == "owner_team" and item.owner_team_id in sender.team_ids)
            or (who == "current_team" and item.current_team_id in sender.team_ids)
            or (kind == "role" and value in sender.roles)
            or (kind == "team" and _member(db, value, sender.person_id))
        ):
            return True
    return False


def _member(db: Session, slug: str, person_id: int) -> bool:
    query = (
        select(func.count())
        .select_from(Membership)
        .join(Team, Team.id == Membership.team_id)
        .where(Team.slug == slug, Membership.person_id == person_id)
    )
    return bool(db.scalar(query))


def holds(offer: SignalOffer, item: WorkItem) -> bool:
    """Whether ``offer.when`` holds for ``item`` (no ``when``: always); a failing one does not."""
    if offer.when is None:
        return True
    try:
        return bool(evaluate(offer.when, {"item": snapshot(item)}))
    except ExpressionError:
        return False


def offered_now(db: Session, item: WorkItem, sender: Sender) -> list[Offered]:
    """The signals ``sender`` may send ``item``'s run now, in the workflow's order."""
    workflow = item_workflow(db, item)
    if workflow is None or not item.workflow_id or item.closed_at is not None:
        return []
    return [
        Offered(name, label_of(name, offer), _form(workflow, offer), offer.comment)
        for name, offer in workflow.signals.items()
        if may_send(db, offer, sender, item) and holds(offer, item)
    ]


def _form(workflow: Workflow, offer: SignalOffer) -> Form | None:
    return workflow.forms.get(offer.form) if offer.form else None


@dataclass(frozen=True)
class Checked:
    """A signal that may be sent: the run, the payload, the comment to post."""

    item_id: int
    workflow_id: str
    name: str
    label: str
    data: dict[str, Any]
    comment: str


def check_signal(db: Session, item: WorkItem, sender: Sender, name: str, data: object) -> Checked:
    """Check that ``sender`` may send signal ``name`` to ``item``'s run now, with ``data``.

    Raises :class:`SignalError`; ``item`` is one the sender may see.
    """
    reference = item.reference or f"#{item.id}"
    workflow = item_workflow(db, item)
    offer = workflow.signals.get(name) if workflow is not None else None
    if workflow is None or offer is None:
        raise SignalError(404, f"{reference} offers no signal '{name}'")
    label = label_of(name, offer)
    if not may_send(db, offer, sender, item):
        raise SignalError(403, f"'{label}' on {reference} may be sent by {_who(offer.who)} only")
    if not item.workflow_id or item.closed_at is not None or not holds(offer, item):
        raise SignalError(
            409,
            f"'{label}' cannot be sent while {reference} is {item.status}"
            + (f" (it may be sent when {offer.when})" if offer.when else ""),
        )
    form = _form(workflow, offer)
    if not isinstance(data, dict):
        raise SignalError(
            422, "the data must be an object", [{"field": "data", "message": "must be an object"}]
        )
    clean: dict[str, Any] = {}
    if form is not None:
        found, errors = validate_submission(form, data)
        if found is None:
            raise SignalError(422, f"the data does not fit the form '{offer.form}'", errors)
        clean = found
    elif data:
        raise SignalError(
            422,
            f"'{label}' takes no data",
            [{"field": key, "message": "not a field of this signal"} for key in data],
        )
    comment = clean.get("comment") if offer.comment else None
    comment = comment if isinstance(comment, str) and comment.strip() else ""
    if comment:
        errors = [{**e, "field": "comment"} for e in comment_errors(comment, True)]
        if errors:
            raise SignalError(422, "the comment cannot be posted", errors)
    return Checked(item.id, item.workflow_id, name, label, _jsonable(clean), comment)


def _who(who: Collection[str]) -> str:
    words = {
        "requester": "the requester",
        "assignee": "the assignee",
        "owner_team": "the owner team's members",
        "current_team": "the current team's members",
    }
    shown = [
        words.get(w)
        or w.replace("role:", "people with the role ").replace("team:", "members of the team ")
        for w in who
    ]
    return " or ".join(shown)


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Form data as JSON-safe values (dates and durations as text), for Temporal and events."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, (str, int, float, bool, list)) or value is None:
            out[key] = value
        elif hasattr(value, "isoformat"):
            out[key] = value.isoformat()
        else:
            out[key] = str(value)
    return out


async def deliver(runtime: Runtime, checked: Checked) -> None:
    """Send the signal to the run. :class:`SignalError` 409 if the run has ended;
    :class:`TemporalError` if Temporal does not take it."""
    try:
        async with asyncio.timeout(SIGNAL_TIMEOUT):
            await runtime.signal(checked.workflow_id, checked.name, checked.data)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise SignalError(
                409,
                f"the workflow run of this item has ended: '{checked.label}' can no longer be sent",
            ) from exc
        raise TemporalError(f"cannot signal run {checked.workflow_id}: {exc}") from exc
    except TimeoutError as exc:
        raise TemporalError(
            f"cannot signal run {checked.workflow_id}: no answer within {SIGNAL_TIMEOUT:g} s"
        ) from exc


def record_signal(db: Session, pm: PluginManager, checked: Checked, sender: Sender) -> None:
    """Record the ``signalled`` event {signal, data}, and the public comment if there is one."""
    item = db.get(WorkItem, checked.item_id)
    assert item is not None
    count = select(func.count()).where(Event.work_item_id == item.id, Event.type == "signalled")
    key = f"item/{item.id}/signal/{db.scalar(count) or 0}"
    record_event(
        db, pm, work_item_id=item.id, type="signalled",
        data={"signal": checked.name, "data": checked.data},
        actor_id=sender.person_id, team_id=item.current_team_id, key=key,
    )  # fmt: skip
    if checked.comment:
        post_comment(
            db, pm, item.id, body=checked.comment, public=True, author_id=sender.person_id,
            staff=is_staff(sender.roles), visible=lambda _: True,
        )  # fmt: skip
