"""A loopback HTTPS server with a test CA (trustme) that answers with a sans-IO simulator.

Kept apart from the anyio simulator server on purpose: a second, independent server
implementation (stdlib ``http.server`` + ``ssl``) is what the adapters' TLS tests talk to.
"""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from typing import Any

import trustme

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import Simulator


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        host = self.headers.get("Host", "localhost")
        request = oidc.HttpRequest(
            method=self.command,
            url=f"https://{host}{self.path}",
            headers=list(self.headers.items()),
            body=body,
        )
        response = self.server.simulator.handle(request, time.time())
        self.send_response(response.status, response.reason or None)
        for name, value in response.headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    simulator: Simulator
    context: ssl.SSLContext

    def get_request(self) -> tuple[Any, Any]:
        # Wrap without a handshake here: it happens in the connection's own thread, so a client
        # that refuses our certificate cannot stall the accept loop.
        sock, address = self.socket.accept()
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes are the point of some tests


class TLSServer:
    """``with TLSServer() as s:`` serves ``s.simulator`` on ``s.url`` (https://localhost:PORT);
    ``s.ca_file`` is the PEM of the CA that signed its certificate."""

    def __init__(self, tmp_path: Any) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert("localhost", "127.0.0.1")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        self.ca_file = str(tmp_path / "test-ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.simulator = Simulator()
        self._server.context = context
        self.simulator = self._server.simulator
        self.url = f"https://localhost:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> TLSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
