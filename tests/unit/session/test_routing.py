"""Session routing: subscribe, notify, unsubscribe, limits, and cleanup on close."""

from __future__ import annotations

import asyncio

from sqlrooms_jupyter.session import Limits

from .harness import send, server


def test_a_notify_reaches_subscribers_and_is_acknowledged() -> None:
    async def main() -> None:
        async with server() as harness:
            listener, heard = harness.connect()
            talker, said = harness.connect()
            send(listener, type="subscribe", channel="news")
            send(talker, type="notify", channel="news", payload={"n": 1})
            assert heard.texts() == [
                {"type": "subscribed", "channel": "news"},
                {"type": "notify", "channel": "news", "payload": {"n": 1}},
            ]
            assert said.texts() == [
                {"type": "notify", "channel": "news", "payload": {"n": 1}},
                {"type": "notifyAck", "channel": "news"},
            ]
            send(listener, type="unsubscribe", channel="news")
            send(talker, type="notify", channel="news", payload=2)
            assert heard.texts()[-1] == {"type": "unsubscribed", "channel": "news"}

    asyncio.run(main())


def test_subscriptions_are_bounded_and_server_channels_are_read_only() -> None:
    async def main() -> None:
        async with server(limits=Limits(max_subscriptions=1)) as harness:
            session, connection = harness.connect()
            send(session, type="subscribe", channel="a")
            send(session, type="subscribe", channel="a")  # the same again: fine
            send(session, type="subscribe", channel="b")
            send(session, type="notify", channel="catalog", payload=1)
            texts = connection.texts()
            assert texts[:2] == [{"type": "subscribed", "channel": "a"}] * 2
            assert "too many subscriptions" in texts[2]["error"]
            assert "the server's own" in texts[3]["error"]
            assert session.subscriptions == {"a"}

    asyncio.run(main())


def test_close_drops_the_sessions_subscriptions() -> None:
    async def main() -> None:
        async with server() as harness:
            session, _ = harness.connect()
            send(session, type="subscribe", channel="a")
            assert harness.state.hub.channels() == {"a": 1}
            session.close()
            assert harness.state.hub.channels() == {}
            assert session.subscriptions == set()

    asyncio.run(main())
