"""Settings from the environment, an optional ``tierflow.toml`` and command-line flags.

Precedence, highest first: command-line flags (``--data-dir``, ``--host``,
``--port``), ``TIERFLOW_*`` environment variables, ``tierflow.toml`` (in the
working directory, or the file ``TIERFLOW_CONFIG`` names), defaults. A bad
value is refused with the setting's name and the reason, before anything starts.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, SecretStr, ValidationError, create_model, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from engine.contrib import SettingsSection
from engine.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

ENV_PREFIX = "TIERFLOW_"
CONFIG_FILE = "tierflow.toml"
SECRET_KEY_FILE = "secret_key"
DATABASE_SCHEMES = ("sqlite", "postgresql")
LOG_LEVELS = ("debug", "info", "warning", "error")


def config_file() -> Path:
    """The TOML file settings are read from (it need not exist)."""
    return Path(os.environ.get(f"{ENV_PREFIX}CONFIG", CONFIG_FILE))


class Settings(BaseSettings):
    """Every setting Tierflow reads; the environment names are ``TIERFLOW_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default=Path("tierflow-data"), description="Folder for the database, logs, keys."
    )
    database_url: str = Field(
        default="", description="SQLAlchemy URL; empty means a SQLite file in the data directory."
    )
    temporal_address: str = Field(
        default="", description="host:port of a Temporal cluster; empty starts the embedded one."
    )
    temporal_namespace: str = Field(default="default", min_length=1)
    task_queue: str = Field(default="tierflow", min_length=1)
    web_host: str = Field(default="127.0.0.1", min_length=1)
    web_port: int = Field(default=8000, ge=1, le=65535)
    secret_key: SecretStr | None = Field(
        default=None, description="Signs sessions; generated into the data directory if unset."
    )
    log_level: str = Field(default="info", description="debug, info, warning or error")
    session_idle_minutes: int = Field(
        default=8 * 60, ge=1, description="A web session ends after this long without a request."
    )
    session_absolute_hours: int = Field(
        default=7 * 24, ge=1, description="A web session ends this long after signing in."
    )
    sign_in_failures_per_account: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins to one e-mail within the window before it is locked for a "
        "while.",
    )
    sign_in_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed sign-ins from one client address within the window before it is "
        "refused for a while.",
    )
    sign_in_window_minutes: int = Field(
        default=15, ge=1, description="How far back failed sign-ins are counted."
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark cookies Secure on every request (behind a proxy that terminates TLS); "
        "they always are on https requests.",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        return (init_settings, env_settings, toml)

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        value = value.strip()
        if value and value.split(":", 1)[0].split("+", 1)[0] not in DATABASE_SCHEMES:
            raise ValueError(
                "must start with sqlite:// or postgresql:// "
                "(for example postgresql+psycopg://user@host:5432/tierflow)"
            )
        return value

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, for example temporal.example.org:7233")
        return value

    def section(self, name: str, model: type[M]) -> M:
        """A plugin's settings section (``tierflow_register_settings``), as ``model``.

        Settings built without the plugins' sections (``Settings(...)`` in a
        test) give the model's defaults.
        """
        value = getattr(self, name, None)
        return value if isinstance(value, model) else model()

    @property
    def effective_database_url(self) -> str:
        """The configured database URL, or the SQLite file in the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'tierflow.db'}"

    @property
    def embedded_temporal(self) -> bool:
        """Whether Tierflow starts its own Temporal dev server."""
        return not self.temporal_address

    @property
    def web_url(self) -> str:
        host = f"[{self.web_host}]" if ":" in self.web_host else self.web_host
        return f"http://{host}:{self.web_port}"


_FLAG_OF = {"data_dir": "--data-dir", "web_host": "--host", "web_port": "--port"}


def load_settings(sections: Iterable[SettingsSection] = (), **overrides: Any) -> Settings:
    """Resolve the settings; ``overrides`` (from flags) win. Raises :class:`ConfigError`.

    ``sections`` are the plugins' own (``tierflow_register_settings``); each
    becomes a field of that name. ``None`` overrides are ignored, so a CLI can
    pass its flags unconditionally.
    """
    given = {name: value for name, value in overrides.items() if value is not None}
    named = os.environ.get(f"{ENV_PREFIX}CONFIG")
    if named and not Path(named).is_file():
        raise ConfigError(f"TIERFLOW_CONFIG: {named} is not a file (unset it to use none)")
    model = settings_class(tuple(sections))
    try:
        return model(**given)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, given, model)) from exc
    except (OSError, ValueError) as exc:  # an unreadable or malformed tierflow.toml
        raise ConfigError(f"{config_file()}: cannot read settings: {exc}") from exc


@functools.cache
def settings_class(sections: tuple[SettingsSection, ...]) -> type[Settings]:
    """:class:`Settings` with one field per plugin section (the class itself for none)."""
    if not sections:
        return Settings
    fields: dict[str, Any] = {}
    for section in sections:
        if section.name in Settings.model_fields or section.name in fields:
            raise ConfigError(
                f"settings section '{section.name}' ({section.model.__module__}) is named like "
                "a setting or another section; a plugin must choose another name"
            )
        fields[section.name] = (
            section.model,
            Field(default_factory=section.model, description=section.description),
        )
    return create_model("Settings", __base__=Settings, **fields)


def _describe(exc: ValidationError, given: dict[str, Any], model: type[Settings]) -> str:
    lines = ["invalid settings:"]
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        name = loc[0] if loc else "?"
        if len(loc) > 1:  # a field of a plugin's section
            lines.append(_describe_section_error(error, loc))
            continue
        if error["type"] == "extra_forbidden":
            where = f"{config_file()}: unknown setting '{name}'"
            known = ", ".join(model.model_fields)
            lines.append(f"  {where} (known settings: {known})")
            continue
        source = _FLAG_OF[name] if name in given and name in _FLAG_OF else None
        where = source or f"{ENV_PREFIX}{name.upper()} (or '{name}' in {config_file()})"
        reason = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {reason} (got {error.get('input')!r})")
    return "\n".join(lines)


def _describe_section_error(error: Any, loc: list[str]) -> str:
    section, field = loc[0], ".".join(loc[1:])
    if error["type"] == "extra_forbidden":
        return f"  {config_file()}: unknown setting '{field}' in [{section}]"
    env = f"{ENV_PREFIX}{section.upper()}__{'__'.join(part.upper() for part in loc[1:])}"
    reason = error["msg"].removeprefix("Value error, ")
    return f"  {env} (or '{field}' in [{section}] of {config_file()}): {reason} " + (
        f"(got {error.get('input')!r})"
    )


def ensure_data_dir(settings: Settings) -> Path:
    """Create the data directory (private to its owner) and return it."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"TIERFLOW_DATA_DIR: cannot create {settings.data_dir}: {exc.strerror}"
        ) from exc
    return settings.data_dir


def secret_key(settings: Settings) -> str:
    """The configured secret key, or the one stored in the data directory (made on first run)."""
    if settings.secret_key is not None:
        value = settings.secret_key.get_secret_value()
        if len(value) < 32:
            raise ConfigError("TIERFLOW_SECRET_KEY: must be at least 32 characters long")
        return value
    path = ensure_data_dir(settings) / SECRET_KEY_FILE
    if not path.exists():
        # write aside, then link into place: a second process never reads a half-written key
        fresh = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(fresh, path)
        except FileExistsError:
            pass  # another process made one first: use theirs
        finally:
            fresh.unlink()
    stored = path.read_text(encoding="ascii").strip()
    if len(stored) < 32:
        raise ConfigError(
            f"{path}: the stored secret key is too short; delete the file to make a new one"
        )
    return stored
