"""Serving the SQLRooms app: `webapp.app_routes` on a plain Tornado server (as the standalone
and kernel servers mount it) and `{base_url}sqlrooms/app/` on a real Jupyter server.

pytest-jupyter's fixtures are imported here, as in test_serverext, so that its autouse
fixtures apply to this module only.
"""

from __future__ import annotations

import asyncio
import http.client
import re
import sys
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tornado.httpclient
import tornado.web
from pytest_jupyter.jupyter_server import *  # noqa: F403
from tornado.httpclient import HTTPClientError

from sqlrooms_jupyter.web import static_app
from sqlrooms_jupyter.web.static_app import APP_DIR, IMMUTABLE, app_routes, resolve
from tests.polling import wait_until
from tests.support import ServerProcess, free_port

BUILT = static_app.is_built()
needs_build = pytest.mark.skipif(not BUILT, reason="the app is not built (pip install -e .)")


@pytest.fixture
def app_root(tmp_path: Path) -> Path:
    """A small built app: index.html, one hashed asset, and a secret next to the root."""
    root = tmp_path / "app"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text('<script type="module" src="./assets/index-abc.js">')
    (root / "assets" / "index-abc.js").write_text("console.log('app')")
    (root / "assets" / "style-abc.css").write_text("body{}")
    (tmp_path / "secret.txt").write_text("do not serve")
    return root


# -- path resolution ---------------------------------------------------------------------


def test_resolve_serves_files_and_falls_back_to_index(app_root: Path) -> None:
    assert resolve(app_root, "") == app_root / "index.html"
    assert resolve(app_root, "assets/index-abc.js") == (app_root / "assets/index-abc.js").resolve()
    assert resolve(app_root, "some/client/route") == app_root / "index.html"
    assert resolve(app_root, "assets/missing-xyz.js") is None


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "assets/../../secret.txt",
        "/etc/passwd",
        "..\\secret.txt",
        "index.html\0.js",
    ],
)
def test_resolve_refuses_paths_leaving_the_root(app_root: Path, path: str) -> None:
    assert resolve(app_root, path) is None


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_resolve_refuses_a_symlink_out_of_the_root(app_root: Path) -> None:
    (app_root / "assets" / "leak.txt").symlink_to(app_root.parent / "secret.txt")
    assert resolve(app_root, "assets/leak.txt") is None


# -- app_routes on a plain Tornado server --------------------------------------------------


@dataclass
class PlainServer:
    """An Application with `app_routes` on a free loopback port, on a loop of its own."""

    loop: asyncio.AbstractEventLoop
    port: int

    def fetch(self, path: str, **kwargs: Any) -> tornado.httpclient.HTTPResponse:
        async def go() -> tornado.httpclient.HTTPResponse:
            client = tornado.httpclient.AsyncHTTPClient()
            try:
                return await client.fetch(
                    f"http://127.0.0.1:{self.port}{path}", follow_redirects=False, **kwargs
                )
            except HTTPClientError as exc:
                assert exc.response is not None
                return exc.response

        return self.loop.run_until_complete(asyncio.wait_for(go(), 10))


@pytest.fixture
def plain(app_root: Path) -> Iterator[PlainServer]:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # Tornado binds to the loop current at listen()
    port = free_port()
    http = tornado.web.Application(app_routes("/app/", root=app_root)).listen(port, "127.0.0.1")
    yield PlainServer(loop, port)
    http.stop()
    loop.run_until_complete(http.close_all_connections())
    asyncio.set_event_loop(None)
    loop.close()


def test_plain_server_serves_index_and_assets_with_types_and_caching(plain: PlainServer) -> None:
    index = plain.fetch("/app/")
    assert index.code == 200
    assert index.headers["Content-Type"] == "text/html; charset=utf-8"
    assert index.headers["Cache-Control"] == "no-cache"
    assert "frame-ancestors 'self'" in index.headers["Content-Security-Policy"]
    assert b"./assets/index-abc.js" in index.body

    script = plain.fetch("/app/assets/index-abc.js")
    assert script.code == 200
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert script.headers["Cache-Control"] == IMMUTABLE
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert plain.fetch("/app/assets/style-abc.css").headers["Content-Type"].startswith("text/css")

    # A client-side route gets the app; a missing asset does not.
    assert plain.fetch("/app/history/3").body == index.body
    assert plain.fetch("/app/assets/gone.js").code == 404


def test_plain_server_adds_the_slash_and_keeps_the_query(plain: PlainServer) -> None:
    response = plain.fetch("/app?ws=ws://127.0.0.1:4000/")
    assert response.code == 302
    assert response.headers["Location"] == "/app/?ws=ws://127.0.0.1:4000/"


def test_plain_server_refuses_traversal(plain: PlainServer) -> None:
    for path in ("/app/../secret.txt", "/app/%2e%2e/secret.txt", "/app/assets/%2e%2e/%2e%2e/x"):
        response = plain.fetch(path)
        assert response.code in (400, 404), path
        assert b"do not serve" not in (response.body or b"")


def test_plain_server_answers_head_without_a_body(plain: PlainServer) -> None:
    response = plain.fetch("/app/assets/index-abc.js", method="HEAD")
    assert response.code == 200
    assert response.headers["Content-Length"] == str(len("console.log('app')"))
    assert response.body == b""


def test_webapp_imports_nothing_heavy() -> None:
    source = Path(static_app.__file__).read_text()
    imports = re.findall(r"^(?:from|import) (\S+)", source, re.M)
    assert not [m for m in imports if m.split(".")[0] in ("duckdb", "pyarrow")], imports
    assert not [m for m in imports if m.startswith(".")], imports


@needs_build
def test_built_app_uses_relative_asset_urls() -> None:
    index = (APP_DIR / "index.html").read_text()
    urls = re.findall(r'(?:src|href)="([^"]+)"', index)
    assert urls, index
    assert all(url.startswith("./") or url.startswith("data:") for url in urls), urls
    assert not re.search(r"https?://", index)


# -- under Jupyter -----------------------------------------------------------------------


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"sqlrooms_jupyter": True, "jupyter_server_terminals": False},
            "allow_unauthenticated_access": False,
        }
    }


@pytest.fixture
def jp_base_url() -> str:
    return "/user/alice/"  # as on JupyterHub


def run(loop: asyncio.AbstractEventLoop, coro: Any) -> Any:
    return loop.run_until_complete(asyncio.wait_for(coro, 60))


async def fetch_response(fetch: Any, *parts: str, **kwargs: Any) -> Any:
    try:
        return await fetch(*parts, follow_redirects=False, **kwargs)
    except HTTPClientError as exc:
        return exc.response if exc.response is not None else exc


@needs_build
def test_jupyter_serves_the_app_under_base_url(
    jp_fetch: Any, jp_asyncio_loop: asyncio.AbstractEventLoop
) -> None:
    async def body() -> None:
        index = await fetch_response(jp_fetch, "sqlrooms", "app", "index.html")
        assert index.code == 200
        assert index.headers["Content-Type"] == "text/html; charset=utf-8"
        script = re.search(r'src="\./(assets/[^"]+\.js)"', index.body.decode())
        assert script, index.body
        asset = await fetch_response(jp_fetch, "sqlrooms", "app", script.group(1))
        assert asset.code == 200
        assert asset.headers["Content-Type"] == "text/javascript; charset=utf-8"
        assert asset.headers["Cache-Control"] == IMMUTABLE
        slash = await fetch_response(jp_fetch, "sqlrooms", "app", params={"kernel": "k"})
        assert slash.code == 302
        assert slash.headers["Location"].startswith("/user/alice/sqlrooms/app/?")

    run(jp_asyncio_loop, body())


def test_jupyter_app_route_requires_login(
    jp_fetch: Any, jp_asyncio_loop: asyncio.AbstractEventLoop
) -> None:
    async def body() -> None:
        for auth in ("", "token nope"):
            response = await fetch_response(
                jp_fetch, "sqlrooms", "app", "index.html", headers={"Authorization": auth}
            )
            # A page: Jupyter sends the browser to its login form (or refuses outright).
            assert response.code in (302, 403), response.code
            if response.code == 302:
                assert "/user/alice/login" in response.headers["Location"]
            traversal = await fetch_response(
                jp_fetch, "sqlrooms", "app", "..", "..", "api", headers={"Authorization": auth}
            )
            assert traversal.code in (302, 403, 404)

    run(jp_asyncio_loop, body())


def test_jupyter_app_route_refuses_traversal(
    jp_fetch: Any, jp_asyncio_loop: asyncio.AbstractEventLoop
) -> None:
    async def body() -> None:
        for path in ("%2e%2e/%2e%2e/webapp.py", "assets/%2e%2e/%2e%2e/%2e%2e/pyproject.toml"):
            response = await fetch_response(jp_fetch, "sqlrooms", "app", path)
            assert response.code in (400, 404), (path, response.code)

    run(jp_asyncio_loop, body())


# --- the standalone server: a browser at its address finds the app ----------------------------


def get_without_following(url: str, host: str | None = None) -> http.client.HTTPResponse:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.request("GET", target, headers={"Host": host} if host else {})
    response = connection.getresponse()
    response.read()
    return response


def test_a_browser_at_the_servers_address_is_sent_to_the_app(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("--auth-token", "root-redirect-secret")
    response = get_without_following(server.http + "/?token=root-redirect-secret")
    assert response.status == 302
    assert response.getheader("Location") == "/app/"
    # The Host check still comes first; WebSocket upgrades at / and /ws/duckdb still work.
    assert get_without_following(server.http + "/", host="evil.example").status == 403
    for path in ("/", "/ws/duckdb"):
        with server.client(f"{path}?token=root-redirect-secret") as client:
            assert client.query("select 1 as x", kind="json") == [{"x": 1}]
    assert "root-redirect-secret" not in server.log()


def test_start_up_output_leads_with_the_apps_address(
    start_server: Callable[..., ServerProcess],
) -> None:
    # An extension that cannot load (as httpfs offline): its warning comes after the address.
    server = start_server(extensions="nosuchext@/no-such-repository")
    wait_until(lambda: "nosuchext" in server.log(), timeout=10)
    lines = server.log().splitlines()
    assert f"SQLRooms app: {server.http}/app/" in lines[0], lines
    assert "nosuchext" in "\n".join(lines[2:]), lines


def test_an_offline_extension_is_one_short_line(
    start_server: Callable[..., ServerProcess], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty home: no httpfs installed before; a repository that cannot be reached.
    monkeypatch.setenv("HOME", str(tmp_path))
    server = start_server(extensions="httpfs@http://127.0.0.1:9")
    wait_until(lambda: "httpfs" in server.log(), timeout=30)
    warning = next(line for line in server.log().splitlines() if "httpfs" in line)
    message = warning.split(": ", 1)[1]
    assert message == (
        "https:// and s3:// paths are unavailable: the httpfs extension is not installed (offline)"
    ), warning


def test_a_db_path_that_is_not_there_is_said_to_be_created(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    import duckdb

    server = start_server("--db-path", "mistyped.db")  # relative to the server's cwd, tmp_path
    created = tmp_path / "mistyped.db"
    assert f"creating a new database file at {created}" in server.log()
    assert created.exists()  # still created, as upstream does
    server.stop()
    existing = tmp_path / "existing.db"
    duckdb.connect(str(existing)).close()
    again = start_server("--db-path", str(existing))
    assert "creating a new database" not in again.log()
