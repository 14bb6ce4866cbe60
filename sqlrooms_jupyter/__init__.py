"""A DuckDB query server for SQLRooms apps, standalone or inside a Jupyter kernel."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__", "current", "share", "start", "stop", "unshare"]


def __getattr__(name: str) -> Any:
    # The notebook API lives in `kernel.api`; importing it lazily keeps the CLI light.
    if name in ("current", "share", "start", "stop", "unshare"):
        from .kernel import api

        return getattr(api, name)
    raise AttributeError(name)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext sqlrooms_jupyter`: register the `%sqlrooms` magic."""
    from .kernel.magics import SqlroomsMagics

    ipython.register_magics(SqlroomsMagics(ipython))


def unload_ipython_extension(ipython: Any) -> None:
    from .kernel import api

    api.stop()


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """For `jupyter labextension develop`: the built panel lives in `labextension/`."""
    return [{"src": "labextension", "dest": "sqlrooms-jupyter"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .serverext.extension import SqlroomsServerExtension

    return [{"module": "sqlrooms_jupyter.serverext.extension", "app": SqlroomsServerExtension}]
