"""Async adapter for asyncio and trio through anyio: HTTP/1.1 (``HttpCodec``, h11) over a socket
stream and anyio's TLS stream, one kept-alive connection per origin. Cancel it with an anyio
cancel scope: the connection in use is closed, and a request in flight is abandoned
(``flow.abandon_send``), so the flow can be run again or discarded.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any

import anyio
import anyio.abc
import anyio.lowlevel
import h11
from anyio.streams.tls import TLSStream

import sansio_ssooidc as oidc

from ._driver import Show, default_show, tls_context
from .h11 import HttpCodec, _split, dropped

__all__ = ["AsyncRedirectListener", "AsyncTransport", "run", "send"]

FAILURES = (OSError, anyio.BrokenResourceError, anyio.EndOfStream, TimeoutError, oidc.RemoteProtocolError)


async def _close(stream: anyio.abc.AsyncResource) -> None:
    """Close ``stream``, shielded; a peer that skips TLS close_notify is no error of ours."""
    with anyio.CancelScope(shield=True), contextlib.suppress(OSError, anyio.BrokenResourceError):
        await stream.aclose()


class _SocketStream(anyio.abc.ByteStream):
    """A connected non-blocking socket as an anyio byte stream: it reads and writes the socket
    directly, and waits for it only when it must. anyio's socket streams add, on asyncio, a
    protocol, a read queue and a readiness change per read (about half the CPU time of a request),
    and on trio a second stream layer. anyio's TLSStream goes on top for https."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    async def receive(self, max_bytes: int = 65536) -> bytes:
        while True:
            try:
                data = self._sock.recv(max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(self._sock)
            else:
                if not data:
                    raise anyio.EndOfStream
                return data

    async def send(self, item: bytes) -> None:
        view = memoryview(item)
        while view:
            try:
                view = view[self._sock.send(view) :]
            except BlockingIOError:
                await anyio.wait_writable(self._sock)
        # A scheduling point, as anyio's own streams make every send: other tasks run, and a
        # nearby server's answer is often in by the first read, which then needs no wait.
        await anyio.lowlevel.cancel_shielded_checkpoint()

    async def send_eof(self) -> None:
        self._sock.shutdown(socket.SHUT_WR)

    async def aclose(self) -> None:
        self._sock.close()  # no task waits on it: one task uses a connection at a time


def _socket_of(stream: anyio.abc.ByteStream) -> socket.socket:
    """The socket under ``stream`` (a ``_SocketStream``, or anyio's TLS stream over one)."""
    inner = stream.transport_stream if isinstance(stream, TLSStream) else stream
    assert isinstance(inner, _SocketStream)
    return inner._sock


#: A kept-alive connection: its stream, codec and socket.
_Kept = tuple[anyio.abc.ByteStream, HttpCodec, socket.socket]


async def _connect(host: str, port: int) -> _SocketStream:
    """A TCP connection to the first address of ``host`` that answers (as ``socket.create_connection``)."""
    error: OSError | None = None
    for family, kind, proto, _, address in await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                sock.connect(address)
            except BlockingIOError:
                await anyio.wait_writable(sock)
                if code := sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    raise OSError(code, f"connecting to {host}:{port}: {os.strerror(code)}") from None
            return _SocketStream(sock)
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    raise error or OSError(f"no address found for {host}")


class AsyncTransport:
    """Sends requests over anyio streams, keeping connections alive for reuse; at most
    ``max_connections`` at once, so thousands of flows can share one transport."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        ca_bundle: str | None = None,
        environ: Mapping[str, str] | None = None,
        max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE,
        max_connections: int = 10,
    ) -> None:
        self._timeouts = (connect_timeout, read_timeout)
        self._tls = tls_context(ca_bundle, os.environ if environ is None else environ)
        self._max_body_size = max_body_size
        # Many flows can share one transport; requests beyond this many wait for a connection.
        self._limiter = anyio.CapacityLimiter(max_connections)
        # Idle kept-alive connections per origin (stream, its codec, its socket); concurrent
        # sends each take their own.
        self._conns: dict[tuple[str, str, int], list[_Kept]] = {}

    async def send(self, request: oidc.HttpRequest) -> oidc.HttpResponse:
        """Send ``request`` and read its response (raises one of ``FAILURES`` on transport trouble)."""
        limiter = self._limiter
        try:  # a free connection slot needs no trip through the event loop
            limiter.acquire_nowait()
        except anyio.WouldBlock:
            await limiter.acquire()
        try:
            return await self._send(request)
        finally:
            limiter.release()

    async def exchange(
        self, flow: Any, request: oidc.HttpRequest, *, clock: Callable[[], float] = time.time
    ) -> None:
        """Send a flow's ``request`` (from its :class:`~sansio_ssooidc.Send`) and report the outcome
        to ``flow``: the response, or the transport failure (the flow decides whether to retry).
        Cancelled meanwhile, it calls ``flow.abandon_send`` first, so the flow can be run again.
        For code that drives a flow itself (a web service advancing a login per HTTP request)."""
        try:
            response = await self.send(request)
        except FAILURES as exc:
            flow.receive_failure(exc, clock())
        except BaseException:  # cancelled mid-request: the flow forgets it and can resume
            flow.abandon_send(clock())
            raise
        else:
            flow.receive_response(response, clock())

    async def _open(self, scheme: str, host: str, port: int) -> anyio.abc.ByteStream:
        with anyio.fail_after(self._timeouts[0]):  # resolving, connecting and the TLS handshake
            stream = await _connect(host, port)
            if scheme != "https":
                return stream
            try:
                # Not standard_compatible: HTTP frames its own messages (anyio's advice for HTTP),
                # and closing never waits for the peer's close_notify.
                return await TLSStream.wrap(
                    stream, hostname=host, ssl_context=self._tls, standard_compatible=False
                )
            except BaseException:
                await _close(stream)
                raise

    async def _idle(self, key: tuple[str, str, int]) -> _Kept | None:
        """A kept-alive connection to ``key`` that is still usable (see ``dropped``), if any."""
        idle = self._conns.get(key, [])
        while idle:
            kept = idle.pop()
            if not dropped(kept[2]):
                return kept
            await _close(kept[0])
        return None

    async def _send(self, request: oidc.HttpRequest) -> oidc.HttpResponse:
        key = _split(request.url)[0]
        kept = await self._idle(key)
        reused = kept is not None
        if kept is None:
            stream = await self._open(*key)
            kept = (stream, HttpCodec(max_body_size=self._max_body_size), _socket_of(stream))
        stream, codec, _ = kept
        response, sent = None, False
        try:
            await anyio.lowlevel.checkpoint_if_cancelled()  # the stream waits only when it must
            # The read timeout covers the whole exchange (a bare scope: fail_after costs more).
            with anyio.CancelScope(deadline=anyio.current_time() + self._timeouts[1]):
                await stream.send(codec.send(request))
                sent = True
                while response is None:
                    try:
                        data = await stream.receive(65536)
                    except anyio.EndOfStream:
                        data = b""
                    response = codec.receive(data)
            if response is None:
                raise TimeoutError(f"no complete response within {self._timeouts[1]} s")
        except BaseException as exc:
            await _close(stream)
            # Found dead while the request was written: the server cannot hold a whole request,
            # so one fresh try sends nothing twice. Once written, a failure goes to the flow.
            if reused and not sent and isinstance(exc, (ConnectionError, anyio.BrokenResourceError)):
                return await self._send(request)
            raise
        if codec.reusable:
            self._conns.setdefault(key, []).append(kept)
        else:
            await _close(stream)
        return response

    async def aclose(self) -> None:
        """Close every kept-alive connection."""
        conns, self._conns = [c for idle in self._conns.values() for c in idle], {}
        for stream, _, _ in conns:
            await _close(stream)

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncRedirectListener:
    """The PKCE redirect listener for anyio: binds 127.0.0.1 only, port 0 = any free one.

    ``async with AsyncRedirectListener() as listener:`` then pass ``listener.redirect_uri`` to the
    flow and ``listener`` to :func:`run`. Each client gets 5 s (``timeout``) and 16 KiB of request
    head; a callback not taken by :meth:`deliver` by then gets the NOT_WAITING page.
    """

    timeout = 5.0  # per client: for its request head, and for deliver to take its callback

    class _Callback:
        """A callback request queued for ``deliver``: either deliver takes it and answers, or its
        handler gives up and answers NOT_WAITING, never both. Both test and set ``taken`` with no
        await point in between, and deliver sets ``answer`` in the same step as ``taken``."""

        def __init__(self, query: str) -> None:
            self.query = query
            self.taken = False
            self.answer: oidc.RedirectAnswer | None = None
            self.answered = anyio.Event()
            self.written = anyio.Event()  # the page is written (or the client is gone)

    def __init__(self, *, port: int = 0, path: str = "/oauth/callback") -> None:
        self._port, self._path = port, path
        self._send, self._receive = anyio.create_memory_object_stream[AsyncRedirectListener._Callback](16)

    async def __aenter__(self) -> AsyncRedirectListener:
        self._listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self._port)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._listener.serve, self._handle, self._group)
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        # The body's own exception (a failed login) is not handed to the task group, which would
        # wrap it in an ExceptionGroup; it propagates as it is once everything is closed.
        self._group.cancel_scope.cancel()
        try:
            await self._group.__aexit__(None, None, None)
        finally:
            await self._listener.aclose()
            self._send.close()
            self._receive.close()

    @property
    def redirect_uri(self) -> str:
        """``http://127.0.0.1:PORT/oauth/callback`` with the bound port."""
        port = self._listener.extra(anyio.abc.SocketAttribute.local_address)[1]  # noqa: S610
        return f"http://127.0.0.1:{port}{self._path}"

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        # A client that sends junk, goes silent or hangs up loses its connection, nothing more.
        with contextlib.suppress(h11.ProtocolError, anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            async with stream:
                await self._answer(stream, anyio.current_time() + self.timeout)

    async def _answer(self, stream: anyio.abc.SocketStream, deadline: float) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
        with anyio.CancelScope(deadline=deadline):
            while (event := conn.next_event()) is h11.NEED_DATA:
                conn.receive_data(await stream.receive(4096))
        if not isinstance(event, h11.Request):  # not HTTP, or not all of the head in time
            return
        path, _, query = event.target.decode("latin-1").partition("?")
        callback = self._Callback(query) if path == self._path and query else None
        try:
            answer = oidc.RedirectAnswer.NOT_FOUND
            if callback is not None:
                with anyio.CancelScope(deadline=deadline):
                    await self._send.send(callback)
                    await callback.answered.wait()
                callback.taken = True  # given up, unless deliver took it (and then answered it)
                answer = callback.answer or oidc.RedirectAnswer.NOT_WAITING
            body = answer.html()
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
            events: list[Any] = [h11.Response(status_code=answer.status, headers=headers)]
            if event.method != b"HEAD":  # a HEAD answer carries the headers only
                events.append(h11.Data(data=body))
            events.append(h11.EndOfMessage())
            with anyio.move_on_after(2):  # a small page: a client that does not take it is dropped
                for ev in events:
                    await stream.send(conn.send(ev) or b"")
        finally:
            if callback is not None:
                callback.written.set()

    async def deliver(self, flow: Any, *, until: float, clock: Callable[[], float]) -> None:
        """Hand callback requests to ``flow`` until one is accepted, the flow fails, or ``until``.
        Only requests whose handler still waits are handed over (the others got NOT_WAITING)."""
        with anyio.move_on_after(max(0.0, until - clock())):
            async for callback in self._receive:
                if callback.taken:
                    continue
                callback.taken = True
                try:
                    answer = callback.answer = flow.answer_redirect(callback.query, clock())
                finally:
                    callback.answered.set()
                if answer.error is not None or answer.accepted:
                    with anyio.move_on_after(2):  # the last page is written before the listener closes
                        await callback.written.wait()
                    if answer.error is not None:
                        raise answer.error
                    return


async def run(
    flow: Any,
    *,
    transport: AsyncTransport | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    ca_bundle: str | None = None,
    environ: Mapping[str, str] | None = None,
    max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE,
    show: Show | None = None,
    listener: AsyncRedirectListener | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> Any:
    """Drive ``flow`` to its result. A ``transport`` you pass is left open."""
    show = show or default_show
    own = transport is None
    transport = transport or AsyncTransport(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        ca_bundle=ca_bundle,
        environ=environ,
        max_body_size=max_body_size,
    )
    try:
        while True:
            action = flow.next_action(clock())
            if isinstance(action, oidc.Send):
                await transport.exchange(flow, action.request, clock=clock)
            elif isinstance(action, oidc.Wait):
                await sleep(max(0.0, action.until - clock()))
            elif isinstance(action, oidc.AwaitRedirect):
                if listener is None:
                    raise oidc.ParameterError("an AuthCodeFlow needs listener=AsyncRedirectListener()")
                await listener.deliver(flow, until=action.until, clock=clock)
            elif isinstance(action, oidc.Done):
                return action.result
            else:
                show(action)
    finally:
        if own:
            await transport.aclose()


async def send(
    op: Any,
    endpoint: str,
    *,
    transport: AsyncTransport | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    ca_bundle: str | None = None,
    environ: Mapping[str, str] | None = None,
    max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE,
    **request_options: Any,
) -> Any:
    """Send one operation and parse its response; ``request_options`` go to ``op.to_request``."""
    own = transport is None
    transport = transport or AsyncTransport(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        ca_bundle=ca_bundle,
        environ=environ,
        max_body_size=max_body_size,
    )
    try:
        return op.parse_response(await transport.send(op.to_request(endpoint, **request_options)))
    finally:
        if own:
            await transport.aclose()
