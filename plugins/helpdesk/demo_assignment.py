"""The demo department's assignment rules and agents' skills (after the teams and categories).

The help desk takes turns (round robin), desktop support gives work to whoever
has least, the analysts match the ticket's category; the L3 teams claim by hand.
Loading twice changes nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.demo import get_or_create
from engine.model import Person, Team
from plugins.helpdesk.models import AssignmentRule, Category, Skill

RULES = {
    "helpdesk-l1": "round_robin",
    "desktop-support": "least_loaded",
    "analysts": "skill_match",
    "network-l3": "manual",
    "applications-l3": "manual",
}

# e-mail address (at the demo domain), the category slugs they are skilled in
SKILLS = {
    "hannah.lee": ("access", "software"),
    "omar.haddad": ("hardware", "network"),
    "priya.raman": ("access",),
    "diego.santos": ("hardware", "network"),
    "mei.chen": ("hardware",),
    "samuel.okafor": ("software", "access"),
    "ingrid.novak": ("network",),
    "tomas.berg": ("software",),
}


def load(session: Session, domain: str = "example.org") -> None:
    """Add the demo's rules and skills for the teams, people and categories that exist."""
    for slug, rule in RULES.items():
        team_id = session.scalar(select(Team.id).filter_by(slug=slug))
        if team_id is not None:
            get_or_create(session, AssignmentRule, team_id=team_id, defaults={"rule": rule})
    categories = dict(session.execute(select(Category.slug, Category.id)).tuples().all())
    for user, slugs in SKILLS.items():
        person_id = session.scalar(select(Person.id).filter_by(email=f"{user}@{domain}"))
        if person_id is None:
            continue
        for slug in slugs:
            if slug in categories:
                get_or_create(session, Skill, person_id=person_id, category_id=categories[slug])
