"""The server's own tables, all defined here: UI state, CRDT room snapshots, their update log.

They live in the meta namespace: a schema of the main database, or a separate
DuckDB file (`--meta-db`) attached under that name. An attached file is named
by catalog *and* schema (`"ns"."main"`), so a schema of the main database that
happens to share the namespace's name cannot make the references ambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from ..protocol import quote_identifier


@dataclass(frozen=True)
class MetaTables:
    namespace: str = "__sqlrooms"
    meta_db: str | None = None

    @property
    def prefix(self) -> str:
        ns = quote_identifier(self.namespace)
        return f"{ns}.main" if self.meta_db else ns

    @property
    def ui_state(self) -> str:
        return f"{self.prefix}.ui_state"

    @property
    def sync_rooms(self) -> str:
        return f"{self.prefix}.sync_rooms"

    @property
    def sync_updates(self) -> str:
        return f"{self.prefix}.sync_updates"

    def create(self, con: duckdb.DuckDBPyConnection) -> None:
        """Attach the meta database (if any) and create the tables that are missing."""
        if self.meta_db:
            path = Path(self.meta_db).expanduser()
            path.parent.mkdir(parents=True, exist_ok=True)
            attached = {
                row[0]
                for row in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
            }
            if self.namespace not in attached:
                literal = str(path).replace("'", "''")
                # READ_WRITE: also when the main database is open read-only.
                con.execute(
                    f"ATTACH '{literal}' AS {quote_identifier(self.namespace)} (READ_WRITE)"
                )
        else:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(self.namespace)}")
        for statement in self.definitions():
            con.execute(statement)

    def detach(self, con: duckdb.DuckDBPyConnection) -> None:
        if self.meta_db:
            con.execute(f"DETACH {quote_identifier(self.namespace)}")

    def definitions(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.ui_state} ("
            "key TEXT PRIMARY KEY, payload_json JSON, updated_at TIMESTAMPTZ DEFAULT now())",
            f"CREATE TABLE IF NOT EXISTS {self.sync_rooms} ("
            "room_id TEXT PRIMARY KEY, snapshot BLOB, updated_at TIMESTAMPTZ DEFAULT now())",
            f"CREATE TABLE IF NOT EXISTS {self.sync_updates} ("
            "room_id TEXT NOT NULL, seq BIGINT NOT NULL, data BLOB NOT NULL, "
            "created_at TIMESTAMPTZ DEFAULT now(), PRIMARY KEY (room_id, seq))",
        ]


# Under `--cluster`: the tables shared by every replica, in a schema of the PostgreSQL
# database (a DuckLake catalog would refuse the PRIMARY KEYs).
CLUSTER_SCHEMA = "sqlrooms"


def postgres_definitions(schema: str = CLUSTER_SCHEMA) -> list[str]:
    ns = quote_identifier(schema)
    return [
        f"CREATE SCHEMA IF NOT EXISTS {ns}",
        f"CREATE TABLE IF NOT EXISTS {ns}.sync_rooms ("
        "room_id TEXT PRIMARY KEY, snapshot BYTEA, updated_at TIMESTAMPTZ DEFAULT now())",
        f"CREATE TABLE IF NOT EXISTS {ns}.sync_updates ("
        "id BIGSERIAL PRIMARY KEY, room_id TEXT NOT NULL, data BYTEA NOT NULL, "
        "created_at TIMESTAMPTZ DEFAULT now())",
        f"CREATE INDEX IF NOT EXISTS sync_updates_room ON {ns}.sync_updates (room_id, id)",
        # Notify payloads over PostgreSQL's 8000-byte NOTIFY limit; the message names the row.
        f"CREATE TABLE IF NOT EXISTS {ns}.notify_payloads ("
        "id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL, created_at TIMESTAMPTZ DEFAULT now())",
    ]
