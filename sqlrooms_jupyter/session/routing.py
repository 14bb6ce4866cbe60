"""A session's subscriptions (pub/sub) and its CRDT room traffic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from .. import protocol
from ..protocol import ProtocolError
from ..pubsub import server_channel

if TYPE_CHECKING:
    from .dispatch import Session
    from .state import ServerState


class RoomHooks(Protocol):
    """CRDT rooms (`--sync`); the session routes room traffic here."""

    def handle_message(self, session: Session, message: dict[str, Any]) -> None:
        """A `crdt-*` JSON message."""

    def handle_update(self, session: Session, data: bytes) -> None:
        """A binary frame that is not an uploadArrow message."""

    def leave(self, session: Session) -> None:
        """The session closed."""


class Routing:
    """Channels one session subscribed to, what it publishes, and its room messages."""

    def __init__(self, state: ServerState, session: Session) -> None:
        self._state = state
        self._session = session
        self.subscriptions: set[str] = set()

    def room_message(self, message: dict[str, Any]) -> None:
        rooms = self._state.rooms
        if rooms is None:
            raise ProtocolError(self._state.rooms_unavailable)
        rooms.handle_message(self._session, message)

    def room_update(self, data: bytes) -> bool:
        """Hand a binary frame to the rooms; False when there are none."""
        rooms = self._state.rooms
        if rooms is None:
            return False
        rooms.handle_update(self._session, data)
        return True

    def subscribe(self, message: dict[str, Any]) -> None:
        channel = protocol.parse_channel(message)
        limit = self._state.limits.max_subscriptions
        if channel not in self.subscriptions and len(self.subscriptions) >= limit:
            raise ProtocolError(f"too many subscriptions on this connection (limit {limit})")
        self._state.hub.subscribe(channel, self._session)
        self.subscriptions.add(channel)
        self._session.send_text(protocol.dumps({"type": "subscribed", "channel": channel}))

    def unsubscribe(self, message: dict[str, Any]) -> None:
        channel = protocol.parse_channel(message)
        self._state.hub.unsubscribe(channel, self._session)
        self.subscriptions.discard(channel)
        self._session.send_text(protocol.dumps({"type": "unsubscribed", "channel": channel}))

    def notify(self, message: dict[str, Any]) -> None:
        channel = protocol.parse_channel(message)
        if server_channel(channel):
            raise ProtocolError(
                f"channel '{channel}' is the server's own (it announces shared tables there): "
                "clients may subscribe to it, not publish on it"
            )
        payload = message.get("payload")
        self._state.hub.publish(channel, payload, exclude=self._session)
        send = self._session.send_text
        send(protocol.dumps({"type": "notify", "channel": channel, "payload": payload}))
        send(protocol.dumps({"type": "notifyAck", "channel": channel}))

    def close(self) -> None:
        """The session closed: leave its room, drop its subscriptions."""
        if self._state.rooms is not None:
            self._state.rooms.leave(self._session)
        self._state.hub.drop(self._session)
        self.subscriptions.clear()
