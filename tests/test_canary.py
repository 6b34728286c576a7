"""The canary test: distinctive secret values passed everywhere, and none of them may show up in a
``repr()``, a ``str()``, an exception's message or args, a flow's saved state (without secrets) or a
DEBUG log record of the ``sansio_ssooidc`` logger.

WIRE.md lists what is sensitive: clientSecret, accessToken, refreshToken, idToken, codeVerifier,
assertion, subjectToken, the device code; plus the authorization code, the AWS secret access key
and session token. Each gets a canary; the public value types are enumerated from ``__all__`` so a
new one (or a new secret field) cannot be forgotten.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sansio_ssooidc as oidc
from sansio_ssooidc._values import Record

#: Secret field name -> its canary. Every secret field of every public value must be listed.
CANARIES = {
    "client_secret": "CANARY-client-secret-7f3a",
    "access_token": "CANARY-access-token-2b9c",
    "refresh_token": "CANARY-refresh-token-5e1d",
    "id_token": "CANARY-id-token-8c4f",
    "device_code": "CANARY-device-code-3a6b",
    "code_verifier": "CANARY-code-verifier-9d2e-0123456789-abcdefghij-ABCDEFGHIJ-klmnop",
    "code": "CANARY-authorization-code-4f8a",
    "assertion": "CANARY-assertion-1c7b",
    "subject_token": "CANARY-subject-token-6e3d",
    "secret_access_key": "CANARY-aws-secret-key-0a5f",
    "session_token": "CANARY-aws-session-token-7b2c",
}
#: Besides the whole values, their distinctive tails: a truncated secret must not show either.
NEEDLES = ("CANARY", *(value.rsplit("-", 1)[-1] for value in CANARIES.values()))
C = CANARIES

NOW = 1_700_000_000.0
UTC = dt.timezone.utc
START_URL = "https://d-1234567890.awsapps.com/start"
ENDPOINT = "https://oidc.us-east-1.amazonaws.com"
PORTAL = "https://portal.sso.us-east-1.amazonaws.com"


def at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, UTC)


# --- the check ------------------------------------------------------------------------------------


def texts_of(obj: object, depth: int = 0) -> Iterator[str]:
    """Every text an object shows: repr and str, and for an exception its args and its causes."""
    yield repr(obj)
    yield str(obj)
    if isinstance(obj, BaseException) and depth < 5:
        yield repr(obj.args)
        for arg in obj.args:
            yield str(arg)
        # What a traceback shows: the cause, and the context unless suppressed ("from None").
        context = None if obj.__suppress_context__ else obj.__context__
        for linked in (obj.__cause__, context, getattr(obj, "last_error", None)):
            if linked is not None:
                yield from texts_of(linked, depth + 1)


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def assert_clean(*objects: object, extra: Sequence[str] = ()) -> None:
    needles = (*NEEDLES, *extra)
    for obj in objects:
        for shown in texts_of(obj):
            # A default repr's memory address is hex and could hold a 4-digit tail by chance.
            text = _ADDRESS.sub(" at 0x…", shown)
            for needle in needles:
                assert needle not in text, f"{needle!r} leaked by {type(obj).__name__}: {text}"


def assert_clean_logs(records: Iterable[logging.LogRecord], extra: Sequence[str] = ()) -> None:
    formatter = logging.Formatter()
    for record in records:
        texts = [record.getMessage(), repr(record.args), str(record.msg)]
        if record.exc_info:
            texts.append(formatter.formatException(record.exc_info))
        for text in texts:
            for needle in (*NEEDLES, *extra):
                assert needle not in text, f"{needle!r} leaked in a log record: {text}"


def test_the_canaries_are_distinct_and_distinctive() -> None:
    assert len(set(CANARIES.values())) == len(CANARIES)
    assert len(set(NEEDLES)) == len(NEEDLES)
    for value in CANARIES.values():
        assert sum(needle in value for needle in NEEDLES) == 2  # "CANARY" and its own tail


# --- every public value type ----------------------------------------------------------------------


def public_value_types() -> list[type[Record]]:
    return [
        obj
        for name in oidc.__all__
        if isinstance(obj := getattr(oidc, name), type)
        and issubclass(obj, Record)
        and obj is not oidc.Operation
    ]


TOKEN = oidc.CachedToken(
    start_url=START_URL,
    region="us-east-1",
    access_token=C["access_token"],
    expires_at=at(NOW + 3600),
    client_id="cid",
    client_secret=C["client_secret"],
    registration_expires_at=at(NOW + 86400 * 90),
    refresh_token=C["refresh_token"],
)
REGISTRATION = oidc.CachedRegistration(
    client_id="cid",
    client_secret=C["client_secret"],
    expires_at=at(NOW + 86400 * 90),
    scopes=["sso:account:access"],
)
CREDENTIALS = oidc.AwsCredentials(
    access_key_id="AKIDEXAMPLE", secret_access_key=C["secret_access_key"], session_token=C["session_token"]
)
SECRET_REQUEST = oidc.HttpRequest(
    method="POST",
    url=ENDPOINT + "/token",
    headers=[("Authorization", "Bearer " + C["access_token"]), ("x-amz-sso_bearer_token", C["access_token"])],
    body=json.dumps({"clientSecret": C["client_secret"], "refreshToken": C["refresh_token"]}).encode(),
)

#: Fields of kind "any" (and a few others) need a value of their real type.
SPECIAL: dict[str, Any] = {
    "expires_at": at(NOW + 3600),
    "expiration": at(NOW + 3600),
    "registration_expires_at": at(NOW + 86400),
    "token": TOKEN,
    "registration": REGISTRATION,
    "result": TOKEN,
    "request": SECRET_REQUEST,
    "error": oidc.InvalidGrantException(
        "InvalidGrantException", "Invalid refresh token provided", status=400
    ),
    "reason": oidc.LoginRequiredReason.REFRESH_REJECTED,
    "accounts": (oidc.AccountInfo(account_id="1"),),
    "roles": (oidc.RoleInfo(role_name="r"),),
    "profiles": {"p": {"aws_secret_access_key": C["secret_access_key"]}},
    "sso_sessions": {"s": {"sso_start_url": START_URL}},
    "service_sections": {},
    "base": 1.0,
    "cap": 2.0,
}


#: Times the actions keep as epoch seconds (declared without a kind).
OVERRIDES: dict[type, dict[str, Any]] = {
    oidc.ShowCode: {"expires_at": NOW},
    oidc.Wait: {"until": NOW},
    oidc.AwaitRedirect: {"until": NOW},
}


def build(cls: type[Record]) -> Record:
    """An instance of ``cls`` with every secret field set to its canary and the rest plausible."""
    kwargs: dict[str, Any] = {}
    for name, _wire, kind, _required, secret, _nonempty, _loc in cls._field_specs():
        if secret:
            assert name in CANARIES, f"{cls.__name__}.{name} is secret but has no canary: add one"
            kwargs[name] = CANARIES[name]
        elif name in OVERRIDES.get(cls, {}):
            kwargs[name] = OVERRIDES[cls][name]
        elif kind == "str":
            kwargs[name] = f"value-of-{name}"
        elif kind == "strs":
            kwargs[name] = ["one", "two"]
        elif kind == "int":
            kwargs[name] = 5
        elif kind == "bool":
            kwargs[name] = True
        else:  # "any"
            kwargs[name] = SPECIAL[name]
    return cls(**kwargs)


@pytest.mark.parametrize("cls", public_value_types(), ids=lambda c: c.__name__)
def test_every_public_value_masks_its_secrets(cls: type[Record]) -> None:
    value = build(cls)
    assert_clean(value)
    secret_fields = [spec[0] for spec in cls._field_specs() if spec[4]]
    for name in secret_fields:  # the canary really is in there
        assert getattr(value, name) == CANARIES[name]


#: Field names that look secret but are not (the user code is shown to the user; types and
#: pagination tokens are not credentials; a nested token value masks itself).
NOT_SECRET = {
    "user_code",
    "token_type",
    "issued_token_type",
    "subject_token_type",
    "requested_token_type",
    "next_token",
    "token",
}
LOOKS_SECRET = re.compile(r"(^|_)(secret|token|verifier|assertion|password|code|key)$")


@pytest.mark.parametrize("cls", public_value_types(), ids=lambda c: c.__name__)
def test_every_field_that_looks_secret_is_declared_secret(cls: type[Record]) -> None:
    for name, _wire, _kind, _required, secret, _nonempty, _loc in cls._field_specs():
        if LOOKS_SECRET.search(name) and name not in NOT_SECRET:
            assert secret, f"{cls.__name__}.{name} looks like a secret: declare it with secret=True"


def test_operations_and_their_requests() -> None:
    ops: list[oidc.Operation[Any]] = [
        oidc.RegisterClient(client_name="n", client_type="public", scopes=["sso:account:access"]),
        oidc.StartDeviceAuthorization(client_id="cid", client_secret=C["client_secret"], start_url=START_URL),
        oidc.CreateToken(
            client_id="cid",
            client_secret=C["client_secret"],
            grant_type=oidc.GRANT_DEVICE_CODE,
            device_code=C["device_code"],
            code=C["code"],
            refresh_token=C["refresh_token"],
            code_verifier=C["code_verifier"],
            redirect_uri="http://127.0.0.1:4321/oauth/callback",
            scope=["openid"],
        ),
        oidc.GetRoleCredentials(role_name="Admin", account_id="123456789012", access_token=C["access_token"]),
        oidc.ListAccounts(access_token=C["access_token"], max_results=3, next_token="page-2"),
        oidc.ListAccountRoles(access_token=C["access_token"], account_id="123456789012"),
        oidc.Logout(access_token=C["access_token"]),
    ]
    for op in ops:
        endpoint = PORTAL if op.service == "sso" else ENDPOINT
        request = op.to_request(endpoint)
        assert_clean(op, request, oidc.Send(request=request, operation=type(op).__name__))
    iam = oidc.CreateTokenWithIAM(
        client_id="arn",
        grant_type=oidc.GRANT_TOKEN_EXCHANGE,
        code=C["code"],
        refresh_token=C["refresh_token"],
        assertion=C["assertion"],
        subject_token=C["subject_token"],
        code_verifier=C["code_verifier"],
    )
    signed = iam.to_request(ENDPOINT, credentials=CREDENTIALS, now=at(NOW))
    assert_clean(iam, signed, CREDENTIALS)
    assert C["session_token"] in dict(signed.headers).values()  # it is there, and masked
    signed_again = oidc.sign_request(
        signed, credentials=CREDENTIALS, region="us-east-1", service="sso-oauth", now=at(NOW)
    )
    assert_clean(signed_again)


def test_http_values_with_secrets_in_headers_and_bodies() -> None:
    response = oidc.HttpResponse(
        status=200,
        headers=[("Set-Cookie", "s=" + C["access_token"]), ("Authorization", C["access_token"])],
        body=json.dumps({"accessToken": C["access_token"]}).encode(),
    )
    assert_clean(SECRET_REQUEST, response)


# --- results --------------------------------------------------------------------------------------

TOKEN_BODY = {
    "accessToken": C["access_token"],
    "tokenType": "Bearer",
    "expiresIn": 3600,
    "refreshToken": C["refresh_token"],
    "idToken": C["id_token"],
}
#: (operation, a success body full of canaries) for every operation with a result.
RESULTS: list[tuple[oidc.Operation[Any], dict[str, Any]]] = [
    (
        oidc.RegisterClient(client_name="n", client_type="public"),
        {
            "clientId": "cid",
            "clientSecret": C["client_secret"],
            "clientIdIssuedAt": 1_700_000_000,
            "clientSecretExpiresAt": 1_710_000_000,
            "tokenEndpoint": "https://oidc.us-east-1.amazonaws.com/token",
        },
    ),
    (
        oidc.StartDeviceAuthorization(client_id="cid", client_secret=C["client_secret"], start_url=START_URL),
        {
            "deviceCode": C["device_code"],
            "userCode": "ABCD-EFGH",
            "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
            "verificationUriComplete": "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
            "expiresIn": 600,
            "interval": 5,
        },
    ),
    (
        oidc.CreateToken(
            client_id="cid",
            client_secret=C["client_secret"],
            grant_type="refresh_token",
            refresh_token=C["refresh_token"],
        ),
        TOKEN_BODY,
    ),
    (
        oidc.CreateTokenWithIAM(client_id="arn", grant_type=oidc.GRANT_JWT_BEARER, assertion=C["assertion"]),
        {
            **TOKEN_BODY,
            "issuedTokenType": "urn:ietf:params:oauth:token-type:refresh_token",
            "scope": ["openid"],
            "awsAdditionalDetails": {"identityContext": "ctx"},
        },
    ),
    (
        oidc.GetRoleCredentials(role_name="Admin", account_id="123456789012", access_token=C["access_token"]),
        {
            "roleCredentials": {
                "accessKeyId": "ASIAEXAMPLE",
                "secretAccessKey": C["secret_access_key"],
                "sessionToken": C["session_token"],
                "expiration": 1_700_003_600_000,
            }
        },
    ),
    (
        oidc.ListAccounts(access_token=C["access_token"]),
        {"accountList": [{"accountId": "1", "accountName": "n", "emailAddress": "e"}], "nextToken": "page"},
    ),
    (
        oidc.ListAccountRoles(access_token=C["access_token"], account_id="1"),
        {"roleList": [{"roleName": "Admin", "accountId": "1"}]},
    ),
]


def response(status: int, body: Any, headers: Sequence[tuple[str, str]] = ()) -> oidc.HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return oidc.HttpResponse(
        status=status, headers=[("Content-Type", "application/json"), *headers], body=raw
    )


@pytest.mark.parametrize(
    ("op", "body"), RESULTS, ids=lambda x: type(x).__name__ if isinstance(x, oidc.Operation) else ""
)
def test_results_with_secrets(op: oidc.Operation[Any], body: dict[str, Any]) -> None:
    result = op.parse_response(response(200, body))
    assert_clean(result)


def malformed_variants(body: dict[str, Any]) -> Iterator[bytes]:
    """Bodies a broken peer might send, each still carrying the secrets under their keys."""
    raw = json.dumps(body).encode()
    for cut in range(len(raw)):  # truncated anywhere (a cut-off connection)
        yield raw[:cut]
    yield raw + b"}"  # trailing garbage
    yield raw.replace(b": ", b":", 1)[:-1] + b',"expiresIn": "soon"}'
    yield b"[" + raw + b"]"  # not an object
    for key in body:  # each member of the wrong type, in turn
        broken = dict(body)
        broken[key] = [broken[key]] if isinstance(broken[key], (int, dict)) else 12
        yield json.dumps(broken).encode()
    yield json.dumps({**body, "expiresIn": 0, "interval": 10**6, "clientSecretExpiresAt": -1}).encode()
    yield json.dumps({**body, "tokenType": "MAC"}).encode()


@pytest.mark.parametrize(
    ("op", "body"), RESULTS, ids=lambda x: type(x).__name__ if isinstance(x, oidc.Operation) else ""
)
def test_malformed_bodies_with_secrets_raise_clean_protocol_errors(
    op: oidc.Operation[Any], body: dict[str, Any]
) -> None:
    errors = 0
    for raw in malformed_variants(body):
        try:
            result = op.parse_response(response(200, raw))
        except oidc.RemoteProtocolError as exc:
            errors += 1
            assert_clean(exc)
        else:
            assert_clean(result)
    assert errors > len(json.dumps(body))


#: Error responses whose bodies hold secrets (a service echoing the request, say) but whose
#: message does not.
ERROR_BODIES = [
    {
        "error": "invalid_grant",
        "error_description": "Invalid refresh token provided",
        "refreshToken": C["refresh_token"],
    },
    {
        "__type": "com.amazonaws.switchboard.portal#UnauthorizedException",
        "message": "Session token not found",
        "accessToken": C["access_token"],
    },
    {"error": "authorization_pending", "deviceCode": C["device_code"], "clientSecret": C["client_secret"]},
    {"message": 'echo {"codeVerifier": "' + C["code_verifier"] + '", "assertion": "' + C["assertion"] + '"}'},
    {"message": "redirect http://127.0.0.1/cb?code=" + C["code"] + "&state=s"},
    {"error": ["not", "a", "string"], "idToken": C["id_token"]},
    {"message": 5, "subjectToken": C["subject_token"]},
]


@pytest.mark.parametrize("body", ERROR_BODIES)
@pytest.mark.parametrize("status", [400, 401, 500])
def test_error_responses_with_secrets_in_the_body(body: dict[str, Any], status: int) -> None:
    op = oidc.CreateToken(
        client_id="cid",
        client_secret=C["client_secret"],
        grant_type="refresh_token",
        refresh_token=C["refresh_token"],
    )
    with pytest.raises((oidc.ServiceError, oidc.RemoteProtocolError)) as info:
        op.parse_response(response(status, body))
    assert_clean(info.value)
    raw = json.dumps(body).encode()
    for cut in range(0, len(raw), 7):
        with pytest.raises((oidc.ServiceError, oidc.RemoteProtocolError)) as info:
            op.parse_response(response(status, raw[:cut], [("x-amzn-ErrorType", "InvalidGrantException")]))
        assert_clean(info.value)


# --- cache files and config -----------------------------------------------------------------------


def test_cache_values_round_trip_and_corrupt_files() -> None:
    role = oidc.CachedRoleCredentials(
        access_key_id="ASIA",
        secret_access_key=C["secret_access_key"],
        session_token=C["session_token"],
        expiration=at(NOW + 3600),
        account_id="1",
    )
    texts = {
        "token": oidc.dump_token(TOKEN),
        "registration": oidc.dump_registration(REGISTRATION),
        "role": oidc.dump_role_credentials(role),
    }
    loaders: dict[str, Callable[..., Any]] = {
        "token": oidc.load_token,
        "registration": oidc.load_registration,
        "role": oidc.load_role_credentials,
    }
    assert_clean(
        TOKEN,
        REGISTRATION,
        role,
        oidc.load_token(texts["token"]),
        oidc.load_registration(texts["registration"]),
    )
    assert_clean(oidc.load_role_credentials(texts["role"]))
    assert C["secret_access_key"] in oidc.credential_process_json(role)  # that is its job
    failures = 0
    for kind, text in texts.items():
        document = json.loads(text)
        inner = document.get("Credentials", document)
        variants = [text[:cut] for cut in range(0, len(text), 3)]
        variants += [text + "}", text.replace('"', "'"), text.replace(":", "=")]
        for key in list(inner):
            for bad in (5, [inner[key]], {"v": inner[key]}, None, "not-a-time-" + kind):
                changed = dict(inner)
                changed[key] = bad
                wrapped = {**document, "Credentials": changed} if "Credentials" in document else changed
                variants.append(json.dumps(wrapped))
        variants.append(json.dumps({"Credentials": json.dumps(inner)}))
        variants.append(json.dumps([inner]))
        for variant in variants:
            outcome = load(loaders[kind], variant, f"/home/u/.aws/sso/cache/{kind}.json")
            failures += isinstance(outcome, oidc.CacheFileError)
            assert_clean(outcome)
    assert failures > 100


def load(loader: Callable[..., Any], text: str, source: str) -> object:
    """What loading ``text`` gives: the value or the CacheFileError."""
    try:
        return loader(text, source=source)
    except oidc.CacheFileError as exc:
        return exc


CONFIGS = [
    # The profile and its session disagree on a key that is not an sso_ one: not quoted.
    "[profile p]\nsso_session = s\naws_secret_access_key = {sak}\n[sso-session s]\nsso_start_url = u\n"
    "sso_region = us-east-1\naws_secret_access_key = other-{st}\n",
    # A pasted secret on a line of its own, and before any section.
    "[profile p]\nsso_session = s\n{sak}\n",
    "{sak} = 1\n",
    "aws_session_token = {st}\n[profile p]\n",
    # A key twice.
    "[profile p]\naws_secret_access_key = {sak}\naws_secret_access_key = {st}\n",
    # A section twice.
    "[profile p]\na = {sak}\n[profile p]\nb = {st}\n",
    # A nested block with a line without "=".
    "[profile p]\ns3 =\n  {sak}\n",
    # Missing settings of a session whose other values are secrets.
    "[profile p]\nsso_session = s\naws_session_token = {st}\n"
    "[sso-session s]\naws_secret_access_key = {sak}\n",
    "[profile p]\naws_secret_access_key = {sak}\n",
    "[profile p]\nsso_session = missing\naws_session_token = {st}\n",
]


@pytest.mark.parametrize("template", CONFIGS)
def test_config_errors_never_quote_secrets(template: str) -> None:
    text = template.format(sak=C["secret_access_key"], st=C["session_token"])
    try:
        config = oidc.parse_config(text, source="/home/u/.aws/config")
    except oidc.ConfigError as exc:
        assert_clean(exc)
        return
    assert_clean(config)
    with pytest.raises(oidc.ConfigError) as info:
        oidc.resolve_sso_settings(config, profile="p")
    assert_clean(info.value)
    with pytest.raises(oidc.ConfigError) as info:
        config.profile("nope")
    assert_clean(info.value)


# --- the flows, driven ----------------------------------------------------------------------------

Outcome = oidc.HttpResponse | BaseException


def ok(body: dict[str, Any]) -> oidc.HttpResponse:
    return response(200, body)


def failed(code: str, status: int = 400, **body: Any) -> oidc.HttpResponse:
    return response(status, body, [("x-amzn-ErrorType", code + ":http://internal.amazon.com/coral/")])


REGISTERED = ok(RESULTS[0][1] | {"clientSecretExpiresAt": int(NOW) + 90 * 86400})
STARTED = ok(RESULTS[1][1] | {"interval": 1})
TOKEN_OK = ok(TOKEN_BODY)
PENDING = failed("AuthorizationPendingException", error="authorization_pending", deviceCode=C["device_code"])
SLOW_DOWN = failed("SlowDownException", error="slow_down", clientSecret=C["client_secret"])
#: A server error and a truncated success, both with secrets in the body: transient failures.
SERVER_ERROR = failed("InternalServerException", 500, error="server_error", refreshToken=C["refresh_token"])
TRUNCATED = response(200, json.dumps(TOKEN_BODY).encode()[:60])
GARBAGE = response(502, b'<html>{"accessToken": "' + C["access_token"].encode() + b'"}</html>')
INVALID_GRANT = failed("InvalidGrantException", error="invalid_grant", refreshToken=C["refresh_token"])
INVALID_CLIENT = failed(
    "InvalidClientException", 401, error="invalid_client", clientSecret=C["client_secret"]
)
EXPIRED = failed("ExpiredTokenException", error="expired_token", deviceCode=C["device_code"])


def reset() -> BaseException:
    return ConnectionResetError(104, "Connection reset by peer")


@dataclasses.dataclass
class Run:
    seen: list[object] = dataclasses.field(default_factory=list)
    result: object = None
    error: BaseException | None = None


def drive(
    flow: Any,
    outcomes: Iterable[Outcome | Callable[[], BaseException]],
    *,
    redirect: Callable[[str], list[str]] | None = None,
    now: float = NOW,
    max_steps: int = 500,
) -> Run:
    """Run ``flow`` on a virtual clock, answering each Send with the next outcome; stop when the
    outcomes run out, the flow ends, or fails. Records every action and error for the check."""
    run = Run()
    pending = list(outcomes)
    queries: list[str] | None = None
    for _ in range(max_steps):
        try:
            action = flow.next_action(now)
        except oidc.SSOOIDCError as exc:
            run.error = exc
            run.seen.append(exc)
            return run
        run.seen.append(action)
        if isinstance(action, oidc.Send):
            if not pending:
                return run
            outcome = pending.pop(0)
            outcome = outcome() if callable(outcome) else outcome
            if isinstance(outcome, BaseException):
                flow.receive_failure(outcome, now)
            else:
                flow.receive_response(outcome, now)
        elif isinstance(action, oidc.Wait):
            now = max(now, action.until)
        elif isinstance(action, oidc.OpenBrowser):
            assert redirect is not None
            queries = redirect(action.url)
        elif isinstance(action, oidc.AwaitRedirect):
            if not queries:
                now = action.until
                continue
            while queries:
                try:
                    flow.receive_redirect(queries.pop(0), now)
                except oidc.RedirectError as exc:
                    run.seen.append(exc)
        elif isinstance(action, oidc.Done):
            run.result = action.result
            return run
    raise AssertionError("the flow did not finish")


def check_run(flow: Any, run: Run, records: Iterable[logging.LogRecord], extra: Sequence[str] = ()) -> None:
    assert_clean(flow, *run.seen, extra=extra)
    if run.result is not None:
        assert_clean(run.result, extra=extra)
    to_dict = getattr(flow, "to_dict", None)
    if to_dict is not None:
        saved = json.dumps(to_dict(), default=str)
        for needle in (*NEEDLES, *extra):
            assert needle not in saved, f"{needle!r} in the saved state without secrets"
    assert_clean_logs(records, extra)


def device_flow(**kwargs: Any) -> oidc.DeviceFlow:
    return oidc.DeviceFlow(start_url=START_URL, region="us-east-1", **kwargs)


DEVICE_SCRIPTS: list[tuple[str, Callable[[], oidc.DeviceFlow], list[Any]]] = [
    (
        "login",
        device_flow,
        [REGISTERED, STARTED, PENDING, SLOW_DOWN, SERVER_ERROR, reset, TRUNCATED, GARBAGE, TOKEN_OK],
    ),
    ("expired", device_flow, [REGISTERED, STARTED, PENDING, EXPIRED]),
    (
        "cached registration rejected",
        lambda: device_flow(registration=REGISTRATION),
        [INVALID_CLIENT, REGISTERED, STARTED, TOKEN_OK],
    ),
    (
        "registration keeps failing",
        device_flow,
        [SERVER_ERROR, GARBAGE, reset, TRUNCATED, SERVER_ERROR, GARBAGE] * 3,
    ),
    (
        "polls keep failing",
        device_flow,
        [REGISTERED, STARTED, *([GARBAGE, SERVER_ERROR, TRUNCATED, reset] * 5)],
    ),
    ("poll rejected", device_flow, [REGISTERED, STARTED, INVALID_GRANT]),
    ("device code expires", lambda: device_flow(max_expires_in=3), [REGISTERED, STARTED, *[PENDING] * 10]),
]


@pytest.mark.parametrize(("label", "make", "outcomes"), DEVICE_SCRIPTS, ids=[s[0] for s in DEVICE_SCRIPTS])
def test_device_flow(
    caplog: pytest.LogCaptureFixture, label: str, make: Callable[[], oidc.DeviceFlow], outcomes: list[Any]
) -> None:
    caplog.set_level(logging.DEBUG, logger="sansio_ssooidc")
    flow = make()
    run = drive(flow, outcomes)
    assert run.result is not None or run.error is not None, label
    check_run(flow, run, caplog.records)
    if label == "login":
        assert isinstance(run.result, oidc.LoginResult)
        assert run.result.token.access_token == C["access_token"]
        assert any("transient" in r.getMessage() for r in caplog.records)  # the logs were exercised


def test_device_flow_saved_midway(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sansio_ssooidc")
    flow = device_flow()
    run = drive(flow, [REGISTERED, STARTED, PENDING])  # stops at the next poll's Send
    check_run(flow, run, caplog.records)
    saved = flow.to_dict(include_secrets=True)
    assert C["device_code"] in json.dumps(saved)  # with secrets asked for, they are there
    resumed = oidc.DeviceFlow.from_dict(saved)
    run = drive(resumed, [TOKEN_OK], now=NOW + 100)
    check_run(resumed, run, caplog.records)


def redirect_with(*extra_queries: str, code: str = C["code"]) -> Callable[[str], list[str]]:
    """Answer an OpenBrowser: some stray redirects, then the real one carrying ``code``."""

    def answer(url: str) -> list[str]:
        state = parse_qs(urlsplit(url).query)["state"][0]
        return [*extra_queries, f"code={code}&state={state}"]

    return answer


def auth_flow(**kwargs: Any) -> oidc.AuthCodeFlow:
    return oidc.AuthCodeFlow(
        start_url=START_URL,
        region="us-east-1",
        redirect_uri="http://127.0.0.1:4321/oauth/callback",
        rng=random.Random(7),
        **kwargs,
    )


AUTH_SCRIPTS: list[tuple[str, Callable[[], oidc.AuthCodeFlow], list[Any], Callable[[str], list[str]]]] = [
    (
        "login",
        auth_flow,
        [SERVER_ERROR, REGISTERED, GARBAGE, TRUNCATED, TOKEN_OK],
        redirect_with(
            f"code={C['code']}&state=forged",
            f"code={C['code']}&code={C['code']}&state=x",
            "state=" + "x" * 9000,
        ),
    ),
    (
        "exchange rejected",
        lambda: auth_flow(
            registration=REGISTRATION.__class__(
                client_id="cid",
                client_secret=C["client_secret"],
                expires_at=at(NOW + 86400 * 30),
                scopes=["sso:account:access"],
                grant_types=["authorization_code", "refresh_token"],
            )
        ),
        [INVALID_GRANT],
        redirect_with(),
    ),
    (
        "denied in the browser",
        auth_flow,
        [REGISTERED],
        lambda url: [
            f"error=access_denied&error_description=no&state={parse_qs(urlsplit(url).query)['state'][0]}"
        ],
    ),
    ("no code", auth_flow, [REGISTERED], lambda url: [f"state={parse_qs(urlsplit(url).query)['state'][0]}"]),
    ("no redirect", auth_flow, [REGISTERED], lambda url: []),
    (
        "exchange keeps failing",
        auth_flow,
        [REGISTERED, *([SERVER_ERROR, TRUNCATED, reset] * 4)],
        redirect_with(),
    ),
]


@pytest.mark.parametrize(
    ("label", "make", "outcomes", "redirect"), AUTH_SCRIPTS, ids=[s[0] for s in AUTH_SCRIPTS]
)
def test_auth_code_flow(
    caplog: pytest.LogCaptureFixture,
    label: str,
    make: Callable[[], oidc.AuthCodeFlow],
    outcomes: list[Any],
    redirect: Callable[[str], list[str]],
) -> None:
    caplog.set_level(logging.DEBUG, logger="sansio_ssooidc")
    flow = make()
    verifier = getattr(flow, "_verifier", None)  # drawn by the flow: a secret we did not choose
    run = drive(flow, outcomes, redirect=redirect)
    assert run.result is not None or run.error is not None, label
    check_run(flow, run, caplog.records, extra=[verifier] if verifier else [])
    if label == "login":
        assert isinstance(run.result, oidc.LoginResult)
        assert sum(isinstance(x, oidc.RedirectError) for x in run.seen) == 3  # the strays were refused


def refresh_flow(remaining: float, **kwargs: Any) -> oidc.RefreshFlow:
    token = dataclasses.replace(TOKEN, expires_at=at(NOW + remaining))
    return oidc.RefreshFlow(token=token, **kwargs)


REFRESH_SCRIPTS: list[tuple[str, Callable[[], oidc.RefreshFlow], list[Any]]] = [
    ("fresh", lambda: refresh_flow(3600), []),
    ("mandatory refresh", lambda: refresh_flow(300), [SERVER_ERROR, TRUNCATED, TOKEN_OK]),
    (
        "advisory refresh fails",
        lambda: refresh_flow(800),
        [GARBAGE, SERVER_ERROR, TRUNCATED, reset, GARBAGE, SERVER_ERROR],
    ),
    (
        "mandatory refresh fails",
        lambda: refresh_flow(-60),
        [GARBAGE, SERVER_ERROR, TRUNCATED, reset, GARBAGE, SERVER_ERROR],
    ),
    ("rejected", lambda: refresh_flow(300), [INVALID_GRANT]),
    ("rejected, advisory", lambda: refresh_flow(800), [INVALID_CLIENT]),
    ("legacy", lambda: refresh_flow(-1, legacy=True), []),
    ("attempted a moment ago", lambda: refresh_flow(300, last_attempt=NOW - 5), []),
]


@pytest.mark.parametrize(("label", "make", "outcomes"), REFRESH_SCRIPTS, ids=[s[0] for s in REFRESH_SCRIPTS])
def test_refresh_flow(
    caplog: pytest.LogCaptureFixture, label: str, make: Callable[[], oidc.RefreshFlow], outcomes: list[Any]
) -> None:
    caplog.set_level(logging.DEBUG, logger="sansio_ssooidc")
    flow = make()
    run = drive(flow, outcomes)
    assert run.result is not None or run.error is not None, label
    check_run(flow, run, caplog.records)


# --- random scripts -------------------------------------------------------------------------------

POOL: list[Any] = [
    REGISTERED,
    STARTED,
    TOKEN_OK,
    PENDING,
    SLOW_DOWN,
    SERVER_ERROR,
    TRUNCATED,
    GARBAGE,
    INVALID_GRANT,
    INVALID_CLIENT,
    EXPIRED,
    reset,
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["device", "auth", "refresh"]),
    outcomes=st.lists(st.sampled_from(POOL), max_size=14),
    remaining=st.sampled_from([-100.0, 100.0, 700.0, 3600.0]),
)
def test_any_script_leaks_nothing(
    caplog: pytest.LogCaptureFixture, kind: str, outcomes: list[Any], remaining: float
) -> None:
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="sansio_ssooidc")
    flow: Any
    extra: list[str] = []
    if kind == "device":
        flow = device_flow(registration=REGISTRATION if remaining > 0 else None)
    elif kind == "auth":
        flow = auth_flow()
        extra = [flow._verifier]
    else:
        flow = refresh_flow(remaining)
    run = drive(flow, outcomes, redirect=redirect_with())
    check_run(flow, run, caplog.records, extra=extra)
