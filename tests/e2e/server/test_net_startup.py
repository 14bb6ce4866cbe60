"""Start-up security: where the token comes from, warnings for flags that switch a protection
off, and the Host check on the app's routes (issue 28 items 11, 13, 14)."""

from __future__ import annotations

import http.client
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosed

from sqlrooms_jupyter.web import static_app
from tests.support import ServerProcess, free_port, http_get

TOKEN = "t0ken-from-elsewhere"


def cmdline(server: ServerProcess) -> bytes:
    return Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()


def assert_token_required(server: ServerProcess, token: str) -> None:
    with server.client(f"/?token={token}") as client:
        assert client.query("select 1 as x", kind="json") == [{"x": 1}]
    with server.client() as client:
        client.send({"type": "json", "sql": "select 1", "queryId": "q"})
        assert client.recv_json(5)["error"] == "unauthorized"
        with pytest.raises(ConnectionClosed):
            client.ws.recv(5)


def test_token_from_the_environment(start_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQLROOMS_AUTH_TOKEN", TOKEN)
    server = start_server()
    assert_token_required(server, TOKEN)
    assert TOKEN.encode() not in cmdline(server)


def test_token_from_a_file(start_server, tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    server = start_server("--auth-token-file", str(path))
    assert_token_required(server, TOKEN)
    assert TOKEN.encode() not in cmdline(server)


def test_the_flag_wins_over_the_environment(start_server, monkeypatch) -> None:
    monkeypatch.setenv("SQLROOMS_AUTH_TOKEN", "from-env")
    assert_token_required(start_server("--auth-token", TOKEN), TOKEN)


def start_failing(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sqlrooms_jupyter", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "cannot read the token file"), ("\n", "is empty"), ("a\nb\n", "more than one line")],
)
def test_an_unusable_token_file_is_a_clear_error(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content)
    done = start_failing("--auth-token-file", str(path), tmp_path=tmp_path)
    assert done.returncode == 2
    assert expected in done.stderr and str(path) in done.stderr
    assert "Traceback" not in done.stderr


def test_token_and_token_file_together_are_refused(tmp_path: Path) -> None:
    done = start_failing("--auth-token", "a", "--auth-token-file", "f", tmp_path=tmp_path)
    assert done.returncode == 2 and "not allowed with" in done.stderr


def test_allow_host_star_warns_once(start_server) -> None:
    server = start_server("--allow-host", "*", "--auth-token", TOKEN)
    log = server.log()
    assert log.count("DNS-rebinding protection is off") == 1
    assert "--allow-origin" not in log


def test_allow_origin_star_without_a_token_warns_once(start_server) -> None:
    log = start_server("--allow-origin", "*").log()
    assert log.count("--allow-origin '*' without a token: any web page") == 1
    quiet = start_server("--allow-origin", "*", "--auth-token", TOKEN).log()
    assert "without a token" not in quiet and "DNS-rebinding" not in quiet


@pytest.mark.parametrize("path", ["/app", "/app/", "/app/config.json", "/app/index.html"])
def test_app_routes_refuse_a_foreign_host(server: ServerProcess, path: str) -> None:
    """DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1."""
    assert http_get(server.http + path, {"Host": "evil.example"})[0] == 403
    expected = 302 if path == "/app" else 200
    if path != "/app/config.json" and not static_app.is_built():
        expected = 302 if path == "/app" else 404
    status = _status(server.http + path, {"Host": f"localhost:{server.port}"})
    assert status == expected


def test_app_routes_answer_an_allowed_host(start_server) -> None:
    server = start_server("--allow-host", "dash.example.org")
    status, body = http_get(server.http + "/app/config.json", {"Host": "dash.example.org"})
    assert status == 200 and "uiStateTable" in body


def _status(url: str, headers: dict[str, str]) -> int:
    """The status without following redirects."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    connection.request("GET", parts.path, headers=headers)
    status = connection.getresponse().status
    connection.close()
    return status


def test_a_sandboxed_server_says_so_and_its_refusals_name_what_works(
    start_server, tmp_path: Path
) -> None:
    import duckdb

    duckdb.connect(str(tmp_path / "shared.db")).close()
    server = start_server(
        "--db-path",
        str(tmp_path / "shared.db"),
        "--read-only",
        "--allowed-directories",
        str(tmp_path),
    )
    with server.client() as client:
        refused = client.query("PRAGMA table_info('x')", kind="json", query_id="p")
        assert refused["queryId"] == "p" and "SHOW, DESCRIBE" in refused["error"]
        assert "pragma_table_info" in refused["error"]
    listening = next(line for line in server.log().splitlines() if "listening at" in line)
    assert "read-only" in listening and f"files only under {tmp_path.resolve()}" in listening
