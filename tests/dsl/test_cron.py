"""Cron expressions and "did you mean"."""

from __future__ import annotations

import pytest

from engine.dsl.cron import cron_problems
from engine.dsl.suggest import closest, did_you_mean


@pytest.mark.parametrize(
    "expression",
    [
        "* * * * *",
        "*/15 8-18 * * mon-fri",
        "0 0 1,15 jan,JUL sun",
        "30 2 * * 7",
        "5/10 0 1-31/2 1-12 0-6",
        "@hourly",
        "@Daily",
        "@weekly",
        "@monthly",
        "@yearly",
    ],
)
def test_valid_cron_expressions(expression: str) -> None:
    assert cron_problems(expression) == []


@pytest.mark.parametrize(
    ("expression", "problems"),
    [
        ("60 * * * *", ["cron field 'minute' (1st): 60 is out of range 0-59"]),
        ("0 25 * * *", ["cron field 'hour' (2nd): 25 is out of range 0-23"]),
        ("0 0 0 * *", ["cron field 'day-of-month' (3rd): 0 is out of range 1-31"]),
        ("0 0 * foo *", ["cron field 'month' (4th): 'foo' is not a number or a name such as jan"]),
        ("0 0 * * 8", ["cron field 'day-of-week' (5th): 8 is out of range 0-7"]),
        (
            "0 0 * * mon/0",
            ["cron field 'day-of-week' (5th): the step '/0' must be a whole number of at least 1"],
        ),
        ("0 9-5 * * *", ["cron field 'hour' (2nd): the range 9-5 goes backwards: write 5-9"]),
        ("0 0 1,,2 * *", ["cron field 'day-of-month' (3rd): an entry is empty (check the commas)"]),
        (
            "0 0 * *",
            [
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week), "
                "'0 0 * *' has 4"
            ],
        ),
        (
            "@often",
            [
                "'@often' is not a cron shortcut: "
                "use one of @hourly, @daily, @weekly, @monthly, @yearly"
            ],
        ),
        (
            "61 24 * * *",
            [
                "cron field 'minute' (1st): 61 is out of range 0-59",
                "cron field 'hour' (2nd): 24 is out of range 0-23",
            ],
        ),
    ],
)
def test_invalid_cron_expressions(expression: str, problems: list[str]) -> None:
    assert cron_problems(expression) == problems


def test_did_you_mean() -> None:
    assert did_you_mean("tsk", ["task", "action"]) == " (did you mean 'task'?)"
    assert did_you_mean("zzz", ["task", "action"]) == ""
    assert did_you_mean("task", ["task"]) == ""
    assert closest("europe/berlin", ["Europe/Berlin", "Europe/Bern"]) == "Europe/Berlin"
