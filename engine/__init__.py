"""Tierflow's engine: the shared data model, plugin system, workflow runtime and web layer.

The engine knows no help desk and no projects; those are plugins.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tierflow")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
