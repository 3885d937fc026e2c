"""SLA warnings and breaches come with a body: the ticket, each target and its due, who has it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.model import Team
from tests.helpdesk.test_sla import (  # noqa: F401 (the actions fixture)
    _act,
    _calendar,
    _item,
    _policy,
    actions,
)


def test_a_tick_that_records_breaches_says_what_who_and_by_when(
    session: Session,
    actions,  # noqa: F811
) -> None:
    sla, _ = actions
    _policy(session, _calendar(session), "Default")
    desk = Team(slug="helpdesk-l1", name="Help desk", tier="L1")
    ds = Team(slug="desktop-support", name="Desktop support", tier="L2")
    session.add_all([desk, ds])
    session.flush()
    item = _item(session, priority=2, reference="TIC-00007", owner_team_id=desk.id,
                 current_team_id=ds.id)  # fmt: skip
    sla.sla_start(_act(item, "sla", **{"from": "2026-06-01T09:00:00+02:00"}))  # long ago

    tick = sla.sla_tick(_act(item, "tick"))

    assert tick["breached"] == ["resolution", "response"]
    assert tick["notice"].splitlines() == [
        'TIC-00007 "VPN" (priority 2)',
        "The resolution target (due 2026-06-01 15:00 UTC) was breached.",
        "The response target (due 2026-06-01 08:00 UTC) was breached.",
        "It is with Desktop support; Help desk owns it.",
    ]
    assert sla.sla_tick(_act(item, "tick_again"))["notice"] == "", "nothing new: nothing to say"
