"""Who may connect: tokens, browser origins and Host names (DNS rebinding).

Pure functions of the request's headers; the handlers decide what to refuse.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from urllib.parse import urlsplit

from tornado.httputil import HTTPServerRequest

TOKEN_HEADER = "X-SQLRooms-Token"


@functools.lru_cache(maxsize=256)  # asked on every upgrade, twice; parsing an address is not free
def _is_loopback_name(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def is_loopback_origin(origin: str) -> bool:
    """`http://localhost:3000`, `http://127.0.0.1`, `http://[::1]:8888`, …"""
    return _is_loopback_name(urlsplit(origin).hostname or "")


def is_same_origin(origin: str, host_header: str | None) -> bool:
    """A page served by this server (`/app/`) talking to its own socket: the Origin's
    host and port are the request's Host."""
    if not host_header:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return parts.netloc.lower() == host_header.strip().lower()


def host_name(host_header: str) -> str:
    """The name in a `Host` header, without its port (`[::1]:4000` -> `::1`)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback_bind(host: str) -> bool:
    """Whether the server listens on a loopback address only."""
    return _is_loopback_name(host or "")


def host_allowed(host_header: str | None, bind_host: str, allowed: tuple[str, ...]) -> bool:
    """DNS-rebinding protection: a server bound to loopback answers only loopback names
    (and those given with `--allow-host`); a server bound elsewhere answers any Host."""
    if not is_loopback_bind(bind_host):
        return True
    name = host_name(host_header or "")
    return _is_loopback_name(name) or "*" in allowed or name in (h.lower() for h in allowed)


def request_token(request: HTTPServerRequest) -> str | None:
    """The token from `?token=` (browsers cannot set headers on a WebSocket),
    `X-SQLRooms-Token`, or `Authorization: Bearer`."""
    values = request.query_arguments.get("token")
    if values:
        return values[-1].decode(errors="replace")
    header = request.headers.get(TOKEN_HEADER, "").strip()
    if header:
        return header
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def tokens_match(candidate: object, expected: str | None) -> bool:
    """Constant-time comparison; no expected token means nothing matches."""
    if expected is None or not isinstance(candidate, str):
        return False
    return hmac.compare_digest(candidate.encode(), expected.encode())
