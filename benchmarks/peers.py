"""The servers: how each one (ours, the published sqlrooms-server 0.1.2, Mosaic's
duckdb-server 0.31.0, the bare echo server) is started and stopped, their venvs, their
data files and the in-process floors, each run in a fresh process."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.procs import free_port, proc_cpu
from benchmarks.wsclient import WsClient

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# Data files, logs, raw results; the smoke test gives each script its own.
WORK = Path(os.environ.get("SQLROOMS_BENCH_WORK") or HERE / ".work")
SMOKE_WORK = WORK / "smoke"
SERVERS = HERE / "servers"
VENVS = {name: HERE / f".venv-{name}" for name in ("ours", "published", "mosaic")}
PYTHON = {name: str(venv / "bin" / "python") for name, venv in VENVS.items()}
VERSIONS = {"published": "sqlrooms-server 0.1.2", "mosaic": "duckdb-server 0.31.0"}
PEERS = ("published", "mosaic")
BIG_ROWS = 10_000_000  # the data files' `big` table; `t1m` holds its first tenth
SMOKE_ROWS = 200_000  # --smoke: still every row the JSON workload asks for


def missing_peers() -> list[str]:
    """Peers whose venv is absent (e.g. in CI): a smoke run skips them."""
    return [name for name in PEERS if not Path(PYTHON[name]).exists()]


@dataclass
class Target:
    name: str  # published | mosaic | ours | echo
    db: Path | None
    log: Path
    extra: tuple[str, ...] = ()
    tree: Path = REPO  # ours: the checkout whose package `-m` imports (ab.py runs others)
    python: str = ""  # ours and echo: this interpreter instead of .venv-ours (--smoke)
    keep: bool = False  # --smoke: one server for every run with the same options
    proc: subprocess.Popen | None = None
    port: int = 0

    @property
    def ours_python(self) -> str:
        return self.python or PYTHON["ours"]

    @property
    def client_options(self) -> dict[str, Any]:
        return {"ordered": True} if self.name == "mosaic" else {}

    def argv(self, port: int) -> list[str]:
        if self.name == "published":
            return [
                str(VENVS["published"] / "bin" / "sqlrooms-server"),
                "--db-path",
                str(self.db),
                "--port",
                str(port),
                "--extensions",
                ",",  # an empty list: no httpfs download attempt (offline)
            ]
        if self.name == "mosaic":
            return [PYTHON["mosaic"], str(SERVERS / "mosaic_server.py"), str(port), str(self.db)]
        if self.name == "ours":
            return [
                self.ours_python,
                "-m",
                "sqlrooms_jupyter",
                "--db-path",
                str(self.db),
                "--port",
                str(port),
                "--extensions",
                "",
                *self.extra,
            ]
        return [self.ours_python, str(SERVERS / "echo_server.py"), str(port)]

    def start(self) -> None:
        self.port = free_port()
        env = dict(os.environ)
        if self.name == "mosaic":  # its diskcache directory (tempfile.mkdtemp)
            tmp = WORK / "mosaic-tmp"
            tmp.mkdir(exist_ok=True)
            env["TMPDIR"] = str(tmp)
        with open(self.log, "ab") as log:
            log.write(f"\n==== {time.ctime()} {self.argv(self.port)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(self.port),
                cwd=self.tree,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        asyncio.run(self._wait_ready())

    async def _wait_ready(self, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log}")
            try:
                c = await asyncio.wait_for(
                    WsClient.connect("127.0.0.1", self.port, **self.client_options), 2
                )
                msg = await asyncio.wait_for(c.query("arrow", "select 1", "ready"), 5)
                c.close()
                if msg.type == "arrow" or self.name == "echo":
                    return
            except (OSError, asyncio.TimeoutError, Exception):
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {limit} s; see {self.log}")

    def begin(self, extra: tuple[str, ...] = ()) -> None:
        """Start a server for one run: a fresh one, unless `keep` and it runs with `extra`."""
        running = self.proc is not None and self.proc.poll() is None
        if self.keep and running and self.extra == extra:
            return
        self.stop()
        self.extra = extra
        self.start()

    def end(self) -> None:
        if not self.keep:
            self.stop()

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid) if self.proc else float("nan")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# -- setup --------------------------------------------------------------------


def ensure_venvs() -> None:
    if not all(Path(py).exists() for py in PYTHON.values()):
        print("creating the benchmark venvs (benchmarks/setup.sh)", flush=True)
        subprocess.run(["bash", str(HERE / "setup.sh")], check=True)


def venv_duckdb(name: str) -> str:
    out = subprocess.run(
        [PYTHON[name], "-c", "import duckdb; print(duckdb.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def ensure_db(python: str, path: Path, rows: int = BIG_ROWS) -> None:
    """Build the data file with `python`'s DuckDB unless a valid one exists."""
    check = (
        "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True); "
        f"assert c.execute('select count(*) from big').fetchall()[0][0]=={rows}; "
        f"assert c.execute('select count(*) from t1m').fetchall()[0][0]=={rows // 10}"
    )
    if path.exists():
        ok = subprocess.run([python, "-c", check, str(path)], capture_output=True)
        if ok.returncode == 0:
            return
        path.unlink()
    make = [python, str(SERVERS / "make_db.py"), str(path), "--rows", str(rows)]
    subprocess.run(make, check=True)


def floor(workload: str, db: Path, python: str = "", **kw: Any) -> dict[str, Any]:
    argv = [python or PYTHON["ours"], str(SERVERS / "floors.py"), workload, "--db", str(db)]
    for k, v in kw.items():
        argv += [f"--{k}", str(v)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"floor {workload} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine(ours_python: str = "", peers: tuple[str, ...] = PEERS) -> dict[str, str]:
    """The machine and every server's versions, for the report's head."""
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = subprocess.run(
        [
            ours_python or PYTHON["ours"],
            "-c",
            "import duckdb, pyarrow, tornado, jupyter_server; print(duckdb.__version__, "
            "pyarrow.__version__, tornado.version, jupyter_server.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    git = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--", "sqlrooms_jupyter"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {
        "commit": git + ("+" if dirty else ""),
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "ours": f"sqlrooms_jupyter @ {git}{' + uncommitted changes' if dirty else ''}, "
        f"DuckDB {versions[0]}, pyarrow {versions[1]}, Tornado {versions[2]}, "
        f"jupyter_server {versions[3]}",
        **{
            name: f"{VERSIONS[name]}, DuckDB {venv_duckdb(name)} (socketify)"
            if name in peers
            else "not run"
            for name in PEERS
        },
    }
