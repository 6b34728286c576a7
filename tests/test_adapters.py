"""One behaviour suite for every adapter, against the simulator served on loopback.

Client and server share a virtual clock, so device-flow polling costs no real time; the
faults (5xx, throttling, dropped connections, latency) are the simulator's, over real sockets.
"""

from __future__ import annotations

import functools
import http.client
import os
import random
import signal
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import anyio
import h11 as h11_lib
import pytest
import requests as requests_lib
from hypothesis import given, settings
from hypothesis import strategies as st
from sansio_ssooidc.adapters import anyio as ad_anyio
from sansio_ssooidc.adapters import h11 as ad_h11
from sansio_ssooidc.adapters import requests as ad_requests
from sansio_ssooidc.adapters.simserver import SimulatorServer

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import FaultPlan, Simulator, UserScript
from tests.tlsserver import TLSServer

ADAPTERS = ["requests", "h11", "anyio-asyncio", "anyio-trio"]
START_URL = "https://d-1234567890.awsapps.com/start"


class Clock:
    """Virtual time shared by the client and the served simulator."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
        await anyio.lowlevel.checkpoint()


class Driver:
    """Runs flows and single operations through one adapter with a virtual clock."""

    def __init__(self, name: str, clock: Clock) -> None:
        self.name = name
        self.clock = clock

    @property
    def is_async(self) -> bool:
        return self.name.startswith("anyio")

    def _arun(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        backend = self.name.split("-")[1]
        return anyio.run(functools.partial(fn, *args, **kwargs), backend=backend)

    def run(self, flow: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("show", visit)
        kwargs.setdefault("clock", self.clock)
        if self.is_async:
            kwargs.setdefault("sleep", self.clock.asleep)
            return self._arun(ad_anyio.run, flow, **kwargs)
        kwargs.setdefault("sleep", self.clock.sleep)
        module = ad_requests if self.name == "requests" else ad_h11
        return module.run(flow, **kwargs)

    def send(self, op: Any, endpoint: str, **kwargs: Any) -> Any:
        if self.is_async:
            return self._arun(ad_anyio.send, op, endpoint, **kwargs)
        module = ad_requests if self.name == "requests" else ad_h11
        return module.send(op, endpoint, **kwargs)

    def pkce_login(
        self, make_flow: Callable[[str], oidc.AuthCodeFlow], browser: Callable[[Any], None]
    ) -> Any:
        if self.is_async:

            async def main() -> Any:
                async with ad_anyio.AsyncRedirectListener() as listener:
                    flow = make_flow(listener.redirect_uri)
                    return await ad_anyio.run(
                        flow, listener=listener, show=browser, clock=self.clock, sleep=self.clock.asleep
                    )

            return self._arun(main)
        with ad_requests.RedirectListener() as listener:
            flow = make_flow(listener.redirect_uri)
            module = ad_requests if self.name == "requests" else ad_h11
            return module.run(flow, listener=listener, show=browser, clock=self.clock, sleep=self.clock.sleep)


def visit(action: Any) -> None:
    """The user: opens the verification page (the simulator approves on visit by default)."""
    assert isinstance(action, oidc.ShowCode)
    with urllib.request.urlopen(action.verification_uri_complete, timeout=10) as page:
        assert page.status == 200


@pytest.fixture(params=ADAPTERS)
def driver(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param, Clock())


@pytest.fixture
def serve(driver: Driver) -> Iterator[Callable[..., SimulatorServer]]:
    servers: list[SimulatorServer] = []

    def start(clock: Callable[[], float] | None = None, **config: Any) -> SimulatorServer:
        server = SimulatorServer(Simulator(**config), clock=clock or driver.clock)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def device_flow(server: SimulatorServer, **kwargs: Any) -> oidc.DeviceFlow:
    return oidc.DeviceFlow(
        start_url=START_URL, region="us-east-1", endpoint=server.url, rng=random.Random(7), **kwargs
    )


def test_device_login(driver: Driver, serve: Callable[..., SimulatorServer]) -> None:
    server = serve()
    result = driver.run(device_flow(server))
    assert isinstance(result, oidc.LoginResult)
    assert result.token.access_token
    assert result.token.refresh_token
    assert server.simulator.requests["StartDeviceAuthorization"] == 1
    # The first poll came one interval after the code was shown, none before.
    assert driver.clock.sleeps[0] == pytest.approx(1.0)


def test_device_login_polls_until_approved(driver: Driver, serve: Callable[..., SimulatorServer]) -> None:
    server = serve(user=UserScript(on_visit=False, after_polls=3), interval=2)
    result = driver.run(device_flow(server))
    assert result.token.access_token
    assert server.simulator.requests["CreateToken"] == 4
    assert driver.clock.sleeps == [pytest.approx(2.0)] * 4


def test_slow_down_when_a_poll_looks_too_fast_to_the_server(
    driver: Driver, serve: Callable[..., SimulatorServer]
) -> None:
    calls = 0

    def server_clock() -> float:
        # The server's clock lags by half a second at the second poll (the 5th request, after
        # register, start, the visit of the verification page and the first poll), so that
        # poll looks too fast to it: it answers slow_down, and the client must add 5 s.
        nonlocal calls
        calls += 1
        return driver.clock.now - (0.5 if calls == 5 else 0.0)

    server = serve(clock=server_clock, user=UserScript(on_visit=False, after_polls=2))
    flow = device_flow(server)
    result = driver.run(flow)
    assert result.token.access_token
    assert flow.interval == 6
    # Polls at +1 (pending) and +2 (slow_down), then one 6 s interval later the approval.
    assert driver.clock.sleeps == [pytest.approx(1.0), pytest.approx(1.0), pytest.approx(6.0)]


def test_denied_login_is_access_denied(driver: Driver, serve: Callable[..., SimulatorServer]) -> None:
    server = serve(user=UserScript(action="deny"))
    with pytest.raises(oidc.AccessDeniedException):
        driver.run(device_flow(server))


def test_no_answer_ends_at_the_deadline_without_polling_past_it(
    driver: Driver, serve: Callable[..., SimulatorServer]
) -> None:
    server = serve(user=UserScript(action="never"), device_code_lifetime=5)
    flow = device_flow(server)
    with pytest.raises(oidc.LoginTimeoutError):
        driver.run(flow)
    assert server.simulator.requests["CreateToken"] <= 4
    assert flow.deadline is not None
    assert driver.clock.now == pytest.approx(flow.deadline)


@pytest.mark.parametrize(
    "script",
    [
        {0: "5xx", 1: "throttle", 3: "5xx", 4: "throttle", 7: "5xx"},
        {1: "drop", 2: "malformed", 5: "drop"},
    ],
    ids=["5xx-throttle", "drop-malformed"],
)
def test_transient_faults_are_retried(
    driver: Driver, serve: Callable[..., SimulatorServer], script: dict[int, str]
) -> None:
    server = serve(faults=FaultPlan(script=script))
    result = driver.run(device_flow(server, retry=oidc.RetryPolicy(base=0.01, cap=0.1)))
    assert result.token.access_token


def test_read_timeout_is_a_transient_failure(driver: Driver, serve: Callable[..., SimulatorServer]) -> None:
    server = serve(faults=FaultPlan(script={1: "latency"}, latency=2.0))
    result = driver.run(device_flow(server, retry=oidc.RetryPolicy(base=0.01, cap=0.1)), read_timeout=0.3)
    assert result.token.access_token


def test_refresh(driver: Driver, serve: Callable[..., SimulatorServer]) -> None:
    server = serve(rotate_refresh_tokens=True)
    token = driver.run(device_flow(server)).token
    refresh = oidc.RefreshFlow(token=token, endpoint=server.url, advisory=7200, mandatory=0)
    result = driver.run(refresh)
    assert result.refreshed
    assert result.token.access_token != token.access_token
    assert result.token.refresh_token != token.refresh_token
    # The rotated-out refresh token is now rejected: in the mandatory window that is a login.
    stale = oidc.RefreshFlow(token=token, endpoint=server.url, advisory=7200, mandatory=7200)
    with pytest.raises(oidc.LoginRequiredError) as info:
        driver.run(stale)
    assert info.value.reason is oidc.LoginRequiredReason.REFRESH_REJECTED


def test_portal_calls(driver: Driver, serve: Callable[..., SimulatorServer]) -> None:
    server = serve()
    token = driver.run(device_flow(server)).token.access_token
    accounts = driver.send(oidc.ListAccounts(access_token=token, max_results=1), server.url)
    assert len(accounts.accounts) == 1
    assert accounts.next_token
    account_id = accounts.accounts[0].account_id
    roles = driver.send(oidc.ListAccountRoles(access_token=token, account_id=account_id), server.url)
    role = roles.roles[0].role_name
    creds = driver.send(
        oidc.GetRoleCredentials(access_token=token, account_id=account_id, role_name=role), server.url
    )
    assert creds.access_key_id.startswith("ASIA")
    assert driver.send(oidc.Logout(access_token=token), server.url) is None
    with pytest.raises(oidc.UnauthorizedException):
        driver.send(
            oidc.GetRoleCredentials(access_token=token, account_id=account_id, role_name=role), server.url
        )
    other = driver.run(device_flow(server)).token.access_token
    unknown = oidc.GetRoleCredentials(access_token=other, account_id="999999999999", role_name=role)
    with pytest.raises(oidc.ResourceNotFoundException):
        driver.send(unknown, server.url)


def _get(url: str) -> tuple[int, str | None, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        return response.status, response.getheader("Location"), response.read()
    finally:
        conn.close()


def test_pkce_login_with_junk_requests_first(driver: Driver, serve: Callable[..., SimulatorServer]) -> None:
    server = serve()
    pages: list[tuple[int, bytes]] = []
    threads: list[threading.Thread] = []

    def browser(action: Any) -> None:
        assert isinstance(action, oidc.OpenBrowser)

        def play() -> None:
            status, location, _ = _get(action.url)
            assert status == 302
            assert location is not None
            callback = location.split("?")[0]
            for junk in (
                callback.replace("/oauth/callback", "/favicon.ico"),
                callback + "?code=x&state=forged",
            ):
                status, _, body = _get(junk)
                pages.append((status, body))
            status, _, body = _get(location)
            pages.append((status, body))

        threads.append(threading.Thread(target=play, daemon=True))
        threads[-1].start()

    result = driver.pkce_login(
        lambda uri: oidc.AuthCodeFlow(
            start_url=START_URL,
            region="us-east-1",
            endpoint=server.url,
            redirect_uri=uri,
            rng=random.Random(3),
        ),
        browser,
    )
    threads[0].join(10)  # the login ends as soon as the redirect is accepted; the page follows
    assert result.token.access_token
    assert result.registration.grant_types == ("authorization_code", "refresh_token")
    assert [status for status, _ in pages] == [404, 400, 200]
    assert b"Login complete" in pages[-1][1]


def test_cancellation_mid_poll_leaves_a_resumable_flow(
    driver: Driver, serve: Callable[..., SimulatorServer]
) -> None:
    server = serve(user=UserScript(on_visit=False, after_polls=3))
    flow = device_flow(server)
    calls = 0
    if driver.is_async:

        async def main() -> None:
            with anyio.CancelScope() as scope:

                async def sleep(seconds: float) -> None:
                    nonlocal calls
                    calls += 1
                    driver.clock.sleep(seconds)
                    if calls == 2:
                        scope.cancel()
                    await anyio.lowlevel.checkpoint()

                async with ad_anyio.AsyncTransport() as transport:
                    await ad_anyio.run(
                        flow, transport=transport, show=lambda a: None, clock=driver.clock, sleep=sleep
                    )
            assert scope.cancelled_caught

        driver._arun(main)
    else:

        def sleep(seconds: float) -> None:
            nonlocal calls
            calls += 1
            driver.clock.sleep(seconds)
            if calls == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            driver.run(flow, show=lambda a: None, sleep=sleep)
    assert flow.state is oidc.DeviceState.POLL  # nothing half done: the next poll is simply due
    assert driver.run(flow).token.access_token  # and the same flow completes later


def test_cancellation_mid_request_leaves_a_resumable_flow(
    driver: Driver, serve: Callable[..., SimulatorServer]
) -> None:
    """Cancelled while the first poll's answer is delayed (a cancel scope; Ctrl-C in the sync
    adapters): the flow forgets that request, and the same flow, over the same transport, completes."""
    server = serve(
        user=UserScript(on_visit=False, after_polls=2), faults=FaultPlan(script={2: "latency"}, latency=5.0)
    )
    flow = device_flow(server)
    if driver.is_async:

        async def main() -> Any:
            async with ad_anyio.AsyncTransport() as transport:
                with anyio.move_on_after(0.5) as scope:
                    await ad_anyio.run(
                        flow,
                        transport=transport,
                        show=lambda a: None,
                        clock=driver.clock,
                        sleep=driver.clock.asleep,
                    )
                assert scope.cancelled_caught
                assert flow.state is oidc.DeviceState.POLL
                return await ad_anyio.run(
                    flow,
                    transport=transport,
                    show=lambda a: None,
                    clock=driver.clock,
                    sleep=driver.clock.asleep,
                )

        result = driver._arun(main)
    else:
        module: Any = ad_requests if driver.name == "requests" else ad_h11
        transport = ad_h11.SocketTransport() if driver.name == "h11" else None
        extra = {"transport": transport} if transport else {}
        interrupt = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
        interrupt.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                module.run(flow, show=lambda a: None, clock=driver.clock, sleep=driver.clock.sleep, **extra)
        finally:
            interrupt.cancel()
            interrupt.join()
        assert flow.state is oidc.DeviceState.POLL
        result = module.run(flow, show=lambda a: None, clock=driver.clock, sleep=driver.clock.sleep, **extra)
        if transport is not None:
            transport.close()
    assert result.token.access_token
    assert server.simulator.requests["StartDeviceAuthorization"] == 1  # the same login, resumed


def test_tls_is_verified_and_the_ca_bundle_option_works(driver: Driver, tmp_path: Any) -> None:
    op = oidc.ListAccounts(access_token="t")
    with TLSServer(tmp_path) as server:
        with pytest.raises(Exception) as info:
            driver.send(op, server.url, environ={})
        chain: list[BaseException] = []
        error: BaseException | None = info.value
        while error is not None and len(chain) < 10:
            chain.append(error)
            error = (
                error.__cause__
                or error.__context__
                or (error.args[0] if error.args and isinstance(error.args[0], BaseException) else None)
            )
        assert any(
            isinstance(e, (ssl.SSLError, requests_lib.exceptions.SSLError))
            or "CERTIFICATE_VERIFY_FAILED" in str(e)
            for e in chain
        ), chain
        # Trusted through the option, and through AWS_CA_BUNDLE: the token is bad, but TLS passed.
        with pytest.raises(oidc.UnauthorizedException):
            driver.send(op, server.url, ca_bundle=server.ca_file)
        with pytest.raises(oidc.UnauthorizedException):
            driver.send(op, server.url, environ={"AWS_CA_BUNDLE": server.ca_file})


def test_refused_connection_is_a_transport_failure(driver: Driver) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises((OSError, requests_lib.ConnectionError)):
        driver.send(oidc.ListAccounts(access_token="t"), url)


@pytest.mark.parametrize("backend", ["sync", "asyncio", "trio"])
def test_one_tls_connection_carries_many_requests(backend: str, tmp_path: Any) -> None:
    op = oidc.ListAccounts(access_token="t")
    with TLSServer(tmp_path) as server:
        if backend == "sync":
            transport = ad_h11.SocketTransport(ca_bundle=server.ca_file)
            for _ in range(3):
                with pytest.raises(oidc.UnauthorizedException):
                    ad_h11.send(op, server.url, transport=transport)
            assert [len(idle) for idle in transport._conns.values()] == [1]
            transport.close()
            return

        async def main() -> None:
            async with ad_anyio.AsyncTransport(ca_bundle=server.ca_file) as transport:
                for _ in range(3):
                    with pytest.raises(oidc.UnauthorizedException):
                        await ad_anyio.send(op, server.url, transport=transport)
                assert [len(idle) for idle in transport._conns.values()] == [1]

        anyio.run(main, backend=backend)


def test_oversized_body_is_refused(driver: Driver, serve: Callable[..., SimulatorServer]) -> None:
    server = serve()
    token = driver.run(device_flow(server)).token.access_token
    with pytest.raises(oidc.RemoteProtocolError, match="exceeds"):
        driver.send(oidc.ListAccounts(access_token=token), server.url, max_body_size=10)


# --- HttpCodec: plain responses read without h11 must read exactly as h11 reads them -------------

_MAX_BODY = 64


def _codec_outcomes(chunks: list[bytes], method: str = "POST") -> list[Any]:
    """Each response (status, headers, body, reason, reusable) or the error, over ``chunks`` then
    EOF, sending the next request whenever a response leaves the connection reusable."""
    codec = ad_h11.HttpCodec(max_body_size=_MAX_BODY)
    request = oidc.HttpRequest(method=method, url="http://h/token", body=b"{}")
    codec.send(request)
    outcomes: list[Any] = []
    try:
        for chunk in [*chunks, b""]:
            response = codec.receive(chunk)
            if response is not None:
                outcomes.append(
                    (response.status, response.headers, response.body, response.reason, codec.reusable)
                )
                if not codec.reusable or len(outcomes) == 3:
                    return outcomes
                codec.send(request)
    except Exception as exc:
        outcomes.append((type(exc), str(exc), codec.reusable))
    return outcomes


def _agree(chunks: list[bytes], method: str = "POST") -> None:
    plain = _codec_outcomes(chunks, method)
    with mock.patch.object(ad_h11, "_plain", return_value=None):
        assert _codec_outcomes(chunks, method) == plain, chunks


@pytest.mark.parametrize("answer", [b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.1 200 OK\r\n"])
def test_codec_refuses_a_response_nobody_asked_for(answer: bytes) -> None:
    codec = ad_h11.HttpCodec()
    codec.send(oidc.HttpRequest(method="POST", url="http://h/token"))
    while codec.receive(answer) is None:  # plain, or through h11 (a split head)
        answer = b"Content-Length: 0\r\n\r\n"
    with pytest.raises(h11_lib.LocalProtocolError):
        codec.receive(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


PLAIN_CASES = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 400 Bad Request\r\nX-Amzn-ErrorType: InvalidGrantException:\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
    b"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nxy",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxy",
    b"HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n" + b"x" * 65,
    b"HTTP/1.1 200 OK\r\nContent-Length: 64\r\n\r\n" + b"x" * 64,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n{}",
    b"HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    b"HTTP/1.1 200 OK\r\nX:  padded \t \r\nY:\r\nZ: \r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: \x7f\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: caf\xe9\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 Caf\xe9\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 O\tK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nX: a\x00b\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n",
    b"\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n",
    b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 20000 + b"\r\nContent-Length: 0\r\n\r\n",
]


@pytest.mark.parametrize("raw", PLAIN_CASES)
@pytest.mark.parametrize("method", ["POST", "HEAD"])
def test_plain_reads_agree_with_h11(raw: bytes, method: str) -> None:
    if raw == PLAIN_CASES[0]:
        assert ad_h11._plain(raw, _MAX_BODY) is not None  # the plain path is taken at all
    _agree([raw], method)
    for cut in (1, len(raw) // 2, len(raw) - 1):
        _agree([raw[:cut], raw[cut:]], method)


_FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None)


@_FUZZ
@given(
    st.sampled_from([b"HTTP/1.1"] * 4 + [b"HTTP/1.0", b"http/1.1"]),
    st.sampled_from([b" 200 OK"] * 4 + [b" 200", b" 404 ", b" 199 X", b" 204 N", b" 2000 X", b"  200 OK"]),
    st.lists(
        st.tuples(
            st.sampled_from(
                [b"Content-Length", b"content-length", b"Transfer-Encoding", b"Connection", b"X"]
            ),
            st.sampled_from([b": ", b":", b" : ", b":\t"]),
            st.sampled_from([b"0", b"2", b"5", b"-1", b"chunked", b"close", b"1, 2", b"", b" 2 "])
            | st.binary(max_size=4),
        ),
        max_size=3,
    ),
    st.sampled_from([b"", b"{}", b"{}x", b"x" * 70]),
    st.integers(-1, 3),
)
def test_plain_reads_agree_with_h11_on_generated_heads(
    version: bytes, status: bytes, headers: list[tuple[bytes, bytes, bytes]], body: bytes, at: int
) -> None:
    lines = [b"%s%s%s\r\n" % h for h in headers]
    if at >= 0:  # mostly with the right Content-Length somewhere
        lines.insert(at, b"Content-Length: %d\r\n" % len(body))
    _agree([version + status + b"\r\n" + b"".join(lines) + b"\r\n" + body])


@_FUZZ
@given(st.binary(max_size=200))
def test_plain_reads_agree_with_h11_on_arbitrary_bytes(raw: bytes) -> None:
    _agree([b"HTTP/1.1 200 OK\r\n" + raw])


def test_socket_transport_is_a_context_manager(serve: Callable[..., SimulatorServer]) -> None:
    server = serve()
    op = oidc.RegisterClient(client_name="ctx", client_type="public")
    with ad_h11.SocketTransport() as transport:
        assert transport.send(op.to_request(server.url)).status == 200
        assert transport._conns  # the connection is kept alive inside the block ...
    assert not transport._conns  # ... and closed at its end
