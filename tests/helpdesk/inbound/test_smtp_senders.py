"""Who a mail says it is from: a staff address in From is not believed without the trusted
server's Authentication-Results, and requesters' mail can be required to be authenticated.

Real mails over SMTP to the listener; runs on the time-skipping server; SQLite and
PostgreSQL.
"""

from __future__ import annotations

import pytest

from tests.helpdesk.inbound.conftest import FLOW, Gateway, listening, message
from tests.interpreter.conftest import Harness

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(90)]

MX = "mx.desk.example.org"
HANNAH = "Hannah Lee <hannah.lee@example.org>"


async def _resolved_ticket(gateway: Gateway):
    await gateway.send(message("Printer jams"))
    [item] = gateway.items()
    return await gateway.status(item.id, "resolved")


async def test_a_staff_address_without_authentication_is_only_an_internal_note(
    gateway: Gateway,
) -> None:
    hannah = gateway.person("hannah.lee@example.org", "Hannah Lee", {"agent", "manager"})
    item = await _resolved_ticket(gateway)
    spoof = message(f"Re: [{item.reference}] hi", "Please confirm your password here.",
                    sender=HANNAH)  # fmt: skip
    await gateway.send(spoof)
    [(body, public, author)] = gateway.comments(item.id)
    assert (public, author) == (False, hannah)  # internal: the outbound part never mails it
    assert body.startswith("Please confirm your password here.")
    assert "not authenticated, so it may be forged" in body
    record = gateway.record(spoof["Message-ID"])
    assert record.outcome == "comment"
    assert "hannah.lee@example.org is a staff address and the mail is not authenticated" in (
        record.reason
    )
    assert "no trusted_authserv_id is set" in record.authentication
    assert await gateway.signals(item) == 0  # and nothing reopened
    assert gateway.items()[0].status == "resolved"


async def test_authenticated_staff_comment_publicly_but_never_reopen(harness: Harness) -> None:
    harness.deploy(FLOW)
    async with listening(harness, trusted_authserv_id=MX) as gateway:
        hannah = gateway.person("hannah.lee@example.org", "Hannah Lee", {"agent", "manager"})
        item = await _resolved_ticket(gateway)
        forged = [  # a fail, or a pass by another server: neither counts
            {"Authentication-Results": f"{MX}; dmarc=fail header.from=example.org"},
            {"Authentication-Results": "evil.example; dmarc=pass header.from=example.org"},
        ]
        for number, headers in enumerate(forged):
            await gateway.send(message(f"Re: [{item.reference}] note {number}", sender=HANNAH,
                                       headers=headers))  # fmt: skip
        lower = message(f"Re: [{item.reference}] lower", sender=HANNAH)
        lower["Authentication-Results"] = f"{MX}; none"
        lower["Authentication-Results"] = f"{MX}; dmarc=pass header.from=example.org"
        await gateway.send(lower)
        assert [public for _, public, _ in gateway.comments(item.id)] == [False, False, False]
        results = (f"{MX} 1; spf=pass smtp.mailfrom=example.org; dkim=pass "
                   f"header.d=example.org (ok); dmarc=pass header.from=example.org")  # fmt: skip
        real = message(f"Re: [{item.reference}] real", "Done, see the new driver.",
                       sender=HANNAH, headers={"Authentication-Results": results})  # fmt: skip
        await gateway.send(real)
        assert gateway.comments(item.id)[-1] == ("Done, see the new driver.", True, hannah)
        assert gateway.record(real["Message-ID"]).authentication.startswith("dmarc=pass")
        assert await gateway.signals(item) == 0
        assert gateway.items()[0].status == "resolved"


async def test_unauthenticated_requesters_are_held_when_required(harness: Harness) -> None:
    harness.deploy(FLOW)
    async with listening(harness, trusted_authserv_id=MX,
                         require_authenticated_requesters=True) as gateway:  # fmt: skip
        signed = {"Authentication-Results": f"{MX}; dkim=pass header.d=example.net"}
        await gateway.send(message("Printer jams", headers=signed))
        [item] = gateway.items()
        await gateway.status(item.id, "resolved")
        spoof = message(f"Re: [{item.reference}] fixed?", "Close it.")
        await gateway.send(spoof)  # taken (250), but held for an administrator
        record = gateway.record(spoof["Message-ID"])
        assert (record.outcome, record.work_item_id) == ("held", None)
        assert record.reason.startswith("held: unauthenticated (")
        assert gateway.comments(item.id) == []
        reply = message(f"Re: [{item.reference}] fixed?", "Still jams.", headers={
            "Authentication-Results": f"{MX}; dkim=pass header.d=mail.example.net; "
                                      "dkim=pass header.d=example.net"})  # fmt: skip
        reply.replace_header("Subject", f"Re: [{item.reference}] still")
        await gateway.send(reply)
        await gateway.status(item.id, "reopened")
        assert gateway.comments(item.id) == [("Still jams.", True, item.requester_id)]
