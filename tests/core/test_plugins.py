"""Plugins load through real entry points; a broken one is named with its cause."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import PluginError
from engine.plugins import create_plugin_manager, migration_branches, unique_by

BUILT_INS = {"helpdesk", "projects", "timekeeping", "reports"}
TIERFLOW = Path(sys.executable).with_name("tierflow")


def make_distribution(root: Path, name: str, modules: dict[str, str], points: dict[str, str]):
    """Install a tiny distribution into ``root`` the way pip would: modules + dist-info."""
    for module, source in modules.items():
        (root / f"{module}.py").write_text(source)
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = "".join(f"{point} = {target}\n" for point, target in points.items())
    (info / "entry_points.txt").write_text(f"[tierflow]\n{lines}")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    importlib.invalidate_caches()


def test_built_in_plugins_load_through_entry_points() -> None:
    pm = create_plugin_manager()
    infos = {info.name: info for info in pm.infos()}
    assert set(infos) >= BUILT_INS
    helpdesk = infos["helpdesk"]
    assert helpdesk.distribution == "tierflow"
    assert helpdesk.module == "plugins.helpdesk.plugin"
    assert "tierflow_load_demo_data" in helpdesk.hooks
    assert "tierflow_register_migrations" in helpdesk.hooks
    assert [b.label for b in migration_branches(pm)] == ["helpdesk"]


def test_third_party_plugin_loads_like_a_built_in(site: Path) -> None:
    make_distribution(
        site,
        "tierflow-printers",
        {
            "tf_printers": (
                "from engine.hookspecs import hookimpl\n"
                "from engine.contrib import RequestType\n"
                "@hookimpl\n"
                "def tierflow_register_request_types():\n"
                "    return RequestType('printer', 'Printer problem', workflow='incident')\n"
            )
        },
        {"printers": "tf_printers"},
    )
    importlib.invalidate_caches()
    pm = create_plugin_manager()
    info = next(info for info in pm.infos() if info.name == "printers")
    assert (info.distribution, info.version) == ("tierflow-printers", "1.0")
    assert info.hooks == ("tierflow_register_request_types",)
    assert set(unique_by(pm, "tierflow_register_request_types", "name")) >= {"printer", "incident"}


def test_plugin_that_fails_to_import_is_named(site: Path) -> None:
    make_distribution(
        site, "tierflow-broken", {"tf_broken": "import tierflow_no_such_module\n"},
        {"broken": "tf_broken"},
    )  # fmt: skip
    importlib.invalidate_caches()
    with pytest.raises(PluginError) as caught:
        create_plugin_manager()
    message = str(caught.value)
    assert caught.value.plugin == "broken"
    assert "plugin 'broken' (tf_broken, from tierflow-broken 1.0) failed to import" in message
    assert "No module named 'tierflow_no_such_module'" in message


def test_misspelt_hook_is_named_with_a_suggestion(site: Path) -> None:
    source = (
        "from engine.hookspecs import hookimpl\n"
        "@hookimpl\n"
        "def tierflow_register_rootes():\n"
        "    return []\n"
    )
    make_distribution(site, "tierflow-typo", {"tf_typo": source}, {"typo": "tf_typo"})
    importlib.invalidate_caches()
    with pytest.raises(PluginError) as caught:
        create_plugin_manager()
    assert str(caught.value) == (
        "plugin 'typo' implements unknown hook 'tierflow_register_rootes' "
        "(did you mean 'tierflow_register_routes'?)"
    )


def test_hook_with_wrong_arguments_is_named(site: Path) -> None:
    source = (
        "from engine.hookspecs import hookimpl\n"
        "@hookimpl\n"
        "def tierflow_load_demo_data(sesion):\n"
        "    pass\n"
    )
    make_distribution(site, "tierflow-args", {"tf_args": source}, {"args": "tf_args"})
    importlib.invalidate_caches()
    with pytest.raises(PluginError, match=r"plugin 'args' is invalid: .*sesion"):
        create_plugin_manager()


def test_raising_hook_is_named(site: Path) -> None:
    source = (
        "from engine.hookspecs import hookimpl\n"
        "@hookimpl\n"
        "def tierflow_startup(settings):\n"
        "    raise RuntimeError('licence file missing')\n"
        "@hookimpl\n"
        "def tierflow_register_navigation():\n"
        "    return 1 / 0\n"
    )
    make_distribution(site, "tierflow-raises", {"tf_raises": source}, {"raises": "tf_raises"})
    importlib.invalidate_caches()
    pm = create_plugin_manager()
    with pytest.raises(PluginError) as caught:
        pm.call("tierflow_startup", settings=None)
    assert str(caught.value) == (
        "plugin 'raises' failed in tierflow_startup: RuntimeError: licence file missing"
    )
    with pytest.raises(PluginError, match=r"plugin 'raises' failed in tierflow_register_navi"):
        pm.collect("tierflow_register_navigation")


def run_cli(*args: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(path), "TIERFLOW_DATA_DIR": str(path / "data")}
    return subprocess.run(
        [str(TIERFLOW), *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_cli_lists_plugins_and_hooks(tmp_path: Path) -> None:
    result = run_cli("plugins", path=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in BUILT_INS:
        assert f"{name} 0." in result.stdout
    assert "    tierflow_load_demo_data" in result.stdout


def test_cli_stops_on_a_broken_plugin_without_a_traceback(tmp_path: Path) -> None:
    make_distribution(
        tmp_path, "tierflow-broken", {"tf_broken": "raise ImportError('needs libfoo')\n"},
        {"broken": "tf_broken"},
    )  # fmt: skip
    result = run_cli("plugins", path=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "tierflow: error: plugin 'broken' (tf_broken, from tierflow-broken 1.0) "
        "failed to import: ImportError: needs libfoo"
    )


def test_plugin_adds_a_cli_command(tmp_path: Path) -> None:
    source = (
        "import click\n"
        "from engine.hookspecs import hookimpl\n"
        "@click.command('hello')\n"
        "@click.argument('name')\n"
        "def hello(name):\n"
        "    'Greet someone.'\n"
        "    click.echo(f'hello {name}')\n"
        "@hookimpl\n"
        "def tierflow_register_commands(cli):\n"
        "    cli.add_command(hello)\n"
    )
    make_distribution(tmp_path, "tierflow-hello", {"tf_hello": source}, {"hello": "tf_hello"})
    assert "Greet someone." in run_cli("--help", path=tmp_path).stdout
    result = run_cli("hello", "desk", path=tmp_path)
    assert (result.returncode, result.stdout) == (0, "hello desk\n")


def test_serve_stops_at_start_up_when_a_plugin_hook_raises(tmp_path: Path) -> None:
    source = (
        "from engine.hookspecs import hookimpl\n"
        "@hookimpl\n"
        "def tierflow_startup(settings):\n"
        "    raise RuntimeError(f'no licence file in {settings.data_dir}')\n"
    )
    make_distribution(tmp_path, "tierflow-lic", {"tf_lic": source}, {"licensed": "tf_lic"})
    result = run_cli("serve", "--port", "1", path=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "tierflow: error: plugin 'licensed' failed in tierflow_startup: "
        f"RuntimeError: no licence file in {tmp_path / 'data'}"
    )
    assert "Starting plugins … failed" in result.stdout
    assert "Stopped." in result.stdout
