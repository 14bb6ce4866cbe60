"""The report's rows: which number of which workload each shows, and its goal (ours against
the best peer of the round, against the floor, or an absolute bound)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Row:
    key: str
    field: str
    label: str
    nd: int = 2
    higher_is_better: bool = False
    goal: str = "—"
    # (ours/best-peer ratio, ours/floor ratio, ours value) -> met?
    met: Callable[[float | None, float | None, Any], bool | None] | None = None
    none: str = "—"


def _le(limit: float) -> Callable[[float | None], bool | None]:
    return lambda r: None if r is None else r <= limit


ROWS = [
    Row(
        "select1",
        "p50_ms",
        "`select 1` round trip p50 (ms)",
        3,
        goal="≤1.0x best peer",
        met=lambda p, f, o: _le(1.0)(p),
    ),
    Row(
        "select1",
        "p99_ms",
        "`select 1` round trip p99 (ms)",
        3,
        goal="≤1.0x best peer",
        met=lambda p, f, o: _le(1.0)(p),
    ),
    Row(
        "throughput",
        "qps",
        "8 sockets x 16 in flight, small aggregates over 1M rows (q/s)",
        0,
        True,
        "≥0.85x floor",
        lambda p, f, o: None if f is None else f >= 0.85,
    ),
    Row(
        "arrow10m",
        "last_byte_s",
        "10M rows x 5 cols as Arrow (352.9 MiB IPC): last byte (s)",
        2,
        goal="≤1.0x floor",
        met=lambda p, f, o: _le(1.0)(f),
        none="none in 180 s",
    ),
    Row(
        "arrow10m",
        "rss_delta_mib",
        "same: server peak RSS above baseline (MiB)",
        0,
        goal="≤1.0x best peer",
        met=lambda p, f, o: _le(1.0)(p),
    ),
    Row(
        "json200k",
        "last_byte_s",
        "200k rows x 5 cols as JSON: last byte (s)",
        3,
        goal="≤1.2x floor",
        met=lambda p, f, o: _le(1.2)(f),
    ),
    Row(
        "dashboard",
        "step_p50_ms",
        "dashboard: 8 aggregates per brush step, p50 (ms)",
        0,
        goal="≤1.15x floor, ≤1.0x best peer",
        met=lambda p, f, o: None if p is None or f is None else (f <= 1.15 and p <= 1.0),
    ),
    Row("dashboard", "total_s", "same: all steps (s)", 2),
    Row(
        "fairness",
        "b_max_ms",
        "B's slowest `select 1` during A's 2 MB `1+1+...` (ms)",
        1,
        goal="≤5 ms",
        met=lambda p, f, o: None if o is None else o <= 5,
        none="—",
    ),
    Row("fairness", "a_answer_s", "same: A's answer (an error: expression too deep) after (s)", 3),
    Row(
        "fairness_in",
        "b_max_ms",
        "B's slowest `select 1` during A's 2 MB `IN (1,1,...)` (ms)",
        1,
        goal="≤5 ms",
        met=lambda p, f, o: None if o is None else o <= 5,
    ),
    Row("fairness_in", "a_answer_s", "same: A's answer after (s)", 3),
    Row(
        "starvation",
        "same_socket_ms",
        "`select 1` while 2 long queries run, same socket (ms)",
        1,
        goal="≤20 ms",
        met=lambda p, f, o: o is not None and o <= 20,
        none="none within 5 s",
    ),
    Row(
        "starvation",
        "other_socket_ms",
        "same, another socket (ms)",
        1,
        goal="≤20 ms",
        met=lambda p, f, o: o is not None and o <= 20,
        none="none within 5 s",
    ),
    Row(
        "big_small",
        "lost",
        "20 small queries while 352.9 MiB is sent: lost (worst round)",
        0,
        goal="0",
        met=lambda p, f, o: o == 0,
    ),
    Row("big_small", "small_after_big_ms", "same: last small answer after the big one (ms)", 1),
    Row(
        "cancel_running",
        "terminal_p50_ms",
        "cancel a running query -> terminal reply (ms)",
        1,
        goal="≤50 ms",
        met=lambda p, f, o: o is not None and o <= 50,
        none="none within 5 s",
    ),
    Row(
        "cancel_queued",
        "terminal_p50_ms",
        "cancel a queued query -> terminal reply (ms)",
        1,
        goal="≤50 ms",
        met=lambda p, f, o: o is not None and o <= 50,
        none="none within 5 s",
    ),
    Row(
        "many_clients",
        "seconds",
        "500 clients x 1 query: all answered (s)",
        2,
        goal="≤1.0x best peer",
        met=lambda p, f, o: _le(1.0)(p),
    ),
    Row("many_clients", "failures", "same: failures", 0, goal="0", met=lambda p, f, o: o == 0),
]

JUPYTER_ROWS = [
    (
        "jupyter_select1",
        "p50_ms",
        "`select 1` p50 (ms)",
        3,
        "relay ≤ direct + 0.3 ms",
        lambda d, r: r - d <= 0.3,
    ),
    ("jupyter_select1", "p99_ms", "`select 1` p99 (ms)", 3, "—", None),
    (
        "jupyter_arrow10m",
        "last_byte_s",
        "10M rows as Arrow: last byte (s)",
        2,
        "relay ≤ 1.2x direct",
        lambda d, r: r <= 1.2 * d,
    ),
    (
        "jupyter_arrow10m",
        "jupyter_rss_delta_mib",
        "same: Jupyter server's peak RSS above idle (MiB)",
        0,
        "≤64 MiB relayed",
        lambda d, r: r <= 64,
    ),
    ("jupyter_dashboard", "step_p50_ms", "dashboard step p50 (ms)", 0, "—", None),
    ("busy_kernel", "p50_ms", "`select 1` p50 while a cell runs pure Python (ms)", 2, "—", None),
    (
        "busy_kernel",
        "p99_ms",
        "`select 1` p99 while a cell runs pure Python (ms)",
        2,
        "≤20 ms",
        lambda d, r: max(d, r) <= 20,
    ),
]
