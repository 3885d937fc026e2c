"""The shared data model: one SQLAlchemy ``Base`` for the core tables and every plugin's.

Import model classes from here (``from engine.model import WorkItem``). Plugins
declare their own tables on :class:`Base` in ``plugins/<name>/models.py``.
"""

from engine.model.auth import ApiToken, SignInFailure, WebSession
from engine.model.base import (
    Base,
    CreatedAtMixin,
    IdMixin,
    JSONDict,
    TimestampMixin,
    UTCDateTime,
    utcnow,
)
from engine.model.definitions import WorkflowDefinition
from engine.model.people import (
    LEVELS,
    MEMBERSHIP_ROLES,
    ROLES,
    Membership,
    Person,
    PersonRole,
    Team,
)
from engine.model.work import PRIORITIES, TASK_STATUSES, Comment, Event, Task, TimeEntry, WorkItem

__all__ = [
    "LEVELS",
    "MEMBERSHIP_ROLES",
    "PRIORITIES",
    "ROLES",
    "TASK_STATUSES",
    "ApiToken",
    "Base",
    "Comment",
    "CreatedAtMixin",
    "Event",
    "IdMixin",
    "JSONDict",
    "Membership",
    "Person",
    "PersonRole",
    "SignInFailure",
    "Task",
    "Team",
    "TimeEntry",
    "TimestampMixin",
    "UTCDateTime",
    "WebSession",
    "WorkItem",
    "WorkflowDefinition",
    "utcnow",
]
