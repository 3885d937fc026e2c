"""The web app: health with the failing part named, pages and API errors, plugin routes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from engine.config import Settings
from engine.contrib import NavItem, RequestType
from engine.db import create_db_engine
from engine.errors import PluginError
from engine.hookspecs import hookimpl
from engine.plugins import create_plugin_manager
from engine.web.app import create_app
from engine.web.temporal import TemporalLink
from tests.web.conftest import MakeApp, closed_port, sign_in


class Pages:
    @hookimpl
    def tierflow_register_routes(self):
        return [Route("/printers", lambda request: PlainTextResponse("printers page"))]

    @hookimpl
    def tierflow_register_navigation(self):
        return [NavItem("Printers", "/printers", order=5), NavItem("Zeta", "/z", order=1)]

    @hookimpl
    def tierflow_register_request_types(self):
        return [RequestType("printer", "Printer problem", workflow="incident", category="hardware")]

    @hookimpl
    def tierflow_register_template_dirs(self):
        return []


@pytest.fixture
def client(make_app: MakeApp) -> Iterator[TestClient]:
    with TestClient(make_app(("pages", Pages())), raise_server_exceptions=False) as test_client:
        yield test_client


def test_health_names_temporal_when_it_is_down(client: TestClient) -> None:
    started = time.monotonic()
    reply = client.get("/healthz")
    assert time.monotonic() - started < 5
    assert reply.status_code == 503
    body = reply.json()
    assert body["database"] == "ok"
    assert body["temporal"].startswith("error: ")


def test_health_names_the_database_when_it_is_down(tmp_path) -> None:
    pm = create_plugin_manager(entry_points=False)
    db = create_db_engine(f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/none")
    app = create_app(
        Settings(data_dir=tmp_path), pm, db=db, temporal=TemporalLink(address="127.0.0.1:1")
    )
    with TestClient(app) as test_client:
        reply = test_client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["database"].startswith("error: ")


def test_plugin_routes_navigation_and_request_types(
    client: TestClient, session: Session, make_person
) -> None:
    assert client.get("/printers").text == "printers page"
    home = client.get("/")
    assert home.status_code == 200
    assert ">Printers<" not in home.text  # navigation is for signed-in people
    person = make_person()
    session.commit()
    sign_in(client, person)
    home = client.get("/")
    assert home.text.index(">Zeta<") < home.text.index(">Printers<")
    assert "Printer problem" in home.text
    assert client.get("/api/request-types").json() == [
        {
            "name": "printer",
            "title": "Printer problem",
            "description": "",
            "category": "hardware",
            "workflow": "incident",
        }
    ]


def test_unknown_paths_answer_html_or_json(client: TestClient) -> None:
    page = client.get("/no-such-page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "text/html" in page.headers["content-type"]
    assert "<h1>404</h1>" in page.text
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404
    assert api.json() == {"error": "Not Found", "status": 404}


class Twin:
    @hookimpl
    def tierflow_register_request_types(self):
        return [RequestType("printer", "Printer", workflow="incident")]


class BadNavigation:
    @hookimpl
    def tierflow_register_navigation(self):
        return ["Printers"]


@pytest.mark.parametrize(
    ("plugins", "message"),
    [
        (
            [("one", Twin()), ("two", Twin())],
            r"plugin '(one|two)' contributes name 'printer' from tierflow_register_request_types, "
            r"which plugin '(one|two)' already contributes",
        ),
        (
            [("badnav", BadNavigation())],
            r"plugin 'badnav' returned 'Printers' \(str\) from tierflow_register_navigation; "
            r"expected NavItem",
        ),
    ],
)
def test_bad_contributions_stop_the_app_with_the_plugin_named(
    tmp_path, plugins, message: str
) -> None:
    pm = create_plugin_manager(entry_points=False, plugins=plugins)
    db = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(PluginError, match=message):
        create_app(Settings(data_dir=tmp_path), pm, db=db, temporal=TemporalLink(address="x:1"))


def test_pages_link_by_path_not_by_the_host_header(client: TestClient) -> None:
    page = client.get("/", headers={"host": "evil.example"})
    assert "evil.example" not in page.text
    assert 'href="/static/tierflow.css"' in page.text
