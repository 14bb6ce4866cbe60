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

from . import options
from .db.sandbox import Sandbox
from .options import TOKEN_ENV
from .web import process
from .web.server import ServerConfig, SqlroomsServer

log = logging.getLogger("sqlrooms_jupyter")


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
    options.add_arguments(parser, options.CLI)
    return parser


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """The server's configuration; raises TokenError for an unusable token file."""
    values = options.values_from(args)
    values["auth_token"] = auth_token(args, os.environ if environ is None else environ)
    return options.server_config(values)


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
