"""The requests adapter against real loopback servers: a response body that fails part-way is a
transport failure the flow sees (a requests exception, never urllib3's own), and ``run``/``send``
without ``session=`` use the adapter's own session (no ``.netrc``, no requests default headers)."""

from __future__ import annotations

import gzip
import json
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from sansio_ssooidc.adapters import requests as ad_requests

import sansio_ssooidc as oidc
from tests.scriptserver import ScriptServer

START_URL = "https://d-1234567890.awsapps.com/start"
TOKEN = json.dumps({"accessToken": "aoa", "tokenType": "Bearer", "expiresIn": 3600}).encode()
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"

Serve = Callable[..., tuple[str, list[bytes]]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """``serve(answer, stall=0.0)``: a loopback server that reads each request, sends ``answer``,
    waits ``stall`` seconds (or until the test ends) and closes. Gives the URL and the requests."""
    servers: list[ScriptServer] = []

    def start(answer: bytes, stall: float = 0.0) -> tuple[str, list[bytes]]:
        def script(index: int, conn: socket.socket, server: ScriptServer) -> None:
            if server.read_request(conn) is not None:
                conn.sendall(answer)
                server.stopped.wait(stall)

        servers.append(ScriptServer(script))
        return servers[-1].url, servers[-1].requests

    yield start
    for server in servers:
        server.close()


def refresh_flow(endpoint: str, attempts: int = 2) -> oidc.RefreshFlow:
    """A refresh in the mandatory window: it must succeed, so every failure is retried then raised."""
    now = time.time()
    token = oidc.CachedToken(
        start_url=START_URL,
        region="us-east-1",
        access_token="old",
        expires_at=datetime.fromtimestamp(now + 300, timezone.utc),
        client_id="cid",
        client_secret="sec",
        registration_expires_at=datetime.fromtimestamp(now + 60 * 86400, timezone.utc),
        refresh_token="aor",
    )
    return oidc.RefreshFlow(
        token=token, endpoint=endpoint, retry=oidc.RetryPolicy(max_attempts=attempts, base=0.0, cap=0.0)
    )


BROKEN_BODIES = {
    "cut short": (HEAD + b"Content-Length: 100\r\n\r\n" + TOKEN[:10], 0.0),
    "stall mid-body": (HEAD + b"Content-Length: 100\r\n\r\n" + TOKEN[:10], 5.0),
    "bad chunked encoding": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"zz\r\n" + TOKEN, 0.0),
    "chunked cut short": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + b"100\r\n" + TOKEN, 0.0),
    "bad gzip": (HEAD + b"Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\nnotgz", 0.0),
}


@pytest.mark.parametrize("case", list(BROKEN_BODIES))
def test_a_broken_body_is_a_failure_the_flow_retries(serve: Serve, case: str) -> None:
    answer, stall = BROKEN_BODIES[case]
    url, seen = serve(answer, stall)
    with pytest.raises(oidc.RetriesExhaustedError) as info:
        ad_requests.run(refresh_flow(url), connect_timeout=2.0, read_timeout=0.3)
    assert isinstance(info.value.last_error, requests.RequestException), repr(info.value.last_error)
    assert len(seen) == 2  # the flow saw the failure and tried again


@pytest.mark.parametrize("case", list(BROKEN_BODIES))
def test_send_raises_a_requests_exception_for_a_broken_body(serve: Serve, case: str) -> None:
    answer, stall = BROKEN_BODIES[case]
    url, _ = serve(answer, stall)
    started = time.monotonic()
    with pytest.raises(requests.RequestException):
        ad_requests.send(oidc.ListAccounts(access_token="t"), url, read_timeout=0.3)
    assert time.monotonic() - started < 3


def test_a_whole_body_still_arrives(serve: Serve) -> None:
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(TOKEN), TOKEN)
    for answer in (
        HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(TOKEN), TOKEN),
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunked,
        HEAD + b"Connection: close\r\n\r\n" + TOKEN,  # read until the server closes
    ):
        url, _ = serve(answer)
        result = ad_requests.run(refresh_flow(url))
        assert result.refreshed
        assert result.token.access_token == "aoa"


@pytest.mark.parametrize("encoding", ["identity", "gzip", "chunked"])
def test_a_body_over_the_cap_is_refused(serve: Serve, encoding: str) -> None:
    plain = b'{"accessToken": "' + b"a" * 5000 + b'", "expiresIn": 3600}'
    if encoding == "gzip":
        body = gzip.compress(plain)
        answer = HEAD + b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    elif encoding == "chunked":
        pieces = [plain[i : i + 100] for i in range(0, len(plain), 100)]
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces)
        answer = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    else:
        answer = HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(plain), plain)
    url, _ = serve(answer)
    with pytest.raises(oidc.RemoteProtocolError, match="exceeds 1000 bytes"):
        ad_requests.send(
            oidc.CreateToken(client_id="c", client_secret="s", grant_type="x"), url, max_body_size=1000
        )


# --- the session run and send make ----------------------------------------------------------------


@pytest.fixture
def netrc_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME and NETRC point at a ``.netrc`` with credentials for 127.0.0.1."""
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login bob password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(netrc))
    return netrc


def headers_of(raw: bytes) -> dict[str, str]:
    head = raw.partition(b"\r\n\r\n")[0].decode("latin-1")
    return {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in head.split("\r\n")[1:])
    }


def assert_no_requests_defaults(headers: dict[str, str]) -> None:
    """None of requests' default headers (``Accept-Encoding: gzip, deflate``, ``Accept: */*``);
    http.client's own ``Accept-Encoding: identity`` (no compression) may be there."""
    assert headers.get("accept-encoding", "identity") == "identity"
    assert "accept" not in headers


def test_send_signs_create_token_with_iam_despite_a_netrc(serve: Serve, netrc_home: Path) -> None:
    url, seen = serve(HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(TOKEN), TOKEN))
    op = oidc.CreateTokenWithIAM(
        client_id="arn:aws:sso::123456789012:application/ssoins-1/apl-1",
        grant_type="refresh_token",
        refresh_token="r",
    )
    credentials = oidc.AwsCredentials(access_key_id="AKIDEXAMPLE", secret_access_key="s" * 40)
    result = ad_requests.send(
        op, url, region="us-east-1", credentials=credentials, now=datetime.now(timezone.utc)
    )
    assert result.access_token == "aoa"
    headers = headers_of(seen[0])
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert_no_requests_defaults(headers)
    assert "x-amz-date" in headers


def test_run_sends_only_the_core_headers_despite_a_netrc(serve: Serve, netrc_home: Path) -> None:
    url, seen = serve(HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(TOKEN), TOKEN))
    assert ad_requests.run(refresh_flow(url)).refreshed
    headers = headers_of(seen[0])
    assert "authorization" not in headers
    assert_no_requests_defaults(headers)


def test_a_session_passed_in_is_used_as_given_and_left_open(serve: Serve) -> None:
    url, seen = serve(HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(TOKEN), TOKEN))
    with requests.Session() as session:
        session.headers["X-Mine"] = "yes"
        closed: list[bool] = []
        close = session.close

        def track() -> None:
            closed.append(True)
            close()

        session.close = track  # type: ignore[method-assign]
        assert ad_requests.run(refresh_flow(url), session=session).refreshed
        assert not closed
    assert headers_of(seen[0])["x-mine"] == "yes"


def test_the_session_made_for_a_call_is_closed(serve: Serve, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = serve(HEAD + b"Content-Length: %d\r\n\r\n%s" % (len(TOKEN), TOKEN))
    made: list[Any] = []
    real = ad_requests._Session

    class Counting(real):  # type: ignore[misc, valid-type]
        def close(self) -> None:
            made.append(self)
            super().close()

    monkeypatch.setattr(ad_requests, "_Session", Counting)
    assert ad_requests.run(refresh_flow(url)).refreshed
    ad_requests.send(oidc.CreateToken(client_id="c", client_secret="s", grant_type="x"), url)
    assert len(made) == 2
