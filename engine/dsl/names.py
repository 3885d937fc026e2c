"""Names a workflow uses outside its steps' graph: actions, forms, teams, roles, people.

Checked here: unknown actions, forms, teams (where the catalog lists them),
roles, recipients and called workflows, each with "did you mean …?"; the start
form; and the schedule's cron expression and time zone.
"""

from __future__ import annotations

from functools import cache
from zoneinfo import available_timezones

from engine.dsl.cron import cron_problems
from engine.dsl.expressions import is_template
from engine.dsl.loader import PathKey
from engine.dsl.outline import Findings, Known, Outline, Placed
from engine.dsl.spec import RECIPIENT_HELP, Assignee, Message
from engine.dsl.suggest import did_you_mean

RECIPIENTS = ("requester", "assignee", "owner_team", "current_team")


def check_names(outline: Outline, known: Known, findings: Findings) -> None:
    """Report the unknown names ``outline`` uses to ``findings``."""
    names = Names(outline, known, findings)
    for placed in outline.placed:
        names.step(placed)
    names.start_and_schedule()


class Names:
    """The name checks of one workflow."""

    def __init__(self, outline: Outline, known: Known, findings: Findings) -> None:
        self.outline, self.known, self.findings = outline, known, findings
        self.catalog = known.catalog

    def add(self, path: PathKey, message: str) -> None:
        self.findings.add(path, message)

    def step(self, placed: Placed) -> None:
        step, path = placed.step, placed.path
        if step.task is not None:
            self.form(step.task.form, (*path, "task", "form"), placed.name)
            self.assignee(step.task, (*path, "task"), placed.name)
            for index, rule in enumerate(step.task.overdue):
                rule_path = (*path, "task", "overdue", index)
                if rule.reassign is not None:
                    self.assignee(rule.reassign, (*rule_path, "reassign"), placed.name)
                if rule.notify is not None:
                    self.recipients(rule.notify, (*rule_path, "notify"), placed.name)
        if step.action is not None and step.action not in self.catalog.actions:
            hint = did_you_mean(step.action, self.catalog.actions)
            self.add((*path, "action"), f"unknown action '{step.action}' in {placed.name}{hint}")
        if step.notify is not None:
            self.recipients(step.notify, (*path, "notify"), placed.name)
        if step.call is not None and step.call.workflow not in self.known.workflows:
            name = step.call.workflow
            hint = did_you_mean(name, self.known.workflows)
            self.add(
                (*path, "call", "workflow"), f"unknown workflow '{name}' in {placed.name}{hint}"
            )

    def form(self, name: str, path: PathKey, where: str) -> None:
        if name not in self.known.form_names:
            hint = did_you_mean(name, self.known.form_names)
            self.add(path, f"unknown form '{name}' in {where}{hint}")

    def assignee(self, assignee: Assignee, path: PathKey, where: str) -> None:
        if assignee.team is not None:
            self.team(assignee.team, (*path, "team"), where)
        if assignee.role is not None:
            self.role(assignee.role, (*path, "role"), where)

    def team(self, team: str, path: PathKey, where: str) -> None:
        teams = self.catalog.teams
        if teams is not None and not is_template(team) and team not in teams:
            self.add(path, f"unknown team '{team}' in {where}{did_you_mean(team, teams)}")

    def role(self, role: str, path: PathKey, where: str) -> None:
        roles = self.catalog.roles
        if not is_template(role) and role not in roles:
            known = ", ".join(sorted(roles))
            hint = did_you_mean(role, roles)
            self.add(path, f"unknown role '{role}' in {where}{hint}: the roles are {known}")

    def recipients(self, message: Message, path: PathKey, where: str) -> None:
        for index, recipient in enumerate(message.to):
            at = (*path, "to", index)
            kind, colon, value = recipient.partition(":")
            if is_template(recipient) or (not colon and recipient in RECIPIENTS):
                continue
            if colon and kind in ("team", "role", "person") and value.strip():
                if kind == "team":
                    self.team(value.strip(), at, where)
                elif kind == "role":
                    self.role(value.strip(), at, where)
                continue
            hint = did_you_mean(recipient, RECIPIENTS)
            self.add(
                at, f"unknown recipient '{recipient}' in {where}{hint}: write {RECIPIENT_HELP}"
            )

    def start_and_schedule(self) -> None:
        start = self.outline.start
        if start is not None and start.form is not None:
            self.form(start.form, ("start", "form"), "'start'")
        schedule = self.outline.schedule
        if schedule is None:
            return
        for message in cron_problems(schedule.cron):
            self.add(("schedule", "cron"), message)
        zones = time_zones()
        if zones and schedule.timezone not in zones:
            self.add(
                ("schedule", "timezone"),
                f"unknown time zone '{schedule.timezone}'{did_you_mean(schedule.timezone, zones)}"
                ": use a name such as Europe/Berlin, America/New_York or UTC",
            )


@cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names this system knows."""
    return frozenset(available_timezones())
