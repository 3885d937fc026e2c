"""Commenting on a work item: checked, written with its ``commented`` event, in one transaction.

The work item page and the JSON API both comment through :func:`post_comment`.
Internal comments are for staff; a requester's comment must be public (the
page makes it so, the API refuses anything else with a field error).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from sqlalchemy.orm import Session

from engine.errors import TierflowError
from engine.events import record_event
from engine.model import Comment, WorkItem
from engine.plugins import PluginManager

MAX_COMMENT = 20_000
"""The longest comment body, in characters."""

STAFF_ROLES = frozenset({"admin", "agent", "manager", "project_manager"})
"""Roles that see and write internal comments."""


def is_staff(roles: Collection[str]) -> bool:
    """Whether someone holding ``roles`` sees internal comments and may write them."""
    return not STAFF_ROLES.isdisjoint(roles)


class CommentError(TierflowError):
    """A comment that cannot be written; ``status`` is the HTTP status it means."""

    status = 400
    errors: list[dict[str, str]] | None = None


class CommentItemNotFound(CommentError):
    """No such work item, or one the author may not see (the two are not told apart)."""

    status = 404


class CommentInvalid(CommentError):
    """The comment does not fit: ``errors`` are ``{field, message}`` dicts."""

    status = 422

    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


def comment_errors(body: object, public: object) -> list[dict[str, str]]:
    """Every field error of a comment's ``body`` and ``public`` flag (empty when it fits)."""
    errors = []
    if not isinstance(body, str) or not body.strip():
        errors.append({"field": "body", "message": "write something"})
    elif "\x00" in body:
        errors.append(
            {"field": "body", "message": "remove the NUL character (\\0): it cannot be stored"}
        )
    elif len(body) > MAX_COMMENT:
        errors.append(
            {"field": "body", "message": f"at most {MAX_COMMENT} characters ({len(body)} given)"}
        )
    if not isinstance(public, bool):
        errors.append({"field": "public", "message": "must be true or false"})
    return errors


def post_comment(
    session: Session,
    pm: PluginManager,
    item_id: int,
    *,
    body: object,
    public: object,
    author_id: int | None,
    staff: bool,
    visible: Callable[[WorkItem], bool],
) -> Comment:
    """Write a comment on work item ``item_id`` and its ``commented`` event; return the comment.

    ``visible`` says whether the author may see the item (if not, it is
    :class:`CommentItemNotFound`, as a missing one is); ``staff`` whether they
    may write an internal (not ``public``) comment. Raises
    :class:`CommentInvalid` with every field's error; nothing is written then.
    """
    item = session.get(WorkItem, item_id)
    if item is None or not visible(item):
        raise CommentItemNotFound(f"there is no work item {item_id}")
    errors = comment_errors(body, public)
    if errors:
        raise CommentInvalid("the comment is not valid", errors)
    if not public and not staff:
        raise CommentInvalid(
            "requesters may only post public comments",
            [{"field": "public", "message": "must be true"}],
        )
    assert isinstance(body, str)
    assert isinstance(public, bool)
    row = Comment(work_item_id=item.id, author_id=author_id, body=body, public=public)
    session.add(row)
    session.flush()
    record_event(
        session,
        pm,
        work_item_id=item.id,
        type="commented",
        actor_id=author_id,
        data={"comment_id": row.id, "public": public},
    )
    return row
