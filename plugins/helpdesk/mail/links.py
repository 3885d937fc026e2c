"""The "open your request" link in every mail to a requester: signed, expiring, signs them in.

Requesters who wrote in by e-mail have no password, so a plain link to
``/items/{id}`` would only show them the sign-in page. Every mail's link is
``/helpdesk/open/{id}?t=TOKEN`` instead: the token is signed with the site's
secret key (its own salt), names the item and its requester, and works for
:data:`LINK_DAYS` days. Following it while signed out signs that requester
in (a new session, as the sign-in page starts one) and goes to the request's
page; nothing else changes, so a mail scanner that opens links does no harm
beyond starting a session.

Never signed in by a link: staff (anyone with a role beyond ``requester``, or
marked staff), disabled people, and a person who is no longer the item's
requester: they sign in with their password. A visitor who is already
signed in goes straight to the request's page, whoever they are; their
session is left alone. A link that is tampered with or expired answers a
page that says so, with a link to sign in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from engine.config import Settings, secret_key
from engine.model import Person, WorkItem
from engine.model.auth import start_session
from engine.web.access import SIGN_IN_PATH, page, viewer_of
from engine.web.admin_support import write
from engine.web.auth import set_session_cookie
from engine.web.item_page import MAX_ID
from plugins.helpdesk.mail.outbox import Claimed

log = logging.getLogger(__name__)

LINK_DAYS = 14
"""How long the link in a mail keeps signing its requester in."""
MAX_TOKEN = 500
SALT = "helpdesk-open-request"
REQUESTER_ROLES = frozenset({"requester"})
EXPIRED = "helpdesk/mail/link_expired.html"


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def open_token(secret: str, item_id: int, requester_id: int) -> str:
    """The token that signs ``requester_id`` in to see ``item_id``."""
    return _serializer(secret).dumps([item_id, requester_id])


def open_url(secret: str, base_url: str, item_id: int, requester_id: int) -> str:
    """The absolute "open your request" link for a mail."""
    query = urlencode({"t": open_token(secret, item_id, requester_id)})
    return f"{base_url.rstrip('/')}/helpdesk/open/{item_id}?{query}"


def link_extras(
    settings: Settings, site_url: str, sessions: sessionmaker[Session]
) -> Callable[[Claimed], dict[str, Any]]:
    """Template values for every mail: ``link`` is the signed link of the mail's requester."""
    secret = secret_key(settings)

    def extras(claimed: Claimed) -> dict[str, Any]:
        with sessions() as session:
            item = session.get(WorkItem, claimed.work_item_id)
            if item is None or item.requester_id is None:
                return {}
            return {"link": open_url(secret, site_url, item.id, item.requester_id)}

    return extras


def signed_person(secret: str, item_id: int, token: str) -> int | None:
    """The requester a valid, unexpired token for ``item_id`` names, else ``None``."""
    if not token or len(token) > MAX_TOKEN:
        return None
    try:
        signed = _serializer(secret).loads(token, max_age=LINK_DAYS * 86400)
    except BadSignature:  # includes SignatureExpired
        return None
    if not (isinstance(signed, list) and len(signed) == 2 and signed[0] == item_id):
        return None
    return signed[1] if isinstance(signed[1], int) else None


def may_sign_in_by_link(person: Person | None, item: WorkItem | None) -> bool:
    """Whether ``person`` is ``item``'s requester, active, and nothing but a requester."""
    return (
        person is not None
        and item is not None
        and item.requester_id == person.id
        and person.active
        and not person.is_staff
        and person.role_names <= REQUESTER_ROLES
    )


async def open_request(request: Request) -> Response:
    """GET /helpdesk/open/{item_id}?t=TOKEN: sign the requester in, then show the request."""
    item_id: int = request.path_params["item_id"]
    target = f"/items/{item_id}"
    if not viewer_of(request).is_anonymous:
        return RedirectResponse(target, 303)
    settings = request.app.state.settings
    token = request.query_params.get("t", "")
    person_id = signed_person(secret_key(settings), item_id, token) if item_id <= MAX_ID else None

    def sign_in(db: Session) -> str | None:
        """A new session of the link's requester (its id), or ``None`` when refused."""
        person = db.get(Person, person_id) if person_id is not None else None
        if person is None or not may_sign_in_by_link(person, db.get(WorkItem, item_id)):
            return None
        log.info("%s signed in by the link in a mail about item %s", person.email, item_id)
        return start_session(db, person.id, user_agent=request.headers.get("user-agent", ""))

    session_id = await write(request, sign_in)
    if session_id is None:
        sign_in_link = f"{SIGN_IN_PATH}?{urlencode({'next': target})}"
        return request.app.state.templates.TemplateResponse(
            request, EXPIRED, {"sign_in": sign_in_link}, status_code=403
        )
    response = RedirectResponse(target, 303)
    set_session_cookie(response, request, settings, session_id)
    return response


ROUTES: list[BaseRoute] = [
    page("/helpdesk/open/{item_id:int}", open_request, allow="public", name="helpdesk.open"),
]
