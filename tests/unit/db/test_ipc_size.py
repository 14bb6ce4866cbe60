"""An Arrow IPC stream's decompressed size, read from its metadata, equals its data's."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from sqlrooms_jupyter.db.errors import Refused
from sqlrooms_jupyter.db.ipc_size import check_stream_size, message_bytes

BATCH = pa.record_batch(
    [
        pa.array(np.arange(50_000, dtype=np.int64)),
        pa.array(["abc", "de"] * 25_000).dictionary_encode(),
        pa.array(["x" * 10, None] * 25_000),
    ],
    names=["n", "d", "s"],
)


def stream(compression: str | None) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, BATCH.schema, options=options) as writer:
        writer.write_batch(BATCH)
        writer.write_batch(BATCH)
    return sink.getvalue()


@pytest.mark.parametrize("compression", [None, "zstd", "lz4"])
def test_declared_sizes_match_the_data(compression: str | None) -> None:
    messages = list(pa.ipc.MessageReader.open_stream(stream(compression)))
    batches = [message_bytes(m) for m in messages if m.type == "record batch"]
    assert len(batches) == 2
    assert all(abs(size - BATCH.nbytes) < 64 for size in batches)  # buffers are padded
    check_stream_size(stream(compression), 3 * BATCH.nbytes, "upload")
    with pytest.raises(Refused, match="once decompressed"):
        check_stream_size(stream(compression), BATCH.nbytes, "upload")
