"""Running ``tierflow workflows test`` in-process, and a small workflow to write scenarios for."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.cli import _main

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Run:
    """What one command did: its exit code and what it printed."""

    rc: int
    out: str
    err: str


Tierflow = Callable[..., Run]


@pytest.fixture
def tierflow(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Tierflow:
    """``tierflow(*args)`` runs the CLI from the repository root, with a data folder of its own."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("TIERFLOW_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TIERFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("TIERFLOW_CONFIG", raising=False)

    def run(*args: str) -> Run:
        capsys.readouterr()
        rc = _main(list(args))
        out, err = capsys.readouterr()
        return Run(rc, out, err)

    return run


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
