"""The portal's generic extension point: panels on an intake form (tierflow_portal_intake_panels).

A plugin of the test's own (not the knowledge base) adds a panel that echoes
what was typed in the subject field: the portal shows it inside the form, calls
the hook again with the answers when the panel's refresh button comes back,
keeps the input, and submits nothing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from engine.contrib import IntakePanel, RequestType
from engine.hookspecs import hookimpl
from engine.model import WorkItem
from engine.web.portal import REFRESH_FIELD
from tests.web.conftest import MakeApp, form_token, sign_in
from tests.web.everyone import World


class Echo:
    """A plugin whose panel says what the requester typed in the summary."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: list[dict[str, str]] = []

    @hookimpl
    def tierflow_register_template_dirs(self) -> list[Path]:
        return [self.folder]

    @hookimpl
    def tierflow_portal_intake_panels(self, request_type, form, answers, viewer, session):
        self.seen.append(dict(answers))
        assert request_type.name == "incident"
        assert form is not None
        assert viewer.person_id is not None
        typed = answers.get("summary", "")
        return [IntakePanel("Echo", "echo/panel.html", {"typed": typed}, order=5)]

    @hookimpl
    def tierflow_register_request_types(self) -> list[RequestType]:
        return [RequestType("incident", "Report a problem", workflow="incident")]


def test_a_panel_is_shown_and_refreshed_with_the_answers(
    make_app: MakeApp, everyone: World, session: Session, tmp_path: Path
) -> None:
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "panel.html").write_text(
        '<p id="echo">You typed: {{ panel.context.typed }}</p>'
        '<button type="submit" name="{{ refresh_field }}" value="1">Look again</button>'
    )
    echo = Echo(tmp_path)
    app = make_app(("echo", echo))
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        sign_in(client, everyone.people["requester"])
        first = client.get("/portal/new/incident")
        assert first.status_code == 200
        assert '<h2 id="intake-panel-1">Echo</h2>' in first.text
        assert '<p id="echo">You typed: </p>' in first.text
        assert echo.seen == [{}]
        before = session.scalar(select(func.count()).select_from(WorkItem))

        again = client.post(
            "/portal/new/incident",
            data={"csrf_token": form_token(first.text), "idempotency_key": "k1",
                  "summary": "<b>VPN</b> drops", REFRESH_FIELD: "1"},
        )  # fmt: skip

        assert again.status_code == 200
        assert '<p id="echo">You typed: &lt;b&gt;VPN&lt;/b&gt; drops</p>' in again.text
        assert 'value="&lt;b&gt;VPN&lt;/b&gt; drops"' in again.text  # the input is kept
        assert 'name="idempotency_key" value="k1"' in again.text
        assert echo.seen[-1] == {"summary": "<b>VPN</b> drops"}  # only the form's fields
        session.expire_all()
        assert session.scalar(select(func.count()).select_from(WorkItem)) == before
