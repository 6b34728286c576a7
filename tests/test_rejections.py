"""Malformed input that must be REJECTED is rejected, with the specific typed error and a message
that names the problem (table-driven). Fuzzing shows that garbage never crashes a parser; this file
shows that a lenient parser does not let bad values through.

Decision recorded here: a JSON body with a duplicate key keeps the LAST value (as ``json.loads`` and
botocore do); every bound and type check applies to the value kept, so a duplicate cannot smuggle a
value past a check (``test_duplicate_keys_keep_the_last_value``).
"""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from sansio_ssooidc.adapters import h11 as ad_h11
from sansio_ssooidc.adapters import requests as ad_requests
from sansio_ssooidc.adapters.h11 import HttpCodec

import sansio_ssooidc as oidc

T0 = 1_800_000_000.0
URL = "http://sim.test"
START_URL = "https://d-1234567890.awsapps.com/start"
JSON = (("Content-Type", "application/json"),)
MAX_EPOCH = 32503680000

REGISTERED = {
    "clientId": "cid",
    "clientSecret": "sec",
    "clientIdIssuedAt": int(T0),
    "clientSecretExpiresAt": int(T0) + 90 * 86400,
}
STARTED = {
    "deviceCode": "device-code",
    "userCode": "ABCD-EFGH",
    "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
    "verificationUriComplete": "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
    "expiresIn": 600,
    "interval": 1,
}
TOKEN = {
    "accessToken": "aoa",
    "tokenType": "Bearer",
    "expiresIn": 3600,
    "refreshToken": "aor",
    "idToken": "idt",
}
ROLE = {"roleCredentials": {"accessKeyId": "A", "secretAccessKey": "S", "sessionToken": "T", "expiration": 1}}

OPS: dict[str, Any] = {
    "RegisterClient": oidc.RegisterClient(client_name="n", client_type="public"),
    "StartDeviceAuthorization": oidc.StartDeviceAuthorization(
        client_id="c", client_secret="s", start_url="u"
    ),
    "CreateToken": oidc.CreateToken(client_id="c", client_secret="s", grant_type=oidc.GRANT_DEVICE_CODE),
    "GetRoleCredentials": oidc.GetRoleCredentials(access_token="t", role_name="r", account_id="1"),
}
BASE = {
    "RegisterClient": REGISTERED,
    "StartDeviceAuthorization": STARTED,
    "CreateToken": TOKEN,
    "GetRoleCredentials": ROLE,
}


def ok(obj: Any, status: int = 200) -> oidc.HttpResponse:
    return oidc.HttpResponse(status=status, headers=JSON, body=json.dumps(obj).encode())


def with_member(op: str, **changes: Any) -> oidc.HttpResponse:
    return ok({**BASE[op], **changes})


def without(op: str, key: str) -> oidc.HttpResponse:
    return ok({k: v for k, v in BASE[op].items() if k != key})


# --- responses: (id, operation, response, error, message pattern) --------------------------------

BIG = b'{"accessToken": "' + b"a" * oidc.DEFAULT_MAX_BODY_SIZE + b'", "expiresIn": 3600}'
RESPONSE_CASES: list[tuple[str, str, oidc.HttpResponse, type[Exception], str]] = [
    # device authorization: interval and expiresIn within sane bounds (RFC 8628; WIRE.md)
    (
        "negative interval",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", interval=-1),
        oidc.RemoteProtocolError,
        r"'interval'=-1 is outside the sane range 1\.\.300",
    ),
    (
        "zero interval",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", interval=0),
        oidc.RemoteProtocolError,
        r"'interval'=0 is outside the sane range",
    ),
    (
        "interval over 5 minutes",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", interval=301),
        oidc.RemoteProtocolError,
        r"'interval'=301 is outside the sane range 1\.\.300",
    ),
    (
        "interval of a float",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", interval=1.5),
        oidc.RemoteProtocolError,
        r"'interval' is a float, expected int",
    ),
    (
        "interval as a string",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", interval="5"),
        oidc.RemoteProtocolError,
        r"'interval' is a str, expected int",
    ),
    (
        "interval as a bool",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", interval=True),
        oidc.RemoteProtocolError,
        r"'interval' is a bool, expected int",
    ),
    (
        "device code lifetime zero",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", expiresIn=0),
        oidc.RemoteProtocolError,
        r"'expiresIn'=0 is outside the sane range 1\.\.86400",
    ),
    (
        "device code lifetime negative",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", expiresIn=-600),
        oidc.RemoteProtocolError,
        r"'expiresIn'=-600 is outside the sane range",
    ),
    (
        "device code lifetime over a day",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", expiresIn=86401),
        oidc.RemoteProtocolError,
        r"'expiresIn'=86401 is outside the sane range 1\.\.86400",
    ),
    (
        "device code lifetime infinite",
        "StartDeviceAuthorization",
        oidc.HttpResponse(status=200, body=json.dumps(STARTED).replace("600", "1e999").encode()),
        oidc.RemoteProtocolError,
        r"'expiresIn' is a float, expected int",
    ),
    (
        "device code missing",
        "StartDeviceAuthorization",
        without("StartDeviceAuthorization", "deviceCode"),
        oidc.RemoteProtocolError,
        r"missing 'deviceCode'",
    ),
    (
        "device code null",
        "StartDeviceAuthorization",
        with_member("StartDeviceAuthorization", deviceCode=None),
        oidc.RemoteProtocolError,
        r"missing 'deviceCode'",
    ),
    # tokens
    (
        "token lifetime zero",
        "CreateToken",
        with_member("CreateToken", expiresIn=0),
        oidc.RemoteProtocolError,
        r"'expiresIn'=0 is outside the sane range 1\.\.31622400",
    ),
    (
        "token lifetime negative",
        "CreateToken",
        with_member("CreateToken", expiresIn=-1),
        oidc.RemoteProtocolError,
        r"'expiresIn'=-1 is outside the sane range",
    ),
    (
        "token lifetime over a year",
        "CreateToken",
        with_member("CreateToken", expiresIn=366 * 86400 + 1),
        oidc.RemoteProtocolError,
        r"'expiresIn'=31622401 is outside the sane range",
    ),
    (
        "token lifetime in milliseconds",
        "CreateToken",
        with_member("CreateToken", expiresIn=3_600_000_000),
        oidc.RemoteProtocolError,
        r"'expiresIn'=3600000000 is outside the sane range",
    ),
    (
        "token type mac",
        "CreateToken",
        with_member("CreateToken", tokenType="mac"),
        oidc.RemoteProtocolError,
        r"tokenType 'mac' is not Bearer",
    ),
    (
        "token type DPoP",
        "CreateToken",
        with_member("CreateToken", tokenType="DPoP"),
        oidc.RemoteProtocolError,
        r"tokenType 'DPoP' is not Bearer",
    ),
    (
        "token type Bearer with a space",
        "CreateToken",
        with_member("CreateToken", tokenType="Bearer "),
        oidc.RemoteProtocolError,
        r"tokenType 'Bearer ' is not Bearer",
    ),
    (
        "token type empty",
        "CreateToken",
        with_member("CreateToken", tokenType=""),
        oidc.RemoteProtocolError,
        r"tokenType '' is not Bearer",
    ),
    (
        "token type a number",
        "CreateToken",
        with_member("CreateToken", tokenType=1),
        oidc.RemoteProtocolError,
        r"'tokenType' is a int, expected str",
    ),
    (
        "access token missing",
        "CreateToken",
        without("CreateToken", "accessToken"),
        oidc.RemoteProtocolError,
        r"missing 'accessToken'",
    ),
    (
        "access token a number",
        "CreateToken",
        with_member("CreateToken", accessToken=12),
        oidc.RemoteProtocolError,
        r"'accessToken' is a int, expected str",
    ),
    # registrations
    (
        "registration expiry zero",
        "RegisterClient",
        with_member("RegisterClient", clientSecretExpiresAt=0),
        oidc.RemoteProtocolError,
        r"'clientSecretExpiresAt'=0 is outside the sane range 1\.\.32503680000",
    ),
    (
        "registration expiry negative",
        "RegisterClient",
        with_member("RegisterClient", clientSecretExpiresAt=-1),
        oidc.RemoteProtocolError,
        r"'clientSecretExpiresAt'=-1 is outside",
    ),
    (
        "registration expiry in milliseconds",
        "RegisterClient",
        with_member("RegisterClient", clientSecretExpiresAt=int(T0) * 1000),
        oidc.RemoteProtocolError,
        r"'clientSecretExpiresAt'=1800000000000 is outside",
    ),
    (
        "registration expiry missing",
        "RegisterClient",
        without("RegisterClient", "clientSecretExpiresAt"),
        oidc.RemoteProtocolError,
        r"missing 'clientSecretExpiresAt'",
    ),
    (
        "registration issued in milliseconds",
        "RegisterClient",
        with_member("RegisterClient", clientIdIssuedAt=int(T0) * 1000),
        oidc.RemoteProtocolError,
        r"'clientIdIssuedAt'=1800000000000 is outside",
    ),
    # portal
    (
        "role credentials expiration negative",
        "GetRoleCredentials",
        ok({"roleCredentials": {**ROLE["roleCredentials"], "expiration": -1}}),
        oidc.RemoteProtocolError,
        r"'expiration'=-1 is outside",
    ),
    (
        "role credentials not an object",
        "GetRoleCredentials",
        ok({"roleCredentials": []}),
        oidc.RemoteProtocolError,
        r"'roleCredentials' is a list, expected dict",
    ),
    # bodies
    (
        "body over the size limit",
        "CreateToken",
        oidc.HttpResponse(status=200, body=BIG),
        oidc.RemoteProtocolError,
        r"response body of 1048\d{3} bytes exceeds the limit of 1048576 bytes",
    ),
    (
        "error body over the size limit",
        "CreateToken",
        oidc.HttpResponse(status=400, body=BIG),
        oidc.RemoteProtocolError,
        r"error body of 1048\d{3} bytes exceeds the limit of 1048576 bytes",
    ),
    (
        "body a JSON array",
        "CreateToken",
        ok([TOKEN]),
        oidc.RemoteProtocolError,
        r"response body is a JSON list, expected an object",
    ),
    (
        "body truncated",
        "CreateToken",
        oidc.HttpResponse(status=200, body=b'{"accessToken": "aoa", "expiresIn":'),
        oidc.RemoteProtocolError,
        r"response body is not JSON",
    ),
    (
        "body with trailing garbage",
        "CreateToken",
        oidc.HttpResponse(status=200, body=json.dumps(TOKEN).encode() + b"}"),
        oidc.RemoteProtocolError,
        r"response body is not JSON",
    ),
    (
        "body nested too deep",
        "CreateToken",
        oidc.HttpResponse(status=200, body=b'{"a":' + b"[" * 100_000),
        oidc.RemoteProtocolError,
        r"response body is not JSON",
    ),
    (
        "body an HTML page with 200",
        "CreateToken",
        oidc.HttpResponse(status=200, body=b"<html>hi</html>"),
        oidc.RemoteProtocolError,
        r"response body is not JSON",
    ),
    (
        "error member not a string",
        "CreateToken",
        ok({"error": 5}, 400),
        oidc.RemoteProtocolError,
        r"error member 'error' is not a string",
    ),
    (
        "duplicate key, the bad value last",
        "CreateToken",
        oidc.HttpResponse(status=200, body=b'{"accessToken": "a", "expiresIn": 3600, "expiresIn": -1}'),
        oidc.RemoteProtocolError,
        r"'expiresIn'=-1 is outside",
    ),
    (
        "duplicate token type, mac last",
        "CreateToken",
        oidc.HttpResponse(
            status=200,
            body=b'{"accessToken": "a", "expiresIn": 5, "tokenType": "Bearer", "tokenType": "mac"}',
        ),
        oidc.RemoteProtocolError,
        r"tokenType 'mac' is not Bearer",
    ),
]


@pytest.mark.parametrize(
    ("operation", "response", "error", "message"),
    [case[1:] for case in RESPONSE_CASES],
    ids=[case[0] for case in RESPONSE_CASES],
)
def test_response_is_rejected(
    operation: str, response: oidc.HttpResponse, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        OPS[operation].parse_response(response)
    if isinstance(info.value, oidc.RemoteProtocolError):
        assert info.value.status == response.status
        assert "aoa" not in str(info.value) or b'"accessToken": "aoa"' not in response.body  # masked
        assert len(info.value.excerpt) <= 200


def test_secrets_in_a_rejected_body_are_masked() -> None:
    response = with_member(
        "CreateToken", tokenType="mac", accessToken="SECRET-ACCESS", refreshToken="SECRET-R"
    )
    with pytest.raises(oidc.RemoteProtocolError) as info:
        OPS["CreateToken"].parse_response(response)
    assert "SECRET" not in str(info.value)
    assert '"accessToken": "***"' in info.value.excerpt


def test_duplicate_keys_keep_the_last_value() -> None:
    body = b'{"accessToken": "first", "accessToken": "last", "expiresIn": -1, "expiresIn": 3600}'
    result = OPS["CreateToken"].parse_response(oidc.HttpResponse(status=200, body=body))
    assert result.access_token == "last"
    assert result.expires_in == 3600
    # The same as botocore, which parses with json.loads.
    assert json.loads(body) == {"accessToken": "last", "expiresIn": 3600}


@pytest.mark.parametrize("token_type", ["Bearer", "bearer", "BEARER", None])
def test_bearer_is_accepted_in_any_case(token_type: str | None) -> None:
    # RFC 6749 section 5.1: "The value is case insensitive."
    assert (
        OPS["CreateToken"].parse_response(with_member("CreateToken", tokenType=token_type)).token_type
        == token_type
    )


# --- empty required members are rejected --------------------------------------------------------

EMPTY_CASES = [
    ("StartDeviceAuthorization", "deviceCode"),
    ("StartDeviceAuthorization", "userCode"),
    ("StartDeviceAuthorization", "verificationUri"),
    ("CreateToken", "accessToken"),
    ("RegisterClient", "clientId"),
    ("RegisterClient", "clientSecret"),
    ("GetRoleCredentials", "accessKeyId"),
]


@pytest.mark.parametrize(("operation", "key"), EMPTY_CASES, ids=[f"{op}.{key}" for op, key in EMPTY_CASES])
def test_empty_required_member_is_rejected(operation: str, key: str) -> None:
    if operation == "GetRoleCredentials":
        response = ok({"roleCredentials": {**ROLE["roleCredentials"], key: ""}})
    else:
        response = with_member(operation, **{key: ""})
    with pytest.raises(oidc.RemoteProtocolError, match=f"'{key}'.*empty"):
        OPS[operation].parse_response(response)


# --- flows ----------------------------------------------------------------------------------------


def drive(
    flow: Any, answers: list[oidc.HttpResponse], now: float = T0, steps: int = 30
) -> tuple[list[str], Any]:
    """Drive ``flow`` with ``answers`` in order: (operations sent, the final action or error)."""
    sent: list[str] = []
    for _ in range(steps):
        try:
            action = flow.next_action(now)
        except oidc.SSOOIDCError as exc:
            return sent, exc
        if isinstance(action, oidc.Send):
            sent.append(action.operation)
            if not answers:
                return sent, action
            flow.receive_response(answers.pop(0), now)
        elif isinstance(action, oidc.Wait):
            now = action.until
        elif isinstance(action, oidc.Done):
            return sent, action
    return sent, None


def device_flow(**kwargs: Any) -> oidc.DeviceFlow:
    return oidc.DeviceFlow(start_url=START_URL, region="us-east-1", endpoint=URL, **kwargs)


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


@pytest.mark.parametrize(
    "expires_at",
    [T0 - 1, T0, T0 + 60, T0 + 15 * 60],
    ids=["expired", "expiring now", "a minute left", "15 minutes left"],
)
def test_cached_registration_near_or_past_expiry_is_not_reused(expires_at: float) -> None:
    registration = oidc.CachedRegistration(
        client_id="old", client_secret="old-secret", expires_at=utc(expires_at)
    )
    sent, _ = drive(device_flow(registration=registration), [ok(REGISTERED)])
    assert sent[:2] == ["RegisterClient", "StartDeviceAuthorization"]


@pytest.mark.parametrize("kind", ["device", "pkce"])
def test_fresh_registration_already_expired_is_not_used(kind: str) -> None:
    expired = ok({**REGISTERED, "clientSecretExpiresAt": int(T0) - 10})
    if kind == "device":
        flow: Any = device_flow()
    else:
        flow = oidc.AuthCodeFlow(
            start_url=START_URL,
            region="us-east-1",
            endpoint=URL,
            redirect_uri="http://127.0.0.1:4321/oauth/callback",
            rng=random.Random(1),
        )
    assert isinstance(flow.next_action(T0), oidc.Send)
    flow.receive_response(expired, T0)
    try:
        action: Any = flow.next_action(T0)
    except oidc.SSOOIDCError as exc:
        action = exc
    if isinstance(action, oidc.SSOOIDCError):
        assert "expire" in str(action)  # refused
        return
    # Or registered again (after a backoff): never StartDeviceAuthorization / the browser with it.
    assert isinstance(action, oidc.Wait) or (
        isinstance(action, oidc.Send) and action.operation == "RegisterClient"
    )


def refresh_token(expires_at: float, **changes: Any) -> oidc.CachedToken:
    fields: dict[str, Any] = {
        "start_url": START_URL,
        "region": "us-east-1",
        "access_token": "old-access",
        "expires_at": utc(expires_at),
        "client_id": "cid",
        "client_secret": "sec",
        "registration_expires_at": utc(T0 + 30 * 86400),
        "refresh_token": "aor",
    }
    fields.update(changes)
    return oidc.CachedToken(**fields)


EXPIRED_TOKEN_CASES: list[tuple[str, oidc.CachedToken, list[oidc.HttpResponse], Any]] = [
    (
        "no refresh token",
        refresh_token(T0 - 1, refresh_token=None),
        [],
        oidc.LoginRequiredReason.NO_REFRESH_TOKEN,
    ),
    (
        "legacy profile",
        refresh_token(T0 - 1, client_id=None, client_secret=None, refresh_token=None),
        [],
        oidc.LoginRequiredReason.NO_REFRESH_TOKEN,
    ),
    (
        "registration expired too",
        refresh_token(T0 - 1, registration_expires_at=utc(T0 - 1)),
        [],
        oidc.LoginRequiredReason.REGISTRATION_EXPIRED,
    ),
    (
        "refresh rejected",
        refresh_token(T0 - 1),
        [ok({"error": "invalid_grant"}, 400)],
        oidc.LoginRequiredReason.REFRESH_REJECTED,
    ),
    (
        "refresh keeps failing",
        refresh_token(T0 - 3600),
        [oidc.HttpResponse(status=503)] * 5,
        oidc.RetriesExhaustedError,
    ),
]


@pytest.mark.parametrize(
    ("token", "answers", "outcome"),
    [case[1:] for case in EXPIRED_TOKEN_CASES],
    ids=[case[0] for case in EXPIRED_TOKEN_CASES],
)
def test_expired_cached_token_is_never_handed_out(
    token: oidc.CachedToken, answers: list[oidc.HttpResponse], outcome: Any
) -> None:
    sent, end = drive(oidc.RefreshFlow(token=token, endpoint=URL), list(answers))
    assert not isinstance(end, oidc.Done), "an expired token was returned as usable"
    if isinstance(outcome, oidc.LoginRequiredReason):
        assert isinstance(end, oidc.LoginRequiredError)
        assert end.reason is outcome
        assert "login required" in str(end)
    else:
        assert isinstance(end, outcome)
        assert "refresh failed after 5 attempts" in str(end)
    assert len(sent) == len(answers)


def test_expired_cached_token_is_refreshed_first() -> None:
    sent, end = drive(oidc.RefreshFlow(token=refresh_token(T0 - 1), endpoint=URL), [ok(TOKEN)])
    assert sent == ["CreateToken"]
    assert isinstance(end, oidc.Done)
    assert end.result.refreshed
    assert end.result.token.expires_at == utc(T0 + 3600)


def test_device_code_lifetime_is_capped() -> None:
    answers = [ok(REGISTERED), with_member("StartDeviceAuthorization", expiresIn=86400)]
    flow = device_flow(max_expires_in=1800)
    drive(flow, answers)
    assert flow.deadline == T0 + 1800


def test_no_interval_means_five_seconds() -> None:
    started = {k: v for k, v in STARTED.items() if k != "interval"}
    flow = device_flow()
    _, end = drive(flow, [ok(REGISTERED), ok(started)])
    assert isinstance(end, oidc.Send)
    assert flow.interval == 5


# --- saved flow states ------------------------------------------------------------------------------


def saved_poll_state() -> dict[str, Any]:
    flow = device_flow()
    drive(flow, [ok(REGISTERED), ok(STARTED)])
    return flow.to_dict(include_secrets=True)


SAVED_CASES: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("negative interval", lambda d: d.update(interval=-5), r"interval must be within 1\.\.86400"),
    ("zero interval", lambda d: d.update(interval=0), r"interval must be within 1\.\.86400"),
    ("interval over a day", lambda d: d.update(interval=86401), r"interval must be within 1\.\.86400"),
    ("interval beyond any float", lambda d: d.update(interval=10**400), r"interval must be within"),
    ("negative attempt", lambda d: d.update(attempt=-1), r"attempt >= 0"),
    ("deadline NaN", lambda d: d.update(deadline=float("nan")), r"deadline is not a time"),
    ("deadline in milliseconds", lambda d: d.update(deadline=T0 * 1000), r"deadline is not a time"),
    ("empty device code", lambda d: d["secrets"].update(device_code=""), r"no device code"),
    ("no secrets", lambda d: d.update(secrets=None), r"no client secret"),
    ("unknown state", lambda d: d.update(state="polling"), r"unknown state 'polling'"),
    ("awaiting state", lambda d: d.update(state="await_poll"), r"never awaits a response"),
    ("another flow", lambda d: d.update(flow="pkce"), r"not a saved device flow state"),
    ("another version", lambda d: d.update(version=2), r"not a saved device flow state"),
    ("interval a string", lambda d: d.update(interval="5"), r"interval must be a int, not str"),
]


@pytest.mark.parametrize(
    ("mutate", "message"), [case[1:] for case in SAVED_CASES], ids=[case[0] for case in SAVED_CASES]
)
def test_bad_saved_state_is_rejected(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    data = saved_poll_state()
    mutate(data)
    with pytest.raises(oidc.ParameterError, match=message):
        oidc.DeviceFlow.from_dict(data)


@pytest.mark.parametrize(
    "now", [T0 * 1000, float("nan"), -1.0, float("inf")], ids=["ms", "nan", "negative", "inf"]
)
def test_a_bad_clock_is_rejected(now: float) -> None:
    with pytest.raises(oidc.ParameterError, match="now must be epoch seconds"):
        device_flow().next_action(now)


# --- redirects -----------------------------------------------------------------------------------

STATE = "the-state"
REDIRECT_CASES: list[tuple[str, str, type[Exception], str]] = [
    (
        "two states, both ours",
        f"code=c&state={STATE}&state={STATE}",
        oidc.MalformedRedirectError,
        r"redirect has 2 'state' parameters, expected one",
    ),
    (
        "two states, ours second",
        f"code=c&state=forged&state={STATE}",
        oidc.MalformedRedirectError,
        r"2 'state' parameters",
    ),
    ("two codes", f"code=a&code=b&state={STATE}", oidc.MalformedRedirectError, r"2 'code' parameters"),
    ("two errors", f"error=a&error=b&state={STATE}", oidc.MalformedRedirectError, r"2 'error' parameters"),
    ("wrong state", "code=c&state=forged", oidc.StateMismatchError, r"state does not match"),
    ("no state", "code=c", oidc.StateMismatchError, r"state does not match"),
    ("empty state", "code=c&state=", oidc.StateMismatchError, r"state does not match"),
    ("state with a suffix", f"code=c&state={STATE}x", oidc.StateMismatchError, r"state does not match"),
    ("no code", f"state={STATE}", oidc.MissingCodeError, r"no authorization code"),
    ("empty code", f"code=&state={STATE}", oidc.MissingCodeError, r"no authorization code"),
    (
        "error redirect",
        f"error=access_denied&error_description=no&state={STATE}",
        oidc.AuthorizationRedirectError,
        r"authorization failed: access_denied: no",
    ),
    (
        "oversized query",
        f"state={STATE}&code=" + "c" * 9000,
        oidc.MalformedRedirectError,
        r"redirect query of 9\d{3} characters exceeds 8192",
    ),
]


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [case[1:] for case in REDIRECT_CASES],
    ids=[case[0] for case in REDIRECT_CASES],
)
def test_redirect_is_rejected(query: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        oidc.parse_redirect(query, expected_state=STATE)
    assert STATE not in str(info.value)


@pytest.mark.parametrize(
    "query", ["code=c&state=forged", "code=c&state=X&state=X"], ids=["wrong", "duplicate"]
)
def test_a_stray_redirect_leaves_the_flow_waiting(query: str) -> None:
    flow = oidc.AuthCodeFlow(
        start_url=START_URL,
        region="us-east-1",
        endpoint=URL,
        redirect_uri="http://127.0.0.1:4321/oauth/callback",
        rng=random.Random(1),
    )
    drive(flow, [ok(REGISTERED)])
    assert isinstance(flow.next_action(T0), oidc.AwaitRedirect)
    with pytest.raises((oidc.StateMismatchError, oidc.MalformedRedirectError)):
        flow.receive_redirect(query, T0)
    assert flow.state is oidc.AuthCodeState.AWAIT_REDIRECT


# --- the HTTP codec --------------------------------------------------------------------------------


def codec_receive(raw: bytes, max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE) -> oidc.HttpResponse | None:
    """Feed ``raw`` in 4 KiB reads, then EOF."""
    codec = HttpCodec(max_body_size=max_body_size)
    codec.send(oidc.HttpRequest(method="POST", url="http://h/token", body=b"{}"))
    for start in range(0, len(raw), 4096):
        response = codec.receive(raw[start : start + 4096])
        if response is not None:
            return response
    return codec.receive(b"")


CODEC_CASES: list[tuple[str, bytes, type[Exception], str]] = [
    (
        "body over the limit",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2_000_000,
        oidc.RemoteProtocolError,
        r"response body exceeds 1048576 bytes",
    ),
    (
        "chunked body over the limit",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"100000\r\n"
        + b"x" * 0x100000
        + b"\r\n1\r\nx\r\n0\r\n\r\n",
        oidc.RemoteProtocolError,
        r"response body exceeds 1048576 bytes",
    ),
    (
        "header over 16 KiB + a read",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 40000 + b"\r\nContent-Length: 0\r\n\r\n",
        oidc.RemoteProtocolError,
        r"malformed HTTP response",
    ),
    (
        "status line over 16 KiB + a read",
        b"HTTP/1.1 200 " + b"O" * 40000 + b"\r\n\r\n",
        oidc.RemoteProtocolError,
        r"malformed HTTP response",
    ),
    (
        "unterminated head over 16 KiB",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 4000,
        oidc.RemoteProtocolError,
        r"malformed HTTP response",
    ),
    ("not HTTP", b"SSH-2.0-OpenSSH_9.6\r\n", oidc.RemoteProtocolError, r"malformed HTTP response"),
    (
        "two Content-Lengths",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        oidc.RemoteProtocolError,
        r"malformed HTTP response",
    ),
    (
        "body shorter than Content-Length",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        oidc.RemoteProtocolError,
        r"malformed HTTP response",
    ),
    ("closed before the head", b"HTTP/1.1 200 OK\r\n", oidc.RemoteProtocolError, r"malformed HTTP response"),
]


@pytest.mark.parametrize(
    ("raw", "error", "message"), [case[1:] for case in CODEC_CASES], ids=[case[0] for case in CODEC_CASES]
)
def test_codec_rejects(raw: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        codec_receive(raw)


def test_codec_head_limit_counts_incomplete_heads_only() -> None:
    # h11's max_incomplete_event_size bounds the buffer of a head still incomplete after a read:
    # a 20 KiB head arriving in one read is accepted. The bound is then 16 KiB plus one read
    # (the transports read 64 KiB), still bounded.
    head = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 20000 + b"\r\nContent-Length: 2\r\n\r\n{}"
    codec = HttpCodec()
    codec.send(oidc.HttpRequest(method="POST", url="http://h/token"))
    response = codec.receive(head)
    assert response is not None
    assert response.status == 200


def test_codec_closed_before_anything_is_a_reset() -> None:
    with pytest.raises(ConnectionResetError, match="closed before the response was complete"):
        codec_receive(b"")


# A status h11 and http.client accept (any three digits) but HttpResponse refuses (100..599).


@pytest.fixture
def odd_status_server() -> Iterator[str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(
                        b"HTTP/1.1 600 Odd\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    )
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(5)
    server.close()


@pytest.mark.parametrize("adapter", ["h11", "requests"])
def test_odd_status_is_a_protocol_error(adapter: str, odd_status_server: str) -> None:
    module: Any = ad_h11 if adapter == "h11" else ad_requests
    with pytest.raises(oidc.RemoteProtocolError):
        module.send(oidc.ListAccounts(access_token="t"), odd_status_server)
