"""Channels for `subscribe` / `notify`. Confined to the server's event loop."""

from __future__ import annotations

from typing import Any, Protocol

from .protocol import dumps


class Subscriber(Protocol):
    def send_text(self, text: str) -> None: ...


class Hub:
    def __init__(self) -> None:
        self._channels: dict[str, set[Subscriber]] = {}

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
        """Send a notify frame to the channel's subscribers; returns how many got it."""
        text = dumps({"type": "notify", "channel": channel, "payload": payload})
        receivers = [s for s in self._channels.get(channel, ()) if s is not exclude]
        for subscriber in receivers:
            subscriber.send_text(text)
        return len(receivers)

    def channels(self) -> dict[str, int]:
        return {channel: len(members) for channel, members in sorted(self._channels.items())}
