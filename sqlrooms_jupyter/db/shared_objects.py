"""Objects a notebook shares with clients: dataframes, Arrow tables, relations.

`register()`-ed views live on one cursor only, so the registry is applied to
each query's cursor, and only the objects the statement can name (registering
costs about half a millisecond per object).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from ..protocol import quote_identifier, table_reference

if TYPE_CHECKING:
    from .workers import Lane


# Statements that mention these read the catalog (e.g. the official clients' schema loading).
CATALOG_WORDS = ("duckdb_tables", "duckdb_views", "duckdb_columns", "information_schema", "show")


class SharedObjects:
    def __init__(self) -> None:
        self._objects: dict[str, object] = {}

    def __bool__(self) -> bool:
        return bool(self._objects)

    def __contains__(self, name: object) -> bool:
        return name in self._objects

    def names(self) -> list[str]:
        return sorted(self._objects)

    def items(self) -> dict[str, object]:
        return dict(self._objects)

    def add(self, name: str, obj: object, probe: duckdb.DuckDBPyConnection | None) -> None:
        """Share `obj` as `name`; with a `probe` cursor, fail now (in the notebook) rather
        than in every query. A RecordBatchReader can be read once, so it is read here."""
        import pyarrow as pa

        table_reference(name)  # plain identifiers only
        if isinstance(obj, pa.RecordBatchReader):
            obj = obj.read_all()
        if probe is not None:
            try:
                probe.register(name, obj)
                probe.sql(f"SELECT * FROM {quote_identifier(name)} LIMIT 0")
            except duckdb.Error as exc:
                raise ValueError(
                    f"cannot share {type(obj).__name__} as '{name}': {str(exc).splitlines()[0]}"
                ) from None
            finally:
                probe.close()
        # Copy on write: workers iterate the dict without a lock.
        self._objects = {**self._objects, name: obj}

    def remove(self, name: str) -> bool:
        if name not in self._objects:
            return False
        self._objects = {k: v for k, v in self._objects.items() if k != name}
        return True

    def apply(self, lane: Lane, sql: str) -> None:
        """Register on the lane's cursor the objects that `sql` may name; all of them for a
        look at the catalog, so that schema browsers list them."""
        text = sql.lower()
        everything = any(word in text for word in CATALOG_WORDS)
        for name, obj in self._objects.items():
            if name not in lane.registered and (everything or name.lower() in text):
                lane.cursor.register(name, obj)
                lane.registered.add(name)
