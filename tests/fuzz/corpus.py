"""Seed samples for fuzzing every parser, the contract each parser keeps, and a seeded mutator.

- :func:`samples` records real inputs: every operation's responses as the simulator sends them
  (successes and errors), those responses as HTTP/1.1 bytes, redirect queries, cache files,
  config files and saved DeviceFlow states.
- ``check_*`` run one parser on one input and return a label for the outcome; a documented error
  is an outcome, anything else (another exception type, or a broken invariant as an
  ``AssertionError``) escapes. The Hypothesis tests and ``benchmarks/fuzz.py`` share them.
- :class:`Mutator` makes inputs near the samples from a seeded ``random.Random`` (bytes, text and
  JSON-level mutations), for the million-input run.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import json
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from sansio_ssooidc.adapters.h11 import HttpCodec

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import Simulator, UserScript

URL = "http://sim.test"
T0 = 1_800_000_000.0
START_URL = "https://d-1234567890.awsapps.com/start"
MAX_EPOCH = 32503680000
JSON_HEADERS = (("Content-Type", "application/json"),)

#: One instance of each operation; parsing does not depend on the request members.
OPERATIONS: dict[str, Any] = {
    "RegisterClient": oidc.RegisterClient(client_name="fuzz", client_type="public"),
    "StartDeviceAuthorization": oidc.StartDeviceAuthorization(
        client_id="c", client_secret="s", start_url=START_URL
    ),
    "CreateToken": oidc.CreateToken(client_id="c", client_secret="s", grant_type=oidc.GRANT_DEVICE_CODE),
    "CreateTokenWithIAM": oidc.CreateTokenWithIAM(client_id="c", grant_type=oidc.GRANT_JWT_BEARER),
    "GetRoleCredentials": oidc.GetRoleCredentials(access_token="t", role_name="r", account_id="1"),
    "ListAccounts": oidc.ListAccounts(access_token="t"),
    "ListAccountRoles": oidc.ListAccountRoles(access_token="t", account_id="1"),
    "Logout": oidc.Logout(access_token="t"),
}

#: What a failed parse of a response may raise (the documented errors).
RESPONSE_ERRORS = (oidc.ServiceError, oidc.RemoteProtocolError)
#: What a flow may raise from ``next_action`` after any response from the peer: a peer's error,
#: a malformed answer, or the flow giving up. Never a ParameterError (that blames the caller).
FLOW_ERRORS = (oidc.ServiceError, oidc.RemoteProtocolError, oidc.FlowError, oidc.RedirectError)


# --- samples -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Samples:
    """Real inputs, recorded from the simulator and the library's own writers."""

    responses: tuple[tuple[str, oidc.HttpResponse], ...]
    raw_http: tuple[bytes, ...]
    redirects: tuple[tuple[str, str], ...]
    tokens: tuple[str, ...]
    registrations: tuple[str, ...]
    role_credentials: tuple[str, ...]
    configs: tuple[str, ...]
    flow_states: tuple[dict[str, Any], ...]

    def json_bodies(self) -> dict[str, list[Any]]:
        """The decoded JSON bodies of the responses, by operation."""
        out: dict[str, list[Any]] = {}
        for name, response in self.responses:
            with contextlib.suppress(ValueError):
                out.setdefault(name, []).append(json.loads(response.body))
        return out


def _ok(obj: Any, status: int = 200) -> oidc.HttpResponse:
    return oidc.HttpResponse(status=status, headers=JSON_HEADERS, body=json.dumps(obj).encode())


def _record_flow(
    flow: Any,
    sim: Simulator,
    now: float,
    log: list[tuple[str, oidc.HttpResponse]],
    redirects: list[tuple[str, str]],
    states: list[dict[str, Any]] | None = None,
) -> tuple[Any, float]:
    redirect = ""
    while True:
        action = flow.next_action(now)
        if isinstance(action, oidc.Send):
            response = sim.handle(action.request, now)
            log.append((action.operation, response))
            flow.receive_response(response, now)
            if states is not None and isinstance(flow, oidc.DeviceFlow):
                states.append(flow.to_dict(include_secrets=True))
        elif isinstance(action, oidc.Wait):
            now = action.until
        elif isinstance(action, oidc.ShowCode):  # the user approves after polls, not on visiting
            if states is not None:
                states.append(flow.to_dict(include_secrets=True))
        elif isinstance(action, oidc.OpenBrowser):
            answer = sim.handle(oidc.HttpRequest(method="GET", url=action.url), now)
            redirect = urlsplit(answer.header("Location") or "").query
            state = parse_qs(urlsplit(action.url).query)["state"][0]
            redirects.append((redirect, state))
        elif isinstance(action, oidc.AwaitRedirect):
            flow.receive_redirect(redirect, now)
        else:
            assert isinstance(action, oidc.Done)
            return action.result, now


def to_wire(response: oidc.HttpResponse, *, chunked: bool = False) -> bytes:
    """``response`` as the HTTP/1.1 bytes a server sends (Content-Length or chunked framing)."""
    try:
        reason = response.reason or HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {response.status} {reason}"]
    for name, value in response.headers:
        if name.lower() in ("content-length", "transfer-encoding"):
            continue
        lines.append(f"{name}: {value}")
    body = response.body
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        half = len(body) // 2
        parts = [p for p in (body[:half], body[half:]) if p]
        body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_CONFIGS = (
    """[default]
sso_session = my-sso
sso_account_id = 111111111111
sso_role_name = ReadOnlyAccess
region = us-west-2
output = json

[sso-session my-sso]
sso_start_url = https://d-1234567890.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
""",
    """[profile legacy]
sso_start_url = https://d-1234567890.awsapps.com/start
sso_region = us-east-1
sso_account_id = 222222222222
sso_role_name = PowerUserAccess

[profile "quoted name"]
sso_session = s2
sso_login_method = device_code

[sso-session s2]
sso_start_url = https://my-org.awsapps.com/start#/
sso_region = eu-west-1
sso_registration_scopes = sso:account:access, codewhisperer:completions,

[services local]
sso-oidc =
  endpoint_url = http://127.0.0.1:8080
s3 =
  max_concurrent_requests = 20
""",
    """# a comment
; another
[profile dev]
sso_session = dev
sso_start_url = https://d-1234567890.awsapps.com/start
[sso-session dev]
sso_start_url : https://d-1234567890.awsapps.com/start
sso_region : us-east-1
[DEFAULT]
output = text
""",
)


@functools.cache
def samples() -> Samples:
    """The seed samples (recorded once per process; deterministic)."""
    log: list[tuple[str, oidc.HttpResponse]] = []
    redirects: list[tuple[str, str]] = []
    states: list[dict[str, Any]] = []
    sim = Simulator(rng=random.Random(11), user=UserScript(after_polls=2))
    states.append(
        oidc.DeviceFlow(start_url=sim.start_url, region="us-east-1", endpoint=URL).to_dict(
            include_secrets=True
        )
    )
    device = oidc.DeviceFlow(
        start_url=sim.start_url, region="us-east-1", endpoint=URL, scopes=("sso:account:access",)
    )
    login, now = _record_flow(device, sim, T0, log, redirects, states)
    pkce = oidc.AuthCodeFlow(
        start_url=sim.start_url,
        region="us-east-1",
        endpoint=URL,
        redirect_uri="http://127.0.0.1:4321/oauth/callback",
        rng=random.Random(5),
    )
    code_login, now = _record_flow(pkce, sim, now, log, redirects)
    refresh = oidc.RefreshFlow(token=login.token, endpoint=URL, advisory=7200, mandatory=0)
    refreshed, now = _record_flow(refresh, sim, now, log, redirects)
    # A cached registration, resumed mid-poll.
    cached = oidc.DeviceFlow(
        start_url=sim.start_url, region="us-east-1", endpoint=URL, registration=login.registration
    )
    _record_flow(cached, sim, now, log, redirects, states)
    token = refreshed.token.access_token
    for op in (
        oidc.ListAccounts(access_token=token),
        oidc.ListAccounts(access_token=token, max_results=1),
        oidc.ListAccountRoles(access_token=token, account_id="111111111111"),
        oidc.GetRoleCredentials(access_token=token, account_id="111111111111", role_name="ReadOnlyAccess"),
        oidc.GetRoleCredentials(access_token=token, account_id="999999999999", role_name="ReadOnlyAccess"),
        oidc.Logout(access_token=token),
        oidc.ListAccounts(access_token=token),  # after logout: UnauthorizedException
    ):
        log.append((type(op).__name__, sim.handle(op.to_request(URL), now)))
    # Errors: denied and expired device logins, a denied PKCE redirect, a reused code.
    for script in (UserScript(action="deny"), UserScript(action="never")):
        other = Simulator(rng=random.Random(12), user=script, device_code_lifetime=3)
        flow = oidc.DeviceFlow(start_url=other.start_url, region="us-east-1", endpoint=URL)
        with contextlib.suppress(oidc.ServiceError, oidc.FlowError):
            _record_flow(flow, other, T0, log, redirects)
    denied = Simulator(rng=random.Random(13), user=UserScript(action="deny"))
    flow = oidc.AuthCodeFlow(
        start_url=denied.start_url,
        region="us-east-1",
        endpoint=URL,
        redirect_uri="http://127.0.0.1:4321/oauth/callback",
        rng=random.Random(6),
    )
    with contextlib.suppress(oidc.RedirectError):
        _record_flow(flow, denied, T0, log, redirects)
    # Shapes seen from the real service (WIRE.md) and from broken middleboxes.
    coral = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
    for code, error, text in (
        ("AuthorizationPendingException", "authorization_pending", "Authorization is still pending"),
        ("InvalidGrantException", "invalid_grant", "Invalid refresh token provided"),
        ("SlowDownException", "slow_down", "Client is polling too fast"),
    ):
        log.append(
            (
                "CreateToken",
                oidc.HttpResponse(
                    status=400,
                    headers=(*JSON_HEADERS, ("x-amzn-ErrorType", f"{code}:{coral}")),
                    body=json.dumps({"error": error, "error_description": text}).encode(),
                ),
            )
        )
    log.append(("CreateToken", _ok({"error": "expired_token", "error_description": "gone"}, 400)))
    log.append(("CreateToken", _ok({"__type": "com.amazonaws.sso.oidc#InternalServerException"}, 500)))
    log.append(
        (
            "GetRoleCredentials",
            _ok({"__type": "com.amazonaws.switchboard.portal#TooManyRequestsException", "message": "x"}, 429),
        )
    )
    log.append(("CreateToken", oidc.HttpResponse(status=503, body=b"")))
    log.append(
        (
            "CreateToken",
            oidc.HttpResponse(
                status=502, headers=(("Content-Type", "text/html"),), body=b"<html><h1>502</h1></html>"
            ),
        )
    )
    log.append(
        (
            "CreateTokenWithIAM",
            _ok(
                {
                    "accessToken": "aoa-iam",
                    "tokenType": "Bearer",
                    "expiresIn": 3600,
                    "refreshToken": "aor-iam",
                    "idToken": "eyJ.e30.sig",
                    "issuedTokenType": "urn:ietf:params:oauth:token-type:refresh_token",
                    "scope": ["sso:account:access"],
                    "awsAdditionalDetails": {"identityContext": "ctx"},
                }
            ),
        )
    )
    raw = [to_wire(r) for _, r in log] + [to_wire(r, chunked=True) for _, r in log[:12]]
    raw.append(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{}")  # read until close
    raw.append(b"HTTP/1.1 100 Continue\r\n\r\n" + to_wire(log[0][1]))
    raw.append(to_wire(log[0][1]) + to_wire(log[1][1]))  # two responses on one connection
    tokens = [
        oidc.dump_token(login.token),
        oidc.dump_token(refreshed.token),
        oidc.dump_token(code_login.token),
    ]
    tokens.append(
        json.dumps(
            {
                "startUrl": START_URL,
                "region": "us-east-1",
                "accessToken": "aoa-legacy",
                "expiresAt": "2027-01-15T09:00:00UTC",
            }
        )
    )
    tokens.append(
        '{"accessToken": "x", "expiresAt": "2027-01-15T09:00:00.123456+02:00", "refreshToken": null, '
        '"clientId": "c", "clientSecret": "s", "registrationExpiresAt": "2027-04-15 08:00:00z"}'
    )
    registrations = [
        oidc.dump_registration(login.registration),
        oidc.dump_registration(code_login.registration),
    ]
    credentials = oidc.CachedRoleCredentials(
        access_key_id="ASIAEXAMPLE",
        secret_access_key="secret",
        session_token="session",
        expiration=datetime(2027, 1, 15, 9, tzinfo=timezone.utc),
        account_id="111111111111",
    )
    role_credentials = [
        oidc.dump_role_credentials(credentials),
        json.dumps(
            {
                "ProviderType": "sso",
                "Credentials": {
                    "AccessKeyId": "A",
                    "SecretAccessKey": "B",
                    "SessionToken": "C",
                    "Expiration": "2027-01-15T09:00:00Z",
                },
            }
        ),
    ]
    return Samples(
        responses=tuple(log),
        raw_http=tuple(raw),
        redirects=tuple(redirects),
        tokens=tuple(tokens),
        registrations=tuple(registrations),
        role_credentials=tuple(role_credentials),
        configs=_CONFIGS,
        flow_states=tuple(states),
    )


# --- contracts ---------------------------------------------------------------------------------


def _opt(value: object, kind: type) -> bool:
    return value is None or type(value) is kind


def _check_result(name: str, result: Any) -> None:
    """The typed result of operation ``name`` has the promised types and bounds."""
    if name == "Logout":
        assert result is None
        return
    repr(result)
    if name == "RegisterClient":
        assert isinstance(result, oidc.RegisterClientResult)
        assert type(result.client_id) is str
        assert type(result.client_secret) is str
        assert type(result.client_secret_expires_at) is int
        assert 1 <= result.client_secret_expires_at <= MAX_EPOCH
        assert _opt(result.client_id_issued_at, int)
        result.client_secret_expires.timestamp()
    elif name == "StartDeviceAuthorization":
        assert isinstance(result, oidc.StartDeviceAuthorizationResult)
        for value in (result.device_code, result.user_code, result.verification_uri):
            assert type(value) is str
        assert _opt(result.verification_uri_complete, str)
        assert type(result.expires_in) is int
        assert 1 <= result.expires_in <= 86400
        assert result.interval is None or 1 <= result.interval <= 300
    elif name in ("CreateToken", "CreateTokenWithIAM"):
        cls = oidc.CreateTokenResult if name == "CreateToken" else oidc.CreateTokenWithIAMResult
        assert isinstance(result, cls)
        assert type(result.access_token) is str
        assert type(result.expires_in) is int
        assert 1 <= result.expires_in <= 366 * 86400
        assert result.token_type is None or result.token_type.lower() == "bearer"
        assert _opt(result.refresh_token, str)
        assert _opt(result.id_token, str)
        if isinstance(result, oidc.CreateTokenWithIAMResult):
            assert result.scope is None or all(type(s) is str for s in result.scope)
            assert _opt(result.identity_context, str)
            assert _opt(result.issued_token_type, str)
    elif name == "GetRoleCredentials":
        assert isinstance(result, oidc.GetRoleCredentialsResult)
        for value in (result.access_key_id, result.secret_access_key, result.session_token):
            assert type(value) is str
        assert type(result.expiration) is int
        result.expiration_datetime.timestamp()
    elif name == "ListAccounts":
        assert isinstance(result, oidc.ListAccountsResult)
        assert _opt(result.next_token, str)
        for account in result.accounts:
            assert isinstance(account, oidc.AccountInfo)
            for value in (account.account_id, account.account_name, account.email_address):
                assert _opt(value, str)
    else:
        assert name == "ListAccountRoles"
        assert isinstance(result, oidc.ListAccountRolesResult)
        assert _opt(result.next_token, str)
        for role in result.roles:
            assert isinstance(role, oidc.RoleInfo)
            assert _opt(role.role_name, str)
            assert _opt(role.account_id, str)


def check_response(name: str, response: oidc.HttpResponse) -> str:
    """``OPERATIONS[name].parse_response(response)``: a typed result, a ServiceError subclass or a
    RemoteProtocolError; nothing else."""
    try:
        result = OPERATIONS[name].parse_response(response)
    except RESPONSE_ERRORS as exc:
        return _check_error(exc, response)
    assert response.status < 300, f"a result for a {response.status} response"
    _check_result(name, result)
    return "ok"


def _check_error(exc: Exception, response: oidc.HttpResponse) -> str:
    str(exc)
    if isinstance(exc, oidc.ServiceError):
        assert response.status >= 300, f"a ServiceError for a {response.status} response"
        assert exc.status == response.status
        assert type(exc.code) is str
        assert type(exc.message) is str
    return type(exc).__name__


def make_response(status: int, headers: Sequence[tuple[str, str]], body: bytes) -> oidc.HttpResponse:
    return oidc.HttpResponse(status=status, headers=tuple(headers), body=body)


def check_redirect(query: str, expected_state: str) -> str:
    """``parse_redirect``: a Redirect that really is ours, or a RedirectError subclass."""
    try:
        redirect = oidc.parse_redirect(query, expected_state=expected_state)
    except oidc.RedirectError as exc:
        str(exc)
        return type(exc).__name__
    assert isinstance(redirect, oidc.Redirect)
    params = parse_qs(query, keep_blank_values=True)
    assert params.get("state") == [expected_state], "accepted a redirect without our state"
    assert "error" not in params
    assert redirect.code
    assert params.get("code") == [redirect.code]
    return "ok"


_LOADERS: dict[str, tuple[Callable[..., Any], Callable[[Any], str]]] = {
    "token": (oidc.load_token, oidc.dump_token),
    "registration": (oidc.load_registration, oidc.dump_registration),
    "role credentials": (oidc.load_role_credentials, oidc.dump_role_credentials),
}


def check_cache(kind: str, text: str) -> str:
    """``load_*``: a value (which dumps and reloads to the same file) or a CacheFileError."""
    load, dump = _LOADERS[kind]
    try:
        value = load(text, source="fuzz.json")
    except oidc.CacheFileError as exc:
        return _check_cache_error(exc, kind)
    written = dump(value)
    assert dump(load(written)) == written, "a loaded value does not round-trip"
    for name in ("expires_at", "registration_expires_at", "expiration"):
        moment = getattr(value, name, None)
        if moment is not None:
            assert moment.utcoffset().total_seconds() == 0
    return "ok"


def _check_cache_error(exc: oidc.CacheFileError, kind: str) -> str:
    assert exc.kind == kind
    assert "fuzz.json" in str(exc)
    return "CacheFileError"


def check_config(text: str, extra_names: Sequence[str] = ()) -> str:
    """``parse_config`` then ``resolve_sso_settings`` for every profile and session (and a few other
    names): values or ConfigError only."""
    try:
        config = oidc.parse_config(text, source="fuzz-config")
    except oidc.ConfigError as exc:
        str(exc)
        return "ConfigError (parse)"
    assert isinstance(config, oidc.AwsConfig)
    repr(config)
    outcomes = []
    for profile in (*config.profiles, None, *extra_names):
        outcomes.append(_resolve(config, profile=profile))
    for session in (*config.sso_sessions, *extra_names):
        outcomes.append(_resolve(config, sso_session=session))
    return "ok" if "ok" in outcomes else "ConfigError (resolve)"


def _resolve(config: oidc.AwsConfig, **names: Any) -> str:
    try:
        settings = oidc.resolve_sso_settings(config, **names)
    except oidc.ConfigError as exc:
        str(exc)
        return "ConfigError"
    assert isinstance(settings, oidc.SsoSettings)
    assert settings.start_url
    assert settings.region
    return "ok"


def _restore(data: Any) -> oidc.DeviceFlow | None:
    try:
        flow = oidc.DeviceFlow.from_dict(data)
    except oidc.ParameterError as exc:
        str(exc)
        return None
    assert isinstance(flow, oidc.DeviceFlow)
    saved = flow.to_dict(include_secrets=True)
    assert oidc.DeviceFlow.from_dict(saved).to_dict(include_secrets=True) == saved
    return flow


def check_flow_state(data: Any) -> str:
    """``DeviceFlow.from_dict``: a flow (which saves and restores to the same dict) or a ParameterError."""
    return "ParameterError" if _restore(data) is None else "ok"


#: Answers to a restored flow's requests: success, pending, slow_down, a 500, garbage.
_TOKEN = _ok({"accessToken": "aoa", "tokenType": "Bearer", "expiresIn": 3600, "refreshToken": "aor"})
_CANNED = (
    _ok({"clientId": "cid", "clientSecret": "sec", "clientSecretExpiresAt": int(T0) + 90 * 86400}),
    _ok(
        {
            "deviceCode": "dc",
            "userCode": "ABCD-EFGH",
            "verificationUri": "https://v",
            "verificationUriComplete": "https://v?c",
            "expiresIn": 600,
            "interval": 1,
        }
    ),
    _ok({"error": "authorization_pending"}, 400),
    _ok({"error": "slow_down"}, 400),
    oidc.HttpResponse(status=500),
    _ok([1]),
    _TOKEN,
)


def check_flow_state_runs(data: Any, start: float, answers: Sequence[int]) -> str:
    """A restored DeviceFlow runs: its actions are well-formed (no Send at or after the device code's
    deadline, no Wait into the past) and it ends only with a peer's or a flow error."""
    flow = _restore(data)
    if flow is None:
        return "ParameterError"
    return drive_canned(flow, start, answers)


def drive_canned(flow: Any, now: float, answers: Sequence[int], steps: int = 12) -> str:
    """Drive ``flow`` with the canned answers (indexes into ``_CANNED``) for a few steps."""
    sent = 0
    for _ in range(steps):
        try:
            action = flow.next_action(now)
        except FLOW_ERRORS as exc:
            str(exc)
            return type(exc).__name__
        if isinstance(action, oidc.Send):
            if isinstance(flow, oidc.DeviceFlow) and flow.state is oidc.DeviceState.AWAIT_POLL:
                assert flow.deadline is not None
                assert now < flow.deadline, "a poll at or after the deadline"
            answer = _CANNED[answers[sent % len(answers)] % len(_CANNED)] if answers else _TOKEN
            sent += 1
            flow.receive_response(answer, now)
        elif isinstance(action, oidc.Wait):
            assert action.until > now, "a Wait into the past"
            now = action.until
        elif isinstance(action, oidc.Done):
            return "done"
    return "running"


# A flow brought to the point where it awaits a response, for the flow-level response contract.
_REG = _CANNED[0]
_START = _CANNED[1]


def flow_awaiting(stage: str) -> tuple[Any, float]:
    """A new flow in the awaiting state ``stage`` and the time: ``device-register``,
    ``device-start``, ``device-poll``, ``pkce-register``, ``pkce-exchange`` or ``refresh``."""
    now = T0
    flow: Any
    if stage.startswith("device"):
        flow = oidc.DeviceFlow(start_url=START_URL, region="us-east-1", endpoint=URL)
        feed = {"device-register": [], "device-start": [_REG], "device-poll": [_REG, _START]}[stage]
    elif stage.startswith("pkce"):
        flow = oidc.AuthCodeFlow(
            start_url=START_URL,
            region="us-east-1",
            endpoint=URL,
            redirect_uri="http://127.0.0.1:4321/oauth/callback",
            rng=random.Random(1),
        )
        feed = {"pkce-register": [], "pkce-exchange": [_REG]}[stage]
    else:
        token = oidc.CachedToken(
            start_url=START_URL,
            region="us-east-1",
            access_token="aoa",
            expires_at=datetime.fromtimestamp(T0 + 300, timezone.utc),
            client_id="cid",
            client_secret="sec",
            registration_expires_at=datetime.fromtimestamp(T0 + 86400, timezone.utc),
            refresh_token="aor",
        )
        flow = oidc.RefreshFlow(token=token, endpoint=URL)
        feed = []
    while True:
        action = flow.next_action(now)
        if isinstance(action, oidc.Send):
            if not feed:
                return flow, now
            flow.receive_response(feed.pop(0), now)
        elif isinstance(action, oidc.Wait):
            now = action.until
        elif isinstance(action, oidc.OpenBrowser):
            state = parse_qs(urlsplit(action.url).query)["state"][0]
        elif isinstance(action, oidc.AwaitRedirect):
            flow.receive_redirect(f"code=the-code&state={quote(state)}", now)


FLOW_STAGES = ("device-register", "device-start", "device-poll", "pkce-register", "pkce-exchange", "refresh")


def check_flow_response(stage: str, response: oidc.HttpResponse, answers: Sequence[int] = ()) -> str:
    """A flow awaiting a response takes any response without raising, then goes on with well-formed
    actions and ends only with a peer's or a flow error."""
    flow, now = flow_awaiting(stage)
    flow.receive_response(response, now)
    return drive_canned(flow, now, answers)


#: A request the codec sends before reading a response.
_REQUEST = oidc.HttpRequest(
    method="POST", url="http://sim.test/token", headers=JSON_HEADERS, body=b'{"clientId": "c"}'
)
#: The body limit in codec fuzzing: small, so that the limit itself is exercised.
CODEC_MAX_BODY = 4096


def check_codec(chunks: Sequence[bytes]) -> str:
    """``HttpCodec.receive`` fed ``chunks`` then EOF: responses (a second one after a keep-alive
    first), or RemoteProtocolError / ConnectionResetError; never None at EOF."""
    codec = HttpCodec(max_body_size=CODEC_MAX_BODY)
    codec.send(_REQUEST)
    pending = [chunk for chunk in chunks if chunk] + [b""]
    got = 0
    try:
        while pending:
            response = codec.receive(pending.pop(0))
            if response is None:
                continue
            assert isinstance(response, oidc.HttpResponse)
            assert len(response.body) <= CODEC_MAX_BODY
            got += 1
            if got == 2 or not codec.reusable or not pending or pending == [b""]:
                return "response"
            codec.send(_REQUEST)
    except oidc.RemoteProtocolError:
        return "RemoteProtocolError"
    except ConnectionResetError:
        return "ConnectionResetError"
    raise AssertionError("receive() returned None after EOF")


# --- mutation --------------------------------------------------------------------------------

INTERESTING_JSON: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1,
    299,
    300,
    301,
    86400,
    86401,
    366 * 86400 + 1,
    2**31,
    2**63,
    10**400,
    MAX_EPOCH,
    MAX_EPOCH + 1,
    1.5,
    -0.0,
    float("nan"),
    float("inf"),
    "",
    "x",
    "Bearer",
    "bearer",
    "mac",
    "\u0000",
    "\ud800",
    "é",
    "a" * 300,
    "2027-01-15T09:00:00Z",
    "1970-01-01T00:00:00+24:00",
    "9999-12-31T23:59:59-01:00",
    "AuthorizationPendingException",
    "com.amazonaws#SlowDownException:x",
    "slow_down",
    "authorization_pending",
    "expired_token",
    [],
    {},
    [1],
    ["a", 1],
    {"a": None},
)

BYTE_TOKENS: tuple[bytes, ...] = (
    b'"',
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"NaN",
    b"-",
    b"1e999",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\xff",
    b"\xc3",
    b"\x00",
    b" ",
    b"\r\n",
    b"\r\n\r\n",
    b"0\r\n\r\n",
    b"Content-Length: 5\r\n",
    b"Content-Length: 99999999\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Connection: close\r\n",
    b"HTTP/1.1 ",
    b"HTTP/1.1 600 X\r\n",
    b"\t",
    b"9" * 30,
    b"[" * 200,
    b'"accessToken": "dup", ',
    b'"expiresIn": -1, ',
)

TEXT_TOKENS: tuple[str, ...] = (
    "&",
    "=",
    "state=",
    "code=",
    "error=",
    "error_description=",
    "%",
    "%zz",
    "%ff",
    "%00",
    "%ED%A0%80",
    "+",
    "#",
    ";",
    "\ud800",
    "\n",
    "\r",
    "[",
    "]",
    "[profile ",
    "[sso-session ",
    "[default]\n",
    "sso_session = ",
    "sso_start_url = ",
    "sso_region = ",
    "sso_registration_scopes = ",
    "\n  key = value\n",
    "\n  no-equals\n",
    ":",
    '"',
    "'",
    " ",
    "\t",
    "\x00",
    "%(x)s",
)


class Mutator:
    """Seeded mutations of bytes, text and JSON values near real samples."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    # bytes ------------------------------------------------------------------------------------
    def bytes(self, data: bytes, others: Sequence[bytes] = ()) -> bytes:
        rng = self.rng
        out = bytearray(data)
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 5))):
            op = rng.randrange(9)
            pos = rng.randrange(len(out) + 1)
            if op == 0 and out:
                out[min(pos, len(out) - 1)] ^= 1 << rng.randrange(8)
            elif op == 1 and out:
                out[min(pos, len(out) - 1)] = rng.randrange(256)
            elif op == 2:
                out[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5)))
            elif op == 3 and out:
                del out[pos : pos + rng.randrange(1, 16)]
            elif op == 4:
                out[pos:pos] = rng.choice(BYTE_TOKENS)
            elif op == 5:
                del out[pos:]
            elif op == 6 and out:
                start = rng.randrange(len(out))
                out[pos:pos] = out[start : start + rng.randrange(1, 64)]
            elif op == 7 and others:
                other = rng.choice(others)
                cut = rng.randrange(len(other) + 1)
                out[pos:] = other[cut:]
            else:
                out[pos:pos] = rng.choice(BYTE_TOKENS) * rng.randrange(1, 4)
        return bytes(out)

    # text -------------------------------------------------------------------------------------
    def text(self, data: str, others: Sequence[str] = ()) -> str:
        rng = self.rng
        out = list(data)
        for _ in range(rng.choice((1, 1, 2, 2, 3, 5))):
            op = rng.randrange(7)
            pos = rng.randrange(len(out) + 1)
            if op == 0 and out:
                out[min(pos, len(out) - 1)] = chr(
                    rng.choice((rng.randrange(32, 127), rng.randrange(0x110000)))
                )
            elif op == 1:
                out[pos:pos] = list(rng.choice(TEXT_TOKENS))
            elif op == 2 and out:
                del out[pos : pos + rng.randrange(1, 12)]
            elif op == 3 and out:
                start = rng.randrange(len(out))
                out[pos:pos] = out[start : start + rng.randrange(1, 80)]
            elif op == 4 and others:
                other = rng.choice(others)
                cut = rng.randrange(len(other) + 1)
                out[pos:] = list(other[cut:])
            elif op == 5:
                del out[pos:]
            else:
                out[pos:pos] = list(rng.choice(TEXT_TOKENS) * rng.randrange(1, 4))
        return "".join(out)

    # JSON values ------------------------------------------------------------------------------
    def json(self, value: Any) -> Any:
        """A deep copy of ``value`` with one to three mutations at random places."""
        rng = self.rng
        root = [copy.deepcopy(value)]
        for _ in range(rng.choice((1, 1, 2, 3))):
            slots = list(_slots(root))
            container, key = rng.choice(slots)
            op = rng.randrange(8)
            current = container[key]
            if op == 0 and isinstance(container, dict):
                del container[key]
            elif op == 1 and isinstance(current, dict):
                current[rng.choice(("x", "", "__type", "code", "message", *current))] = self._value()
            elif op == 2:
                container[key] = [current]
            elif op == 3:
                donor, donor_key = rng.choice(slots)  # a value moved to another place (type confusion)
                container[key] = copy.deepcopy(donor[donor_key])
            elif op == 4 and isinstance(current, str):
                container[key] = self.text(current)
            elif op == 5 and isinstance(current, int) and not isinstance(current, bool):
                container[key] = rng.choice(
                    (current + 1, current - 1, -current, current * 1000, str(current))
                )
            elif op == 6 and isinstance(current, dict) and current:
                other_key = rng.choice(list(current))
                current[other_key] = copy.deepcopy(current[rng.choice(list(current))])
            else:
                container[key] = self._value()
        return root[0]

    def _value(self) -> Any:
        rng = self.rng
        if rng.random() < 0.85:
            return copy.deepcopy(rng.choice(INTERESTING_JSON))
        depth = rng.randrange(1, 40)
        # A copy: a later mutation of this value in place must never reach INTERESTING_JSON itself
        # (its dicts and lists then grew from call to call, and a fuzz worker ran out of memory).
        value: Any = copy.deepcopy(rng.choice(INTERESTING_JSON))
        for _ in range(depth):
            value = [value] if rng.random() < 0.5 else {"a": value}
        return value


def _slots(root: list[Any]) -> Any:
    """Every (container, key) pair under ``root`` (a one-item list holding the value)."""
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        container, key = stack.pop()
        yield container, key
        value = container[key]
        if isinstance(value, dict):
            stack.extend((value, k) for k in list(value))
        elif isinstance(value, list):
            stack.extend((value, i) for i in range(len(value)))


def dumps(value: Any, rng: random.Random) -> bytes:
    """``value`` as JSON bytes in one of the spellings a server might use."""
    choice = rng.randrange(4)
    if choice == 0:
        text = json.dumps(value)
    elif choice == 1:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    elif choice == 2:
        text = json.dumps(value, indent=1)
    else:
        text = " \r\n" + json.dumps(value) + "\n "
    return text.encode("utf-8", "surrogatepass")
