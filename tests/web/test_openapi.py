"""The OpenAPI document at /api/openapi.json: valid, public, and in step with the routes."""

from __future__ import annotations

import re

import jsonschema
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.web.access import route_policies

METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}


def api_routes(app: Starlette) -> set[tuple[str, str]]:
    """The ``(path, method)`` of every ``/api/`` route, converters dropped, HEAD left out."""
    return {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", path), method.lower())
        for path, method in route_policies(app)
        if path.startswith("/api/") and method != "HEAD"
    }


def documented(document: dict) -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
        if method in METHODS
    }


def test_the_document_is_public_and_valid_openapi_3_1(client: TestClient) -> None:
    reply = client.get("/api/openapi.json")
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    document = reply.json()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_route_is_documented_and_nothing_else(app: Starlette, client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    routes = api_routes(app)
    assert ("/api/tasks/{task_id}/complete", "post") in routes
    assert documented(document) == routes


def test_bearer_security_and_the_error_schema(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    components = document["components"]
    assert components["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token.",
    }
    assert document["security"] == [{"bearer": []}]
    error = components["schemas"]["Error"]
    assert set(error["properties"]) == {"error", "status", "errors"}
    assert set(error["required"]) == {"error", "status"}
    for status in (400, 401, 403, 404, 409, 422, 503):
        assert f"Error{status}" in components["responses"]
    submit = document["paths"]["/api/requests"]["post"]
    assert any(p["name"] == "Idempotency-Key" for p in submit["parameters"])
    assert document["paths"]["/api/request-types"]["get"]["security"] == []


def test_the_error_schema_matches_a_real_error(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": document["components"],
        **document["components"]["schemas"]["Error"],
    }
    reply = client.get("/api/tasks")
    assert reply.status_code == 401
    jsonschema.validate(reply.json(), schema)


def test_503_is_documented_where_the_workflow_engine_is_called(client: TestClient) -> None:
    """Submitting, completing and signalling call Temporal, which may be down; nothing else."""
    paths = client.get("/api/openapi.json").json()["paths"]
    with_503 = {
        (path, method)
        for path, operations in paths.items()
        for method, operation in operations.items()
        if "503" in operation["responses"]
    }
    assert with_503 == {
        ("/api/requests", "post"),
        ("/api/tasks/{task_id}/complete", "post"),
        ("/api/work-items/{item_id}/signals/{signal}", "post"),
    }
