"""Durations as admins write them: ``30s``, ``15m``, ``4h``, ``2d``, ``1w``, ``1h30m``."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+)\s*([smhdw])")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[smhdw]\s*)+$")

HELP = "write a duration such as 30s, 15m, 4h, 2d, 1w or 1h30m"


def parse_duration(text: object) -> timedelta:
    """Parse a duration; raises ``ValueError`` with a message an admin can act on."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"expected a duration, got {type(text).__name__} {text!r}; {HELP}")
    if isinstance(text, int):
        raise ValueError(f"a duration needs a unit: '{text}' could be {text}m or {text}h; {HELP}")
    if not _WHOLE.match(text.lower()):
        raise ValueError(f"'{text}' is not a duration; {HELP}")
    seconds = sum(int(n) * UNITS[unit] for n, unit in _PART.findall(text.lower()))
    if seconds == 0:
        raise ValueError(f"'{text}' is zero; a duration must be positive")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest text :func:`parse_duration` reads back as ``value``."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in sorted(UNITS.items(), key=lambda pair: -pair[1]):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
