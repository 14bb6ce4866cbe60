"""Channels for `subscribe` / `notify`. The hub is confined to the server's event loop.

A `Fanout` carries what is published here to the other replicas of a cluster
and hands back what they publish; a single server has none.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Protocol

from .protocol import dumps

# The server's own channels: it publishes there on every share and unshare (and a lake's
# new snapshots); clients may subscribe, never publish (they could forge those events).
# `catalog`: `{"op": "create"|"replace"|"drop", "name": NAME}`; `table:NAME`: `{"op": ...}`.
CATALOG_CHANNEL = "catalog"
TABLE_CHANNEL_PREFIX = "table:"


def server_channel(channel: str) -> bool:
    """Whether only the server publishes on `channel`."""
    return channel == CATALOG_CHANNEL or channel.startswith(TABLE_CHANNEL_PREFIX)


class Subscriber(Protocol):
    def send_text(self, text: str) -> None: ...


Deliver = Callable[[str, Any], None]


class Fanout(ABC):
    """Notifications between replicas. `deliver(channel, payload)` is called on the
    server's event loop for every notification another replica published."""

    @abstractmethod
    async def start(self, deliver: Deliver) -> None: ...

    @abstractmethod
    def publish(self, channel: str, payload: Any) -> None:
        """Send to the other replicas; must not block the event loop."""

    @abstractmethod
    async def stop(self) -> None: ...


class Hub:
    def __init__(self, fanout: Fanout | None = None) -> None:
        self._channels: dict[str, set[Subscriber]] = {}
        self.fanout = fanout

    async def start(self) -> None:
        if self.fanout is not None:
            await self.fanout.start(self._deliver_remote)

    async def stop(self) -> None:
        if self.fanout is not None:
            await self.fanout.stop()

    def subscribe(self, channel: str, subscriber: Subscriber) -> None:
        self._channels.setdefault(channel, set()).add(subscriber)

    def unsubscribe(self, channel: str, subscriber: Subscriber) -> bool:
        members = self._channels.get(channel)
        if not members or subscriber not in members:
            return False
        members.discard(subscriber)
        if not members:
            del self._channels[channel]
        return True

    def drop(self, subscriber: Subscriber) -> None:
        for channel in [c for c, members in self._channels.items() if subscriber in members]:
            self.unsubscribe(channel, subscriber)

    def publish(self, channel: str, payload: Any, exclude: Subscriber | None = None) -> int:
        """Notify the channel's subscribers here and on every other replica; returns how
        many subscribers here got it."""
        if self.fanout is not None:
            self.fanout.publish(channel, payload)
        return self.deliver(channel, payload, exclude)

    def deliver(self, channel: str, payload: Any, exclude: Subscriber | None = None) -> int:
        """Send a notify frame to this server's subscribers of `channel`."""
        receivers = [s for s in self._channels.get(channel, ()) if s is not exclude]
        if receivers:
            text = dumps({"type": "notify", "channel": channel, "payload": payload})
            for subscriber in receivers:
                subscriber.send_text(text)
        return len(receivers)

    def _deliver_remote(self, channel: str, payload: Any) -> None:
        self.deliver(channel, payload)

    def channels(self) -> dict[str, int]:
        return {channel: len(members) for channel, members in sorted(self._channels.items())}
