"""Knowledge-base fixtures: the department of the authorization matrix with a small library.

``library`` adds articles to ``everyone`` (tests/web/everyone.py): published public
ones in two categories, an internal one and a public draft, and makes the agent of
item A a level 2 agent and the lead of no team. ``kb_client(viewer)`` is a signed-in
client on the app with every built-in plugin; it returns the client and its CSRF token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import pytest
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.demo import get_or_create
from plugins.helpdesk.kb.models import Article
from plugins.helpdesk.models import Category
from tests.web import conftest as web
from tests.web.conftest import sign_in
from tests.web.everyone import World

# the web tests' fixtures, for the tests of this folder
everyone = web.everyone
fast_passwords = web.fast_passwords
full_app = web.full_app
make_app = web.make_app


@dataclass
class Library:
    """The world, its articles, and plain ids (reading an expired row's id would begin a
    transaction in the test's session, and SQLite takes one writer at a time)."""

    world: World
    articles: dict[str, Article]
    categories: dict[str, int]
    teams: dict[str, int]
    people: dict[str, int]
    items: dict[str, int]
    ids: dict[str, int]
    """The articles' ids."""


ARTICLES = {
    "vpn": ("Reset your VPN token", "network", "public", "published",
            "Your **VPN** token expires every 90 days. Open the self-service page."),
    "wifi": ("Wi-Fi keeps dropping", "network", "public", "published",
             "Forget the guest network so the laptop stays on the corporate VPN-free Wi-Fi."),
    "printer": ("Printer paper jam", "hardware", "public", "published",
                "Open the rear door of the printer and remove torn paper."),
    "internal": ("VPN concentrator failover", "network", "internal", "published",
                 "Switch the DNS record of the VPN to the secondary concentrator."),
    "draft": ("Docking station firmware", "hardware", "public", "draft",
              "Update the dock firmware with the vendor tool."),
}  # fmt: skip


@pytest.fixture
def library(session: Session, everyone: World) -> Library:
    # the shared world may have some of these categories already (the categories admin's)
    categories = {
        slug: get_or_create(session, Category, slug=slug, defaults={"name": slug.title()})[0]
        for slug in ("network", "hardware")
    }
    made = {
        key: Article(title=title, category_id=categories[cat].id, visibility=visibility,
                     status=status, body=body)
        for key, (title, cat, visibility, status, body) in ARTICLES.items()
    }  # fmt: skip
    session.add_all(made.values())
    everyone.people["agent"].level = "L2"
    session.commit()
    library = Library(
        everyone, made, {slug: category.id for slug, category in categories.items()},
        teams={name: team.id for name, team in everyone.teams.items()},
        people={name: person.id for name, person in everyone.people.items()},
        items={name: item.id for name, item in everyone.items.items()},
        ids={name: article.id for name, article in made.items()},
    )  # fmt: skip
    session.rollback()  # the ids were read in a transaction: end it before the app writes
    return library


@pytest.fixture
def kb_client(
    full_app: Starlette, library: Library
) -> Iterator[Callable[[str], tuple[TestClient, str]]]:
    clients: list[TestClient] = []

    def open_as(viewer: str) -> tuple[TestClient, str]:
        client = TestClient(full_app, raise_server_exceptions=False, follow_redirects=False)
        client.__enter__()
        clients.append(client)
        return client, sign_in(client, SimpleNamespace(id=library.people[viewer]))

    yield open_as
    for client in clients:
        client.__exit__(None, None, None)
