"""The Jupyter server extension: a real Jupyter server (pytest-jupyter) with real kernels.

Browser clients reach a kernel's SQLRooms server at `{base_url}sqlrooms/kernels/<id>/ws`,
authenticated by Jupyter; the kernel side is started with `%sqlrooms start` as in a notebook.

pytest-jupyter's fixtures are imported here rather than registered as a plugin, so that
its autouse fixtures (an event loop and a server cleanup per test) apply to this module
only. Its fixtures are function-scoped (a server and a loop per test), so each test that
needs a kernel starts one: three in all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import time
import urllib.parse
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from jupyter_server.auth import Authorizer
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import HTTPClientError
from websockets.asyncio.client import connect as ws_connect

from sqlrooms_jupyter.serverext.app_route import app_routes
from sqlrooms_jupyter.serverext.extension import SqlroomsServerExtension
from sqlrooms_jupyter.serverext.handlers import RelayHandler, routes
from sqlrooms_jupyter.serverext.relay import (
    CLOSE_JUPYTER_STOPPING,
    CLOSE_KERNEL_RESTARTED,
    CLOSE_KERNEL_SERVER_LOST,
    CLOSE_KERNEL_SHUT_DOWN,
)
from sqlrooms_jupyter.web import static_app
from tests.e2e.node.test_js_interop import COMMON_CHECKS
from tests.polling import wait_until_async
from tests.serverext_support import (
    BIG_SQL,
    LONG_SQL,
    NotebookKernel,
    RelayClient,
    check_big_table,
)
from tests.support import TESTS, arrow_table, arrow_upload_frame, interop_records, npm_project

JS_DIR = TESTS / "js"
BUFFER_LIMIT = 1 << 20  # the relay's per-client buffer in these tests


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"sqlrooms_jupyter": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        },
        "SqlroomsServerExtension": {"max_buffered_bytes": BUFFER_LIMIT, "restart_timeout": 30},
    }


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], timeout: float = 110):
    """Run a test body on the loop the Jupyter server lives on."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def extension(serverapp: Any) -> SqlroomsServerExtension:
    point = serverapp.extension_manager.extension_points["sqlrooms_jupyter"]
    return point.app


async def http_status(fetch: Any, *parts: str, **kwargs: Any) -> int:
    try:
        response = await fetch(*parts, **kwargs)
    except HTTPClientError as exc:
        return exc.code
    return response.code


async def ws_status(ws_fetch: Any, *parts: str, **kwargs: Any) -> int:
    try:
        ws = await ws_fetch(*parts, **kwargs)
    except HTTPClientError as exc:
        return exc.code
    ws.close()
    return 101


async def get_json(fetch: Any, *parts: str) -> Any:
    return json.loads((await fetch(*parts)).body)


async def relay_client(ws_fetch: Any, kernel_id: str, **kwargs: Any) -> RelayClient:
    ws = await ws_fetch("sqlrooms", "kernels", kernel_id, "ws", max_message_size=1 << 30, **kwargs)
    return RelayClient(ws)


# -- auth -------------------------------------------------------------------------------


def from_jupyter_auth_decorator(method: Any, name: str) -> bool:
    """Is `method` the function that one of jupyter_server.auth.decorator's decorators made?"""
    code = method.__code__
    return code.co_name == name and Path(code.co_filename).parts[-2:] == ("auth", "decorator.py")


def test_every_route_requires_authentication(jp_serverapp: Any) -> None:
    """As jupyter_server checks its own endpoints: each method is @web.authenticated,
    @ws_authenticated or explicitly public (none of ours is), and REST ones @authorized."""
    ours = routes() + app_routes()
    registered = {
        (rule.matcher.regex.pattern, rule.target)
        for host in jp_serverapp.web_app.default_router.rules
        for rule in getattr(host.target, "rules", [])
        if isinstance(rule.target, type) and rule.target.__module__.startswith("sqlrooms_jupyter")
    }
    assert {handler for _, handler in registered} == {handler for _, handler in ours}
    assert len(registered) == len(ours) == 5
    for pattern, handler in registered:
        assert pattern.startswith(jp_serverapp.base_url)
        assert jp_serverapp.web_app._check_handler_auth(pattern, handler) == []
        assert getattr(handler.get, "__allow_unauthenticated", False) is False
        if handler is not RelayHandler:  # web.authenticated(authorized(get))
            assert from_jupyter_auth_decorator(handler.get.__wrapped__, "inner")
    assert from_jupyter_auth_decorator(RelayHandler.get, "wrapper")  # ws_authenticated(get)
    assert "check_origin" not in RelayHandler.__dict__  # Jupyter's origin checks apply


def test_no_token_403_unknown_kernel_404(
    jp_fetch: Any, jp_ws_fetch: Any, jp_asyncio_loop: asyncio.AbstractEventLoop
) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    no_token = {"headers": {"Authorization": ""}}
    wrong_token = {"headers": {"Authorization": "token nope"}}

    async def body() -> None:
        for auth in (no_token, wrong_token):
            assert await http_status(jp_fetch, "sqlrooms", "api", "kernels", **auth) == 403
            assert await http_status(jp_fetch, "sqlrooms/api/kernels", unknown, **auth) == 403
            assert await ws_status(jp_ws_fetch, "sqlrooms/kernels", unknown, "ws", **auth) == 403
        assert await get_json(jp_fetch, "sqlrooms", "api", "kernels") == []
        assert await http_status(jp_fetch, "sqlrooms/api/kernels", unknown) == 404
        assert await ws_status(jp_ws_fetch, "sqlrooms/kernels", unknown, "ws") == 404

    run(jp_asyncio_loop, body())


class NoKernelExecution(Authorizer):
    """A user who may read kernels but not execute in them."""

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (resource == "kernels" and action == "execute")


@pytest.mark.parametrize(
    "jp_server_config",
    [
        {
            "ServerApp": {
                "jpserver_extensions": {
                    "sqlrooms_jupyter": True,
                    "jupyter_server_terminals": False,
                },
                "allow_unauthenticated_access": False,
                "authorizer_class": NoKernelExecution,
            }
        }
    ],
)
def test_every_route_requires_permission_to_execute_in_kernels(
    jp_fetch: Any, jp_ws_fetch: Any, jp_asyncio_loop: asyncio.AbstractEventLoop
) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"

    async def body() -> None:
        assert await http_status(jp_fetch, "api", "kernels") == 200  # reading is allowed
        assert await http_status(jp_fetch, "sqlrooms", "api", "kernels") == 403
        assert await http_status(jp_fetch, "sqlrooms/api/kernels", unknown) == 403
        assert await ws_status(jp_ws_fetch, "sqlrooms/kernels", unknown, "ws") == 403
        assert await http_status(jp_fetch, "sqlrooms/app/index.html") == 403

    run(jp_asyncio_loop, body())


@pytest.mark.skipif(not static_app.is_built(), reason="the app is not built")
def test_the_jupyter_served_app_may_connect_only_to_its_own_origin(
    jp_fetch: Any, jp_asyncio_loop: asyncio.AbstractEventLoop
) -> None:
    """A link's `?ws=` is ignored by the production build; the CSP also makes the browser
    refuse a socket to any other host, while keeping who may frame the app to Jupyter."""

    async def body() -> None:
        answer = await jp_fetch("sqlrooms/app/index.html", params={"ws": "ws://evil.example/"})
        policy = answer.headers["Content-Security-Policy"]
        directives = {d.split()[0]: d for d in policy.split("; ")}
        assert directives["connect-src"] == "connect-src 'self'"
        assert directives["default-src"] == "default-src 'self'"
        assert directives["frame-ancestors"] == "frame-ancestors 'self'"
        assert "report-uri" in directives  # Jupyter's own part of the policy is kept

    run(jp_asyncio_loop, body())


# -- queries through the relay ----------------------------------------------------------


def test_queries_through_the_relay(
    jp_serverapp: Any,
    jp_fetch: Any,
    jp_ws_fetch: Any,
    jp_http_port: int,
    jp_base_url: str,
    jp_asyncio_loop: asyncio.AbstractEventLoop,
) -> None:
    token = jp_serverapp.identity_provider.token

    async def body() -> None:
        kernel = await NotebookKernel.start(jp_serverapp, "work/relay.ipynb")
        kid = kernel.kernel_id

        async def queries() -> list[dict[str, Any]]:
            return (await get_json(jp_fetch, "sqlrooms/api/kernels", kid))["queries"]

        async def no_queries() -> bool:
            return not await queries()

        try:
            # A kernel without a server: nothing to list, 404 for its status and socket.
            assert await get_json(jp_fetch, "sqlrooms", "api", "kernels") == []
            assert await http_status(jp_fetch, "sqlrooms/api/kernels", kid) == 404
            assert await ws_status(jp_ws_fetch, "sqlrooms/kernels", kid, "ws") == 404

            await kernel.start_server()
            # The hint names this Jupyter server's own URL, base_url included.
            relay_url = f"ws://[^/ ]+:{jp_http_port}{jp_base_url}sqlrooms/kernels/{kid}/ws"
            assert re.search(f"through Jupyter: .*{relay_url}", kernel.started_output)
            app_url = f"http://[^/ ]+:{jp_http_port}{jp_base_url}sqlrooms/app/\\?kernel={kid}"
            assert re.search(f"app through Jupyter: .*{app_url}", kernel.started_output)
            assert re.search(r"app: http://127\.0\.0\.1:\d+/app/", kernel.started_output)
            (
                await kernel.run(
                    "import pandas as pd\n"
                    "trips = pd.DataFrame({'id': [1, 2, 3], 'km': [2.5, 10.0, 7.25]})\n"
                    "%sqlrooms share trips"
                )
            ).check()
            [listed] = await get_json(jp_fetch, "sqlrooms", "api", "kernels")
            assert listed["kernel_id"] == kid
            assert listed["path"] == "work/relay.ipynb"
            assert listed["connections"] == 0
            assert listed["sync"] is False
            assert listed["url"].startswith("ws://127.0.0.1:")
            assert listed["ws_path"] == f"{jp_base_url}sqlrooms/kernels/{kid}/ws"
            assert isinstance(listed["started_at"], float)

            client = await relay_client(jp_ws_fetch, kid)  # Jupyter token in a header
            # ... or in the query string, as a browser app passes it.
            url = (
                f"ws://127.0.0.1:{jp_http_port}{jp_base_url}sqlrooms/kernels/{kid}/ws"
                f"?{urllib.parse.urlencode({'token': token})}"
            )
            other = await ws_connect(url, max_size=None)

            table = await client.query("select id, km from trips order by id")
            assert table.to_pydict() == {"id": [1, 2, 3], "km": [2.5, 10.0, 7.25]}
            rows = await client.query("select 42 as answer, 'hi' as s", kind="json")
            assert rows == [{"answer": 42, "s": "hi"}]
            assert (await client.query("create table t as select 1 as x", kind="exec")) == {
                "type": "ok",
                "queryId": "q",
            }
            await other.send(json.dumps({"type": "json", "sql": "select x from t", "queryId": "o"}))
            assert json.loads(await other.recv()) == {
                "type": "json",
                "queryId": "o",
                "data": '[{"x":1}]',
            }
            # Invalid UTF-8 goes on as it came; the kernel answers it, the socket stays.
            await other.send(b'{"type":"json","sql":"select \xff"}', text=True)
            answer = json.loads(await other.recv())
            assert answer["type"] == "error" and "UTF-8" in answer["error"]
            await other.send(json.dumps({"type": "json", "sql": "select 2 y", "queryId": "o2"}))
            assert json.loads(await other.recv())["data"] == '[{"y":2}]'

            status = await get_json(jp_fetch, "sqlrooms/api/kernels", kid)
            assert status["kernel_id"] == kid and status["path"] == "work/relay.ipynb"
            assert status["connections"] == 2 and status["relayed_connections"] == 2
            assert status["auth"] is True  # the kernel's token; the relay needs none
            assert "secret" not in json.dumps(status)

            # Cancel a long query: answered at once, the socket stays usable.
            await client.send({"type": "arrow", "sql": LONG_SQL, "queryId": "long"})
            await wait_until_async(queries, "the long query to reach the kernel")
            assert [q["queryId"] for q in await queries()] == ["long"]
            began = time.monotonic()
            await client.send({"type": "cancel", "queryId": "long"})
            assert await client.recv_json(10) == {
                "type": "cancelAck",
                "queryId": "long",
                "cancelled": True,
            }
            assert await client.recv_json(10) == {
                "type": "error",
                "queryId": "long",
                "error": "Query was cancelled",
            }
            assert time.monotonic() - began < 5
            assert (await client.query("select 1 as one", kind="json")) == [{"one": 1}]

            # An export streams through the relay as several binary messages, then its answer.
            sql = "select i, 'row ' || i as label from range(200000) t(i)"
            await client.send({"type": "export", "sql": sql, "format": "csv", "queryId": "exp"})
            chunks: list[bytes] = []
            while isinstance(frame := await client.recv(30), tuple):
                assert frame[0] == {"type": "export", "queryId": "exp", "format": "csv"}
                chunks.append(frame[1])
            csv_text = b"".join(chunks)
            assert frame == {"type": "ok", "queryId": "exp", "format": "csv", "rows": 200_000,
                             "bytes": len(csv_text)}  # fmt: skip
            assert len(chunks) > 1 and csv_text.splitlines()[-1] == b'199999,"row 199999"'

            # Closing a relayed socket cancels its queries in the kernel, as closing a direct one.
            quitter = await relay_client(jp_ws_fetch, kid)
            await quitter.send({"type": "arrow", "sql": LONG_SQL, "queryId": "abandoned"})
            await wait_until_async(queries, "the abandoned query to reach the kernel")
            assert [q["queryId"] for q in await queries()] == ["abandoned"]
            quitter.close()
            await wait_until_async(
                no_queries, "the abandoned query to stop", timeout=5, interval=0.1
            )

            # Notifications: from another client and from the notebook.
            await client.send({"type": "subscribe", "channel": "news"})
            assert await client.recv_json() == {"type": "subscribed", "channel": "news"}
            payload = {"hello": "relay", "n": [1, None]}
            await other.send(json.dumps({"type": "notify", "channel": "news", "payload": payload}))
            note = await client.recv_json()
            assert note == {"type": "notify", "channel": "news", "payload": payload}
            (await kernel.run('%sqlrooms notify news {"from": "kernel"}')).check()
            note = await client.recv_json()
            assert note == {"type": "notify", "channel": "news", "payload": {"from": "kernel"}}
            await other.close()

            # A 50 MB Arrow result: no 10 MiB cap on either hop.
            began = time.monotonic()
            check_big_table(await client.query(BIG_SQL, query_id="big"))
            big_seconds = time.monotonic() - began

            # A 20 MB upload from the browser: no 10 MiB cap that way either.
            upload = pa.table({"v": pa.array(range(2_500_000), pa.int64())})
            await client.send(arrow_upload_frame(upload, "uploaded", "up"))
            assert await client.recv_json(60) == {"type": "uploadAck", "queryId": "up"}
            count = await client.query("select count(*)::INT n, sum(v) s from uploaded", "json")
            assert count == [{"n": 2_500_000, "s": 2_500_000 * 2_499_999 // 2}]

            # A client that does not read: the relay buffers at most its limit plus one
            # run received from the kernel's socket, not the 53 MB result.
            relays = extension(jp_serverapp).relay_manager.relays
            before = set(relays)
            slow = await ws_connect(
                url, max_size=None, max_queue=1, write_limit=1 << 16, compression=None
            )
            await slow.send(json.dumps({"type": "arrow", "sql": BIG_SQL, "queryId": "slow"}))
            await asyncio.sleep(2)  # not reading for 2 s is the test: the relay stops meanwhile
            [slow_relay] = relays - before
            writer = slow_relay.relay.writer
            peak = writer.peak
            # One read from the kernel's socket is at most 256 KiB (plus a header's
            # leftover): that, not the socket's queue, bounds one run.
            assert writer.largest_write <= (256 << 10) + 16, writer.largest_write
            assert 0 < peak <= BUFFER_LIMIT + writer.largest_write, peak
            message = await asyncio.wait_for(slow.recv(), 60)
            length = int.from_bytes(message[:4], "big")
            check_big_table(arrow_table(message[4 + length :]))
            await slow.close()

            # Signed in with a cookie, as a browser is: Jupyter's origin checks apply.
            # (Token-authenticated requests skip them, by Jupyter's design.)
            # (The cookie's name has the host in it: sign in as the WebSocket will connect.)
            login = await jp_fetch(
                "api",
                "status",
                headers={"Authorization": "", "Host": f"localhost:{jp_http_port}"},
                params={"token": token},
            )
            cookie = "; ".join(c.split(";")[0] for c in login.headers.get_list("Set-Cookie"))
            as_browser = {"Authorization": "", "Cookie": cookie}
            for origin, expected in [
                ("http://evil.example", 403),
                (f"http://localhost:{jp_http_port}", 101),
            ]:
                headers = {**as_browser, "Origin": origin}
                status_code = await ws_status(
                    jp_ws_fetch, "sqlrooms/kernels", kid, "ws", headers=headers
                )
                assert status_code == expected, origin
            # The Jupyter server stopping closes relayed sockets with a code of their own.
            await extension(jp_serverapp).stop_extension()
            assert await client.wait_closed(10) == (
                CLOSE_JUPYTER_STOPPING,
                "Jupyter server shutting down",
            )
            print(f"53 MB through the relay: {big_seconds:.2f} s; slow client peak {peak} B")
        finally:
            kernel.close()

    run(jp_asyncio_loop, body())


# -- lifecycle ----------------------------------------------------------------------------


def test_close_codes_on_stop_restart_and_shutdown(
    jp_serverapp: Any,
    jp_fetch: Any,
    jp_ws_fetch: Any,
    jp_asyncio_loop: asyncio.AbstractEventLoop,
) -> None:
    async def body() -> None:
        kernel = await NotebookKernel.start(jp_serverapp, "work/lifecycle.ipynb")
        kid = kernel.kernel_id
        manager = jp_serverapp.kernel_manager
        try:
            # %sqlrooms stop: the kernel server's own close passes through.
            await kernel.start_server()
            client = await relay_client(jp_ws_fetch, kid)
            assert (await client.query("select 1 as one", kind="json")) == [{"one": 1}]
            (await kernel.run("%sqlrooms stop")).check()
            assert await client.wait_closed(10) == (1001, "server shutting down")
            assert await ws_status(jp_ws_fetch, "sqlrooms/kernels", kid, "ws") == 404

            # A discovery file that is not private, or not written by the kernel: refused,
            # with a warning in the server's log.
            warnings: list[logging.LogRecord] = []
            log_handler = logging.Handler(logging.WARNING)
            log_handler.emit = warnings.append  # type: ignore[method-assign]
            extension(jp_serverapp).log.addHandler(log_handler)
            await kernel.start_server()
            path = kernel.discovery_file
            original = path.read_text()
            os.chmod(path, 0o644)
            assert await ws_status(jp_ws_fetch, "sqlrooms/kernels", kid, "ws") == 404
            assert await http_status(jp_fetch, "sqlrooms/api/kernels", kid) == 404
            assert await get_json(jp_fetch, "sqlrooms", "api", "kernels") == []
            os.chmod(path, 0o600)
            path.write_text(json.dumps({**json.loads(original), "pid": os.getpid()}))
            assert await ws_status(jp_ws_fetch, "sqlrooms/kernels", kid, "ws") == 404
            path.write_text(original)
            extension(jp_serverapp).log.removeHandler(log_handler)
            logged = [r.getMessage() for r in warnings]
            assert any("is not private to this user" in m and "mode 644" in m for m in logged)
            assert any(f"not by the kernel (process {kernel.pid})" in m for m in logged)

            # The connection breaks (no close frame) while the kernel lives on: 4003.
            client = await relay_client(jp_ws_fetch, kid)
            assert (await client.query("select 5 as five", kind="json")) == [{"five": 5}]
            cut = (
                "from sqlrooms_jupyter.kernel import api as notebook\n"
                "for s in list(notebook.current().server.state.sessions):\n"
                "    s.connection._handler.ws_connection.stream.close()\n"
            )
            (await kernel.run(cut)).check()
            lost = (CLOSE_KERNEL_SERVER_LOST, "lost the kernel's SQLRooms server")
            assert await client.wait_closed(30) == lost

            # Kernel restart: 4001, after the kernel is back.
            client = await relay_client(jp_ws_fetch, kid)
            assert (await client.query("select 2 as two", kind="json")) == [{"two": 2}]
            restart = asyncio.ensure_future(manager.restart_kernel(kid))
            assert await client.wait_closed(60) == (CLOSE_KERNEL_RESTARTED, "kernel restarted")
            await restart
            await kernel.connect()
            assert await ws_status(jp_ws_fetch, "sqlrooms/kernels", kid, "ws") == 404

            # A kernel that dies is restarted by Jupyter: 4001 too.
            await kernel.start_server()
            client = await relay_client(jp_ws_fetch, kid)
            assert (await client.query("select 3 as three", kind="json")) == [{"three": 3}]
            os.kill(kernel.pid, signal.SIGKILL)
            assert await client.wait_closed(60) == (CLOSE_KERNEL_RESTARTED, "kernel restarted")
            await kernel.connect()

            # Kernel shutdown: 4002.
            await kernel.start_server()
            client = await relay_client(jp_ws_fetch, kid)
            assert (await client.query("select 4 as four", kind="json")) == [{"four": 4}]
            kernel.close()
            shutdown = asyncio.ensure_future(manager.shutdown_kernel(kid))
            assert await client.wait_closed(60) == (CLOSE_KERNEL_SHUT_DOWN, "kernel shut down")
            await shutdown
            assert await http_status(jp_fetch, "sqlrooms/api/kernels", kid) == 404
        finally:
            kernel.close()

    run(jp_asyncio_loop, body())


# -- the official JS client ---------------------------------------------------------------


def test_official_js_connector_through_the_relay(
    jp_serverapp: Any,
    http_server: Any,  # serves jp_serverapp on jp_http_port (jp_fetch would start it too)
    jp_http_port: int,
    jp_base_url: str,
    jp_asyncio_loop: asyncio.AbstractEventLoop,
) -> None:
    """`createWebSocketDuckDbConnector({wsUrl})` from npm, by URL alone: the Jupyter token in
    the query string, no kernel-side token."""
    node = npm_project(JS_DIR)
    token = jp_serverapp.identity_provider.token

    async def body() -> tuple[int, str, str]:
        kernel = await NotebookKernel.start(jp_serverapp, "work/app.ipynb")
        try:
            await kernel.start_server()
            url = (
                f"ws://127.0.0.1:{jp_http_port}{jp_base_url}sqlrooms/kernels/"
                f"{kernel.kernel_id}/ws?token={token}"
            )
            proc = await asyncio.create_subprocess_exec(
                node,
                str(JS_DIR / "duckdb-interop.mjs"),
                url,
                cwd=JS_DIR,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 90)
            return proc.returncode or 0, out.decode(), err.decode()
        finally:
            kernel.close()

    code, out, err = run(jp_asyncio_loop, body())
    checks, summary = interop_records(out)
    context = f"node exited {code}\n--- stdout\n{out}\n--- stderr\n{err}"
    failed = [f"{name}: {r.get('error')}" for name, r in checks.items() if not r["ok"]]
    assert not failed, "\n".join(failed) + "\n" + context
    assert summary is not None and summary["summary"] == "OK", context
    assert [name for name in COMMON_CHECKS if name not in checks] == [], context
    assert checks["arrow-scalar"]["detail"] == {"answer": 42, "s": "hi"}
    assert checks["cancel-abortsignal"]["detail"]["cancelAck"]["cancelled"] is True


def test_the_jupyter_token_never_reaches_the_log(
    jp_serverapp: Any,
    jp_fetch: Any,
    jp_ws_fetch: Any,
    jp_asyncio_loop: asyncio.AbstractEventLoop,
) -> None:
    """Our 404s (and every other line) name the URL with `token=[secret]`, as Jupyter's do."""
    token = jp_serverapp.identity_provider.token
    assert token
    unknown = "00000000-0000-0000-0000-000000000000"
    in_url = {"params": {"token": token}, "headers": {"Authorization": ""}}
    records: list[logging.LogRecord] = []
    capture = logging.Handler(logging.DEBUG)
    capture.emit = records.append  # type: ignore[method-assign]
    loggers = [logging.getLogger(), jp_serverapp.log, extension(jp_serverapp).log]
    for logger in loggers:
        logger.addHandler(capture)

    async def body() -> None:
        assert await http_status(jp_fetch, "sqlrooms/api/kernels", unknown, **in_url) == 404
        assert await ws_status(jp_ws_fetch, "sqlrooms/kernels", unknown, "ws", **in_url) == 404

    try:
        run(jp_asyncio_loop, body())
    finally:
        for logger in loggers:
            logger.removeHandler(capture)
    lines = [record.getMessage() for record in records]
    mentions = [line for line in lines if unknown in line]
    assert mentions, lines  # the 404s were logged
    assert not [line for line in lines if token in line]
    assert any("token=[secret]" in line for line in mentions)
