"""Every answer framed in one place: streamed and whole Arrow alike, exports, uploads."""

from __future__ import annotations

import asyncio
import io
import json

import pyarrow as pa
import pyarrow.csv as pa_csv

from sqlrooms_jupyter import protocol

from .harness import send, server, until

ROWS = "SELECT i, 'row ' || i AS s FROM range(200000) t(i)"


def test_a_streamed_arrow_result_is_one_framed_message() -> None:
    async def main() -> None:
        async with server(stream_chunk_bytes=64 << 10) as harness:
            session, connection = harness.connect()
            send(session, type="arrow", sql=ROWS, queryId="big")
            send(session, type="arrow", sql="SELECT 1 AS one", queryId="small")
            await until(lambda: connection.answers("big") and connection.answers("small"))
            [table] = connection.answers("big")
            assert table.num_rows == 200_000 and table.column("i")[-1].as_py() == 199_999
            assert connection.answers("small")[0].to_pydict() == {"one": [1]}
            assert connection.budget.pending == 0  # every reserved byte given back

    asyncio.run(main())


def test_a_persisted_result_from_the_cache_carries_its_own_query_id() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            for query_id in ("first", "second"):
                send(session, type="arrow", sql="SELECT 7 AS n", queryId=query_id, persist=True)
                await until(lambda q=query_id: connection.answers(q))
                assert connection.answers(query_id)[0].to_pydict() == {"n": [7]}
            assert harness.state.engine.cache is not None
            assert harness.state.engine.cache.stats()["entries"] == 1

    asyncio.run(main())


def test_an_export_is_framed_chunks_then_ok() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            send(session, type="export", sql=ROWS, format="csv", queryId="x")
            await until(lambda: any(not binary for _, binary in connection.messages))
            prefix = protocol.export_prefix("x", "csv")
            chunks = [data for data, binary in connection.messages if binary]
            assert chunks and all(isinstance(c, bytes) and c.startswith(prefix) for c in chunks)
            body = b"".join(c[len(prefix) :] for c in chunks if isinstance(c, bytes))
            assert pa_csv.read_csv(io.BytesIO(body)).num_rows == 200_000
            [done] = connection.texts()
            assert done == {
                "type": "ok",
                "queryId": "x",
                "format": "csv",
                "rows": 200_000,
                "bytes": len(body),
            }

    asyncio.run(main())


def test_an_upload_is_acknowledged_and_queryable() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            sink = pa.BufferOutputStream()
            table = pa.table({"id": [1, 2, 3]})
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            header = {"type": "uploadArrow", "queryId": "u", "tableName": "up"}
            session.receive_binary(protocol.binary_prefix(header) + sink.getvalue().to_pybytes())
            await until(lambda: connection.answers("u"))
            assert connection.answers("u") == [{"type": "uploadAck", "queryId": "u"}]
            send(session, type="json", sql="SELECT sum(id) AS s FROM up", queryId="q")
            await until(lambda: connection.answers("q"))
            assert json.loads(connection.answers("q")[0]["data"]) == [{"s": 6}]

    asyncio.run(main())
