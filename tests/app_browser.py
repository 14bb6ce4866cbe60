"""What every browser test of the standalone app needs: skipped without Debian's chromium
or a built app, and a timeout that leaves room for two busy cores."""

from __future__ import annotations

import pytest

from sqlrooms_jupyter.web import static_app

from .lab_support import chromium_missing_reason

_missing = chromium_missing_reason() or (
    None if static_app.is_built() else "the app is not built (pip install -e .)"
)
APP_BROWSER_MARKS = [
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    pytest.mark.timeout(180),
]
