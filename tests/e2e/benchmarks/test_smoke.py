"""Every benchmark script runs once in its smoke mode (`--smoke`: ours only, this
interpreter, tiny data, a few seconds), so that a refactor of the package or of
benchmarks/ cannot break a script silently. Numbers are not checked: only that the
script exits 0 and printed its result line.

The scripts mostly wait (for servers to start, for time-boxed runs to end), so they run
two at a time (BENCHMARKS_SMOKE_JOBS), each with its own work directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.lab_support import chromium_missing_reason

ROOT = Path(__file__).resolve().parents[3]
BENCHMARKS = ROOT / "benchmarks"

# script -> the line its smoke run prints when it worked; the slowest first
SMOKE = {
    "run.py": r"^smoke ok: run\.py, 18 workloads",
    "cluster.py": r"^notify on one replica \(for comparison\): median [\d.]+ ms",
    "app.py": r"^standalone first rows \(1,000 rows\): median \d+ ms",
    "diagnose/profile_relay.py": r"^relayed select1 x 1: [\d.]+ s",
    "diagnose/ab.py": r"^select1 p50_ms, median of 1: HEAD [\d.]+, ",
    "stress/fuzz_net.py": r"^RSS MiB: baseline \d+, .*crash: False; exit code after SIGTERM: 0",
    "stress/soak.py": r"^lost 0, duplicated 0, wrong 0",
    "stress/fuzz.py": r"^crash: False; exit code after SIGTERM: 0; hangs: 0",
    "stress/fuzz_attacks.py": r"^escapes: 0; temp/variable/seed leaks: 0; canary written: False",
    "diagnose/profile_ours.py": r"^select1: [\d.]+ s;",
    "export.py": r"^parquet +rows=10000 .* answer=\w+",
    "diagnose/select1_stages.py": r"^\| message in -> answer sent \| \d+ \| \d+ \|",
    "diagnose/wakeup.py": r"^process ping-pong, one CPU: p50 [\d.]+ µs",
}
# Started by run.py's smoke run (floors, make_db, echo_server); mosaic_server only in
# its own venv with Mosaic's server (benchmarks/setup.sh), so it is not run here.
RUN_BY_OTHERS = {"servers/floors.py", "servers/make_db.py", "servers/echo_server.py"}
NEEDS_ITS_VENV = {"servers/mosaic_server.py"}

pytestmark = [pytest.mark.benchmarks_smoke, pytest.mark.timeout(300)]


def test_every_script_has_a_smoke_run() -> None:
    scripts = {
        str(path.relative_to(BENCHMARKS))
        for path in BENCHMARKS.rglob("*.py")
        if ".venv" not in str(path) and '__name__ == "__main__"' in path.read_text()
    }
    assert scripts == set(SMOKE) | RUN_BY_OTHERS | NEEDS_ITS_VENV


def run_smoke(script: str, work: Path) -> subprocess.CompletedProcess[str]:
    if script == "app.py" and (missing := chromium_missing_reason()):
        return subprocess.CompletedProcess([], 0, f"smoke skipped: {missing}\n", "")
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "SQLROOMS_BENCH_WORK": str(work)}
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def smoke_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    """The selected scripts' smoke runs, started at once on a small pool."""
    selected = {
        item.callspec.params["script"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_smoke" and hasattr(item, "callspec")
    }
    pool = ThreadPoolExecutor(int(os.environ.get("BENCHMARKS_SMOKE_JOBS", "2")))
    runs = {
        script: pool.submit(run_smoke, script, tmp_path_factory.mktemp("bench"))
        for script in SMOKE
        if script in selected
    }
    yield runs
    pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("script", list(SMOKE))
def test_smoke(
    script: str, smoke_runs: dict[str, Future[subprocess.CompletedProcess[str]]]
) -> None:
    done = smoke_runs[script].result()
    out = done.stdout + done.stderr
    skipped = re.search(r"^smoke skipped: (.*)", done.stdout, re.M)
    if done.returncode == 0 and skipped:
        pytest.skip(skipped[1])
    assert done.returncode == 0, out[-4000:]
    assert re.search(SMOKE[script], done.stdout, re.M), out[-4000:]
