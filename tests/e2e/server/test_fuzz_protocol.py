"""Property tests of the wire protocol against one real server (hypothesis).

Each example is a random sequence of messages on one connection: queries (good and bad SQL,
with, without and reused queryIds), cancels of known and unknown ids, subscribe, unsubscribe,
notify, auth, Arrow uploads (whole and truncated), CRDT traffic, garbage text and binary
frames and invalid UTF-8. A model predicts the answers each message must get; the test reads
until every prediction is met, then checks that nothing else arrived, that the connection
still answers and that a fresh client is served.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from loro import ExportMode, LoroDoc
from websockets.exceptions import ConnectionClosed

from tests.support import Client, ServerProcess, arrow_upload_frame

TOKEN = "fuzz-token"
QUERY_KINDS = ("arrow", "json", "exec")
KNOWN_TYPES = frozenset(
    {"auth", "cancel", "subscribe", "unsubscribe", "notify", *QUERY_KINDS, "crdt-join"}
)
GOOD_SQL = (
    "SELECT 1 AS one",
    "SELECT range AS i, 'row ' || range AS s FROM range(2000)",
    "SELECT * FROM range(300000)",  # streamed over several chunks
    "SELECT count(*) FROM range(30000000)",  # slow enough for cancels to land
    "CREATE OR REPLACE TABLE fuzz_t AS SELECT 1 AS x",
    "SELECT 'é☃\u0000' AS s, NULL AS n, 1.5::DOUBLE AS d",
    "BEGIN",
    "SELECT 1; SELECT 2",
    "-- only a comment",
)
BAD_SQL = (
    "SELEC 1",
    "SELECT * FROM no_such_table",
    "SELECT error('boom')",
    "INSERT INTO no_such_table VALUES (1)",
    "COPY (SELECT 1) TO '/nonexistent-dir/x.csv'",
    "   ",
    "",
    "SELECT (((((",
)
_ids = itertools.count()


def fresh(prefix: str) -> str:
    return f"{prefix}{next(_ids)}-{time.monotonic_ns()}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    cwd: Path = tmp_path_factory.mktemp("fuzz")
    server = ServerProcess("--sync", "--auth-token", TOKEN, "--pool-size", "4", cwd=cwd)
    yield server
    assert server.proc.poll() is None, f"the server died:\n{server.log()}"
    assert server.stop() == 0, server.log()


def authed(server: ServerProcess) -> Client:
    return Client(f"{server.url}?token={TOKEN}")


# -- what to send --------------------------------------------------------------

sql_text = st.one_of(st.sampled_from(GOOD_SQL + BAD_SQL), st.text(max_size=40))
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
channel = st.sampled_from(["a", "b", "table:x", "catalog", "é"])
bad_channel = st.one_of(st.none(), st.just(""), st.integers(), st.lists(st.text(), max_size=2))
# Objects the server must refuse: no usable type, or a type nobody speaks. No queryId: the
# model expects one error without one.
garbage_object = st.dictionaries(
    st.text(max_size=8).filter(lambda key: key not in ("queryId", "type")), json_value, max_size=4
).flatmap(
    lambda obj: st.one_of(
        st.just(obj),
        json_scalar.filter(lambda v: not isinstance(v, str)).map(lambda t: {**obj, "type": t}),
        st.text(max_size=12)
        .filter(lambda t: t not in KNOWN_TYPES and not t.startswith("crdt-"))
        .map(lambda t: {**obj, "type": t}),
    )
)
garbage_text = st.one_of(
    st.text(max_size=60).filter(lambda t: not _is_object(t)),
    garbage_object.map(json.dumps),
    st.sampled_from(["{", "[]", "null", '"x"', "1e999", '{"type": "arrow"']),
)
garbage_binary = st.binary(max_size=200).filter(lambda b: not _is_framed(b))
invalid_utf8 = st.binary(min_size=1, max_size=40).map(lambda b: b + b"\xff\xfe")

action = st.one_of(
    st.tuples(
        st.just("query"),
        st.sampled_from(QUERY_KINDS),
        sql_text,
        st.sampled_from(["new", "new", "new", "none", "empty", "reuse"]),
        st.booleans(),
    ),
    st.tuples(st.just("query_no_sql"), st.sampled_from(QUERY_KINDS), json_value),
    st.tuples(st.just("cancel"), st.sampled_from(["known", "unknown", "none"])),
    st.tuples(st.just("subscribe"), channel),
    st.tuples(st.just("unsubscribe"), channel),
    st.tuples(st.just("notify"), channel, json_value),
    st.tuples(st.just("bad_channel"), st.sampled_from(["subscribe", "notify"]), bad_channel),
    st.tuples(st.just("auth"), st.one_of(st.just(TOKEN), st.text(max_size=8), json_scalar)),
    st.tuples(st.just("upload"), st.sampled_from(["whole", "truncated", "bad_name"])),
    st.tuples(st.just("crdt_join")),
    st.tuples(st.just("crdt_update")),
    st.tuples(st.just("crdt_garbage"), st.binary(max_size=64).filter(lambda b: not _is_framed(b))),
    st.tuples(st.just("garbage_text"), garbage_text),
    st.tuples(st.just("garbage_binary"), garbage_binary),
    st.tuples(st.just("invalid_utf8"), invalid_utf8),
)


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def _is_framed(data: bytes) -> bool:
    """Whether a binary frame would parse as `[length][header object with a type]`."""
    if len(data) < 4:
        return False
    length = int.from_bytes(data[:4], "big")
    return 0 < length <= len(data) - 4 and _is_object(
        data[4 : 4 + length].decode("utf-8", "ignore")
    )


# -- the model -----------------------------------------------------------------


@dataclass
class Model:
    """Sends actions and counts the answers the protocol promises for them."""

    client: Client
    expected: Counter[tuple[str, ...]] = field(default_factory=Counter)
    anonymous: int = 0  # queries without a usable queryId: one terminal under a new id each
    ids: list[str] = field(default_factory=list)
    room: str | None = None
    doc: LoroDoc = field(default_factory=LoroDoc)

    def apply(self, act: tuple[Any, ...]) -> None:
        kind = act[0]
        getattr(self, f"_{kind}")(*act[1:])

    def _query(self, kind: str, sql: str, id_mode: str, persist: bool) -> None:
        message: dict[str, Any] = {"type": kind, "sql": sql}
        if persist:
            message["persist"] = True
        if id_mode == "reuse" and self.ids:
            query_id = self.ids[-1]
        elif id_mode in ("none", "empty"):
            query_id = None
            if id_mode == "empty":
                message["queryId"] = ""
        else:
            query_id = fresh("q")
        if query_id is None:
            self.anonymous += 1
        else:
            message["queryId"] = query_id
            self.ids.append(query_id)
            self.expected["terminal", query_id] += 1
        self.client.send(message)

    def _query_no_sql(self, kind: str, value: Any) -> None:
        query_id = fresh("n")
        sql = {} if isinstance(value, str) else {"sql": value}  # a missing or non-string sql
        self.expected["terminal", query_id] += 1
        self.client.send({"type": kind, "queryId": query_id, **sql})

    def _cancel(self, target: str) -> None:
        query_id = self.ids[-1] if target == "known" and self.ids else fresh("u")
        if target == "none":
            self.client.send({"type": "cancel"})
            self.expected["cancelAck", ""] += 1
            return
        self.expected["cancelAck", query_id] += 1
        self.client.send({"type": "cancel", "queryId": query_id})

    def _subscribe(self, name: str) -> None:
        self.expected["subscribed", name] += 1
        self.client.send({"type": "subscribe", "channel": name})

    def _unsubscribe(self, name: str) -> None:
        self.expected["unsubscribed", name] += 1
        self.client.send({"type": "unsubscribe", "channel": name})

    def _notify(self, name: str, payload: Any) -> None:
        if name == "catalog" or name.startswith("table:"):  # the server's own: refused
            self.expected[("error",)] += 1
        else:
            self.expected["notify", name] += 1  # once to the sender, subscribed or not
            self.expected["notifyAck", name] += 1
        self.client.send({"type": "notify", "channel": name, "payload": payload})

    def _bad_channel(self, kind: str, value: Any) -> None:
        self.expected[("error",)] += 1
        self.client.send({"type": kind, "channel": value})

    def _auth(self, token: Any) -> None:
        self.expected[("authAck",)] += 1  # already authenticated: any auth is acknowledged
        self.client.send({"type": "auth", "token": token})

    def _upload(self, how: str) -> None:
        query_id = fresh("up")
        self.expected["terminal", query_id] += 1
        table = pa.table({"x": [1, 2, 3], "s": ["a", None, "c"]})
        name = "fuzz_upload" if how != "bad_name" else 'x"; DROP TABLE fuzz_t; --'
        frame = arrow_upload_frame(table, name, query_id)
        self.client.send(frame[: len(frame) - 40] if how == "truncated" else frame)

    def _crdt_join(self) -> None:
        if self.room is not None:
            return
        self.room = fresh("room")
        self.expected["crdt-joined", self.room] += 1
        self.expected["crdt-snapshot", self.room] += 1
        self.client.send({"type": "crdt-join", "roomId": self.room})

    def _crdt_update(self) -> None:
        if self.room is None:
            return
        before = self.doc.oplog_vv
        self.doc.get_list("items").push(len(self.doc.get_list("items")))
        self.doc.commit()
        self.expected["crdt-update-ack", self.room] += 1
        self.client.send(self.doc.export(ExportMode.Updates(before)))

    def _crdt_garbage(self, data: bytes) -> None:
        self.expected[("error",)] += 1
        self.client.send(data)

    def _garbage_text(self, text: str) -> None:
        self.expected[("error",)] += 1
        self.client.send(text)

    def _garbage_binary(self, data: bytes) -> None:
        self.expected[("error",)] += 1
        self.client.send(data)

    def _invalid_utf8(self, data: bytes) -> None:
        self.expected[("error",)] += 1
        self.client.ws.send(data, text=True)


def key_of(frame: str | bytes, ids: set[str]) -> tuple[str, ...]:
    """What an answer frame counts as in the model."""
    if isinstance(frame, bytes):
        length = int.from_bytes(frame[:4], "big")
        header = json.loads(frame[4 : 4 + length])
        assert header["type"] == "arrow", header
        return terminal(header["queryId"], ids)
    message = json.loads(frame)
    kind = message["type"]
    if kind in ("json", "ok", "uploadAck") or (kind == "error" and "queryId" in message):
        return terminal(message["queryId"], ids)
    if kind == "cancelAck":
        return ("cancelAck", message.get("queryId") or "")
    if kind in ("subscribed", "unsubscribed", "notify", "notifyAck"):
        return (kind, message["channel"])
    if kind in ("crdt-joined", "crdt-snapshot", "crdt-update-ack"):
        return (kind, message["roomId"])
    if kind == "error":
        return ("error",)
    return (kind,)


def terminal(query_id: str, ids: set[str]) -> tuple[str, ...]:
    return ("terminal", query_id) if query_id in ids else ("anonymous", query_id)


def collect(model: Model, timeout: float = 8) -> tuple[Counter[tuple[str, ...]], list[str]]:
    """Read until the model's predictions are met (or time runs out)."""
    got: Counter[tuple[str, ...]] = Counter()
    anonymous: list[str] = []
    ids = set(model.ids) | {key[1] for key in model.expected if key[0] == "terminal"}
    deadline = time.monotonic() + timeout
    while True:
        wanted = model.expected - got
        if not wanted and len(anonymous) >= model.anonymous:
            return got, anonymous
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no answer for {dict(wanted)}; {len(anonymous)} anonymous"
        try:
            frame = model.client.ws.recv(remaining)
        except TimeoutError:
            raise AssertionError(
                f"no answer for {dict(wanted)}; got {dict(got)}; {len(anonymous)} anonymous"
            ) from None
        key = key_of(frame, ids)
        if key[0] == "anonymous":
            anonymous.append(key[1])
        else:
            got[key] += 1
        if key == ("crdt-snapshot", model.room):
            model.doc.import_(base64.b64decode(json.loads(frame)["data"]))


def check_still_served(client: Client, server: ServerProcess) -> None:
    """A query on this connection answers, nothing else was pending, a fresh client works."""
    sentinel = fresh("sentinel")
    client.send({"type": "json", "sql": "SELECT 42 AS answer", "queryId": sentinel})
    frame = json.loads(client.ws.recv(30))
    assert frame["queryId"] == sentinel, f"an extra answer arrived: {frame}"
    assert frame["type"] == "json", frame
    assert json.loads(frame["data"]) == [{"answer": 42}]
    with authed(server) as other:
        assert other.query("SELECT 7 AS n", kind="json", query_id="fresh") == [{"n": 7}]


# -- the properties --------------------------------------------------------------

FUZZ_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # a shrink costs minutes of timeouts
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ_SETTINGS
@given(actions=st.lists(action, min_size=1, max_size=25))
def test_every_message_gets_exactly_its_answers(
    server: ServerProcess, actions: list[tuple[Any, ...]]
) -> None:
    with authed(server) as client:
        model = Model(client)
        for act in actions:
            model.apply(act)
        got, anonymous = collect(model)
        assert got == model.expected  # nothing missing, nothing duplicated, nothing unasked
        assert len(anonymous) == model.anonymous == len(set(anonymous))
        check_still_served(client, server)
    assert server.proc.poll() is None, server.log()


first_message = st.one_of(
    st.tuples(st.just("auth"), st.one_of(st.just(TOKEN), st.text(max_size=12), json_scalar)),
    st.tuples(st.just("query"), st.sampled_from(QUERY_KINDS)),
    st.tuples(st.just("garbage_text"), garbage_text),
    st.tuples(st.just("garbage_binary"), st.binary(max_size=100)),
    st.tuples(st.just("invalid_utf8"), invalid_utf8),
)


@settings(FUZZ_SETTINGS, max_examples=25)
@given(first=first_message)
def test_only_a_right_first_auth_opens_a_connection(
    server: ServerProcess, first: tuple[Any, ...]
) -> None:
    """Without a token in the URL, anything but `auth` with the token is refused with 1008."""
    table = fresh("pwned_").replace("-", "_")
    kind = first[0]
    with Client(server.url) as client:
        if kind == "auth":
            client.send({"type": "auth", "token": first[1]})
        elif kind == "query":
            client.send({"type": first[1], "sql": f"CREATE TABLE {table} AS SELECT 1 AS x"})
        elif kind == "invalid_utf8":
            client.ws.send(first[1], text=True)
        else:
            client.send(first[1])
        # Pipelined behind it: must not run unless the first message authenticated.
        with contextlib.suppress(ConnectionClosed):  # the refusal may have closed it already
            client.send(
                {"type": "exec", "sql": f"CREATE TABLE {table} AS SELECT 1", "queryId": "x"}
            )
        if kind == "auth" and first[1] == TOKEN:
            assert client.recv_json() == {"type": "authAck"}
            assert client.recv_json() == {"type": "ok", "queryId": "x"}
            return
        assert client.recv_json() == {"type": "error", "error": "unauthorized"}
        with pytest.raises(ConnectionClosed) as closed:
            client.ws.recv(10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    with authed(server) as other:
        exists = other.query(
            f"SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = '{table}'",
            kind="json",
            query_id="check",
        )
        assert exists == [{"n": 0}]


def test_exec_of_a_select_leaves_later_queries_working(server: ServerProcess) -> None:
    """Found by the fuzzer: `exec` of a SELECT, then any query that gets that cursor fails."""
    with authed(server) as client:
        for n in range(4):  # whichever kept cursor the next query takes
            assert client.query("SELECT 1", kind="exec", query_id=f"e{n}") == {
                "type": "ok",
                "queryId": f"e{n}",
            }
        for n in range(4):
            assert client.query(f"SELECT {n} AS n", kind="json", query_id=f"j{n}") == [{"n": n}]
