"""The simulator, sans-IO on a virtual clock: driven with the project's own operations and raw requests."""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import (
    DEFAULT_ACCOUNTS,
    MAX_REQUEST_BODY,
    MAX_URL_LENGTH,
    Account,
    FaultPlan,
    Reply,
    Simulator,
    SimulatorConfig,
    UserScript,
)
from sansio_ssooidc.simulator import _oidc as sim_oidc
from sansio_ssooidc.simulator import _state as sim_state

URL = "http://127.0.0.1:8000"
T0 = 1_700_000_000.0
START = "https://d-1234567890.awsapps.com/start"
DEVICE = oidc.GRANT_DEVICE_CODE
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
REGISTERED = "http://127.0.0.1/oauth/callback"
CALLBACK = "http://127.0.0.1:54321/oauth/callback"
SCOPES = ("sso:account:access",)
IAM_CREDS = oidc.AwsCredentials(
    access_key_id="AKIDEXAMPLE", secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)
APP_ARN = "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111"
ASSERTION = "eyJhbGciOiJSUzI1NiJ9.e30.sig"


class Harness:
    """A simulator on a virtual clock, with shortcuts for the common calls."""

    def __init__(self, **config: Any) -> None:
        self.sim = Simulator(**config)
        self.now = T0

    def handle(self, request: oidc.HttpRequest) -> oidc.HttpResponse:
        return self.sim.handle(request, self.now)

    def call(self, op: Any) -> Any:
        return op.parse_response(self.handle(op.to_request(URL)))

    def raw(
        self, method: str, path: str, body: Any = None, headers: tuple[tuple[str, str], ...] = ()
    ) -> oidc.HttpResponse:
        data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
        return self.handle(oidc.HttpRequest(method=method, url=URL + path, headers=headers, body=data))

    def get(self, url: str) -> oidc.HttpResponse:
        return self.handle(oidc.HttpRequest(method="GET", url=url))

    def register(self, **kw: Any) -> oidc.RegisterClientResult:
        kw.setdefault("scopes", SCOPES)
        result: oidc.RegisterClientResult = self.call(
            oidc.RegisterClient(client_name="test", client_type="public", **kw)
        )
        return result

    def pkce_client(self, **kw: Any) -> oidc.RegisterClientResult:
        kw.setdefault("grant_types", ("authorization_code", "refresh_token"))
        kw.setdefault("redirect_uris", (REGISTERED,))
        return self.register(issuer_url=START, **kw)

    def start(
        self, reg: oidc.RegisterClientResult, start_url: str = START
    ) -> oidc.StartDeviceAuthorizationResult:
        result: oidc.StartDeviceAuthorizationResult = self.call(
            oidc.StartDeviceAuthorization(
                client_id=reg.client_id, client_secret=reg.client_secret, start_url=start_url
            )
        )
        return result

    def token(
        self, reg: oidc.RegisterClientResult, grant_type: str = DEVICE, **kw: Any
    ) -> oidc.CreateTokenResult:
        result: oidc.CreateTokenResult = self.call(
            oidc.CreateToken(
                client_id=reg.client_id, client_secret=reg.client_secret, grant_type=grant_type, **kw
            )
        )
        return result

    def poll(
        self, reg: oidc.RegisterClientResult, da: oidc.StartDeviceAuthorizationResult
    ) -> oidc.CreateTokenResult:
        return self.token(reg, device_code=da.device_code)

    def device_login(self) -> tuple[oidc.RegisterClientResult, oidc.CreateTokenResult]:
        reg = self.register()
        da = self.start(reg)
        assert self.get(str(da.verification_uri_complete)).status == 200
        return reg, self.poll(reg, da)

    def authorize(self, reg: oidc.RegisterClientResult, **params: str | None) -> oidc.HttpResponse:
        query = {
            "response_type": "code",
            "client_id": reg.client_id,
            "redirect_uri": CALLBACK,
            "state": "st4te",
            "code_challenge_method": "S256",
            "scopes": " ".join(SCOPES),
            "code_challenge": CHALLENGE,
        }
        query.update(params)  # type: ignore[arg-type]
        return self.get(f"{URL}/authorize?{urlencode({k: v for k, v in query.items() if v is not None})}")

    def code(self, reg: oidc.RegisterClientResult, **params: str | None) -> str:
        response = self.authorize(reg, **params)
        assert response.status == 302, response.body
        return redirected(response)["code"]

    def exchange(self, reg: oidc.RegisterClientResult, code: str, **kw: Any) -> oidc.CreateTokenResult:
        kw.setdefault("code_verifier", VERIFIER)
        kw.setdefault("redirect_uri", CALLBACK)
        return self.token(reg, "authorization_code", code=code, **kw)

    def portal(self, op: Any) -> Any:
        return self.call(op)


def redirected(response: oidc.HttpResponse) -> dict[str, str]:
    location = response.header("Location") or ""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def error_of(response: oidc.HttpResponse) -> tuple[int, str | None, dict[str, Any]]:
    return response.status, response.header("x-amzn-ErrorType"), json.loads(response.body)


# --- configuration values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "error", "match"),
    [
        (
            lambda: Account(account_id="1", account_name="a", email_address="e"),
            oidc.ParameterError,
            "12 digits",
        ),
        (
            lambda: Account(account_id="111111111111", account_name=1, email_address="e"),
            oidc.ParameterError,
            "name",
        ),
        (
            lambda: Account(account_id="111111111111", account_name="a", email_address="e", roles="Admin"),
            oidc.ParameterTypeError,
            "roles",
        ),
        (
            lambda: Account(account_id="111111111111", account_name="a", email_address="e", roles=[""]),
            oidc.ParameterTypeError,
            "non-empty",
        ),
        (lambda: UserScript(action="maybe"), oidc.ParameterError, "action"),
        (lambda: UserScript(on_visit=1), oidc.ParameterError, "on_visit"),
        (lambda: UserScript(after_polls=-1), oidc.ParameterError, "after_polls"),
        (lambda: UserScript(after_polls=True), oidc.ParameterError, "after_polls"),
        (lambda: UserScript(at_time="soon"), oidc.ParameterError, "at_time"),
        (lambda: FaultPlan(rate=1.5), oidc.ParameterError, "rate"),
        (lambda: FaultPlan(rate=True), oidc.ParameterError, "rate"),
        (lambda: FaultPlan(kinds=()), oidc.ParameterError, "kinds"),
        (lambda: FaultPlan(kinds=("fire",)), oidc.ParameterError, "kinds"),
        (lambda: FaultPlan(kinds="drop"), oidc.ParameterTypeError, "kinds"),
        (lambda: FaultPlan(latency=-1), oidc.ParameterError, "latency"),
        (lambda: FaultPlan(script=5), oidc.ParameterTypeError, "script"),
        (lambda: FaultPlan(script=["fire"]), oidc.ParameterError, "script"),
        (lambda: FaultPlan(script={-1: "drop"}), oidc.ParameterError, "script"),
        (lambda: FaultPlan(script=[(1, "drop", 2)]), oidc.ParameterError, "script"),
        (lambda: Reply(), oidc.ParameterError, "response"),
        (lambda: Reply(drop=True, delay=-1), oidc.ParameterError, "delay"),
        (lambda: Simulator(start_url="d-123.awsapps.com"), oidc.ParameterError, "start_url"),
        (lambda: Simulator(region="Mars"), oidc.ParameterError, "region"),
        (lambda: Simulator(accounts="111111111111"), oidc.ParameterTypeError, "accounts"),
        (lambda: Simulator(accounts=[1]), oidc.ParameterTypeError, "accounts"),
        (lambda: Simulator(accounts=DEFAULT_ACCOUNTS * 2), oidc.ParameterError, "duplicate"),
        (lambda: Simulator(interval=0), oidc.ParameterError, "interval"),
        (lambda: Simulator(device_code_lifetime=1.5), oidc.ParameterError, "device_code_lifetime"),
        (lambda: Simulator(access_token_lifetime=True), oidc.ParameterError, "access_token_lifetime"),
        (lambda: Simulator(rotate_refresh_tokens="yes"), oidc.ParameterError, "rotate"),
        (lambda: Simulator(user="approve"), oidc.ParameterError, "user"),
        (lambda: Simulator(faults=0.1), oidc.ParameterError, "faults"),
        (lambda: Simulator(rng=0), oidc.ParameterTypeError, "rng"),
    ],
)
def test_configuration_is_validated(
    factory: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        factory()


@pytest.mark.parametrize(
    ("now", "error"),
    [
        (True, oidc.ParameterTypeError),
        ("1", oidc.ParameterTypeError),
        (float("nan"), oidc.ParameterError),
        (-1, oidc.ParameterError),
    ],
)
def test_now_is_validated(now: Any, error: type[Exception]) -> None:
    request = oidc.ListAccounts(access_token="t").to_request(URL)
    with pytest.raises(error, match="now"):
        Simulator().handle(request, now)
    with pytest.raises(error, match="now"):
        Simulator().respond(request, now)


def test_fault_plan_script_forms_are_equivalent() -> None:
    as_list = FaultPlan(script=[None, "drop", None, "5xx"])
    as_map = FaultPlan(script={3: "5xx", 1: "drop"})
    assert as_list == as_map
    assert as_list.script_pairs() == ((1, "drop"), (3, "5xx"))
    assert [as_list.scripted(n) for n in range(5)] == [None, "drop", None, "5xx", None]
    assert FaultPlan(script=[]).script_pairs() == ()
    assert FaultPlan(script=[[2, "latency"]]).scripted(2) == "latency"


@pytest.mark.parametrize(
    ("script", "visited", "polls", "now", "expected"),
    [
        (UserScript(), True, 0, T0, "approve"),
        (UserScript(), False, 9, T0, None),
        (UserScript(action="never", after_polls=0), True, 9, T0, None),
        (UserScript(action="deny", on_visit=False), True, 0, T0, None),
        (UserScript(action="deny", on_visit=False, after_polls=2), False, 1, T0, None),
        (UserScript(action="deny", on_visit=False, after_polls=2), False, 2, T0, "deny"),
        (UserScript(on_visit=False, at_time=T0 + 5), False, 0, T0 + 4.9, None),
        (UserScript(on_visit=False, at_time=T0 + 5), False, 0, T0 + 5, "approve"),
    ],
)
def test_user_script_decisions(
    script: UserScript, visited: bool, polls: int, now: float, expected: str | None
) -> None:
    assert script.decision(visited=visited, polls=polls, now=now) == expected


def test_convenience_properties() -> None:
    sim = Simulator(region="eu-west-1", start_url="https://example.awsapps.com/start/")
    assert (sim.region, sim.start_url) == ("eu-west-1", "https://example.awsapps.com/start/")
    assert sim.config.accounts == DEFAULT_ACCOUNTS


# --- RegisterClient -------------------------------------------------------------------------------


def test_register_client_answers_like_the_service() -> None:
    h = Harness(registration_lifetime=1000)
    response = h.raw("POST", "/client/register", {"clientName": "n", "clientType": "public"})
    assert response.status == 200
    assert response.header("Content-Type") == "application/json"
    assert response.header("x-amzn-RequestId")
    assert response.header("Content-Length") == str(len(response.body))
    body = json.loads(response.body)
    assert sorted(body) == ["clientId", "clientIdIssuedAt", "clientSecret", "clientSecretExpiresAt"]
    assert body["clientIdIssuedAt"] == int(T0)
    assert body["clientSecretExpiresAt"] == int(T0) + 1000
    assert response.body.startswith(b'{"clientId":"')  # compact JSON, as the service writes it


BAD_REGISTRATIONS = [
    ({"clientName": "n"}, "InvalidRequestException"),
    ({"clientName": "", "clientType": "public"}, "InvalidRequestException"),
    ({"clientName": 5, "clientType": "public"}, "InvalidRequestException"),
    ({"clientName": "n", "clientType": "public", "scopes": "sso:account:access"}, "InvalidRequestException"),
    ({"clientName": "n", "clientType": "public", "scopes": [1]}, "InvalidRequestException"),
    ({"clientName": "n", "clientType": "confidential"}, "InvalidClientMetadataException"),
    ({"clientName": "n", "clientType": "public", "scopes": ["a b"]}, "InvalidScopeException"),
    (
        {"clientName": "n", "clientType": "public", "grantTypes": ["password"]},
        "UnsupportedGrantTypeException",
    ),
    (
        {"clientName": "n", "clientType": "public", "grantTypes": ["authorization_code"]},
        "InvalidRedirectUriException",
    ),
] + [
    ({"clientName": "n", "clientType": "public", "redirectUris": [uri]}, "InvalidRedirectUriException")
    for uri in (
        "ftp://127.0.0.1/cb",
        "http://example.com/cb",
        "http://127.0.0.1:99999/cb",
        "http://127.0.0.1/cb#frag",
        "/relative",
        "http://[::1/cb",
        "http://127.0.0.1/c b",
    )
]


@pytest.mark.parametrize(("body", "code"), BAD_REGISTRATIONS)
def test_register_client_validates(body: dict[str, Any], code: str) -> None:
    h = Harness()
    response = h.raw("POST", "/client/register", body)
    status, error_type, payload = error_of(response)
    assert status == 400
    assert error_type == f"{code}:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
    assert set(payload) == {"error", "error_description"}
    with pytest.raises(oidc.ServiceError) as info:
        oidc.RegisterClient(client_name="n", client_type="public").parse_response(response)
    assert type(info.value).__name__ == code


@pytest.mark.parametrize("body", [b"", b"{", b"[1]", b"\xff", b"[" * 100_000 + b"]" * 100_000])
def test_bad_json_is_an_invalid_request(body: bytes) -> None:
    body = body[:MAX_REQUEST_BODY]
    response = Harness().raw("POST", "/client/register", body)
    assert error_of(response)[2]["error"] == "invalid_request"


def test_register_accepts_every_modeled_member() -> None:
    h = Harness()
    reg = h.call(
        oidc.RegisterClient(
            client_name="n",
            client_type="public",
            scopes=["sso:account:access", "codewhisperer:completions"],
            redirect_uris=["https://app.example.com/cb", "http://localhost/cb", "http://[::1]:8080/cb"],
            grant_types=[oidc.GRANT_AUTHORIZATION_CODE, oidc.GRANT_REFRESH_TOKEN],
            issuer_url=START,
            entitled_application_arn=APP_ARN,
        )
    )
    assert reg.client_secret.count(".") == 2


# --- device authorization ---------------------------------------------------------------------------


def test_device_login_happy_path() -> None:
    h = Harness(interval=5, device_code_lifetime=600)
    reg = h.register()
    da = h.start(reg)
    assert (da.expires_in, da.interval) == (600, 5)
    assert da.verification_uri == URL + "/device"
    assert da.verification_uri_complete == f"{URL}/device?user_code={da.user_code}"
    assert len(da.user_code) == 9
    assert da.user_code[4] == "-"
    assert h.sim.pending_user_codes() == (da.user_code,)
    with pytest.raises(oidc.AuthorizationPendingException):
        h.poll(reg, da)
    h.now += 5
    page = h.get(str(da.verification_uri_complete))
    assert page.status == 200
    assert b"Request approved" in page.body
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    assert h.sim.pending_user_codes() == ()
    token = h.poll(reg, da)
    assert (token.token_type, token.expires_in) == ("Bearer", 3600)
    assert token.access_token.startswith("aoa")
    assert token.refresh_token
    assert token.id_token is None
    assert h.sim.token_scopes(token.access_token) == SCOPES
    h.now += 5
    with pytest.raises(oidc.InvalidGrantException):  # a device code is single use
        h.poll(reg, da)
    assert b"Request approved" in h.get(str(da.verification_uri_complete)).body
    assert h.sim.requests == {
        "RegisterClient": 1,
        "StartDeviceAuthorization": 1,
        "CreateToken": 3,
        "VerifyDevice": 2,
    }


def test_polling_faster_than_the_interval_is_slowed_down_and_the_interval_grows() -> None:
    h = Harness(interval=2, user=UserScript(action="never"))
    reg = h.register()
    da = h.start(reg)
    with pytest.raises(oidc.AuthorizationPendingException):
        h.poll(reg, da)
    h.now += 1
    with pytest.raises(oidc.SlowDownException) as info:
        h.poll(reg, da)
    assert (info.value.status, info.value.error) == (400, "slow_down")
    h.now += 2  # the old interval is not enough any more: RFC 8628 adds 5 s for every slow_down
    with pytest.raises(oidc.SlowDownException):
        h.poll(reg, da)
    h.sim.approve(da.user_code)
    h.now += 12
    assert h.poll(reg, da).access_token


def test_first_poll_is_never_slowed_down() -> None:
    h = Harness(interval=5, user=UserScript(action="never"))
    reg = h.register()
    da = h.start(reg)
    with pytest.raises(oidc.AuthorizationPendingException):
        h.poll(reg, da)


@pytest.mark.parametrize(
    ("user", "outcomes"),
    [
        (UserScript(on_visit=False, after_polls=2), ["pending", "pending", "token"]),
        (UserScript(action="deny", on_visit=False, after_polls=1), ["pending", "denied", "denied"]),
        (UserScript(on_visit=False, at_time=T0 + 2.5), ["pending", "pending", "token"]),
        (UserScript(action="never"), ["pending", "pending", "pending"]),
    ],
)
def test_scripted_users_answer_while_polling(user: UserScript, outcomes: list[str]) -> None:
    h = Harness(user=user)
    reg = h.register()
    da = h.start(reg)
    seen = []
    for _ in outcomes:
        h.now += 1
        try:
            h.poll(reg, da)
            seen.append("token")
        except oidc.AuthorizationPendingException:
            seen.append("pending")
        except oidc.AccessDeniedException:
            seen.append("denied")
    assert seen == outcomes


def test_deny_on_visit_and_never_until_expiry() -> None:
    h = Harness(user=UserScript(action="deny"))
    reg = h.register()
    da = h.start(reg)
    assert b"Request denied" in h.get(str(da.verification_uri_complete)).body
    with pytest.raises(oidc.AccessDeniedException) as info:
        h.poll(reg, da)
    assert info.value.error == "access_denied"

    h = Harness(user=UserScript(action="never"), device_code_lifetime=10)
    reg = h.register()
    da = h.start(reg)
    assert b"Waiting" in h.get(str(da.verification_uri_complete)).body
    for _ in range(9):
        h.now += 1
        with pytest.raises(oidc.AuthorizationPendingException):
            h.poll(reg, da)
    h.now += 1
    with pytest.raises(oidc.ExpiredTokenException):
        h.poll(reg, da)
    assert b"expired" in h.get(str(da.verification_uri_complete)).body
    assert h.sim.pending_user_codes() == (da.user_code,)
    assert h.sim.pending_user_codes(h.now) == ()


def test_direct_approve_and_deny() -> None:
    h = Harness(user=UserScript(action="never"))
    reg = h.register()
    first, second = h.start(reg), h.start(reg)
    h.sim.approve(first.user_code)
    h.sim.deny(second.user_code)
    assert h.poll(reg, first).access_token
    with pytest.raises(oidc.AccessDeniedException):
        h.poll(reg, second)
    with pytest.raises(oidc.ParameterError, match="no pending"):
        h.sim.approve(first.user_code)
    with pytest.raises(oidc.ParameterError, match="no pending"):
        h.sim.deny("ZZZZ-ZZZZ")


def test_verification_page_variants() -> None:
    h = Harness(user=UserScript(action="never"))
    reg = h.register()
    da = h.start(reg)
    assert b"Enter the code" in h.get(URL + "/device").body
    assert b"Enter the code" in h.get(f"{URL}/device?user_code=A&user_code=B").body
    assert h.get(URL + "/device?user_code=BBBB-BBBB").status == 400
    assert b"Waiting" in h.get(f"{URL}/device?user_code={da.user_code.lower()}").body


def test_user_codes_are_unique(monkeypatch: pytest.MonkeyPatch) -> None:
    codes = iter(["BCDF-GHJK", "BCDF-GHJK", "BCDF-GHJK", "LMNP-QRST"])
    monkeypatch.setattr(sim_oidc, "user_code", lambda rng: next(codes))
    h = Harness()
    reg = h.register()
    assert [h.start(reg).user_code, h.start(reg).user_code] == ["BCDF-GHJK", "LMNP-QRST"]


DEVICE_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    ("bad secret", {"clientSecret": "wrong"}, "InvalidClientException"),
    ("unknown client", {"clientId": "nobody"}, "InvalidClientException"),
    ("missing startUrl", {"startUrl": None}, "InvalidRequestException"),
    ("other start URL", {"startUrl": "https://d-999.awsapps.com/start"}, "InvalidRequestException"),
]


@pytest.mark.parametrize(("case", "change", "code"), DEVICE_ERRORS, ids=[c[0] for c in DEVICE_ERRORS])
def test_start_device_authorization_errors(case: str, change: dict[str, Any], code: str) -> None:
    h = Harness()
    reg = h.register()
    body = {"clientId": reg.client_id, "clientSecret": reg.client_secret, "startUrl": START, **change}
    status, _, payload = error_of(response := h.raw("POST", "/device_authorization", body))
    assert status == (401 if code == "InvalidClientException" else 400)
    with pytest.raises(oidc.ServiceError) as info:
        oidc.StartDeviceAuthorization(client_id="c", client_secret="s", start_url="u").parse_response(
            response
        )
    assert type(info.value).__name__ == code, payload


def test_start_url_trailing_slash_is_the_same_instance() -> None:
    h = Harness()
    assert h.start(h.register(), START + "/").device_code


def test_expired_registration_is_an_invalid_client() -> None:
    h = Harness(registration_lifetime=100)
    reg = h.register()
    h.now += 100
    with pytest.raises(oidc.InvalidClientException, match="expired") as info:
        h.start(reg)
    assert info.value.status == 401


def test_a_pkce_only_client_cannot_start_a_device_login() -> None:
    h = Harness()
    with pytest.raises(oidc.UnauthorizedClientException):
        h.start(h.pkce_client())


CREATE_TOKEN_ERRORS: list[tuple[str, Callable[[Harness], dict[str, Any]], str]] = [
    ("missing grantType", lambda h: {"grantType": None}, "InvalidRequestException"),
    ("unsupported grant", lambda h: {"grantType": "password"}, "UnsupportedGrantTypeException"),
    ("jwt-bearer needs IAM", lambda h: {"grantType": oidc.GRANT_JWT_BEARER}, "UnsupportedGrantTypeException"),
    ("missing deviceCode", lambda h: {"deviceCode": None}, "InvalidRequestException"),
    ("unknown deviceCode", lambda h: {"deviceCode": "nope"}, "InvalidGrantException"),
    ("wrong secret", lambda h: {"clientSecret": "x"}, "InvalidClientException"),
    ("deviceCode of another client", lambda h: _other_client(h), "InvalidGrantException"),
    ("scope beyond the registration", lambda h: {"scope": ["admin:all"]}, "InvalidScopeException"),
    ("scope not a list", lambda h: {"scope": "sso:account:access"}, "InvalidRequestException"),
]


def _other_client(h: Harness) -> dict[str, Any]:
    other = h.register()
    return {"clientId": other.client_id, "clientSecret": other.client_secret}


@pytest.mark.parametrize(
    ("case", "change", "code"), CREATE_TOKEN_ERRORS, ids=[c[0] for c in CREATE_TOKEN_ERRORS]
)
def test_create_token_errors(case: str, change: Callable[[Harness], dict[str, Any]], code: str) -> None:
    h = Harness()
    reg = h.register()
    da = h.start(reg)
    h.get(str(da.verification_uri_complete))
    body = {
        "clientId": reg.client_id,
        "clientSecret": reg.client_secret,
        "grantType": DEVICE,
        "deviceCode": da.device_code,
        **change(h),
    }
    response = h.raw("POST", "/token", body)
    with pytest.raises(oidc.ServiceError) as info:
        oidc.CreateToken(client_id="c", client_secret="s", grant_type="g").parse_response(response)
    assert type(info.value).__name__ == code


def test_scope_parameter_is_recorded() -> None:
    h = Harness()
    reg = h.register(scopes=["sso:account:access", "codewhisperer:completions"])
    da = h.start(reg)
    h.get(str(da.verification_uri_complete))
    token = h.token(reg, device_code=da.device_code, scope=["codewhisperer:completions"])
    assert h.sim.token_scopes(token.access_token) == ("codewhisperer:completions",)
    assert h.sim.token_scopes("unknown") is None
    # A client registered without scopes (a legacy profile) may ask for any.
    h2 = Harness()
    reg2 = h2.register(scopes=None)
    da2 = h2.start(reg2)
    h2.get(str(da2.verification_uri_complete))
    token2 = h2.token(reg2, device_code=da2.device_code, scope=["anything:goes"])
    assert h2.sim.token_scopes(token2.access_token) == ("anything:goes",)


def test_grant_types_restrict_what_a_client_may_use() -> None:
    h = Harness()
    reg = h.register(grant_types=[DEVICE])
    for grant, extra in (
        ("refresh_token", {"refresh_token": "r"}),
        ("authorization_code", {"code": "c", "code_verifier": VERIFIER, "redirect_uri": CALLBACK}),
    ):
        with pytest.raises(oidc.UnauthorizedClientException):
            h.token(reg, grant, **extra)
    pkce = h.pkce_client()
    with pytest.raises(oidc.UnauthorizedClientException):
        h.token(pkce, DEVICE, device_code="d")


# --- authorization code + PKCE ---------------------------------------------------------------------


def test_pkce_login_happy_path() -> None:
    h = Harness()
    reg = h.pkce_client()
    response = h.authorize(reg)
    assert response.status == 302
    location = response.header("Location") or ""
    assert location.startswith(CALLBACK + "?code=")
    params = redirected(response)
    assert params["state"] == "st4te"
    token = h.exchange(reg, params["code"])
    assert token.access_token
    assert token.refresh_token
    assert h.sim.token_scopes(token.access_token) == SCOPES
    assert h.sim.requests["Authorize"] == 1


@pytest.mark.parametrize(
    ("registered", "requested", "ok"),
    [
        (REGISTERED, "http://127.0.0.1:1/oauth/callback", True),
        (REGISTERED, "http://127.0.0.1/oauth/callback", True),
        ("http://localhost/cb", "http://localhost:8080/cb", True),
        ("http://127.0.0.1:8080/cb", "http://127.0.0.1:9090/cb", False),
        ("https://app.example.com/cb", "https://app.example.com/cb", True),
        ("https://app.example.com/cb", "https://app.example.com:444/cb", False),
        (REGISTERED, "http://127.0.0.1:1/other", False),
        (REGISTERED, "http://localhost:1/oauth/callback", False),
        (REGISTERED, "https://127.0.0.1:1/oauth/callback", False),
        (REGISTERED, "http://127.0.0.1:1/oauth/callback?x=1", False),
        (REGISTERED, "http://127.0.0.1:1/oauth/callback\n", False),
        (REGISTERED, "http://127.0.0.1:abc/oauth/callback", False),
        (REGISTERED, "", False),
    ],
)
def test_redirect_uri_matching(registered: str, requested: str, ok: bool) -> None:
    h = Harness()
    reg = h.pkce_client(redirect_uris=(registered,))
    response = h.authorize(reg, redirect_uri=requested)
    if ok:
        assert response.status == 302
        assert (response.header("Location") or "").startswith(requested + "?code=")
    else:
        # RFC 6749 4.1.2.1: never redirect to an unregistered URI; tell the user instead.
        assert response.status == 400
        assert response.header("Location") is None
        assert b"redirect URI" in response.body


def test_authorize_refuses_unknown_or_expired_clients_without_redirecting() -> None:
    h = Harness(registration_lifetime=10)
    reg = h.pkce_client()
    assert h.authorize(reg, client_id="nobody").status == 400
    assert h.get(f"{URL}/authorize?client_id=a&client_id=b").status == 400
    h.now += 10
    response = h.authorize(reg)
    assert response.status == 400
    assert b"expired" in response.body


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scopes": "sso:account:access admin:all"}, "invalid_scope"),
    ],
)
def test_authorize_errors_redirect_with_error(params: dict[str, str | None], error: str) -> None:
    h = Harness()
    reg = h.pkce_client()
    response = h.authorize(reg, **params)
    assert response.status == 302
    assert redirected(response)["error"] == error
    assert redirected(response)["state"] == "st4te"
    assert "code" not in redirected(response)


def test_authorize_for_a_client_without_the_grant() -> None:
    h = Harness()
    reg = h.pkce_client(grant_types=("refresh_token",))
    assert redirected(h.authorize(reg))["error"] == "unauthorized_client"


def test_authorize_scripted_users() -> None:
    h = Harness(user=UserScript(action="deny"))
    reg = h.pkce_client()
    denied = h.authorize(reg, state=None)
    assert redirected(denied) == {
        "error": "access_denied",
        "error_description": "The user denied the request",
    }
    h = Harness(user=UserScript(action="never"))
    reg = h.pkce_client()
    waiting = h.authorize(reg)
    assert waiting.status == 200
    assert b"Sign in" in waiting.body
    h = Harness(user=UserScript(on_visit=False, at_time=T0 + 10))
    reg = h.pkce_client()
    assert h.authorize(reg).status == 200
    h.now += 10
    assert h.authorize(reg).status == 302


def test_authorize_defaults_to_the_registered_scopes_and_keeps_a_query() -> None:
    h = Harness()
    reg = h.pkce_client(redirect_uris=("https://app.example.com/cb?tenant=1",), scopes=None)
    response = h.authorize(reg, redirect_uri="https://app.example.com/cb?tenant=1", scopes=None)
    assert (response.header("Location") or "").startswith("https://app.example.com/cb?tenant=1&code=")
    token = h.exchange(reg, redirected(response)["code"], redirect_uri="https://app.example.com/cb?tenant=1")
    assert h.sim.token_scopes(token.access_token) == ()


def test_authorization_code_is_single_use_and_reuse_revokes_its_tokens() -> None:
    h = Harness()
    reg = h.pkce_client()
    code = h.code(reg)
    token = h.exchange(reg, code)
    assert h.portal(oidc.ListAccounts(access_token=token.access_token)).accounts
    with pytest.raises(oidc.InvalidGrantException, match="already been used"):
        h.exchange(reg, code)
    with pytest.raises(oidc.UnauthorizedException):
        h.portal(oidc.ListAccounts(access_token=token.access_token))
    with pytest.raises(oidc.InvalidGrantException):
        h.token(reg, "refresh_token", refresh_token=token.refresh_token)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"code_verifier": "x" * 43}, "verifier"),
        ({"code_verifier": "short"}, "verifier"),
        ({"code_verifier": "ä" * 43}, "verifier"),
        ({"redirect_uri": "http://127.0.0.1:1/oauth/callback"}, "Redirect URI"),
        ({"redirect_uri": REGISTERED}, "Redirect URI"),
        ({"code": "unknown"}, "Invalid authorization code"),
    ],
)
def test_authorization_code_exchange_errors(change: dict[str, str], match: str) -> None:
    h = Harness()
    reg = h.pkce_client()
    code = h.code(reg)
    kw = {"code": code, **change}
    with pytest.raises(oidc.InvalidGrantException, match=match):
        h.exchange(reg, **kw)
    assert h.exchange(reg, code).access_token  # a failed attempt does not burn the code


def test_authorization_code_expires_and_is_bound_to_its_client() -> None:
    h = Harness()
    reg = h.pkce_client()
    other = h.pkce_client()
    code = h.code(reg)
    with pytest.raises(oidc.InvalidGrantException):
        h.exchange(other, code)
    h.now += sim_oidc.AUTH_CODE_LIFETIME
    with pytest.raises(oidc.InvalidGrantException, match="expired"):
        h.exchange(reg, code)


def test_authorization_code_exchange_requires_verifier_and_redirect() -> None:
    h = Harness()
    reg = h.pkce_client()
    code = h.code(reg)
    base = {"clientId": reg.client_id, "clientSecret": reg.client_secret, "grantType": "authorization_code"}
    for missing in ("codeVerifier", "redirectUri", "code"):
        body = {**base, "code": code, "codeVerifier": VERIFIER, "redirectUri": CALLBACK}
        del body[missing]
        status, _, payload = error_of(h.raw("POST", "/token", body))
        assert (status, payload["error"]) == (400, "invalid_request")
        assert missing in payload["error_description"]


# --- refresh tokens ----------------------------------------------------------------------------------


def test_refresh_without_rotation_returns_the_same_refresh_token() -> None:
    h = Harness()
    reg, token = h.device_login()
    h.now += 100
    refreshed = h.token(reg, "refresh_token", refresh_token=token.refresh_token)
    assert refreshed.refresh_token == token.refresh_token
    assert refreshed.access_token != token.access_token
    assert h.token(reg, "refresh_token", refresh_token=token.refresh_token).access_token
    assert h.sim.refreshes == 2


def test_rotating_refresh_tokens_reject_the_old_one() -> None:
    h = Harness(rotate_refresh_tokens=True)
    reg, token = h.device_login()
    refreshed = h.token(reg, "refresh_token", refresh_token=token.refresh_token)
    assert refreshed.refresh_token
    assert refreshed.refresh_token != token.refresh_token
    with pytest.raises(oidc.InvalidGrantException, match="Invalid refresh token provided"):
        h.token(reg, "refresh_token", refresh_token=token.refresh_token)
    assert h.token(reg, "refresh_token", refresh_token=refreshed.refresh_token).access_token
    assert h.sim.refreshes == 2


def test_refresh_token_errors() -> None:
    h = Harness(refresh_token_lifetime=1000, registration_lifetime=2000)
    reg, token = h.device_login()
    other = h.register()
    with pytest.raises(oidc.InvalidGrantException):
        h.token(other, "refresh_token", refresh_token=token.refresh_token)
    with pytest.raises(oidc.InvalidScopeException):
        h.token(reg, "refresh_token", refresh_token=token.refresh_token, scope=["admin:all"])
    narrowed = h.token(reg, "refresh_token", refresh_token=token.refresh_token, scope=[])
    assert h.sim.token_scopes(narrowed.access_token) == ()
    h.now += 1000
    with pytest.raises(oidc.InvalidGrantException):
        h.token(reg, "refresh_token", refresh_token=token.refresh_token)
    h.now += 1000
    with pytest.raises(oidc.InvalidClientException):
        h.token(reg, "refresh_token", refresh_token=token.refresh_token)
    assert h.sim.refreshes == 1


def test_revoke_refresh_tokens_keeps_access_tokens() -> None:
    h = Harness()
    reg, token = h.device_login()
    h.sim.revoke_refresh_tokens()
    with pytest.raises(oidc.InvalidGrantException):
        h.token(reg, "refresh_token", refresh_token=token.refresh_token)
    assert h.portal(oidc.ListAccounts(access_token=token.access_token)).accounts


# --- CreateTokenWithIAM ---------------------------------------------------------------------------


def _iam(h: Harness, **kw: Any) -> oidc.CreateTokenWithIAMResult:
    op = oidc.CreateTokenWithIAM(client_id=APP_ARN, **kw)
    request = op.to_request(URL, credentials=IAM_CREDS, now=oidc_time(h.now), region="us-east-1")
    result: oidc.CreateTokenWithIAMResult = op.parse_response(h.handle(request))
    return result


def oidc_time(now: float) -> Any:
    import datetime

    return datetime.datetime.fromtimestamp(now, datetime.timezone.utc)


def test_create_token_with_iam() -> None:
    h = Harness()
    result = _iam(h, grant_type=oidc.GRANT_JWT_BEARER, assertion=ASSERTION)
    assert result.access_token
    assert result.refresh_token
    assert result.id_token
    assert result.issued_token_type == "urn:ietf:params:oauth:token-type:refresh_token"
    assert result.scope == ("openid", "sso:account:access")
    assert result.identity_context
    refreshed = _iam(h, grant_type="refresh_token", refresh_token=result.refresh_token, scope=["openid"])
    assert refreshed.scope == ("openid",)
    scoped = _iam(h, grant_type=oidc.GRANT_JWT_BEARER, assertion=ASSERTION, scope=["sso:account:access"])
    assert scoped.scope == ("sso:account:access",)
    assert h.portal(oidc.ListAccounts(access_token=refreshed.access_token)).accounts
    assert h.sim.requests["CreateTokenWithIAM"] == 3


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"grant_type": oidc.GRANT_JWT_BEARER, "assertion": "not-a-jwt"}, "InvalidGrantException"),
        ({"grant_type": oidc.GRANT_JWT_BEARER, "assertion": ".e30.sig"}, "InvalidGrantException"),
        ({"grant_type": oidc.GRANT_JWT_BEARER}, "InvalidRequestException"),
        ({"grant_type": oidc.GRANT_TOKEN_EXCHANGE, "subject_token": "t"}, "UnsupportedGrantTypeException"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "InvalidGrantException"),
    ],
)
def test_create_token_with_iam_errors(kw: dict[str, Any], code: str) -> None:
    with pytest.raises(oidc.ServiceError) as info:
        _iam(Harness(), **kw)
    assert type(info.value).__name__ == code


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "MissingAuthenticationTokenException"),
        ("Bearer x", "IncompleteSignatureException"),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sso-oauth/aws4_request",
            "IncompleteSignatureException",
        ),
    ],
)
def test_create_token_with_iam_requires_a_signature(authorization: str | None, code: str) -> None:
    headers = () if authorization is None else (("Authorization", authorization),)
    body = {"clientId": APP_ARN, "grantType": oidc.GRANT_JWT_BEARER, "assertion": ASSERTION}
    response = Harness().raw("POST", "/token?aws_iam=t", body, headers)
    assert response.status == 403
    with pytest.raises(oidc.ServiceError) as info:
        oidc.CreateTokenWithIAM(client_id="c", grant_type="g").parse_response(response)
    assert info.value.code == code


# --- portal ------------------------------------------------------------------------------------------


def test_get_role_credentials() -> None:
    h = Harness()
    _, token = h.device_login()
    creds = h.portal(
        oidc.GetRoleCredentials(
            access_token=token.access_token, account_id="111111111111", role_name="ReadOnlyAccess"
        )
    )
    assert creds.access_key_id.startswith("ASIA")
    assert len(creds.access_key_id) == 20
    assert len(creds.secret_access_key) == 40
    assert creds.expiration == int((T0 + 3600) * 1000)


@pytest.mark.parametrize(
    ("op", "code"),
    [
        (
            oidc.GetRoleCredentials(access_token="X", account_id="999999999999", role_name="R"),
            "ResourceNotFound",
        ),
        (
            oidc.GetRoleCredentials(access_token="X", account_id="333333333333", role_name="Admin"),
            "ResourceNotFound",
        ),
        (oidc.ListAccountRoles(access_token="X", account_id="999999999999"), "ResourceNotFound"),
        (oidc.ListAccounts(access_token="X", max_results=101), "InvalidRequest"),
        (oidc.ListAccounts(access_token="X", next_token="garbage!"), "InvalidRequest"),
        (oidc.ListAccounts(access_token="X", next_token="eyJrIjoiYWNjb3VudHMiLCJvIjo5fQ"), "InvalidRequest"),
        (oidc.ListAccounts(access_token="X", next_token="W10"), "InvalidRequest"),
        (oidc.ListAccounts(access_token="X", next_token="W" * 7), "InvalidRequest"),
        (oidc.ListAccounts(access_token="X", next_token="ä"), "InvalidRequest"),
        (
            oidc.ListAccountRoles(
                access_token="X", account_id="111111111111", next_token="eyJrIjoiYWNjb3VudHMiLCJvIjoxfQ"
            ),
            "InvalidRequest",
        ),
    ],
)
def test_portal_errors(op: Any, code: str) -> None:
    h = Harness()
    _, token = h.device_login()
    op = dataclasses.replace(op, access_token=token.access_token)
    response = h.handle(op.to_request(URL))
    body = json.loads(response.body)
    assert body["__type"] == f"com.amazonaws.switchboard.portal#{code}Exception"
    assert response.status == {"ResourceNotFound": 404, "InvalidRequest": 400}[code]
    assert response.header("x-amzn-ErrorType") is None
    with pytest.raises(oidc.ServiceError) as info:
        op.parse_response(response)
    assert type(info.value).__name__ == code + "Exception"


@pytest.mark.parametrize(
    "query",
    [
        "/federation/credentials?account_id=111111111111",
        "/federation/credentials?role_name=R&account_id=",
        "/federation/credentials?role_name=R&role_name=S&account_id=111111111111",
        "/assignment/roles",
        "/assignment/accounts?max_result=0",
        "/assignment/accounts?max_result=abc",
        "/assignment/accounts?max_result=%C2%B2",
        "/assignment/accounts?next_token=" + "%5B" * 2000,
    ],
)
def test_portal_request_validation(query: str) -> None:
    h = Harness()
    _, token = h.device_login()
    response = h.raw("GET", query, headers=(("x-amz-sso_bearer_token", token.access_token),))
    assert (response.status, json.loads(response.body)["__type"].split("#")[1]) == (
        400,
        "InvalidRequestException",
    )


def test_portal_needs_a_live_token() -> None:
    h = Harness(access_token_lifetime=60)
    _, token = h.device_login()
    assert h.raw("GET", "/assignment/accounts").status == 401
    for access_token in ("unknown", token.access_token):
        if access_token == token.access_token:
            h.now += 60
        with pytest.raises(oidc.UnauthorizedException) as info:
            h.portal(oidc.ListAccounts(access_token=access_token))
        assert info.value.status == 401
        assert info.value.message == "Session token not found or invalid"


def _walk(h: Harness, make: Callable[[str | None], Any], key: str) -> list[Any]:
    items: list[Any] = []
    token: str | None = None
    while True:
        page = h.portal(make(token))
        items.extend(getattr(page, key))
        token = page.next_token
        if token is None:
            return items


def test_pagination() -> None:
    h = Harness()
    _, token = h.device_login()
    at = token.access_token
    accounts = _walk(h, lambda t: oidc.ListAccounts(access_token=at, max_results=1, next_token=t), "accounts")
    assert [a.account_id for a in accounts] == [a.account_id for a in DEFAULT_ACCOUNTS]
    assert accounts[0] == oidc.AccountInfo(
        account_id="111111111111", account_name="dev", email_address="dev@example.com"
    )
    assert len(h.portal(oidc.ListAccounts(access_token=at)).accounts) == 3
    roles = _walk(
        h,
        lambda t: oidc.ListAccountRoles(
            access_token=at, account_id="111111111111", max_results=2, next_token=t
        ),
        "roles",
    )
    assert [r.role_name for r in roles] == list(DEFAULT_ACCOUNTS[0].roles)
    assert {r.account_id for r in roles} == {"111111111111"}
    page = h.portal(oidc.ListAccountRoles(access_token=at, account_id="111111111111", max_results=3))
    assert page.next_token is None


def test_many_accounts_use_the_default_page_size() -> None:
    accounts = tuple(
        Account(account_id=f"{n:012d}", account_name=f"a{n}", email_address=f"a{n}@example.com", roles=())
        for n in range(1, 46)
    )
    h = Harness(accounts=accounts)
    _, token = h.device_login()
    first = h.portal(oidc.ListAccounts(access_token=token.access_token))
    assert len(first.accounts) == 20
    assert first.next_token
    assert (
        len(_walk(h, lambda t: oidc.ListAccounts(access_token=token.access_token, next_token=t), "accounts"))
        == 45
    )


def test_logout_revokes_the_session() -> None:
    h = Harness()
    reg, token = h.device_login()
    refreshed = h.token(reg, "refresh_token", refresh_token=token.refresh_token)
    response = h.handle(oidc.Logout(access_token=refreshed.access_token).to_request(URL))
    assert (response.status, response.body) == (200, b"")
    assert oidc.Logout(access_token="x").parse_response(response) is None
    for access_token in (token.access_token, refreshed.access_token):
        with pytest.raises(oidc.UnauthorizedException):
            h.portal(oidc.ListAccounts(access_token=access_token))
    with pytest.raises(oidc.InvalidGrantException):
        h.token(reg, "refresh_token", refresh_token=token.refresh_token)
    with pytest.raises(oidc.UnauthorizedException):
        h.portal(oidc.Logout(access_token=token.access_token))


# --- routing and bounds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "error_type"),
    [
        ("GET", URL + "/token", b"", 404, "UnknownOperationException"),
        ("POST", URL + "/nowhere", b"{}", 404, "UnknownOperationException"),
        ("GET", URL + "/" + "a" * MAX_URL_LENGTH, b"", 414, "RequestUriTooLongException"),
        (
            "POST",
            URL + "/client/register",
            b" " * (MAX_REQUEST_BODY + 1),
            413,
            "RequestEntityTooLargeException",
        ),
        ("GET", "http://[::1/device", b"", 400, "BadRequestException"),
    ],
)
def test_routing_and_bounds(method: str, url: str, body: bytes, status: int, error_type: str) -> None:
    sim = Simulator()
    response = sim.handle(oidc.HttpRequest(method=method, url=url, body=body), T0)
    assert (response.status, response.header("x-amzn-ErrorType")) == (status, error_type)
    assert "message" in json.loads(response.body)


def test_aws_iam_query_selects_create_token_with_iam() -> None:
    h = Harness()
    body = {"clientId": "c", "clientSecret": "s", "grantType": "refresh_token", "refreshToken": "r"}
    assert h.raw("POST", "/token?aws_iam=f", body).status == 401  # CreateToken: unknown client
    assert h.raw("POST", "/token?aws_iam=t", body).status == 403  # CreateTokenWithIAM: unsigned
    assert h.sim.requests == {"CreateToken": 1, "CreateTokenWithIAM": 1}


def test_records_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sim_state, "MAX_RECORDS", 2)
    h = Harness()
    first = h.register()
    h.register()
    h.register()
    with pytest.raises(oidc.InvalidClientException):
        h.start(first)


def test_secrets_stay_out_of_reprs() -> None:
    h = Harness()
    reg, token = h.device_login()
    state = h.sim._state
    text = repr(
        [
            *state.registrations.values(),
            *state.device_grants.values(),
            *state.sessions.values(),
            *state.access_tokens.values(),
        ]
    )
    for secret in (reg.client_secret, token.access_token, str(token.refresh_token)):
        assert secret not in text
    assert next(iter(state.device_grants.values())).device_code not in text


# --- faults ------------------------------------------------------------------------------------------


def test_each_fault_kind() -> None:
    h = Harness(
        faults=FaultPlan(script=["drop", "latency", "throttle", "malformed", "throttle"], latency=0.25)
    )
    request = oidc.RegisterClient(client_name="n", client_type="public").to_request(URL)
    assert h.sim.respond(request, T0) == Reply(drop=True)
    delayed = h.sim.respond(request, T0)
    assert delayed.delay == 0.25
    assert delayed.response is not None
    assert delayed.response.status == 200
    throttled = h.sim.respond(request, T0).response
    assert throttled is not None
    assert throttled.status == 429
    with pytest.raises(oidc.ServiceError) as info:
        oidc.RegisterClient(client_name="n", client_type="public").parse_response(throttled)
    assert (info.value.code, info.value.message) == ("ThrottlingException", "Rate exceeded")
    malformed = h.sim.respond(request, T0).response
    assert malformed is not None
    assert malformed.status == 200
    with pytest.raises(oidc.RemoteProtocolError):
        oidc.RegisterClient(client_name="n", client_type="public").parse_response(malformed)
    portal = h.sim.respond(oidc.ListAccounts(access_token="t").to_request(URL), T0).response
    with pytest.raises(oidc.TooManyRequestsException):
        oidc.ListAccounts(access_token="t").parse_response(portal)  # type: ignore[arg-type]
    assert h.sim.respond(request, T0).response.status == 200  # type: ignore[union-attr]
    assert h.sim.fault_counts == {"drop": 1, "latency": 1, "throttle": 2, "malformed": 1}
    assert h.sim.requests == {"RegisterClient": 2}  # the latency fault and the last one were handled


def test_5xx_faults_are_generic_server_errors() -> None:
    sim = Simulator(faults=FaultPlan(script=dict.fromkeys(range(20), "5xx")))
    request = oidc.RegisterClient(client_name="n", client_type="public").to_request(URL)
    seen = set()
    for _ in range(20):
        response = sim.respond(request, T0).response
        assert response is not None
        seen.add((response.status, bool(response.body)))
        with pytest.raises(oidc.RemoteProtocolError) as info:
            oidc.RegisterClient(client_name="n", client_type="public").parse_response(response)
        assert info.value.retryable
    assert seen == {(500, True), (500, False), (503, True), (503, False)}


def test_fault_rate_is_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list[Any]:
        sim = Simulator(rng=random.Random(seed), faults=FaultPlan(rate=0.5))
        request = oidc.ListAccounts(access_token="t").to_request(URL)
        replies = [sim.respond(request, T0 + n) for n in range(40)]
        return [
            (r.drop, r.delay, r.response and (r.response.status, r.response.headers, r.response.body))
            for r in replies
        ]

    assert run(7) == run(7)
    assert run(7) != run(8)
    kinds = Simulator(rng=random.Random(7), faults=FaultPlan(rate=1.0, kinds=("drop",)))
    assert all(kinds.respond(oidc.ListAccounts(access_token="t").to_request(URL), T0).drop for _ in range(5))


def test_faulted_requests_do_not_change_state() -> None:
    request = oidc.RegisterClient(client_name="n", client_type="public").to_request(URL)
    faulted = Simulator(faults=FaultPlan(script=["5xx", "throttle", "malformed", "drop"]))
    clean = Simulator()
    for _ in range(4):
        faulted.respond(request, T0)
    assert faulted.to_dict()["state"] == clean.to_dict()["state"]
    assert faulted.requests == {}
    after_faults = faulted.respond(request, T0).response
    assert (
        after_faults == clean.respond(request, T0).response
    )  # the same bytes: the service's draws are untouched


# --- persistence and determinism ---------------------------------------------------------------------


def _scenario(h: Harness) -> list[oidc.HttpResponse]:
    """A mixed run; every response it produced."""
    reg = h.register()
    h.now += 1
    start = oidc.StartDeviceAuthorization(
        client_id=reg.client_id, client_secret=reg.client_secret, start_url=START
    )
    out = [h.handle(start.to_request(URL))]
    da = start.parse_response(out[-1])
    out.append(h.get(str(da.verification_uri_complete)))
    poll = oidc.CreateToken(
        client_id=reg.client_id,
        client_secret=reg.client_secret,
        grant_type=DEVICE,
        device_code=da.device_code,
    )
    out.append(h.handle(poll.to_request(URL)))
    token = poll.parse_response(out[-1])
    creds = oidc.GetRoleCredentials(
        access_token=token.access_token, account_id="111111111111", role_name="ReadOnlyAccess"
    )
    out.append(h.handle(creds.to_request(URL)))
    return out


def test_same_inputs_same_bytes() -> None:
    first, second = _scenario(Harness()), _scenario(Harness())
    assert [(r.status, r.headers, r.body) for r in first] == [(r.status, r.headers, r.body) for r in second]
    other = _scenario(Harness(rng=random.Random(1)))
    assert [r.body for r in first] != [r.body for r in other]


def test_to_dict_from_dict_round_trip_continues_identically() -> None:
    config = {
        "rotate_refresh_tokens": True,
        "user": UserScript(after_polls=1, at_time=T0 + 99),
        "faults": FaultPlan(rate=0.2, script={3: "drop"}, kinds=("5xx", "drop")),
        "accounts": DEFAULT_ACCOUNTS[:1],
    }
    h = Harness(**config)
    reg, token = h.device_login()
    h.sim.respond(oidc.ListAccounts(access_token=token.access_token).to_request(URL), h.now)
    snapshot = json.loads(json.dumps(h.sim.to_dict()))
    assert snapshot == h.sim.to_dict()
    restored = Simulator.from_dict(snapshot)
    assert restored.config == h.sim.config
    assert restored.to_dict() == snapshot
    assert restored.requests == h.sim.requests
    assert restored.fault_counts == h.sim.fault_counts
    assert restored.refreshes == h.sim.refreshes
    op = oidc.CreateToken(
        client_id=reg.client_id,
        client_secret=reg.client_secret,
        grant_type="refresh_token",
        refresh_token=token.refresh_token,
    )
    for _ in range(6):
        a = h.sim.respond(op.to_request(URL), h.now)
        b = restored.respond(op.to_request(URL), h.now)
        assert a == b


def _corrupt(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return apply


@pytest.mark.parametrize(
    "corrupt",
    [
        _corrupt(("format",), "v0"),
        _corrupt(("config",), None),
        _corrupt(("config", "accounts"), 5),
        _corrupt(("config", "accounts"), [{"account_id": "1"}]),
        _corrupt(("config", "user"), "approve"),
        _corrupt(("config", "bogus"), 1),
        _corrupt(("rng",), [3, "x", None]),
        _corrupt(("rng",), None),
        _corrupt(("fault_rng",), [2, [1, 2], None]),
        _corrupt(("state",), []),
        _corrupt(("state", "sessions"), {}),
        _corrupt(("state", "sessions", 0), {"session_id": "x"}),
        _corrupt(("state", "sessions", 0, "scopes"), "a"),
        _corrupt(("state", "sessions", 0, "scopes"), [1]),
        _corrupt(("state", "sessions", 0, "refresh_expires_at"), "soon"),
        _corrupt(("state", "sessions", 0, "refresh_expires_at"), True),
        _corrupt(("state", "device_grants", 0, "polls"), 1.0),
        _corrupt(("state", "device_grants", 0, "last_poll"), "x"),
        _corrupt(("state", "registrations", 0, "client_id"), None),
        _corrupt(("state", "refreshes"), -1),
        _corrupt(("request_number",), "1"),
        _corrupt(("requests",), []),
        _corrupt(("faults",), {"drop": -1}),
    ],
)
def test_from_dict_rejects_malformed_data(corrupt: Callable[[dict[str, Any]], None]) -> None:
    h = Harness()
    h.device_login()
    data = json.loads(json.dumps(h.sim.to_dict()))
    corrupt(data)
    with pytest.raises(oidc.ParameterError):
        Simulator.from_dict(data)


def test_from_dict_rejects_non_mappings_and_accepts_null_optionals() -> None:
    with pytest.raises(oidc.ParameterError):
        Simulator.from_dict([])  # type: ignore[arg-type]
    h = Harness()
    h.register(scopes=None)
    data = h.sim.to_dict()
    assert data["state"]["registrations"][0]["scopes"] is None
    assert Simulator.from_dict(data).to_dict() == data


def test_to_dict_needs_a_seedable_rng() -> None:
    with pytest.raises(oidc.ParameterError, match="seedable"):
        Simulator(rng=random.SystemRandom()).to_dict()


def test_simulator_config_round_trip() -> None:
    config = SimulatorConfig(faults=FaultPlan(script=["drop"]))
    assert SimulatorConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(oidc.ParameterError):
        SimulatorConfig.from_dict("nope")  # type: ignore[arg-type]


# --- fuzz: any request gets a well-formed response -------------------------------------------------

PATHS = st.sampled_from(
    [
        "/client/register",
        "/device_authorization",
        "/token",
        "/token?aws_iam=t",
        "/authorize",
        "/device",
        "/federation/credentials",
        "/assignment/accounts",
        "/assignment/roles",
        "/logout",
        "/",
        "",
    ]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
MEMBERS = st.sampled_from(
    [
        "clientName",
        "clientType",
        "clientId",
        "clientSecret",
        "grantType",
        "deviceCode",
        "code",
        "refreshToken",
        "scope",
        "scopes",
        "redirectUri",
        "redirectUris",
        "grantTypes",
        "codeVerifier",
        "startUrl",
        "assertion",
    ]
)
BODIES = st.one_of(
    st.binary(max_size=64),
    st.dictionaries(MEMBERS, JSON_VALUES | st.sampled_from([DEVICE, "refresh_token", START]), max_size=6).map(
        lambda d: json.dumps(d).encode()
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "HEAD"]),
    path=PATHS,
    query=st.text(max_size=40),
    body=BODIES,
    headers=st.lists(
        st.tuples(
            st.sampled_from(["Authorization", "x-amz-sso_bearer_token", "X-Other"]), st.text(max_size=30)
        ),
        max_size=3,
    ),
    now=st.floats(0, 4e9),
    faults=st.booleans(),
)
def test_any_request_gets_a_well_formed_response(
    method: str, path: str, query: str, body: bytes, headers: list[tuple[str, str]], now: float, faults: bool
) -> None:
    sim = Simulator(faults=FaultPlan(rate=0.5) if faults else FaultPlan())
    sep = "&" if "?" in path else "?"
    request = oidc.HttpRequest(method=method, url=f"{URL}{path}{sep}{query}", headers=headers, body=body)
    reply = sim.respond(request, now)
    if reply.drop:
        return
    response = reply.response
    assert response is not None
    assert 200 <= response.status <= 599
    assert response.header("x-amzn-RequestId")
    assert response.header("Content-Length") == str(len(response.body))
    assert all("\r" not in v and "\n" not in v for _, v in response.headers)
