"""CRDT rooms (`--sync`): one Loro document per room, shared over the query WebSocket.

`rooms` holds the room state and speaks the room protocol; `store` is the
storage interface, `duckdb_store` its implementation in the meta tables.
"""

from __future__ import annotations

from .rooms import Rooms
from .store import RoomError, RoomInfo, RoomStore

__all__ = ["RoomError", "RoomInfo", "RoomStore", "Rooms"]
