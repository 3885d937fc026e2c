"""The admin pages for workflows and schedules: who may see them, deploying, diagrams, schedules."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.config import Settings
from engine.db import make_read_session_factory
from engine.dsl.catalog import Catalog
from engine.dsl.validate import load_workflow_text
from engine.hookspecs import hookimpl
from engine.model import Person, WorkflowDefinition
from engine.plugins import create_plugin_manager
from engine.runtime.devserver import EmbeddedTemporal
from engine.web.admin_diagram import graph_of, layout, outline
from engine.web.app import create_app
from engine.web.temporal import TemporalLink
from tests.schedules.conftest import queue, workflow_yaml  # noqa: F401 (a fixture)
from tests.web.conftest import sign_in

XSS = "<script>alert('x')</script>"
GOOD = f"""\
name: cleanup
kind: maintenance
title: "{XSS}"
description: "<img src=x onerror=alert(1)>"
variables: {{count: 0}}
steps:
  - id: settle
    title: "<b>step title</b>"
    wait: {{duration: 1h}}
  - id: check
    decide:
      - {{when: "vars.count > 1", goto: tell}}
      - {{otherwise: finish}}
  - id: tell
    notify: {{to: [requester], subject: Cleaned up}}
    next: settle
  - id: finish
    end: {{outcome: completed}}
"""
BROKEN = """\
name: broken
kind: maintenance
steps:
  - id: first
    next: nowhere
    wait: {duration: 1h}
"""

ROUTES = [
    ("GET", "/admin"),
    ("GET", "/admin/workflows"),
    ("POST", "/admin/workflows/deploy"),
    ("GET", "/admin/workflows/cleanup"),
    ("GET", "/admin/schedules"),
    ("POST", "/admin/schedules/tierflow/cleanup/pause"),
    ("POST", "/admin/schedules/tierflow/cleanup/resume"),
]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty site ``workflows/`` folder in the working directory (where the web app looks)."""
    folder = tmp_path / "site" / "workflows"
    folder.mkdir(parents=True)
    monkeypatch.chdir(folder.parent)
    return folder


@pytest.fixture
def admin(make_person: Callable[..., Person], session: Session) -> Person:
    person = make_person(name="Ada Admin", email="ada@example.org", roles={"admin"})
    session.commit()
    return person


def definitions(db: Engine) -> list[tuple[str, str, bool, str | None]]:
    with make_read_session_factory(db)() as read:
        rows = read.execute(
            select(
                WorkflowDefinition.name,
                WorkflowDefinition.content_hash,
                WorkflowDefinition.active,
                WorkflowDefinition.deployed_by,
            ).order_by(WorkflowDefinition.id)
        )
        return [tuple(row) for row in rows]


# ---------------------------------------------------------------- access ---


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient, method: str, path: str) -> None:
    reply = client.request(method, path)
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/sign-in")


def test_non_admins_are_refused_everywhere_and_change_nothing(
    client: TestClient, make_person, session: Session, site: Path, db_engine: Engine
) -> None:
    (site / "cleanup.yaml").write_text(GOOD)
    agent = make_person(name="Andy Agent", roles={"agent", "manager"})
    session.commit()
    token = sign_in(client, agent)
    for method, path in ROUTES:
        reply = client.request(method, path, data={"csrf_token": token, "note": "x"})
        assert reply.status_code == 403, (method, path)
        assert "for administrators only" in reply.text
    assert definitions(db_engine) == []
    assert 'href="/admin"' not in client.get("/").text


def test_the_overview_links_every_part(client: TestClient, admin: Person) -> None:
    sign_in(client, admin)
    page = client.get("/admin")
    assert page.status_code == 200
    for path in ("/admin/workflows", "/admin/schedules", "/admin/people", "/admin/teams"):
        assert f'href="{path}"' in page.text
    assert 'href="/admin"' in client.get("/").text


# ------------------------------------------------------------- deploying ---


def test_a_broken_file_is_listed_and_deploy_deploys_nothing(
    client: TestClient, admin: Person, site: Path, db_engine: Engine
) -> None:
    (site / "cleanup.yaml").write_text(GOOD)
    (site / "broken.yaml").write_text(BROKEN)
    token = sign_in(client, admin)
    page = client.get("/admin/workflows")
    assert page.status_code == 200
    assert re.search(r"<code>workflows/broken\.yaml:\d+:\d+: [^<]*nowhere", page.text), page.text
    reply = client.post("/admin/workflows/deploy", data={"csrf_token": token})
    assert reply.status_code == 422
    assert "Nothing was deployed: fix the 1 problem below first." in reply.text
    assert "workflows/broken.yaml:" in reply.text
    assert definitions(db_engine) == []


def test_deploy_creates_a_version_then_reports_it_unchanged(
    client: TestClient, admin: Person, site: Path, db_engine: Engine
) -> None:
    (site / "cleanup.yaml").write_text(GOOD)
    token = sign_in(client, admin)
    assert "No problems" in client.get("/admin/workflows").text
    reply = client.post("/admin/workflows/deploy", data={"csrf_token": token})
    assert reply.status_code == 303
    page = client.get(reply.headers["location"])
    assert "Deployed: created cleanup." in page.text
    assert "The schedules were not synced: Temporal cannot be reached" in page.text
    [(name, digest, active, by)] = definitions(db_engine)
    assert (name, active, by) == ("cleanup", True, "ada@example.org")
    row = re.search(r"<tr>\s*<th scope=\"row\"><a href=\"/admin/workflows/cleanup\">.*?</tr>",
                    page.text, re.S)  # fmt: skip
    assert row is not None
    assert f"1 ({digest[:8]})" in row.group(0)
    assert "ada@example.org" in row.group(0)

    again = client.post("/admin/workflows/deploy", data={"csrf_token": token})
    assert "Deployed: 1 workflow unchanged." in client.get(again.headers["location"]).text
    assert len(definitions(db_engine)) == 1


class ShipsCleanup:
    """A plugin shipping a workflow named cleanup, as the site's own file is named."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @hookimpl
    def tierflow_register_workflow_dirs(self) -> list[str]:
        return [str(self.folder)]


def test_deploy_says_when_a_site_workflow_replaces_a_plugins(
    make_app, admin: Person, site: Path, tmp_path: Path
) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    (shipped / "cleanup.yaml").write_text(GOOD)
    (site / "cleanup.yaml").write_text(GOOD.replace("duration: 1h", "duration: 2h"))
    app = make_app(("shipper", ShipsCleanup(shipped)))
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        token = sign_in(client, admin)
        reply = client.post("/admin/workflows/deploy", data={"csrf_token": token})
        assert reply.status_code == 303
        page = client.get(reply.headers["location"]).text
    assert "Deployed: created cleanup." in page
    assert (
        "Note: site workflow cleanup (workflows/cleanup.yaml) replaces the shipper plugin&#39;s "
        f"({shipped / 'cleanup.yaml'})." in page
    )


# --------------------------------------------------------------- diagram ---


def deployed(client: TestClient, token: str, site: Path, source: str = GOOD) -> str:
    """Deploy ``source`` as the site's one workflow file; the page the deploy goes back to."""
    (site / "cleanup.yaml").write_text(source)
    reply = client.post("/admin/workflows/deploy", data={"csrf_token": token})
    assert reply.status_code == 303
    return client.get(reply.headers["location"]).text


def test_the_workflow_page_draws_every_step_and_escapes_what_the_file_says(
    client: TestClient, admin: Person, site: Path
) -> None:
    token = sign_in(client, admin)
    deployed(client, token, site)
    page = client.get("/admin/workflows/cleanup")
    assert page.status_code == 200
    svg = re.search(r"<svg [^>]*role=\"img\".*?</svg>", page.text, re.S)
    assert svg is not None
    for step in ("settle", "check", "tell", "finish"):
        assert f'data-step="{step}"' in svg.group(0)
    assert '<title id="diagram-title">Diagram of workflow cleanup' in svg.group(0)
    assert "<script" not in page.text
    assert "<b>step title" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
    assert "&lt;b&gt;step title&lt;/b&gt;" in page.text
    assert "when vars.count &gt; 1, goes to tell" in page.text  # the outline, in words
    assert "<summary>Mermaid source of the diagram</summary>" in page.text
    assert "flowchart TD" in page.text
    assert "wait: {duration: 1h}" in page.text  # the YAML source


def test_versions_can_be_shown_and_unknown_ones_are_404(
    client: TestClient, admin: Person, site: Path, db_engine: Engine
) -> None:
    token = sign_in(client, admin)
    deployed(client, token, site)
    deployed(client, token, site, GOOD.replace("duration: 1h", "duration: 2h"))
    (_, old, old_active, _), (_, _, new_active, _) = definitions(db_engine)
    assert (old_active, new_active) == (False, True)
    page = client.get("/admin/workflows/cleanup")
    assert "duration: 2h" in page.text
    assert f"?version={old[:12]}" in page.text
    older = client.get(f"/admin/workflows/cleanup?version={old[:8]}")
    assert older.status_code == 200
    assert "duration: 1h" in older.text
    assert "not active" in older.text

    missing = client.get("/admin/workflows/cleanup?version=ffffffff")
    assert missing.status_code == 404
    assert "has no version &#39;ffffffff&#39;; its versions are" in missing.text
    typo = client.get("/admin/workflows/claenup")
    assert typo.status_code == 404
    assert "No workflow named &#39;claenup&#39; is deployed (did you mean &#39;cleanup&#39;?)" in (
        typo.text
    )


# ------------------------------------------------------------- schedules ---


SCHEDULE = '  cron: "0 3 * * *"\n  timezone: Europe/Paris'


def test_without_temporal_the_schedules_page_says_so(client: TestClient, admin: Person) -> None:
    token = sign_in(client, admin)
    page = client.get("/admin/schedules")
    assert page.status_code == 503
    assert "cannot be reached just now" in page.text
    reply = client.post("/admin/schedules/tierflow/cleanup/pause", data={"csrf_token": token})
    assert reply.status_code == 503
    assert "Nothing was changed." in reply.text


@pytest.fixture
def on_temporal(
    db_engine: Engine,
    tmp_path: Path,
    temporal_server: EmbeddedTemporal,
    queue: str,  # noqa: F811 (the fixture imported above: deletes the schedules afterwards)
) -> Iterator[TestClient]:
    """A browser on the app, with the run's Temporal server and a task queue of the test's own."""
    app = create_app(
        Settings(data_dir=tmp_path, task_queue=queue),
        create_plugin_manager(entry_points=False),
        db=db_engine,
        temporal=TemporalLink(address=temporal_server.address or ""),
    )
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


@pytest.mark.slow
def test_schedules_list_pause_and_resume(
    on_temporal: TestClient, site: Path, admin: Person
) -> None:
    client = on_temporal
    token = sign_in(client, admin)
    done = deployed(client, token, site, workflow_yaml("cleanup", SCHEDULE))
    assert "The schedules now match the deployed workflows (synced with Temporal)." in done
    page = listed(client, "cleanup")
    assert "<code>0 3 * * *</code>" in page
    assert "Europe/Paris" in page
    assert "Running" in page
    assert "never" in page
    assert page.count(" UTC</li>") == 3  # the next three runs
    assert 'action="/admin/schedules/tierflow/cleanup/pause"' in page

    reply = client.post(
        "/admin/schedules/tierflow/cleanup/pause",
        data={"csrf_token": token, "note": "audit <freeze>"},
    )
    assert reply.status_code == 303
    assert "Paused the schedule of cleanup." in client.get(reply.headers["location"]).text
    page = listed(client, "cleanup", "Paused")
    assert "Paused</strong>: audit &lt;freeze&gt;" in page
    assert 'action="/admin/schedules/tierflow/cleanup/resume"' in page

    reply = client.post(
        "/admin/schedules/tierflow/cleanup/resume", data={"csrf_token": token, "note": ""}
    )
    assert reply.status_code == 303
    assert "Running" in listed(client, "cleanup", "Running")

    for path in ("tierflow/nosuch", "other/cleanup", "tierflow/Bad%20Name"):
        reply = client.post(f"/admin/schedules/{path}/pause", data={"csrf_token": token})
        assert reply.status_code == 404, path
    too_long = client.post(
        "/admin/schedules/tierflow/cleanup/pause", data={"csrf_token": token, "note": "x" * 501}
    )
    assert too_long.status_code == 422
    assert "Running" in listed(client, "cleanup", "Running")


def listed(client: TestClient, name: str, state: str = "") -> str:
    """The schedules page once it lists ``name`` (in ``state``): listing lags behind changes."""
    for _ in range(50):
        page = client.get("/admin/schedules")
        assert page.status_code == 200, page.text
        row = re.search(rf"<tr>\s*<th scope=\"row\"><a [^>]*>{name}</a>.*?</tr>", page.text, re.S)
        if row is not None and state in row.group(0):
            return row.group(0)
        time.sleep(0.1)
    raise AssertionError(f"{name} never listed {state}:\n{page.text}")


def test_a_thirty_step_diagram_keeps_boxes_apart_and_arrows_beside_them() -> None:
    lines = ["name: long", "kind: maintenance", "steps:"]
    for number in range(30):
        lines += [f"  - id: s{number}", "    wait: {duration: 1h}"]
        jump = {6: number - 5, 2: number + 3}.get(number % 7)  # loops back, jumps ahead
        if jump is not None:
            lines += ["    next:", f"      - {{when: 'vars.x', goto: s{jump}}}"]
            lines += [f"      - {{otherwise: s{number + 1}}}"]
    lines.insert(2, "variables: {x: false}")
    workflow, problems = load_workflow_text("\n".join(lines) + "\n", "long.yaml", Catalog())
    assert not problems, problems
    graph = graph_of(workflow)
    diagram = layout(graph)
    steps = [box for box in diagram.boxes if box.kind == "wait"]
    assert len(steps) == 30
    assert len(outline(graph)) == 30
    assert diagram.width < 800  # a column of boxes and a few lanes, not a sprawl
    places = {(box.x, box.y) for box in diagram.boxes}
    assert len(places) == len(diagram.boxes)  # no two boxes on top of each other
    leftmost = min(box.x for box in diagram.boxes)
    lanes = [arrow for arrow in diagram.arrows if " H" in arrow.path]
    assert len(lanes) == 8  # 4 loops back, 4 jumps ahead
    for arrow in lanes:
        lane_x = int(arrow.path.split(" H")[1].split()[0])
        assert lane_x < leftmost, arrow
