"""A NUL character or bytes that are not UTF-8 in an address are refused up front (400)."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.web.hygiene import NOT_TEXT, NUL
from tests.web.conftest import sign_in
from tests.web.everyone import World


@pytest.fixture
def admin(full_app: Starlette, everyone: World) -> TestClient:
    client = TestClient(full_app, raise_server_exceptions=False, follow_redirects=False)
    sign_in(client, everyone.people["admin"])
    return client


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("/tasks?q=%00", NUL),
        ("/tasks?view=team&q=abc%00def", NUL),
        ("/portal?show=%00", NUL),
        ("/admin/people?q=a%00", NUL),
        ("/items/1%00", NUL),
        ("/tasks?q=%ff%fe", NOT_TEXT),
    ],
)
def test_pages_refuse_an_address_that_is_not_text(
    admin: TestClient, target: str, message: str
) -> None:
    reply = admin.get(target)
    assert reply.status_code == 400
    assert message in reply.text
    assert "text/html" in reply.headers["content-type"]


def test_the_api_refuses_it_in_json(admin: TestClient) -> None:
    reply = admin.get("/api/tasks?team=%00")
    assert reply.status_code == 400
    assert reply.json() == {"error": NUL, "status": 400}


def test_ordinary_addresses_pass(admin: TestClient) -> None:
    assert admin.get("/tasks?q=caf%C3%A9+100%25").status_code == 200
    assert admin.get("/admin/people?q=o%27brien").status_code == 200
