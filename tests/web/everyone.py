"""Everyone: a small department with a person of each kind and two of everything they own.

What the authorization matrix and the injection sweeps run against (the
``everyone`` fixture in ``tests/web/conftest.py``): two teams (the help desk
and desktop support), a requester, an agent and an open ticket with an open
task on each side, a project manager, a manager and an administrator; the
built-in plugins' workflows deployed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, Table, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette

from engine.db import create_db_engine
from engine.dsl.loader import LoadedWorkflow
from engine.model import Event, Membership, Person, Task, Team, WorkItem
from engine.plugins import PluginManager
from engine.workflows import check_all, deploy
from plugins.helpdesk.inbound.models import InboundAttachment, InboundMessage
from plugins.helpdesk.kb.models import Article
from plugins.helpdesk.mail.models import OutboxMail
from plugins.helpdesk.models import Calendar, Category, DayOff, SlaPolicy

NOT_LOGGED = frozenset({"web_session", "api_token", "sign_in_failure"})
"""Tables a request may write whoever makes it (session bookkeeping), left out of snapshots."""


@dataclass
class World:
    people: dict[str, Person]
    items: dict[str, WorkItem]
    tasks: dict[str, Task]
    teams: dict[str, Team]
    others: dict[str, int] = field(default_factory=dict)
    """Ids of the plugins' own objects that routes name, by the route parameter."""


def build(session: Session, app: Starlette, make_person: Any, make_team: Any) -> World:
    """Two teams, a person of each kind, items A and B each with an open task (committed).

    Item A also has an open task for the manager role (``tasks["role"]``, variant ``role``).
    """
    teams = {
        "own": make_team(slug="helpdesk-l1", name="Help desk", tier="L1"),
        "other": make_team(slug="desktop-support", name="Desktop support", tier="L2"),
    }
    for slug, tier in (("analysts", "L2"), ("network-l3", "L3"), ("applications-l3", "L3")):
        make_team(slug=slug, name=slug.title(), tier=tier)  # the shipped workflows name them
    roles = {
        "requester": {"requester"},
        "other_requester": {"requester"},
        "agent": {"agent"},
        "other_agent": {"agent"},
        "project_manager": {"project_manager"},
        "manager": {"manager"},
        "admin": {"admin"},
    }
    people = {
        name: make_person(email=f"{name}@example.org", name=name.title(), roles=granted,
                          cost_rate=Decimal("40.00"))
        for name, granted in roles.items()
    }  # fmt: skip
    session.add(Membership(team_id=teams["own"].id, person_id=people["agent"].id))
    session.add(Membership(team_id=teams["other"].id, person_id=people["other_agent"].id))
    items, tasks = {}, {}
    for variant, requester in (("own", "requester"), ("other", "other_requester")):
        team = teams[variant]
        item = WorkItem(
            kind="ticket", type="incident", title=f"Item {variant}", status="open",
            reference=f"TIC-{variant}", requester_id=people[requester].id,
            owner_team_id=team.id, current_team_id=team.id, workflow_id=f"incident/{variant}",
        )  # fmt: skip
        session.add(item)
        session.flush()
        task = Task(
            work_item_id=item.id, workflow_id=item.workflow_id, step_id="triage",
            title="Triage", form="l1_triage", team_id=team.id,
        )  # fmt: skip
        session.add(task)
        items[variant], tasks[variant] = item, task
    tasks["role"] = Task(  # item A's approval, for whoever holds the manager role
        work_item_id=items["own"].id, workflow_id=items["own"].workflow_id, step_id="approval",
        title="Approve", role="manager",
    )  # fmt: skip
    session.add(tasks["role"])
    deploy(session, _shipped(session, app.state.pm), by="matrix")
    session.commit()
    others = helpdesk_objects(session) | mail_objects(session, items["own"])
    return World(people, items, tasks, teams, others | inbound_objects(session, items))


_SHIPPED: list[LoadedWorkflow] = []


def _shipped(session: Session, pm: PluginManager) -> list[LoadedWorkflow]:
    """The plugins' workflows, checked once a run (checking every file takes a second)."""
    if not _SHIPPED:
        checked = check_all(session, pm, Path("/nonexistent"))
        assert not checked.problems, checked.problems
        _SHIPPED.extend(checked.loaded)
    return _SHIPPED


def helpdesk_objects(session: Session) -> dict[str, int]:
    """A calendar with a day off, an SLA policy and a public article: what help desk pages name."""
    calendar = Calendar(slug="office", name="Office", timezone="Europe/Berlin")
    calendar.days_off.append(DayOff(day=date(2030, 12, 24), name="Christmas Eve"))
    session.add(calendar)
    session.flush()
    policy = SlaPolicy(
        name="Default", response_minutes=60, resolution_minutes=480, calendar_id=calendar.id
    )
    session.add(policy)
    article = Article(title="Reset your VPN token", body="Open the **self-service** page.",
                      visibility="public", status="published")  # fmt: skip
    session.add(article)
    category = Category(slug="network", name="Network")
    session.add(category)
    session.commit()
    return {
        "{article_id:int}": article.id,
        "{category_id:int}": category.id,
        "{calendar_id:int}": calendar.id,
        "{day_id:int}": calendar.days_off[0].id,
        "{policy_id:int}": policy.id,
    }


def fill(path: str, world: World, variant: str) -> str:
    """``path`` with its parameters naming the objects of ``variant``."""
    if variant not in world.items:  # a task of its own on item A ("role")
        variant, task = "own", world.tasks[variant]
    else:
        task = world.tasks[variant]
    values = {
        "{item_id:int}": world.items[variant].id,
        "{task_id:int}": task.id,
        "{person_id:int}": world.people["other_agent" if variant == "other" else "agent"].id,
        "{team_id:int}": world.teams[variant].id,
        "{name}": "incident",
        "{signal}": "requester_replied",
        "{request_type}": "incident",
        "{schedule_id:path}": "tierflow/incident",
        **world.others,
    }
    for name, value in values.items():
        path = path.replace(name, str(value))
    assert "{" not in path, f"the matrix does not know how to fill {path}"
    return "/static/tierflow.css" if path == "/static" else path


def snapshot(app: Starlette) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the session bookkeeping, to compare before and after."""
    with app.state.db.connect() as connection:
        return {
            table.name: sorted(map(tuple, connection.execute(select(table))), key=repr)
            for table in _tables(str(app.state.db.url))
            if table.name not in NOT_LOGGED
        }


@functools.cache
def _tables(url: str) -> list[Table]:
    """The tables of the run's database, reflected once (the schema does not change in a run)."""
    engine = create_db_engine(url)
    try:
        tables = MetaData()
        tables.reflect(engine)
    finally:
        engine.dispose()
    return list(tables.sorted_tables)


def mail_objects(session: Session, item: WorkItem) -> dict[str, int]:
    """A mail to item A's requester that could not be sent: what the outbox pages name."""
    event = Event(work_item_id=item.id, type="created")
    session.add(event)
    session.flush()
    mail = OutboxMail(
        work_item_id=item.id, event_id=event.id, kind="created", state="failed",
        to_address="requester@example.org", message_key=f"tierflow.{item.id}.matrix",
        last_error="the server answered 550 no such user",
    )  # fmt: skip
    session.add(mail)
    session.commit()
    return {"{mail_id:int}": mail.id}


def inbound_objects(session: Session, items: dict[str, WorkItem]) -> dict[str, int]:
    """A mail with a file for items A and B: a ticket's first file is ``attachments/1``."""
    for variant, item in items.items():
        mail = InboundMessage(message_id=f"<matrix.{variant}@example.org>", transport="smtp",
                              sender="requester@example.org", size=10, outcome="ticket",
                              work_item_id=item.id)  # fmt: skip
        session.add(mail)
        session.flush()
        session.add(InboundAttachment(message_id=mail.id, work_item_id=item.id, position=1,
                                      filename="photo.png", content_type="image/png", size=4,
                                      content=b"\x89PNG"))  # fmt: skip
    session.commit()
    return {"{number:int}": 1, "{inbound_id:int}": mail.id}
