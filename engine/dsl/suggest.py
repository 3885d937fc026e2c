""" "Did you mean …?" for a misspelt name: a step, key, action, form, team or time zone."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The candidate nearest to ``name`` (a different case counts as nearest), or ``None``."""
    options = sorted({str(candidate) for candidate in candidates} - {name})
    folded = [option for option in options if option.lower() == name.lower()]
    if folded:
        return folded[0]
    matches = difflib.get_close_matches(name, options, n=1, cutoff=cutoff)
    return matches[0] if matches else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the nearest candidate, or ``""`` when none is near."""
    match = closest(name, candidates)
    return f" (did you mean '{match}'?)" if match is not None else ""
