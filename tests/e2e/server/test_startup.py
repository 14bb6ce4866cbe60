"""Queries that arrive while the database is still opening (/healthz up, /readyz 503)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa

from tests.polling import wait_until
from tests.support import Client, arrow_upload_frame, free_port, http_get

# Keeps the server between listening and ready for a few seconds.
SLOW_INIT = "CREATE TABLE warmup AS SELECT max(hash(i)) AS n FROM range(5000000000) t(i);\n"


def test_held_queries_are_cancellable_and_answered_once(tmp_path: Path) -> None:
    init = tmp_path / "init.sql"
    init.write_text(SLOW_INIT)
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    args = ["--port", str(port), "--extensions", "", "--init-sql", str(init)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "sqlrooms_jupyter", *args, "--db-path", str(tmp_path / "db.duckdb")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    http = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return http_get(http + "/healthz")[0] == 200
            except OSError:
                return False

        wait_until(healthy, "/healthz", timeout=30, interval=0.02)
        with Client(f"ws://127.0.0.1:{port}/") as client:
            client.send({"type": "exec", "sql": "create table ran_anyway(x int)", "queryId": "c"})
            client.send({"type": "json", "sql": "select 1 as x", "queryId": "d"})
            client.send({"type": "json", "sql": "select 2 as x", "queryId": "d"})
            upload = arrow_upload_frame(pa.table({"v": [1, 2]}), "uploaded", "u")
            client.ws.send(upload)
            client.send({"type": "cancel", "queryId": "c"})
            assert http_get(http + "/readyz")[0] == 503, "the test needs the startup window"

            answers: dict[str, list[dict]] = {}
            for _ in range(5):
                frame = client.recv_json(60)
                answers.setdefault(frame.get("queryId", ""), []).append(frame)
            assert [f["type"] for f in answers["c"]] == ["cancelAck", "error"]
            assert answers["c"][0]["cancelled"] is True
            assert answers["c"][1]["error"] == "Query was cancelled"
            assert "already in flight" in answers["d"][0]["error"]
            assert answers["d"][1] == {"type": "json", "queryId": "d", "data": '[{"x":1}]'}
            assert answers["u"] == [{"type": "uploadAck", "queryId": "u"}]

            assert client.query("select sum(v) s from uploaded", kind="json") == [{"s": 3}]
            tables = client.query(
                "select count(*) n from duckdb_tables() where table_name = 'ran_anyway'",
                kind="json",
            )
            assert tables == [{"n": 0}]
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
