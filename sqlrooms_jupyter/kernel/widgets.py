"""What `%sqlrooms status|queries|subscriptions|rooms` show.

Each view turns the server's state into a table. In a notebook it is an
ipywidgets panel that refreshes itself; in a terminal, plain text.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .server import KernelServer

REFRESH_SECONDS = 1.0


@dataclass
class Table:
    title: str
    columns: list[str] | None  # None: rows of (name, value) without a header
    rows: list[list[Any]] = field(default_factory=list)
    empty: str = "(none)"

    def text(self) -> str:
        lines = [self.title]
        if not self.rows:
            return "\n".join([*lines, f"  {self.empty}"])
        cells = [[_cell(value) for value in row] for row in self.rows]
        if self.columns:
            cells.insert(0, self.columns)
        widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        for n, row in enumerate(cells):
            padded = (c.ljust(w) for c, w in zip(row, widths, strict=True))
            lines.append(("  " + "  ".join(padded)).rstrip())
            if n == 0 and self.columns:
                lines.append("  " + "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def html(self) -> str:
        title = f"<b>{html.escape(self.title)}</b>"
        if not self.rows:
            return f"{title}<div><i>{html.escape(self.empty)}</i></div>"
        columns = self.columns or []
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
            for row in self.rows
        )
        return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _clock(epoch: float | None) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch)) if epoch else "-"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def status_tables(server: KernelServer) -> list[Table]:
    status = server.status()
    cache = status.get("cache") or {}
    facts = [
        ["url", status["url"]],
        ["kernel", status.get("kernel_id")],
        ["started", _clock(status.get("started_at"))],
        ["uptime (s)", status.get("uptime_seconds")],
        ["database", status["database"]],
        ["token required", "yes" if status["auth"] else "no"],
        ["sync (CRDT rooms)", "on" if status["sync"] else "off"],
        ["connections", status["connections"]],
        ["in-flight queries", len(status["queries"])],
        ["shared objects", ", ".join(status.get("shared", [])) or "-"],
        ["result cache", f"{cache.get('entries', 0)} entries, {_size(cache.get('bytes'))}"],
    ]
    facts += [["warning", warning] for warning in status.get("warnings", [])]
    return [Table("SQLRooms server", None, facts), _queries_table(status["queries"])]


def _queries_table(queries: list[dict[str, Any]]) -> Table:
    rows = [
        [
            q["queryId"],
            q["type"],
            q["age_seconds"],
            "running" if q["running"] else "queued",
            q["sql"],
        ]
        for q in queries
    ]
    return Table("In-flight queries", ["queryId", "type", "age (s)", "state", "sql"], rows)


def queries_tables(server: KernelServer) -> list[Table]:
    return [_queries_table(server.status()["queries"])]


def subscriptions_tables(server: KernelServer) -> list[Table]:
    rows = [[channel, count] for channel, count in server.subscriptions().items()]
    return [Table("Subscriptions", ["channel", "subscribers"], rows)]


def rooms_tables(server: KernelServer) -> list[Table]:
    rooms = server.rooms()
    if rooms is None:
        return [Table("CRDT rooms", None, empty="sync is off: start with --sync to host rooms")]
    rows = [
        [
            r["roomId"],
            r["members"],
            _size(r["snapshot_bytes"]),
            r["pending_updates"],
            r["last_saved"],
        ]
        for r in rooms
    ]
    columns = ["room", "members", "snapshot", "pending updates", "last saved"]
    return [Table("CRDT rooms", columns, rows)]


View = Callable[[KernelServer], list[Table]]


def render_text(tables: list[Table]) -> str:
    return "\n\n".join(table.text() for table in tables)


def render_html(tables: list[Table]) -> str:
    style = "font-family: var(--jp-code-font-family, monospace); font-size: 12px"
    return f"<div style='{style}'>" + "<br>".join(t.html() for t in tables) + "</div>"


def show(server: KernelServer, view: View) -> None:
    """A live panel in a notebook, plain text elsewhere (terminal IPython, scripts)."""
    if in_notebook():
        from IPython.display import display

        display(live_panel(server, view))  # type: ignore[no-untyped-call]  # IPython untyped
    else:
        print(render_text(view(server)))


def in_notebook() -> bool:
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def live_panel(server: KernelServer, view: View) -> Any:
    import ipywidgets

    class LivePanel(ipywidgets.HTML):
        """Refreshes itself until the server stops or the widget is closed."""

        def _repr_mimebundle_(self, **kwargs: Any) -> Any:
            bundle = super()._repr_mimebundle_(**kwargs)
            if isinstance(bundle, dict):
                bundle["text/plain"] = render_text(view(server)) if server.running else "stopped"
            return bundle

    panel = LivePanel(value=render_html(view(server)))

    def refresh() -> None:
        stopped = threading.Event()
        while not stopped.wait(REFRESH_SECONDS):
            if panel.comm is None:
                return
            if not server.running:
                panel.value = "<i>SQLRooms server stopped</i>"
                return
            try:
                panel.value = render_html(view(server))
            except Exception:  # the server stopped between the check and the call
                return

    threading.Thread(target=refresh, name="sqlrooms-panel", daemon=True).start()
    return panel
