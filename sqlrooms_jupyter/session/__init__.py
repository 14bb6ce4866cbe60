"""One client connection's state, independent of the transport.

`dispatch` (the `Session`: frames in, auth, the handler table), `inflight` (each query from
submit to its one terminal answer), `framing` (every answer framed), `routing` (pub/sub, rooms),
`limits`, `state` (what all sessions share) and `connection`: the Protocol a
door implements to plug in.
"""

from .connection import Connection
from .dispatch import Session
from .inflight import PROGRESS_INTERVAL, InFlight, InFlightQueries, error_message
from .limits import DEFAULT_QUEUE_TIMEOUT, Limits
from .routing import RoomHooks, Routing
from .state import ServerState

__all__ = [
    "DEFAULT_QUEUE_TIMEOUT",
    "PROGRESS_INTERVAL",
    "Connection",
    "InFlight",
    "InFlightQueries",
    "Limits",
    "RoomHooks",
    "Routing",
    "ServerState",
    "Session",
    "error_message",
]
