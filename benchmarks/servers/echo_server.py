"""A bare Tornado WebSocket echo server: the transport floor for a round trip.

python echo_server.py PORT
"""

from __future__ import annotations

import asyncio
import sys

import tornado.web
import tornado.websocket


class Echo(tornado.websocket.WebSocketHandler):
    def open(self, *args: str) -> None:
        self.set_nodelay(True)

    def on_message(self, message: str | bytes) -> None:
        self.write_message(message, binary=isinstance(message, bytes))


async def main(port: int) -> None:
    app = tornado.web.Application([(r"/.*", Echo)])
    app.listen(port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
