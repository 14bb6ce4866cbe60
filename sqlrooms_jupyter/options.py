"""Every server option, declared once: `sqlrooms-server`'s flags, `%sqlrooms start`'s flags
and `start()`'s keywords are built from `OPTIONS`, and `server_config` is the one mapping of
their values into the server's configuration. docs/cli.md and docs/notebook.md hold tables
rendered from it (`python -m sqlrooms_jupyter.options docs/cli.md docs/notebook.md`)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._version import __version__
from .db.engine import EngineConfig
from .db.sandbox import Sandbox
from .db.workers import default_pool_size
from .session import Limits
from .web.server import ServerConfig

DEFAULT_PORT = 4000
# The token from the environment, out of `/proc/<pid>/cmdline` (which every local user reads).
TOKEN_ENV = "SQLROOMS_AUTH_TOKEN"

# The doors an option is offered by.
CLI = "sqlrooms-server"
MAGIC = "%sqlrooms start"
PYTHON = "start()"
KERNEL = frozenset({MAGIC, PYTHON})
EVERYWHERE = frozenset({CLI, MAGIC, PYTHON})


def split_commas(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def parse_size(value: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = value.strip().lower().removesuffix("b").removesuffix("i")
    factor = units.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in units else text
    try:
        return int(float(number) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a size: {value!r} (e.g. 1073741824, 512M, 1G)"
        ) from None


def read_sql_file(path: str) -> str:
    try:
        return Path(path).expanduser().read_text()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {exc.strerror}") from None


_SAME = object()  # `kernel_default` when the kernel's default is the command line's


@dataclass(frozen=True)
class Option:
    """One option. `kind` is its value's type (`list`: repeatable, items from `parse`);
    `parse` turns a command line's text into the value (default: `kind`)."""

    flag: str
    help: str | None
    kind: type = str
    default: Any = None
    parse: Callable[[str], Any] | None = None
    doors: frozenset[str] = frozenset({CLI})
    name: str = ""  # the keyword and argparse dest; default: the flag's words
    metavar: str | None = None
    action: Any = None  # argparse's, when `kind` does not say it
    choices: tuple[str, ...] | None = None
    exclusive: str | None = None  # a group of flags that exclude each other (on the CLI)
    kernel_default: Any = _SAME
    keyword_help: str | None = None  # `start()`'s, when the flag's help does not fit it
    # The docs' tables: the default as words, and a meaning longer than the help text.
    doc_default: str | None = None
    kernel_doc_default: str | None = None
    doc: str | None = None
    words: str = field(init=False)

    def __post_init__(self) -> None:
        words = self.flag.removeprefix("--").replace("-", "_")
        object.__setattr__(self, "words", words)
        if not self.name:
            object.__setattr__(self, "name", words)

    def default_for(self, door: str) -> Any:
        if door != CLI and self.kernel_default is not _SAME:
            return self.kernel_default
        return self.default

    def add_to(self, parser: argparse.ArgumentParser | Any, door: str) -> None:
        """Add this option to an argparse parser (or a group of one)."""
        kwargs: dict[str, Any] = {"dest": self.name, "help": self.help}
        default = self.default_for(door)
        if self.action == "version":
            parser.add_argument(self.flag, action="version", version=default)
            return
        if self.action is not None:
            kwargs["action"] = self.action
        elif self.kind is bool:
            kwargs["action"] = "store_false" if default else "store_true"
        elif self.kind is list:
            kwargs["action"] = "extend" if self.parse is split_commas else "append"
        if self.kind is list:
            default = list(default)
        if self.kind is not bool:
            kwargs["metavar"] = self.metavar or self.words.upper()
        parse = self.parse or (None if self.kind in (str, bool, list) else self.kind)
        if parse is not None:
            kwargs["type"] = parse
        if self.choices is not None:
            kwargs["choices"] = list(self.choices)
            del kwargs["metavar"]
        parser.add_argument(self.flag, default=default, **kwargs)

    def check(self, value: Any, door: str) -> Any:
        """A keyword's value for `start()`: text goes through the command line's parser;
        None means the default."""
        if value is None:
            return self.default_for(door)
        parse = self.parse or (self.kind if self.kind in (int, float) else None)
        if isinstance(value, str) and parse is not None and self.kind is not str:
            try:
                return parse(value)
            except (ValueError, argparse.ArgumentTypeError) as exc:
                raise ValueError(f"{self.name}: {exc}") from None
        if self.kind is str and isinstance(value, os.PathLike):
            return os.fspath(value)
        if self.kind is list:
            if isinstance(value, str) or not isinstance(value, Iterable):
                raise TypeError(f"{self.name} must be a list of strings, not {value!r}")
            items = list(value)
            if not all(isinstance(item, str) for item in items):
                raise TypeError(f"{self.name} must be a list of strings, not {value!r}")
            return items
        accepted: tuple[type, ...] = (int, float) if self.kind is float else (self.kind,)
        if not isinstance(value, accepted) or (isinstance(value, bool) and self.kind is not bool):
            raise TypeError(f"{self.name} must be {self.kind.__name__}, not {value!r}")
        return value


OPTIONS: tuple[Option, ...] = (
    Option(
        "--version",
        None,
        action="version",
        default=f"%(prog)s (sqlrooms-jupyter) {__version__}",
        doc_default="",
        doc="print the version and exit",
    ),
    Option(
        "--db-path",
        "DuckDB database file (default :memory:)",
        default=":memory:",
        doors=EVERYWHERE,
        kernel_default=None,
        kernel_doc_default="the kernel's `duckdb.default_connection()`",
        doc="DuckDB database file; a missing file is created (the start-up output says "
        "`creating a new database file at <absolute path>`, so a mistyped name shows), and so "
        "is a missing parent directory",
    ),
    Option(
        "--port",
        "port to listen on; 0 picks a free one (default 4000)",
        kind=int,
        default=DEFAULT_PORT,
        doors=EVERYWHERE,
        kernel_doc_default="`4000`, or a free one when taken",
        doc="port; `0` picks a free one",
    ),
    Option(
        "--host",
        "interface to listen on (default 127.0.0.1; 0.0.0.0 exposes it to the network)",
        default="127.0.0.1",
        doors=EVERYWHERE,
        doc="interface; `0.0.0.0` exposes the server to your network (use a token)",
    ),
    Option(
        "--extensions",
        "comma-separated DuckDB extensions to load, name@repository to install from a "
        "repository (a name or a mirror's URL; default httpfs; '' for none)",
        kind=list,
        parse=split_commas,
        action="store",
        default=("httpfs",),
        doors=EVERYWHERE,
        kernel_default=(),
        doc_default="`httpfs`",
        doc="comma-separated extensions to load; `name@repo` installs from that repository (a "
        "name, or a mirror's URL); `''` for none. One that cannot be installed or loaded is a "
        "one-line warning, not a failure (offline: `https:// and s3:// paths are unavailable: "
        "the httpfs extension is not installed (offline)`)",
    ),
    Option(
        "--auth-token",
        f"require this token from every client (visible to local users in the process "
        f"list: prefer --auth-token-file or the {TOKEN_ENV} environment variable)",
        doors=EVERYWHERE,
        exclusive="token",
        kernel_doc_default="a random one",
        doc="require this token from every client (every local user can read a command "
        "line: prefer `--auth-token-file`)",
    ),
    Option(
        "--auth-token-file",
        "require the token read from this file (one line; a trailing newline is ignored)",
        metavar="PATH",
        exclusive="token",
        doc="read the token from this file (one line; a trailing newline is ignored); with "
        f"neither flag, the token is `${TOKEN_ENV}`'s, if set",
    ),
    Option(
        "--no-token",
        "accept clients without a token",
        kind=bool,
        default=True,
        name="require_token",
        keyword_help="False: accept clients without a token",
        doors=KERNEL,
        kernel_doc_default="a token is required",
        doc="accept clients without a token (`start(require_token=False)`)",
    ),
    Option(
        "--connection",
        "name of a DuckDB connection variable to serve",
        doors=frozenset({MAGIC}),
        kernel_doc_default="`duckdb.default_connection()`",
        doc="the notebook variable holding the DuckDB connection to serve (`start(con)`)",
    ),
    Option(
        "--allow-origin",
        "browser origin allowed to connect besides loopback ones (repeatable; '*' for any)",
        kind=list,
        parse=split_commas,
        name="allow_origins",
        doors=EVERYWHERE,
        default=(),
        doc="a browser origin allowed besides loopback ones (repeatable; `*` for any)",
    ),
    Option(
        "--allow-host",
        "Host name answered besides loopback ones when bound to a loopback address "
        "(repeatable; DNS-rebinding protection refuses any other with 403)",
        kind=list,
        name="allow_hosts",
        default=(),
        doc="a `Host` name answered besides loopback ones while bound to a loopback address "
        "(repeatable; `*` for any)",
    ),
    Option(
        "--sync",
        "enable CRDT room sync over the same WebSocket",
        kind=bool,
        default=False,
        doors=EVERYWHERE,
        doc="CRDT room sync on the same WebSocket (see [CRDT rooms](rooms.md))",
    ),
    Option(
        "--meta-namespace",
        "schema (or --meta-db alias) for SQLRooms meta tables (default __sqlrooms)",
        default="__sqlrooms",
        doors=EVERYWHERE,
        doc="schema (or `--meta-db` alias) for the meta tables",
    ),
    Option(
        "--meta-db",
        "separate DuckDB file for meta tables, attached under the namespace",
        doors=EVERYWHERE,
        doc="separate DuckDB file for the meta tables, attached as `NS`",
    ),
    Option(
        "--cache-dir",
        "directory for persisted query results (default: a temporary one)",
        doc_default="a temporary dir",
        doc="where `persist: true` results are kept",
    ),
    Option(
        "--max-message-size",
        "largest message a client may send, e.g. an Arrow upload (default 1G)",
        kind=int,
        parse=parse_size,
        default=1 << 30,
        doors=EVERYWHERE,
        metavar="MAX_MESSAGE_SIZE",
        doc_default="`1G`",
        doc="largest message a client may send (e.g. an Arrow upload)",
    ),
    Option(
        "--pool-size",
        "query threads (default %(default)s)",
        kind=int,
        default=default_pool_size(),
        doc_default="`max(16, 4 × cores)`",  # noqa: RUF001
        doc="query threads",
    ),
    Option(
        "--allow-client-snapshots",
        "let a client seed an empty CRDT room with its snapshot "
        "(default: only with a :memory: database)",
        kind=bool,
        action=argparse.BooleanOptionalAction,
        doc_default="only for `:memory:`",
        doc="whether a client may seed an empty room with its snapshot "
        "(`--no-allow-client-snapshots`: never)",
    ),
    Option(
        "--save-debounce-ms",
        "CRDT snapshot compaction delay (default 500)",
        kind=int,
        default=500,
        doc="quiet time before a room's update log is folded into its snapshot",
    ),
    Option(
        "--read-only",
        "open the database read-only: every write (DDL, DML, uploads, COPY … TO) is refused",
        kind=bool,
        default=False,
        doors=EVERYWHERE,
        doc="every write (DDL, DML, uploads, `COPY … TO`) is refused ([security](security.md))",
    ),
    Option(
        "--allowed-directories",
        "file access only under DIR (repeatable): no other files, URLs, ATTACH or new extensions",
        kind=list,
        default=(),
        doors=EVERYWHERE,
        metavar="DIR",
    ),
    Option(
        "--query-timeout",
        "cancel queries still running this many seconds after they started (waiting for "
        "the database to open or for a worker does not count)",
        kind=float,
        doors=EVERYWHERE,
        metavar="SECONDS",
    ),
    Option(
        "--queue-timeout",
        "refuse queries that waited this long for a free worker, as 'server is busy' "
        "(default: 60 with --query-timeout, else no limit; 0: no limit)",
        kind=float,
        metavar="SECONDS",
        doc_default="60 with `--query-timeout`",
        doc="refuse queries that waited this long for a free worker, as 'server is busy' "
        "(`0`: no limit)",
    ),
    Option(
        "--memory-limit",
        "DuckDB's memory_limit, e.g. 4GB",
        doors=EVERYWHERE,
        doc="DuckDB's `memory_limit`, e.g. `4GB`",
        metavar="SIZE",
    ),
    Option("--threads", "DuckDB's worker threads", kind=int, doors=EVERYWHERE),
    Option(
        "--max-connections",
        "connections accepted at once; more get HTTP 503 (default 1024)",
        kind=int,
        default=1024,
        doors=EVERYWHERE,
        doc="connections accepted at once; more get HTTP 503",
    ),
    Option(
        "--max-sql-size",
        "longest SQL text a client may send (default 256K)",
        kind=int,
        parse=parse_size,
        default=256 << 10,
        doors=EVERYWHERE,
        metavar="SIZE",
        doc_default="`256K`",
        doc="longest SQL text a client may send",
    ),
    Option(
        "--init-sql",
        "SQL statements run once on the server's connection at start "
        "(e.g. INSTALL/LOAD, secrets, ATTACH)",
        parse=read_sql_file,
        metavar="FILE",
        doc="statements run once on the server's connection at start (`INSTALL`/`LOAD`, "
        "secrets, `ATTACH`)",
    ),
    Option(
        "--cluster",
        "run as one of several replicas: notify and CRDT rooms go through this "
        "PostgreSQL database (needs the [lake] extra)",
        metavar="POSTGRESQL_URL",
        doc="run as one of several replicas: notify and CRDT rooms go through this PostgreSQL "
        "database (`postgresql://…`; needs the `[lake]` extra; see [Deployment](deployment.md))",
    ),
    Option(
        "--auth-timeout",
        "with a token: close connections not authenticated within this time (default 10)",
        kind=float,
        default=10.0,
        metavar="SECONDS",
        doc_default="`10`",
        doc="with a token, a connection that has not authenticated by then is closed (1008)",
    ),
    Option(
        "--log-level",
        "logging verbosity (default info)",
        default="info",
        choices=("debug", "info", "warning", "error"),
        doc="`debug`, `info`, `warning`, `error`",
    ),
)

BY_NAME = {option.name: option for option in OPTIONS}


def offered_by(door: str) -> list[Option]:
    return [option for option in OPTIONS if door in option.doors]


def add_arguments(parser: argparse.ArgumentParser, door: str) -> None:
    """The door's options, in the table's order, as argparse arguments."""
    groups: dict[str, Any] = {}
    for option in offered_by(door):
        target: Any = parser
        if option.exclusive and door == CLI:
            if option.exclusive not in groups:
                groups[option.exclusive] = parser.add_mutually_exclusive_group()
            target = groups[option.exclusive]
        option.add_to(target, door)


def values_from(args: argparse.Namespace) -> dict[str, Any]:
    """The options' values parsed by a door's argparse parser, by name."""
    return {name: value for name, value in vars(args).items() if name in BY_NAME}


def keywords(given: Mapping[str, Any]) -> dict[str, Any]:
    """`start()`'s keywords, checked, with the kernel's defaults for the rest."""
    values = {}
    for name, value in given.items():
        option = BY_NAME.get(name)
        if option is None or PYTHON not in option.doors:
            only = f" (only {CLI} offers {option.flag})" if option else ""
            raise TypeError(f"start() got an unexpected keyword argument {name!r}{only}")
        values[name] = option.check(value, PYTHON)
    for option in offered_by(PYTHON):
        values.setdefault(option.name, option.default_for(PYTHON))
    return values


def server_config(values: Mapping[str, Any]) -> ServerConfig:
    """The one mapping of option values (by name; missing ones take the command line's
    defaults) into the server's configuration; `auth_token` is the token already resolved."""
    v = {o.name: o.default for o in OPTIONS} | dict(values)
    return ServerConfig(
        host=v["host"],
        port=v["port"],
        auth_token=v["auth_token"],
        allow_origins=tuple(v["allow_origins"]),
        allow_hosts=tuple(v["allow_hosts"]),
        sync=v["sync"],
        allow_client_snapshots=v["allow_client_snapshots"],
        save_debounce_ms=v["save_debounce_ms"],
        max_message_size=v["max_message_size"],
        limits=Limits(
            auth_timeout=v["auth_timeout"],
            query_timeout=v["query_timeout"],
            queue_timeout=v["queue_timeout"],
            max_connections=v["max_connections"],
            max_sql_chars=v["max_sql_size"],
        ),
        cluster=v["cluster"],
        engine=EngineConfig(
            db_path=v["db_path"] or ":memory:",
            extensions=tuple(v["extensions"]),
            meta_namespace=v["meta_namespace"],
            meta_db=v["meta_db"],
            cache_dir=v["cache_dir"],
            pool_size=v["pool_size"],
            init_sql=v["init_sql"] or "",
            sandbox=Sandbox(
                read_only=v["read_only"],
                allowed_directories=tuple(v["allowed_directories"]),
                memory_limit=v["memory_limit"],
                threads=v["threads"],
            ),
        ),
    )


def keywords_doc() -> str:
    """`start()`'s keywords, their meanings and defaults, for its docstring."""
    lines = []
    for option in offered_by(PYTHON):
        meaning = option.keyword_help or option.doc or option.help or ""
        text = f"{option.name}: {meaning} (default: {_default_words(option, PYTHON)})"
        lines += textwrap.wrap(text, 92, initial_indent="  ", subsequent_indent="      ")
    return "\n".join(lines) + "\n"


# -- the docs' tables ---------------------------------------------------------


def _flag_words(option: Option) -> str:
    if option.action == "version" or option.kind is bool:
        return f"`{option.flag}`"
    return f"`{option.flag} {option.metavar or option.words.upper()}`"


def _default_words(option: Option, door: str) -> str:
    if door != CLI and option.kernel_doc_default is not None:
        return option.kernel_doc_default
    if option.doc_default is not None and (door == CLI or option.kernel_default is _SAME):
        return option.doc_default
    default = option.default_for(door)
    if default is False:
        return "off"
    if default is None or default == () or default == []:
        return "none"
    if isinstance(default, tuple):
        return "`" + ",".join(default) + "`"
    return f"`{default}`"


def synopsis(door: str, command: str) -> str:
    """`command [--flag VALUE] ...` with the door's options, wrapped under the command."""
    words = [f"[{_flag_words(option).strip('`')}]" for option in offered_by(door)]
    indent = " " * (len(command) + 1)
    text = " ".join([command.replace(" ", "\xa0"), *(w.replace(" ", "\xa0") for w in words)])
    lines = textwrap.wrap(text, 88, subsequent_indent=indent, break_on_hyphens=False)
    return "\n".join(lines).replace("\xa0", " ")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(door: str) -> str:
    """The door's options as a Markdown table, for docs/cli.md or docs/notebook.md."""
    if door == CLI:
        rows = ["| flag | default | meaning |", "|---|---|---|"]
        for option in offered_by(CLI):
            meaning = option.doc or option.help or ""
            rows.append(
                f"| {_flag_words(option)} | {_default_words(option, CLI)} | {_cell(meaning)} |"
            )
    else:
        rows = ["| flag | `start()` keyword | default | meaning |", "|---|---|---|---|"]
        for option in offered_by(MAGIC):
            keyword = f"`{option.name}`" if PYTHON in option.doors else ""
            meaning = option.doc or option.help or ""
            rows.append(
                f"| {_flag_words(option)} | {keyword} | {_default_words(option, MAGIC)} "
                f"| {_cell(meaning)} |"
            )
    return "\n".join(rows) + "\n"


BEGIN = "<!-- the options table, generated from sqlrooms_jupyter/options.py (for {door}) -->\n"
END = "<!-- end of the generated table -->"


def with_table(page: str) -> str:
    """The page with every generated table rewritten from `OPTIONS`."""
    for door in (CLI, MAGIC):
        begin = BEGIN.format(door=door)
        table = begin + markdown_table(door) + END
        page = re.sub(re.escape(begin) + ".*?" + re.escape(END), lambda _: table, page, flags=re.S)  # noqa: B023
    return page


def main(paths: Sequence[str]) -> None:
    for path in map(Path, paths):
        path.write_text(with_table(path.read_text()))


if __name__ == "__main__":
    main(sys.argv[1:])
