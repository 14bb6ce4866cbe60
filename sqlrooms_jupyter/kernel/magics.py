"""The `%sqlrooms` line magic: a thin argparse front over `api` and `widgets`."""

from __future__ import annotations

import argparse
import inspect
import json
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from .. import options
from . import api, widgets
from .fingerprint import is_sampled
from .server import KernelServer

USAGE = """\
%sqlrooms start [options]     start this kernel's SQLRooms server
%sqlrooms stop                stop it (cancels queries, closes sockets, frees the port)
%sqlrooms status [--show-token]
                              URL, uptime, database, connections, queries, cache
%sqlrooms share VAR [--as NAME]
                              make a dataframe / Arrow table / relation queryable
%sqlrooms unshare NAME        stop sharing it
%sqlrooms notify CHANNEL JSON publish a notification to a channel's subscribers
%sqlrooms subscriptions       channels and their subscribers
%sqlrooms rooms               CRDT rooms: members, size, last saved
%sqlrooms queries             in-flight queries
%sqlrooms cancel QUERY_ID     cancel one of them"""


class _Parser(argparse.ArgumentParser):
    """Errors become a one-line UsageError: IPython shows the message, not a traceback."""

    def error(self, message: str) -> NoReturn:
        if self.prog == "%sqlrooms":  # an unknown command: the list of them says it all
            raise UsageError(f"{message}; %sqlrooms? explains each command")
        usage = " ".join(self.format_usage().split()).removeprefix("usage: ")
        raise UsageError(f"{message} (usage: {usage})")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or self.format_help())


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%sqlrooms", usage=USAGE.replace("%", "%%"), add_help=False)
    commands = parser.add_subparsers(
        dest="command", parser_class=_Parser, metavar="COMMAND", prog="%sqlrooms"
    )

    start = commands.add_parser("start", help="start the server", add_help=False)
    options.add_arguments(start, options.MAGIC)

    commands.add_parser("stop", add_help=False)
    status = commands.add_parser("status", add_help=False)
    status.add_argument("--show-token", action="store_true", help="print the server's token")
    share = commands.add_parser("share", add_help=False)
    share.add_argument("variable", help="a variable or expression in the notebook")
    share.add_argument("--as", dest="name", help="table name for clients")
    share.add_argument(
        "--no-follow", action="store_true", help="do not re-share when a cell rebinds VAR"
    )
    unshare = commands.add_parser("unshare", add_help=False)
    unshare.add_argument("name")
    notify = commands.add_parser("notify", add_help=False)
    notify.add_argument("channel")
    notify.add_argument("payload", help="JSON")
    commands.add_parser("subscriptions", add_help=False)
    commands.add_parser("rooms", add_help=False)
    commands.add_parser("queries", add_help=False)
    cancel = commands.add_parser("cancel", add_help=False)
    cancel.add_argument("query_id")
    return parser


def split_line(line: str) -> list[str]:
    """Shell-like words; a notify payload is kept verbatim, JSON quotes and all."""
    words = line.split(None, 2)
    if len(words) == 3 and words[0] == "notify":
        return words
    return shlex.split(line)


@magics_class
class SqlroomsMagics(Magics):
    @line_magic
    def sqlrooms(self, line: str) -> None:
        """Serve this kernel's DuckDB to SQLRooms apps over a WebSocket.

        %sqlrooms start [options]
            Start the server on a thread of its own: a busy cell does not delay clients.
            It serves `duckdb.default_connection()` (what `duckdb.sql()` uses) unless
            --connection names a connection variable or --db-path a database file.
            The default port 4000 falls back to a free one when taken; --port 0 always
            picks one. Clients need its token unless --no-token; it is not printed (cell
            output is saved in the notebook): `%sqlrooms status --show-token`. Jupyter's own
            server reaches it at {base_url}sqlrooms/kernels/<kernel_id>/ws.
            The sandbox flags (--read-only, --allowed-directories, --memory-limit,
            --threads) are DuckDB settings of the whole database, so they bind this
            notebook's own cells too, and are locked until the kernel restarts.
        %sqlrooms stop
            Cancel in-flight queries, save rooms, close sockets, free the port.
        %sqlrooms status [--show-token] | queries | subscriptions | rooms
            What the server is doing; a live panel in a notebook, a table in a terminal.
            --show-token prints the token and the app's address with it (into the cell's
            output: clear it before saving; or `sqlrooms_jupyter.current().config.auth_token`).
        %sqlrooms share VAR [--as NAME] [--no-follow]
            Make a pandas or polars DataFrame, pyarrow Table or RecordBatchReader, or
            DuckDB relation queryable as NAME (default: the variable's name), by clients
            and by `duckdb.sql()` in cells. Sharing again replaces it and notifies channel
            `table:NAME` with {"op": "replace"}; so does a cell that rebinds VAR (unless
            --no-follow) or changes a shared DataFrame in place (`df.loc[0, "x"] = 1`,
            `df["y"] = ...`; a frame over 100,000 values is checked on a sample of rows).
        %sqlrooms unshare NAME
            Remove it (notifies `table:NAME` with {"op": "drop"}).
        %sqlrooms notify CHANNEL JSON
            Publish JSON to the channel's subscribers.
        %sqlrooms cancel QUERY_ID
            Cancel an in-flight query; its client receives the cancellation error.

        The same from Python: `sqlrooms_jupyter.start(con=...)`, `.share(name, obj)`,
        `.stop()`, `.current()`.
        """
        try:
            args = build_parser().parse_args(split_line(line))
        except ValueError as exc:  # unbalanced quotes
            raise UsageError(f"{exc}\n\n{USAGE}") from None
        if args.command is None:
            raise UsageError(USAGE)
        getattr(self, f"_{args.command}")(args)

    # The start line's flags, from the options table.
    sqlrooms.__doc__ = inspect.cleandoc(sqlrooms.__doc__ or "").replace(
        "%sqlrooms start [options]", options.synopsis(options.MAGIC, "%sqlrooms start"), 1
    )

    # -- subcommands ---------------------------------------------------------

    def _start(self, args: argparse.Namespace) -> None:
        connection = None
        if args.connection:
            connection = self._lookup(args.connection)
            import duckdb

            if not isinstance(connection, duckdb.DuckDBPyConnection):
                raise UsageError(f"{args.connection} is not a DuckDB connection")
        keywords = options.values_from(args)
        del keywords["connection"]
        try:
            server = api.start(connection, **keywords)
        except (RuntimeError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        except OSError as exc:
            raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
        except Exception as exc:  # e.g. the database file is locked by another process
            raise UsageError(f"cannot start the SQLRooms server: {exc}") from None
        print(started_message(server))

    def _stop(self, args: argparse.Namespace) -> None:
        print("SQLRooms server stopped." if api.stop() else "No SQLRooms server is running.")

    def _status(self, args: argparse.Namespace) -> None:
        server = self._server()
        if args.show_token:
            token = server.config.auth_token
            print(f"token: {token}\napp: {server.direct_app_url}" if token else "no token required")
        widgets.show(server, widgets.status_tables)

    def _queries(self, args: argparse.Namespace) -> None:
        widgets.show(self._server(), widgets.queries_tables)

    def _subscriptions(self, args: argparse.Namespace) -> None:
        widgets.show(self._server(), widgets.subscriptions_tables)

    def _rooms(self, args: argparse.Namespace) -> None:
        widgets.show(self._server(), widgets.rooms_tables)

    def _share(self, args: argparse.Namespace) -> None:
        name = args.name or args.variable
        if not name.isidentifier():
            raise UsageError(f"'{args.variable}' is not a plain name: add --as NAME")
        obj = self._lookup(args.variable)
        follow = args.variable if args.variable.isidentifier() and not args.no_follow else None
        try:
            replaced = self._server().share(name, obj, follow=follow)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        verb = "Replaced" if replaced else "Shared"
        print(f"{verb} {type(obj).__name__} as table '{name}'.")
        if is_sampled(obj):
            again = f"%sqlrooms share {args.variable}" + (f" --as {name}" if args.name else "")
            print(
                "  A change in place is noticed on a sample of its rows: after changing "
                f"a few rows, run {again} again."
            )

    def _unshare(self, args: argparse.Namespace) -> None:
        if not self._server().unshare(args.name):
            raise UsageError(f"nothing is shared as '{args.name}'")
        print(f"Stopped sharing '{args.name}'.")

    def _notify(self, args: argparse.Namespace) -> None:
        try:
            payload = json.loads(args.payload)
        except json.JSONDecodeError as exc:
            raise UsageError(f"the payload is not JSON: {exc}") from None
        count = self._server().notify(args.channel, payload)
        print(f"Sent to {count} subscriber{'s' if count != 1 else ''} of '{args.channel}'.")

    def _cancel(self, args: argparse.Namespace) -> None:
        if not self._server().cancel(args.query_id):
            raise UsageError(f"no in-flight query has queryId '{args.query_id}'")
        print(f"Cancelled {args.query_id}.")

    # -- helpers ---------------------------------------------------------------

    def _server(self) -> KernelServer:
        server = api.current()
        if server is None:
            raise UsageError("no SQLRooms server is running: start one with %sqlrooms start")
        return server

    def _lookup(self, expression: str) -> Any:
        shell = self.shell
        assert shell is not None
        if expression in shell.user_ns:
            return shell.user_ns[expression]
        try:
            return shell.ev(expression)  # type: ignore[no-untyped-call]  # IPython untyped
        except Exception as exc:
            raise UsageError(f"cannot evaluate '{expression}': {exc}") from None


def started_message(server: KernelServer) -> str:
    """How to open the app, without the token: a cell's output is saved in the .ipynb."""
    # The JupyterLab extension listens for "SQLRooms server running at " and "SQLRooms server
    # stopped." in a kernel's output (labextension/src/serverSignals.ts): keep these words.
    lines = [f"SQLRooms server running at {server.url}"]
    if server.kernel_id:
        lines.append("  open the app: the SQLRooms button in the notebook's toolbar (a panel)")
        if server.app_urls:
            lines.append(f"  app through Jupyter: {' or '.join(server.app_urls)}")
    asks = " (asks for the token)" if server.config.auth_token else ""
    lines.append(f"  app: {server.app_url}{asks}")
    lines += [f"  note: {note}" for note in server.notes]
    if server.config.auth_token:
        lines.append(
            "  token: not shown (cell output is saved in the notebook); "
            "%sqlrooms status --show-token prints it"
        )
    else:
        lines.append("  no token required: any local process or web page can query it")
    if server.kernel_id:
        relay = server.relay_urls or [f"<jupyter server>/sqlrooms/kernels/{server.kernel_id}/ws"]
        lines.append(f"  through Jupyter: {' or '.join(relay)}")
        lines.append(
            "    (Jupyter's login, not the kernel's token: a page Jupyter serves is signed in "
            "by its cookie; elsewhere add ?token=<your Jupyter server's token>)"
        )
    wire = f"{server.url}?token=<token>" if server.config.auth_token else server.url
    lines += [
        "  from a SQLRooms app:",
        "    import {createWebSocketDuckDbConnector} from '@sqlrooms/duckdb';",
        f"    createWebSocketDuckDbConnector({{wsUrl: '{wire}'}});",
    ]
    for warning in server.warnings:
        lines.append(f"  warning: {warning}")
    return "\n".join(lines)
