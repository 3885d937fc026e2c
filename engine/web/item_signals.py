"""``POST /items/{id}/signals/{signal}``: a person sends the item's run a signal from its page.

The workflow declares the signals people may send (``signals:``, see
:mod:`engine.signals`); the page shows those the viewer may send now. This
route checks again (404 for a signal the workflow does not offer, 403 for a
viewer ``who`` leaves out, 409 while ``when`` does not hold), validates the
signal's form (422 with the input kept), sends the signal (503 with the input
kept and nothing recorded while Temporal is down), records it, and goes back
to the page with a notice.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from engine.db import make_read_session_factory
from engine.errors import TemporalError
from engine.runtime.client import Runtime
from engine.signals import Checked, SignalError, check_signal, deliver, item_workflow, record_signal
from engine.web.access import page, viewer_of
from engine.web.errors import error_response
from engine.web.forms import field_errors, parse_submission
from engine.web.item_page import MAX_ID, find_item, signal_views
from engine.web.items import _done, _not_found, _page, _render

TEMPORAL_DOWN = (
    "The workflow engine cannot be reached just now, so nothing was sent and nothing was "
    "changed. Try again in a minute; if it keeps failing, tell an administrator."
)


async def signal_submit(request: Request) -> Response:
    """POST /items/{id}/signals/{signal}: send the signal with the posted form's data."""
    posted = await request.form()
    item_id: int = request.path_params["item_id"]
    name: str = request.path_params["signal"]
    viewer = viewer_of(request)
    state = request.app.state
    if not 0 < item_id <= MAX_ID:
        return _not_found(request, item_id)

    def check() -> Checked | None:
        with make_read_session_factory(state.db)() as db:
            item = find_item(db, item_id, viewer)
            if item is None:
                return None
            workflow = item_workflow(db, item)
            offer = workflow.signals.get(name) if workflow is not None else None
            form = workflow.forms.get(offer.form) if workflow and offer and offer.form else None
            data = parse_submission(form, posted) if form is not None else {}
            return check_signal(db, item, viewer, name, data)

    try:
        checked = await run_in_threadpool(check)
        if checked is None:
            return _not_found(request, item_id)
        runtime = Runtime(await state.temporal.client(), state.settings.task_queue)
        await deliver(runtime, checked)
    except SignalError as exc:
        if exc.status in (403, 404):
            return error_response(request, exc.status, _sentence(str(exc)))
        return await _again(
            request, name, posted, status=exc.status, message=str(exc), errors=exc.errors
        )
    except TemporalError:
        return await _again(request, name, posted, status=503, message=TEMPORAL_DOWN, errors=[])

    def write() -> None:
        with state.sessions.begin() as db:
            record_signal(db, state.pm, checked, viewer)

    await run_in_threadpool(write)
    return _done(item_id, "signalled")


async def _again(
    request: Request,
    name: str,
    posted: FormData,
    *,
    status: int,
    message: str,
    errors: list[dict[str, object]],
) -> Response:
    """The page again, the signal's form as posted with its errors (409, 422, 503)."""
    found = await _page(request)
    if isinstance(found, Response):
        return found
    problem = _sentence(message)
    offered = found.signals or []
    views = signal_views(offered, name, posted, field_errors(errors), problem)
    if not any(view.name == name for view in views):  # no longer offered: say why on top
        return _render(request, found, problem=problem, status=status)
    return _render(request, found, signals=views, status=status)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


ROUTES: list[BaseRoute] = [
    page(
        "/items/{item_id:int}/signals/{signal}",
        signal_submit,
        allow="signed_in",
        methods=("POST",),
        name="work_item.signal",
    ),
]
