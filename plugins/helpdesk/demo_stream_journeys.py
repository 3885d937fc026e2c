"""One demo ticket's way through the help desk: its intake data and the acts people take.

:func:`ticket` builds a :class:`~plugins.helpdesk.demo_stream.TicketPlan`
from a :class:`Journey` (fixed choices: the first tickets of the stream and
the ones still open) or from the ticket's own random generator. Each act
waits some business time after the one before, longer at busy times and at
the second and third line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from plugins.helpdesk.demo_stream import (
    CATEGORIES,
    CHANNELS,
    DEPARTMENTS,
    EFFORT,
    IMPACT,
    NEW_PEOPLE,
    REPLY,
    SECOND_LINE,
    SUMMARIES,
    SYSTEMS,
    THIRD_LINE,
    TYPES,
    URGENCY,
    Act,
    TicketPlan,
    Window,
)
from plugins.helpdesk.priority import DEFAULT_MATRIX

PICKUP = {1: (5, 25), 2: (10, 50), 3: (20, 200), 4: (60, 420)}
"""Business minutes from arrival until the help desk takes a ticket, by priority."""
LATE = (70, 150)
"""When a ticket is taken late: past the response target of priorities 1 and 2."""
FIX = {"desktop-support": (30, 300), "analysts": (60, 600), "L3": (240, 1300)}
ON_SITE = (120, 900)


@dataclass(frozen=True)
class Journey:
    """Fixed choices for a ticket; what is left ``None`` is drawn at random.

    ``path`` is the way through the lines (``phone``, ``l1``, ``no_answer``,
    ``second``, ``give_back``, ``third``, ``refused``); ``closing`` how it ends
    (``confirm``, ``silence``, ``reopen``); ``stop_after`` cuts the acts after
    that many (a ticket left open), ``hours_back`` places its arrival that many
    business hours before the anchor.
    """

    name: str
    request_type: str
    channel: str
    category: str | None = None
    path: str | None = None
    closing: str | None = None
    impact: str | None = None
    urgency: str | None = None
    mode: str | None = None
    stop_after: int | None = None
    hours_back: float = 0.0
    busy: bool = False
    late: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


JOURNEYS = (
    Journey("resolved on the phone", "incident", "phone", "access", "phone"),
    Journey("first line fix", "incident", "portal", "software", "l1", "confirm"),
    Journey("on site visit", "incident", "api", "hardware", "second", "silence", mode="on_site"),
    Journey("analysts fulfil", "service_request", "portal", "software", "second", "confirm"),
    Journey("network experts", "incident", "portal", "network", "second", "confirm"),
    Journey("third line", "incident", "phone", "software", "third", "confirm"),
    Journey("given back", "service_request", "api", "hardware", "give_back", "confirm"),
    Journey("requester reopens", "incident", "portal", "software", "l1", "reopen"),
    Journey("access granted", "access_request", "portal", "access", "l1", "confirm"),
    Journey("access refused", "access_request", "api", "access", "refused"),
    Journey("new colleague", "new_hire", "portal", "access", "l1", "confirm"),
    Journey("leaver", "leaver", "api", "hardware", "l1", "silence"),
    Journey("no answer", "incident", "portal", "software", "no_answer"),
    Journey(
        "urgent and late", "incident", "portal", "hardware", "second", "confirm",
        impact="high", urgency="high", mode="remote", busy=True, late=True,
    ),
)  # fmt: skip
"""The first tickets of every stream, one journey each."""

OPEN_JOURNEYS = (
    Journey("waiting at the help desk", "incident", "portal", "hardware", "second",
            impact="medium", urgency="medium", stop_after=0, hours_back=7),  # P3: 4 h to answer
    Journey("just called", "service_request", "phone", "software", "l1",
            stop_after=0, hours_back=0.5),
    Journey("at desktop support", "incident", "portal", "hardware", "second",
            mode="remote", stop_after=1, hours_back=5),
    Journey("with the network experts", "incident", "api", "network", "second",
            stop_after=1, hours_back=12),
    Journey("asked the requester", "incident", "portal", "software", "no_answer",
            stop_after=1, hours_back=6),
    Journey("to confirm", "service_request", "portal", "software", "second", "confirm",
            stop_after=2, hours_back=9),
    Journey("awaiting approval", "access_request", "portal", "access", "l1",
            stop_after=0, hours_back=3),
    Journey("onboarding", "new_hire", "portal", "access", "l1", stop_after=1, hours_back=10),
)  # fmt: skip
"""The last tickets of every stream: left open where the working day left them."""


def pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


def random_journey(rng: random.Random) -> Journey:
    kind = pick(rng, TYPES)
    return Journey("random", kind, pick(rng, CHANNELS[kind]), busy=rng.random() < 0.08)


class _Acts:
    """The acts of one ticket, each some business time after the one before."""

    def __init__(self, window: Window, rng: random.Random, at: datetime, slow: float) -> None:
        self.window, self.rng, self.at, self.slow = window, rng, at, slow
        self.acts: list[Act] = []

    def wait(self, span: tuple[float, float]) -> None:
        self.at = self.window.after(self.at, self.rng.uniform(*span) * self.slow)

    def complete(self, step: str, outcome: str, **data: Any) -> None:
        effort = "on_site" if data.get("mode") == "on_site" else step
        low, high = EFFORT.get(effort, EFFORT["step"])
        minutes = self.rng.randint(low, high)
        pick = self.rng.randrange(997)
        self.acts.append(Act(self.at, "complete", step, outcome, data, pick, minutes))

    def signal(self, name: str, **data: Any) -> None:
        self.acts.append(Act(self.at, "signal", name, "", data))


def ticket(
    window: Window, number: int, arrival: datetime, journey: Journey, *, rng: random.Random,
    people: int,
) -> TicketPlan:  # fmt: skip
    """The plan of ticket ``number`` arriving at ``arrival`` along ``journey``."""
    kind = journey.request_type
    category = journey.category or pick(rng, CATEGORIES[kind])
    impact = journey.impact or pick(rng, IMPACT)
    urgency = journey.urgency or pick(rng, URGENCY)
    priority = DEFAULT_MATRIX[(impact, urgency)]
    path = journey.path or _path(rng, kind, journey.channel)
    data = _intake(rng, kind, category, arrival) | {"impact": impact, "urgency": urgency}
    data |= journey.extra
    if path == "phone":
        data |= {"resolved_on_call": True, "resolution": "Talked the caller through it."}
    acts = _Acts(window, rng, arrival, 2.5 if journey.busy else 1.0)
    refused = _front(acts, kind, path)
    ends: datetime | None = acts.at
    if not refused and path != "phone":
        pickup = LATE if journey.late else PICKUP[priority]
        ends = _lines(acts, category, pickup, path, journey.mode)
        if ends is None:  # resolved: the help desk closes with the requester
            ends = _closing(acts, journey.closing, rng)
    done = list(acts.acts)
    if journey.stop_after is not None:
        done, ends = done[: journey.stop_after], None
    return TicketPlan(
        number, kind, journey.channel, rng.randrange(people), arrival, data,
        journey.name if journey.name != "random" else path, tuple(done), ends,
        logged_by=rng.randrange(97), call_minutes=rng.randint(*EFFORT["call"]),
    )  # fmt: skip


def _path(rng: random.Random, kind: str, channel: str) -> str:
    if channel == "phone" and kind in ("incident", "service_request") and rng.random() < 0.45:
        return "phone"
    if kind == "access_request" and rng.random() < 0.1:
        return "refused"
    roll = rng.random()
    if roll < 0.60:
        return "l1"
    if roll < 0.63:
        return "no_answer"
    return "second" if roll < 0.87 else ("give_back" if roll < 0.93 else "third")


def _front(acts: _Acts, kind: str, path: str) -> bool:
    """The steps before the help desk's triage; True when the request is refused there."""
    if kind == "access_request":
        acts.wait((30, 600))
        if path == "refused":
            acts.complete("approval", "refused", comment="Not needed for this role.")
            return True
        acts.complete("approval", "approved", comment="")
    elif kind in ("new_hire", "leaver"):
        first, second = (
            ("create_accounts", "prepare_workstation")
            if kind == "new_hire"
            else ("close_accounts", "collect_equipment")
        )
        acts.wait((20, 150))  # within the help desk's response time, which runs meanwhile
        acts.complete(first, "done", note="Done as asked.")
        acts.wait((10, 60))
        acts.complete(second, "done", note="Done as asked.")
    return False


def _lines(
    acts: _Acts, category: str, pickup: tuple[float, float], path: str, mode: str | None
) -> datetime | None:
    """Triage and whatever follows it until resolved (``None``), or the end when unanswered."""
    acts.wait(pickup)
    triage: dict[str, Any] = {"category": category, "diagnosis": "Checked with the requester."}
    if path == "l1":
        acts.complete("triage", "resolved", **triage)
        return None
    if path == "no_answer":
        acts.complete("triage", "need_info", **triage, question="Which device is it?")
        return acts.window.business_days_after(acts.at, 5)
    team = SECOND_LINE[category]
    acts.complete("triage", "escalate", **triage, escalate_to=team, reason=f"Needs {team}.")
    step = "desktop_fix" if team == "desktop-support" else "expert_fix"
    acts.wait(FIX.get(team, FIX["L3"]))
    work: dict[str, Any] = {"resolution": "Fixed it.", "l1_capable": acts.rng.random() < 0.2}
    if step == "desktop_fix":
        mode = mode or ("on_site" if acts.rng.random() < 0.4 else "remote")
        work["mode"] = mode
        if mode == "on_site":
            acts.wait(ON_SITE)
    if path == "give_back":
        acts.complete(step, "back_to_l1", **work | {"resolution": "A first-line fix: see notes."})
        acts.wait((20, 120))
        acts.complete("triage", "resolved", **triage)
        return None
    if path == "third" and team != THIRD_LINE.get(category):
        further = THIRD_LINE.get(category, "applications-l3")
        acts.complete(step, "escalate", **work, escalate_to=further, reason="Needs the experts.")
        acts.wait(FIX["L3"])
        acts.complete("expert_fix", "fixed", resolution="Fixed at the third line.")
        return None
    acts.complete(step, "fixed", **work)
    return None


def _closing(acts: _Acts, closing: str | None, rng: random.Random) -> datetime:
    """From resolved to closed: the owner confirms, the requester reopens, or it closes alone."""
    closing = closing or ("reopen" if rng.random() < 0.06 else pick(rng, CLOSINGS))
    if closing == "reopen":
        acts.wait((60, 480))
        acts.signal(REPLY, comment="It happens again since this morning.")
        acts.wait((20, 120))
        acts.complete("triage", "resolved", category="software", diagnosis="Fixed for good.")
        closing = "confirm"
    resolved = acts.at
    silent_end = acts.window.business_days_after(resolved, 5)
    if closing == "silence" and silent_end < acts.window.anchor - timedelta(days=3):
        return silent_end
    acts.wait((30, 300))
    acts.complete("confirm", "confirmed", note="The requester says it works.")
    return acts.at


CLOSINGS = (("confirm", 60), ("silence", 40))


def _intake(rng: random.Random, kind: str, category: str, arrival: datetime) -> dict[str, Any]:
    summary = rng.choice(SUMMARIES[category])
    details = f"{summary}. Tried restarting; it did not help."
    if kind == "incident":
        return {"summary": summary, "details": details}
    if kind == "service_request":
        what = {"hardware": "equipment", "software": "software"}.get(category, "setting")
        return {"summary": summary, "what": what, "details": details}
    if kind == "access_request":
        system = rng.choice(SYSTEMS)
        return {
            "summary": f"Access to {system}", "system": system,
            "level": rng.choice(("read", "write")), "details": "For my new tasks.",
        }  # fmt: skip
    person = rng.choice(NEW_PEOPLE)
    day = (arrival + timedelta(days=rng.randint(7, 14))).date().isoformat()
    if kind == "new_hire":
        return {
            "new_person": person, "start_date": day, "department": rng.choice(DEPARTMENTS),
            "accounts": ["email", rng.choice(("erp", "crm", "files"))], "workstation": "laptop",
        }  # fmt: skip
    email = person.lower().replace(" ", ".") + "@example.org"
    return {
        "leaver": person, "leaver_email": email, "last_day": day, "mailbox": "forward",
        "equipment": ["laptop", "badge"],
    }  # fmt: skip
