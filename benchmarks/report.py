"""The report: medians, per-round ratios, the Markdown tables, and RESULTS.md (the latest
run plus one history row per run)."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.goals import JUPYTER_ROWS, ROWS
from benchmarks.peers import PEERS, VERSIONS


@dataclass
class Results:
    runs: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    load: dict[str, str] = field(default_factory=dict)  # workload -> load average at its start

    def add(self, key: str, who: str, value: dict[str, Any]) -> None:
        self.runs.setdefault(key, {}).setdefault(who, []).append(value)


def good(runs: list[dict[str, Any]], key: str) -> list[Any]:
    return [r.get(key) for r in runs if "error" not in r]


def med(runs: list[dict[str, Any]], key: str) -> Any:
    """Median over rounds; None when any round had no value (e.g. no answer in time)."""
    values = good(runs, key)
    if not values or any(v is None for v in values):
        return None
    return statistics.median(values)


def show(v: Any, nd: int = 2, none: str = "—") -> str:
    if v is None:
        return none
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "yes" if v else "no"
    return f"{v:,.{nd}f}"


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def round_ratios(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> list[float]:
    """a/b per round, pairing round i of a with round i of b (both measured side by side)."""
    out = []
    for ra, rb in zip(a, b, strict=False):
        va, vb = ra.get(key), rb.get(key)
        if "error" not in ra and "error" not in rb and is_number(va) and is_number(vb) and vb:
            out.append(va / vb)
    return out


def spread(ratios: list[float]) -> str:
    if not ratios:
        return "—"
    if len(ratios) == 1:
        return f"{ratios[0]:.2f}x"
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def yesno(met: bool | None) -> str:
    return "—" if met is None else ("yes" if met else "**no**")


def render(info: dict[str, str], results: Results, rounds: int) -> str:
    runs = results.runs

    def get(key: str, who: str) -> list[dict[str, Any]]:
        return runs.get(key, {}).get(who, [])

    head = [
        "workload",
        VERSIONS["published"],
        f"Mosaic {VERSIONS['mosaic']}",
        "ours",
        "floor",
        "ours / best peer, median (min-max of rounds)",
        "ours / floor",
        "goal",
        "met?",
        "server CPU s (pub / mosaic / ours)",
        "load at start",
    ]
    lines = [
        f"## Run of {info['date']}",
        "",
        f"- machine: {info['nproc']} CPUs, {info['cpu']}, Linux {info['kernel']}, "
        f"Python {info['python']}",
        f"- ours: {info['ours']}",
        f"- published: {info['published']}",
        f"- Mosaic: {info['mosaic']}",
        f"- command: `{info['command']}` ({rounds} rounds, interleaved, medians; "
        f"took {info['elapsed']})",
        f"- load average (1/5/15 min): start {info['load_start']}, end {info['load_end']}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for row in ROWS:
        if row.key not in runs:
            continue
        by = {w: get(row.key, w) for w in (*PEERS, "ours", "floor")}
        values = {w: med(rs, row.field) for w, rs in by.items()}
        if row.field == "lost":  # the worst round, not the median
            values = {w: max(good(rs, "lost"), default=None) for w, rs in by.items()}
        if row.key == "select1":  # floor = in-process query + bare Tornado echo round trip
            echo = med(get("select1", "echo"), row.field)
            fl = values["floor"]
            values["floor"] = None if fl is None or echo is None else fl + echo
        # Per round, ours against the better of the peers in that round.
        peer_ratios = []
        for i, ours_run in enumerate(by["ours"]):
            peer_values = [
                by[p][i].get(row.field)
                for p in PEERS
                if i < len(by[p]) and "error" not in by[p][i] and is_number(by[p][i].get(row.field))
            ]
            o = ours_run.get(row.field)
            if peer_values and is_number(o) and "error" not in ours_run:
                best = max(peer_values) if row.higher_is_better else min(peer_values)
                if best:
                    peer_ratios.append(o / best)
        if row.key == "select1":
            floor_runs = [
                {row.field: f.get(row.field, 0) + e.get(row.field, 0)}
                for f, e in zip(by["floor"], get("select1", "echo"), strict=False)
                if "error" not in f and "error" not in e
            ]
            floor_ratios = round_ratios(by["ours"], floor_runs, row.field)
        else:
            floor_ratios = round_ratios(by["ours"], by["floor"], row.field)
        p = statistics.median(peer_ratios) if peer_ratios else None
        f = statistics.median(floor_ratios) if floor_ratios else None
        met = row.met(p, f, values["ours"]) if row.met else None
        cpu = " / ".join(show(med(by[w], "server_cpu_s")) for w in (*PEERS, "ours"))
        shown = [show(values[w], row.nd, row.none) if by[w] else "n/a" for w in (*PEERS, "ours")]
        lines.append(
            "| "
            + " | ".join(
                [
                    row.label,
                    *shown,
                    show(values["floor"], row.nd),
                    spread(peer_ratios),
                    spread(floor_ratios),
                    row.goal,
                    yesno(met),
                    cpu,
                    results.load.get(row.key, "?").split()[0],
                ]
            )
            + " |"
        )
    if any(key in runs for key, *_ in JUPYTER_ROWS):
        lines += [
            "",
            "Through Jupyter: the same kernel's server, on its own port (direct) and through "
            "the Jupyter server's relay `{base_url}sqlrooms/kernels/<id>/ws`; one Jupyter server "
            "and kernel per round, direct and relay alternating.",
            "",
            "| workload | direct | relay | relay / direct, median (min-max) | relay - direct "
            "| goal | met? | load at start |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key, fld, label, nd, goal, check in JUPYTER_ROWS:
            if key not in runs:
                continue
            d, r = med(get(key, "direct"), fld), med(get(key, "relay"), fld)
            ratios = round_ratios(get(key, "relay"), get(key, "direct"), fld)
            diff = None if d is None or r is None else r - d
            met = None if check is None or d is None or r is None else check(d, r)
            lines.append(
                f"| {label} | {show(d, nd)} | {show(r, nd)} | {spread(ratios)} | "
                f"{show(diff, nd)} | {goal} | {yesno(met)} | "
                f"{results.load.get(key, '?').split()[0]} |"
            )
    lines += ["", *notes(runs)]
    return "\n".join(lines) + "\n"


def notes(runs: dict[str, dict[str, list[dict[str, Any]]]]) -> list[str]:
    out = ["Details (medians over rounds unless said otherwise):", ""]

    def g(key: str, who: str) -> list[dict[str, Any]]:
        return [r for r in runs.get(key, {}).get(who, []) if "error" not in r]

    def ms(rs: list[dict[str, Any]], field: str, nd: int = 3) -> str:
        return show(med(rs, field), nd) + " ms"

    if "select1" in runs:
        out.append(
            "- select 1 floor = in-process DuckDB `select 1` -> Arrow IPC "
            f"({ms(g('select1', 'floor'), 'p50_ms')} p50) + a bare Tornado WebSocket "
            f"echo through the same client ({ms(g('select1', 'echo'), 'p50_ms')} p50, "
            f"p99 {ms(g('select1', 'echo'), 'p99_ms')})."
        )
    if "throughput" in runs:
        threads = sorted({r.get("threads") for r in g("throughput", "floor")})
        bad = {
            who: sum(r.get("lost", 0) + r.get("bad", 0) for r in g("throughput", who))
            for who in (*PEERS, "ours")
        }
        out.append(
            "- throughput floor: in-process, N threads each with its own cursor, query -> Arrow "
            f"IPC, best of 2 and 8 threads (best: {threads}). Lost or bad answers: {bad}."
        )
    if "dashboard" in runs:
        out.append(
            "- dashboard floor: in-process, the same 8 queries per step on 8 threads, each with "
            "its own cursor, query -> Arrow IPC. Slowest step (ms): "
            + ", ".join(
                f"{who} {show(med(g('dashboard', who), 'step_max_ms'), 0)}"
                for who in (*PEERS, "ours", "floor")
            )
            + ". Bad answers: "
            + str({who: sum(r.get("bad", 0) for r in g("dashboard", who)) for who in PEERS})
            + f", ours {sum(r.get('bad', 0) for r in g('dashboard', 'ours'))}."
        )
    for key in ("fairness", "fairness_in"):
        if key in runs:
            parts = []
            for who in (*PEERS, "ours"):
                rs = g(key, who)
                parts.append(
                    f"{who}: B idle p50 {ms(rs, 'b_idle_p50_ms')}, during A p50 "
                    f"{ms(rs, 'b_p50_ms')} over {[r.get('b_queries') for r in rs]} queries, "
                    f"A's answer {sorted({str(r.get('a_answer_type')) for r in rs})}"
                )
            out.append(f"- {key}: " + "; ".join(parts) + ".")
    if "arrow10m" in runs:
        for who in (*PEERS, "ours"):
            rs = g("arrow10m", who)
            out.append(
                f"- 10M Arrow, {who}: first byte after {show(med(rs, 'first_byte_s'))} s, "
                f"message {show(med(rs, 'message_bytes'), 0)} bytes, every round ended with the "
                f"IPC end-of-stream marker: {all(r.get('complete') for r in rs)}."
            )
    keep = ("rows", "columns", "id_sum_ok", "exact_doubles", "error", "message_bytes")
    for key in ("verify_arrow10m", "verify_json200k"):
        for who in (*PEERS, "ours"):
            for r in runs.get(key, {}).get(who, []):
                shown = {k: v for k, v in r.items() if k in keep}
                out.append(f"- verification, {key[7:]} {who}: {shown}")
    if "json200k" in runs:
        fl = g("json200k", "floor")
        if fl:
            out.append(
                f"- JSON floor: fastest exact in-process method of {list(fl[0]['all_s'])}: "
                f"{sorted({r['method'] for r in fl})}."
            )
    if "big_small" in runs:
        for who in (*PEERS, "ours"):
            rs = g("big_small", who)
            out.append(
                f"- big+small {who}: lost per round {[r.get('lost') for r in rs]}, wrong "
                f"{[r.get('wrong') for r in rs]}, big intact "
                f"{[r.get('big_complete') for r in rs]}, small answers p50 "
                f"{ms(rs, 'small_p50_ms', 1)} after sending."
            )
    for key in ("cancel_running", "cancel_queued"):
        for who in (*PEERS, "ours"):
            rs = g(key, who)
            if rs:
                types = sorted({t for r in rs for t in r.get("terminal_types", [])})
                out.append(
                    f"- {key} {who}: terminal answers {types}, cancelAck "
                    f"{ms(rs, 'ack_p50_ms', 1)}, said cancelled: "
                    f"{all(r.get('acked_cancelled') for r in rs)}."
                )
    if "many_clients" in runs:
        for who in (*PEERS, "ours"):
            rs = g("many_clients", who)
            out.append(
                f"- 500 clients {who}: per-client p50 {ms(rs, 'p50_ms', 1)}, slowest "
                f"{ms(rs, 'max_ms', 1)}, errors per round {[r.get('errors') for r in rs]}."
            )
    for key, metric in (
        ("select1", "p50_ms"),
        ("select1", "p99_ms"),
        ("throughput", "qps"),
        ("arrow10m", "last_byte_s"),
        ("arrow10m", "rss_delta_mib"),
        ("json200k", "last_byte_s"),
        ("dashboard", "step_p50_ms"),
        ("fairness", "b_max_ms"),
        ("fairness_in", "b_max_ms"),
        ("many_clients", "seconds"),
        ("jupyter_select1", "p50_ms"),
        ("jupyter_arrow10m", "last_byte_s"),
        ("jupyter_arrow10m", "jupyter_rss_delta_mib"),
        ("jupyter_dashboard", "step_p50_ms"),
        ("busy_kernel", "p99_ms"),
    ):
        if key in runs:
            per_round = {
                who: [None if r.get(metric) is None else round(r[metric], 3) for r in rs]
                for who, rs in runs[key].items()
                if any(metric in r for r in rs)
            }
            out.append(f"- per round, {key} {metric}: {per_round}")
    other = {
        key: round(sum(r.get("other_cpu_s", 0) for rs in by.values() for r in rs), 2)
        for key, by in runs.items()
        if not key.startswith("verify")
    }
    out.append(
        "- CPU seconds used by other processes on the machine during the measured parts "
        f"(summed over rounds and servers; disturbance indicator): {other}."
    )
    errors = [
        f"{key}/{who}: {r['error']}"
        for key, by in runs.items()
        for who, rs in by.items()
        for r in rs
        if "error" in r
    ]
    if errors:
        out += ["", "Errors:", *[f"- {e}" for e in errors]]
    return out


# -- RESULTS.md: the latest run, and one history row per run ---------------------

HISTORY_HEAD = (
    "| date | commit | `select 1` p50 ms (ours / published / Mosaic) | throughput q/s "
    "(ours / floor) | 10M Arrow last byte s (ours / floor) | JSON 200k s (ours) "
    "| dashboard step p50 ms (ours / best peer) | 500 clients s (ours) | relay `select 1` "
    "p50 ms (direct / relay) |"
)
LATEST = "## Latest run"


def history_row(info: dict[str, str], results: Results) -> str:
    """This run's headline numbers, one row of RESULTS.md's history table."""

    def m(key: str, who: str, fld: str, nd: int) -> str:
        return show(med(results.runs.get(key, {}).get(who, []), fld), nd)

    def peer_best(key: str, fld: str, nd: int) -> str:
        values = [med(results.runs.get(key, {}).get(p, []), fld) for p in PEERS]
        numbers = [v for v in values if is_number(v)]
        return show(min(numbers) if numbers else None, nd)

    cells = [
        info["date"].split()[0],
        info.get("commit", "?"),
        " / ".join(m("select1", w, "p50_ms", 3) for w in ("ours", *PEERS)),
        f"{m('throughput', 'ours', 'qps', 0)} / {m('throughput', 'floor', 'qps', 0)}",
        f"{m('arrow10m', 'ours', 'last_byte_s', 2)} / {m('arrow10m', 'floor', 'last_byte_s', 2)}",
        m("json200k", "ours", "last_byte_s", 3),
        f"{m('dashboard', 'ours', 'step_p50_ms', 0)} / {peer_best('dashboard', 'step_p50_ms', 0)}",
        m("many_clients", "ours", "seconds", 2),
        f"{m('jupyter_select1', 'direct', 'p50_ms', 3)} / "
        f"{m('jupyter_select1', 'relay', 'p50_ms', 3)}",
    ]
    return "| " + " | ".join(cells) + " |"


def write_results(path: Path, report: str, row: str) -> None:
    """Replace the latest run in `path` with `report` and add `row` to its history table;
    the run it replaces stays in git history."""
    text = path.read_text() if path.exists() else ""
    head, _, _ = text.partition(LATEST)
    if HISTORY_HEAD not in head:
        head = head.rstrip("\n") + f"\n\n## History\n\n{HISTORY_HEAD}\n|{'---|' * 9}\n\n"
    # The table ends at the first line after its head that is not a table row.
    lines = head.split("\n")
    at = lines.index(HISTORY_HEAD) + 2
    while at < len(lines) and lines[at].startswith("|"):
        at += 1
    lines.insert(at, row)
    body = re.sub(r"^## Run of ", "Run of ", report, count=1)
    path.write_text("\n".join(lines).rstrip("\n") + f"\n\n{LATEST}\n\n{body}")
