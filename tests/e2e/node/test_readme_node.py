"""The Node snippet for the official JS client (docs/js-clients.md), run as written against a
real server.

The files are taken from the page itself (the fenced blocks after `<!-- node-client: NAME -->`),
so the documentation and this test cannot drift apart.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import ROOT, ServerProcess

PAGE = ROOT / "docs" / "js-clients.md"
BLOCK = re.compile(r"<!-- node-client: (\S+) -->\n```\w*\n(.*?)\n```", re.S)
TOKEN = "readme-node-token"


def page_blocks() -> dict[str, str]:
    return {name: text + "\n" for name, text in BLOCK.findall(PAGE.read_text())}


def test_the_page_has_the_node_snippet() -> None:
    blocks = page_blocks()
    assert set(blocks) == {"package.json", "query.mjs", "output"}
    assert "createWebSocketDuckDbConnector" in blocks["query.mjs"]


def test_the_node_snippet_works_as_written(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are required (not found on PATH)")
    blocks = page_blocks()
    project = tmp_path / "node-client"
    project.mkdir()
    for name in ("package.json", "query.mjs"):
        (project / name).write_text(blocks[name])
    install = subprocess.run(
        [npm, "install", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, f"npm install failed:\n{install.stdout}\n{install.stderr}"
    server = start_server("--auth-token", TOKEN)
    run = subprocess.run(
        [node, "query.mjs"],
        cwd=project,
        env={"PATH": "/usr/bin:/bin", "SQLROOMS_WS_URL": f"{server.url}?token={TOKEN}"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, f"node failed:\n{run.stdout}\n{run.stderr}\n{server.log()[-2000:]}"
    assert run.stdout == blocks["output"]
