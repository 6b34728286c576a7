"""The socket transports (h11's ``SocketTransport``, anyio's ``AsyncTransport`` on asyncio and
trio) against scripted loopback servers: what a kept-alive connection may and may not carry
into the next exchange, and the read timeout bounding a whole exchange."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from sansio_ssooidc.adapters import anyio as ad_anyio
from sansio_ssooidc.adapters import h11 as ad_h11

import sansio_ssooidc as oidc
from tests.scriptserver import Script, ScriptServer

TRANSPORTS = ["h11", "anyio-asyncio", "anyio-trio"]


def answer(body: bytes, *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return head + b"".join(extra) + b"\r\n" + body


@pytest.fixture
def serve() -> Iterator[Callable[[Script], ScriptServer]]:
    servers: list[ScriptServer] = []

    def start(script: Script) -> ScriptServer:
        servers.append(ScriptServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def exchange(
    kind: str, steps: list[tuple[oidc.HttpRequest, Callable[[], Any] | None]], **options: Any
) -> list[Any]:
    """Send each request over one transport of ``kind``, calling each step's ``before`` first;
    the outcomes, a response or the exception raised."""
    if kind == "h11":
        outcomes: list[Any] = []
        with ad_h11.SocketTransport(**options) as transport:
            for request, before in steps:
                if before is not None:
                    before()
                try:
                    outcomes.append(transport.send(request))
                except Exception as exc:
                    outcomes.append(exc)
        return outcomes

    async def main() -> list[Any]:
        outcomes: list[Any] = []
        async with ad_anyio.AsyncTransport(**options) as transport:
            for request, before in steps:
                if before is not None:
                    await anyio.to_thread.run_sync(before)
                try:
                    outcomes.append(await transport.send(request))
                except Exception as exc:
                    outcomes.append(exc)
        return outcomes

    return anyio.run(main, backend=kind.split("-")[1])


def get(url: str, body: bytes = b"") -> oidc.HttpRequest:
    return oidc.HttpRequest(method="POST", url=url + "/token", body=body)


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_bytes_sent_on_an_idle_connection_never_pass_for_the_next_answer(
    kind: str, serve: Callable[[Script], ScriptServer]
) -> None:
    def script(index: int, conn: socket.socket, server: ScriptServer) -> None:
        if index == 0:  # answers, then times the idle connection out with a late 408
            server.read_request(conn)
            conn.sendall(answer(b'"first"'))
            time.sleep(0.05)
            conn.sendall(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            server.event("408").set()
            time.sleep(1)
        else:
            server.read_request(conn)
            conn.sendall(answer(b'"second"'))

    server = serve(script)
    wait = server.event("408").wait
    outcomes = exchange(kind, [(get(server.url), None), (get(server.url), lambda: wait(5))])
    assert [o.body for o in outcomes] == [b'"first"', b'"second"']
    assert server.connections == 2


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_kept_alive_connection_the_server_closed_is_not_reused(
    kind: str, serve: Callable[[Script], ScriptServer]
) -> None:
    def script(index: int, conn: socket.socket, server: ScriptServer) -> None:
        server.read_request(conn)
        conn.sendall(answer(b"{}"))
        if index == 0:  # an idle timeout: the server closes the kept-alive connection
            conn.shutdown(socket.SHUT_WR)
            server.event("closed").set()
            while conn.recv(65536):
                pass

    server = serve(script)
    wait = server.event("closed").wait
    outcomes = exchange(kind, [(get(server.url), None), (get(server.url), lambda: wait(5))])
    assert [o.status for o in outcomes] == [200, 200]
    assert len(server.requests) == 2


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_a_request_the_server_read_and_left_unanswered_is_not_sent_again(
    kind: str, serve: Callable[[Script], ScriptServer]
) -> None:
    """It may have done its work (a single-use code redeemed, its answer lost): the failure goes
    to the flow, which knows; a silent second try would send the code twice."""

    def script(index: int, conn: socket.socket, server: ScriptServer) -> None:
        server.read_request(conn)
        conn.sendall(answer(b"{}"))
        server.read_request(conn)  # the second request arrives, and the connection closes

    server = serve(script)
    outcomes = exchange(kind, [(get(server.url), None), (get(server.url, b'{"code": "single-use"}'), None)])
    assert outcomes[0].status == 200
    assert isinstance(outcomes[1], ConnectionError)
    assert len(server.requests) == 2
    assert server.connections == 1


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_the_read_timeout_bounds_a_trickled_answer(
    kind: str, serve: Callable[[Script], ScriptServer]
) -> None:
    def script(index: int, conn: socket.socket, server: ScriptServer) -> None:
        server.read_request(conn)
        for byte in answer(b"{}" + b" " * 60):  # a byte every 50 ms: 5 s in all
            conn.sendall(bytes([byte]))
            time.sleep(0.05)

    server = serve(script)
    started = time.monotonic()
    [outcome] = exchange(kind, [(get(server.url), None)], read_timeout=0.5)
    assert isinstance(outcome, TimeoutError)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("kind", TRANSPORTS)
def test_the_read_timeout_bounds_writing_to_a_server_that_does_not_read(
    kind: str, serve: Callable[[Script], ScriptServer]
) -> None:
    def script(index: int, conn: socket.socket, server: ScriptServer) -> None:
        server.event("done").wait(10)  # accepts, never reads

    server = serve(script)
    try:
        body = b"x" * (32 << 20)  # more than the socket buffers hold
        [outcome] = exchange(kind, [(get(server.url, body), None)], read_timeout=0.5)
    finally:
        server.event("done").set()
    assert isinstance(outcome, TimeoutError)


@pytest.mark.parametrize("kind", TRANSPORTS)
@pytest.mark.parametrize("host", ["a..b", "x" * 64 + ".example", ""])
def test_a_url_without_a_valid_host_name_is_a_parameter_error(kind: str, host: str) -> None:
    [outcome] = exchange(kind, [(get(f"http://{host}:1"), None)])
    assert isinstance(outcome, oidc.ParameterError)
    assert "no valid host name" in str(outcome)
