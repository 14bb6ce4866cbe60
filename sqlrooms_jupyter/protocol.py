"""The SQLRooms WebSocket protocol: parsing, validation, frames and error shapes.

Pure functions only: no I/O, no DuckDB, no event loop. Every transport and the
session speak through this module so the wire format lives in one place.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

QUERY_TYPES = frozenset({"arrow", "json", "exec"})
EXPORT_FORMATS = ("csv", "parquet")
HEADER_LENGTH_BYTES = 4

# Close codes (RFC 6455 and the 4000-4999 private range).
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_AGAIN_LATER = 1013

UNAUTHORIZED = "unauthorized"
CANCELLED = "Query was cancelled"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_IDENTIFIER = 255
# Longest queryId and channel name a client may use.
MAX_NAME = 256


class ProtocolError(Exception):
    """A message the server cannot act on; answered with an error frame."""

    def __init__(self, message: str, query_id: str | None = None) -> None:
        super().__init__(message)
        self.query_id = query_id


@dataclass(frozen=True)
class Query:
    kind: str  # "arrow" | "json" | "exec"
    sql: str
    query_id: str
    persist: bool = False
    # Opt-in: `{"type":"progress","queryId":Q,"percentage":P}` frames while it runs.
    progress: bool = False


@dataclass(frozen=True)
class Export:
    """Download a SELECT's result as a file, made by the server and streamed in chunks."""

    sql: str
    format: str  # one of EXPORT_FORMATS
    query_id: str
    progress: bool = False


def new_query_id() -> str:
    return str(uuid.uuid4())


def dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def parse_text(text: str) -> dict[str, Any]:
    """Parse a text frame into a message object with a string `type`."""
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"invalid json: {exc}", _query_id_near_ends(text)) from None
    except RecursionError:  # e.g. `[[[…]]]`: a client mistake, never a traceback
        raise ProtocolError(
            "invalid message: JSON nested too deeply", _query_id_near_ends(text)
        ) from None
    if not isinstance(message, dict):
        raise ProtocolError("invalid message: expected a JSON object")
    query_id = message.get("queryId")
    query_id = query_id if isinstance(query_id, str) else None
    if not isinstance(message.get("type"), str):
        raise ProtocolError("invalid message: missing string field 'type'", query_id)
    return message


def message_query_id(message: dict[str, Any]) -> str | None:
    """The client's queryId when it sent a usable one (a non-empty string)."""
    query_id = message.get("queryId")
    return query_id if isinstance(query_id, str) and query_id else None


def parse_query_id(message: dict[str, Any]) -> str:
    """The message's queryId, validated; a missing one is generated."""
    raw = message.get("queryId")
    if raw is not None and not isinstance(raw, str):
        raise ProtocolError("invalid 'queryId': expected a string")
    if raw is not None and len(raw) > MAX_NAME:
        raise ProtocolError(f"invalid 'queryId': longer than {MAX_NAME} characters", raw)
    return message_query_id(message) or new_query_id()


def parse_query(message: dict[str, Any]) -> Query:
    """Validate an arrow/json/exec message; a missing queryId is generated."""
    query_id = parse_query_id(message)
    sql = message.get("sql")
    if sql is None:
        raise ProtocolError("missing 'sql'", query_id)
    if not isinstance(sql, str):
        raise ProtocolError("invalid 'sql': expected a string", query_id)
    if not sql.strip():
        raise ProtocolError("empty 'sql'", query_id)
    return Query(
        kind=message["type"],
        sql=sql,
        query_id=query_id,
        persist=message.get("persist") is True,
        progress=message.get("progress") is True,
    )


def parse_export(message: dict[str, Any]) -> Export:
    """Validate an export message: `{"type":"export","sql":S,"format":F,"queryId"?:Q}`."""
    query = parse_query(message)
    fmt = message.get("format", "csv")
    if fmt not in EXPORT_FORMATS:
        raise ProtocolError(
            f"invalid 'format': expected one of {', '.join(EXPORT_FORMATS)}", query.query_id
        )
    return Export(sql=query.sql, format=fmt, query_id=query.query_id, progress=query.progress)


_QUERY_ID_FIELD = re.compile(r'"queryId"\s*:\s*"([^"\\]{1,256})"')


def max_text_bytes(max_sql_chars: int) -> int:
    """The longest text message for a SQL limit: room for the SQL in UTF-8 or
    JSON-escaped (four bytes a character), plus 64 KiB for the other fields."""
    return 4 * max_sql_chars + (64 << 10)


def text_too_long(max_sql_chars: int, head: str, tail: str) -> ProtocolError:
    """The error for a text message over `max_text_bytes`, refused before its JSON is
    parsed: parsing megabytes holds the event loop every client shares. The queryId is
    looked for where clients put it, in the message's first or last KiB (`head`, `tail`)."""
    return ProtocolError(
        f"text message over this server's limit of {max_text_bytes(max_sql_chars):,} bytes "
        f"(SQL is limited to {max_sql_chars:,} characters: --max-sql-size)",
        _query_id_in(head, tail),
    )


def _query_id_near_ends(text: str) -> str | None:
    """The queryId of a message that does not parse, if it is where clients put it."""
    return _query_id_in(text[:1024], text[-1024:])


def _query_id_in(head: str, tail: str) -> str | None:
    found = _QUERY_ID_FIELD.search(head) or _QUERY_ID_FIELD.search(tail)
    return found.group(1) if found else None


def check_text_size(text: str, max_sql_chars: int) -> None:
    """For doors that hand over decoded text (the WebSocket door refuses such frames
    before decoding them)."""
    if len(text) > max_text_bytes(max_sql_chars):
        raise text_too_long(max_sql_chars, text[:1024], text[-1024:])


def check_sql_cost(sql: str, max_chars: int, query_id: str | None) -> None:
    """Refuse SQL over the size limit (its nesting is bounded by `parse_cost`, on DuckDB's
    tokens, in the worker that runs it)."""
    if len(sql) > max_chars:
        raise ProtocolError(
            f"SQL text of {len(sql):,} characters is over this server's limit of "
            f"{max_chars:,} (--max-sql-size)",
            query_id,
        )


def parse_channel(message: dict[str, Any]) -> str:
    channel = message.get("channel")
    if not isinstance(channel, str) or not channel:
        raise ProtocolError("missing 'channel': expected a non-empty string")
    if len(channel) > MAX_NAME:
        raise ProtocolError(f"invalid 'channel': longer than {MAX_NAME} characters")
    return channel


def error(message: str, query_id: str | None = None, room_id: str | None = None) -> str:
    frame: dict[str, Any] = {"type": "error", "error": message}
    if query_id is not None:
        frame["queryId"] = query_id
    if room_id is not None:
        frame["roomId"] = room_id
    return dumps(frame)


def ok(query_id: str) -> str:
    return dumps({"type": "ok", "queryId": query_id})


def json_result(query_id: str, records: list[bytes | memoryview]) -> list[bytes | memoryview]:
    """The JSON result frame, as pieces; the protocol carries the records array as a string.

    `records` are pieces of the array's JSON text already escaped as string
    content (`results.json_records` has DuckDB do that). They are not joined:
    a 200k-row result is 15 MB, and each copy of it costs milliseconds.
    """
    head = b'{"type":"json","queryId":' + dumps(query_id).encode() + b',"data":"'
    return [head, *records, b'"}']


def binary_prefix(header: dict[str, Any]) -> bytes:
    """`[4-byte big-endian header length][header JSON]`; the payload follows."""
    raw = dumps(header).encode()
    return len(raw).to_bytes(HEADER_LENGTH_BYTES, "big") + raw


def arrow_prefix(query_id: str) -> bytes:
    return binary_prefix({"type": "arrow", "queryId": query_id})


def export_prefix(query_id: str, fmt: str) -> bytes:
    return binary_prefix({"type": "export", "queryId": query_id, "format": fmt})


def export_done(query_id: str, fmt: str, rows: int, size: int) -> str:
    """The terminal answer of an export, after its last chunk."""
    return dumps({"type": "ok", "queryId": query_id, "format": fmt, "rows": rows, "bytes": size})


def parse_binary(data: bytes | memoryview) -> tuple[dict[str, Any], memoryview] | None:
    """Split a framed binary message; None when it is not one (e.g. a CRDT update)."""
    view = memoryview(data)
    if len(view) < HEADER_LENGTH_BYTES:
        return None
    length = int.from_bytes(view[:HEADER_LENGTH_BYTES], "big")
    end = HEADER_LENGTH_BYTES + length
    if length == 0 or end > len(view):
        return None
    try:
        header = json.loads(bytes(view[HEADER_LENGTH_BYTES:end]).decode())
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        return None
    return header, view[end:]


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def table_reference(raw: object) -> str:
    """Validate `table` or `schema.table` (plain identifiers only) and quote it.

    Quoted identifiers and any other syntax are refused so that an upload's
    tableName can never smuggle SQL into the CREATE statement.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ProtocolError("missing 'tableName'")
    name = raw.strip()
    parts = name.split(".")
    if len(name) > _MAX_IDENTIFIER or len(parts) > 2:
        raise ProtocolError("invalid tableName: use table or schema.table")
    for part in parts:
        if not _IDENTIFIER.fullmatch(part):
            raise ProtocolError(
                "invalid tableName: use letters, digits and underscores (table or schema.table)"
            )
    return ".".join(quote_identifier(part) for part in parts)
