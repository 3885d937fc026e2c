"""Demo data from every plugin: an IT department, loaded idempotently."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from engine.db import make_session_factory
from engine.demo import load_demo_data
from engine.model import Membership, Person, Team, WorkItem
from engine.plugins import create_plugin_manager


def test_demo_is_an_it_department_and_loading_twice_adds_nothing(db_engine: Engine) -> None:
    pm = create_plugin_manager()
    sessions = make_session_factory(db_engine)
    added = load_demo_data(pm, sessions)
    assert added["team"] >= 6
    assert added["person"] >= 14
    assert added["team_membership"] >= 10
    assert load_demo_data(pm, sessions) == {}

    with sessions() as session:
        tiers = dict(session.execute(select(Team.slug, Team.tier)).all())
        assert tiers["helpdesk-l1"] == "L1"
        assert tiers["desktop-support"] == "L2"
        assert tiers["network-l3"] == tiers["applications-l3"] == "L3"
        assert tiers["pmo"] == "PMO"
        staff = session.scalars(select(Person).where(Person.is_staff)).all()
        assert {p.level for p in staff} >= {"L1", "L2", "L3"}
        assert all(p.cost_rate > 0 and p.weekly_capacity_minutes > 0 for p in staff)
        leads = session.scalar(
            select(func.count()).select_from(Membership).where(Membership.role == "lead")
        )
        assert leads >= 5
        project = session.scalars(select(WorkItem).filter_by(reference="PRJ-0001")).one()
        assert [child.title for child in project.children] == [
            "Pilot group",
            "Wave 1: head office",
            "Wave 2: branches",
        ]
        assert "project_manager" in project.assignee.role_names
