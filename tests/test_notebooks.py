"""The notebooks in notebooks/ run top to bottom in a real kernel."""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


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
