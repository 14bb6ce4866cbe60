"""The Jupyter server extension app: configuration, routes and shutdown.

Enabled by `jupyter-config/jupyter_server_config.d/sqlrooms_jupyter.json`
(installed with the package). Configure it like any Jupyter server class,
e.g. `c.SqlroomsServerExtension.max_buffered_bytes = 32 * 1024**2` in
`jupyter_server_config.py`, or `--SqlroomsServerExtension.ping_interval=20`.
"""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int

from .._version import __version__
from .app_route import app_routes
from .handlers import routes
from .manager import Limits, RelayManager
from .relay import CLOSE_JUPYTER_STOPPING, CLOSE_REASONS


class SqlroomsServerExtension(ExtensionApp):
    """Relays browser clients to the SQLRooms servers of this Jupyter server's kernels."""

    name = "sqlrooms_jupyter"
    version = __version__
    description = __doc__
    load_other_extensions = True

    max_message_size = Int(
        1 << 30,
        min=1,
        help="""Largest message, in bytes, a browser client may send through the relay
        (e.g. an Arrow upload); a larger one closes its socket with code 1009. The
        kernel's server applies its own limit too. Results from the kernel are relayed
        frame by frame as they arrive and are not limited here.""",
    ).tag(config=True)

    ping_interval = Float(
        30.0,
        min=0.0,
        help="""Seconds between keepalive pings to each relayed browser client, so that
        proxies keep idle sockets open; 0 disables them. A client that does not answer a
        ping within one interval is dropped.""",
    ).tag(config=True)

    max_buffered_bytes = Int(
        16 << 20,
        min=1 << 16,
        help="""Bytes waiting to be sent to one relayed browser client before the relay
        stops reading from the kernel's server (whose queries then wait in turn): a slow
        client slows its own queries instead of growing this server's memory.""",
    ).tag(config=True)

    connect_timeout = Float(
        10.0,
        min=0.1,
        help="Seconds to wait for a kernel's SQLRooms server to accept a relayed connection.",
    ).tag(config=True)

    status_timeout = Float(
        5.0,
        min=0.1,
        help="Seconds to wait for a kernel's SQLRooms server to report its status.",
    ).tag(config=True)

    restart_timeout = Float(
        60.0,
        min=0.0,
        help="""Seconds to wait, once a kernel went away, for it to come back before its
        relayed clients are told it shut down (code 4002) rather than restarted (4001).""",
    ).tag(config=True)

    relay_manager: RelayManager

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        limits = Limits(
            connect_timeout=self.connect_timeout,
            status_timeout=self.status_timeout,
            restart_timeout=self.restart_timeout,
        )
        self.relay_manager = RelayManager(self.serverapp, limits, self.log)

    def initialize_handlers(self) -> None:
        self.handlers.extend(routes())
        self.handlers.extend(app_routes())

    async def stop_extension(self) -> None:
        self.relay_manager.close_all(CLOSE_JUPYTER_STOPPING, CLOSE_REASONS[CLOSE_JUPYTER_STOPPING])
