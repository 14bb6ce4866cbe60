"""The seam a door plugs into: a transport implements `Connection`, nothing more.

The WebSocket door (`TornadoConnection`) is one; a widget channel or an MCP
door would be another. The session calls these on the event loop.
"""

from __future__ import annotations

from typing import Protocol

from ..backpressure import Backpressure, Pieces, ResultStream


class Connection(Protocol):
    """What a session needs from its transport (called on the event loop)."""

    budget: Backpressure

    def send(
        self, data: str | bytes | bytearray | Pieces, *, binary: bool, reserved: bool = False
    ) -> None:
        """Queue one whole message; `reserved` bytes were already counted in `budget`."""

    def send_stream(self, stream: ResultStream) -> None:
        """Queue one binary message whose chunks arrive later."""

    def close(self, code: int, reason: str) -> None: ...
