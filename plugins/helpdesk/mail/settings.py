"""The ``[mail]`` settings section: the SMTP server mails go through, and how the outbox retries.

Every field has a default, so a site without outbound mail configures nothing:
sending is off while ``smtp_host`` is empty (mails then wait in the outbox,
visible on the admin page, and go out once a server is configured).
Environment names are ``TIERFLOW_MAIL__<FIELD>`` (``TIERFLOW_MAIL__SMTP_HOST``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from engine.people import check_email

SECURITY = ("none", "starttls", "tls")


class MailSettings(BaseModel):
    """Outbound e-mail to requesters: the SMTP server, the sender, links, and retries."""

    model_config = ConfigDict(extra="forbid")

    smtp_host: str = Field(default="", description="SMTP server; empty turns sending off.")
    smtp_port: int = Field(default=587, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="starttls",
        description="none (plain), starttls (upgrade after connecting, port 587) or tls "
        "(TLS from the first byte, port 465).",
    )
    smtp_username: str = Field(default="", description="Sign in as; empty: no sign-in.")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="Password to sign in.")
    smtp_ca_file: str = Field(
        default="",
        description="PEM file of the certificate authority that signed a private server's "
        "certificate; empty: the system's authorities.",
    )
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=600, description="Per operation.")
    from_address: str = Field(
        default="", description="The sender address, e.g. helpdesk@example.org."
    )
    from_name: str = Field(default="IT help desk", max_length=200, description="Sender's name.")
    reply_to: str = Field(
        default="",
        description="Where requesters' replies go (Reply-To); empty: the first of [inbound] "
        "addresses while inbound mail is on, else from_address.",
    )
    site_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The web app's address as requesters reach it; links in mails start with it.",
    )
    templates_dir: str = Field(
        default="",
        description="Folder whose helpdesk/mail/<kind>.html files replace the shipped mail "
        "templates; empty: <data_dir>/templates.",
    )
    hold_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3600,
        description="How long a created/status/resolved mail waits, so that the workflow's own "
        "words to the requester (a notify step) join it instead of arriving as a second mail.",
    )
    poll_seconds: float = Field(default=2.0, gt=0, le=300, description="Outbox polling interval.")
    batch_size: int = Field(default=20, ge=1, le=500, description="Mails claimed per round.")
    max_attempts: int = Field(default=8, ge=1, le=100, description="Attempts before giving up.")
    retry_base_seconds: float = Field(
        default=60.0, gt=0, description="Wait after the first failure; doubles each time."
    )
    retry_max_seconds: float = Field(default=3600.0, gt=0, description="Longest wait.")
    lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a claimed mail is a worker's; after that another worker may "
        "send it (with the same Message-ID). Must exceed three SMTP timeouts.",
    )

    @field_validator(
        "smtp_host", "smtp_username", "from_address", "reply_to", "from_name", "site_url"
    )
    @classmethod
    def _one_line(cls, value: str) -> str:
        value = value.strip()
        if any(char in value for char in "\r\n\x00"):
            raise ValueError("must be one line (no line breaks)")
        return value

    @field_validator("from_address", "reply_to")
    @classmethod
    def _address(cls, value: str) -> str:
        return check_email(value) if value else value

    @field_validator("site_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _consistent(self) -> MailSettings:
        if self.smtp_host and not self.from_address:
            raise ValueError("from_address must be set when smtp_host is (mails need a sender)")
        if self.lease_seconds <= 3 * self.smtp_timeout_seconds:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds:g}) must exceed three "
                f"smtp_timeout_seconds ({3 * self.smtp_timeout_seconds:g}), or a slow send "
                "could be taken over and sent twice"
            )
        return self

    @property
    def sending(self) -> bool:
        """Whether mails go out at all (an SMTP server is configured)."""
        return bool(self.smtp_host)

    @property
    def domain(self) -> str:
        """The domain of Message-IDs: the sender's (``localhost`` while none is set)."""
        return self.from_address.rpartition("@")[2] or "localhost"

    def template_folder(self, data_dir: Path) -> Path:
        """Where admins put templates that replace the shipped ones."""
        return (
            Path(self.templates_dir).expanduser() if self.templates_dir else data_dir / "templates"
        )
