"""The request portal: the request types, one's own requests, and the intake form."""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.completion import complete_task
from engine.config import Settings, secret_key
from engine.contrib import RequestType
from engine.db import make_read_session_factory
from engine.dsl.pinning import pinned_hash, shared_forms_json
from engine.hookspecs import hookimpl
from engine.model import Event, Person, Task, Team, WorkflowDefinition, WorkItem
from engine.model import auth as credentials
from engine.plugins import create_plugin_manager
from engine.runtime.client import Runtime
from engine.web.app import create_app
from engine.web.auth import SESSION_COOKIE
from engine.web.csrf import session_token
from engine.web.portal import PAGE_SIZE, decode_cursor, encode_cursor, status_words
from engine.web.temporal import TemporalLink
from tests.interpreter.conftest import Harness, harness, time_skipping  # noqa: F401 (fixtures)
from tests.web.conftest import MakeApp, form_token, sign_in

PRINTER_FLOW = """
name: printer_flow
kind: ticket
start:
  form: printer_report
  channels: [portal, api]
forms:
  printer_report:
    title: Printer trouble
    description: Tell us which printer misbehaves.
    fields:
      - {name: summary, label: What is wrong?, required: true, max: 200}
      - {name: details, type: textarea, label: Details, help: What you tried already.}
      - {name: floor, type: number, label: Floor, min: 0, max: 40}
      - name: impact
        type: choice
        label: Who is affected?
        required: true
        choices:
          - {value: me, label: Only me}
          - {value: team, label: My team}
  fix:
    fields:
      - {name: note, type: text, required: true}
    outcomes: [done]
steps:
  - id: fix
    task: {team: helpdesk-l1, form: fix, title: "Fix {{ item.title }}"}
    next: done
  - id: done
    end: fixed
"""

GOOD = {"summary": "Printer jams", "details": "Tried turning it off", "floor": "3", "impact": "me"}


class Printers:
    @hookimpl
    def tierflow_register_request_types(self):
        return [
            RequestType(
                "printer", "Printer trouble", workflow="printer_flow",
                description="A printer does not print.",
            ),
            RequestType("laptop", "New laptop", workflow="laptop_flow"),
        ]  # fmt: skip


@dataclass
class People:
    rita: Person
    otto: Person


@pytest.fixture
def people(session: Session, make_person) -> People:
    found = People(
        rita=make_person(name="Rita Requester", roles={"requester"}),
        otto=make_person(name="Otto Other", roles={"requester"}),
    )
    session.commit()
    return found


@pytest.fixture
def otto_secret(session: Session, people: People, make_work_item) -> WorkItem:
    """A request of Otto's that Rita must never see."""
    item = make_work_item(reference="INC-00013", title="Otto's secret", requester_id=people.otto.id)
    session.commit()
    return item


@pytest.fixture
def deployed(session: Session) -> WorkflowDefinition:
    """``printer_flow`` deployed (the ``laptop`` type's workflow is not)."""
    forms = shared_forms_json({})
    definition = WorkflowDefinition(
        name="printer_flow", version="1", content_hash=pinned_hash(PRINTER_FLOW, forms),
        source=PRINTER_FLOW, shared_forms=forms, kind="ticket", active=True,
    )  # fmt: skip
    session.add(definition)
    session.commit()
    return definition


@pytest.fixture
def portal(make_app: MakeApp, deployed: WorkflowDefinition) -> TestClient:
    """A browser on an app offering the printer and laptop types (Temporal is down)."""
    with TestClient(
        make_app(("printers", Printers())), raise_server_exceptions=False, follow_redirects=False
    ) as browser:
        yield browser


def count(client: TestClient, model: type) -> int:
    with make_read_session_factory(client.app.state.db)() as db:
        return db.scalar(select(func.count()).select_from(model))


def references(page: str) -> list[str]:
    return re.findall(r'<a href="/items/\d+">([^<]+)</a>', page)


def next_link(page: str) -> str | None:
    found = re.search(r'<a rel="next" href="([^"]+)"', page)
    return html.unescape(found.group(1)) if found else None


# ------------------------------------------------------------ the list ---


def test_the_portal_is_for_signed_in_people(portal: TestClient) -> None:
    reply = portal.get("/portal")
    assert reply.status_code == 303
    assert reply.headers["location"].startswith("/sign-in?next=")
    assert portal.get("/portal/new/printer").status_code == 303


def test_my_requests_are_mine_only(
    portal: TestClient, people: People, session: Session, make_work_item
) -> None:
    mine = make_work_item(reference="INC-00012", title="Screen flickers",
                          requester_id=people.rita.id, status="escalated")  # fmt: skip
    make_work_item(reference="INC-00013", title="Otto's secret", requester_id=people.otto.id)
    session.commit()
    sign_in(portal, people.rita)
    page = portal.get("/portal")
    assert page.status_code == 200
    assert references(page.text) == ["INC-00012"]
    assert f'href="/items/{mine.id}"' in page.text
    assert "Screen flickers" in page.text
    assert "With a specialist team" in page.text  # the status in words
    assert "Otto" not in page.text
    assert 'href="/portal/new/printer"' in page.text
    assert "A printer does not print." in page.text
    sign_in(portal, people.otto)
    assert references(portal.get("/portal", params={"show": "all"}).text) == ["INC-00013"]


def test_open_closed_and_all(
    portal: TestClient, people: People, session: Session, make_work_item
) -> None:
    now = datetime.now(UTC)
    make_work_item(reference="INC-00001", requester_id=people.rita.id, status="open")
    make_work_item(reference="INC-00002", requester_id=people.rita.id, status="closed",
                   closed_at=now)  # fmt: skip
    session.commit()
    sign_in(portal, people.rita)
    assert references(portal.get("/portal").text) == ["INC-00001"]
    assert references(portal.get("/portal", params={"show": "open"}).text) == ["INC-00001"]
    assert references(portal.get("/portal", params={"show": "closed"}).text) == ["INC-00002"]
    everything = portal.get("/portal", params={"show": "all"})
    assert references(everything.text) == ["INC-00002", "INC-00001"]  # newest first
    assert 'href="?show=all" aria-current="page"' in everything.text


def test_pages_follow_each_other_without_gaps_or_repeats(
    portal: TestClient, people: People, session: Session, make_work_item
) -> None:
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    total = 2 * PAGE_SIZE + 7
    for n in range(total):  # ties on created_at in threes: the id breaks them
        make_work_item(reference=f"INC-{n:05d}", requester_id=people.rita.id,
                       created_at=moment + timedelta(minutes=n // 3))  # fmt: skip
    make_work_item(reference="INC-99999", requester_id=people.otto.id, created_at=moment)
    session.commit()
    sign_in(portal, people.rita)
    shown: list[str] = []
    link: str | None = "?show=all"
    pages = 0
    while link is not None:
        page = portal.get("/portal" + link)
        assert page.status_code == 200
        found = references(page.text)
        assert 0 < len(found) <= PAGE_SIZE
        shown += found
        link = next_link(page.text)
        pages += 1
        if link is not None:
            assert "show=all" in link
    assert pages == 3
    assert len(shown) == len(set(shown)) == total
    assert shown == sorted(shown, reverse=True)  # newest first: created in reference order
    assert "INC-99999" not in shown


def test_cursors_round_trip() -> None:
    moment = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert decode_cursor(encode_cursor(moment, 42)) == (moment, 42)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"after": "garbage"}, "page cursor"),
        ({"after": "1.99999999999"}, "page cursor"),
        ({"after": "9" * 18 + ".1"}, "page cursor"),
        ({"after": "-1.5"}, "page cursor"),
        ({"show": "everything"}, "choose one of open, closed, all"),
        ({"show": "open' OR '1'='1"}, "choose one of"),
        ({"after": "1.1; DROP TABLE work_item; --"}, "page cursor"),
        ({"after": "1.1' OR 1=1 --", "show": "all"}, "page cursor"),
    ],
)
def test_bad_filters_and_cursors_are_400_and_harmless(
    portal: TestClient, people: People, otto_secret: WorkItem, params: dict, message: str
) -> None:
    sign_in(portal, people.rita)
    before = count(portal, WorkItem)
    page = portal.get("/portal", params=params)
    assert page.status_code == 400
    assert 'role="alert"' in page.text
    assert message in html.unescape(page.text)
    assert "Otto" not in page.text
    assert count(portal, WorkItem) == before
    assert portal.get("/portal").status_code == 200


def test_a_summary_full_of_markup_is_printed_as_text(
    portal: TestClient, people: People, session: Session, make_work_item
) -> None:
    attack = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    make_work_item(reference="INC-00014", title=attack, requester_id=people.rita.id)
    session.commit()
    sign_in(portal, people.rita)
    page = portal.get("/portal")
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text


def test_the_notice_names_ones_own_new_request(
    portal: TestClient, people: People, session: Session, make_work_item
) -> None:
    mine = make_work_item(reference="INC-00012", requester_id=people.rita.id)
    theirs = make_work_item(reference="INC-00013", requester_id=people.otto.id)
    session.commit()
    sign_in(portal, people.rita)
    page = portal.get("/portal", params={"submitted": str(mine.id)})
    assert "Your request INC-00012 was received." in page.text
    for other in (str(theirs.id), "<b>x</b>", "9" * 40):
        page = portal.get("/portal", params={"submitted": other})
        assert page.status_code == 200
        assert "was received" not in page.text


def test_status_words() -> None:
    assert status_words("new") == "Received"
    assert status_words("on_hold") == "On hold"
    assert status_words("") == "Unknown"


def test_the_home_page_links_request_types_to_their_forms(
    portal: TestClient, people: People
) -> None:
    assert 'href="/portal/new/printer"' not in portal.get("/").text
    sign_in(portal, people.rita)
    home = portal.get("/")
    assert 'href="/portal/new/printer"' in home.text
    assert 'href="/portal"' in home.text


# ------------------------------------------------------------ the form ---


def test_the_form_has_every_field_labelled_and_a_fresh_key(
    portal: TestClient, people: People
) -> None:
    sign_in(portal, people.rita)
    page = portal.get("/portal/new/printer")
    assert page.status_code == 200
    assert "<h1>Printer trouble</h1>" in page.text
    assert "Tell us which printer misbehaves." in page.text
    for name in ("summary", "details", "floor"):
        assert f'<label for="field-{name}">' in page.text
        assert f'id="field-{name}" name="{name}"' in page.text
    assert "<legend>Who is affected?" in page.text
    for n in (0, 1):
        assert f'<label for="field-impact-{n}">' in page.text
    assert 'aria-describedby="field-details-help"' in page.text
    assert 'id="field-details-help">What you tried already.' in page.text
    assert 'name="csrf_token"' in page.text
    assert 'action="/portal/new/printer"' in page.text
    keys = {
        re.search(r'name="idempotency_key" value="([^"]+)"', portal.get(path).text).group(1)
        for path in ("/portal/new/printer", "/portal/new/printer")
    }
    assert len(keys) == 2  # one per render


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/portal/new/printr", ["'printr'", "did you mean 'printer'"]),
        ("/portal/new/laptop", ["'laptop'", "not deployed"]),
        ("/portal/new/" + "x" * 500, ["no request type"]),
        ("/portal/new/%3Cscript%3E", ["'<script>'"]),
    ],
)
def test_unknown_or_undeployed_types_are_404(
    portal: TestClient, people: People, path: str, words: list[str]
) -> None:
    token = sign_in(portal, people.rita)
    before = count(portal, WorkItem)
    for reply in (portal.get(path), portal.post(path, data=GOOD | {"csrf_token": token})):
        assert reply.status_code == 404
        assert 'role="alert"' in reply.text
        for word in words:
            assert word in html.unescape(reply.text)
        assert "<script>" not in reply.text  # printed as text
    assert count(portal, WorkItem) == before


def test_mistakes_come_back_422_with_every_error_and_the_input(
    portal: TestClient, people: People
) -> None:
    token = sign_in(portal, people.rita)
    before = count(portal, WorkItem)
    reply = portal.post(
        "/portal/new/printer",
        data={"csrf_token": token, "idempotency_key": "k-1", "summary": "",
              "details": "<kept & typed>", "floor": "99", "impact": "nobody"},
    )  # fmt: skip
    assert reply.status_code == 422
    text = reply.text
    assert "Please correct these fields" in text
    for name in ("summary", "floor"):
        assert f'href="#field-{name}"' in text
        assert f'id="field-{name}-error"' in text
    assert 'href="#field-impact-0"' in text
    assert 'aria-invalid="true"' in text
    assert "&lt;kept &amp; typed&gt;" in text
    assert 'name="idempotency_key" value="k-1"' in text  # the same request when sent again
    assert text.index("<h1>") < text.index("<h2>Please correct")
    assert count(portal, WorkItem) == before


def test_without_the_csrf_token_nothing_is_made(portal: TestClient, people: People) -> None:
    sign_in(portal, people.rita)
    before = count(portal, WorkItem)
    reply = portal.post("/portal/new/printer", data=GOOD | {"idempotency_key": "k-2"})
    assert reply.status_code == 403
    wrong = portal.post("/portal/new/printer", data=GOOD | {"csrf_token": "forged"})
    assert wrong.status_code == 403
    assert count(portal, WorkItem) == before


def test_without_temporal_nothing_is_made_and_the_input_is_kept(
    portal: TestClient, people: People
) -> None:
    token = sign_in(portal, people.rita)
    before = (count(portal, WorkItem), count(portal, Event))
    reply = portal.post(
        "/portal/new/printer",
        data=GOOD | {"csrf_token": token, "idempotency_key": "k-3", "summary": "Keep me"},
    )
    assert reply.status_code == 503
    assert "cannot be reached" in reply.text
    assert 'value="Keep me"' in reply.text
    assert 'name="idempotency_key" value="k-3"' in reply.text
    assert (count(portal, WorkItem), count(portal, Event)) == before


def test_a_key_too_long_is_refused_with_a_fresh_one(portal: TestClient, people: People) -> None:
    token = sign_in(portal, people.rita)
    reply = portal.post(
        "/portal/new/printer", data=GOOD | {"csrf_token": token, "idempotency_key": "k" * 500}
    )
    assert reply.status_code == 400
    assert "idempotency key" in reply.text
    assert "k" * 500 not in reply.text
    assert count(portal, WorkItem) == 0


# ---------------------------------------------------------- on Temporal ---


def _requester(on: Harness) -> tuple[str, int]:
    """Rita, signed in: her session id and person id (and the team the run's task goes to)."""
    with on.sessions.begin() as db:
        if db.scalars(select(Team).filter_by(slug="helpdesk-l1")).first() is None:
            db.add(Team(slug="helpdesk-l1", name="Help desk L1"))
        rita = Person(email="rita.portal@example.org", name="Rita Requester")
        rita.grant("requester")
        db.add(rita)
        db.flush()
        return credentials.start_session(db, rita.id), rita.id


async def _finish(on: Harness, item_id: int, workflow_id: str) -> None:
    """Complete the run's one task, so no run is left waiting on the shared test server."""
    tasks: list[Task] = []
    for _ in range(100):
        with make_read_session_factory(on.sessions.kw["bind"])() as db:
            tasks = list(db.scalars(select(Task).filter_by(work_item_id=item_id)))
        if tasks:
            break
        await asyncio.sleep(0.05)
    assert len(tasks) == 1, f"the run opened {len(tasks)} tasks, not one"
    runtime = Runtime(on.client, on.queue)
    await complete_task(
        on.sessions, runtime, tasks[0].id, outcome="done", data={"note": "ok"}, actor_id=None
    )
    result = await on.client.get_workflow_handle(workflow_id).result()
    assert result["outcome"] == "fixed", result


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(60)
async def test_a_request_is_made_once_however_often_the_form_is_sent(
    harness,  # noqa: F811 (the fixture imported above)
    tmp_path,
) -> None:
    """On the time-skipping test server: the form sent twice at once and again, one request."""
    session_id, rita_id = _requester(harness)
    harness.deploy(PRINTER_FLOW)
    settings = Settings(data_dir=tmp_path, task_queue=harness.queue)
    app: Starlette = create_app(
        settings,
        create_plugin_manager(entry_points=False, plugins=[("printers", Printers())]),
        db=harness.sessions.kw["bind"],
        temporal=TemporalLink(client=harness.client),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: session_id},
    ) as browser:
        form = await browser.get("/portal/new/printer")
        assert form.status_code == 200
        assert form_token(form.text) == session_token(secret_key(settings), session_id)
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
        sent = GOOD | {"csrf_token": form_token(form.text), "idempotency_key": key}
        replies = await asyncio.gather(*(browser.post("/portal/new/printer", data=sent)
                                         for _ in range(2)))  # fmt: skip
        replies.append(await browser.post("/portal/new/printer", data=sent))
        assert [reply.status_code for reply in replies] == [303, 303, 303], replies[0].text
        [location] = {reply.headers["location"] for reply in replies}
        item_id = int(re.fullmatch(r"/items/(\d+)\?submitted=1", location).group(1))
        listed = await browser.get("/portal", params={"submitted": str(item_id)})
        assert f'href="/items/{item_id}"' in listed.text
        assert "was received" in listed.text
    with make_read_session_factory(harness.sessions.kw["bind"])() as db:
        [item] = db.scalars(select(WorkItem).filter_by(requester_id=rita_id)).all()
        assert item.id == item_id
        assert (item.title, item.channel, item.type) == ("Printer jams", "portal", "printer")
        assert item.custom == {"summary": "Printer jams", "details": "Tried turning it off",
                               "floor": 3, "impact": "me"}  # fmt: skip
        assert [e.type for e in item.events].count("created") == 1
        workflow_id = item.workflow_id
    description = await harness.client.get_workflow_handle(workflow_id).describe()
    assert description.run_id == description.raw_description.workflow_execution_info.first_run_id
    await _finish(harness, item_id, workflow_id)
