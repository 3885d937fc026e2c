"""The one error hierarchy of Tierflow.

Every error a person can act on derives from :class:`TierflowError` and carries a
message that names what went wrong, where, the value given and the fix. The CLI
prints such errors as one line and exits non-zero, never with a traceback.
"""

from __future__ import annotations


class TierflowError(Exception):
    """Base of every error Tierflow reports to a person."""


class ConfigError(TierflowError):
    """A setting has a bad value; the message names the setting and the reason."""


class PluginError(TierflowError):
    """A plugin failed to load, to validate, or raised in a hook.

    ``plugin`` is the plugin's name (its entry-point name) when it is known.
    """

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        super().__init__(message)
        self.plugin = plugin


class DatabaseError(TierflowError):
    """The database could not be reached or migrated."""


class TemporalError(TierflowError):
    """The Temporal server could not be started or reached."""
