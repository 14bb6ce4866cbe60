"""A raw-socket WebSocket client for attacks a library client will not make: frames that
announce more than they send, sockets that never read."""

from __future__ import annotations

import base64
import os
import socket
import struct


def client_frame(
    opcode: int, payload: bytes, *, fin: bool = True, length: int | None = None
) -> bytes:
    """A masked client frame; `length` may announce more than `payload` holds."""
    size = len(payload) if length is None else length
    first = (0x80 if fin else 0) | opcode
    if size < 126:
        head = struct.pack("!BB", first, 0x80 | size)
    elif size <= 0xFFFF:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    mask = os.urandom(4)
    masked = (
        bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        if len(payload) < 4096
        else (_mask_large(mask, payload))
    )
    return head + mask + masked


def _mask_large(mask: bytes, payload: bytes) -> bytes:
    key = int.from_bytes((mask * (len(payload) // 4 + 1))[: len(payload)], "little")
    return (int.from_bytes(payload, "little") ^ key).to_bytes(len(payload), "little")


class RawSocket:
    """One upgraded WebSocket on a plain socket; reads only when asked."""

    def __init__(self, port: int, path: str = "/", *, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket()
        if rcvbuf is not None:  # before connect, so that the window stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            response += chunk
        head, _, self._buffer = response.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_text(self, text: str) -> None:
        self.sock.sendall(client_frame(0x1, text.encode()))

    def _read(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def recv_frame(self) -> tuple[int, bytes]:
        """The next (opcode, payload) the server sent."""
        first, second = self._read(2)
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._read(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._read(8))[0]
        return first & 0x0F, self._read(size)

    def close_code(self) -> int | None:
        """Read frames until the server's close frame: its code (None if the socket ended
        without one); raises TimeoutError if the server keeps it open."""
        try:
            while True:
                opcode, payload = self.recv_frame()
                if opcode == 0x8:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        except ConnectionError:
            return None

    def close(self) -> None:
        self.sock.close()
