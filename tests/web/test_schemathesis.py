"""Every operation of /api/openapi.json, fed generated input by schemathesis, keeps its contract.

Schemathesis (the maintained property-based API tester) reads the document the
app serves and generates requests for each operation, valid ones and invalid
ones; every answer must be no server error, a documented status, the documented
content type and a body that fits its schema. The caller is Ann, an agent of
the help desk, with a real personal API token; the help desk's items and tasks
exist, and half the generated ids are theirs, so the answers are not all 404.
Temporal is down (a closed port): a valid submission or completion answers 503,
which the document lists for those two operations (``status_code_conformance``
fails a 503 anywhere else; every other 5xx fails ``not_a_server_error``).

Each operation is a test of its own, named by its method and path, so a failure
says which one; the schema is loaded inside the test because the app is built
on the test's database (schemathesis's ``from_fixture`` does not run on pytest 9).
``TIERFLOW_SCHEMATHESIS_EXAMPLES`` (20 by default, to keep the file under a
minute) asks for more examples per operation, for a longer hunt. Inputs the
generator does not make (lone surrogates, ``²`` as a digit, NUL on PostgreSQL)
have their own tests in tests/web/test_api.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from engine.model import Comment, Event, WorkItem
from engine.model.auth import issue_token
from engine.web.openapi import PATHS
from tests.web.conftest import MakeApp
from tests.web.test_api import Printers
from tests.web.test_task_pages import World, world  # noqa: F401 (fixture)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}}}
)
POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
OPERATIONS = [
    pytest.param(method.upper(), path, mode, id=f"{method.upper()} {path} {mode.value}")
    for path, methods in PATHS.items()
    for method, operation in methods.items()
    # an operation without parameters or a body has no invalid input to make
    for mode in (
        [POSITIVE, NEGATIVE]
        if operation.get("parameters") or operation.get("requestBody")
        else [POSITIVE]
    )
]
EXAMPLES = int(os.environ.get("TIERFLOW_SCHEMATHESIS_EXAMPLES", "20"))


@dataclass
class Caller:
    """Who calls the API (their headers) and the ids of rows that exist, by path parameter."""

    headers: dict[str, str]
    ids: dict[str, list[int]]


@pytest.fixture
def ann(session: Session, world: World) -> Caller:  # noqa: F811 (the fixture above)
    """Ann (an agent of the help desk, with tasks) with her personal API token.

    The help desk works the items of its tasks, which have a history and comments;
    the other team's task and item exist too (Ann may not see them).
    """
    tasks = [world.mine_late, world.queued, world.form_task, world.elsewhere]
    for task in tasks[:3]:
        item = session.get(WorkItem, task.work_item_id)
        item.owner_team_id = item.current_team_id = world.helpdesk.id
        session.add_all([
            Event(work_item_id=item.id, type="created", data={"channel": "api"}),
            Comment(work_item_id=item.id, author_id=world.bob.id, body="internal", public=False),
            Comment(work_item_id=item.id, author_id=world.ann.id, body="on it", public=True),
        ])  # fmt: skip
    token = issue_token(session, world.ann.id, "schemathesis")
    session.commit()
    return Caller(
        headers={"Authorization": f"Bearer {token}"},
        ids={"task_id": [t.id for t in tasks], "item_id": [t.work_item_id for t in tasks]},
    )


@pytest.mark.parametrize(("method", "path", "mode"), OPERATIONS)
def test_every_operation_keeps_its_documented_contract(
    method: str, path: str, mode: schemathesis.GenerationMode, make_app: MakeApp, ann: Caller
) -> None:
    app = make_app(("vpn", Printers()))
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, config=CONFIG)
    operation = schema[path][method]
    generated = operation.as_strategy(mode)
    ids = {name: values for name, values in ann.ids.items() if f"{{{name}}}" in path}
    if ids:  # half the cases name rows that exist
        existing = st.fixed_dictionaries({name: st.sampled_from(v) for name, v in ids.items()})
        generated |= existing.flatmap(
            lambda chosen: operation.as_strategy(mode, path_parameters=chosen)
        )

    @given(case=generated)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def answers_as_documented(case: Any) -> None:
        case.call_and_validate(headers=ann.headers, checks=CHECKS)

    answers_as_documented()
