"""Secrets out of the log: request URLs carry tokens (`?token=`), the server's own and
Jupyter's (through the server extension's routes).

Tornado logs an error's request as its full URL (and the request's repr); Jupyter's own
access log scrubs the same parameters (`token`, `auth`, `key`, `code`, `state`, `xsrf`,
and `ServerApp.extra_log_scrub_param_keys`) to `[secret]`, and so does this, for both.
"""

from __future__ import annotations

from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

from tornado import web
from tornado.log import app_log, gen_log

SECRET_PARAMS = ("token", "auth", "key", "code", "state", "xsrf")


def redact_uri(uri: str, extra_params: tuple[str, ...] | list[str] = ()) -> str:
    """`uri` with the value of every parameter whose name contains a secret word replaced
    by `[secret]` (Jupyter's rule)."""
    parts = urlsplit(uri)
    if not parts.query:
        return uri
    words = (*SECRET_PARAMS, *extra_params)
    params = []
    for param in parts.query.split("&"):
        name, sep, _ = param.partition("=")
        params.append(f"{name}{sep}[secret]" if any(w in name.lower() for w in words) else param)
    return urlunsplit(parts._replace(query="&".join(params)))


class RedactedLogMixin:
    """For every handler (the server's and the extension's): Tornado's error lines name
    the request with its secrets scrubbed (Tornado's own would log `?token=…` in full)."""

    def request_summary(self) -> str:
        handler: web.RequestHandler = self  # type: ignore[assignment]
        request = handler.request
        extra = handler.settings.get("extra_log_scrub_param_keys", ())
        return f"{request.method} {redact_uri(request.uri or '', extra)} ({request.remote_ip})"

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if isinstance(value, web.HTTPError):
            message = value.get_message()
            if message:
                gen_log.warning("%d %s: %s", value.status_code, self.request_summary(), message)
        else:
            app_log.error("Uncaught exception %s", self.request_summary(), exc_info=value)
