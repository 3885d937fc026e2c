"""Who a mail is from: the person with its From address, or a new requester made for it.

People are matched by their stored (lower-case) e-mail address. An unknown
sender becomes a person with the requester role and no password (they sign in
once an administrator sets one), through the engine's own rules
(:func:`engine.people.add_person`); the display name of the From header is
their name, else the address's local part.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.model import Person
from engine.people import EmailTaken, Invalid, add_person, person_details
from plugins.helpdesk.inbound.parse import Mail
from plugins.helpdesk.inbound.settings import InboundSettings


def requester(db: Session, mail: Mail, settings: InboundSettings) -> int | str:
    """The sender's person id, or why their mail is refused."""
    sender = mail.sender
    domain = sender.rpartition("@")[2]
    if settings.sender_domains and domain not in settings.sender_domains:
        taken = ", ".join(settings.sender_domains)
        return f"mail from {domain} is not taken (sender_domains: {taken})"
    person = db.scalars(select(Person).where(Person.email == sender)).first()
    if person is not None:
        return person.id if person.active else f"{sender}'s account is disabled"
    if not settings.create_requesters:
        return f"{sender} is nobody known here, and create_requesters is off"
    names = [mail.sender_name, sender.partition("@")[0]]
    for name in filter(None, names):
        try:
            with db.begin_nested():
                details = person_details(name=name, email=sender, roles={"requester"})
                return add_person(db, details).id
        except Invalid as exc:
            if "email" in exc.errors:
                return f"{sender} is not an address a person can have: {exc.errors['email']}"
        except EmailTaken:  # the same sender's other mail made them a moment ago
            taken = db.scalars(select(Person.id).where(Person.email == sender)).first()
            if taken is not None:
                return taken
    return f"no requester could be made for {sender}"
