"""Cron expressions as schedules use them: five fields, or a shortcut such as ``@daily``.

``minute hour day-of-month month day-of-week``; each field is ``*``, a number,
a range ``a-b``, any of those with a step ``/n``, or a comma list of them.
Months and weekdays may be written as names (``jan``, ``mon``); Sunday is 0 or 7.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.dsl.suggest import did_you_mean

SHORTCUTS = ("@hourly", "@daily", "@weekly", "@monthly", "@yearly")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class CronField:
    """One of the five fields: its name, place, allowed range and the names it accepts."""

    name: str
    ordinal: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, text: str) -> int:
        """The number ``text`` stands for; raises ``ValueError`` with the reason."""
        if text.lower() in self.names:
            return self.names.index(text.lower()) + self.low
        if not text.isdigit():
            hint = f" or a name such as {self.names[0]}" if self.names else ""
            raise ValueError(f"'{text}' is not a number{hint}")
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{number} is out of range {self.low}-{self.high}")
        return number


FIELDS = (
    CronField("minute", "1st", 0, 59),
    CronField("hour", "2nd", 0, 23),
    CronField("day-of-month", "3rd", 1, 31),
    CronField("month", "4th", 1, 12, MONTHS),
    CronField("day-of-week", "5th", 0, 7, DAYS),
)


def cron_problems(expression: str) -> list[str]:
    """Everything wrong with ``expression`` (an empty list when it is a valid schedule)."""
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() in SHORTCUTS:
            return []
        return [
            f"'{text}' is not a cron shortcut: use one of {', '.join(SHORTCUTS)}"
            + did_you_mean(text.lower(), SHORTCUTS)
        ]
    parts = text.split()
    if len(parts) != len(FIELDS):
        return [
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
            f"'{text}' has {len(parts)}"
        ]
    problems = []
    for field, part in zip(FIELDS, parts, strict=True):
        for entry in part.split(","):
            try:
                _check_entry(field, entry)
            except ValueError as exc:
                problems.append(f"cron field '{field.name}' ({field.ordinal}): {exc}")
    return problems


def _check_entry(field: CronField, entry: str) -> None:
    if not entry:
        raise ValueError("an entry is empty (check the commas)")
    base, slash, step = entry.partition("/")
    if slash and not (step.isdigit() and int(step) >= 1):
        raise ValueError(f"the step '/{step}' must be a whole number of at least 1")
    if base == "*":
        return
    low, dash, high = base.partition("-")
    first = field.value(low)
    if dash and field.value(high) < first:
        raise ValueError(f"the range {base} goes backwards: write {high}-{low}")
