"""A work item's events as sentences people read: the timeline of the work item page.

:func:`sentence` is pure: it turns one event's type, data and actor into text,
naming teams, people and tasks through :class:`Names`. :func:`for_requester`
says which events a requester sees (what happened to their request, not the
staff's internal workings). :func:`event_sentence` is the same for a stored
event, asking the plugins (``tierflow_describe_event``) for the words of an
event type the engine does not know before falling back to its type and data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from engine.errors import PluginError

if TYPE_CHECKING:
    from engine.model import Event
    from engine.plugins import PluginManager

LONGEST_VALUE = 200
"""Values shown in a sentence are cut to this many characters."""

REQUESTER_EVENTS = frozenset(
    {"created", "status_changed", "cancelled", "commented", "notified", "signalled"}
)
"""The event types a requester sees on their own item (internal comments excepted)."""


@dataclass(frozen=True)
class Names:
    """Display names for what events refer to by key: team slugs, e-mail addresses, task ids."""

    teams: Mapping[str, str] = field(default_factory=dict)
    people: Mapping[str, str] = field(default_factory=dict)
    tasks: Mapping[int, str] = field(default_factory=dict)

    def team(self, slug: object) -> str:
        return self.teams.get(str(slug), str(slug)) if slug not in (None, "") else "no team"

    def person(self, email: object) -> str:
        return self.people.get(str(email), str(email)) if email not in (None, "") else "nobody"

    def task(self, data: Mapping[str, Any]) -> str:
        task_id, step = data.get("task"), data.get("step")
        title = self.tasks.get(task_id) if isinstance(task_id, int) else None
        return f"Task '{title or step or task_id or '?'}'"


@dataclass(frozen=True)
class Moment:
    """A point in time as the page prints it: ``iso`` for ``<time datetime>``, ``text`` to read."""

    iso: str
    text: str


def moment(value: datetime) -> Moment:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    aware = aware.astimezone(UTC)
    return Moment(aware.isoformat(), aware.strftime("%Y-%m-%d %H:%M UTC"))


def for_requester(type: str, data: Mapping[str, Any], requester_email: str | None) -> bool:
    """Whether a requester sees an event of ``type`` with ``data`` on their own item."""
    if type not in REQUESTER_EVENTS:
        return False
    if type == "commented":
        return data.get("public") is True
    if type == "notified":
        return data.get("to") in ("requester", requester_email) and requester_email is not None
    return True


def sentence(
    type: str,
    data: object,
    actor: str | None = None,
    names: Names | None = None,
    described: str | None = None,
) -> str:
    """What happened, in one sentence: ``Escalated to Desktop support by Hannah Lee — reason: …``.

    ``actor`` is who did it (if anyone); ``names`` turns slugs, addresses and
    task ids into names. An event type the engine does not know reads as
    ``described`` (a plugin's words for it) or, without, its type and data.
    """
    names = names or Names()
    details: Mapping[str, Any] = data if isinstance(data, Mapping) else {"value": data}
    write = _SENTENCES.get(type)
    text = write(details, names) if write is not None else described or _generic(type, details)
    if actor:
        text += f" by {actor}"
    reason = details.get("reason")
    if reason and type in _WITH_REASON:
        text += f" — reason: {_show(reason)}"
    if type == "task_completed" and details.get("outcome"):
        text += f" — outcome: {_show(details['outcome'])}"
    return text


def event_sentence(event: Event, names: Names, pm: PluginManager | None = None) -> str:
    """:func:`sentence` for a stored event; plugins describe the types the engine does not know.

    The plugins are asked (``tierflow_describe_event``, the first answer wins)
    only for such a type; an answer that is not text is an error naming the hook.
    """
    described = None
    if pm is not None and event.type not in _SENTENCES:
        described = pm.call("tierflow_describe_event", event=event)
        if described is not None and not isinstance(described, str):
            raise PluginError(
                f"tierflow_describe_event returned {described!r} for a '{event.type}' event; "
                "expected text or None"
            )
    actor = event.actor.name if event.actor is not None else None
    return sentence(event.type, event.data, actor, names, described=described or None)


# ----------------------------------------------------------- each type ---


CHANNEL_WORDS = {
    "portal": "through the portal",
    "api": "through the API",
    "phone": "from a phone call",
    "email": "from an e-mail",
}
"""How an item came in, as the timeline says it; other channels read "through the <channel>"."""


def _created(data: Mapping[str, Any], names: Names) -> str:
    channel = data.get("channel")
    if not channel:
        return "Created"
    return f"Created {CHANNEL_WORDS.get(channel) or 'through the ' + _show(channel)}"


def _changed(what: str, show: Callable[[Any], str]) -> Callable[[Mapping[str, Any], Names], str]:
    def write(data: Mapping[str, Any], names: Names) -> str:
        old, new = data.get("from"), data.get("to")
        if old in (None, ""):
            return f"{what} set to {show(new)}"
        if new in (None, ""):
            return f"{what} cleared (was {show(old)})"
        return f"{what} changed from {show(old)} to {show(new)}"

    return write


def _status(data: Mapping[str, Any], names: Names) -> str:
    if data.get("field") == "closed":
        return "Closed" if data.get("to") else "Reopened"
    return _changed("Status", _show)(data, names)


def _team_change(what: str) -> Callable[[Mapping[str, Any], Names], str]:
    def write(data: Mapping[str, Any], names: Names) -> str:
        return _changed(what, names.team)(data, names)

    return write


def _assigned(data: Mapping[str, Any], names: Names) -> str:
    if data.get("to") in (None, ""):
        return "Unassigned" + (f" (was {names.person(data['from'])})" if data.get("from") else "")
    return f"Assigned to {names.person(data['to'])}"


def _updated(data: Mapping[str, Any], names: Names) -> str:
    what = str(data.get("field") or "details")
    if what == "custom":
        old, new = data.get("from"), data.get("to")
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            keys = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
            return "Fields changed: " + (", ".join(map(_show, keys)) or "none")
        return "Fields changed"
    if what == "due_at":
        return _changed("Due time", _when)(data, names)
    return _changed(what.replace("_", " ").capitalize(), _show)(data, names)


def _handed(verb: str) -> Callable[[Mapping[str, Any], Names], str]:
    """An escalation's sentence: ``to_team`` (``to`` in older events) names where it went."""

    def write(data: Mapping[str, Any], names: Names) -> str:
        return f"{verb} to {names.team(data.get('to_team') or data.get('to'))}"

    return write


def _task_opened(data: Mapping[str, Any], names: Names) -> str:
    if data.get("person"):
        whom = names.person(data["person"])
    elif data.get("team"):
        whom = names.team(data["team"])
    elif data.get("role"):
        whom = f"the {_show(data['role'])} role"
    else:
        whom = "nobody yet"
    due = f", due {_when(data['due_at'])}" if data.get("due_at") else ""
    return f"{names.task(data)} opened for {whom}{due}"


def _task_event(verb: str) -> Callable[[Mapping[str, Any], Names], str]:
    def write(data: Mapping[str, Any], names: Names) -> str:
        return f"{names.task(data)} {verb}"

    return write


def _task_reassigned(data: Mapping[str, Any], names: Names) -> str:
    to = data.get("to") if isinstance(data.get("to"), Mapping) else {}
    if to.get("person"):
        whom = names.person(to["person"])
    elif to.get("team"):
        whom = names.team(to["team"])
    else:
        whom = f"the {_show(to['role'])} role" if to.get("role") else "another queue"
    return f"{names.task(data)} moved to {whom}"


def _notified(data: Mapping[str, Any], names: Names) -> str:
    subject = f": “{_show(data['subject'])}”" if data.get("subject") else ""
    return f"Notification sent to {_show(data.get('to') or 'nobody')}{subject}"


def _commented(data: Mapping[str, Any], names: Names) -> str:
    return "Public comment added" if data.get("public") else "Internal comment added"


def _cancelled(data: Mapping[str, Any], names: Names) -> str:
    return "Cancelled"


def _signalled(data: Mapping[str, Any], names: Names) -> str:
    return f"Signal {_show(data.get('signal') or 'unnamed')} sent"


def _generic(type: str, data: Mapping[str, Any]) -> str:
    what = type.replace("_", " ").replace(".", " ").strip().capitalize() or "Event"
    shown = ", ".join(f"{_show(key)}: {_show(value)}" for key, value in data.items())
    return f"{what} ({shown})" if shown else what


def _show(value: object) -> str:
    """``value`` as short text: strings as they are, anything else as JSON, cut when long."""
    if isinstance(value, str):
        text = value
    elif value is None:
        text = "nothing"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    else:
        text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    text = " ".join(text.split())
    return text if len(text) <= LONGEST_VALUE else text[: LONGEST_VALUE - 1] + "…"


def _when(value: object) -> str:
    try:
        return moment(datetime.fromisoformat(str(value))).text
    except ValueError:
        return _show(value)


_SENTENCES: dict[str, Callable[[Mapping[str, Any], Names], str]] = {
    "created": _created,
    "status_changed": _status,
    "priority_changed": _changed("Priority", _show),
    "owner_changed": _team_change("Owner team"),
    "team_changed": _team_change("Current team"),
    "assigned": _assigned,
    "updated": _updated,
    "escalated": _handed("Escalated"),
    "de_escalated": _handed("De-escalated"),
    "task_opened": _task_opened,
    "task_completed": _task_event("completed"),
    "task_cancelled": _task_event("cancelled"),
    "task_claimed": _task_event("claimed"),
    "task_unassigned": _task_event("given back to its team's queue"),
    "task_reassigned": _task_reassigned,
    "notified": _notified,
    "commented": _commented,
    "cancelled": _cancelled,
    "signalled": _signalled,
}

_WITH_REASON = frozenset({"escalated", "de_escalated", "task_cancelled", "cancelled"})
