"""The pure protocol module: parsing, validation and frames."""

import json

import pytest

from sqlrooms_jupyter import protocol
from sqlrooms_jupyter.db.results import escape_json_text
from sqlrooms_jupyter.protocol import ProtocolError


def test_parse_query_generates_missing_query_id() -> None:
    query = protocol.parse_query({"type": "arrow", "sql": "select 1"})
    assert query.query_id and query.kind == "arrow" and not query.persist


@pytest.mark.parametrize(
    ("message", "error", "query_id"),
    [
        ({"type": "arrow", "queryId": "a"}, "missing 'sql'", "a"),
        ({"type": "json", "sql": 5, "queryId": "b"}, "invalid 'sql'", "b"),
        ({"type": "exec", "sql": "  ", "queryId": "c"}, "empty 'sql'", "c"),
        ({"type": "arrow", "sql": "select 1", "queryId": 7}, "invalid 'queryId'", None),
    ],
)
def test_parse_query_rejects(message: dict, error: str, query_id: str | None) -> None:
    with pytest.raises(ProtocolError, match=error) as caught:
        protocol.parse_query(message)
    assert caught.value.query_id == query_id


@pytest.mark.parametrize("text", ["{", "[1]", '"x"', "{}", '{"type": 3}'])
def test_parse_text_rejects(text: str) -> None:
    with pytest.raises(ProtocolError):
        protocol.parse_text(text)


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [("trips", '"trips"'), ("main.trips", '"main"."trips"'), (" t_1 ", '"t_1"')],
)
def test_table_reference_accepts(raw: str, quoted: str) -> None:
    assert protocol.table_reference(raw) == quoted


@pytest.mark.parametrize(
    "raw",
    ["", "a.b.c", 't"; drop table x; --', "1abc", "a b", '"quoted"', "x" * 300, None, 5],
)
def test_table_reference_refuses(raw: object) -> None:
    with pytest.raises(ProtocolError):
        protocol.table_reference(raw)


def test_binary_frame_round_trip() -> None:
    frame = protocol.binary_prefix({"type": "uploadArrow", "tableName": "t"}) + b"payload"
    parsed = protocol.parse_binary(frame)
    assert parsed is not None
    header, payload = parsed
    assert header == {"type": "uploadArrow", "tableName": "t"}
    assert bytes(payload) == b"payload"


@pytest.mark.parametrize(
    "data", [b"", b"\x00\x00", b"\x00\x00\x00\x10{", b"\x00\x00\x00\x02\xff\xfe", b"\xff" * 64]
)
def test_parse_binary_rejects_garbage(data: bytes) -> None:
    assert protocol.parse_binary(data) is None


def test_json_result_embeds_records_as_a_string() -> None:
    records = b'[{"s":"quote \\" and backslash \\\\ and \xc3\xa9"}]'
    frame = json.loads(b"".join(protocol.json_result("q", [escape_json_text(records)])))
    assert frame["queryId"] == "q"
    assert json.loads(frame["data"]) == [{"s": 'quote " and backslash \\ and \u00e9'}]


def test_a_text_message_over_the_limit_is_refused_before_parsing() -> None:
    sql = "select 1" + "+1" * 300_000
    limit = protocol.max_text_bytes(100_000)
    protocol.check_text_size(json.dumps({"type": "arrow", "sql": "x" * 400_000}), 100_000)
    for message in (
        {"type": "arrow", "queryId": "first", "sql": sql},
        {"type": "arrow", "sql": sql, "queryId": "first"},
    ):
        text = json.dumps(message)
        assert len(text) > limit
        with pytest.raises(ProtocolError, match="--max-sql-size") as caught:
            protocol.check_text_size(text, 100_000)
        assert caught.value.query_id == "first"
    # A queryId inside the SQL text is escaped, so not taken for the message's own.
    text = json.dumps({"type": "arrow", "sql": sql + ' "queryId": "inner"'})
    with pytest.raises(ProtocolError) as caught:
        protocol.check_text_size(text, 100_000)
    assert caught.value.query_id is None
