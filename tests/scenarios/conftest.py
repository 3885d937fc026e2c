"""A small workflow to write scenarios for (``tierflow workflows test`` runs them through the
shared ``tierflow`` fixture of ``tests/conftest.py``)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PROBE = """\
name: scenario_probe
kind: ticket
start: {form: probe_intake}
forms:
  probe_intake:
    fields:
      - {name: summary, required: true}
      - {name: size, type: number, min: 1}
  review_form:
    fields: [{name: note}]
    outcomes: [ok, redo]
steps:
  - id: lookup
    action: crm.lookup
    with: {who: "{{ input.summary }}", size: "{{ input.size }}"}
    result: customer
  - id: review
    task: {team: probe-team, form: review_form, due: 1h, overdue: [{after: 1h, escalate: late}]}
    next:
      - {when: "outcome == 'ok'", goto: reply}
      - {otherwise: review}
  - id: reply
    wait: {signal: customer_replied, timeout: 1d}
    next:
      - {when: "timed_out", goto: late}
      - {otherwise: done}
  - id: done
    end: approved
  - id: late
    end: late
"""
"""Looks a customer up with a plugin action that is not installed (so scenarios stub it),
then asks probe-team to review (escalating to the end 'late' after 2 hours), then waits a
day for the customer's reply (or ends 'late')."""


@dataclass
class Site:
    """A folder with the probe workflow; ``scenarios(text)`` writes its scenario file."""

    folder: Path

    @property
    def file(self) -> Path:
        return self.folder / "scenario_probe.scenarios.yaml"

    def scenarios(self, text: str) -> Path:
        self.file.write_text(textwrap.dedent(text), encoding="utf-8")
        return self.file


@pytest.fixture
def probe(tmp_path: Path) -> Site:
    folder = tmp_path / "probe"
    folder.mkdir()
    (folder / "scenario_probe.yaml").write_text(PROBE, encoding="utf-8")
    return Site(folder)


def no_site(tmp_path: Path) -> list[str]:
    """``--dir`` to a folder that does not exist: only the probe and plugins' workflows load."""
    return ["--dir", str(tmp_path / "no-site")]
