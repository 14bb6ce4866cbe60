"""`GET {base_url}sqlrooms/app/…`: the SQLRooms app, behind Jupyter's login.

The app then connects to `{base_url}sqlrooms/kernels/<id>/ws` (its `?kernel=` parameter);
Jupyter's cookie signs in both. Same authorization as the relay: `execute` on `kernels`.
"""

from __future__ import annotations

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..web.static_app import AppFilesMixin, app_policy_within
from .handlers import AUTH_RESOURCE, authorized_to_execute
from .redact import RedactedLogMixin


class JupyterAppHandler(RedactedLogMixin, AppFilesMixin, ExtensionHandlerMixin, JupyterHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def content_security_policy(self) -> str:
        """The app's policy (connections to this origin only), inside Jupyter's own."""
        return app_policy_within(super().content_security_policy)

    @web.authenticated
    @authorized_to_execute
    def get(self, path: str) -> None:
        self.serve_app(path)

    @web.authenticated
    @authorized_to_execute
    def head(self, path: str) -> None:
        self.serve_app(path, include_body=False)


class JupyterAppSlashHandler(RedactedLogMixin, ExtensionHandlerMixin, JupyterHandler):
    """`sqlrooms/app` -> `sqlrooms/app/` (the assets' relative URLs need the slash)."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized_to_execute
    def get(self) -> None:
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(f"{self.request.path}/{query}")


def app_routes() -> list[tuple[str, type[web.RequestHandler]]]:
    """Relative to the server's base_url, like `handlers.routes()`."""
    return [
        (r"sqlrooms/app", JupyterAppSlashHandler),
        (r"sqlrooms/app/(.*)", JupyterAppHandler),
    ]
