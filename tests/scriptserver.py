"""A scripted loopback HTTP server for adapter tests: each connection runs a test's script."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable

Script = Callable[[int, socket.socket, "ScriptServer"], None]


class ScriptServer:
    """A loopback server running ``script(index, conn, server)`` on each connection it accepts,
    in a thread of its own; ``requests`` logs the requests it read (head and body), in order;
    ``stopped`` is set when the server closes."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self.connections = 0
        self.events: dict[str, threading.Event] = {}
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self.stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def event(self, name: str) -> threading.Event:
        return self.events.setdefault(name, threading.Event())

    def read_request(self, conn: socket.socket) -> bytes | None:
        """One request (head, blank line, body), or ``None`` if the client closed before its head
        was complete; a body the client cut short is what arrived of it."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        while len(body) < length and (chunk := conn.recv(65536)):
            body += chunk
        request = head + b"\r\n\r\n" + body
        self.requests.append(request)
        return request

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            index, self.connections = self.connections, self.connections + 1
            threading.Thread(target=self._run, args=(index, conn), daemon=True).start()

    def _run(self, index: int, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            with contextlib.suppress(OSError):
                self.script(index, conn, self)

    def close(self) -> None:
        self.stopped.set()
        self._thread.join(5)
        self._sock.close()
