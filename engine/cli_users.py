"""``tierflow users``: add people who sign in, list them, disable them, set passwords, make tokens.

Every command checks everything before it writes, in one transaction, so a
refused command changes nothing. Passwords are prompted for (twice, hidden) or
read from standard input with ``--password-stdin`` (one line), never taken as
an argument where other users of the machine could see them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine.cli_schedules import _data_dir
from engine.db import make_session_factory
from engine.dsl.suggest import did_you_mean
from engine.errors import TierflowError
from engine.model import LEVELS, ROLES, Person, Team
from engine.model.auth import issue_token
from engine.people import (
    EmailTaken,
    add_person,
    check_password,
    person_details,
    set_active,
    set_password,
    teams_by_slug,
)

if TYPE_CHECKING:
    from engine.cli import Context

# engine.workflows (migrations) is imported by the commands that use it, as the
# other command groups do: it would slow every tierflow command.


class UserError(TierflowError):
    """A ``tierflow users`` command was refused; nothing was changed."""


class NobodyYet(UserError):
    """The database has never been set up, so nobody has been added."""


@contextmanager
def _database(ctx: Context, *, create: bool) -> Iterator[Session]:
    """A session in one transaction on the configured database (migrated first if ``create``)."""
    from engine import workflows

    db = workflows.open_database(ctx.settings(), ctx.pm, migrate=create)
    if db is None:
        raise NobodyYet("nobody has been added yet: add someone with 'tierflow users add'")
    try:
        with make_session_factory(db).begin() as session:
            yield session
    finally:
        db.dispose()


def _person(session: Session, email: str) -> Person:
    person = session.scalars(select(Person).where(Person.email == email.lower())).one_or_none()
    if person is None:
        known = session.scalars(select(Person.email)).all()
        raise UserError(
            f"nobody has the e-mail {email!r}{did_you_mean(email.lower(), known)}; "
            "'tierflow users list' shows everyone"
        )
    return person


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return check_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _password_option(command):
    return click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from the first line of standard input instead of prompting.",
    )(command)


@click.group()
def users() -> None:
    """People who sign in: add, list, disable, enable, set passwords, make API tokens."""


@users.command()
@click.argument("email")
@click.option("--name", required=True, help="Full name, as shown on pages.")
@click.option(
    "--role",
    "roles",
    type=click.Choice(ROLES),
    multiple=True,
    help="A role to grant; repeat for several [default: requester].",
)
@click.option("--level", type=click.Choice(LEVELS), help="Support level of an agent.")
@click.option("--team", "teams", multiple=True, help="Slug of a team to join; repeat for several.")
@_password_option
@_data_dir
@click.pass_obj
def add(
    ctx: Context,
    email: str,
    *,
    name: str,
    roles: tuple[str, ...],
    level: str | None,
    teams: tuple[str, ...],
    password_stdin: bool,
) -> None:
    """Add the person EMAIL, who signs in with a password asked for now."""
    details = person_details(name=name, email=email, roles=roles or ("requester",), level=level)
    password = _password(password_stdin)
    with _database(ctx, create=True) as session:
        joined = teams_by_slug(session, teams)
        try:
            add_person(session, details, teams=joined, password=password)
        except EmailTaken as exc:
            raise UserError(
                f"{exc}; set their password with 'tierflow users password {exc.email}'"
            ) from None
    where = f" in {', '.join(team.slug for team in joined)}" if joined else ""
    granted = ", ".join(sorted(details.roles))
    click.echo(f"Added {details.name} <{details.email}> as {granted}{where}.")


@users.command("list")
@_data_dir
@click.pass_obj
def list_(ctx: Context) -> None:
    """Everyone, with roles, level, teams and whether they may sign in."""
    try:
        table = _people_table(ctx)
    except NobodyYet:
        click.echo("Nobody has been added yet; add someone with 'tierflow users add'.")
        return
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        click.echo(line.rstrip())


def _people_table(ctx: Context) -> list[tuple[str, ...]]:
    with _database(ctx, create=False) as session:
        people = session.scalars(
            select(Person)
            .options(selectinload(Person.roles), selectinload(Person.memberships))
            .order_by(Person.email)
        ).all()
        teams = dict(session.execute(select(Team.id, Team.slug)).tuples().all())
        table: list[tuple[str, ...]] = [("EMAIL", "NAME", "ROLES", "LEVEL", "TEAMS", "STATUS")]
        for person in people:
            status = "active" if person.active else "disabled"
            if person.active and person.password_hash is None:
                status = "no password"
            slugs = sorted(teams[membership.team_id] for membership in person.memberships)
            table.append(
                (
                    person.email,
                    person.name,
                    ",".join(sorted(person.role_names)) or "-",
                    person.level or "-",
                    ",".join(slugs) or "-",
                    status,
                )
            )
    return table


@users.command()
@click.argument("email")
@_data_dir
@click.pass_obj
def disable(ctx: Context, email: str) -> None:
    """Stop EMAIL signing in: ends their sessions; their API tokens stop working."""
    person, ended = _set_active(ctx, email, active=False)
    click.echo(f"Disabled {person.email}; ended {ended} session(s).")


@users.command()
@click.argument("email")
@_data_dir
@click.pass_obj
def enable(ctx: Context, email: str) -> None:
    """Let EMAIL sign in again (and their API tokens work again)."""
    person, _ = _set_active(ctx, email, active=True)
    click.echo(f"Enabled {person.email}.")


def _set_active(ctx: Context, email: str, *, active: bool) -> tuple[Person, int]:
    """Enable or disable ``email``; return them and how many sessions ended (disabling ends all)."""
    with _database(ctx, create=False) as session:
        person = _person(session, email)
        return person, set_active(session, person, active=active)


@users.command()
@click.argument("email")
@_password_option
@_data_dir
@click.pass_obj
def password(ctx: Context, email: str, password_stdin: bool) -> None:
    """Set the password of EMAIL; their sessions end, so they sign in again with it."""
    with _database(ctx, create=False) as session:
        person = _person(session, email)
        ended = set_password(session, person, _password(password_stdin))
    click.echo(f"Set the password of {person.email}; ended {ended} session(s).")


@users.command()
@click.argument("email")
@click.option("--name", required=True, help="What the token is for, e.g. 'monitoring'.")
@_data_dir
@click.pass_obj
def token(ctx: Context, email: str, name: str) -> None:
    """Make a personal API token for EMAIL and print it (it is shown only this once)."""
    if not name.strip():
        raise UserError("--name is empty: say what the token is for, e.g. --name monitoring")
    with _database(ctx, create=False) as session:
        person = _person(session, email)
        if not person.active:
            raise UserError(f"{person.email} is disabled: enable them first")
        raw = issue_token(session, person.id, name.strip())
    click.echo(raw)
    click.echo(
        f"API token {name.strip()!r} for {person.email}: store it now, it is not shown again. "
        "Send it as 'Authorization: Bearer <token>'.",
        err=True,
    )
