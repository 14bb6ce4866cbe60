"""The server inside a real IPython kernel, driven by `%sqlrooms` as a notebook would."""

from __future__ import annotations

import json
import re
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sqlrooms_jupyter.kernel.server import GIL_SWITCH_INTERVAL
from tests.kernel_support import SHOW_TOKEN, RunningKernel, StartedServer
from tests.polling import wait_until
from tests.support import Client

LONG_SQL = "select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningKernel]:
    running = RunningKernel(tmp_path_factory.mktemp("runtime"))
    yield running
    running.shutdown()


@pytest.fixture
def started(kernel: RunningKernel) -> Iterator[StartedServer]:
    server = kernel.start_server()
    yield server
    kernel.run("%sqlrooms stop")


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_clients_query_shared_dataframes_while_a_cell_is_busy(
    kernel: RunningKernel, started: StartedServer, tmp_path: Path
) -> None:
    kernel.run(
        "import pandas as pd, polars as pl\n"
        "trips = pd.DataFrame({'id': [1, 2, 3], 'km': [2.5, 10.0, 7.25]})\n"
        "cities = pl.DataFrame({'city': ['Oslo', 'Lima'], 'pop': [709_000, 10_000_000]})\n"
        "%sqlrooms share trips\n"
        "%sqlrooms share cities --as places"
    ).check()

    running = tmp_path / "cell-running"
    cell = f"import pathlib, time; pathlib.Path({str(running)!r}).touch(); time.sleep(5)"
    busy = threading.Thread(target=kernel.run, args=(cell,))
    began = time.monotonic()
    busy.start()
    wait_until(running.exists, "the busy cell to start")
    with Client(started.client_url) as client:
        table = client.query("select id, km from trips order by id")
        rows = client.query("select * from places order by city", kind="json", query_id="j")
        answered = time.monotonic() - began
    busy.join()
    finished = time.monotonic() - began

    assert table.to_pydict() == {"id": [1, 2, 3], "km": [2.5, 10.0, 7.25]}
    assert rows == [{"city": "Lima", "pop": 10_000_000}, {"city": "Oslo", "pop": 709_000}]
    assert finished >= 5
    assert answered < 4, f"answers waited for the busy cell ({answered:.1f} s)"


def test_tables_made_in_cells_and_by_clients_are_shared(
    kernel: RunningKernel, started: StartedServer
) -> None:
    kernel.run("import duckdb\nduckdb.sql('create or replace table from_cell as select 42 x')")
    with Client(started.client_url) as client:
        assert client.query("select x from from_cell", kind="json") == [{"x": 42}]
        assert client.query("create or replace table from_client as select 7 y", kind="exec") == {
            "type": "ok",
            "queryId": "q",
        }
    out = kernel.run("print(duckdb.sql('select y from from_client').fetchall())").check()
    assert out.stdout.strip() == "[(7,)]"


def test_writes_from_cells_invalidate_persisted_results(
    kernel: RunningKernel, started: StartedServer
) -> None:
    kernel.run("duckdb.sql('create or replace table counter as select 1 n')").check()
    with Client(started.client_url) as client:
        sql = "select n from counter"
        assert client.query(sql, kind="json", persist=True) == [{"n": 1}]
        kernel.run("duckdb.sql('update counter set n = 2')").check()
        assert client.query(sql, kind="json", persist=True) == [{"n": 2}]


def test_resharing_notifies_subscribers_and_replaces_the_data(
    kernel: RunningKernel, started: StartedServer
) -> None:
    kernel.run("import pandas as pd\nscores = pd.DataFrame({'v': [1]})\n%sqlrooms share scores")
    with Client(started.client_url) as client:
        client.send({"type": "subscribe", "channel": "table:scores"})
        assert client.recv_json() == {"type": "subscribed", "channel": "table:scores"}
        out = kernel.run("scores = pd.DataFrame({'v': [5, 6]})\n%sqlrooms share scores").check()
        assert "Replaced DataFrame as table 'scores'" in out.stdout
        assert client.recv_json() == {
            "type": "notify",
            "channel": "table:scores",
            "payload": {"op": "replace"},
        }
        assert client.query("select sum(v) s from scores", kind="json") == [{"s": 11}]

        kernel.run('%sqlrooms notify table:scores {"op": "custom", "n": 1}').check()
        assert client.recv_json()["payload"] == {"op": "custom", "n": 1}
        subs = kernel.run("%sqlrooms subscriptions").check()
        assert "table:scores" in json.dumps(subs.displays) + subs.stdout

        kernel.run("%sqlrooms unshare scores").check()
        assert client.recv_json()["payload"] == {"op": "drop"}
        error = client.query("select * from scores")
        assert error["type"] == "error" and "scores" in error["error"]


def test_arrow_tables_readers_and_relations_can_be_shared(
    kernel: RunningKernel, started: StartedServer
) -> None:
    kernel.run(
        "import pyarrow as pa, duckdb\n"
        "t = pa.table({'a': [1, 2]})\n"
        "reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches())\n"
        "rel = duckdb.sql('select range r from range(4)')\n"
        "%sqlrooms share t --as arrow_t\n"
        "%sqlrooms share reader\n"
        "%sqlrooms share rel"
    ).check()
    with Client(started.client_url) as client:
        sql = (
            "select (select sum(a) from arrow_t) a, (select sum(a) from reader) b, sum(r) c "
            "from rel"
        )
        assert client.query(sql, kind="json") == [{"a": 3, "b": 3, "c": 6}]
        # a reader is read once at share time, so it can be queried again
        assert client.query("select count(*) n from reader", kind="json") == [{"n": 2}]


def test_status_queries_and_cancel_from_the_notebook(
    kernel: RunningKernel, started: StartedServer
) -> None:
    with Client(started.client_url) as client:
        client.start_running({"type": "arrow", "sql": LONG_SQL, "queryId": "slow-1"})
        queries = kernel.run("%sqlrooms queries").check()
        bundle = queries.displays[0]
        assert "application/vnd.jupyter.widget-view+json" in bundle  # a live ipywidgets panel
        assert "slow-1" in bundle["text/plain"] and "range(100000)" in bundle["text/plain"]

        status = kernel.run("%sqlrooms status").check().displays[0]["text/plain"]
        assert started.url in status and "connections        1" in status

        kernel.run("%sqlrooms cancel slow-1").check()
        assert client.recv_json(timeout=10) == {
            "type": "error",
            "queryId": "slow-1",
            "error": "Query was cancelled",
        }
        missing = kernel.run("%sqlrooms cancel slow-1").usage_error
        assert missing == "no in-flight query has queryId 'slow-1'\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "%sqlrooms start [options]"),
        ("bogus", "invalid choice: 'bogus'"),
        ("start --port abc", "argument --port: invalid int value: 'abc'"),
        ("share no_such_variable", "name 'no_such_variable' is not defined"),
        ("notify ch {bad", "the payload is not JSON"),
        ("rooms --all", "unrecognized arguments: --all"),
    ],
)
def test_usage_errors_are_messages_not_tracebacks(
    kernel: RunningKernel, line: str, message: str
) -> None:
    kernel.run("%load_ext sqlrooms_jupyter")
    out = kernel.run(f"%sqlrooms {line}")
    assert out.usage_error is not None and message in out.usage_error, out
    assert "Traceback" not in out.text
    if line:
        assert "\n" not in out.usage_error.strip(), out.usage_error


def test_taken_ports_and_the_docstring(kernel: RunningKernel) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        out = kernel.run(f"%load_ext sqlrooms_jupyter\n%sqlrooms start --port {taken}")
        assert out.usage_error is not None
        assert f"cannot listen on 127.0.0.1:{taken}" in out.usage_error

    doc = kernel.run(
        "from sqlrooms_jupyter.kernel.magics import SqlroomsMagics\n"
        "print(SqlroomsMagics.sqlrooms.__doc__)"
    ).check()
    for command in (
        "start",
        "stop",
        "status",
        "share",
        "unshare",
        "notify",
        "subscriptions",
        "rooms",
        "queries",
        "cancel",
    ):
        assert f"%sqlrooms {command}" in doc.stdout or f"| {command}" in doc.stdout


def test_discovery_file_and_private_socket(kernel: RunningKernel, started: StartedServer) -> None:
    path = kernel.discovery_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    info = json.loads(path.read_text())
    assert info["kernel_id"] == kernel.kernel_id
    assert info["pid"] == kernel.pid
    assert info["port"] == started.port
    sock = Path(info["socket"])
    assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert len(info["secret"]) >= 32


def test_stop_start_and_shutdown_leave_nothing_behind(tmp_path: Path) -> None:
    kernel = RunningKernel(tmp_path / "runtime")
    try:
        first = kernel.start_server()
        socket_path = Path(json.loads(kernel.discovery_file.read_text())["socket"])
        with Client(first.client_url) as client:
            client.start_running({"type": "arrow", "sql": LONG_SQL, "queryId": "long"})
            assert "stopped" in kernel.run("%sqlrooms stop").check().stdout
            assert client.recv_json(timeout=10)["queryId"] == "long"  # answered, not dropped
        assert not port_open(first.port)
        assert not kernel.discovery_file.exists() and not socket_path.exists()
        threads = kernel.run(
            "import threading; print(sorted(t.name for t in threading.enumerate()))"
        ).check()
        assert "sqlrooms" not in threads.stdout

        second = kernel.start_server()
        with Client(second.client_url) as client:
            assert client.query("select 1 one", kind="json") == [{"one": 1}]
        assert kernel.discovery_file.exists()

        kernel.manager.restart_kernel(now=False)
        kernel.client.wait_for_ready(timeout=60)
        assert not port_open(second.port)
        assert not kernel.discovery_file.exists()
        third = kernel.start_server()
    finally:
        kernel.shutdown()
    assert not port_open(third.port)
    assert not kernel.discovery_file.exists() and not socket_path.exists()


def test_token_is_required_by_default(kernel: RunningKernel, started: StartedServer) -> None:
    assert started.token
    with Client(started.url) as client:
        assert client.query("select 1", kind="json")["type"] == "error"
    with Client(started.client_url) as client:
        assert client.query("select 1 x", kind="json") == [{"x": 1}]


def test_start_does_not_print_the_token_into_the_notebook(kernel: RunningKernel) -> None:
    # A cell's output is saved in the .ipynb: the token would travel with the notebook.
    output = kernel.run("%load_ext sqlrooms_jupyter\n%sqlrooms start --port 0").check()
    try:
        token = kernel.run(SHOW_TOKEN).check().stdout.strip()
        assert len(token) >= 16
        assert token not in output.text, output.text
        assert "SQLRooms button in the notebook's toolbar" in output.stdout
        assert re.search(r"app: http://127\.0\.0\.1:\d+/app/ \(asks for the token\)", output.stdout)
        assert "%sqlrooms status --show-token" in output.stdout
        shown = kernel.run("%sqlrooms status --show-token").check()
        assert f"token: {token}" in shown.stdout
        assert f"/app/#token={token}" in shown.stdout
    finally:
        kernel.run("%sqlrooms stop")


def test_serving_a_given_connection_or_database_file(kernel: RunningKernel, tmp_path: Path) -> None:
    db = tmp_path / "notebook.db"
    kernel.run(
        f"import duckdb\ncon = duckdb.connect({str(db)!r})\n"
        "con.sql('create table mine as select 5 v')"
    ).check()
    server = kernel.start_server("--port 0 --connection con")
    try:
        with Client(server.client_url) as client:
            assert client.query("select v from mine", kind="json") == [{"v": 5}]
    finally:
        kernel.run("%sqlrooms stop\ncon.close()").check()

    server = kernel.start_server(f"--port 0 --db-path {db}")
    try:
        with Client(server.client_url) as client:
            assert client.query("select v from mine", kind="json") == [{"v": 5}]
        again = kernel.run("%sqlrooms start").usage_error
        assert again is not None and "already running" in again
    finally:
        kernel.run("%sqlrooms stop").check()
    bad = kernel.run("x = 1\n%sqlrooms start --connection x").usage_error
    assert bad == "x is not a DuckDB connection\n"


def test_the_private_socket_requires_the_secret(
    kernel: RunningKernel, started: StartedServer
) -> None:
    info = json.loads(kernel.discovery_file.read_text())

    def get_status(secret: str | None) -> tuple[int, bytes]:
        with socket.socket(socket.AF_UNIX) as unix:
            unix.connect(info["socket"])
            auth = f"Authorization: Bearer {secret}\r\n" if secret else ""
            unix.sendall(
                f"GET /api/status HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := unix.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    assert get_status(None)[0] == 403
    assert get_status("wrong")[0] == 403
    status, body = get_status(info["secret"])
    assert status == 200 and json.loads(body)["url"] == started.url


def test_terminal_ipython_prints_plain_tables(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "ip = get_ipython()\n"
        "ip.run_line_magic('load_ext', 'sqlrooms_jupyter')\n"
        "ip.run_line_magic('sqlrooms', 'start --port 0')\n"
        "ip.run_line_magic('sqlrooms', 'status')\n"
        "ip.run_line_magic('sqlrooms', 'stop')\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "SQLRooms server\n  url                ws://127.0.0.1:" in result.stdout
    assert "In-flight queries\n  (none)" in result.stdout
    assert "SQLRooms server stopped." in result.stdout


def test_sandbox_options_on_the_magic(kernel: RunningKernel, tmp_path: Path) -> None:
    db = tmp_path / "sandboxed.duckdb"
    options = f"--port 0 --db-path {db} --query-timeout 0.5 --max-sql-size 1K --read-only"
    kernel.run(f"import duckdb\nduckdb.connect('{db}').execute('create table t(x int)').close()")
    started = kernel.start_server(options)
    try:
        with Client(started.client_url) as client:
            assert client.query("select count(*) n from t", kind="json") == [{"n": 0}]
            refused = client.query("insert into t values (1)", kind="json")
            assert "--read-only" in refused["error"]
            long = client.query("select " + "1+" * 600 + "1", kind="json")
            assert "--max-sql-size" in long["error"]
            slow = client.query("select count(*) from range(1000000000000)", kind="json")
            assert slow["error"] == "query timed out after 0.5 s"
    finally:
        kernel.run("%sqlrooms stop")


def test_shares_follow_their_variable_and_work_in_cells(
    kernel: RunningKernel, started: StartedServer
) -> None:
    kernel.run(
        "import duckdb, pandas as pd\n"
        "df = pd.DataFrame({'v': [1, 2]})\n"
        "%sqlrooms share df --as rides\n"
        "fixed = pd.DataFrame({'v': [7]})\n"
        "%sqlrooms share fixed --no-follow"
    ).check()
    cell = kernel.run("print(duckdb.sql('select sum(v) from rides').fetchall()[0][0])").check()
    assert cell.stdout.strip() == "3"  # the shared name works in the notebook's own cells
    with Client(started.client_url) as client:
        client.send({"type": "subscribe", "channel": "table:rides"})
        client.recv_json()
        out = kernel.run("df = pd.DataFrame({'v': [10, 20, 30]})").check()
        assert "re-shared 'df' as 'rides'" in out.stdout
        assert client.recv_json()["payload"] == {"op": "replace"}
        assert client.query("select sum(v) s from rides", kind="json") == [{"s": 60}]
        kernel.run("fixed = pd.DataFrame({'v': [0]})").check()
        assert client.query("select sum(v) s from fixed", kind="json") == [{"s": 7}]
        out = kernel.run("df = 'not a frame'").check()
        assert "stopped following 'df'" in out.stdout
        assert client.query("select sum(v) s from rides", kind="json") == [{"s": 60}]
    kernel.run("%sqlrooms unshare rides\n%sqlrooms unshare fixed").check()
    gone = kernel.run("duckdb.sql('select * from rides')")
    assert gone.error is not None and "rides does not exist" in gone.error["evalue"]


def test_a_shared_frame_changed_in_place_is_re_shared(
    kernel: RunningKernel, started: StartedServer
) -> None:
    kernel.run(
        "import pandas as pd, polars as pl\n"
        "sales = pd.DataFrame({'x': [1, 2, 3]})\n"
        "%sqlrooms share sales\n"
        "fares = pl.DataFrame({'f': [1.5, 2.5]})\n"
        "%sqlrooms share fares --no-follow\n"
        "big = pd.DataFrame({'k': range(300_000)})"
    ).check()
    shared = kernel.run("%sqlrooms share big").check()
    assert "run %sqlrooms share big again" in shared.stdout  # sampled: says how to refresh
    with Client(started.client_url) as client:
        for channel in ("table:sales", "table:fares"):
            client.send({"type": "subscribe", "channel": channel})
            client.recv_json()
        quiet = kernel.run("n = len(sales)").check()  # reading a frame changes nothing
        assert "SQLRooms" not in quiet.stdout

        out = kernel.run("sales.loc[0, 'x'] = 100").check()
        assert "'sales' changed in place; re-shared" in out.stdout
        assert client.recv_json() == {
            "type": "notify",
            "channel": "table:sales",
            "payload": {"op": "replace"},
        }
        kernel.run("sales['y'] = sales['x'] * 2").check()
        assert client.recv_json()["channel"] == "table:sales"
        rows = client.query("select sum(x) x, sum(y) y from sales", kind="json")
        assert rows == [{"x": 105, "y": 210}]

        kernel.run("fares[0, 'f'] = 10.0").check()
        assert client.recv_json()["channel"] == "table:fares"
        assert client.query("select sum(f) f from fares", kind="json") == [{"f": 12.5}]

        # A big frame is sampled (its first row among them), within a bounded cost.
        out = kernel.run("big.loc[0, 'k'] = -1").check()
        assert "'big' changed in place" in out.stdout
    kernel.run("%sqlrooms unshare sales\n%sqlrooms unshare fares\n%sqlrooms unshare big").check()


def test_gil_switch_interval_is_short_while_serving(kernel: RunningKernel) -> None:
    before = kernel.run("import sys; print(sys.getswitchinterval())").check().stdout.strip()
    kernel.start_server()
    during = kernel.run("print(sys.getswitchinterval())").check().stdout.strip()
    kernel.run("%sqlrooms stop").check()
    after = kernel.run("print(sys.getswitchinterval())").check().stdout.strip()
    assert float(during) == pytest.approx(GIL_SWITCH_INTERVAL) and GIL_SWITCH_INTERVAL < 0.001
    assert after == before == "0.005"
