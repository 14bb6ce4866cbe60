"""The extension's handlers scrub secrets from their log lines as the server's do."""

from ..web.redact import SECRET_PARAMS, RedactedLogMixin, redact_uri

__all__ = ["SECRET_PARAMS", "RedactedLogMixin", "redact_uri"]
