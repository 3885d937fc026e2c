"""A plugin's own settings section: read from tierflow.toml and the environment, checked, shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from engine.cli import Context, cli, plugin_sections
from engine.config import Settings, load_settings
from engine.contrib import SettingsSection
from engine.errors import ConfigError
from engine.hookspecs import hookimpl
from engine.plugins import create_plugin_manager


class PagerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = ""
    port: int = Field(default=2525, ge=1, le=65535)
    password: SecretStr = SecretStr("")


class PagerPlugin:
    @hookimpl
    def tierflow_register_settings(self):
        return [SettingsSection("pager", PagerSettings, "The pager gateway")]


@pytest.fixture
def sections(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[SettingsSection]:
    monkeypatch.chdir(tmp_path)
    for name in ("TIERFLOW_CONFIG", "TIERFLOW_PAGER__HOST", "TIERFLOW_PAGER__PORT"):
        monkeypatch.delenv(name, raising=False)
    pm = create_plugin_manager(entry_points=False, plugins=[("pager", PagerPlugin())])
    return plugin_sections(pm)


def test_defaults_toml_then_environment(
    sections: list[SettingsSection], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings(sections).section("pager", PagerSettings).port == 2525
    (tmp_path / "tierflow.toml").write_text(
        'web_port = 8100\n[pager]\nhost = "pager.example.org"\n'
    )
    pager = load_settings(sections).section("pager", PagerSettings)
    assert (pager.host, pager.port) == ("pager.example.org", 2525)
    monkeypatch.setenv("TIERFLOW_PAGER__PORT", "2626")
    pager = load_settings(sections).section("pager", PagerSettings)
    assert (pager.host, pager.port) == ("pager.example.org", 2626)


def test_bad_values_are_named_where_they_come_from(
    sections: list[SettingsSection], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIERFLOW_PAGER__PORT", "99999")
    with pytest.raises(ConfigError) as caught:
        load_settings(sections)
    assert "TIERFLOW_PAGER__PORT (or 'port' in [pager] of tierflow.toml)" in str(caught.value)
    assert "'99999'" in str(caught.value)
    monkeypatch.delenv("TIERFLOW_PAGER__PORT")
    (tmp_path / "tierflow.toml").write_text('[pager]\nhots = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown setting 'hots' in \[pager\]"):
        load_settings(sections)


def test_a_section_named_like_a_setting_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'web_port'.*named like a setting"):
        load_settings([SettingsSection("web_port", PagerSettings)])


def test_settings_built_without_sections_give_the_defaults(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).section("pager", PagerSettings) == PagerSettings()


def test_tierflow_config_prints_a_section_without_its_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TIERFLOW_PAGER__PASSWORD", "hunter2")
    pm = create_plugin_manager(entry_points=False, plugins=[("pager", PagerPlugin())])
    result = CliRunner().invoke(cli, ["config"], obj=Context(pm))
    assert result.exit_code == 0, result.output
    assert "TIERFLOW_PAGER__PORT=2525" in result.output
    assert "TIERFLOW_PAGER__PASSWORD=(set)" in result.output
    assert "hunter2" not in result.output
