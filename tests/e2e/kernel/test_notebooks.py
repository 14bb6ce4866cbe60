"""The notebooks in notebooks/ run top to bottom in a real kernel."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

from tests.support import ROOT

NOTEBOOKS = ROOT / "notebooks"


def outputs_text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.timeout(300)
def test_quickstart_runs_top_to_bottom(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    text = outputs_text(notebook)
    assert "SQLRooms server running at ws://127.0.0.1:" in text
    assert "Lima    10000000  17.50" in text  # the joined query, as a dataframe
    assert '"payload":{"op":"replace"}' in text
    assert '[{"n":6}]' in text
    assert "shared objects     trips" in text
    assert "SQLRooms server stopped." in text


def normal(name: str) -> str:
    """A distribution's name as pip compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lab_extra_brings_what_the_quickstart_imports() -> None:
    """`pip install '.[lab]'` and the quickstart runs: each module it imports comes from the
    package's dependencies or its `lab` extra (the standard library aside)."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["lab"]
    provided = {normal(re.split(r"[\[<>=!~ ]", r, maxsplit=1)[0]) for r in requirements}
    provided.add(normal(project["name"]))
    notebook = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    modules = set()
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        python = "\n".join(line for line in cell.source.splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(python)):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules.add(node.module.split(".")[0])
    distributions = importlib.metadata.packages_distributions()
    missing = {
        module
        for module in modules - set(sys.stdlib_module_names)
        if not {normal(d) for d in distributions.get(module, [module])} & provided
    }
    assert not missing, f"the quickstart imports {missing}, which [lab] does not install"
