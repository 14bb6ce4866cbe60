"""Interop: the official SQLRooms JS client (@sqlrooms/duckdb) against the real server.

`tests/js/duckdb-interop.mjs` drives `createWebSocketDuckDbConnector` and prints one JSON
line per check; these tests run it against servers started by the `start_server` fixture.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support import TESTS, ServerProcess, interop_records, npm_project

JS_DIR = TESTS / "js"
SCRIPT = JS_DIR / "duckdb-interop.mjs"
TOKEN = "interop-secret-token"

COMMON_CHECKS = [
    "initialize",
    "arrow-scalar",
    "arrow-range-1000-sum",
    "arrow-large-result",
    "query-json",
    "ddl-and-dml",
    "sql-error",
    "cancel-abortsignal",
    "cancel-handle",
    "after-cancel",
    "load-arrow-table",
    "load-arrow-ipc-bytes-replace",
    "notification",
    "destroy",
]
AUTH_CHECKS = ["auth-wrong-token", "auth-missing-token"]


@pytest.fixture(scope="session")
def node_modules() -> Path:
    npm_project(JS_DIR)
    return JS_DIR / "node_modules"


def run_interop(server: ServerProcess, token: str | None = None) -> dict[str, dict[str, Any]]:
    """Run the node script against `server`; return its check lines by name."""
    args = [shutil.which("node") or "node", str(SCRIPT), server.url]
    if token is not None:
        args.append(token)
    proc = subprocess.run(args, cwd=JS_DIR, capture_output=True, text=True, timeout=60)
    checks, summary = interop_records(proc.stdout)
    context = (
        f"node exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        f"\n--- server log (tail)\n{server.log()[-3000:]}"
    )
    failures = [f"{name}: {rec.get('error')}" for name, rec in checks.items() if not rec["ok"]]
    assert not failures, "interop checks failed:\n  " + "\n  ".join(failures) + "\n" + context
    assert summary is not None and summary["summary"] == "OK", f"no OK summary\n{context}"
    assert proc.returncode == 0, context
    return checks


def assert_checks(checks: dict[str, dict[str, Any]], expected: list[str]) -> None:
    missing = [name for name in expected if name not in checks]
    assert not missing, f"checks that did not run: {missing} (ran: {list(checks)})"


@pytest.mark.usefixtures("node_modules")
def test_official_connector_without_token(start_server: Callable[..., ServerProcess]) -> None:
    checks = run_interop(start_server())
    assert_checks(checks, COMMON_CHECKS)
    assert not set(AUTH_CHECKS) & set(checks)
    assert checks["arrow-scalar"]["detail"] == {"answer": 42, "s": "hi"}
    assert checks["sql-error"]["detail"].startswith("Catalog Error")
    cancel = checks["cancel-abortsignal"]["detail"]
    assert cancel["cancelAck"]["cancelled"] is True
    assert cancel["error"] == "Query was cancelled"


@pytest.mark.usefixtures("node_modules")
def test_official_connector_with_auth_token(start_server: Callable[..., ServerProcess]) -> None:
    checks = run_interop(start_server("--auth-token", TOKEN), token=TOKEN)
    assert_checks(checks, COMMON_CHECKS + AUTH_CHECKS)
    assert checks["initialize"]["detail"]["auth"] is True
    # A wrong token: initialize() and query() reject with the server's "unauthorized".
    assert checks["auth-wrong-token"]["detail"] == {
        "initialize": "unauthorized",
        "query": "unauthorized",
    }
