"""Every benchmark script runs once in its smoke mode (`--smoke`: ours only, this
interpreter, tiny data, a few seconds), so that a refactor of the package or of
benchmarks/ cannot break a script silently. Numbers are not checked: only that the
script exits 0 and printed its result line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .lab.lab_support import chromium_missing_reason

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"

# script -> the line its smoke run prints when it worked
SMOKE = {
    "run.py": r"^smoke ok: run\.py, 18 workloads",
    "app.py": r"^standalone first rows \(1,000 rows\): median \d+ ms",
    "export.py": r"^parquet +rows=10000 .* answer=\w+",
    "cluster.py": r"^notify on one replica \(for comparison\): median [\d.]+ ms",
    "diagnose/ab.py": r"^select1 p50_ms, median of 1: HEAD [\d.]+, ",
    "diagnose/profile_ours.py": r"^select1: [\d.]+ s;",
    "diagnose/profile_relay.py": r"^relayed select1 x 1: [\d.]+ s",
    "diagnose/select1_stages.py": r"^\| message in -> answer sent \| \d+ \| \d+ \|",
    "diagnose/wakeup.py": r"^process ping-pong, one CPU: p50 [\d.]+ µs",
    "stress/fuzz.py": r"^crash: False; exit code after SIGTERM: 0; hangs: 0",
    "stress/fuzz_attacks.py": r"^escapes: 0; temp/variable/seed leaks: 0; canary written: False",
    "stress/fuzz_net.py": r"^RSS MiB: baseline \d+, .*crash: False; exit code after SIGTERM: 0",
    "stress/soak.py": r"^lost 0, duplicated 0, wrong 0",
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


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_smoke(script: str) -> None:
    if script == "app.py" and (missing := chromium_missing_reason()):
        pytest.skip(missing)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = done.stdout + done.stderr
    if done.returncode == 0 and re.search(r"^smoke skipped: .*", done.stdout, re.M):
        pytest.skip(re.search(r"^smoke skipped: (.*)", done.stdout, re.M)[1])  # type: ignore[index]
    assert done.returncode == 0, out[-4000:]
    assert re.search(SMOKE[script], done.stdout, re.M), out[-4000:]
