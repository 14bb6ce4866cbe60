"""CRDT rooms (`--sync`): one Loro document per room, shared over the query WebSocket.

`rooms` is what the server holds (its hooks and the Python API); `wire` speaks the
room protocol with each participant; `lifecycle` loads rooms, commits updates durably,
compacts, unloads idle rooms and merges other servers' updates; `room` is one room's
state and the `Participant` protocol (crdt never imports `session`); `store` is the
storage base with its job queue, `duckdb_store` its operations in the meta tables.
"""

from __future__ import annotations

from .rooms import Rooms
from .store import RoomError, RoomInfo, RoomStore

__all__ = ["RoomError", "RoomInfo", "RoomStore", "Rooms"]
