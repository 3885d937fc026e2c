"""Cradle-to-grave ownership: the owner team hears of every change another team makes.

The help desk owns a ticket from the first contact to closure, also while
second- or third-line teams work on it. So every change to a ticket that is
caused by, or happens at, a team other than its owner team gets a
``notified`` event addressed to ``owner_team`` (the shape ``engine.notify``
records: ``{to, subject, body}``), which a mail plugin can send:

- ``team_changed``: the ticket moved between teams (not its first routing);
- ``status_changed`` while another team holds the ticket (a status changed
  in the same change as a move is told with the move, or not at all when
  the owner made the move);
- ``escalated`` / ``de_escalated`` (once per hand-off: the ``team_changed``
  twin of the same move gives no second notice);
- ``resolved`` by another team;
- ``commented``, publicly or internally, by staff outside the owner team.

Who caused it: the event's actor, when there is one (a member of the owner
team is the owner itself: no notice; a requester is not a team: no notice);
otherwise the team at which it happened (the team the ticket left, the
escalating or resolving team, the team holding it). The notice's key derives
from the source event's id, so it is recorded once; ``notified`` events
themselves are never watched, so notices cannot loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.comments import STAFF_ROLES
from engine.events import record_event
from engine.model import Event, Membership, Person, PersonRole, Team, WorkItem
from engine.plugins import PluginManager
from plugins.helpdesk.facts import TICKET

WATCHED = frozenset(
    {"team_changed", "status_changed", "escalated", "de_escalated", "resolved", "commented"}
)
HANDOFFS = ("team_changed", "escalated", "de_escalated")
RECIPIENT = "owner_team"


def notice_key(event_id: int) -> str:
    """The idempotency key of the owner's notice about event ``event_id``."""
    return f"helpdesk/owner-notice/{event_id}"


def on_event(event: Event, session: Session, pm: PluginManager) -> None:
    """The subscriber: tell the owner team of a change another team made to its ticket."""
    if event.type not in WATCHED:
        return
    item = session.get(WorkItem, event.work_item_id)
    if item is None or item.kind != TICKET or item.owner_team is None:
        return
    owner: Team = item.owner_team
    if not _by_another_team(session, event, owner):
        return
    if event.type in HANDOFFS and _twin_noticed(session, event):
        return
    if event.type == "status_changed" and _moved_with_it(session, event, owner):
        return  # the move made in the same change has its own notice
    subject, body = _message(session, event, item)
    notify_owner(session, pm, item, subject=subject, body=body, key=notice_key(event.id))


def notify_owner(
    session: Session, pm: PluginManager, item: WorkItem, *, subject: str, body: str, key: str
) -> None:
    """Record a ``notified`` event for ``item``'s owner team (once per ``key``; none: nothing).

    Other parts of the help desk tell the owner team through this too (a low
    satisfaction rating, for one).
    """
    if item.owner_team_id is None:
        return
    record_event(
        session,
        pm,
        work_item_id=item.id,
        type="notified",
        data={"to": [RECIPIENT], "subject": subject, "body": body},
        team_id=item.owner_team_id,
        key=key,
    )


# ------------------------------------------------------------ who did it ---


def _by_another_team(session: Session, event: Event, owner: Team) -> bool:
    if event.actor_id is not None:
        return _is_staff(session, event.actor_id) and not _is_member(
            session, event.actor_id, owner.id
        )
    if event.type == "commented":
        return False  # nobody wrote it: nothing a team did
    where = _team_at(session, event)
    return where is not None and where != owner.slug


def _team_at(session: Session, event: Event) -> str | None:
    """The slug of the team at which an actor-less change happened."""
    data = _data(event)
    if event.type == "team_changed":
        return _slug(data.get("from"))
    if event.type in ("escalated", "de_escalated"):
        return _slug(data.get("from_team")) or _team_slug(session, event.team_id)
    if event.type == "resolved":
        return _slug(data.get("team")) or _team_slug(session, event.team_id)
    return _team_slug(session, event.team_id)  # status_changed: the team holding the ticket


def _moved_with_it(session: Session, event: Event, owner: Team) -> bool:
    """Whether the ticket changed teams in the same change as this status.

    ``update_work_item`` applies every change before it records their events,
    so the status event already names the new team while the move's own
    event is still to come: the last move recorded before names the old one
    (none: the ticket was still where tickets start, with its owner).
    """
    query = (
        select(Event.data)
        .where(
            Event.work_item_id == event.work_item_id,
            Event.type == "team_changed",
            Event.id < event.id,
        )
        .order_by(Event.id.desc())
        .limit(1)
    )
    before = session.scalars(query).first()
    held = _slug(before.get("to")) if isinstance(before, Mapping) else owner.slug
    return held != _team_slug(session, event.team_id)


def _twin_noticed(session: Session, event: Event) -> bool:
    """Whether the previous hand-off event is this move's twin (already noticed)."""
    query = (
        select(Event)
        .where(
            Event.work_item_id == event.work_item_id,
            Event.type.in_(HANDOFFS),
            Event.id < event.id,
        )
        .order_by(Event.id.desc())
        .limit(1)
    )
    before = session.scalars(query).first()
    if before is None or before.type == event.type or _move(before) != _move(event):
        return False
    found = select(Event.id).filter_by(idempotency_key=notice_key(before.id))
    return session.scalars(found).first() is not None


def _move(event: Event) -> tuple[str | None, str | None]:
    data = _data(event)
    if event.type == "team_changed":
        return _slug(data.get("from")), _slug(data.get("to"))
    return _slug(data.get("from_team")), _slug(data.get("to_team") or data.get("to"))


def _is_member(session: Session, person_id: int, team_id: int) -> bool:
    query = select(Membership.person_id).filter_by(person_id=person_id, team_id=team_id)
    return session.scalars(query).first() is not None


def _is_staff(session: Session, person_id: int) -> bool:
    query = select(PersonRole.role).where(
        PersonRole.person_id == person_id, PersonRole.role.in_(STAFF_ROLES)
    )
    return session.scalars(query).first() is not None


# --------------------------------------------------------------- message ---


def _message(session: Session, event: Event, item: WorkItem) -> tuple[str, str]:
    data = _data(event)

    def names(slug: object) -> str:
        return _team_name(session, slug)

    if event.type == "team_changed":
        what = f"Moved from {names(data.get('from'))} to {names(data.get('to'))}"
    elif event.type in ("escalated", "de_escalated"):
        verb = "Escalated" if event.type == "escalated" else "De-escalated"
        source = data.get("from_team") or _team_slug(session, event.team_id)
        what = f"{verb} from {names(source)} to {names(data.get('to_team') or data.get('to'))}"
    elif event.type == "resolved":
        what = f"Resolved by {names(data.get('team') or _team_slug(session, event.team_id))}"
    elif event.type == "status_changed":
        what = _status_change(data)
    else:
        what = "Public comment added" if data.get("public") else "Internal comment added"
    actor = session.get(Person, event.actor_id) if event.actor_id is not None else None
    reference = item.reference or f"#{item.id}"
    lines = [f"{what}{f' by {actor.name}' if actor else ''}."]
    reason = data.get("reason")
    if isinstance(reason, str) and reason.strip():
        lines.append(f"Reason: {reason.strip()}")
    lines += [
        "",
        f"Your team owns {reference} ({item.title}) until it is closed.",
        f"See /items/{item.id}",
    ]
    return f"[{reference}] {what}"[:300], "\n".join(lines)


def _status_change(data: Mapping[str, Any]) -> str:
    if data.get("field") == "closed":
        return "Closed" if data.get("to") else "Reopened"
    return f"Status changed from {data.get('from') or 'none'} to {data.get('to') or 'none'}"


def _team_name(session: Session, slug: object) -> str:
    """A team's name by slug; an unknown slug is shown as it is."""
    if not isinstance(slug, str) or not slug:
        return "no team"
    return session.scalars(select(Team.name).filter_by(slug=slug)).first() or slug


def _team_slug(session: Session, team_id: int | None) -> str | None:
    return session.scalars(select(Team.slug).filter_by(id=team_id)).first() if team_id else None


def _data(event: Event) -> Mapping[str, Any]:
    return event.data if isinstance(event.data, Mapping) else {}


def _slug(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
