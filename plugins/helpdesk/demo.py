"""The help desk's share of the demo IT department: tiers, agents, requesters, categories."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from engine.demo import ensure_person, ensure_team, get_or_create
from plugins.helpdesk import demo_assignment, demo_sla
from plugins.helpdesk.models import Category
from plugins.helpdesk.priority import seed_default

TEAMS = [
    ("helpdesk-l1", "Help desk (L1)", "L1", "First contact for every request; owns it to closure."),
    ("desktop-support", "Desktop support (L2)", "L2", "Hardware, devices and on-site visits."),
    ("analysts", "Application analysts (L2)", "L2", "Business applications and accounts."),
    ("network-l3", "Network experts (L3)", "L3", "LAN, Wi-Fi, VPN and firewalls."),
    ("applications-l3", "Application experts (L3)", "L3", "ERP, e-mail and the data platform."),
]

# email, name, level, hourly cost rate, weekly capacity (hours), {team: role}
STAFF = [
    ("hannah.lee", "Hannah Lee", "L1", "38.00", 40, {"helpdesk-l1": "lead"}),
    ("omar.haddad", "Omar Haddad", "L1", "35.00", 40, {"helpdesk-l1": "member"}),
    ("priya.raman", "Priya Raman", "L1", "35.00", 32, {"helpdesk-l1": "member"}),
    ("diego.santos", "Diego Santos", "L2", "48.00", 40, {"desktop-support": "lead"}),
    ("mei.chen", "Mei Chen", "L2", "45.00", 40, {"desktop-support": "member"}),
    ("samuel.okafor", "Samuel Okafor", "L2", "52.00", 40, {"analysts": "lead"}),
    ("ingrid.novak", "Ingrid Novak", "L3", "70.00", 40, {"network-l3": "lead"}),
    ("tomas.berg", "Tomas Berg", "L3", "72.00", 36, {"applications-l3": "lead"}),
]

REQUESTERS = [
    ("alice.moreau", "Alice Moreau"),
    ("bob.fischer", "Bob Fischer"),
    ("chloe.dubois", "Chloé Dubois"),
]

FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Emma", "Finn", "Greta", "Hugo", "Ida", "Jakob",
    "Katrin", "Lars", "Mila", "Nils", "Olga", "Paul", "Rosa", "Stefan", "Tara", "Uwe",
)  # fmt: skip
LAST_NAMES = ("Becker", "Costa", "Jansen", "Kowalski", "Lange", "Meyer", "Okoye", "Rossi",
              "Schulz", "Vogel", "Yildiz", "Zimmermann")  # fmt: skip
DEPARTMENT_SIZE = 60
"""Requesters of the demo department: the three above and colleagues named from the lists."""

MANAGERS = [("maria.keller", "Maria Keller")]
"""Line managers of the business who approve access requests (the role ``manager``)."""


def colleagues() -> list[tuple[str, str]]:
    """The demo department's requesters: :data:`REQUESTERS`, then names from the two lists."""
    found = list(REQUESTERS)
    for number in range(DEPARTMENT_SIZE - len(REQUESTERS)):
        first = FIRST_NAMES[number % len(FIRST_NAMES)]
        last = LAST_NAMES[(number * 7 + number // len(FIRST_NAMES)) % len(LAST_NAMES)]
        found.append((f"{first}.{last}".lower(), f"{first} {last}"))
    return found


CATEGORIES = [
    ("hardware", "Hardware", "desktop-support"),
    ("software", "Software", "analysts"),
    ("network", "Network", "network-l3"),
    ("access", "Access and accounts", "analysts"),
]

DOMAIN = "example.org"


def load(session: Session) -> None:
    teams = {
        slug: ensure_team(session, slug, name=name, tier=tier, description=about)
        for slug, name, tier, about in TEAMS
    }
    for user, name, level, rate, hours, memberships in STAFF:
        ensure_person(
            session,
            f"{user}@{DOMAIN}",
            name=name,
            level=level,
            cost_rate=Decimal(rate),
            weekly_capacity_minutes=hours * 60,
            is_staff=True,
            roles={"agent"},
            teams=memberships,
        )
    for user, name in colleagues():
        ensure_person(session, f"{user}@{DOMAIN}", name=name, roles={"requester"})
    for user, name in MANAGERS:
        ensure_person(session, f"{user}@{DOMAIN}", name=name, roles={"manager", "requester"})
    for slug, name, team in CATEGORIES:
        get_or_create(
            session, Category, slug=slug, defaults={"name": name, "default_team_id": teams[team].id}
        )
    seed_default(session)  # the impact x urgency matrix, as an administrator would start it
    demo_assignment.load(session, DOMAIN)
    demo_sla.load(session)
