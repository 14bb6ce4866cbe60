"""Bad input gets a clear error; this client and every other one keep being served."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support import ServerProcess


@pytest.mark.parametrize(
    ("frame", "error"),
    [
        ("{not json", "invalid json"),
        ("[1, 2]", "expected a JSON object"),
        ('"just a string"', "expected a JSON object"),
        ("{}", "missing string field 'type'"),
        ('{"type": "teleport", "queryId": "t"}', "unknown message type 'teleport'"),
        ('{"type": "arrow", "queryId": "m"}', "missing 'sql'"),
        ('{"type": "json", "sql": ["select 1"], "queryId": "n"}', "invalid 'sql'"),
        (b"\x00\x00\x00\x40{truncated", "binary frames must be uploadArrow messages"),
        (b"\xde\xad\xbe\xef" * 8, "binary frames must be uploadArrow messages"),
        (b"", "binary frames must be uploadArrow messages"),
    ],
)
def test_bad_frames_get_errors_and_socket_stays_usable(
    server: ServerProcess, frame: str | bytes, error: str
) -> None:
    with server.client() as client:
        client.send(frame)
        answer = client.recv_json()
        assert answer["type"] == "error" and error in answer["error"]
        if '"queryId"' in str(frame):
            assert answer["queryId"] in ("t", "m", "n")
        assert client.query("select 1 as ok", kind="json") == [{"ok": 1}]


def test_invalid_utf8_text_frame_is_an_error_not_a_disconnect(server: ServerProcess) -> None:
    with server.client() as client:
        client.ws.send(b'{"type":"arrow","sql":"select \xff"}', text=True)
        answer = client.recv_json()
        assert answer["type"] == "error" and "UTF-8" in answer["error"]
        assert client.query("select 1 as ok", kind="json") == [{"ok": 1}]


def test_oversized_message_closes_only_that_client(start_server) -> None:
    server = start_server("--max-message-size", "1M")
    with server.client() as bystander, server.client() as client:
        client.send({"type": "exec", "sql": "select '" + "x" * (2 << 20) + "'", "queryId": "big"})
        with pytest.raises(ConnectionClosed) as closed:
            client.ws.recv(10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        assert bystander.query("select 1 as ok", kind="json") == [{"ok": 1}]
    with server.client() as again:
        assert again.query("select 2 as ok", kind="json") == [{"ok": 2}]


def test_default_limit_allows_large_uploads(server: ServerProcess) -> None:
    import pyarrow as pa

    from tests.support import arrow_upload_frame

    table = pa.table({"v": pa.array(range(4_000_000), pa.int64())})  # ~32 MB, over Tornado's 10 MiB
    with server.client() as client:
        client.send(arrow_upload_frame(table, "big_upload", "u"))
        assert client.recv_json(60) == {"type": "uploadAck", "queryId": "u"}
        assert client.query("select count(*) as n from big_upload", kind="json") == [
            {"n": 4_000_000}
        ]


def test_every_query_id_gets_exactly_one_terminal_answer(server: ServerProcess) -> None:
    messages = [
        {"type": "arrow", "sql": "select 1", "queryId": "ok1"},
        {"type": "arrow", "queryId": "nosql"},
        {"type": "json", "sql": 3, "queryId": "badsql"},
        {"type": "exec", "sql": "selec", "queryId": "syntax"},
        {"type": "json", "sql": "select 2", "queryId": "ok2"},
        {"type": "bogus", "queryId": "unknown"},
    ]
    with server.client() as client:
        for message in messages:
            client.send(message)
        answers: dict[str, list[str]] = {}
        for _ in messages:
            frame = client.recv()
            header = frame[0] if isinstance(frame, tuple) else frame
            answers.setdefault(header["queryId"], []).append(header["type"])
        with pytest.raises(TimeoutError):
            client.ws.recv(0.5)
    assert answers == {
        "ok1": ["arrow"],
        "nosql": ["error"],
        "badsql": ["error"],
        "syntax": ["error"],
        "ok2": ["json"],
        "unknown": ["error"],
    }


def test_crdt_messages_without_sync_are_refused(server: ServerProcess) -> None:
    with server.client() as client:
        client.send({"type": "crdt-join", "roomId": "r"})
        answer = client.recv_json()
        assert answer["type"] == "error" and "sync" in answer["error"].lower()
