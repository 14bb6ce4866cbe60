"""The notebook API: `start()`, `share()`, `stop()` for this kernel's one server.

A kernel has one SQLRooms server at a time (one discovery file per kernel
id), so this module keeps it. Everything else (engine, hub, rooms) belongs
to that server object: stop and start again builds them anew.
"""

from __future__ import annotations

import atexit
import inspect
from typing import Any

import duckdb

from .. import options
from .server import KernelServer, random_token

_current: KernelServer | None = None
_hooked_shell: Any = None


def current() -> KernelServer | None:
    """This kernel's running server, or None."""
    return _current if _current is not None and _current.running else None


def start(con: duckdb.DuckDBPyConnection | None = None, **keywords: Any) -> KernelServer:
    """Start this kernel's SQLRooms server on a thread of its own.

    Clients query `con`, by default `duckdb.default_connection()` (what
    `duckdb.sql()` in cells uses), or a database file of its own with
    `db_path`. A random token is required unless `require_token=False`.
    The default port falls back to a free one when taken; `port=0` always
    picks a free one. `read_only`, `allowed_directories`, `memory_limit` and
    `threads` are DuckDB settings of the whole database (the notebook's cells
    too), locked once set; see docs/security.md.

    The keywords are `%sqlrooms start`'s flags (text is parsed as there, e.g.
    `max_sql_size="1M"`):
    """
    global _current
    values = options.keywords(keywords)
    running = current()
    if running is not None:
        raise RuntimeError(f"a SQLRooms server is already running at {running.url}; stop it first")
    if con is not None and values["db_path"] is not None:
        raise ValueError("pass a connection or a db_path, not both")
    if values["db_path"] is None and con is None:
        con = duckdb.default_connection()
    token = values["auth_token"] or (random_token() if values["require_token"] else None)
    values["auth_token"] = token
    server = KernelServer(options.server_config(values), con)
    server.start(port_fallback=values["port"] == options.DEFAULT_PORT)
    _current = server
    _hook_cells(server)
    return server


start.__doc__ = inspect.cleandoc(start.__doc__ or "") + "\n" + options.keywords_doc()


def stop() -> bool:
    """Stop this kernel's server; False if none was running."""
    global _current
    server, _current = _current, None
    _unhook_cells()
    if server is None:
        return False
    server.stop()
    return True


def share(name: str, obj: object, *, follow: str | None = None) -> bool:
    """Make a pandas/polars DataFrame, Arrow table or reader, or DuckDB relation queryable;
    True when it replaced an object shared under that name. With `follow="df"`, a cell
    that rebinds `df` re-shares it."""
    return _require().share(name, obj, follow=follow)


def unshare(name: str) -> bool:
    return _require().unshare(name)


def _require() -> KernelServer:
    server = current()
    if server is None:
        raise RuntimeError("no SQLRooms server is running: start one with %sqlrooms start")
    return server


def _hook_cells(server: KernelServer) -> None:
    """Drop cached results after each cell: it may have written to the database directly."""
    global _hooked_shell
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.events.register("post_run_cell", _after_cell)
    _hooked_shell = shell


def _unhook_cells() -> None:
    global _hooked_shell
    if _hooked_shell is not None:
        _hooked_shell.events.unregister("post_run_cell", _after_cell)
        _hooked_shell = None


def _after_cell(result: Any = None) -> None:
    server = current()
    if server is not None:
        server.invalidate_cache()
        if (server.follows or server.watched) and _hooked_shell is not None:
            for note in server.refresh_followed(_hooked_shell.user_ns):
                print(note)


atexit.register(stop)  # kernel shutdown: close sockets, checkpoint, remove the discovery file
