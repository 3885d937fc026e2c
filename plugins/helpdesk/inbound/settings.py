"""The ``[inbound]`` settings section: where mail comes in, and how much of it is taken.

Every field has a default, so a site without inbound mail configures nothing:
the SMTP listener is off while ``smtp_port`` is 0, IMAP polling is off while
``imap_host`` is empty. Environment names are ``TIERFLOW_INBOUND__<FIELD>``
(lists as JSON: ``TIERFLOW_INBOUND__ADDRESSES='["help@example.org"]'``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from engine.people import check_email

MB = 1024 * 1024


class InboundSettings(BaseModel):
    """Inbound e-mail: the SMTP listener, IMAP polling, and the limits both obey."""

    model_config = ConfigDict(extra="forbid")

    smtp_host: str = Field(default="127.0.0.1", description="Address the SMTP listener binds.")
    smtp_port: int = Field(default=0, ge=0, le=65535, description="0 turns the listener off.")
    addresses: list[str] = Field(
        default_factory=list, description="Recipient addresses the listener accepts mail for."
    )
    domains: list[str] = Field(
        default_factory=list, description="Recipient domains the listener accepts mail for."
    )
    max_message_bytes: int = Field(default=25 * MB, ge=1024, description="Largest mail taken.")
    max_attachment_bytes: int = Field(default=10 * MB, ge=1, description="Largest attachment.")
    max_attachments: int = Field(default=20, ge=0, description="Attachments kept per mail.")
    request_type: str = Field(default="incident", min_length=1, description="Type of new mails.")
    subject_field: str = Field(default="summary", description="Intake field the subject fills.")
    body_field: str = Field(default="details", description="Intake field the text fills.")
    reply_signal: str = Field(
        default="requester_replied",
        description="Signal a reply sends the ticket's run when its workflow offers it.",
    )
    create_requesters: bool = Field(
        default=True, description="Add unknown senders as requesters (else refuse their mail)."
    )
    sender_domains: list[str] = Field(
        default_factory=list, description="Only take mail from these domains (empty: any)."
    )
    per_sender_per_hour: int = Field(
        default=5, ge=1, description="Mails taken from one sender per hour; more are dropped."
    )
    per_sender_per_day: int = Field(
        default=20, ge=1, description="Mails taken from one sender per day; more are dropped."
    )
    trusted_authserv_id: str = Field(
        default="",
        description="The authserv-id of the receiving mail server whose Authentication-Results "
        "header (the top-most) is trusted; empty: no mail counts as authenticated.",
    )
    require_authenticated_requesters: bool = Field(
        default=False,
        description="Hold requesters' mail that is not authenticated (for an administrator) "
        "instead of taking it as theirs.",
    )
    imap_host: str = Field(default="", description="IMAP server to poll; empty: no polling.")
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: Literal["tls", "starttls", "none"] = "tls"
    imap_ca_file: str = Field(
        default="", description="CA certificates (PEM) to trust besides the system's."
    )
    imap_username: str = ""
    imap_password: SecretStr = SecretStr("")
    imap_folder: str = Field(default="INBOX", min_length=1)
    imap_done_folder: str = Field(
        default="", description="Move processed mail here; empty: mark it read (\\Seen)."
    )
    imap_poll_seconds: float = Field(default=60, ge=0.1, description="Seconds between polls.")

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [check_email(address) for address in value]

    @field_validator("domains", "sender_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        cleaned = [domain.strip().lower().lstrip("@") for domain in value]
        for domain in cleaned:
            if "." not in domain or any(c.isspace() or c in "@<>," for c in domain):
                raise ValueError(f"{domain!r} is not a domain (expected example.org)")
        return cleaned

    @field_validator("imap_ca_file")
    @classmethod
    def _ca_file(cls, value: str) -> str:
        if value and not Path(value).is_file():
            raise ValueError(f"{value} is not a file (a PEM file of CA certificates)")
        return value

    @field_validator("trusted_authserv_id")
    @classmethod
    def _authserv_id(cls, value: str) -> str:
        value = value.strip().lower()
        if any(c.isspace() or c in ';()"' for c in value):
            raise ValueError(f"{value!r} is not an authserv-id (expected mx.example.org)")
        return value

    @model_validator(mode="after")
    def _authentication_needs_a_server(self) -> InboundSettings:
        if self.require_authenticated_requesters and not self.trusted_authserv_id:
            raise ValueError(
                "require_authenticated_requesters is on but trusted_authserv_id is empty: no "
                "mail could be authenticated; name the receiving server (mx.example.org)"
            )
        return self

    @model_validator(mode="after")
    def _listener_needs_recipients(self) -> InboundSettings:
        if self.smtp_port and not (self.addresses or self.domains):
            raise ValueError(
                "the SMTP listener is on (smtp_port) but accepts no recipient: set addresses "
                "(help@example.org) or domains (example.org)"
            )
        return self

    @property
    def listening(self) -> bool:
        return self.smtp_port > 0

    @property
    def polling(self) -> bool:
        return bool(self.imap_host)

    def accepts(self, recipient: str) -> bool:
        """Whether the listener takes mail for ``recipient`` (an address or domain listed)."""
        address = recipient.strip().lower()
        return address in self.addresses or address.rpartition("@")[2] in self.domains

    def own_address(self, sender: str) -> bool:
        """Whether ``sender`` is one of the addresses this help desk receives at (a loop)."""
        return sender.lower() in self.addresses
