"""Marks every test under e2e/ by what it starts, so `pytest -m "not e2e"` is the unit loop and
`-m "not browser"` leaves out the slow Chromium tests. The folder says it: `app/` drives the
standalone app in Chromium, `lab/` runs JupyterLab, `cluster/` PostgreSQL; a JupyterLab module
that also drives Chromium says so itself (`pytest.mark.browser`)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
FOLDER_MARKS = {
    "app": ("browser",),
    "lab": ("lab",),
    "cluster": ("cluster",),
    "benchmarks": ("benchmarks_smoke",),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(item.path)
        if not path.is_relative_to(HERE):
            continue
        item.add_marker(pytest.mark.e2e)
        for name in FOLDER_MARKS.get(path.relative_to(HERE).parts[0], ()):
            item.add_marker(name)
