"""Synchronous sockets with h11, and :class:`HttpCodec`, the bytes helper for custom transports.

``HttpCodec`` turns an :class:`~sansio_ssooidc.HttpRequest` into bytes and bytes back into an
:class:`~sansio_ssooidc.HttpResponse`; anything that can write and read bytes can carry the protocol.
"""

from __future__ import annotations

import functools
import os
import re
import select
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import h11

import sansio_ssooidc as oidc

from ._driver import RedirectListener, Show, run_sync, tls_context

__all__ = ["HttpCodec", "RedirectListener", "SocketTransport", "dropped", "run", "send"]

# What a request may not contain, checked once over all of it: control bytes other than tab (CR and
# LF would inject lines) in the target and values; in names, anything outside the token grammar.
_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_NAMES = re.compile(r"[-!#$%&'*+.^_`|~0-9A-Za-z]+(?:\n[-!#$%&'*+.^_`|~0-9A-Za-z]+)*")
_END = h11.EndOfMessage()
# The plainest of responses, taken apart without h11: a whole HTTP/1.1 head of ASCII header lines
# (each matched in full, as strictly as h11 does or more), then exactly Content-Length bytes. Any
# other shape -- a split read, chunks, 1xx/204/304, obs-fold, odd bytes -- goes to h11 as it is.
_PLAIN = re.compile(
    rb"HTTP/1\.1 ([2-5][0-9][0-9])(?: ([\x20-\x7e]*))?\r\n"
    rb"((?:[-!#$%&'*+.^_`|~0-9A-Za-z]+:[ \t]*(?:[\x21-\x7e][\x20-\x7e]*)?\r\n)*)\r\n"
)


@functools.lru_cache(maxsize=64)
def _split(url: str) -> tuple[tuple[str, str, int], str, str]:
    """``((scheme, host, port), Host header, target)`` of ``url``. The Host header is what SigV4
    signs (lowercase host, IPv6 in brackets, the port only when not the scheme's default), never
    the URL's user info."""
    u = urlsplit(url)
    default = 443 if u.scheme == "https" else 80
    hostname = u.hostname or ""
    key = (u.scheme, hostname, u.port or default)
    host = f"[{hostname}]" if ":" in hostname else hostname
    if u.port and u.port != default:
        host = f"{host}:{u.port}"
    target = (u.path or "/") + (f"?{u.query}" if u.query else "")
    if " " in target or not target.isascii():
        raise oidc.ParameterError(f"request URL {url!r} has a space or a non-ASCII character in its path")
    try:
        if not hostname.encode("idna"):  # what the resolver will do with it
            raise UnicodeError
    except UnicodeError:
        raise oidc.ParameterError(
            f"request URL {url!r} has no valid host name (empty, or a label empty or over 63 characters)"
        ) from None
    return key, host, target


@functools.lru_cache(maxsize=16)
def _tracked(method: str, connection: str | None) -> h11.Request:
    """What h11 must know of a request to read its answer: the method (a HEAD answer has no
    body) and any ``Connection`` header (``close`` ends keep-alive)."""
    extra = [] if connection is None else [("Connection", connection)]
    return h11.Request(method=method, target="/", headers=[("Host", "h"), *extra])


def _plain(data: bytes, max_body: int) -> tuple[oidc.HttpResponse, bool] | None:
    """``(response, keep_alive)`` if ``data`` is exactly one plain response, else ``None``."""
    head = _PLAIN.match(data)
    if head is None or head[1] in (b"204", b"304"):
        return None
    headers: list[tuple[str, str]] = []
    length, keep_alive = None, True
    for line in head[3].decode("ascii").split("\r\n")[:-1]:
        name, _, value = line.partition(":")
        name, value = name.lower(), value.strip(" \t")
        if name == "content-length":
            if length is not None or not value.isdigit() or len(value) > 20:
                return None  # h11 judges repeated, odd or absurdly long lengths
            length = int(value)
        elif name == "transfer-encoding":
            return None
        elif name == "connection" and "close" in (t.strip().lower() for t in value.split(",")):
            keep_alive = False
        headers.append((name, value))
    body = data[head.end() :]
    if length is None or length != len(body) or length > max_body:
        return None
    reason = (head[2] or b"").decode("ascii")
    response = oidc.HttpResponse(status=int(head[1]), headers=tuple(headers), body=body, reason=reason)
    return response, keep_alive


def dropped(sock: socket.socket) -> bool:
    """Whether an idle kept-alive connection is unusable: the peer closed it, or it holds bytes
    nobody asked for (a late ``408``, say), which must never pass for the next answer. urllib3
    makes the same check before it reuses a connection."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        if not hasattr(select, "poll"):  # Windows: select, whose limit on descriptors it lacks
            return bool(select.select([sock], [], [], 0)[0])
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):  # closed meanwhile
        return True


class HttpCodec:
    """HTTP/1.1 framing for one connection: ``send(request) -> bytes``, then ``receive(data)``
    until it returns the response (``b""`` means the peer closed). Reusable while ``reusable``."""

    def __init__(self, *, max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE) -> None:
        # Headers are bounded by h11's default (16 KiB); the body by max_body_size.
        self._max = max_body_size
        # h11 reads any response a single plain read does not carry (see _PLAIN), from a fresh
        # connection state told of the request; None while no response went to it.
        self._conn: h11.Connection | None = None
        self._request: h11.Request | None = None  # what h11 is told, None: no request pending
        self._idle = True  # no request pending and the connection can carry another
        self._fast = False  # whether this response may be a plain one
        self._head: h11.Response | None = None
        self._body = bytearray()
        #: Bytes received for the current response (0: the peer has not started answering).
        self.received = 0

    @property
    def reusable(self) -> bool:
        """Whether another request may go over this connection (keep-alive)."""
        conn = self._conn
        if conn is None:
            return self._idle
        if conn.trailing_data[0]:  # bytes past the response nobody asked for: never the next answer
            return False
        return conn.our_state is h11.IDLE or (conn.our_state is h11.DONE and conn.their_state is h11.DONE)

    def send(self, request: oidc.HttpRequest) -> bytes:
        """The bytes of ``request``, with ``Host`` added from its URL."""
        _, host, target = _split(request.url)
        lines = [f"{request.method} {target} HTTP/1.1", f"Host: {host}"]
        names, connection = [], None
        for name, value in request.headers:
            low = name.lower()
            if low == "host":
                continue  # the URL's, written above (what SigV4 signs when the request names none)
            if low == "content-length" and value != str(len(request.body)):
                raise oidc.ParameterError(
                    f"Content-Length {value!r} does not match the {len(request.body)}-byte body"
                )
            if low == "transfer-encoding":
                raise oidc.ParameterError(
                    "Transfer-Encoding is not supported: send the body with a Content-Length"
                )
            if low == "connection":
                connection = value if connection is None else f"{connection}, {value}"
            names.append(name)
            lines.append(f"{name}: {value}")
        if not any(n.lower() == "content-length" for n in names):
            lines.append(f"Content-Length: {len(request.body)}")
        # The bytes are written here (h11's own header validation costs more than the rest of a
        # request), after the checks that matter for what we did not write ourselves: header names
        # are tokens, and nothing holds a control character but tab (no CR or LF: no injection).
        if _UNSAFE.search("".join(lines)) or (names and not _NAMES.fullmatch("\n".join(names))):
            raise oidc.ParameterError(
                "a request header name is not a token, or the target or a header holds a control character"
            )
        tracked = _tracked(request.method, connection)
        conn = self._conn
        if conn is not None:
            if not self.reusable:  # h11 refuses a new cycle, or holds bytes nobody asked for
                raise h11.LocalProtocolError("this connection cannot carry another request")
            conn, self._conn, self._idle = None, None, True  # a clean end: back to plain reads
        if not self._idle:
            raise h11.LocalProtocolError("this connection cannot carry another request")
        self._idle, self._request = False, tracked
        self._fast = connection is None and request.method not in ("HEAD", "CONNECT")
        self._head, self._body, self.received = None, bytearray(), 0
        return "\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + request.body

    def receive(self, data: bytes) -> oidc.HttpResponse | None:
        """Feed bytes read from the peer; the response once complete, else ``None``."""
        if not data and not self.received:  # closed before answering: a reset, not a bad answer
            raise ConnectionResetError("connection closed before the response was complete")
        self.received += len(data)
        if self._fast:
            self._fast = False
            plain = _plain(data, self._max)
            if plain is not None:
                self._idle, self._request = plain[1], None
                return plain[0]
        conn = self._conn
        if conn is None:  # hand the whole exchange to h11
            if self._request is None:
                raise h11.LocalProtocolError("no request is waiting for a response")
            conn = self._conn = h11.Connection(h11.CLIENT)
            conn.send(self._request)
            conn.send(_END)
        conn.receive_data(data)
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise oidc.RemoteProtocolError(f"malformed HTTP response: {exc}") from None
            kind = type(event)
            if kind is h11.Data:
                self._body += event.data  # type: ignore[union-attr]
                if len(self._body) > self._max:
                    raise oidc.RemoteProtocolError(f"response body exceeds {self._max} bytes")
            elif kind is h11.Response:
                self._head = event  # type: ignore[assignment]
            elif kind is h11.EndOfMessage:
                head = self._head
                assert head is not None
                if not 100 <= head.status_code <= 599:  # h11 takes any three digits
                    raise oidc.RemoteProtocolError(f"HTTP status {head.status_code} is not a valid status")
                return oidc.HttpResponse(
                    status=head.status_code,
                    headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers),
                    body=bytes(self._body),
                    reason=head.reason.decode("latin-1"),
                )
            elif event is h11.NEED_DATA:
                if not data:
                    raise ConnectionResetError("connection closed before the response was complete")
                return None
            elif event is h11.PAUSED:  # the answer was read already: receive() without send()
                raise h11.LocalProtocolError("no request is waiting for a response")


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
        """Send ``request`` and read its response; transport problems raise ``OSError``. The read
        timeout bounds the whole exchange (a server trickling bytes cannot stretch it)."""
        key = _split(request.url)[0]
        kept = self._idle(key)
        reused = kept is not None
        sock, codec = kept or (self._connect(*key), HttpCodec(max_body_size=self._max_body_size))
        timeout = self._timeouts[1]
        deadline, sent = time.monotonic() + timeout, False
        try:
            sock.settimeout(timeout)
            sock.sendall(codec.send(request))
            sent = True
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no complete response within {timeout} s")
                sock.settimeout(left)
                if (response := codec.receive(sock.recv(65536))) is not None:
                    break
        except BaseException as exc:
            sock.close()
            # A kept-alive connection found dead while the request was being written: the server
            # cannot hold a whole request, so one fresh try sends nothing twice. Once written, a
            # failure goes to the flow, which knows whether the request may have done its work.
            if reused and not sent and isinstance(exc, ConnectionError):
                return self.send(request)
            raise
        if codec.reusable:
            self._conns.setdefault(key, []).append((sock, codec))
        else:
            sock.close()
        return response

    def _idle(self, key: tuple[str, str, int]) -> tuple[socket.socket, HttpCodec] | None:
        """A kept-alive connection to ``key`` that is still usable, if there is one."""
        idle = self._conns.get(key, [])
        while True:
            try:
                sock, codec = idle.pop()
            except IndexError:  # none left (another thread may have taken the last one)
                return None
            if not dropped(sock):
                return sock, codec
            sock.close()

    def close(self) -> None:
        """Close every kept-alive connection."""
        for idle in self._conns.values():
            for sock, _ in idle:
                sock.close()
        self._conns.clear()

    def __enter__(self) -> SocketTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
