"""The help desk offers its reports to the dashboard through tierflow_register_reports."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.contrib import ReportSpec
from engine.plugins import create_plugin_manager


def test_the_help_desk_registers_its_reports_and_each_computes(session: Session) -> None:
    pm = create_plugin_manager()
    reports = {
        spec.name: (plugin, spec)
        for plugin, spec in pm.collect("tierflow_register_reports", expect=ReportSpec)
    }
    assert {"helpdesk.self_help_deflections", "helpdesk.satisfaction"} <= set(reports)
    for plugin, spec in reports.values():
        assert plugin == "helpdesk"
        rows = spec.compute(session)
        assert isinstance(rows, list)
        for row in rows:
            assert tuple(row) == spec.columns
