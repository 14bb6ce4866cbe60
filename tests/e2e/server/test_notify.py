"""Channels: subscribe, unsubscribe and notify between clients."""

from __future__ import annotations

import pytest

from tests.support import Client, ServerProcess


def drained(client: Client) -> bool:
    try:
        client.ws.recv(0.3)
    except TimeoutError:
        return True
    return False


def test_notify_reaches_subscribers_and_echoes_once(server: ServerProcess) -> None:
    with server.client() as sender, server.client() as listener, server.client() as bystander:
        for client in (sender, listener):
            client.send({"type": "subscribe", "channel": "news"})
            assert client.recv_json() == {"type": "subscribed", "channel": "news"}
        bystander.send({"type": "subscribe", "channel": "other"})
        bystander.recv_json()

        sender.send({"type": "notify", "channel": "news", "payload": {"n": 1, "big": 2**70}})
        note = {"type": "notify", "channel": "news", "payload": {"n": 1, "big": 2**70}}
        assert listener.recv_json() == note
        assert sender.recv_json() == note  # echoed exactly once although subscribed
        assert sender.recv_json() == {"type": "notifyAck", "channel": "news"}
        assert drained(sender) and drained(listener) and drained(bystander)


def test_unsubscribed_sender_still_gets_its_echo(server: ServerProcess) -> None:
    with server.client() as sender, server.client() as listener:
        listener.send({"type": "subscribe", "channel": "c"})
        listener.recv_json()
        sender.send({"type": "notify", "channel": "c", "payload": "hi"})
        assert sender.recv_json() == {"type": "notify", "channel": "c", "payload": "hi"}
        assert sender.recv_json() == {"type": "notifyAck", "channel": "c"}
        assert listener.recv_json()["payload"] == "hi"


def test_unsubscribe_stops_delivery(server: ServerProcess) -> None:
    with server.client() as sender, server.client() as listener:
        listener.send({"type": "subscribe", "channel": "c"})
        listener.recv_json()
        listener.send({"type": "unsubscribe", "channel": "c"})
        assert listener.recv_json() == {"type": "unsubscribed", "channel": "c"}
        sender.send({"type": "notify", "channel": "c", "payload": 1})
        sender.recv_json()
        sender.recv_json()
        assert drained(listener)


def test_closed_subscriber_is_dropped(server: ServerProcess) -> None:
    with server.client() as sender:
        with server.client() as gone:
            gone.send({"type": "subscribe", "channel": "c"})
            gone.recv_json()
        sender.send({"type": "notify", "channel": "c", "payload": 1})
        assert sender.recv_json()["type"] == "notify"
        assert sender.recv_json()["type"] == "notifyAck"


@pytest.mark.parametrize("message", [{"type": "subscribe"}, {"type": "notify", "channel": ""}])
def test_missing_channel_is_an_error(server: ServerProcess, message: dict) -> None:
    with server.client() as client:
        client.send(message)
        frame = client.recv_json()
        assert frame["type"] == "error" and "channel" in frame["error"]
