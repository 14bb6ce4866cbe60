"""The one place the benchmarks import the server package's internals.

When its modules move, only this file changes; tests/e2e/benchmarks/test_smoke.py fails
until it does (select1_stages patches these classes, app measures the built app,
profile_ours recognises the query pool's idle frames by the workers's file).
"""

from __future__ import annotations

from sqlrooms_jupyter import session
from sqlrooms_jupyter.db import workers
from sqlrooms_jupyter.db.engine import EngineConfig
from sqlrooms_jupyter.web import routes, static_app
from sqlrooms_jupyter.web.server import ServerConfig
from sqlrooms_jupyter.web.thread import ServerThread

APP_DIR = static_app.APP_DIR  # the built SQLRooms app
QueryWebSocket = routes.QueryWebSocket
Workers = workers.Workers
Session = session.Session
# Where a query's terminal answer is sent from, on the loop (`_finish(task)`).
InFlightQueries = session.InFlightQueries
EXECUTOR_FILE = workers.__name__.replace(".", "/") + ".py"  # as py-spy names its frames

__all__ = [
    "APP_DIR",
    "EXECUTOR_FILE",
    "EngineConfig",
    "InFlightQueries",
    "QueryWebSocket",
    "ServerConfig",
    "ServerThread",
    "Session",
    "Workers",
]
