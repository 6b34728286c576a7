"""Serve a :class:`~sansio_ssooidc.simulator.Simulator` over loopback HTTP/1.1 (h11 + anyio).

``serve`` runs in an event loop (asyncio or trio); ``SimulatorServer`` runs it in a background
thread for synchronous code and tests::

    with SimulatorServer() as server:
        boto3.client("sso-oidc", region_name="us-east-1", endpoint_url=server.url)

This module only moves bytes and waits: the simulator decides every answer, fault and delay.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from http import HTTPStatus
from types import TracebackType

import anyio
import h11
from anyio.abc import ByteStream, SocketAttribute, TaskStatus
from anyio.from_thread import start_blocking_portal

from sansio_ssooidc import HttpRequest
from sansio_ssooidc.simulator import MAX_REQUEST_BODY, Simulator

__all__ = ["IDLE_TIMEOUT", "MAX_CONNECTIONS", "MAX_HEAD_SIZE", "SimulatorServer", "serve"]

#: Largest request line plus headers: botocore's are under 2 KiB; h11's own default is 16 KiB.
MAX_HEAD_SIZE = 16 * 1024
#: A connection that sends or reads nothing for this long is closed, so a stalled peer cannot
#: hold a task forever; clients reopen idle keep-alive connections transparently.
IDLE_TIMEOUT = 30.0
#: Connections served at once; more wait to be accepted. A test opens a handful.
MAX_CONNECTIONS = 64

_CHUNK = 64 * 1024
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")
Clock = Callable[[], float]


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(
    simulator: Simulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    clock: Clock = time.time,
    task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``simulator`` on ``host:port`` (port 0: any free port) until cancelled; reports the
    bound port through ``task_status``. ``clock`` gives ``now`` for each request."""
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    limiter = anyio.CapacityLimiter(MAX_CONNECTIONS)
    bound = listener.extra(SocketAttribute.local_port)  # noqa: S610 - anyio, not Django

    async def handle(stream: ByteStream) -> None:
        async with limiter:
            try:
                await _connection(stream, simulator, clock, _authority(host, bound))
            finally:
                with anyio.CancelScope(shield=True):  # close fully even when the server is stopping
                    await stream.aclose()

    async with listener:
        task_status.started(bound)
        await listener.serve(handle)


async def _receive(stream: ByteStream, conn: h11.Connection) -> object:
    """The next h11 event (an ``h11.Event`` or ``h11.PAUSED``), reading as needed."""
    while (event := conn.next_event()) is h11.NEED_DATA:
        try:
            with anyio.fail_after(IDLE_TIMEOUT):
                data = await stream.receive(_CHUNK)
        except anyio.EndOfStream:
            data = b""
        conn.receive_data(data)
    return event


async def _send(stream: ByteStream, data: bytes | None) -> None:
    if data:
        with anyio.fail_after(IDLE_TIMEOUT):
            await stream.send(data)


async def _connection(stream: ByteStream, simulator: Simulator, clock: Clock, authority: str) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_SIZE)
    try:
        try:
            while await _exchange(stream, conn, simulator, clock, authority):
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:  # not HTTP/1.1: answer 400 (or 431, 505) and close
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                headers = [("Content-Length", "0"), ("Connection", "close")]
                await _send(
                    stream, conn.send(h11.Response(status_code=exc.error_status_hint, headers=headers))
                )
    except (TimeoutError, anyio.BrokenResourceError, anyio.ClosedResourceError):
        pass  # the peer went away or stalled


async def _exchange(
    stream: ByteStream, conn: h11.Connection, simulator: Simulator, clock: Clock, authority: str
) -> bool:
    """Serve one request; whether the connection can carry another."""
    event = await _receive(stream, conn)
    if not isinstance(event, h11.Request):
        return False  # the client closed the connection
    body = bytearray()
    while not isinstance(part := await _receive(stream, conn), h11.EndOfMessage):
        if isinstance(part, h11.Data):
            body += part.data
        if len(body) > MAX_REQUEST_BODY:
            break  # the simulator refuses it; the rest is never read
    headers = tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers)
    host = next((v for k, v in headers if k == "host" and _HOST.fullmatch(v)), authority)
    request = HttpRequest(
        method=event.method.decode("ascii"),
        url=f"http://{host}{event.target.decode('ascii')}",
        headers=headers,
        body=bytes(body),
    )
    reply = simulator.respond(request, clock())
    if reply.delay:
        await anyio.sleep(reply.delay)
    if reply.response is None:
        return False  # a dropped connection: close without answering
    response = reply.response
    try:
        reason = response.reason or HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    await _send(
        stream,
        conn.send(h11.Response(status_code=response.status, headers=list(response.headers), reason=reason)),
    )
    if event.method != b"HEAD":
        await _send(stream, conn.send(h11.Data(data=response.body)))
    await _send(stream, conn.send(h11.EndOfMessage()))
    return conn.our_state is h11.DONE and conn.their_state is h11.DONE


class SimulatorServer:
    """A :class:`Simulator` served on loopback from a background thread, until :meth:`close`.

    ``url`` is the base URL (``http://127.0.0.1:PORT``) for both sso-oidc and the portal;
    ``simulator`` is the live simulator (approve logins, read counters). ``clock`` gives each
    request's ``now`` (inject one to move time without sleeping); ``backend`` is an anyio backend.
    """

    def __init__(
        self,
        simulator: Simulator | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        clock: Clock = time.time,
        backend: str = "asyncio",
    ) -> None:
        self.simulator = Simulator() if simulator is None else simulator
        self._portal_cm = start_blocking_portal(backend)
        portal = self._portal_cm.__enter__()
        try:
            self._task, self.port = portal.start_task(
                functools.partial(serve, self.simulator, host=host, port=port, clock=clock)
            )
        except BaseException:
            self._portal_cm.__exit__(None, None, None)
            raise
        self.host = host
        self._closed = False

    @property
    def url(self) -> str:
        """The base URL of both services."""
        return f"http://{_authority(self.host, self.port)}"

    def close(self) -> None:
        """Stop serving (open connections are closed) and end the background thread."""
        if not self._closed:
            self._closed = True
            self._task.cancel()
            self._portal_cm.__exit__(None, None, None)

    def __enter__(self) -> SimulatorServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
