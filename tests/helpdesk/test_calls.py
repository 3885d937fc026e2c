"""Log a call: an agent takes a request by phone for a caller, found or added on the spot."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.config import Settings
from engine.contrib import RequestType
from engine.db import make_read_session_factory
from engine.dsl.pinning import pinned_hash, shared_forms_json
from engine.hookspecs import hookimpl
from engine.model import Event, Membership, Person, Team, WorkflowDefinition, WorkItem
from engine.model import auth as credentials
from engine.plugins import create_plugin_manager
from engine.web.app import create_app
from engine.web.auth import SESSION_COOKIE
from engine.web.temporal import TemporalLink
from plugins.helpdesk import calls
from plugins.helpdesk.models import Category
from tests.interpreter.conftest import Harness, harness, time_skipping  # noqa: F401 (fixtures)
from tests.web.conftest import MakeApp, form_token, make_app, sign_in  # noqa: F401 (fixture)

TEMPLATES = Path(calls.__file__).parent / "templates"

CALL_FLOW = """
name: call_flow
kind: ticket
start:
  form: trouble
  channels: [portal, phone]
forms:
  trouble:
    title: Report a problem
    fields:
      - {name: summary, label: "What is wrong?", required: true, max: 200}
      - {name: details, type: textarea, label: What happened?}
      - {name: resolved_on_call, type: boolean, label: Resolved during the call}
      - name: resolution
        type: textarea
        label: What was done
        shown_when: resolved_on_call
  fix:
    fields:
      - {name: note, type: text, required: true}
    outcomes: [done]
steps:
  - id: open
    action: engine.update_work_item
    with: {status: open, owner_team: helpdesk-l1, current_team: helpdesk-l1}
    next:
      - {when: "input.resolved_on_call", goto: first_contact}
      - {otherwise: fix}
  - id: first_contact
    action: engine.update_work_item
    with: {status: resolved}
    next: done
  - id: fix
    task: {team: helpdesk-l1, form: fix, title: "Fix {{ item.title }}"}
    next: done
  - id: done
    end: resolved
"""

PORTAL_ONLY = CALL_FLOW.replace("name: call_flow", "name: portal_flow").replace(
    "channels: [portal, phone]", "channels: [portal]"
)

GOOD = {"summary": "Outlook will not start", "details": "Since this morning."}


class Phones:
    """The call pages with two request types: one takes calls, one only the portal."""

    @hookimpl
    def tierflow_register_routes(self):
        return calls.ROUTES

    @hookimpl
    def tierflow_register_navigation(self):
        return calls.NAVIGATION

    @hookimpl
    def tierflow_register_template_dirs(self):
        return [TEMPLATES]

    @hookimpl
    def tierflow_register_request_types(self):
        return [
            RequestType("trouble", "Report a problem", workflow="call_flow",
                        description="Something is broken."),
            RequestType("web_only", "Order a mouse", workflow="portal_flow"),
        ]  # fmt: skip


@dataclass
class People:
    agent: Person
    rita: Person
    rita_two: Person
    requester: Person


def _definition(source: str) -> WorkflowDefinition:
    forms = shared_forms_json({})
    name = re.search(r"name: (\w+)", source).group(1)
    return WorkflowDefinition(
        name=name, version="1", content_hash=pinned_hash(source, forms), source=source,
        shared_forms=forms, kind="ticket", active=True,
    )  # fmt: skip


@pytest.fixture
def people(session: Session, make_person) -> People:
    session.add_all([_definition(CALL_FLOW), _definition(PORTAL_ONLY)])
    found = People(
        agent=make_person(name="Hannah Agent", roles={"agent"}),
        rita=make_person(name="Rita Moreau", email="rita.moreau@example.org", roles={"requester"}),
        rita_two=make_person(name="Rita Berg", email="rita.berg@example.org"),
        requester=make_person(name="Ralph Requester", roles={"requester"}),
    )
    session.add_all([
        Category(slug="hardware", name="Hardware"),
        Category(slug="network", name="Network"),
        Category(slug="retired", name="Retired", active=False),
    ])  # fmt: skip
    session.commit()
    return found


@pytest.fixture
def phone(make_app: MakeApp, people: People) -> Iterator[TestClient]:  # noqa: F811
    """A browser on an app with the call pages (Temporal is down)."""
    with TestClient(
        make_app(("phones", Phones())), raise_server_exceptions=False, follow_redirects=False
    ) as browser:
        yield browser


def count(client: TestClient, model: type) -> int:
    with make_read_session_factory(client.app.state.db)() as db:
        return db.scalar(select(func.count()).select_from(model))


def post(client: TestClient, token: str, **fields: str):
    sent = GOOD | {"csrf_token": token, "idempotency_key": "k-1"} | fields
    return client.post("/helpdesk/calls/new/trouble", data=sent)


# ----------------------------------------------------------------- access ---


def test_only_agents_log_calls(phone: TestClient, people: People) -> None:
    for path in ("/helpdesk/calls/new", "/helpdesk/calls/new/trouble"):
        anonymous = phone.get(path)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/sign-in")
    sign_in(phone, people.requester)
    assert phone.get("/helpdesk/calls/new").status_code == 403
    assert phone.get("/helpdesk/calls/new/trouble").status_code == 403
    assert "Log a call" not in phone.get("/portal").text
    sign_in(phone, people.agent)
    listed = phone.get("/helpdesk/calls/new")
    assert listed.status_code == 200
    assert '<a href="/helpdesk/calls/new" aria-current="page">Log a call</a>' in listed.text


def test_requesters_posting_a_call_write_nothing(phone: TestClient, people: People) -> None:
    token = sign_in(phone, people.requester)
    reply = post(phone, token, caller="rita.moreau@example.org")
    assert reply.status_code == 403
    assert (count(phone, WorkItem), count(phone, Event)) == (0, 0)


def test_the_list_offers_the_types_that_take_calls(phone: TestClient, people: People) -> None:
    sign_in(phone, people.agent)
    page = phone.get("/helpdesk/calls/new").text
    assert 'href="/helpdesk/calls/new/trouble"' in page
    assert "Order a mouse" not in page
    refused = phone.get("/helpdesk/calls/new/web_only")
    assert refused.status_code == 404
    assert "does not take requests by phone" in refused.text
    assert phone.get("/helpdesk/calls/new/nothing").status_code == 404
    assert phone.get("/helpdesk/calls/new/" + "x" * 500).status_code == 404


def test_the_form_is_labelled_grouped_and_keyed(phone: TestClient, people: People) -> None:
    token = sign_in(phone, people.agent)
    page = phone.get("/helpdesk/calls/new/trouble").text
    assert form_token(page) == token
    for legend in ("Who is calling?", "Or a caller we do not know yet", "The request",
                   "During the call"):  # fmt: skip
        assert f"<legend>{legend}</legend>" in page
    controls = re.findall(r'<(?:input|textarea|select)[^>]* id="([^"]+)"', page)
    assert set(controls) >= {
        "field-caller",
        "field-new_name",
        "field-new_email",
        "field-summary",
        "field-resolved_on_call",
        "field-resolution",
    }
    for control in controls:
        assert f'<label for="{control}">' in page, f"{control} has no label"
    assert page.count('id="field-resolution"') == 1, "the form's own field is not shown twice"
    keys = {re.search(r'name="idempotency_key" value="([^"]+)"', phone.get(
        "/helpdesk/calls/new/trouble").text).group(1) for _ in range(2)}  # fmt: skip
    assert len(keys) == 2, "each rendered form has a key of its own"


def test_the_call_takes_a_category_of_the_help_desk(phone: TestClient, people: People) -> None:
    sign_in(phone, people.agent)
    page = phone.get("/helpdesk/calls/new/trouble").text
    select_ = re.search(r'<select[^>]* id="field-category".*?</select>', page, re.S)
    assert select_ is not None
    assert '<label for="field-category">Category' in page
    offered = re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select_.group(0))
    assert offered == [("", "Not known yet"), ("hardware", "Hardware"), ("network", "Network")]


def test_an_unknown_category_is_refused_by_field(phone: TestClient, people: People) -> None:
    token = sign_in(phone, people.agent)
    before = (count(phone, WorkItem), count(phone, Event))
    for wrong in ("hardwar", "retired"):
        reply = post(phone, token, caller="rita.moreau@example.org", category=wrong)
        assert reply.status_code == 422
        assert f"there is no category &#39;{wrong}&#39;; choose one of: hardware, network" in (
            reply.text
        )
        assert 'href="#field-category"' in reply.text
        assert GOOD["summary"] in reply.text, "the input is kept"
    assert (count(phone, WorkItem), count(phone, Event)) == before


# ---------------------------------------------------------------- callers ---


def test_find_a_caller_by_email_or_by_name(phone: TestClient, people: People) -> None:
    token = sign_in(phone, people.agent)
    by_email = post(phone, token, caller="  RITA.MOREAU@example.org ", find="1")
    assert by_email.status_code == 200
    assert re.search(rf'value="{people.rita.id}"\s+checked', by_email.text)
    assert "Rita Moreau &lt;rita.moreau@example.org&gt;" in by_email.text
    by_name = post(phone, token, caller="rita", find="1")
    assert by_name.status_code == 200
    assert "2 people match &#39;rita&#39;: choose one" in by_name.text
    assert "Rita Berg" in by_name.text
    assert "Rita Moreau" in by_name.text
    nobody = post(phone, token, caller="zz_%", find="1")
    assert "nobody matches" in nobody.text
    assert count(phone, WorkItem) == 0


def test_a_caller_is_required_and_the_choice_among_many(phone: TestClient, people: People) -> None:
    token = sign_in(phone, people.agent)
    nobody = post(phone, token)
    assert nobody.status_code == 422
    assert "give the caller&#39;s e-mail or name" in nobody.text
    many = post(phone, token, caller="rita")
    assert many.status_code == 422
    assert "choose one" in many.text
    both = post(phone, token, caller="rita", new_name="New One", new_email="new@example.org")
    assert both.status_code == 422
    assert "not both" in both.text
    assert (count(phone, WorkItem), count(phone, Person)) == (0, 4)


def test_a_new_caller_is_checked_and_never_a_duplicate(phone: TestClient, people: People) -> None:
    token = sign_in(phone, people.agent)
    bad = post(phone, token, new_name="Nina New", new_email="nina@nowhere")
    assert bad.status_code == 422
    assert "is not an e-mail address" in bad.text
    assert 'value="Nina New"' in bad.text
    nameless = post(phone, token, new_email="nina@example.org")
    assert nameless.status_code == 422
    assert "the name is empty" in nameless.text
    taken = post(phone, token, new_name="Rita Again", new_email="Rita.Moreau@example.org")
    assert taken.status_code == 422
    assert "rita.moreau@example.org is Rita Moreau&#39;s already" in taken.text
    assert 'name="caller" value="rita.moreau@example.org"' in taken.text, "looked up instead"
    assert count(phone, Person) == 4


def test_a_new_caller_who_is_known_by_name_and_email_is_that_person(
    phone: TestClient, people: People
) -> None:
    token = sign_in(phone, people.agent)
    known = {"new_name": " rita  MOREAU", "new_email": "Rita.Moreau@example.org"}
    reply = post(phone, token, summary="", **known)
    assert reply.status_code == 422
    assert "exists" not in reply.text
    assert "already" not in reply.text
    assert "this field is required" in reply.text, "only the missing summary is wrong"
    assert count(phone, Person) == 4


# ------------------------------------------------------------ the request ---


def test_mistakes_come_back_422_with_every_error_and_the_input(
    phone: TestClient, people: People
) -> None:
    token = sign_in(phone, people.agent)
    before = (count(phone, WorkItem), count(phone, Event), count(phone, Person))
    reply = post(
        phone, token, caller="rita.moreau@example.org", summary="", details="Kept <b>as typed</b>",
        resolved_on_call="true",
    )  # fmt: skip
    assert reply.status_code == 422
    assert "this field is required" in reply.text
    assert "say what was done to resolve it during the call" in reply.text
    assert "Kept &lt;b&gt;as typed&lt;/b&gt;" in reply.text
    assert re.search(r'id="field-resolved_on_call"[^>]*checked', reply.text)
    assert 'name="idempotency_key" value="k-1"' in reply.text
    assert 'href="#field-summary"' in reply.text, "the summary links to the field"
    too_long = post(phone, token, caller="rita.moreau@example.org", summary="x" * 201)
    assert too_long.status_code == 422
    assert "at most 200 characters" in too_long.text
    assert (count(phone, WorkItem), count(phone, Event), count(phone, Person)) == before


def test_without_the_csrf_token_nothing_is_made(phone: TestClient, people: People) -> None:
    sign_in(phone, people.agent)
    reply = phone.post(
        "/helpdesk/calls/new/trouble", data=GOOD | {"caller": "rita.moreau@example.org"}
    )
    assert reply.status_code == 403
    assert count(phone, WorkItem) == 0


def test_without_temporal_nothing_is_made_and_the_input_is_kept(
    phone: TestClient, people: People
) -> None:
    token = sign_in(phone, people.agent)
    before = (count(phone, WorkItem), count(phone, Event), count(phone, Person))
    for caller in ({"caller": "rita.moreau@example.org"},
                   {"new_name": "Nina New", "new_email": "nina@example.org"}):  # fmt: skip
        reply = post(phone, token, summary="Keep me", **caller)
        assert reply.status_code == 503
        assert "cannot be reached" in reply.text
        assert 'value="Keep me"' in reply.text
        assert 'name="idempotency_key" value="k-1"' in reply.text
        assert f'value="{next(iter(caller.values()))}"' in reply.text
    assert (count(phone, WorkItem), count(phone, Event), count(phone, Person)) == before


def test_a_key_too_long_is_refused_with_a_fresh_one(phone: TestClient, people: People) -> None:
    token = sign_in(phone, people.agent)
    reply = post(phone, token, caller="rita.moreau@example.org", idempotency_key="k" * 500)
    assert reply.status_code == 400
    assert "idempotency key" in reply.text
    assert "k" * 500 not in reply.text


# ---------------------------------------------------------- on Temporal ---


def _agent_in_l1(on: Harness) -> str:
    """An agent of helpdesk-l1, signed in: their session id."""
    with on.sessions.begin() as db:
        team = db.scalars(select(Team).filter_by(slug="helpdesk-l1")).first()
        if team is None:
            team = Team(slug="helpdesk-l1", name="Help desk L1")
            db.add(team)
        agent = Person(email="hannah.calls@example.org", name="Hannah Calls", is_staff=True)
        agent.grant("agent")
        agent.memberships = [Membership(team=team)]
        db.add(agent)
        if db.scalars(select(Category).filter_by(slug="network")).first() is None:
            db.add(Category(slug="network", name="Network"))
        db.flush()
        return credentials.start_session(db, agent.id)


@pytest.mark.asyncio(loop_scope="session")
@pytest.mark.timeout(60)
async def test_a_call_resolved_on_the_spot_makes_one_phone_ticket_for_a_new_caller(
    harness,  # noqa: F811 (the fixture imported above)
    tmp_path,
) -> None:
    """On the time-skipping server: a new caller added, the ticket logged and resolved at once."""
    session_id = _agent_in_l1(harness)
    harness.deploy(CALL_FLOW)
    app: Starlette = create_app(
        Settings(data_dir=tmp_path, task_queue=harness.queue),
        create_plugin_manager(entry_points=False, plugins=[("phones", Phones())]),
        db=harness.sessions.kw["bind"],
        temporal=TemporalLink(client=harness.client),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        cookies={SESSION_COOKIE: session_id},
    ) as browser:
        form = await browser.get("/helpdesk/calls/new/trouble")
        key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
        sent = GOOD | {
            "csrf_token": form_token(form.text), "idempotency_key": key,
            "new_name": "Nina  New", "new_email": "Nina.New@example.org",
            "resolved_on_call": "true", "resolution": "Cleared the Outlook profile cache.",
            "category": "network",
        }  # fmt: skip
        replies = await asyncio.gather(  # a double click, then the form sent again
            *(browser.post("/helpdesk/calls/new/trouble", data=sent) for _ in range(2))
        )
        replies.append(await browser.post("/helpdesk/calls/new/trouble", data=sent))
        assert [r.status_code for r in replies] == [303, 303, 303], replies[0].text[:2000]
        [location] = {reply.headers["location"] for reply in replies}
        item_id = int(re.fullmatch(r"/items/(\d+)\?done=call_logged", location).group(1))
        shown = await browser.get(location)
        assert shown.status_code == 200, "the agent may open the ticket at once"
    with make_read_session_factory(harness.sessions.kw["bind"])() as db:
        [nina] = db.scalars(select(Person).filter_by(email="nina.new@example.org")).all()
        assert (nina.name, nina.role_names, nina.is_staff) == ("Nina New", {"requester"}, False)
        assert db.scalars(select(WorkItem.id).filter_by(requester_id=nina.id)).all() == [item_id]
        item = db.get(WorkItem, item_id)
        assert (item.channel, item.requester_id, item.title) == (
            "phone",
            nina.id,
            "Outlook will not start",
        )
        assert item.custom == GOOD | {
            "resolved_on_call": True, "resolution": "Cleared the Outlook profile cache.",
            "category": "network",  # as triage files it, once however often it was sent
        }  # fmt: skip
        filed = [e for e in item.events if e.type == "updated" and e.data["field"] == "custom"]
        assert [e.data["to"].get("category") for e in filed] == ["network"]
        [created] = [e for e in item.events if e.type == "created"]
        agent = db.scalars(select(Person).filter_by(email="hannah.calls@example.org")).one()
        assert created.actor_id == agent.id
        assert created.data["channel"] == "phone"
        workflow_id = item.workflow_id
    result = await harness.client.get_workflow_handle(workflow_id).result()
    assert result["outcome"] == "resolved"
    for _ in range(50):
        with make_read_session_factory(harness.sessions.kw["bind"])() as db:
            if db.get(WorkItem, item_id).status == "resolved":
                break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the call resolved on the spot did not resolve its ticket")
