"""Session dispatch: auth and its timer, the handler table, bad frames (fake connection)."""

from __future__ import annotations

import asyncio

from sqlrooms_jupyter import protocol
from sqlrooms_jupyter.session import Limits

from .harness import send, server, until

SLOW = "SELECT sum(i) FROM range(100000000000) t(i)"


def test_a_token_is_needed_before_anything_else() -> None:
    async def main() -> None:
        async with server(token="s3cret") as harness:
            session, connection = harness.connect(authenticated=False)
            send(session, type="arrow", sql="SELECT 1", queryId="q")
            assert connection.texts() == [
                {"type": "error", "error": protocol.UNAUTHORIZED, "queryId": "q"}
            ]
            assert connection.closed_with == (protocol.CLOSE_POLICY_VIOLATION, "unauthorized")
            assert session.closed and session not in harness.state.sessions

    asyncio.run(main())


def test_the_right_token_lets_queries_through() -> None:
    async def main() -> None:
        async with server(token="s3cret") as harness:
            session, connection = harness.connect(authenticated=False)
            assert session in harness.state.unauthenticated
            send(session, type="auth", token="s3cret")
            send(session, type="json", sql="SELECT 7 AS n", queryId="q")
            await until(lambda: connection.answers("q"))
            assert connection.texts()[0] == {"type": "authAck"}
            assert connection.answers("q") == [
                {"type": "json", "queryId": "q", "data": '[{"n":7}]'}
            ]
            assert session not in harness.state.unauthenticated
            assert connection.closed_with is None

    asyncio.run(main())


def test_a_connection_that_does_not_authenticate_in_time_is_closed() -> None:
    async def main() -> None:
        async with server(token="s3cret", limits=Limits(auth_timeout=0.05)) as harness:
            session, connection = harness.connect(authenticated=False)
            await until(lambda: session.closed)
            assert connection.texts() == [
                {"type": "error", "error": "unauthorized: no auth within 0.05 s"}
            ]
            assert connection.closed_with == (protocol.CLOSE_POLICY_VIOLATION, "unauthorized")
            assert not harness.state.unauthenticated

    asyncio.run(main())


def test_the_oldest_unauthenticated_connection_makes_room() -> None:
    async def main() -> None:
        async with server(token="s3cret", limits=Limits(max_unauthenticated=1)) as harness:
            first, first_connection = harness.connect(authenticated=False)
            second, _ = harness.connect(authenticated=False)
            assert first.closed and not second.closed
            assert first_connection.closed_with == (protocol.CLOSE_TRY_AGAIN_LATER, "unauthorized")
            assert list(harness.state.unauthenticated) == [second]

    asyncio.run(main())


def test_bad_frames_get_an_error_and_the_connection_keeps_serving() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            session.receive_text("{not json")
            send(session, type="frobnicate", queryId="f")
            send(session, type="crdt-join", roomId="r")
            session.receive_binary(b"\x00\x01")
            session.receive_invalid_text()
            send(session, type="json", sql="SELECT 1 AS one", queryId="after")
            await until(lambda: connection.answers("after"))
            errors = connection.texts()[:5]
            assert [e["type"] for e in errors] == ["error"] * 5
            assert errors[1] == {
                "type": "error",
                "error": "unknown message type 'frobnicate'",
                "queryId": "f",
            }
            assert "--sync" in errors[2]["error"]
            assert "uploadArrow" in errors[3]["error"]
            assert connection.answers("after")[0]["data"] == '[{"one":1}]'
            assert connection.closed_with is None

    asyncio.run(main())


def test_close_cancels_the_sessions_queries() -> None:
    async def main() -> None:
        async with server() as harness:
            session, connection = harness.connect()
            send(session, type="arrow", sql=SLOW, queryId="slow")
            engine = harness.state.engine
            await until(lambda: any(t.running for t in engine.workers.tasks()))
            session.close()
            await until(lambda: not engine.workers.tasks())
            assert connection.answers("slow") == []  # nobody is listening any more

    asyncio.run(main())
