"""The prebuilt JupyterLab extension is installed with the package and JupyterLab accepts it."""

from __future__ import annotations

import json
import re

import pytest

from tests.lab_support import LABEXTENSION_NAME, installed_labextension, labextension_list

pytestmark = pytest.mark.skipif(
    installed_labextension() is None,
    reason="the JupyterLab extension is not installed: pip install -e . (needs node and npm)",
)


def test_jupyterlab_lists_the_extension_enabled_and_ok() -> None:
    listing = labextension_list()
    line = next((ln for ln in listing.splitlines() if LABEXTENSION_NAME in ln), None)
    assert line is not None, listing
    plain = re.sub(r"\x1b\[[0-9;]*m", "", line)
    assert re.search(rf"{LABEXTENSION_NAME} v\S+ enabled OK \(python, sqlrooms-jupyter\)", plain)


def test_the_installed_build_names_its_entry_point_and_pip_as_its_installer() -> None:
    directory = installed_labextension()
    assert directory is not None
    build = json.loads((directory / "package.json").read_text())["jupyterlab"]["_build"]
    assert (directory / build["load"]).is_file()
    install = json.loads((directory / "install.json").read_text())
    assert install["packageManager"] == "python"
    assert install["packageName"] == "sqlrooms-jupyter"
