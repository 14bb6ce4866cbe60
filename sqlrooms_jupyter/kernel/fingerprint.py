"""A cheap fingerprint of a shared dataframe, to notice a cell changing it in place.

`df.loc[0, "x"] = …` or `df["y"] = …` leaves the same object bound, so only its contents can
tell. The cost is bounded: up to `CELL_BUDGET` values are hashed (every row of a small frame;
evenly spaced rows, the first and last among them, of a big one), so a change to an unsampled
row of a big frame that keeps its shape, columns and types goes unseen.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
from typing import Any

CELL_BUDGET = 100_000


def sampled_rows(rows: int, columns: int) -> Any:
    """Row positions to hash: all of them, or evenly spaced ones within the budget."""
    import numpy as np

    wanted = max(2, CELL_BUDGET // max(columns, 1))
    if rows <= wanted:
        return np.arange(rows)
    return np.unique(np.linspace(0, rows - 1, wanted).astype(np.int64))


def is_sampled(obj: object) -> bool:
    """Whether `fingerprint` hashes only some rows of this frame."""
    shape = getattr(obj, "shape", None) if fingerprint(obj) is not None else None
    return shape is not None and shape[0] * max(shape[1], 1) > CELL_BUDGET


def fingerprint(obj: object) -> Hashable | None:
    """What changes when a pandas or polars frame is changed in place; None for objects that
    cannot be (Arrow tables, relations) or that are not loaded here."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(obj, pandas.DataFrame):
        return _pandas(pandas, obj)
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(obj, polars.DataFrame):
        return _polars(obj)
    return None


def _pandas(pandas: Any, frame: Any) -> Hashable:
    shape = (frame.shape, tuple(map(str, frame.columns)), tuple(map(str, frame.dtypes)))
    try:
        sample = frame.iloc[sampled_rows(len(frame), frame.shape[1])]
        contents = int(pandas.util.hash_pandas_object(sample, index=True).sum())
    except (TypeError, ValueError):  # unhashable cells (lists, dicts): the shape only
        contents = 0
    return (shape, contents)


def _polars(frame: Any) -> Hashable:
    shape = (frame.shape, tuple(frame.columns), tuple(map(str, frame.dtypes)))
    try:
        contents = int(frame[sampled_rows(frame.height, frame.width)].hash_rows().sum())
    except Exception:  # polars raises its own errors for types it cannot hash
        contents = 0
    return (shape, contents)
