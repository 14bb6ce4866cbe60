"""`sqlrooms-server`: the protocol server as a command, a drop-in for the published CLI."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from . import process
from ._version import __version__
from .engine import EngineConfig
from .executor import default_pool_size
from .sandbox import Sandbox
from .server import ServerConfig, SqlroomsServer
from .session import Limits

log = logging.getLogger("sqlrooms_jupyter")

# The token from the environment, out of `/proc/<pid>/cmdline` (which every local user reads).
TOKEN_ENV = "SQLROOMS_AUTH_TOKEN"


def _split(value: str) -> tuple[str, ...]:
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


class TokenError(ValueError):
    """The token's file cannot be used."""


def read_token_file(path: str) -> str:
    try:
        text = Path(path).expanduser().read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TokenError(f"cannot read the token file {path}: {reason}") from None
    token = text.rstrip("\r\n")
    if not token.strip():
        raise TokenError(f"the token file {path} is empty")
    if "\n" in token:
        raise TokenError(f"the token file {path} has more than one line")
    return token


def auth_token(args: argparse.Namespace, environ: Mapping[str, str]) -> str | None:
    """`--auth-token`, else `--auth-token-file`, else `$SQLROOMS_AUTH_TOKEN`, else none."""
    if args.auth_token:
        return str(args.auth_token)
    if args.auth_token_file is not None:
        return read_token_file(args.auth_token_file)
    return environ.get(TOKEN_ENV) or None


def risk_warnings(config: ServerConfig) -> list[str]:
    """Flags that switch a protection off, each named with what it lets in."""
    warnings = []
    if "*" in config.allow_hosts:
        warnings.append(
            "--allow-host '*' answers any Host name: DNS-rebinding protection is off, so any "
            "web page the user visits can reach this server through a name it controls"
            + ("" if config.auth_token else " (and no token is required)")
        )
    if "*" in config.allow_origins and not config.auth_token:
        warnings.append(
            "--allow-origin '*' without a token: any web page the user visits can query "
            "this server from their browser (set a token with --auth-token-file or "
            f"{TOKEN_ENV})"
        )
    return warnings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sqlrooms-server",
        description="Serve a DuckDB database to SQLRooms apps over a WebSocket.",
    )
    add = parser.add_argument
    add("--version", action="version", version=f"%(prog)s (sqlrooms-jupyter) {__version__}")
    add("--db-path", default=":memory:", help="DuckDB database file (default :memory:)")
    add(
        "--port",
        type=int,
        default=4000,
        help="port to listen on; 0 picks a free one (default 4000)",
    )
    add(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1; 0.0.0.0 exposes it to the network)",
    )
    add(
        "--extensions",
        type=_split,
        default=("httpfs",),
        help="comma-separated DuckDB extensions to load, name@repository to install from a "
        "repository (a name or a mirror's URL; default httpfs; '' for none)",
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument(
        "--auth-token",
        default=None,
        help="require this token from every client (visible to local users in the process "
        f"list: prefer --auth-token-file or the {TOKEN_ENV} environment variable)",
    )
    token.add_argument(
        "--auth-token-file",
        default=None,
        metavar="PATH",
        help="require the token read from this file (one line; a trailing newline is ignored)",
    )
    add(
        "--allow-origin",
        action="append",
        type=_split,
        default=[],
        help="browser origin allowed to connect besides loopback ones (repeatable; '*' for any)",
    )
    add(
        "--allow-host",
        action="append",
        default=[],
        help="Host name answered besides loopback ones when bound to a loopback address "
        "(repeatable; DNS-rebinding protection refuses any other with 403)",
    )
    add("--sync", action="store_true", help="enable CRDT room sync over the same WebSocket")
    add(
        "--meta-namespace",
        default="__sqlrooms",
        help="schema (or --meta-db alias) for SQLRooms meta tables (default __sqlrooms)",
    )
    add(
        "--meta-db",
        default=None,
        help="separate DuckDB file for meta tables, attached under the namespace",
    )
    add(
        "--cache-dir",
        default=None,
        help="directory for persisted query results (default: a temporary one)",
    )
    add(
        "--max-message-size",
        type=parse_size,
        default=1 << 30,
        help="largest message a client may send, e.g. an Arrow upload (default 1G)",
    )
    add(
        "--pool-size",
        type=int,
        default=default_pool_size(),
        help="query threads (default %(default)s)",
    )
    add(
        "--allow-client-snapshots",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let a client seed an empty CRDT room with its snapshot "
        "(default: only with a :memory: database)",
    )
    add(
        "--save-debounce-ms",
        type=int,
        default=500,
        help="CRDT snapshot compaction delay (default 500)",
    )
    add(
        "--read-only",
        action="store_true",
        help="open the database read-only: every write (DDL, DML, uploads, COPY … TO) is refused",
    )
    add(
        "--allowed-directories",
        action="append",
        default=[],
        metavar="DIR",
        help="file access only under DIR (repeatable): no other files, URLs, ATTACH or new "
        "extensions",
    )
    add(
        "--query-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="cancel queries still running this many seconds after they started (waiting for "
        "the database to open or for a worker does not count)",
    )
    add(
        "--queue-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="refuse queries that waited this long for a free worker, as 'server is busy' "
        "(default: 60 with --query-timeout, else no limit; 0: no limit)",
    )
    add("--memory-limit", default=None, metavar="SIZE", help="DuckDB's memory_limit, e.g. 4GB")
    add("--threads", type=int, default=None, help="DuckDB's worker threads")
    add(
        "--max-connections",
        type=int,
        default=1024,
        help="connections accepted at once; more get HTTP 503 (default 1024)",
    )
    add(
        "--max-sql-size",
        type=parse_size,
        default=256 << 10,
        metavar="SIZE",
        help="longest SQL text a client may send (default 256K)",
    )
    add(
        "--init-sql",
        type=read_sql_file,
        default=None,
        metavar="FILE",
        help="SQL statements run once on the server's connection at start "
        "(e.g. INSTALL/LOAD, secrets, ATTACH)",
    )
    add(
        "--cluster",
        default=None,
        metavar="POSTGRESQL_URL",
        help="run as one of several replicas: notify and CRDT rooms go through this "
        "PostgreSQL database (needs the [lake] extra)",
    )
    add(
        "--auth-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="with a token: close connections not authenticated within this time (default 10)",
    )
    add(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="logging verbosity (default info)",
    )
    return parser


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """The server's configuration; raises TokenError for an unusable token file."""
    origins = tuple(origin for group in args.allow_origin for origin in group)
    return ServerConfig(
        host=args.host,
        port=args.port,
        auth_token=auth_token(args, os.environ if environ is None else environ),
        allow_origins=origins,
        allow_hosts=tuple(args.allow_host),
        sync=args.sync,
        allow_client_snapshots=args.allow_client_snapshots,
        save_debounce_ms=args.save_debounce_ms,
        max_message_size=args.max_message_size,
        limits=Limits(
            auth_timeout=args.auth_timeout,
            query_timeout=args.query_timeout,
            queue_timeout=args.queue_timeout,
            max_connections=args.max_connections,
            max_sql_chars=args.max_sql_size,
        ),
        cluster=args.cluster,
        engine=EngineConfig(
            db_path=args.db_path or ":memory:",
            extensions=args.extensions,
            meta_namespace=args.meta_namespace,
            meta_db=args.meta_db,
            cache_dir=args.cache_dir,
            pool_size=args.pool_size,
            init_sql=args.init_sql or "",
            sandbox=Sandbox(
                read_only=args.read_only,
                allowed_directories=tuple(args.allowed_directories),
                memory_limit=args.memory_limit,
                threads=args.threads,
            ),
        ),
    )


@contextlib.contextmanager
def held_back_logs() -> Iterator[list[logging.LogRecord]]:
    """Hold what start-up logs, so that the output leads with the app's address: the caller
    logs the held records after it (if start-up fails, they are logged at once)."""
    held: list[logging.LogRecord] = []

    def hold(record: logging.LogRecord) -> bool:
        held.append(record)
        return False

    handlers = logging.getLogger().handlers
    for handler in handlers:
        handler.addFilter(hold)
    failed = True
    try:
        yield held
        failed = False
    finally:
        for handler in handlers:
            handler.removeFilter(hold)
        if failed:
            log_records(held)


def log_records(records: list[logging.LogRecord]) -> None:
    for record in records:
        logging.getLogger(record.name).handle(record)


def sandbox_summary(sandbox: Sandbox) -> str:
    """What the sandbox flags set, for the start-up line (so a shared server says it)."""
    parts = ["read-only"] if sandbox.read_only else []
    parts += [f"files only under {d}" for d in sandbox.allowed_directories]
    if sandbox.memory_limit:
        parts.append(f"memory limit {sandbox.memory_limit}")
    if sandbox.threads:
        parts.append(f"{sandbox.threads} threads")
    return "; " + ", ".join(parts) if parts else ""


def creates_database(db_path: str) -> Path | None:
    """The absolute path DuckDB will create, when `db_path` names a file that is not there."""
    if db_path == ":memory:" or db_path.startswith(("md:", "motherduck:")):
        return None
    path = Path(db_path).expanduser().absolute()
    return None if path.exists() else path


async def serve(config: ServerConfig) -> bool:
    """Serve until SIGINT/SIGTERM; True if queries were left blocked in reads."""
    server = SqlroomsServer(config)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    new_database = creates_database(config.engine.db_path)
    with held_back_logs() as held:
        await server.start()
    app = server.url.replace("ws://", "http://", 1) + "app/"
    log.info("SQLRooms app: %s%s", app, "#token=<your token>" if config.auth_token else "")
    log.info(
        "SQLRooms server listening at %s (database %s)%s%s",
        server.url,
        config.engine.db_path,
        ", token required" if config.auth_token else "",
        sandbox_summary(config.engine.sandbox),
    )
    if new_database:  # a mistyped --db-path would otherwise look like an empty database
        log.info("creating a new database file at %s", new_database)
    log_records(held)  # e.g. an extension that could not be loaded offline
    for warning in risk_warnings(config):
        log.warning("%s", warning)
    await stop.wait()
    log.info("shutting down")
    await server.stop()
    log.info("stopped")
    return server.engine.blocked > 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except TokenError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    process.detach_stdin()
    process.raise_descriptor_limit()
    try:
        blocked = asyncio.run(serve(config))
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", args.host, args.port, exc.strerror or exc)
        return 1
    except Exception as exc:  # the database could not be opened (locked, corrupt, a bad flag)
        log.error("cannot start: %s", (str(exc).strip().splitlines() or [repr(exc)])[0])
        return 2
    if blocked:  # DuckDB's exit handler would wait for reads that may never return
        logging.shutdown()
        os._exit(0)
    return 0
