"""The simulator over real loopback HTTP: the real boto3 1.44.5 clients cannot tell it from the service."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import h11
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError
from sansio_ssooidc.adapters import simserver
from sansio_ssooidc.adapters.simserver import SimulatorServer

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import MAX_REQUEST_BODY, FaultPlan, Simulator, UserScript

START = "https://d-1234567890.awsapps.com/start"
DEVICE = oidc.GRANT_DEVICE_CODE
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
APP_ARN = "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111"

Factory = Callable[..., SimulatorServer]


class Clock:
    """A clock the test moves: the server's ``now`` without sleeping."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def start(ssooidc_simulator_factory: Factory, clock: Clock) -> Callable[..., SimulatorServer]:
    """Start a server for ``Simulator(**config)`` on the test's clock."""

    def make(**config: Any) -> SimulatorServer:
        return ssooidc_simulator_factory(Simulator(**config), clock=clock)

    return make


@pytest.fixture(scope="module")
def session() -> Any:
    """One boto3 session for the module: it caches the loaded service models between tests."""
    return boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    )


@pytest.fixture
def clients(session: Any) -> Iterator[Callable[[SimulatorServer], tuple[Any, Any]]]:
    """boto3 (sso-oidc, sso) clients for a server: one attempt, dummy credentials, closed afterwards."""
    made: list[Any] = []
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=5)

    def make(server: SimulatorServer) -> tuple[Any, Any]:
        pair = tuple(
            session.client(name, region_name="us-east-1", endpoint_url=server.url, config=config)
            for name in ("sso-oidc", "sso")
        )
        made.extend(pair)
        return pair

    yield make
    for client in made:
        client.close()


def browse(url: str) -> bytes:
    """The user's browser opens ``url``."""
    with urllib.request.urlopen(url, timeout=5) as page:
        body: bytes = page.read()
        return body


def register(oidc_client: Any, **kw: Any) -> dict[str, Any]:
    result: dict[str, Any] = oidc_client.register_client(
        clientName="botocore-client-test", clientType="public", scopes=["sso:account:access"], **kw
    )
    return result


def device_start(oidc_client: Any, reg: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = oidc_client.start_device_authorization(
        clientId=reg["clientId"], clientSecret=reg["clientSecret"], startUrl=START
    )
    return result


def poll(oidc_client: Any, reg: dict[str, Any], da: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = oidc_client.create_token(
        clientId=reg["clientId"],
        clientSecret=reg["clientSecret"],
        grantType=DEVICE,
        deviceCode=da["deviceCode"],
    )
    return result


# --- sso-oidc --------------------------------------------------------------------------------------


def test_device_authorization_with_boto3(start: Factory, clients: Any, clock: Clock) -> None:
    server = start(interval=5)
    client, _ = clients(server)
    reg = register(client)
    assert set(reg) - {"ResponseMetadata"} == {
        "clientId",
        "clientSecret",
        "clientIdIssuedAt",
        "clientSecretExpiresAt",
    }
    da = device_start(client, reg)
    assert da["userCode"] in da["verificationUriComplete"]
    assert da["verificationUriComplete"].startswith(server.url + "/device?user_code=")
    assert (da["expiresIn"], da["interval"]) == (600, 5)
    with pytest.raises(client.exceptions.AuthorizationPendingException) as info:
        poll(client, reg, da)
    assert info.value.response["error"] == "authorization_pending"
    assert info.value.response["Error"]["Message"] == "Authorization is still pending"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert b"Request approved" in browse(da["verificationUriComplete"])
    clock.advance(5)
    token = poll(client, reg, da)
    assert token["tokenType"] == "Bearer"
    assert token["expiresIn"] == 3600
    assert token["accessToken"].startswith("aoa")
    assert token["refreshToken"]
    assert token["ResponseMetadata"]["RequestId"]
    assert server.simulator.requests["CreateToken"] == 2


def test_device_flow_errors_with_boto3(start: Factory, clients: Any, clock: Clock) -> None:
    server = start(interval=5, device_code_lifetime=60, user=UserScript(action="never"))
    client, _ = clients(server)
    reg = register(client)
    da = device_start(client, reg)
    with pytest.raises(client.exceptions.AuthorizationPendingException):
        poll(client, reg, da)
    with pytest.raises(client.exceptions.SlowDownException):
        poll(client, reg, da)
    assert server.simulator.pending_user_codes() == (da["userCode"],)
    clock.advance(60)
    with pytest.raises(client.exceptions.ExpiredTokenException):
        poll(client, reg, da)
    with pytest.raises(client.exceptions.InvalidClientException) as info:
        client.start_device_authorization(clientId=reg["clientId"], clientSecret="wrong", startUrl=START)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 401
    clock.advance(90 * 86400)
    with pytest.raises(client.exceptions.InvalidClientException):
        device_start(client, reg)


def test_denied_login_with_boto3(start: Factory, clients: Any) -> None:
    server = start(user=UserScript(action="deny"))
    client, _ = clients(server)
    reg = register(client)
    da = device_start(client, reg)
    assert b"Request denied" in browse(da["verificationUriComplete"])
    with pytest.raises(client.exceptions.AccessDeniedException):
        poll(client, reg, da)


def _authorize(server: SimulatorServer, reg: dict[str, Any], redirect_uri: str) -> requests.Response:
    url = oidc.authorize_url(
        server.url,
        client_id=reg["clientId"],
        redirect_uri=redirect_uri,
        state="state-123",
        challenge=oidc.code_challenge(VERIFIER),
        scopes=("sso:account:access",),
    )
    with requests.Session() as browser:
        return browser.get(url, allow_redirects=False, timeout=5)


def test_pkce_code_exchange_with_boto3(start: Factory, clients: Any) -> None:
    server = start()
    client, sso = clients(server)
    reg = register(
        client,
        grantTypes=["authorization_code", "refresh_token"],
        redirectUris=["http://127.0.0.1/oauth/callback"],
        issuerUrl=START,
    )
    redirect_uri = "http://127.0.0.1:43210/oauth/callback"
    response = _authorize(server, reg, redirect_uri)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == redirect_uri
    params = parse_qs(location.query)
    assert params["state"] == ["state-123"]
    exchange = {
        "clientId": reg["clientId"],
        "clientSecret": reg["clientSecret"],
        "grantType": "authorization_code",
    }
    with pytest.raises(client.exceptions.InvalidGrantException):
        client.create_token(
            **exchange, code=params["code"][0], codeVerifier="x" * 64, redirectUri=redirect_uri
        )
    token = client.create_token(
        **exchange, code=params["code"][0], codeVerifier=VERIFIER, redirectUri=redirect_uri
    )
    assert token["accessToken"]
    assert sso.list_accounts(accessToken=token["accessToken"])["accountList"]
    with pytest.raises(client.exceptions.InvalidGrantException) as info:
        client.create_token(
            **exchange, code=params["code"][0], codeVerifier=VERIFIER, redirectUri=redirect_uri
        )
    assert info.value.response["error"] == "invalid_grant"
    with pytest.raises(sso.exceptions.UnauthorizedException):  # the reused code's tokens are revoked
        sso.list_accounts(accessToken=token["accessToken"])


def test_refresh_and_the_portal_with_boto3(start: Factory, clients: Any, clock: Clock) -> None:
    server = start(rotate_refresh_tokens=True)
    client, sso = clients(server)
    reg = register(client)
    da = device_start(client, reg)
    browse(da["verificationUriComplete"])
    token = poll(client, reg, da)
    refresh = {"clientId": reg["clientId"], "clientSecret": reg["clientSecret"], "grantType": "refresh_token"}
    refreshed = client.create_token(**refresh, refreshToken=token["refreshToken"])
    assert refreshed["refreshToken"] != token["refreshToken"]
    with pytest.raises(client.exceptions.InvalidGrantException):
        client.create_token(**refresh, refreshToken=token["refreshToken"])
    assert server.simulator.refreshes == 1
    access = refreshed["accessToken"]

    pages = sso.get_paginator("list_accounts").paginate(accessToken=access, PaginationConfig={"PageSize": 1})
    accounts = [a["accountId"] for page in pages for a in page["accountList"]]
    assert accounts == ["111111111111", "222222222222", "333333333333"]
    pages = sso.get_paginator("list_account_roles").paginate(
        accessToken=access, accountId="111111111111", PaginationConfig={"PageSize": 2}
    )
    roles = [r["roleName"] for page in pages for r in page["roleList"]]
    assert roles == ["AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess"]
    creds = sso.get_role_credentials(accessToken=access, accountId="222222222222", roleName="ReadOnlyAccess")
    role = creds["roleCredentials"]
    assert role["accessKeyId"].startswith("ASIA")
    assert role["expiration"] == int((clock.now + 3600) * 1000)  # milliseconds
    with pytest.raises(sso.exceptions.ResourceNotFoundException):
        sso.get_role_credentials(accessToken=access, accountId="333333333333", roleName="AdministratorAccess")
    sso.logout(accessToken=access)
    with pytest.raises(sso.exceptions.UnauthorizedException) as info:
        sso.get_role_credentials(accessToken=access, accountId="222222222222", roleName="ReadOnlyAccess")
    assert info.value.response["Error"]["Message"] == "Session token not found or invalid"
    with pytest.raises(client.exceptions.InvalidGrantException):
        client.create_token(**refresh, refreshToken=refreshed["refreshToken"])


def test_expired_access_token_with_boto3(start: Factory, clients: Any, clock: Clock) -> None:
    server = start(access_token_lifetime=900)
    client, sso = clients(server)
    reg = register(client)
    da = device_start(client, reg)
    server.simulator.approve(da["userCode"])
    token = poll(client, reg, da)
    clock.advance(900)
    with pytest.raises(sso.exceptions.UnauthorizedException):
        sso.list_accounts(accessToken=token["accessToken"])


def test_create_token_with_iam_with_boto3(start: Factory, clients: Any) -> None:
    client, _ = clients(start())
    result = client.create_token_with_iam(
        clientId=APP_ARN, grantType=oidc.GRANT_JWT_BEARER, assertion="eyJhbGciOiJSUzI1NiJ9.e30.sig"
    )
    assert result["issuedTokenType"] == "urn:ietf:params:oauth:token-type:refresh_token"
    assert result["awsAdditionalDetails"]["identityContext"]
    assert result["scope"] == ["openid", "sso:account:access"]
    refreshed = client.create_token_with_iam(
        clientId=APP_ARN, grantType="refresh_token", refreshToken=result["refreshToken"]
    )
    assert refreshed["accessToken"] != result["accessToken"]


# --- transport ----------------------------------------------------------------------------------------


def _h11_exchange(
    port: int, requests_: list[tuple[str, str, bytes]]
) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``requests_`` one after another over ONE connection; each response."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        conn = h11.Connection(h11.CLIENT)
        for method, target, body in requests_:
            headers = [("Host", f"127.0.0.1:{port}"), ("Content-Length", str(len(body)))]
            sock.sendall(conn.send(h11.Request(method=method, target=target, headers=headers)))
            sock.sendall(conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage()))
            status, response_headers, data = 0, {}, b""
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(sock.recv(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    response_headers = {k.decode(): v.decode() for k, v in event.headers}
                elif isinstance(event, h11.Data):
                    data += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            out.append((status, response_headers, data))
            conn.start_next_cycle()  # raises unless both sides kept the connection open
    return out


def test_keep_alive_serves_several_requests_on_one_connection(start: Factory) -> None:
    server = start()
    body = json.dumps({"clientName": "n", "clientType": "public"}).encode()
    responses = _h11_exchange(
        server.port,
        [("POST", "/client/register", body), ("GET", "/device", b""), ("POST", "/client/register", body)],
    )
    assert [r[0] for r in responses] == [200, 200, 200]
    assert responses[0][1]["content-type"] == "application/json"
    assert json.loads(responses[2][2])["clientId"] != json.loads(responses[0][2])["clientId"]
    assert server.simulator.requests == {"RegisterClient": 2, "VerifyDevice": 1}


def test_head_request_has_no_body(start: Factory) -> None:
    server = start()
    (status, headers, body), (status2, _, _) = _h11_exchange(
        server.port, [("HEAD", "/device", b""), ("GET", "/device", b"")]
    )
    assert (status, status2, body) == (404, 200, b"")
    assert int(headers["content-length"]) > 0


def test_dropped_connection_is_a_connection_error(start: Factory, clients: Any) -> None:
    server = start(faults=FaultPlan(script=["drop"]))
    client, _ = clients(server)
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        register(client)
    assert register(client)["clientId"]  # only the first request was scripted to fail
    assert server.simulator.fault_counts == {"drop": 1}


def test_latency_and_server_error_faults(start: Factory, clients: Any) -> None:
    server = start(faults=FaultPlan(script=["latency", "5xx", "throttle"], latency=0.2))
    client, _ = clients(server)
    began = time.monotonic()
    register(client)
    assert time.monotonic() - began >= 0.2
    with pytest.raises(ClientError) as info:
        register(client)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] in (500, 503)
    with pytest.raises(ClientError) as info:
        register(client)
    assert info.value.response["Error"]["Code"] == "ThrottlingException"


def test_server_binds_loopback_only(start: Factory) -> None:
    server = start()
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert _raw(server.port, b"GET /device HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200 OK\r\n"
    )
    # 127.0.0.2 is loopback too (Linux), but a socket bound to 127.0.0.1 alone does not answer there.
    with pytest.raises(OSError), socket.create_connection(("127.0.0.2", server.port), timeout=2):
        pass


def _raw(port: int, data: bytes, *, shut: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(data)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_oversized_body_is_refused_and_the_connection_closed(start: Factory) -> None:
    server = start()
    size = MAX_REQUEST_BODY * 4
    head = f"POST /client/register HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + b" " * (MAX_REQUEST_BODY + 10))
        reply = b""
        while chunk := sock.recv(65536):  # the server answers and closes without reading the rest
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"RequestEntityTooLargeException" in reply


def test_malformed_http_gets_a_400(start: Factory) -> None:
    server = start()
    assert _raw(server.port, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert _raw(server.port, b"GET /device HTTP/1.1\r\n", shut=True).startswith(b"HTTP/1.1 400 ")  # cut short
    oversized_head = b"GET /device HTTP/1.1\r\nX: " + b"a" * (simserver.MAX_HEAD_SIZE + 1)
    assert _raw(server.port, oversized_head).startswith(b"HTTP/1.1 431 ")


def test_a_weird_host_header_falls_back_to_the_bound_address(start: Factory) -> None:
    server = start()
    reg = b'{"clientName": "n", "clientType": "public"}'
    body = _raw(
        server.port,
        b"POST /client/register HTTP/1.1\r\nHost: evil host\r\nConnection: close\r\n"
        + f"Content-Length: {len(reg)}\r\n\r\n".encode()
        + reg,
    )
    assert body.startswith(b"HTTP/1.1 200 OK\r\n")


def test_idle_connections_are_closed(start: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simserver, "IDLE_TIMEOUT", 0.1)
    server = start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        assert sock.recv(1) == b""  # closed by the server after 0.1 s of silence


def test_the_trio_backend_serves_too() -> None:
    with SimulatorServer(backend="trio") as server:
        assert b"Enter the code" in browse(server.url + "/device")
    server.close()  # closing twice is harmless


def test_serving_on_a_taken_port_fails_cleanly(start: Factory) -> None:
    server = start()
    with pytest.raises(OSError):
        SimulatorServer(port=server.port)


# --- the pytest plugin ----------------------------------------------------------------------------


def test_fixture_serves_a_default_simulator(ssooidc_simulator: SimulatorServer) -> None:
    assert ssooidc_simulator.url.startswith("http://127.0.0.1:")
    assert ssooidc_simulator.simulator.config.interval == 1
    assert b"Enter the code" in browse(ssooidc_simulator.url + "/device")


@pytest.mark.ssooidc_simulator(interval=7, user=UserScript(action="deny"))
def test_fixture_takes_its_config_from_the_marker(ssooidc_simulator: SimulatorServer) -> None:
    assert ssooidc_simulator.simulator.config.interval == 7
    assert ssooidc_simulator.simulator.config.user.action == "deny"
