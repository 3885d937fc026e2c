"""The plugin manager: loads plugins from the ``tierflow`` entry-point group.

Nothing here runs at import time. ``create_plugin_manager()`` is called by the
CLI, ``create_app()`` and the worker, which pass the manager on. The four
built-in plugins load exactly like a third party's: through entry points.
"""

from __future__ import annotations

import difflib
import importlib.metadata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pluggy

from engine import hookspecs
from engine.contrib import MigrationBranch
from engine.errors import PluginError

ENTRY_POINT_GROUP = "tierflow"


@dataclass(frozen=True)
class PluginInfo:
    """What ``tierflow plugins`` shows of one plugin."""

    name: str
    module: str
    distribution: str
    version: str
    hooks: tuple[str, ...] = field(default_factory=tuple)


class PluginManager(pluggy.PluginManager):
    """A pluggy manager that knows where each plugin came from and names it in errors."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self._origins: dict[str, tuple[str, str, str]] = {}

    # -- loading ----------------------------------------------------------

    def load_entry_points(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Import and register every plugin in ``group``, sorted by name."""
        points = sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name)
        for point in points:
            if self.has_plugin(point.name):
                continue
            dist = point.dist
            origin = (dist.name, dist.version) if dist is not None else ("?", "?")
            try:
                plugin = point.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin '{point.name}' ({point.value}, from {origin[0]} {origin[1]}) "
                    f"failed to import: {_cause(exc)}",
                    plugin=point.name,
                ) from exc
            self.add_plugin(point.name, plugin, distribution=origin[0], version=origin[1])

    def add_plugin(
        self, name: str, plugin: object, *, distribution: str = "", version: str = ""
    ) -> None:
        """Register ``plugin`` under ``name``, turning pluggy's complaints into PluginError."""
        try:
            self.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            detail = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            raise PluginError(f"plugin '{name}' is invalid: {detail}", plugin=name) from exc
        except ValueError as exc:  # registered twice under one name
            raise PluginError(f"plugin '{name}' cannot be registered: {exc}", plugin=name) from exc
        module = getattr(plugin, "__name__", type(plugin).__name__)
        self._origins[name] = (module, distribution, version)

    def verify(self) -> None:
        """Fail by name on a hook implementation that matches no hook (a misspelling)."""
        known = [
            name
            for name in dir(self.hook)
            if isinstance(getattr(self.hook, name), pluggy.HookCaller)
            and getattr(self.hook, name).has_spec()
        ]
        for name in dir(self.hook):
            caller = getattr(self.hook, name)
            if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if impl.optionalhook:
                    continue
                hint = difflib.get_close_matches(name, known, n=1)
                fix = f" (did you mean '{hint[0]}'?)" if hint else ""
                raise PluginError(
                    f"plugin '{impl.plugin_name}' implements unknown hook '{name}'{fix}",
                    plugin=impl.plugin_name,
                )
        self.check_pending()

    # -- calling ----------------------------------------------------------

    def call(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call ``hook`` with keyword arguments; a raising plugin is named in the error."""
        caller: pluggy.HookCaller = getattr(self.hook, hook)
        try:
            return caller(**kwargs)
        except PluginError:
            raise
        except Exception as exc:
            name = self._culprit(caller, exc.__traceback__) or "?"
            raise PluginError(
                f"plugin '{name}' failed in {hook}: {_cause(exc)}", plugin=name
            ) from exc

    def collect(
        self, hook: str, *, expect: type | tuple[type, ...] | None = None, **kwargs: Any
    ) -> list[tuple[str, Any]]:
        """Call a contribution hook; return ``(plugin name, item)`` for every item returned.

        A result may be ``None`` (nothing), one item, or an iterable of items.
        With ``expect``, an item of another type stops with the plugin named.
        """
        caller: pluggy.HookCaller = getattr(self.hook, hook)
        impls = caller.get_hookimpls()
        if any(impl.wrapper or impl.hookwrapper for impl in impls):
            # wrappers need pluggy's own call loop; results lose their plugin's name
            found = [("?", item) for result in self.call(hook, **kwargs) for item in _items(result)]
        else:
            found = []
            for impl in reversed(impls):
                args = {arg: kwargs[arg] for arg in impl.argnames}
                try:
                    result = impl.function(**args)
                    found.extend((impl.plugin_name, item) for item in _items(result))
                except Exception as exc:
                    raise PluginError(
                        f"plugin '{impl.plugin_name}' failed in {hook}: {_cause(exc)}",
                        plugin=impl.plugin_name,
                    ) from exc
        if expect is not None:
            for plugin, item in found:
                if not isinstance(item, expect):
                    names = (expect,) if isinstance(expect, type) else expect
                    wanted = " or ".join(kind.__name__ for kind in names)
                    raise PluginError(
                        f"plugin '{plugin}' returned {item!r} ({type(item).__name__}) from "
                        f"{hook}; expected {wanted}",
                        plugin=plugin,
                    )
        return found

    def _culprit(self, caller: pluggy.HookCaller, tb: TracebackType | None) -> str | None:
        codes = {impl.function.__code__: impl.plugin_name for impl in caller.get_hookimpls()}
        culprit = None
        while tb is not None:
            culprit = codes.get(tb.tb_frame.f_code, culprit)
            tb = tb.tb_next
        return culprit

    # -- describing -------------------------------------------------------

    def infos(self) -> list[PluginInfo]:
        """One :class:`PluginInfo` per registered plugin, sorted by name."""
        rows = []
        for name, plugin in sorted(self.list_name_plugin()):
            module, dist, version = self._origins.get(name, (str(plugin), "", ""))
            hooks = tuple(sorted(caller.name for caller in self.get_hookcallers(plugin) or []))
            rows.append(PluginInfo(name, module, dist, version, hooks))
        return rows


def create_plugin_manager(
    *, entry_points: bool = True, plugins: Iterable[tuple[str, object]] = ()
) -> PluginManager:
    """Build a verified plugin manager.

    ``entry_points`` loads the ``tierflow`` group; ``plugins`` adds ``(name,
    object)`` pairs (tests, embedding). Raises :class:`PluginError` naming the
    plugin when one fails to import, is invalid or implements an unknown hook.
    """
    pm = PluginManager()
    for name, plugin in plugins:
        pm.add_plugin(name, plugin)
    if entry_points:
        pm.load_entry_points()
    pm.verify()
    return pm


def load_models(pm: PluginManager) -> None:
    """Import every plugin's model modules so their tables join ``Base.metadata``."""
    pm.collect("tierflow_register_models")


def migration_branches(pm: PluginManager) -> list[MigrationBranch]:
    """The Alembic branches plugins contribute, checked for clashes and missing folders."""
    branches: list[MigrationBranch] = []
    for plugin, branch in pm.collect("tierflow_register_migrations"):
        if not isinstance(branch, MigrationBranch):
            raise PluginError(
                f"plugin '{plugin}' returned {branch!r} from tierflow_register_migrations; "
                "expected a MigrationBranch",
                plugin=plugin,
            )
        if not branch.directory.is_dir():
            raise PluginError(
                f"plugin '{plugin}': migration folder {branch.directory} does not exist",
                plugin=plugin,
            )
        if any(other.label == branch.label for other in branches):
            raise PluginError(
                f"plugin '{plugin}': migration branch '{branch.label}' is already taken",
                plugin=plugin,
            )
        branches.append(branch)
    return branches


def unique_by(
    pm: PluginManager,
    hook: str,
    key: str,
    /,
    *,
    expect: type | tuple[type, ...] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Collect ``hook`` into a dict by each item's ``key`` attribute; a clash names both plugins."""
    seen: dict[str, tuple[str, Any]] = {}
    for plugin, item in pm.collect(hook, expect=expect, **kwargs):
        value = _key(item, key)
        if value in seen:
            raise PluginError(
                f"plugin '{plugin}' contributes {key} '{value}' from {hook}, "
                f"which plugin '{seen[value][0]}' already contributes",
                plugin=plugin,
            )
        seen[value] = (plugin, item)
    return {value: item for value, (_, item) in seen.items()}


def _key(item: Any, key: str) -> str:
    defn = getattr(item, "__temporal_activity_definition", None)
    if defn is not None and key == "name":
        return defn.name
    return str(getattr(item, key))


def _items(result: Any) -> Iterator[Any]:
    if result is None:
        return
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
        yield result
        return
    yield from result


def _cause(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
