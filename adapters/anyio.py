"""Async adapter for asyncio and trio through anyio: HTTP/1.1 with h11 over anyio TCP/TLS
streams, one kept-alive connection per origin. Cancel it with an anyio cancel scope: the
connections are closed and the flow is left as it was (resumable or discardable)."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.abc
import h11

import sansio_ssooidc as oidc

from ._driver import _PAGE, Show, default_show, tls_context
from .h11 import HttpCodec

__all__ = ["AsyncRedirectListener", "AsyncTransport", "run", "send"]

FAILURES = (OSError, anyio.BrokenResourceError, anyio.EndOfStream, TimeoutError, oidc.RemoteProtocolError)


class AsyncTransport:
    """Sends requests over anyio streams, keeping one connection per origin alive."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        ca_bundle: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._timeouts = (connect_timeout, read_timeout)
        self._tls = tls_context(ca_bundle, os.environ if environ is None else environ)
        self._conns: dict[tuple[str, str, int], tuple[anyio.abc.ByteStream, HttpCodec]] = {}

    async def send(self, request: oidc.HttpRequest) -> oidc.HttpResponse:
        """Send ``request`` and read its response (raises one of ``FAILURES`` on transport trouble)."""
        url = urlsplit(request.url)
        key = (url.scheme, url.hostname or "", url.port or (443 if url.scheme == "https" else 80))
        kept = self._conns.pop(key, None)
        reused = kept is not None
        if kept is None:
            with anyio.fail_after(self._timeouts[0]):
                stream: anyio.abc.ByteStream
                if key[0] == "https":
                    stream = await anyio.connect_tcp(
                        key[1], key[2], ssl_context=self._tls, tls_hostname=key[1]
                    )
                else:
                    stream = await anyio.connect_tcp(key[1], key[2])
            kept = (stream, HttpCodec())
        stream, codec = kept
        try:
            await stream.send(codec.send(request))
            response = None
            while response is None:
                with anyio.fail_after(self._timeouts[1]):
                    try:
                        data = await stream.receive(65536)
                    except anyio.EndOfStream:
                        data = b""
                response = codec.receive(data)
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            if (
                reused
                and not codec.received
                and isinstance(exc, (ConnectionError, anyio.BrokenResourceError))
            ):
                return await self.send(request)  # stale keep-alive connection, nothing answered
            raise
        if codec.reusable:
            self._conns[key] = (stream, codec)
        else:
            await stream.aclose()
        return response

    async def aclose(self) -> None:
        """Close every kept-alive connection."""
        conns, self._conns = list(self._conns.values()), {}
        with anyio.CancelScope(shield=True):
            for stream, _ in conns:
                await stream.aclose()

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class AsyncRedirectListener:
    """The PKCE redirect listener for anyio: binds 127.0.0.1 only, port 0 = any free one.

    ``async with AsyncRedirectListener() as listener:`` then pass ``listener.redirect_uri`` to the
    flow and ``listener`` to :func:`run`. Each client gets 5 s and 16 KiB of request head.
    """

    def __init__(self, *, port: int = 0, path: str = "/oauth/callback") -> None:
        self._port, self._path = port, path
        self._send, self._receive = anyio.create_memory_object_stream[tuple[str, Any]](16)

    async def __aenter__(self) -> AsyncRedirectListener:
        self._listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self._port)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._listener.serve, self._handle, self._group)
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(t, e, tb)
        await self._listener.aclose()

    @property
    def redirect_uri(self) -> str:
        """``http://127.0.0.1:PORT/oauth/callback`` with the bound port."""
        port = self._listener.extra(anyio.abc.SocketAttribute.local_address)[1]  # noqa: S610
        return f"http://127.0.0.1:{port}{self._path}"

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
        async with stream:
            with anyio.move_on_after(5):
                while (event := conn.next_event()) is h11.NEED_DATA:
                    conn.receive_data(await stream.receive(4096))
                if not isinstance(event, h11.Request):
                    return
                path, _, query = event.target.decode("latin-1").partition("?")
                answer = (404, "Not found", "This is the login callback of sansio-ssooidc.")
                if path == self._path and query:
                    reply_send, reply_receive = anyio.create_memory_object_stream[tuple[int, str, str]](1)
                    await self._send.send((query, reply_send))
                    answer = await reply_receive.receive()
                body = _PAGE.format(title=answer[1], text=answer[2]).encode()
                headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
                for ev in (
                    h11.Response(status_code=answer[0], headers=headers),
                    h11.Data(data=body),
                    h11.EndOfMessage(),
                ):
                    await stream.send(conn.send(ev) or b"")

    async def deliver(self, flow: Any, *, until: float, clock: Callable[[], float]) -> None:
        """Hand callback requests to ``flow`` until one is accepted, the flow fails, or ``until``."""
        with anyio.move_on_after(max(0.0, until - clock())):
            async for query, reply in self._receive:
                try:
                    flow.receive_redirect(query, clock())
                except (oidc.StateMismatchError, oidc.MalformedRedirectError):
                    await reply.send(
                        (400, "Not this login", "This link does not belong to the login in progress.")
                    )
                except oidc.RedirectError as exc:
                    await reply.send((400, "Login failed", f"{exc}. Return to your terminal."))
                    raise
                else:
                    await reply.send(
                        (200, "Login complete", "You can close this tab and return to your terminal.")
                    )
                    return


async def run(
    flow: Any,
    *,
    transport: AsyncTransport | None = None,
    show: Show | None = None,
    listener: AsyncRedirectListener | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    **transport_options: Any,
) -> Any:
    """Drive ``flow`` to its result; ``transport_options`` go to :class:`AsyncTransport`."""
    show = show or default_show
    own = transport is None
    transport = transport or AsyncTransport(**transport_options)
    try:
        while True:
            action = flow.next_action(clock())
            if isinstance(action, oidc.Send):
                try:
                    response = await transport.send(action.request)
                except FAILURES as exc:
                    flow.receive_failure(exc, clock())
                else:
                    flow.receive_response(response, clock())
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


async def send(op: Any, endpoint: str, *, transport: AsyncTransport | None = None, **options: Any) -> Any:
    """Send one operation and parse its response; ``options`` go to ``op.to_request``."""
    own = transport is None
    transport = transport or AsyncTransport()
    try:
        return op.parse_response(await transport.send(op.to_request(endpoint, **options)))
    finally:
        if own:
            await transport.aclose()
