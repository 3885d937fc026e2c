"""Where a requester's reply goes: the ``Reply-To`` of every mail, and whether inbound takes it.

A reply only comes back to its ticket if it reaches an address the inbound
part reads (``[inbound]``: the listener's ``addresses``/``domains``, or the
mailbox IMAP polls, which sites list in ``addresses`` too). ``[mail]
reply_to`` names the address; empty, it is the first of ``[inbound]
addresses`` while the listener or IMAP polling is on, else ``from_address``.
:func:`reply_problem` says, for the start-up log and the mail admin page, when
replies would go where inbound does not look.
"""

from __future__ import annotations

from plugins.helpdesk.inbound.settings import InboundSettings
from plugins.helpdesk.mail.settings import MailSettings


def receiving(inbound: InboundSettings) -> bool:
    """Whether mail comes in at all (the listener or IMAP polling is on)."""
    return inbound.listening or inbound.polling


def reply_address(mail: MailSettings, inbound: InboundSettings) -> str:
    """The address replies go to (``""`` while no sender is configured either)."""
    if mail.reply_to:
        return mail.reply_to
    if receiving(inbound) and inbound.addresses:
        return inbound.addresses[0]
    return mail.from_address


def with_reply_to(mail: MailSettings, inbound: InboundSettings) -> MailSettings:
    """``mail`` with ``reply_to`` filled in as :func:`reply_address` chooses it."""
    return mail.model_copy(update={"reply_to": reply_address(mail, inbound)})


def reply_problem(mail: MailSettings, inbound: InboundSettings) -> str:
    """Why replies to the help desk's mails would not come back to their tickets, or ``""``."""
    address = reply_address(mail, inbound)
    if not mail.sending or not address:
        return ""
    if not receiving(inbound):
        return (
            f"Replies to these mails go to {address}, but inbound mail is off ([inbound] "
            "smtp_port is 0 and imap_host is empty): they never reach their tickets."
        )
    if inbound.accepts(address):
        return ""
    accepted = ", ".join([*inbound.addresses, *(f"@{d}" for d in inbound.domains)]) or "none"
    return (
        f"Replies to these mails go to {address}, which inbound mail does not accept "
        f"(accepted: {accepted}): set [mail] reply_to to one of them, or add {address} to "
        "[inbound] addresses (with IMAP, the address of the mailbox it polls)."
    )
