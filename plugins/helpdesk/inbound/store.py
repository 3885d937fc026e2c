"""The inbox's ground floor: its settings and connections, and transactions on a claimed record.

:class:`Store` runs database work in threads (``asyncio.to_thread``), each
write in one transaction guarded by the delivery's claim (:mod:`.records`): a
write whose claim was lost meanwhile rolls back and answers the record as it is.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from engine.contrib import RequestType
from engine.plugins import PluginManager
from engine.runtime.client import Runtime
from plugins.helpdesk.inbound.models import InboundAttachment, InboundMessage
from plugins.helpdesk.inbound.parse import Mail
from plugins.helpdesk.inbound.records import Claim, Result, Settled, release, result, settle
from plugins.helpdesk.inbound.settings import InboundSettings

log = logging.getLogger("tierflow.helpdesk.inbound")


class Store:
    """Settings, plugins, database and runtime, and the record's transactions."""

    def __init__(
        self,
        settings: InboundSettings,
        pm: PluginManager,
        sessions: sessionmaker[Session],
        runtime: Runtime,
        request_types: dict[str, RequestType],
    ) -> None:
        self.settings = settings
        self.pm = pm
        self.sessions = sessions
        self.runtime = runtime
        self.request_types = request_types

    def _read(self, function: Any, *args: Any) -> Any:
        """``function(db, *args)`` in a session of its own."""
        with self.sessions() as db:
            return function(db, *args)

    def _write(self, held: Claim, change: Any) -> Any:
        """``change(db)`` in one transaction; the record as it is if the claim was lost."""
        try:
            with self.sessions.begin() as db:
                return change(db)
        except Settled:
            with self.sessions() as db:
                found = db.get(InboundMessage, held.record_id)
                assert found is not None
                return result(found, duplicate=True)

    def _keep(
        self,
        db: Session,
        mail: Mail,
        held: Claim,
        outcome: str,
        reason: str,
        *,
        item_id: int,
        signal_due: bool = False,
    ) -> Result:
        """Settle the record as ``outcome`` and store the mail's files on item ``item_id``."""
        done = settle(db, held, outcome, reason, item_id, signal_due=signal_due)
        for position, file in enumerate(mail.attachments, start=1):
            db.add(
                InboundAttachment(
                    message_id=held.record_id, work_item_id=item_id, position=position,
                    filename=file.filename, content_type=file.content_type,
                    size=len(file.content), content=file.content,
                )
            )  # fmt: skip
        log.info("inbound mail %s: %s (%s)", held.record_id, outcome, reason)
        return done

    async def _finish(self, held: Claim, outcome: str, reason: str) -> Result:
        """Settle the record as ``outcome`` for ``reason`` (nothing else to write)."""
        done = await asyncio.to_thread(
            self._write, held, lambda db: settle(db, held, outcome, reason)
        )
        log.info("inbound mail %s: %s (%s)", held.record_id, done.outcome, done.reason)
        return done

    def _release(self, held: Claim, reason: str) -> None:
        """Let the claim go, saying why the mail waits (best effort: the database may be why)."""
        try:
            with self.sessions.begin() as db:
                release(db, held, reason)
        except DBAPIError as exc:
            log.warning("inbound mail %s waits (%s); cannot note why: %s", held.record_id,
                        reason, exc)  # fmt: skip
