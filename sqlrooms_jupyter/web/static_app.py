"""The SQLRooms app (built from `labextension/app/`): where it lives and how it is served.

Tornado only: no DuckDB, Arrow or server core here, so every door (the standalone server, the
kernel's server, the Jupyter server extension) can mount it cheaply. The built assets use
relative URLs, so the app works under any prefix (`/app/`, `{base_url}sqlrooms/app/`).
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from tornado import web

APP_DIR = Path(__file__).resolve().parent.parent / "static" / "app"
INDEX = "index.html"
# Vite names everything under assets/ after its content hash: cache it for good.
HASHED_DIR = "assets"
IMMUTABLE = "public, max-age=31536000, immutable"

# Explicit types, so that a machine with an odd /etc/mime.types cannot break module scripts.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
}

# The app's own policy, wherever it is served: scripts, styles and connections only to its own
# origin (`'self'` covers ws:/wss: to it: the server's socket, or Jupyter's relay), so no link
# or injected markup can make the page talk to another host.
APP_POLICY = (
    "default-src 'self'",
    # Compiling WebAssembly (Loro's, for collaboration with --sync); not JavaScript eval.
    "script-src 'self' 'wasm-unsafe-eval'",
    "connect-src 'self'",
    "img-src 'self' data: blob:",
    "style-src 'self' 'unsafe-inline'",
    "base-uri 'self'",
    "form-action 'self'",
    "object-src 'none'",
)

# For the standalone and kernel servers.
CONTENT_SECURITY_POLICY = "; ".join([*APP_POLICY, "frame-ancestors 'self'"])


def app_policy_within(host_policy: str) -> str:
    """The app's policy under a host (Jupyter) whose own policy decides what the app does not:
    who may frame it (`frame-ancestors`, which JupyterHub deployments set) and `report-uri`."""
    ours = {d.split()[0] for d in APP_POLICY}
    theirs = [d.strip() for d in host_policy.split(";") if d.strip()]
    kept = [d for d in theirs if d.split()[0] not in ours]
    if not any(d.split()[0] == "frame-ancestors" for d in kept):
        kept.append("frame-ancestors 'self'")
    return "; ".join([*APP_POLICY, *kept])


def is_built(root: Path = APP_DIR) -> bool:
    return (root / INDEX).is_file()


def content_type(path: Path) -> str:
    known = CONTENT_TYPES.get(path.suffix.lower())
    return known or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def resolve(root: Path, url_path: str) -> Path | None:
    """The file for `url_path` under `root`, `index.html` for app routes, None for a 404.

    Refuses anything that could leave `root`: `..`, absolute paths, backslashes, NUL bytes
    and symlinks that point outside.
    """
    if "\\" in url_path or "\0" in url_path:
        return None
    parts = PurePosixPath(url_path).parts
    if url_path.startswith("/") or any(part in ("..", ".") for part in parts):
        return None
    if not parts:
        return root / INDEX
    candidate = root.joinpath(*parts)
    try:
        real = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError, OSError):
        # A client-side route (no extension) gets the app; a missing asset is a 404.
        return root / INDEX if "." not in parts[-1] else None
    if not real.is_relative_to(root.resolve()) or not real.is_file():
        return None
    return real


class AppFilesMixin:
    """Serves the built app; mixed into a plain handler and into the Jupyter one."""

    app_root: Path = APP_DIR

    def serve_app(self, path: str, *, include_body: bool = True) -> None:
        handler: web.RequestHandler = self  # type: ignore[assignment]
        if not is_built(self.app_root):
            raise web.HTTPError(
                404, "The SQLRooms app is not built (pip install from a source checkout builds it)"
            )
        file = resolve(self.app_root, path)
        if file is None:
            raise web.HTTPError(404)
        handler.set_header("Content-Type", content_type(file))
        handler.set_header("X-Content-Type-Options", "nosniff")
        hashed = path.startswith(f"{HASHED_DIR}/") and file.name != INDEX
        handler.set_header("Cache-Control", IMMUTABLE if hashed else "no-cache")
        body = file.read_bytes()
        if not include_body:
            handler.set_header("Content-Length", str(len(body)))
            return
        handler.write(body)


# Whether a request's Host header names this server (DNS-rebinding protection); it raises
# or answers False to refuse.
HostCheck = Callable[[web.RequestHandler], bool]


class _Routed(web.RequestHandler):
    """A route of `app_routes`: refuses a Host the server does not answer, as every other
    route of the server does (a rebound name must not read the app or its config)."""

    host_check: HostCheck | None = None

    def prepare(self) -> None:
        if self.host_check is not None and not self.host_check(self):
            raise web.HTTPError(403, reason="Host not allowed")


class AppHandler(AppFilesMixin, _Routed):
    """The app on the standalone and kernel servers (`app_routes`)."""

    def initialize(self, root: Path = APP_DIR, host_check: HostCheck | None = None) -> None:
        self.app_root = root
        self.host_check = host_check

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.set_header("Referrer-Policy", "no-referrer")

    def get(self, path: str) -> None:
        self.serve_app(path)

    def head(self, path: str) -> None:
        self.serve_app(path, include_body=False)


class AppConfigHandler(_Routed):
    """`config.json` beside the app: what the page cannot guess (the `ui_state` table's name)."""

    def initialize(self, config: dict[str, Any], host_check: HostCheck | None = None) -> None:
        self.config = config
        self.host_check = host_check

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Content-Type-Options", "nosniff")

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(self.config))


class AddSlashHandler(_Routed):
    """`/app` -> `/app/`: the assets' relative URLs need the trailing slash."""

    def initialize(self, host_check: HostCheck | None = None) -> None:
        self.host_check = host_check

    def get(self) -> None:
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(f"{self.request.path}/{query}", permanent=False)

    head = get


Route = tuple[str, Any, dict[str, Any]]


def app_routes(
    prefix: str = "/app/",
    root: Path = APP_DIR,
    config: dict[str, Any] | None = None,
    host_check: HostCheck | None = None,
) -> list[Route]:
    """Tornado routes serving the app at `prefix` (e.g. `/app/`), for `Application(handlers)`;
    with `config`, also `{prefix}config.json`; with `host_check`, each route refuses (403)
    a request it answers False for."""
    stem = "/" + prefix.strip("/")
    guard = {"host_check": host_check}
    extra: list[Route] = (
        []
        if config is None
        else [(rf"{stem}/config\.json", AppConfigHandler, {"config": config, **guard})]
    )
    return [
        (rf"{stem}", AddSlashHandler, guard),
        *extra,
        (rf"{stem}/(.*)", AppHandler, {"root": root, **guard}),
    ]
