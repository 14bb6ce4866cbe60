"""Scale-out test services: a real PostgreSQL on a free loopback port, the second venv
(DuckDB 1.5.5 with the `[lake]` extra) the replicas run in, and an S3 server (moto)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from .polling import wait_until
from .support import ServerProcess, free_port, http_get

ROOT = Path(__file__).resolve().parent.parent
LAKE_VENV = ROOT / ".venv-lake"


def postgres_bin() -> Path | None:
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(initdb).parent
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def lake_python() -> str:
    """The second venv's python; made here unless `.ci/run` made it (pip's cache makes it quick)."""
    python = LAKE_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LAKE_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-e",
                f"{ROOT}[lake]",
                "moto[server]>=5,<6",
            ],
            check=True,
            timeout=1200,
        )
    return str(python)


class Postgres:
    """`initdb` + `pg_ctl` in a temporary directory, as `nobody` when we are root
    (PostgreSQL refuses to run as root)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.dir = Path(tempfile.mkdtemp(prefix="sqlrooms-pg-"))
        self.user = "nobody" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, self.user)
        self.port = free_port()
        self._run(
            "initdb",
            "-D",
            str(self.dir / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.dir / "data"),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def sql(self, statement: str) -> str:
        command = [
            str(self.bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-Atc",
            statement,
        ]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    def close(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def lake_init_sql(dsn: str, data_path: str, *, secret: str = "") -> str:
    return (
        "LOAD ducklake;\nLOAD postgres;\nLOAD httpfs;\n"
        f"{secret}"
        f"ATTACH 'ducklake:postgres:{dsn}' AS lake (DATA_PATH '{data_path}');\n"
        "USE lake;\n"
    )


class Replicas:
    """Replicas of one lake and one cluster, each a `sqlrooms-server` process."""

    def __init__(self, workdir: Path, python: str, init_sql: str, cluster_url: str) -> None:
        self.workdir = workdir
        self.python = python
        self.init_file = workdir / f"init-{free_port()}.sql"
        self.init_file.write_text(init_sql)
        self.cluster_url = cluster_url
        self.servers: list[ServerProcess] = []

    def start(self) -> ServerProcess:
        server = self._process(port=None)
        self.servers.append(server)
        return server

    def restart(self, index: int) -> ServerProcess:
        """A new process for replica `index`, on its port, once the old one is gone."""
        old = self.servers[index]
        old.stop()
        self.servers[index] = self._process(port=old.port)
        return self.servers[index]

    def _process(self, port: int | None) -> ServerProcess:
        return ServerProcess(
            "--init-sql",
            str(self.init_file),
            "--cluster",
            self.cluster_url,
            "--sync",
            "--save-debounce-ms",
            "200",
            cwd=self.workdir,
            python=self.python,
            port=port,
        )

    def close(self) -> None:
        for server in self.servers:
            server.stop()


def readyz(server: ServerProcess) -> int:
    try:
        return http_get(server.http + "/readyz")[0]
    except OSError:
        return 0


class MotoServer:
    """An S3-compatible server on loopback (moto, from the second venv)."""

    def __init__(self, python: str, workdir: Path) -> None:
        self.port = free_port()
        moto = Path(python).parent / "moto_server"
        self._log = open(workdir / "moto.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.endpoint = f"http://127.0.0.1:{self.port}"
        wait_until(self._up, "the replicas to answer", timeout=60, interval=0.05)

    def _up(self) -> bool:
        try:
            return http_get(self.endpoint + "/")[0] == 200
        except OSError:
            return False

    def create_bucket(self, name: str) -> None:
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
        self._log.close()


def require_postgres() -> Path:
    found = postgres_bin()
    if found is None:
        pytest.skip("PostgreSQL binaries absent (.ci/run installs Debian's postgresql)")
    return found
