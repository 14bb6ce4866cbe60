"""Start Mosaic's duckdb-server 0.31.0 on a given loopback port.

    .venv-mosaic/bin/python mosaic_server.py PORT DB_PATH

Its `server()` always listens on port 3000 on every interface; this wrapper replaces
socketify's `App.listen` at run time so that the same, unmodified server code
listens on 127.0.0.1:PORT instead, then calls the package's own entry point
(`pkg.__main__.serve`, which reads the database path from argv). Its diskcache
directory goes under TMPDIR (run.py points it into benchmarks/.work).
"""

from __future__ import annotations

import sys
from typing import Any

import socketify


def main(port: int, db_path: str) -> None:
    original_listen = socketify.App.listen

    def listen_on_loopback(self: Any, _port_or_options: Any, handler: Any = None) -> Any:
        options = socketify.AppListenOptions(port=port, host="127.0.0.1")
        return original_listen(self, options, handler)

    socketify.App.listen = listen_on_loopback  # type: ignore[method-assign]
    sys.argv = ["duckdb-server", db_path]
    from pkg.__main__ import serve

    serve()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
