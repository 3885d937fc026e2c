"""Settings: defaults, environment, tierflow.toml, flags, and clear refusals of bad values."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from engine.config import load_settings, secret_key
from engine.errors import ConfigError

NAMES = [
    "DATA_DIR", "DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TASK_QUEUE",
    "WEB_HOST", "WEB_PORT", "SECRET_KEY", "LOG_LEVEL", "CONFIG",
]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in NAMES:
        monkeypatch.delenv(f"TIERFLOW_{name}", raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.data_dir == tmp_path / "tierflow-data"
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'tierflow-data/tierflow.db'}"
    assert settings.embedded_temporal
    assert (settings.web_host, settings.web_port) == ("127.0.0.1", 8000)
    assert (settings.temporal_namespace, settings.task_queue) == ("default", "tierflow")


def test_environment_then_toml_then_flags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "tierflow.toml").write_text(
        'web_port = 8100\nweb_host = "0.0.0.0"\ntask_queue = "from-toml"\n'
    )
    monkeypatch.setenv("TIERFLOW_WEB_PORT", "8200")
    settings = load_settings()
    assert settings.web_port == 8200  # the environment beats the file
    assert settings.web_host == "0.0.0.0"
    assert settings.task_queue == "from-toml"
    flagged = load_settings(web_port=8300, web_host=None, data_dir=tmp_path / "d")
    assert flagged.web_port == 8300  # a flag beats both
    assert flagged.web_host == "0.0.0.0"  # a flag that was not given changes nothing
    assert flagged.data_dir == tmp_path / "d"


def test_config_file_named_by_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "etc" / "tf.toml"
    other.parent.mkdir()
    other.write_text('temporal_address = "temporal.example.org:7233"\n')
    monkeypatch.setenv("TIERFLOW_CONFIG", str(other))
    settings = load_settings()
    assert settings.temporal_address == "temporal.example.org:7233"
    assert not settings.embedded_temporal


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("WEB_PORT", "99999", "TIERFLOW_WEB_PORT"),
        ("WEB_PORT", "eighty", "TIERFLOW_WEB_PORT"),
        ("DATABASE_URL", "mysql://db/x", "must start with sqlite:// or postgresql://"),
        ("TEMPORAL_ADDRESS", "localhost", "must be host:port"),
        ("LOG_LEVEL", "loud", "TIERFLOW_LOG_LEVEL"),
    ],
)
def test_bad_environment_value_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(f"TIERFLOW_{name}", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert f"TIERFLOW_{name}" in message
    assert repr(value) in message


def test_bad_flag_is_named() -> None:
    with pytest.raises(ConfigError, match=r"--port: .*less than or equal to 65535"):
        load_settings(web_port=70000)


def test_unknown_and_malformed_toml(tmp_path: Path) -> None:
    (tmp_path / "tierflow.toml").write_text("web_prot = 8100\n")
    with pytest.raises(ConfigError, match=r"unknown setting 'web_prot'"):
        load_settings()
    (tmp_path / "tierflow.toml").write_text("web_port = \n")
    with pytest.raises(ConfigError, match=r"tierflow.toml: cannot read settings"):
        load_settings()


def test_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    first = secret_key(settings)
    assert len(first) >= 32
    assert secret_key(settings) == first
    mode = stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_configured_secret_key_must_be_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERFLOW_SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="TIERFLOW_SECRET_KEY"):
        secret_key(load_settings())
    monkeypatch.setenv("TIERFLOW_SECRET_KEY", "x" * 40)
    assert secret_key(load_settings()) == "x" * 40
