"""What the SQLRooms app needs from the server: the `catalog` channel (new shares appear in its
schema tree) and `/app/config.json` naming the `ui_state` table (where it keeps its state)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable

import pytest

from sqlrooms_jupyter.db.engine import EngineConfig
from sqlrooms_jupyter.web import static_app
from sqlrooms_jupyter.web.server import CATALOG_CHANNEL, ServerConfig
from sqlrooms_jupyter.web.thread import ServerThread
from tests.support import Client, ServerProcess


def test_share_and_unshare_notify_the_catalog_channel() -> None:
    import pandas as pd

    thread = ServerThread(ServerConfig(port=0, engine=EngineConfig(extensions=())))
    server = thread.start()
    try:
        with Client(server.url) as client:
            client.send({"type": "subscribe", "channel": CATALOG_CHANNEL})
            assert client.recv_json() == {"type": "subscribed", "channel": "catalog"}
            server.share("trips", pd.DataFrame({"id": [1]}))
            server.share("trips", pd.DataFrame({"id": [2]}))
            server.unshare("trips")
            payloads = [client.recv_json() for _ in range(3)]
            assert [p["channel"] for p in payloads] == ["catalog"] * 3
            assert [p["payload"] for p in payloads] == [
                {"op": "create", "name": "trips"},
                {"op": "replace", "name": "trips"},
                {"op": "drop", "name": "trips"},
            ]
    finally:
        thread.stop()


def app_config(server: ServerProcess) -> dict[str, str]:
    with urllib.request.urlopen(f"{server.http}/app/config.json", timeout=10) as answer:
        assert answer.headers["Content-Type"] == "application/json"
        return dict(json.loads(answer.read()))


@pytest.mark.skipif(not static_app.is_built(), reason="the app is not built")
@pytest.mark.parametrize(
    ("flags", "table"),
    [
        ((), '"__sqlrooms".ui_state'),
        (("--meta-namespace", "meta ns", "--meta-db", "meta.db"), '"meta ns".main.ui_state'),
    ],
)
def test_config_names_a_ui_state_table_the_app_can_write(
    start_server: Callable[..., ServerProcess], flags: tuple[str, ...], table: str
) -> None:
    server = start_server(*flags)
    assert app_config(server) == {"uiStateTable": table, "readOnly": False}
    # The statements the app sends (persistence.ts), over the protocol.
    with Client(server.url) as client:
        saved = client.query(
            f"INSERT OR REPLACE INTO {table} (key, payload_json, updated_at) "
            """VALUES ('sqlrooms-app:workspace', '{"version":1}'::JSON, now())""",
            kind="json",
        )
        assert saved == [{"Count": 1}]
        rows = client.query(
            f"SELECT payload_json::VARCHAR AS payload FROM {table} "
            "WHERE key = 'sqlrooms-app:workspace'",
            kind="json",
        )
        assert rows == [{"payload": '{"version":1}'}]


def test_shared_objects_are_listed_by_catalog_queries() -> None:
    """Schema browsers (the official connector's loadSchemaCatalog) read duckdb_views() and
    duckdb_columns(): the shared objects must be there, not only in queries naming them."""
    import pandas as pd

    thread = ServerThread(ServerConfig(port=0, engine=EngineConfig(extensions=())))
    server = thread.start()
    try:
        server.share("trips", pd.DataFrame({"fare": [1.5]}))
        with Client(server.url) as client:
            views = client.query(
                "select view_name from duckdb_views() where not internal", kind="json"
            )
            assert {"view_name": "trips"} in views
            columns = client.query(
                "select column_name from duckdb_columns() where table_name = 'trips'", kind="json"
            )
            assert columns == [{"column_name": "fare"}]
    finally:
        thread.stop()
