"""The demo help desk's ticket stream: the values a plan is made of, and its tables.

A :class:`TicketPlan` is one ticket of the stream: the intake (type, channel,
requester, the form's data, when it arrived) and the :class:`Act` values,
what people do to it and when. :mod:`plugins.helpdesk.demo_stream_plan`
makes the plans (pure and repeatable, from a seed), and
:mod:`plugins.helpdesk.demo_stream_run` plays them through the real
workflows. Times are UTC and fall in the working time of a :class:`Window`'s
business calendar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from plugins.helpdesk.calendar import Hours, add_business_time

REPLY = "requester_replied"
"""The signal a requester's reply sends (the workflows' ``signals:``)."""

TYPES = (
    ("incident", 55),
    ("service_request", 30),
    ("access_request", 9),
    ("new_hire", 3),
    ("leaver", 3),
)
CHANNELS = {
    "incident": (("portal", 45), ("phone", 35), ("api", 20)),
    "service_request": (("portal", 60), ("phone", 30), ("api", 10)),
    "access_request": (("portal", 85), ("api", 15)),
    "new_hire": (("portal", 90), ("api", 10)),
    "leaver": (("portal", 90), ("api", 10)),
}
CATEGORIES = {
    "incident": (("hardware", 40), ("software", 30), ("network", 20), ("access", 10)),
    "service_request": (("software", 50), ("hardware", 35), ("access", 15)),
    "access_request": (("access", 100),),
    "new_hire": (("access", 60), ("hardware", 40)),
    "leaver": (("access", 60), ("hardware", 40)),
}
SECOND_LINE = {
    "hardware": "desktop-support",
    "software": "analysts",
    "access": "analysts",
    "network": "network-l3",
}
THIRD_LINE = {"network": "network-l3", "software": "applications-l3"}
IMPACT = (("low", 60), ("medium", 30), ("high", 10))
URGENCY = (("low", 25), ("medium", 55), ("high", 20))
WEEKDAY_LOAD = {1: 1.3, 2: 1.1, 3: 1.0, 4: 1.0, 5: 0.8, 6: 0.1, 7: 0.05}
BUSY_DAY = (0.08, 2.2)
"""The share of busy days, and how many more tickets they bring (and how much slower)."""

SUMMARIES = {
    "hardware": ("Laptop does not start", "Docking station: no external screen",
                 "Printer on floor 2 jams", "Headset crackles in calls", "Second screen",
                 "Replacement laptop charger", "Keyboard keys stuck"),
    "software": ("Outlook keeps asking for the password", "ERP report times out",
                 "Excel crashes when saving", "Install a statistics package",
                 "Visio licence for the project", "CRM shows an error 500"),
    "network": ("VPN drops every few minutes", "No Wi-Fi in meeting room B",
                "Shared drive is very slow", "Cannot reach the intranet"),
    "access": ("Account locked", "Password expired while abroad", "MFA app lost",
               "Shared mailbox for the team", "Calendar delegation"),
}  # fmt: skip
EFFORT = {
    "triage": (5, 30),
    "desktop_fix": (20, 90),
    "on_site": (60, 180),
    "expert_fix": (30, 240),
    "confirm": (3, 10),
    "approval": (5, 15),
    "step": (30, 120),
    "call": (5, 20),
}
"""Minutes people log for what they do on a ticket (an on-site visit includes the journey)."""
SYSTEMS = ("files/finance", "ERP purchasing", "CRM reports", "files/hr", "data platform")
DEPARTMENTS = ("Finance", "Sales", "Marketing", "HR", "Operations", "Purchasing")
NEW_PEOPLE = ("Jana Novak", "Luca Bianchi", "Amira Haddad", "Felix Wagner", "Sofia Costa",
              "Noah Schmidt", "Elif Yilmaz", "Oskar Lind", "Maya Patel", "Jonas Weber")  # fmt: skip


@dataclass(frozen=True)
class Act:
    """What a person does at ``at``: completes the open task of ``step`` (``kind`` "complete")
    with ``outcome`` and ``data``, or sends the signal ``step`` (``kind`` "signal")."""

    at: datetime
    kind: str
    step: str
    outcome: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    pick: int = 0
    """Which member takes a task nobody holds yet (an index into its team or role)."""
    minutes: int = 0
    """The time the person logs for it on the ticket."""


@dataclass(frozen=True)
class TicketPlan:
    """One ticket: its intake, the acts on it, and when it is closed (``None``: it stays open)."""

    number: int
    request_type: str
    channel: str
    requester: int
    """Which demo requester asks (an index into them)."""
    arrival: datetime
    data: dict[str, Any]
    journey: str
    acts: tuple[Act, ...] = ()
    ends: datetime | None = None
    logged_by: int = 0
    """Which help desk agent logs a call (an index into the help desk's members)."""
    call_minutes: int = 0
    """The time that agent logs for the call."""

    def key(self, load: str) -> str:
        """The intake's idempotency key in the load named ``load`` (a run id names its key)."""
        return f"demo-{load}-{self.number:05d}"

    def done_by(self, moment: datetime) -> bool:
        """Whether its run has ended by ``moment`` (it belongs to the closed history)."""
        return self.ends is not None and self.ends < moment

    def acts_before(self, moment: datetime) -> tuple[Act, ...]:
        return tuple(act for act in self.acts if act.at < moment)


@dataclass(frozen=True)
class Window:
    """The stream's span: ``days`` up to ``anchor`` (now), on the business calendar ``hours``."""

    anchor: datetime
    days: int
    hours: Hours

    @property
    def start(self) -> datetime:
        return self.anchor - timedelta(days=self.days)

    def after(self, moment: datetime, minutes: float) -> datetime:
        """``minutes`` of business time after ``moment``."""
        return add_business_time(self.hours, moment, timedelta(minutes=minutes))

    def before(self, moment: datetime, minutes: float) -> datetime:
        """The moment ``minutes`` of business time before ``moment``."""
        left = timedelta(minutes=minutes)
        day = moment.astimezone(self.hours.zone).date()
        for _ in range(3660):
            interval = self.hours.interval(day)
            day -= timedelta(days=1)
            if interval is None or interval[0] >= moment:
                continue
            opens, closes = interval[0], min(interval[1], moment)
            if closes - opens >= left:
                return closes - left
            left -= closes - opens
            moment = opens
        raise ValueError("no working time in the ten years before the anchor")

    @property
    def day_length(self) -> timedelta:
        return datetime.combine(date.min, self.hours.day_end) - datetime.combine(
            date.min, self.hours.day_start
        )

    def business_days_after(self, moment: datetime, days: int) -> datetime:
        """As ``helpdesk.business_days_ahead`` counts: a business day is a working day's length."""
        return add_business_time(self.hours, moment, self.day_length * days)
