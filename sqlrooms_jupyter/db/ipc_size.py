"""How large an Arrow IPC stream's data is once read, found without reading it.

A compressed stream (zstd, lz4) can inflate thousands of times: 17 KB of zeros become
512 MB, allocated by pyarrow outside DuckDB's memory limit. Each compressed body buffer
starts with its uncompressed length (Arrow's format, `BodyCompression`), and pyarrow
refuses a buffer that inflates to anything else, so summing the declared lengths from
the messages' metadata bounds what reading will allocate, before anything is inflated.
"""

from __future__ import annotations

import struct

import pyarrow as pa

from .errors import Refused

# Message.header_type (the `MessageHeader` union in Message.fbs).
_DICTIONARY_BATCH, _RECORD_BATCH = 2, 3


class _Table:
    """A flatbuffer table: just enough to read the fields used here."""

    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_size = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, index: int) -> int | None:
        entry = 4 + 2 * index
        if entry + 2 > self.vtable_size:
            return None
        offset = struct.unpack_from("<H", self.buf, self.vtable + entry)[0]
        return self.pos + offset if offset else None

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        at = self._field(index)
        return default if at is None else int(struct.unpack_from("<" + fmt, self.buf, at)[0])

    def table(self, index: int) -> _Table | None:
        at = self._field(index)
        if at is None:
            return None
        return _Table(self.buf, at + struct.unpack_from("<I", self.buf, at)[0])

    def structs(self, index: int, size: int) -> list[int]:
        """Where each struct of a vector of `size`-byte structs starts."""
        at = self._field(index)
        if at is None:
            return []
        start = at + struct.unpack_from("<I", self.buf, at)[0]
        count = struct.unpack_from("<I", self.buf, start)[0]
        return [start + 4 + i * size for i in range(count)]


def _batch_bytes(batch: _Table, body: memoryview) -> int:
    """The bytes a (dictionary or record) batch's buffers take once read."""
    compressed = batch.table(3) is not None  # RecordBatch.compression
    total = 0
    for at in batch.structs(2, 16):  # RecordBatch.buffers: {offset: long, length: long}
        offset, length = struct.unpack_from("<qq", batch.buf, at)
        if not compressed or length < 8:
            total += max(length, 0)
            continue
        if offset < 0 or offset + 8 > len(body):
            raise ValueError("invalid Arrow IPC stream: a buffer lies outside its message")
        declared = struct.unpack_from("<q", body, offset)[0]
        total += length - 8 if declared == -1 else max(declared, 0)  # -1: stored as it is
    return total


def message_bytes(message: pa.ipc.Message) -> int:
    """The bytes one IPC message's data takes once read (0 for a schema)."""
    if message.type not in ("record batch", "dictionary"):
        return 0
    meta = message.metadata.to_pybytes()
    root = _Table(meta, struct.unpack_from("<I", meta, 0)[0])
    header = root.table(2)  # Message.header
    if header is None:
        return 0
    if root.scalar(1, "B") == _DICTIONARY_BATCH:
        header = header.table(1)  # DictionaryBatch.data
        if header is None:
            return 0
    body = memoryview(message.body) if message.body is not None else memoryview(b"")
    return _batch_bytes(header, body)


def check_stream_size(data: pa.Buffer, limit: int, what: str) -> None:
    """Refuse a stream whose data, read, would take more than `limit` bytes."""
    total = 0
    for message in pa.ipc.MessageReader.open_stream(data):
        try:
            total += message_bytes(message)
        except (struct.error, IndexError):
            raise Refused(f"{what}: invalid Arrow IPC stream (metadata does not parse)") from None
        if total > limit:
            raise Refused(
                f"{what} is over this server's limit of {limit:,} bytes once decompressed "
                "(--max-message-size bounds an upload's data, not only its compressed size)"
            )
