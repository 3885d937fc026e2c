"""Which events are news for a ticket's requester, and the outbox row each one gets.

Called for every event, inside the event's transaction (``on_event``), so a
row exists exactly when its event does. The updates a requester hears about:

- ``created``: their request was received (held, see below), unless it was
  created already closed (self-help: the requester closed it themselves);
- ``status``: a status change after the start (reopened, closed, ...; the
  first ``new`` → ``open`` is part of the creation and says nothing new);
- ``resolved``: the status became ``resolved`` (held);
- ``comment``: a public comment by someone other than the requester
  (internal comments never go out, nor the requester's own words);
- ``notice``: a workflow's ``notify`` step addressed to ``requester``.

A workflow often tells the requester about a moment itself (the help desk's
``acknowledge`` and ``tell_requester`` steps), just after the event that made
it. So that the requester does not get the same news twice, created, status
and resolved mails are *held* for ``hold_seconds``; a workflow notice that
arrives while such a mail of the same ticket is still waiting joins it (the
mail prints the workflow's words, the notice's own row is ``merged``). A
notice with no waiting mail to join is a mail of its own. Likewise a status
mail still waiting when a newer status change comes is replaced by the newer
one (``merged`` into it): the requester hears the latest status once.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.model import Comment, Event, Person, WorkItem
from engine.people import check_email
from plugins.helpdesk.mail.models import OutboxMail

TICKET = "ticket"
START_STATUSES = frozenset({None, "new"})
"""Statuses a run starts from: leaving them is part of the creation, not news."""
STATUS_KINDS = frozenset({"status", "resolved"})
HELD = frozenset({"created", *STATUS_KINDS})


def on_event(event: Event, session: Session) -> OutboxMail | None:
    """Write the outbox row ``event`` calls for, if it is news for the requester."""
    item = session.get(WorkItem, event.work_item_id)
    if item is None or item.kind != TICKET or item.requester is None:
        return None
    requester = item.requester
    found = _update(event, session, requester)
    if found is None:
        return None
    kind, extra = found
    if kind == "notice" and (target := _waiting(session, item.id)) is not None:
        target.context = {**target.context, "notice": extra["notice"]}
        return _row(session, event, (item, requester), kind, extra, into=target)
    row = _row(session, event, (item, requester), kind, extra)
    if kind in STATUS_KINDS and row.state == "queued":
        _supersede(session, row)
    return row


def _supersede(session: Session, newer: OutboxMail) -> None:
    """Older status mails of the ticket still waiting join ``newer``: only the latest counts.

    A call resolved and closed at once tells the requester once (closed), not
    twice; a workflow's words that had joined an older mail move along.
    """
    for older in _untouched(session, newer.work_item_id, STATUS_KINDS):
        if older.id == newer.id:
            continue
        if "notice" in older.context and "notice" not in newer.context:
            newer.context = {**newer.context, "notice": older.context["notice"]}
        older.state, older.merged_into_id = "merged", newer.id
        older.note = f"replaced by mail {newer.id}: a later status change of the same request"


def _update(event: Event, session: Session, requester: Person) -> tuple[str, dict[str, Any]] | None:
    data = event.data or {}
    if event.type == "created":
        if _born_closed(event, session):
            return None
        return "created", {}
    if event.type == "status_changed" and data.get("field") == "status":
        old, new = data.get("from"), data.get("to")
        if old in START_STATUSES or old == new:
            return None
        kind = "resolved" if new == "resolved" else "status"
        return kind, {"status": {"from": old, "to": new}}
    if event.type == "commented" and data.get("public") is True:
        comment_id = data.get("comment_id")
        comment = session.get(Comment, comment_id) if isinstance(comment_id, int) else None
        if comment is None or comment.author_id == requester.id:
            return None
        author = comment.author.name if comment.author else ""
        return "comment", {"comment": {"body": comment.body, "author": author}}
    if event.type == "notified" and "requester" in (data.get("to") or ()):
        notice = {"subject": str(data.get("subject") or ""), "body": str(data.get("body") or "")}
        return "notice", {"notice": notice}
    return None


def _born_closed(event: Event, session: Session) -> bool:
    """Whether the item was already closed when its ``created`` event was recorded.

    Self-help in the portal ("This solved it") records a request created
    closed: the requester closed it themselves a moment ago, on the page that
    told them so, so a "we received your request, we will be in touch" would
    be wrong and a confirmation of their own click only noise (as their own
    comments are never mailed back to them).
    """
    item = session.get(WorkItem, event.work_item_id)
    return item is not None and (item.status == "closed" or item.closed_at is not None)


def _untouched(session: Session, item_id: int, kinds: frozenset[str]) -> list[OutboxMail]:
    """The ticket's held mails of ``kinds`` no worker has touched yet, newest first, locked."""
    query = (
        select(OutboxMail)
        .where(
            OutboxMail.work_item_id == item_id,
            OutboxMail.kind.in_(kinds),
            OutboxMail.state == "queued",
            OutboxMail.held.is_(True),
            OutboxMail.attempts == 0,
            OutboxMail.message.is_(None),
        )
        .order_by(OutboxMail.id.desc())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(query))


def _waiting(session: Session, item_id: int) -> OutboxMail | None:
    """The ticket's latest held mail still waiting, if no notice joined it yet."""
    rows = _untouched(session, item_id, HELD)
    return rows[0] if rows and "notice" not in rows[0].context else None


def _row(
    session: Session,
    event: Event,
    about: tuple[WorkItem, Person],
    kind: str,
    extra: dict[str, Any],
    *,
    into: OutboxMail | None = None,
) -> OutboxMail:
    item, requester = about
    state, note = (
        ("merged", f"joined mail {into.id}") if into is not None else _deliverable(requester)
    )
    actor = event.actor.name if event.actor is not None else ""
    row = OutboxMail(
        work_item_id=item.id,
        event_id=event.id,
        kind=kind,
        state=state,
        held=kind in HELD,
        person_id=requester.id,
        to_address=requester.email,
        to_name=requester.name,
        context={"item": _item(item), "actor": actor, **extra},
        message_key=f"tierflow.{item.id}.{secrets.token_hex(8)}",
        merged_into_id=into.id if into is not None else None,
        note=note,
    )
    session.add(row)
    session.flush()
    return row


def _deliverable(requester: Person) -> tuple[str, str]:
    """``("queued", "")``, or ``("skipped", why)`` for a requester no mail can reach."""
    if not requester.active:
        return "skipped", f"{requester.email} is deactivated: nothing is sent to them"
    try:
        check_email(requester.email)
    except ValueError as exc:
        return "skipped", f"the requester's address cannot receive mail: {exc}"
    return "queued", ""


def _item(item: WorkItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "reference": item.reference or f"#{item.id}",
        "title": item.title,
        "type": item.type,
        "status": item.status,
        "priority": item.priority,
    }
