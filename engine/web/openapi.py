"""The OpenAPI 3.1 document of the JSON API (engine/web/api.py), served at /api/openapi.json.

It is plain data: keep it in step with the routes in engine/web/app.py
(tests/web/test_openapi.py checks that every ``/api/`` route is described).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


STRING_OR_NULL = {"type": ["string", "null"]}
MOMENT = {"type": ["string", "null"], "format": "date-time"}

ERROR_DESCRIPTIONS = {
    400: "The request body or query is malformed.",
    401: "No signed-in viewer or valid bearer token.",
    403: "The viewer may not use this endpoint or act on this resource.",
    404: "There is no such resource the viewer may see.",
    409: "The resource is not in a state that allows this.",
    422: "The input does not fit; ``errors`` lists the fields.",
    503: "The workflow engine cannot be reached just now.",
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "status"],
        "properties": {
            "error": {"type": "string", "description": "What went wrong, for people."},
            "status": {"type": "integer", "description": "The HTTP status again."},
            "errors": {"type": "array", "items": _ref("FieldError")},
        },
    },
    "FieldError": {
        "type": "object",
        "required": ["field", "message"],
        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
    },
    "Person": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
    },
    "SubmitRequest": {
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "minLength": 1, "description": "A request type's name."},
            "data": {"type": "object", "description": "The request type's form fields."},
        },
    },
    "Submitted": {
        "type": "object",
        "required": ["id", "reference", "status", "created"],
        "properties": {
            "id": {"type": "integer"},
            "reference": {"type": "string"},
            "status": {"type": "string"},
            "created": {"type": "boolean", "description": "False when the key was seen before."},
        },
    },
    "WorkItem": {
        "type": "object",
        "required": ["id", "reference", "kind", "type", "title", "status", "events", "comments"],
        "properties": {
            "id": {"type": "integer"},
            "reference": {"type": "string"},
            "kind": {"type": "string"},
            "type": {"type": "string"},
            "title": {"type": "string"},
            "description": STRING_OR_NULL,
            "fields": {"type": ["object", "null"]},
            "status": {"type": "string"},
            "priority": {"type": ["integer", "null"]},
            "owner_team": STRING_OR_NULL,
            "current_team": STRING_OR_NULL,
            "assignee": _nullable(_ref("Person")),
            "requester": _nullable(_ref("Person")),
            "created_at": MOMENT,
            "due_at": MOMENT,
            "closed_at": MOMENT,
            "events": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["type", "occurred_at", "data"],
                    "properties": {
                        "type": {"type": "string"},
                        "occurred_at": MOMENT,
                        "data": {"type": ["object", "null"]},
                    },
                },
            },
            "comments": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "author", "body", "public", "created_at"],
                    "properties": {
                        "id": {"type": "integer"},
                        "author": _nullable(_ref("Person")),
                        "body": {"type": "string"},
                        "public": {"type": "boolean"},
                        "created_at": MOMENT,
                    },
                },
            },
        },
    },
    "NewComment": {
        "type": "object",
        "required": ["body"],
        "properties": {
            "body": {"type": "string", "minLength": 1, "maxLength": 20_000},
            "public": {
                "type": "boolean",
                "default": False,
                "description": "Requesters may only post public comments.",
            },
        },
    },
    "Comment": {
        "type": "object",
        "required": ["id", "work_item", "body", "public", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "work_item": {"type": "integer"},
            "body": {"type": "string"},
            "public": {"type": "boolean"},
            "created_at": MOMENT,
        },
    },
    "SignalSend": {
        "type": "object",
        "properties": {
            "data": {
                "type": "object",
                "description": "The signal's form fields (none when it has no form).",
            },
        },
    },
    "Signalled": {
        "type": "object",
        "required": ["work_item", "signal", "data", "commented"],
        "properties": {
            "work_item": {"type": "integer"},
            "signal": {"type": "string"},
            "data": {"type": "object", "description": "The payload the run received."},
            "commented": {"type": "boolean", "description": "A public comment was posted."},
        },
    },
    "TaskPage": {
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": _ref("TaskRow")},
            "next": {**STRING_OR_NULL, "description": "The ``after`` of the next page."},
        },
    },
    "TaskRow": {
        "type": "object",
        "required": ["id", "title", "step", "status", "overdue", "work_item"],
        "properties": {
            "id": {"type": "integer"},
            "title": STRING_OR_NULL,
            "step": {"type": "string"},
            "form": STRING_OR_NULL,
            "status": {"type": "string"},
            "due_at": MOMENT,
            "overdue": {"type": "boolean"},
            "work_item": {
                "type": "object",
                "required": ["id", "reference"],
                "properties": {
                    "id": {"type": "integer"},
                    "reference": {"type": "string"},
                    "title": STRING_OR_NULL,
                    "priority": {"type": ["integer", "null"]},
                    "kind": {"type": "string"},
                },
            },
            "team": STRING_OR_NULL,
            "assignee": _nullable(_ref("Person")),
            "created_at": MOMENT,
        },
    },
    "Completion": {
        "type": "object",
        "properties": {
            "outcome": {"type": "string", "default": ""},
            "data": {"type": "object", "description": "The task form's fields."},
        },
    },
    "Completed": {
        "type": "object",
        "required": ["task", "step", "outcome"],
        "properties": {
            "task": {"type": "integer"},
            "step": {"type": "string"},
            "outcome": {"type": "string"},
        },
    },
    "RequestType": {
        "type": "object",
        "required": ["name", "title"],
        "properties": {
            "name": {"type": "string"},
            "title": {"type": "string"},
            "description": STRING_OR_NULL,
            "category": STRING_OR_NULL,
            "workflow": STRING_OR_NULL,
        },
    },
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): {"$ref": f"#/components/responses/Error{status}"} for status in statuses}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(schema)}}}


def _id(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": f"The {what}'s id.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    }


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


PUBLIC: list[dict[str, Any]] = []  # no security requirement

PATHS: dict[str, Any] = {
    "/api/requests": {
        "post": {
            "operationId": "submitRequest",
            "summary": "Submit a request: it becomes a work item and its workflow run.",
            "parameters": [
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "Sending the same key again answers the first submission.",
                    "schema": {"type": "string"},
                }
            ],
            "requestBody": _body("SubmitRequest"),
            "responses": {
                "201": _json(_ref("Submitted"), "The work item was created."),
                "200": _json(_ref("Submitted"), "The key was seen before: the first item."),
                **_errors(400, 401, 403, 404, 409, 422, 503),
            },
        }
    },
    "/api/work-items/{item_id}": {
        "get": {
            "operationId": "getWorkItem",
            "summary": "A work item with its history, if the viewer may see it.",
            "parameters": [_id("item_id", "work item")],
            "responses": {
                "200": _json(_ref("WorkItem"), "The work item."),
                **_errors(401, 403, 404),
            },
        }
    },
    "/api/work-items/{item_id}/comments": {
        "post": {
            "operationId": "commentOnWorkItem",
            "summary": "Comment on a work item.",
            "parameters": [_id("item_id", "work item")],
            "requestBody": _body("NewComment"),
            "responses": {
                "201": _json(_ref("Comment"), "The comment was posted."),
                **_errors(400, 401, 403, 404, 422),
            },
        }
    },
    "/api/work-items/{item_id}/signals/{signal}": {
        "post": {
            "operationId": "signalWorkItem",
            "summary": "Send a work item's run a signal its workflow offers to the viewer now.",
            "parameters": [
                _id("item_id", "work item"),
                {
                    "name": "signal",
                    "in": "path",
                    "required": True,
                    "description": "The signal's name, as the workflow's 'signals:' has it.",
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": _body("SignalSend"),
            "responses": {
                "200": _json(_ref("Signalled"), "The run has the signal; it is recorded."),
                **_errors(400, 401, 403, 404, 409, 422, 503),
            },
        }
    },
    "/api/tasks": {
        "get": {
            "operationId": "listTasks",
            "summary": "A page of tasks of the viewer's teams (any team's for admins).",
            "parameters": [
                _query("team", "A team's slug or id (one of the viewer's teams)."),
                _query("assignee", "A person's id, 'me' or 'none'."),
                _query("status", "Which tasks, by status.", default="open"),
                _query("sort", "The order of the tasks.", default="due"),
                _query("after", "The ``next`` cursor of the previous page."),
            ],
            "responses": {
                "200": _json(_ref("TaskPage"), "A page of tasks."),
                **_errors(400, 401, 403),
            },
        }
    },
    "/api/tasks/{task_id}/complete": {
        "post": {
            "operationId": "completeTask",
            "summary": "Complete an open task with an outcome and its form's data.",
            "parameters": [_id("task_id", "task")],
            "requestBody": _body("Completion"),
            "responses": {
                "200": _json(_ref("Completed"), "The task was completed."),
                **_errors(400, 401, 403, 404, 409, 422, 503),
            },
        }
    },
    "/api/request-types": {
        "get": {
            "operationId": "listRequestTypes",
            "summary": "The request types one may submit.",
            "security": PUBLIC,
            "responses": {
                "200": _json({"type": "array", "items": _ref("RequestType")}, "The types."),
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document.",
            "security": PUBLIC,
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
        }
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Tierflow API",
        "version": "1",
        "description": (
            "Every error answers the Error schema. Send a personal API token as "
            "'Authorization: Bearer <token>' (or use a signed-in session)."
        ),
    },
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "A personal API token.",
            }
        },
        "schemas": SCHEMAS,
        "responses": {
            f"Error{status}": _json(_ref("Error"), description)
            for status, description in ERROR_DESCRIPTIONS.items()
        },
    },
}


async def openapi_json(request: Request) -> Response:
    """GET /api/openapi.json: the OpenAPI 3.1 document of the JSON API."""
    return JSONResponse(DOCUMENT)
