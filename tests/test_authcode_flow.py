"""AuthCodeFlow (authorization code + PKCE, the AWS CLI's default): wire format, redirect handling,
exhaustive response sequences, the transition table and a Hypothesis state machine."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import sansio_ssooidc as oidc
from sansio_ssooidc import _authcode
from tests import flowkit as fk

A = oidc.AuthCodeState
REGION = "us-east-1"
ENDPOINT = "https://oidc.us-east-1.amazonaws.com"
PORT = 4321
REDIRECT_URI = f"http://127.0.0.1:{PORT}/oauth/callback"
REGISTERED_URI = "http://127.0.0.1/oauth/callback"
CODE = "auth-code-CCCC"
GRANTS = ["authorization_code", "refresh_token"]
UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def cached_registration(
    *,
    expires_in: float = 30 * 86400,
    scopes: tuple[str, ...] | None = ("sso:account:access",),
    grant_types: tuple[str, ...] | None = ("authorization_code", "refresh_token"),
) -> oidc.CachedRegistration:
    return oidc.CachedRegistration(
        client_id="cached-client-id",
        client_secret="cached-client-secret-SSSS",
        expires_at=utc(fk.T0 + expires_in),
        scopes=scopes,
        grant_types=grant_types,
    )


def make_flow(**kwargs: Any) -> oidc.AuthCodeFlow:
    args: dict[str, Any] = {
        "start_url": fk.START_URL,
        "region": REGION,
        "redirect_uri": REDIRECT_URI,
        "rng": random.Random(1),
    }
    args.update(kwargs)
    return oidc.AuthCodeFlow(**args)


def url_params(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def redirect_query(flow_or_url: oidc.OpenBrowser | str, **extra: str) -> str:
    """A redirect for the login the OpenBrowser URL started (its state), plus ``extra``."""
    url = flow_or_url.url if isinstance(flow_or_url, oidc.OpenBrowser) else flow_or_url
    params = {"code": CODE, "state": url_params(url)["state"][0]}
    params.update(extra)
    return urlencode({k: v for k, v in params.items() if v is not None})


def body(send: oidc.Send) -> dict[str, Any]:
    return fk.check_request(send)


def to_browser(flow: oidc.AuthCodeFlow, now: float = fk.T0) -> oidc.OpenBrowser:
    """Drive a fresh flow through registration to its OpenBrowser."""
    action = flow.next_action(now)
    if isinstance(action, oidc.Send):
        flow.receive_response(fk.register_ok(), now)
        action = flow.next_action(now)
    assert isinstance(action, oidc.OpenBrowser)
    return action


def pull(flow: Any, now: float) -> Any:
    """``flow.next_action(now)``, or the flow's error as a value (misuse still raises)."""
    try:
        return flow.next_action(now)
    except oidc.LocalProtocolError:  # pragma: no cover - fails the test
        raise
    except oidc.SSOOIDCError as exc:
        return exc


# --- the happy path and the wire format --------------------------------------------------------


def test_happy_path_wire_format() -> None:
    flow = make_flow()
    assert flow.state is A.REGISTER
    assert flow.deadline is None
    send = flow.next_action(fk.T0)
    assert isinstance(send, oidc.Send)
    assert send.operation == "RegisterClient"
    assert send.request.url == f"{ENDPOINT}/client/register"
    assert body(send) == {
        "clientName": "sansio-ssooidc",
        "clientType": "public",
        "scopes": ["sso:account:access"],
        "redirectUris": [REGISTERED_URI],
        "grantTypes": GRANTS,
        "issuerUrl": fk.START_URL,
    }
    assert flow.state is A.AWAIT_REGISTER
    flow.receive_response(fk.register_ok(), fk.T0 + 1)
    assert flow.state is A.OPEN_BROWSER

    browser = flow.next_action(fk.T0 + 1)
    assert isinstance(browser, oidc.OpenBrowser)
    assert flow.deadline == fk.T0 + 1 + _authcode.DEFAULT_REDIRECT_TIMEOUT
    params = url_params(browser.url)
    state, challenge = params["state"][0], params["code_challenge"][0]
    assert browser.url == (
        f"{ENDPOINT}/authorize?response_type=code&client_id={fk.CLIENT_ID}"
        f"&redirect_uri=http%3A%2F%2F127.0.0.1%3A{PORT}%2Foauth%2Fcallback&state={state}"
        f"&code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess&code_challenge={challenge}"
    )
    # OpenBrowser once; then AwaitRedirect until the deadline, as often as asked.
    for t in (fk.T0 + 1, fk.T0 + 2, fk.T0 + 600):
        wait = flow.next_action(t)
        assert wait == oidc.AwaitRedirect(until=fk.T0 + 601)
    assert flow.state is A.AWAIT_REDIRECT

    flow.receive_redirect(redirect_query(browser), fk.T0 + 30)
    assert flow.state is A.EXCHANGE
    exchange = flow.next_action(fk.T0 + 30)
    assert isinstance(exchange, oidc.Send)
    assert exchange.operation == "CreateToken"
    assert exchange.request.url == f"{ENDPOINT}/token"
    sent = body(exchange)
    verifier = sent.pop("codeVerifier")
    assert sent == {
        "clientId": fk.CLIENT_ID,
        "clientSecret": fk.CLIENT_SECRET,
        "grantType": "authorization_code",
        "code": CODE,
        "redirectUri": REDIRECT_URI,
    }
    assert len(verifier) == 64
    assert set(verifier) <= UNRESERVED
    assert oidc.code_challenge(verifier) == challenge

    flow.receive_response(fk.token_ok(expires_in=3600), fk.T0 + 31.7)
    done = flow.next_action(fk.T0 + 32)
    assert isinstance(done, oidc.Done)
    result = done.result
    assert isinstance(result, oidc.LoginResult)
    assert result.token == oidc.CachedToken(
        start_url=fk.START_URL,
        region=REGION,
        access_token=fk.ACCESS_TOKEN,
        expires_at=utc(int(fk.T0 + 31.7 + 3600)),
        client_id=fk.CLIENT_ID,
        client_secret=fk.CLIENT_SECRET,
        registration_expires_at=utc(int(fk.T0 + 90 * 86400)),
        refresh_token=fk.REFRESH_TOKEN,
    )
    assert result.registration == oidc.CachedRegistration(
        client_id=fk.CLIENT_ID,
        client_secret=fk.CLIENT_SECRET,
        expires_at=utc(int(fk.T0 + 90 * 86400)),
        scopes=("sso:account:access",),
        grant_types=tuple(GRANTS),
    )
    # Done is stable.
    assert flow.next_action(fk.T0 + 99) == done


def test_custom_scopes_client_name_and_endpoint() -> None:
    flow = make_flow(
        scopes=["sso:account:access", "codewhisperer:completions"],
        client_name="botocore-client-mysession",
        endpoint="http://127.0.0.1:9999/prefix/",
    )
    send = flow.next_action(fk.T0)
    assert isinstance(send, oidc.Send)
    assert send.request.url == "http://127.0.0.1:9999/prefix/client/register"
    sent = body(send)
    assert sent["clientName"] == "botocore-client-mysession"
    assert sent["scopes"] == ["sso:account:access", "codewhisperer:completions"]
    flow.receive_response(fk.register_ok(), fk.T0)
    browser = flow.next_action(fk.T0)
    assert isinstance(browser, oidc.OpenBrowser)
    assert browser.url.startswith("http://127.0.0.1:9999/prefix/authorize?")
    assert url_params(browser.url)["scopes"] == ["sso:account:access codewhisperer:completions"]
    assert "scopes=sso%3Aaccount%3Aaccess+codewhisperer%3Acompletions&" in browser.url


def test_no_scopes() -> None:
    flow = make_flow(scopes=None)
    send = flow.next_action(fk.T0)
    assert isinstance(send, oidc.Send)
    assert "scopes" not in body(send)
    flow.receive_response(fk.register_ok(), fk.T0)
    browser = flow.next_action(fk.T0)
    assert isinstance(browser, oidc.OpenBrowser)
    assert url_params(browser.url)["scopes"] == [""]


def test_environ_endpoint_override() -> None:
    flow = make_flow(environ={"AWS_ENDPOINT_URL_SSO_OIDC": "http://localhost:1234"})
    send = flow.next_action(fk.T0)
    assert isinstance(send, oidc.Send)
    assert send.request.url == "http://localhost:1234/client/register"


@pytest.mark.parametrize(
    ("uri", "registered"),
    [
        ("http://127.0.0.1:4321/oauth/callback", "http://127.0.0.1/oauth/callback"),
        ("http://127.0.0.1/oauth/callback", "http://127.0.0.1/oauth/callback"),
        ("http://localhost:80/cb", "http://localhost/cb"),
        ("http://[::1]:8080/oauth/callback", "http://[::1]/oauth/callback"),
        ("http://127.0.0.1:5", "http://127.0.0.1"),
    ],
)
def test_registered_redirect_uri_drops_the_port(uri: str, registered: str) -> None:
    flow = make_flow(redirect_uri=uri)
    send = flow.next_action(fk.T0)
    assert isinstance(send, oidc.Send)
    assert body(send)["redirectUris"] == [registered]
    flow.receive_response(fk.register_ok(), fk.T0)
    browser = flow.next_action(fk.T0)
    assert isinstance(browser, oidc.OpenBrowser)
    assert url_params(browser.url)["redirect_uri"] == [uri]
    flow.receive_redirect(redirect_query(browser), fk.T0)
    exchange = flow.next_action(fk.T0)
    assert isinstance(exchange, oidc.Send)
    assert body(exchange)["redirectUri"] == uri


@pytest.mark.parametrize(
    "uri",
    [
        "https://127.0.0.1:4321/oauth/callback",
        "http://example.com:4321/oauth/callback",
        "http://10.0.0.1:4321/oauth/callback",
        "http://0.0.0.0:4321/oauth/callback",
        "http://127.0.0.1:4321/oauth/callback?x=1",
        "http://127.0.0.1:4321/oauth/callback#frag",
        "http://user:pw@127.0.0.1:4321/oauth/callback",
        "http://127.0.0.1:notaport/cb",
        "http://127.0.0.1:99999/cb",
        "http://[::1/cb",
        "127.0.0.1:4321/oauth/callback",
        "http:///oauth/callback",
        "",
    ],
)
def test_redirect_uri_validation(uri: str) -> None:
    with pytest.raises(oidc.ParameterError, match="loopback"):
        make_flow(redirect_uri=uri)


def test_redirect_uri_type() -> None:
    with pytest.raises(oidc.ParameterError, match="loopback"):
        make_flow(redirect_uri=b"http://127.0.0.1:1/cb")


def test_rng_is_required() -> None:
    with pytest.raises(TypeError):
        oidc.AuthCodeFlow(start_url=fk.START_URL, region=REGION, redirect_uri=REDIRECT_URI)  # type: ignore[call-arg]
    for bad in (None, 42, object()):
        with pytest.raises(oidc.ParameterError, match="SystemRandom"):
            make_flow(rng=bad)
    # SystemRandom is a random.Random: accepted.
    assert make_flow(rng=random.SystemRandom()).state is A.REGISTER


def test_parameter_validation() -> None:
    with pytest.raises(oidc.ParameterError, match="start_url"):
        make_flow(start_url="")
    with pytest.raises(oidc.ParameterError, match="CachedRegistration"):
        make_flow(registration={"clientId": "x"})
    with pytest.raises(oidc.ParameterError, match="retry"):
        make_flow(retry={"max_attempts": 3})
    for timeout in (0, -1):
        with pytest.raises(oidc.ParameterError, match="redirect_timeout"):
            make_flow(redirect_timeout=timeout)
    with pytest.raises(oidc.ParameterError):
        make_flow(redirect_timeout="600")
    with pytest.raises(oidc.ParameterError):
        make_flow(client_name="")
    with pytest.raises(oidc.ParameterTypeError):
        make_flow(scopes="sso:account:access")


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base": -1}, {"cap": 3601}, {"base": True}, {"cap": "1"}],
)
def test_retry_policy_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(oidc.ParameterError, match="RetryPolicy"):
        make_flow(retry=oidc.RetryPolicy(**kwargs))


def test_now_must_be_a_number() -> None:
    flow = make_flow()
    with pytest.raises(oidc.ParameterError, match="epoch seconds"):
        flow.next_action(utc(fk.T0))  # type: ignore[arg-type]
    browser_flow = make_flow()
    browser = to_browser(browser_flow)
    with pytest.raises(oidc.ParameterError, match="epoch seconds"):
        browser_flow.receive_redirect(redirect_query(browser), "now")  # type: ignore[arg-type]
    with pytest.raises(oidc.ParameterError, match="query must be a str"):
        browser_flow.receive_redirect(b"code=x", fk.T0)  # type: ignore[arg-type]
    assert browser_flow.state is A.AWAIT_REDIRECT


def test_receive_argument_types() -> None:
    flow = make_flow()
    flow.next_action(fk.T0)
    with pytest.raises(oidc.ParameterError, match="HttpResponse"):
        flow.receive_response(b"{}", fk.T0)  # type: ignore[arg-type]
    with pytest.raises(oidc.ParameterError, match="exception"):
        flow.receive_failure("reset", fk.T0)  # type: ignore[arg-type]
    assert flow.state is A.AWAIT_REGISTER


def test_deterministic_with_a_seeded_rng() -> None:
    def run(seed: int) -> tuple[str, bytes]:
        flow = make_flow(rng=random.Random(seed))
        browser = to_browser(flow)
        flow.receive_redirect(redirect_query(browser), fk.T0)
        exchange = flow.next_action(fk.T0)
        assert isinstance(exchange, oidc.Send)
        return browser.url, exchange.request.body

    assert run(5) == run(5)
    assert run(5) != run(6)
    urls = {run(seed)[0] for seed in range(20)}
    assert len(urls) == 20


# --- cached registrations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("registration", "reused"),
    [
        (cached_registration(), True),
        (cached_registration(expires_in=15 * 60 + 1), True),
        (cached_registration(expires_in=15 * 60), False),
        (cached_registration(expires_in=60), False),
        (cached_registration(expires_in=-60), False),
        (cached_registration(scopes=("other",)), False),
        (cached_registration(scopes=None), False),
        (cached_registration(grant_types=None), False),
        (cached_registration(grant_types=("refresh_token",)), False),
        (cached_registration(grant_types=("authorization_code",)), True),
    ],
)
def test_cached_registration_reuse(registration: oidc.CachedRegistration, reused: bool) -> None:
    flow = make_flow(registration=registration)
    action = flow.next_action(fk.T0)
    if reused:
        assert isinstance(action, oidc.OpenBrowser)
        assert url_params(action.url)["client_id"] == ["cached-client-id"]
        flow.receive_redirect(redirect_query(action), fk.T0)
        exchange = flow.next_action(fk.T0)
        assert isinstance(exchange, oidc.Send)
        assert body(exchange)["clientSecret"] == "cached-client-secret-SSSS"
        flow.receive_response(fk.token_ok(), fk.T0)
        done = flow.next_action(fk.T0)
        assert isinstance(done, oidc.Done)
        assert done.result.registration is registration
    else:
        assert isinstance(action, oidc.Send)
        assert action.operation == "RegisterClient"


# --- the redirect ------------------------------------------------------------------------------


def test_wrong_state_keeps_waiting_and_a_later_redirect_completes() -> None:
    flow = make_flow()
    browser = to_browser(flow)
    for query in (
        urlencode({"code": "x", "state": "forged"}),
        urlencode({"error": "access_denied", "state": "forged"}),
        "",
        "favicon.ico",
    ):
        with pytest.raises(oidc.StateMismatchError):
            flow.receive_redirect(query, fk.T0 + 5)
        assert flow.state is A.AWAIT_REDIRECT
        assert flow.next_action(fk.T0 + 5) == oidc.AwaitRedirect(until=fk.T0 + 600)
    flow.receive_redirect(redirect_query(browser), fk.T0 + 6)
    exchange = flow.next_action(fk.T0 + 6)
    assert isinstance(exchange, oidc.Send)
    assert body(exchange)["code"] == CODE


def test_duplicate_state_keeps_waiting() -> None:
    flow = make_flow()
    browser = to_browser(flow)
    state = url_params(browser.url)["state"][0]
    for query in (f"code=a&state={state}&state={state}", f"code=a&code=b&state={state}"):
        with pytest.raises(oidc.MalformedRedirectError):
            flow.receive_redirect(query, fk.T0 + 1)
        assert flow.state is A.AWAIT_REDIRECT
    flow.receive_redirect(redirect_query(browser, code="good"), fk.T0 + 2)
    exchange = flow.next_action(fk.T0 + 2)
    assert isinstance(exchange, oidc.Send)
    assert body(exchange)["code"] == "good"


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        (
            {"error": "access_denied", "error_description": "User denied", "code": None},
            oidc.AuthorizationRedirectError,
        ),
        ({"error": "access_denied", "code": None}, oidc.AuthorizationRedirectError),
        ({"code": None}, oidc.MissingCodeError),
        ({"code": ""}, oidc.MissingCodeError),
    ],
)
def test_failed_redirect_ends_the_flow(extra: dict[str, Any], error: type[Exception]) -> None:
    flow = make_flow()
    browser = to_browser(flow)
    with pytest.raises(error) as info:
        flow.receive_redirect(redirect_query(browser, **extra), fk.T0 + 3)
    assert flow.state is A.FAILED
    if isinstance(info.value, oidc.AuthorizationRedirectError):
        assert info.value.error == "access_denied"
        assert info.value.error_description == extra.get("error_description")
    # Sticky: the same error from every later next_action; no more redirects accepted.
    for t in (fk.T0 + 3, fk.T0 + 10_000):
        with pytest.raises(error) as again:
            flow.next_action(t)
        assert again.value is info.value
    with pytest.raises(oidc.LocalProtocolError):
        flow.receive_redirect(redirect_query(browser), fk.T0 + 4)
    assert flow.state is A.FAILED


def test_answer_redirect_gives_the_page_and_what_follows() -> None:
    flow = make_flow()
    browser = to_browser(flow)
    state = url_params(browser.url)["state"][0]
    # Not this login's redirect (forged, junk, malformed): a refusal page, and the flow waits on.
    for query in ("code=x&state=forged", "favicon.ico", f"code=a&code=b&state={state}"):
        answer = flow.answer_redirect(query, fk.T0 + 1)
        assert (answer.status, answer.title, answer.accepted, answer.error) == (
            400,
            "Not this login",
            False,
            None,
        )
        assert flow.state is A.AWAIT_REDIRECT
    answer = flow.answer_redirect(redirect_query(browser), fk.T0 + 2)
    assert (answer.status, answer.title, answer.accepted, answer.error) == (200, "Login complete", True, None)
    assert b"<h1>Login complete</h1>" in answer.html()
    assert isinstance(flow.next_action(fk.T0 + 2), oidc.Send)
    # Asked again once the flow has moved on: the caller's mistake, raised, not a page.
    with pytest.raises(oidc.LocalProtocolError):
        flow.answer_redirect(redirect_query(browser), fk.T0 + 3)


def test_answer_redirect_to_a_failed_login_carries_the_error_and_escapes_it() -> None:
    flow = make_flow()
    browser = to_browser(flow)
    markup = "<script>alert(1)</script> & more"
    answer = flow.answer_redirect(
        redirect_query(browser, error="access_denied", error_description=markup, code=None),
        fk.T0 + 1,  # type: ignore[arg-type]
    )
    assert (answer.status, answer.title, answer.accepted) == (400, "Login failed", False)
    assert isinstance(answer.error, oidc.AuthorizationRedirectError)
    assert flow.state is A.FAILED
    with pytest.raises(oidc.AuthorizationRedirectError) as info:
        flow.next_action(fk.T0 + 2)
    assert info.value is answer.error
    page = answer.html().decode()
    assert markup not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more. Return to your terminal." in page


def test_an_answer_with_a_lone_surrogate_is_still_a_page() -> None:
    flow = make_flow()
    state = url_params(to_browser(flow).url)["state"][0]
    answer = flow.answer_redirect(
        f"state={state}&error=access_denied&error_description=bad\ud800x", fk.T0 + 1
    )
    assert isinstance(answer.error, oidc.AuthorizationRedirectError)
    assert "bad?x" in answer.html().decode()


def test_the_answers_a_listener_gives_without_a_flow() -> None:
    assert oidc.RedirectAnswer.NOT_FOUND.status == 404
    assert oidc.RedirectAnswer.NOT_WAITING.status == 503
    for answer in (oidc.RedirectAnswer.NOT_FOUND, oidc.RedirectAnswer.NOT_WAITING):
        assert not answer.accepted
        assert answer.error is None
        assert answer.html().startswith(b"<!doctype html><meta charset=utf-8><title>")


def test_redirect_timeout() -> None:
    flow = make_flow(redirect_timeout=120)
    to_browser(flow)
    assert flow.next_action(fk.T0 + 119.999) == oidc.AwaitRedirect(until=fk.T0 + 120)
    with pytest.raises(oidc.LoginTimeoutError) as info:
        flow.next_action(fk.T0 + 120)
    assert info.value.deadline == fk.T0 + 120
    assert flow.state is A.FAILED
    with pytest.raises(oidc.LoginTimeoutError) as again:
        flow.next_action(fk.T0 + 121)
    assert again.value is info.value


def test_redirect_handed_over_after_the_deadline_is_not_exchanged() -> None:
    # A redirect that arrives late (the adapter noticed it after AwaitRedirect.until) must not
    # make the flow send after its deadline.
    flow = make_flow(redirect_timeout=60)
    browser = to_browser(flow)
    flow.receive_redirect(redirect_query(browser), fk.T0 + 61)
    assert flow.state is A.EXCHANGE
    with pytest.raises(oidc.LoginTimeoutError) as info:
        flow.next_action(fk.T0 + 61)
    assert info.value.deadline == fk.T0 + 60
    assert flow.state is A.FAILED


def test_exchange_retry_woken_after_the_deadline_does_not_send() -> None:
    flow = make_flow(redirect_timeout=60, rng=fk.FixedRandom(0.5))
    browser = to_browser(flow)
    flow.receive_redirect(redirect_query(browser), fk.T0 + 50)
    assert isinstance(flow.next_action(fk.T0 + 50), oidc.Send)
    flow.receive_response(fk.SERVER_ERROR, fk.T0 + 50)
    wait = flow.next_action(fk.T0 + 50)
    assert wait == oidc.Wait(until=fk.T0 + 50.5)
    # The driver oversleeps (a suspended laptop): no Send at or after the deadline.
    with pytest.raises(oidc.LoginTimeoutError):
        flow.next_action(fk.T0 + 60)


def test_exchange_retry_cut_by_the_deadline() -> None:
    # _retry_or_fail's deadline branch: the next retry would come at or after the deadline.
    flow = make_flow(redirect_timeout=60, rng=fk.FixedRandom(0.5))
    browser = to_browser(flow)
    flow.receive_redirect(redirect_query(browser), fk.T0 + 59)
    assert isinstance(flow.next_action(fk.T0 + 59), oidc.Send)
    error = fk.reset()
    flow.receive_failure(error, fk.T0 + 59.5)  # retry 1 would be at 60.0: the deadline
    assert flow.state is A.FAILED
    with pytest.raises(oidc.LoginTimeoutError, match="deadline passes before the next retry") as info:
        flow.next_action(fk.T0 + 59.5)
    assert info.value.__cause__ is error
    assert info.value.deadline == fk.T0 + 60


def test_slow_down_outside_polling_is_backoff() -> None:
    flow = make_flow(rng=fk.FixedRandom(0.5))
    trace = fk.drive(
        flow,
        [fk.SLOW_DOWN, fk.THROTTLED_429, fk.register_ok(), fk.SLOW_DOWN, fk.token_ok()],
        redirect=redirect_to(flow),
    )
    assert trace.error is None
    assert trace.operations == ["RegisterClient"] * 3 + ["CreateToken"] * 2


def redirect_to(flow: oidc.AuthCodeFlow, delay: float = 1.0) -> fk.Redirector:
    """For fk.drive: the good redirect for ``flow``'s login, ``delay`` seconds after AwaitRedirect."""

    def redirect(action: oidc.AwaitRedirect, now: float) -> tuple[str, float]:
        return urlencode({"code": CODE, "state": flow._state_value}), now + delay

    return redirect


def test_registration_retries_then_gives_up() -> None:
    flow = make_flow(retry=oidc.RetryPolicy(max_attempts=3, base=1, cap=1), rng=fk.FixedRandom(0.0))
    trace = fk.drive(flow, [fk.SERVER_ERROR, fk.reset(), fk.MALFORMED])
    assert isinstance(trace.error, oidc.RetriesExhaustedError)
    assert isinstance(trace.error.last_error, oidc.RemoteProtocolError)
    assert trace.error.__cause__ is trace.error.last_error
    assert trace.operations == ["RegisterClient"] * 3


# --- illegal calls ----------------------------------------------------------------------------


def flow_in(state: oidc.AuthCodeState) -> oidc.AuthCodeFlow:
    """A flow brought to ``state`` through its public API."""
    flow = make_flow()
    if state is A.REGISTER:
        return flow
    flow.next_action(fk.T0)
    if state is A.AWAIT_REGISTER:
        return flow
    if state is A.FAILED:
        flow.receive_response(fk.INVALID_REQUEST, fk.T0)
        return flow
    flow.receive_response(fk.register_ok(), fk.T0)
    if state is A.OPEN_BROWSER:
        return flow
    browser = flow.next_action(fk.T0)
    assert isinstance(browser, oidc.OpenBrowser)
    if state is A.AWAIT_REDIRECT:
        return flow
    flow.receive_redirect(redirect_query(browser), fk.T0)
    if state is A.EXCHANGE:
        return flow
    flow.next_action(fk.T0)
    if state is A.AWAIT_EXCHANGE:
        return flow
    assert state is A.DONE
    flow.receive_response(fk.token_ok(), fk.T0)
    return flow


CALLS: dict[str, Callable[[oidc.AuthCodeFlow], object]] = {
    "next_action": lambda f: f.next_action(fk.T0 + 1),
    "receive_response": lambda f: f.receive_response(fk.token_ok(), fk.T0 + 1),
    "receive_failure": lambda f: f.receive_failure(fk.reset(), fk.T0 + 1),
    "abandon_send": lambda f: f.abandon_send(fk.T0 + 1),
    "receive_redirect": lambda f: f.receive_redirect(
        urlencode({"code": CODE, "state": f._state_value}), fk.T0 + 1
    ),
}


def reachable(table: Any, start: Any) -> set[Any]:
    """``start`` and every state the transition table leads to from it (one call may take
    several moves, e.g. a decision and then a Send)."""
    seen, todo = {start}, [start]
    while todo:
        for nxt in table[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def legal(state: oidc.AuthCodeState, call: str) -> bool:
    if call == "next_action":
        return state not in oidc.AuthCodeFlow.AWAITING
    if call == "receive_redirect":
        return state is A.AWAIT_REDIRECT
    return state in oidc.AuthCodeFlow.AWAITING


def test_awaiting_set() -> None:
    assert frozenset({A.AWAIT_REGISTER, A.AWAIT_EXCHANGE}) == oidc.AuthCodeFlow.AWAITING
    assert set(_authcode.TRANSITIONS) == set(A)
    assert not _authcode.TRANSITIONS[A.DONE]
    assert not _authcode.TRANSITIONS[A.FAILED]


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("state", list(A))
def test_transition_table(state: oidc.AuthCodeState, call: str) -> None:
    flow = flow_in(state)
    assert flow.state is state
    if legal(state, call):
        try:
            CALLS[call](flow)
        except oidc.LocalProtocolError as exc:  # pragma: no cover - the assertion below fails
            raise AssertionError(f"{call} is legal in {state}") from exc
        except oidc.SSOOIDCError:
            assert state is A.FAILED  # the sticky error, from next_action
            assert call == "next_action"
        assert flow.state in reachable(_authcode.TRANSITIONS, state)
    else:
        with pytest.raises(oidc.LocalProtocolError):
            CALLS[call](flow)
        assert flow.state is state
        # The flow still works as before the illegal call.
        if state is A.FAILED:
            with pytest.raises(oidc.InvalidRequestException):
                flow.next_action(fk.T0)


# --- secrets -------------------------------------------------------------------------------------

SECRETS = (fk.CLIENT_SECRET, fk.ACCESS_TOKEN, fk.REFRESH_TOKEN, CODE, "cached-client-secret-SSSS")


def assert_no_secret(texts: list[str], extra: tuple[str, ...] = ()) -> None:
    for text in texts:
        for secret in (*SECRETS, *extra):
            assert secret not in text, (secret, text)


def test_no_secret_in_any_repr_str_or_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    leaky = fk.json_response(
        200, {"accessToken": fk.ACCESS_TOKEN, "refreshToken": fk.REFRESH_TOKEN, "expiresIn": "soon"}
    )
    leaky_register = fk.json_response(200, {"clientId": "x", "clientSecret": fk.CLIENT_SECRET})
    truncated = fk.json_response(200, b'{"clientSecret": "' + fk.CLIENT_SECRET.encode())
    texts: list[str] = []
    verifiers: list[str] = []

    def collect(trace: fk.Trace, flow: oidc.AuthCodeFlow) -> None:
        for _, kind, payload in trace.events:
            if kind == "redirect":  # the test's own input
                continue
            texts.extend((repr(payload), str(payload)))
            if isinstance(payload, BaseException) and payload.__cause__ is not None:
                texts.extend((repr(payload.__cause__), str(payload.__cause__)))
            if isinstance(payload, oidc.Send) and payload.operation == "CreateToken":
                verifiers.append(json.loads(payload.request.body)["codeVerifier"])
        texts.extend((repr(trace.result), str(trace.result), repr(trace.error), str(trace.error), repr(flow)))

    # Success after transient failures with secret-bearing malformed bodies.
    flow = make_flow(rng=fk.FixedRandom(0.5))
    trace = fk.drive(
        flow,
        [leaky_register, truncated, fk.register_ok(), leaky, fk.token_ok()],
        redirect=redirect_to(flow),
    )
    assert trace.result is not None
    collect(trace, flow)
    # Failures: exhausted retries on secret-bearing bodies, a service error, a failed redirect.
    flow = make_flow(
        retry=oidc.RetryPolicy(max_attempts=2), rng=fk.FixedRandom(0.5), registration=cached_registration()
    )
    trace = fk.drive(flow, [leaky, leaky], redirect=redirect_to(flow))
    assert isinstance(trace.error, oidc.RetriesExhaustedError)
    collect(trace, flow)
    flow = make_flow(registration=cached_registration())
    trace = fk.drive(flow, [fk.INVALID_GRANT], redirect=redirect_to(flow))
    assert isinstance(trace.error, oidc.InvalidGrantException)
    collect(trace, flow)
    flow = make_flow(registration=cached_registration())
    browser = flow.next_action(fk.T0)
    assert isinstance(browser, oidc.OpenBrowser)
    for query in (urlencode({"code": CODE, "state": "forged"}), urlencode({"error": "x", "state": "y"})):
        with pytest.raises(oidc.StateMismatchError) as info:
            flow.receive_redirect(query, fk.T0)
        texts.extend((repr(info.value), str(info.value)))
    with pytest.raises(oidc.MissingCodeError) as missing:
        flow.receive_redirect(redirect_query(browser, code=""), fk.T0)
    texts.extend((repr(missing.value), str(missing.value)))
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(str(record.args) for record in caplog.records)
    assert verifiers
    assert any("failed" in record.getMessage() for record in caplog.records)
    assert_no_secret(texts, tuple(verifiers))


# --- exhaustive response sequences --------------------------------------------------------------

MAX_LEN = 8
LATENCY = 0.5
JITTER = 0.5  # FixedRandom: every backoff is half its ceiling

REG_ALPHABET = ("ok", "500", "throttled", "slow_down", "malformed", "transport", "invalid_client", "4xx")
EXCHANGE_ALPHABET = (
    "ok",
    "500",
    "throttled",
    "malformed",
    "transport",
    "invalid_grant",
    "invalid_client",
    "expired_token",
)
#: Letter -> the error class it ends the flow with, for letters that are not retried.
TERMINAL: dict[str, type[Exception]] = {
    "invalid_client": oidc.InvalidClientException,
    "4xx": oidc.InvalidRequestException,
    "invalid_grant": oidc.InvalidGrantException,
    "expired_token": oidc.ExpiredTokenException,
}
TRANSIENT = frozenset({"500", "throttled", "slow_down", "malformed", "transport"})


def outcome(letter: str, operation: str) -> oidc.HttpResponse | BaseException:
    if letter == "ok":
        return fk.register_ok() if operation == "RegisterClient" else fk.token_ok()
    return {
        "500": fk.SERVER_ERROR,
        "throttled": fk.error_response("ThrottlingException", 429),
        "slow_down": fk.SLOW_DOWN,
        "malformed": fk.MALFORMED,
        "transport": fk.reset(),
        "invalid_client": fk.INVALID_CLIENT,
        "4xx": fk.INVALID_REQUEST,
        "invalid_grant": fk.INVALID_GRANT,
        "expired_token": fk.EXPIRED,
    }[letter]


@dataclasses.dataclass(frozen=True)
class Run:
    """One walk's bookkeeping, copied (not shared) when the walk branches."""

    now: float
    fence: float = fk.T0  # the latest Wait.until: no Send before it
    deadline: float | None = None  # from AwaitRedirect.until: no Send at or after it
    state: str | None = None  # the login's state value, from the authorize URL
    challenge: str | None = None
    browser_opened: int = 0
    phase_sends: tuple[float, ...] = ()


@dataclasses.dataclass
class Config:
    phase: str  # the operation whose outcomes the sequence scripts
    alphabet: tuple[str, ...]
    redirect_at: Callable[[float, float], float]  # (now, until) -> when the redirect arrives
    cached: bool = False
    retry: oidc.RetryPolicy = dataclasses.field(default_factory=oidc.RetryPolicy)


@dataclasses.dataclass
class Stats:
    leaves: int = 0
    nodes: int = 0
    longest: int = 0
    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)


def check_send(send: oidc.Send, run: Run) -> None:
    sent = fk.check_request(send)
    if send.operation == "RegisterClient":
        assert sent == {
            "clientName": "sansio-ssooidc",
            "clientType": "public",
            "scopes": ["sso:account:access"],
            "redirectUris": [REGISTERED_URI],
            "grantTypes": GRANTS,
            "issuerUrl": fk.START_URL,
        }
        assert send.request.url == f"{ENDPOINT}/client/register"
        return
    assert send.operation == "CreateToken"
    assert send.request.url == f"{ENDPOINT}/token"
    assert set(sent) == {"clientId", "clientSecret", "grantType", "code", "codeVerifier", "redirectUri"}
    assert sent["grantType"] == "authorization_code"
    assert sent["code"] == CODE
    assert sent["redirectUri"] == REDIRECT_URI
    assert oidc.code_challenge(sent["codeVerifier"]) == run.challenge


def step(flow: oidc.AuthCodeFlow, run: Run, config: Config) -> tuple[Run, Any]:
    """Pull actions until the flow sends a request of the scripted phase (returns the Send), or
    ends (returns Done or the error). Other requests are answered with success."""
    now = run.now
    while True:
        action = pull(flow, now)
        if isinstance(action, oidc.SSOOIDCError):
            assert pull(flow, now + 1) is action  # sticky
            return dataclasses.replace(run, now=now), action
        if isinstance(action, oidc.Done):
            return dataclasses.replace(run, now=now), action
        if isinstance(action, oidc.Wait):
            assert action.until > now
            # Woken early, the flow asks to wait again, for the same time, and does not move.
            state = flow.state
            early = flow.next_action((now + action.until) / 2)
            assert early == action
            assert flow.state is state
            now = action.until
            run = dataclasses.replace(run, fence=now)
        elif isinstance(action, oidc.OpenBrowser):
            assert run.browser_opened == 0
            params = url_params(action.url)
            run = dataclasses.replace(
                run,
                browser_opened=1,
                state=params["state"][0],
                challenge=params["code_challenge"][0],
            )
        elif isinstance(action, oidc.AwaitRedirect):
            assert run.deadline is None
            run = dataclasses.replace(run, deadline=action.until)
            now = config.redirect_at(now, action.until)
            assert run.state is not None
            flow.receive_redirect(urlencode({"code": CODE, "state": run.state}), now)
        else:
            assert isinstance(action, oidc.Send)
            assert now >= run.fence, "Send before the preceding Wait.until"
            assert run.deadline is None or now < run.deadline, "Send at or after the deadline"
            check_send(action, run)
            if action.operation == config.phase:
                return dataclasses.replace(run, now=now, phase_sends=(*run.phase_sends, now)), action
            flow.receive_response(outcome("ok", action.operation), now + LATENCY)
            now += LATENCY


def expected(seq: tuple[str, ...], run: Run, config: Config) -> type[Any]:
    """What the sequence must end in, by a model of the policy independent of the flow:
    the first letter that is neither transient decides (InvalidGrant after a transport failure is
    a LostResponseError); a transient run ends after ``max_attempts`` or when the next retry would
    come at or after the deadline."""
    deadline = run.deadline if config.phase == "CreateToken" else None
    unanswered = False  # a request got no answer: its outcome is unknown
    for attempt, letter in enumerate(seq, start=1):
        if letter == "ok":
            return oidc.Done
        if letter == "invalid_grant" and unanswered:  # the lost request redeemed the code
            return oidc.LostResponseError
        if letter in TERMINAL:
            return TERMINAL[letter]
        assert letter in TRANSIENT
        unanswered |= letter == "transport"
        if attempt >= config.retry.max_attempts:
            return oidc.RetriesExhaustedError
        delay = JITTER * min(config.retry.cap, config.retry.base * 2 ** (attempt - 1))
        responded = run.phase_sends[attempt - 1] + LATENCY
        if deadline is not None and responded + delay >= deadline:
            return oidc.LoginTimeoutError
        assert attempt == len(seq) or run.phase_sends[attempt] == responded + delay
    raise AssertionError(f"{seq} does not end the phase")  # pragma: no cover


def check_leaf(seq: tuple[str, ...], run: Run, end: Any, config: Config, stats: Stats) -> None:
    stats.leaves += 1
    stats.longest = max(stats.longest, len(seq))
    want = expected(seq, run, config)
    assert isinstance(end, want), (seq, end)
    name = type(end).__name__
    stats.outcomes[name] = stats.outcomes.get(name, 0) + 1
    if isinstance(end, oidc.Done):
        token = end.result.token
        assert token.access_token == fk.ACCESS_TOKEN
        assert token.refresh_token == fk.REFRESH_TOKEN
        assert run.browser_opened == 1
        return
    assert isinstance(end, oidc.SSOOIDCError)
    if isinstance(end, (oidc.RetriesExhaustedError, oidc.LoginTimeoutError)):
        assert end.__cause__ is not None
        assert isinstance(end.__cause__, (oidc.SSOOIDCError, OSError))
    if config.phase == "RegisterClient":
        assert run.browser_opened == 0  # a failed registration never opens the browser


def explore(flow: oidc.AuthCodeFlow, run: Run, seq: tuple[str, ...], config: Config, stats: Stats) -> None:
    """Branch on every letter for the outstanding phase request (depth-first, cloning the flow)."""
    stats.nodes += 1
    operation = config.phase
    for letter in config.alphabet:
        child = fk.clone(flow)
        answer = outcome(letter, operation)
        at = run.now + LATENCY
        if isinstance(answer, BaseException):
            child.receive_failure(answer, at)
        else:
            child.receive_response(answer, at)
        child_seq = (*seq, letter)
        child_run, end = step(child, dataclasses.replace(run, now=at), config)
        if not isinstance(end, oidc.Send):
            check_leaf(child_seq, child_run, end, config, stats)
        elif len(child_seq) == MAX_LEN:  # pragma: no cover - the attempt bound ends runs sooner
            child.receive_response(outcome("ok", operation), child_run.now + LATENCY)
            child_run, end = step(child, dataclasses.replace(child_run, now=child_run.now + LATENCY), config)
            check_leaf((*child_seq, "ok"), child_run, end, config, stats)
        else:
            explore(child, child_run, child_seq, config, stats)


def enumerate_config(config: Config) -> Stats:
    flow = make_flow(
        rng=fk.FixedRandom(JITTER),
        retry=config.retry,
        registration=cached_registration() if config.cached else None,
    )
    run, first = step(flow, Run(now=fk.T0), config)
    assert isinstance(first, oidc.Send)
    stats = Stats()
    explore(flow, run, (), config, stats)
    return stats


def geometric(transient: int, terminal: int, rounds: int) -> int:
    """Distinct sequences when up to ``rounds`` transient letters may precede a terminal one and
    ``rounds`` transient letters in a row end the run: sum(T**k * N, k < rounds) + T**rounds."""
    return sum(transient**k * terminal for k in range(rounds)) + transient**rounds


ENUMERATIONS = {
    # Registration has no deadline: 5 attempts, slow_down is backoff. 5 transient, 3 terminal letters.
    "register": (
        Config("RegisterClient", REG_ALPHABET, redirect_at=lambda now, until: now + 10),
        geometric(5, 3, 5),
    ),
    # Exchange well before the redirect deadline: only the attempt bound ends a transient run.
    "exchange": (
        Config("CreateToken", EXCHANGE_ALPHABET, redirect_at=lambda now, until: now + 10),
        geometric(4, 4, 5),
    ),
    # Exchange 6 s before the deadline: sends at +0, +1, +2.5, +5; the 5th would be at +9.5.
    "exchange-near-deadline": (
        Config("CreateToken", EXCHANGE_ALPHABET, redirect_at=lambda now, until: until - 6, cached=True),
        geometric(4, 4, 4),
    ),
    # A longer retry budget: the 8-letter bound is reached (8 attempts, 7 retries within 20 s caps).
    "exchange-8-attempts": (
        Config(
            "CreateToken",
            ("ok", "500", "transport", "invalid_grant"),
            redirect_at=lambda now, until: now + 10,
            cached=True,
            retry=oidc.RetryPolicy(max_attempts=8),
        ),
        geometric(2, 2, 8),
    ),
}


@pytest.mark.parametrize("name", list(ENUMERATIONS))
def test_every_response_sequence(name: str, record_property: Callable[[str, object], None]) -> None:
    config, count = ENUMERATIONS[name]
    started = time.perf_counter()
    stats = enumerate_config(config)
    elapsed = time.perf_counter() - started
    record_property("sequences", stats.leaves)
    print(
        f"{name}: {stats.leaves} sequences, {stats.nodes} branch points, longest {stats.longest}, "
        f"{elapsed:.2f}s, outcomes {stats.outcomes}"
    )
    assert stats.leaves == count
    assert stats.longest <= MAX_LEN


# --- a Hypothesis state machine ---------------------------------------------------------------

REDIRECT_JUNK = st.one_of(
    st.text(max_size=40),
    st.lists(
        st.sampled_from(["code=x", "state=y", "error=z", "state=", "&", "=", "%zz", "code="]), max_size=6
    ).map("&".join),
)


class AuthCodeMachine(RuleBasedStateMachine):
    """Random interleavings of pulls, responses, transport failures, clock jumps, junk and real
    redirects and illegal calls; the rules of the flow are checked after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.flow = make_flow()
        self.now = fk.T0
        self.fence = fk.T0
        self.deadline: float | None = None
        self.state: str | None = None
        self.challenge: str | None = None
        self.browser_opened = 0
        self.outstanding: str | None = None
        self.error: BaseException | None = None
        self.done: oidc.Done[Any] | None = None
        self.sends = 0

    @initialize(
        seed=st.integers(0, 2**32),
        cached=st.booleans(),
        timeout=st.sampled_from([5.0, 60.0, 600.0]),
        attempts=st.integers(1, 4),
    )
    def start(self, seed: int, cached: bool, timeout: float, attempts: int) -> None:
        self.flow = make_flow(
            rng=random.Random(seed),
            registration=cached_registration() if cached else None,
            redirect_timeout=timeout,
            retry=oidc.RetryPolicy(max_attempts=attempts, base=0.5, cap=4),
        )

    def _illegal(self, call: Callable[[], object]) -> None:
        state = self.flow.state
        with pytest.raises(oidc.LocalProtocolError):
            call()
        assert self.flow.state is state

    @rule()
    def pull(self) -> None:
        if self.outstanding is not None:
            self._illegal(lambda: self.flow.next_action(self.now))
            return
        action = pull(self.flow, self.now)
        if isinstance(action, oidc.SSOOIDCError):
            assert self.flow.state is A.FAILED
            assert self.done is None
            if self.error is None:
                self.error = action
            assert action is self.error
            return
        assert self.error is None
        if isinstance(action, oidc.Done):
            assert self.done is None or action == self.done
            self.done = action
            assert isinstance(action.result, oidc.LoginResult)
        elif isinstance(action, oidc.Wait):
            assert action.until > self.now
            self.fence = action.until
        elif isinstance(action, oidc.OpenBrowser):
            assert self.browser_opened == 0
            self.browser_opened += 1
            params = url_params(action.url)
            self.state = params["state"][0]
            self.challenge = params["code_challenge"][0]
            assert self.flow.deadline is not None
            self.deadline = self.flow.deadline
        elif isinstance(action, oidc.AwaitRedirect):
            assert action.until == self.deadline
            assert self.now < action.until
        else:
            assert isinstance(action, oidc.Send)
            assert self.now >= self.fence
            assert self.deadline is None or self.now < self.deadline
            check_send(action, Run(now=self.now, challenge=self.challenge))
            self.outstanding = action.operation
            self.sends += 1

    @rule()
    def happy_step(self) -> None:
        """Progress: answer with success, hand over the good redirect, or pull."""
        if self.outstanding is not None:
            self.respond("ok")
        elif self.flow.state is A.AWAIT_REDIRECT:
            self.redirect("good")
        else:
            self.pull()

    @rule(
        letter=st.one_of(st.just("ok"), st.sampled_from(sorted(set(REG_ALPHABET) | set(EXCHANGE_ALPHABET))))
    )
    def respond(self, letter: str) -> None:
        if self.outstanding is None:
            self._illegal(lambda: self.flow.receive_response(fk.token_ok(), self.now))
            self._illegal(lambda: self.flow.receive_failure(fk.reset(), self.now))
            return
        answer = outcome(letter, self.outstanding)
        if isinstance(answer, BaseException):
            self.flow.receive_failure(answer, self.now)
        else:
            self.flow.receive_response(answer, self.now)
        self.outstanding = None
        assert self.flow.state not in oidc.AuthCodeFlow.AWAITING

    @rule()
    def abandon(self) -> None:
        """The driver is cancelled while a request is in flight: the flow sends it again later."""
        if self.outstanding is None:
            self._illegal(lambda: self.flow.abandon_send(self.now))
            return
        awaiting = self.flow.state
        self.flow.abandon_send(self.now)
        assert self.flow.state is oidc.AuthCodeFlow.RESEND[awaiting]
        self.outstanding = None

    @rule(seconds=st.one_of(st.floats(0, 5), st.sampled_from([0.5, 30.0, 700.0, 86400.0])))
    def tick(self, seconds: float) -> None:
        self.now += seconds

    @rule(query=REDIRECT_JUNK)
    def junk_redirect(self, query: str) -> None:
        state = self.flow.state
        if state is not A.AWAIT_REDIRECT:
            self._illegal(lambda: self.flow.receive_redirect(query, self.now))
            return
        with pytest.raises((oidc.StateMismatchError, oidc.MalformedRedirectError)):
            self.flow.receive_redirect(query, self.now)
        assert self.flow.state is A.AWAIT_REDIRECT

    @rule(kind=st.sampled_from(["good", "error", "missing", "double"]))
    def redirect(self, kind: str) -> None:
        state = self.flow.state
        assert self.state is not None or state is not A.AWAIT_REDIRECT
        query = {
            "good": f"code={CODE}&state={self.state}",
            "error": f"error=access_denied&state={self.state}",
            "missing": f"state={self.state}",
            "double": f"code={CODE}&state={self.state}&state={self.state}",
        }[kind]
        if state is not A.AWAIT_REDIRECT:
            self._illegal(lambda: self.flow.receive_redirect(query, self.now))
            return
        if kind == "good":
            self.flow.receive_redirect(query, self.now)
            assert self.flow.state is A.EXCHANGE
        elif kind == "double":
            with pytest.raises(oidc.MalformedRedirectError):
                self.flow.receive_redirect(query, self.now)
            assert self.flow.state is A.AWAIT_REDIRECT
        else:
            error = oidc.AuthorizationRedirectError if kind == "error" else oidc.MissingCodeError
            with pytest.raises(error):
                self.flow.receive_redirect(query, self.now)
            assert self.flow.state is A.FAILED

    @invariant()
    def consistent(self) -> None:
        state = self.flow.state
        assert isinstance(state, oidc.AuthCodeState)
        assert (self.outstanding is not None) == (state in oidc.AuthCodeFlow.AWAITING)
        assert self.browser_opened <= 1
        if state in (A.AWAIT_REDIRECT, A.EXCHANGE, A.AWAIT_EXCHANGE, A.DONE):
            assert self.browser_opened == 1 or state is A.AWAIT_REDIRECT


TestAuthCodeMachine = AuthCodeMachine.TestCase
TestAuthCodeMachine.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    script=st.lists(st.sampled_from(EXCHANGE_ALPHABET), min_size=1, max_size=6),
    arrival=st.floats(0, 700),
    latency=st.sampled_from([0.0, 0.5, 3.0]),
)
def test_any_script_with_a_late_or_early_redirect(
    seed: int, script: list[str], arrival: float, latency: float
) -> None:
    """fk.drive's checks (no Send before a Wait's until nor at/after the deadline, sticky errors)
    for arbitrary exchange scripts and redirect times, late ones included."""
    flow = make_flow(rng=random.Random(seed), registration=cached_registration(), redirect_timeout=300)

    def redirect(action: oidc.AwaitRedirect, now: float) -> tuple[str, float] | None:
        if now + arrival >= action.until:
            return None
        return f"code={CODE}&state={flow._state_value}", now + arrival

    answers = iter([outcome(letter, "CreateToken") for letter in script])
    trace = fk.drive(flow, lambda send, now: next(answers, fk.token_ok()), latency=latency, redirect=redirect)
    assert len(trace.of(oidc.OpenBrowser)) == 1
    assert (trace.result is None) != (trace.error is None)
    if arrival >= 300:
        assert isinstance(trace.error, oidc.LoginTimeoutError)
        assert not trace.sends
