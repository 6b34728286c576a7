"""Synchronous sockets with h11, and :class:`HttpCodec`, the bytes helper for custom transports.

``HttpCodec`` turns an :class:`~sansio_ssooidc.HttpRequest` into bytes and bytes back into an
:class:`~sansio_ssooidc.HttpResponse`; anything that can write and read bytes can carry the protocol.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import h11

import sansio_ssooidc as oidc

from ._driver import RedirectListener, Show, run_sync, tls_context

__all__ = ["HttpCodec", "RedirectListener", "SocketTransport", "run", "send"]

_UNSAFE = re.compile(r"[\r\n\0]")


class HttpCodec:
    """HTTP/1.1 framing for one connection: ``send(request) -> bytes``, then ``receive(data)``
    until it returns the response (``b""`` means the peer closed). Reusable while ``reusable``."""

    def __init__(self, *, max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE) -> None:
        # Headers are bounded by h11's default (16 KiB); the body by max_body_size.
        self._conn = h11.Connection(h11.CLIENT)
        self._max = max_body_size
        self._head: h11.Response | None = None
        self._body = bytearray()
        #: Bytes received for the current response (0: the peer has not started answering).
        self.received = 0

    @property
    def reusable(self) -> bool:
        """Whether another request may go over this connection (keep-alive)."""
        return self._conn.our_state is h11.IDLE or (
            self._conn.our_state is h11.DONE and self._conn.their_state is h11.DONE
        )

    def send(self, request: oidc.HttpRequest) -> bytes:
        """The bytes of ``request``, with ``Host`` added from its URL."""
        if self._conn.our_state is h11.DONE:
            self._conn.start_next_cycle()
        url = urlsplit(request.url)
        target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        headers = [("Host", url.netloc), *request.headers]
        if not any(k.lower() == "content-length" for k, _ in headers):
            headers.append(("Content-Length", str(len(request.body))))
        self._head, self._body, self.received = None, bytearray(), 0
        # h11 tracks the connection's state; the bytes themselves are written here (h11's own
        # header validation costs more than the rest of a request), after the one check that
        # matters for values we did not write ourselves: no CR, LF or NUL (header injection).
        self._conn.send(h11.Request(method=request.method, target=target, headers=[("Host", url.netloc)]))
        self._conn.send(h11.EndOfMessage())
        if _UNSAFE.search(target + "".join(k + v for k, v in headers)):
            raise oidc.ParameterError("a request header or target contains CR, LF or NUL")
        head = f"{request.method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        return head.encode("latin-1") + b"\r\n" + request.body

    def receive(self, data: bytes) -> oidc.HttpResponse | None:
        """Feed bytes read from the peer; the response once complete, else ``None``."""
        if not data and not self.received:  # closed before answering: a reset, not a bad answer
            raise ConnectionResetError("connection closed before the response was complete")
        self.received += len(data)
        self._conn.receive_data(data)
        while True:
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise oidc.RemoteProtocolError(f"malformed HTTP response: {exc}") from None
            if event is h11.NEED_DATA:
                if not data:
                    raise ConnectionResetError("connection closed before the response was complete")
                return None
            if isinstance(event, h11.Response):
                self._head = event
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > self._max:
                    raise oidc.RemoteProtocolError(f"response body exceeds {self._max} bytes")
            elif isinstance(event, h11.EndOfMessage):
                assert self._head is not None
                if not 100 <= self._head.status_code <= 599:  # h11 takes any three digits
                    raise oidc.RemoteProtocolError(
                        f"HTTP status {self._head.status_code} is not a valid status"
                    )
                return oidc.HttpResponse(
                    status=self._head.status_code,
                    headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in self._head.headers),
                    body=bytes(self._body),
                    reason=self._head.reason.decode("latin-1"),
                )


class SocketTransport:
    """Sends requests over plain sockets, keeping one connection per origin alive."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        ca_bundle: str | None = None,
        environ: Mapping[str, str] | None = None,
        max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        self._timeouts = (connect_timeout, read_timeout)
        self._ca = (ca_bundle, os.environ if environ is None else environ)
        self._tls: ssl.SSLContext | None = None  # built on the first https connection (~30 ms)
        self._max_body_size = max_body_size
        # Idle kept-alive connections per origin; concurrent sends each take their own.
        self._conns: dict[tuple[str, str, int], list[tuple[socket.socket, HttpCodec]]] = {}

    def _connect(self, scheme: str, host: str, port: int) -> socket.socket:
        sock = socket.create_connection((host, port), timeout=self._timeouts[0])
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if self._tls is None:
                    self._tls = tls_context(*self._ca)
                sock = self._tls.wrap_socket(sock, server_hostname=host)
            sock.settimeout(self._timeouts[1])
        except BaseException:
            sock.close()
            raise
        return sock

    def send(self, request: oidc.HttpRequest) -> oidc.HttpResponse:
        """Send ``request`` and read its response; transport problems raise ``OSError``."""
        url = urlsplit(request.url)
        key = (url.scheme, url.hostname or "", url.port or (443 if url.scheme == "https" else 80))
        idle = self._conns.get(key)
        kept = idle.pop() if idle else None
        reused = kept is not None
        sock, codec = (
            kept if kept is not None else (self._connect(*key), HttpCodec(max_body_size=self._max_body_size))
        )
        try:
            sock.sendall(codec.send(request))
            while (response := codec.receive(sock.recv(65536))) is None:
                pass
        except BaseException as exc:
            sock.close()
            # A kept-alive connection the server closed before answering: one fresh try (nothing
            # was answered, so nothing -- not even a single-use code -- can have been consumed twice).
            if reused and not codec.received and isinstance(exc, ConnectionError):
                return self.send(request)
            raise
        if codec.reusable:
            self._conns.setdefault(key, []).append((sock, codec))
        else:
            sock.close()
        return response

    def close(self) -> None:
        """Close every kept-alive connection."""
        for idle in self._conns.values():
            for sock, _ in idle:
                sock.close()
        self._conns.clear()


def run(
    flow: Any,
    *,
    transport: SocketTransport | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    ca_bundle: str | None = None,
    environ: Mapping[str, str] | None = None,
    max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE,
    show: Show | None = None,
    listener: RedirectListener | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Drive ``flow`` to its result over sockets. A ``transport`` you pass is left open."""
    own = transport is None
    transport = transport or SocketTransport(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        ca_bundle=ca_bundle,
        environ=environ,
        max_body_size=max_body_size,
    )
    try:
        return run_sync(
            flow, transport.send, (OSError, oidc.RemoteProtocolError), show, listener, clock, sleep
        )
    finally:
        if own:
            transport.close()


def send(
    op: Any,
    endpoint: str,
    *,
    transport: SocketTransport | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    ca_bundle: str | None = None,
    environ: Mapping[str, str] | None = None,
    max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE,
    **request_options: Any,
) -> Any:
    """Send one operation and parse its response; ``request_options`` go to ``op.to_request``
    (``credentials`` and ``now`` for CreateTokenWithIAM)."""
    own = transport is None
    transport = transport or SocketTransport(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        ca_bundle=ca_bundle,
        environ=environ,
        max_body_size=max_body_size,
    )
    try:
        return op.parse_response(transport.send(op.to_request(endpoint, **request_options)))
    finally:
        if own:
            transport.close()
