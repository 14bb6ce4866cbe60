"""pubsub: channels on one server, and the Fanout seam to other replicas."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlrooms_jupyter.pubsub import Deliver, Fanout, Hub
from tests.polling import wait_until_async


class Client:
    def __init__(self, name: str) -> None:
        self.name = name
        self.frames: list[dict[str, Any]] = []

    def send_text(self, text: str) -> None:
        self.frames.append(json.loads(text))


class Replica(Fanout):
    """Replicas of one cluster joined in memory: what one publishes, the others deliver,
    each on its own event loop turn (as a network fanout would)."""

    def __init__(self, cluster: list[Replica]) -> None:
        self.cluster = cluster
        self.published: list[tuple[str, Any]] = []
        self.deliver: Deliver | None = None
        self.stopped = False

    async def start(self, deliver: Deliver) -> None:
        self.deliver = deliver
        self.cluster.append(self)

    def publish(self, channel: str, payload: Any) -> None:
        self.published.append((channel, payload))
        loop = asyncio.get_running_loop()
        for other in self.cluster:
            if other is not self and other.deliver is not None:
                loop.call_soon(other.deliver, channel, payload)

    async def stop(self) -> None:
        self.stopped = True
        self.cluster.remove(self)


def _notify(channel: str, payload: Any) -> dict[str, Any]:
    return {"type": "notify", "channel": channel, "payload": payload}


def test_publish_reaches_subscribers_of_that_channel_only() -> None:
    hub = Hub()
    a, b, c = Client("a"), Client("b"), Client("c")
    hub.subscribe("table:trips", a)
    hub.subscribe("table:trips", b)
    hub.subscribe("other", c)
    assert hub.publish("table:trips", {"op": "replace"}) == 2
    assert a.frames == b.frames == [_notify("table:trips", {"op": "replace"})]
    assert c.frames == []
    assert hub.publish("nobody", 1) == 0


def test_publish_can_exclude_the_sender() -> None:
    hub = Hub()
    sender, other = Client("sender"), Client("other")
    hub.subscribe("ch", sender)
    hub.subscribe("ch", other)
    assert hub.publish("ch", "hi", exclude=sender) == 1
    assert sender.frames == [] and other.frames == [_notify("ch", "hi")]


def test_subscribing_twice_delivers_once_and_unsubscribe_reports() -> None:
    hub = Hub()
    client = Client("c")
    hub.subscribe("ch", client)
    hub.subscribe("ch", client)
    assert hub.publish("ch", None) == 1
    assert hub.unsubscribe("ch", client)
    assert not hub.unsubscribe("ch", client)
    assert not hub.unsubscribe("never", client)
    assert hub.channels() == {}


def test_drop_removes_a_subscriber_everywhere_and_empty_channels() -> None:
    hub = Hub()
    gone, stays = Client("gone"), Client("stays")
    for channel in ("b", "a", "c"):
        hub.subscribe(channel, gone)
    hub.subscribe("a", stays)
    assert hub.channels() == {"a": 2, "b": 1, "c": 1}
    hub.drop(gone)
    assert hub.channels() == {"a": 1}
    assert hub.publish("b", 1) == 0 and gone.frames == []


def test_payloads_are_sent_as_json_text_unchanged() -> None:
    hub = Hub()
    client = Client("c")
    hub.subscribe("ch", client)
    payload = {"n": 12345678901234567890, "s": 'é "quoted" ☃', "l": [None, True, 1.5]}
    hub.publish("ch", payload)
    assert client.frames == [_notify("ch", payload)]


def test_a_fanout_carries_notifications_between_replicas() -> None:
    async def scenario() -> None:
        cluster: list[Replica] = []
        one, two = Hub(Replica(cluster)), Hub(Replica(cluster))
        await one.start()
        await two.start()
        here, there, elsewhere = Client("here"), Client("there"), Client("elsewhere")
        one.subscribe("ch", here)
        two.subscribe("ch", there)
        two.subscribe("other", elsewhere)

        assert one.publish("ch", {"n": 1}, exclude=here) == 0
        assert isinstance(one.fanout, Replica) and one.fanout.published == [("ch", {"n": 1})]
        # The remote delivery arrives on a later loop turn.
        await wait_until_async(lambda: there.frames, "the remote delivery", interval=0)
        assert there.frames == [_notify("ch", {"n": 1})]
        assert here.frames == [] and elsewhere.frames == []

        # A remote delivery reaches local subscribers only: it is not published again.
        assert isinstance(two.fanout, Replica) and two.fanout.published == []

        await two.stop()
        assert two.fanout.stopped and cluster == [one.fanout]
        await one.stop()

    asyncio.run(scenario())


def test_a_hub_without_fanout_starts_and_stops() -> None:
    async def scenario() -> int:
        hub = Hub()
        await hub.start()
        client = Client("c")
        hub.subscribe("ch", client)
        sent = hub.publish("ch", 1)
        await hub.stop()
        return sent

    assert asyncio.run(scenario()) == 1
