"""RefreshFlow (botocore's refresh policy): the decision, the request, failures in the advisory and
mandatory windows, exhaustive response sequences, the transition table and a state machine."""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import sansio_ssooidc as oidc
from sansio_ssooidc import _refresh
from tests import flowkit as fk

R = oidc.RefreshState
Reason = oidc.LoginRequiredReason
ENDPOINT = "https://oidc.us-west-2.amazonaws.com"
ADVISORY = 15 * 60
MANDATORY = 10 * 60
NEW_ACCESS = "new-access-token-NNNN"
NEW_REFRESH = "new-refresh-token-MMMM"


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def make_token(remaining: float, **changes: Any) -> oidc.CachedToken:
    """A refreshable token with ``remaining`` seconds left at T0."""
    fields: dict[str, Any] = {
        "start_url": fk.START_URL,
        "region": "us-west-2",
        "access_token": fk.ACCESS_TOKEN,
        "expires_at": utc(fk.T0 + remaining),
        "client_id": fk.CLIENT_ID,
        "client_secret": fk.CLIENT_SECRET,
        "registration_expires_at": utc(fk.T0 + 60 * 86400),
        "refresh_token": fk.REFRESH_TOKEN,
    }
    fields.update(changes)
    return oidc.CachedToken(**fields)


def make_flow(token: oidc.CachedToken, **kwargs: Any) -> oidc.RefreshFlow:
    kwargs.setdefault("rng", fk.FixedRandom(0.5))
    return oidc.RefreshFlow(token=token, **kwargs)


def refreshed(*, refresh_token: str | None = NEW_REFRESH, expires_in: int = 3600) -> oidc.HttpResponse:
    return fk.token_ok(access_token=NEW_ACCESS, refresh_token=refresh_token, expires_in=expires_in)


def expected_body(token: oidc.CachedToken) -> dict[str, str]:
    assert token.client_id is not None
    assert token.client_secret is not None
    assert token.refresh_token is not None
    return {
        "clientId": token.client_id,
        "clientSecret": token.client_secret,
        "grantType": "refresh_token",
        "refreshToken": token.refresh_token,
    }


def check_send(send: oidc.Send, token: oidc.CachedToken, endpoint: str = ENDPOINT) -> None:
    assert send.operation == "CreateToken"
    assert send.request.url == f"{endpoint}/token"
    assert fk.check_request(send) == expected_body(token)


def pull(flow: Any, now: float) -> Any:
    """``flow.next_action(now)``, or the flow's error as a value (misuse still raises)."""
    try:
        return flow.next_action(now)
    except oidc.LocalProtocolError:  # pragma: no cover - fails the test
        raise
    except oidc.SSOOIDCError as exc:
        return exc


# --- the decision ---------------------------------------------------------------------------------


@pytest.mark.parametrize("remaining", [ADVISORY + 1, ADVISORY + 0.001, 8 * 3600])
def test_fresh_token_is_done_without_a_send(remaining: float) -> None:
    token = make_token(remaining)
    flow = make_flow(token)
    done = flow.next_action(fk.T0)
    assert done == oidc.Done(result=oidc.RefreshResult(token=token))
    assert done.result.token is token
    assert not done.result.refreshed
    assert not done.result.attempted
    assert done.result.reason is None
    assert done.result.error is None
    assert flow.state is R.DONE
    assert flow.next_action(fk.T0 + 5000) == done


@pytest.mark.parametrize(
    ("remaining", "mandatory"),
    [
        (ADVISORY, False),
        (ADVISORY - 1, False),
        (MANDATORY + 5, False),
        (MANDATORY, True),
        (1, True),
        (-3600, True),
    ],
)
def test_refresh_in_either_window(remaining: float, mandatory: bool) -> None:
    token = make_token(remaining)
    flow = make_flow(token)
    send = flow.next_action(fk.T0)
    assert isinstance(send, oidc.Send)
    check_send(send, token)
    assert flow.state is R.AWAIT_REFRESH
    flow.receive_response(refreshed(expires_in=7200), fk.T0 + 1.9)
    done = flow.next_action(fk.T0 + 2)
    assert isinstance(done, oidc.Done)
    result = done.result
    assert result.refreshed
    assert result.attempted
    assert result.reason is None
    assert result.error is None
    assert result.token == dataclasses.replace(
        token, access_token=NEW_ACCESS, expires_at=utc(int(fk.T0 + 1.9 + 7200)), refresh_token=NEW_REFRESH
    )
    # The registration and the identity are kept.
    for name in ("client_id", "client_secret", "registration_expires_at", "start_url", "region"):
        assert getattr(result.token, name) == getattr(token, name)
    # Whichever window, a transient failure is retried (the windows differ on giving up).
    flow = make_flow(token)
    flow.next_action(fk.T0)
    flow.receive_response(fk.SERVER_ERROR, fk.T0)
    assert flow.next_action(fk.T0) == oidc.Wait(until=fk.T0 + 0.5)
    # ... and they differ on giving up: the old token with the error, or the error.
    flow = make_flow(token)
    flow.next_action(fk.T0)
    flow.receive_response(fk.INVALID_REQUEST, fk.T0)
    if mandatory:
        with pytest.raises(oidc.InvalidRequestException):
            flow.next_action(fk.T0)
    else:
        assert flow.next_action(fk.T0).result.token is token


def test_response_without_a_refresh_token_keeps_the_old_one() -> None:
    token = make_token(60)
    flow = make_flow(token)
    flow.next_action(fk.T0)
    flow.receive_response(refreshed(refresh_token=None), fk.T0)
    done = flow.next_action(fk.T0)
    assert isinstance(done, oidc.Done)
    assert done.result.token.refresh_token == fk.REFRESH_TOKEN
    assert done.result.token.access_token == NEW_ACCESS


TOKEN_CHANGES = {
    Reason.NO_REFRESH_TOKEN: [
        {"refresh_token": None},
        {"refresh_token": ""},
        {"client_id": None},
        {"client_secret": None},
        {"client_id": None, "client_secret": None, "registration_expires_at": None, "refresh_token": None},
    ],
    Reason.REGISTRATION_EXPIRED: [
        {"registration_expires_at": utc(fk.T0)},
        {"registration_expires_at": utc(fk.T0 - 86400)},
    ],
}


def not_refreshable_cases() -> list[tuple[Reason, dict[str, Any], dict[str, Any]]]:
    cases = [(reason, changes, {}) for reason, many in TOKEN_CHANGES.items() for changes in many]
    cases += [
        (Reason.LEGACY_TOKEN, {}, {"legacy": True}),
        # Legacy wins over everything else.
        (Reason.LEGACY_TOKEN, {"refresh_token": None}, {"legacy": True, "last_attempt": fk.T0}),
        (Reason.TOKEN_EXPIRED, {}, {"last_attempt": fk.T0 - 59.9}),
        (Reason.TOKEN_EXPIRED, {}, {"last_attempt": fk.T0}),
        # Precedence: no refresh token before an expired registration before the 60 s rule.
        (
            Reason.NO_REFRESH_TOKEN,
            {"refresh_token": None, "registration_expires_at": utc(fk.T0 - 1)},
            {"last_attempt": fk.T0},
        ),
        (Reason.REGISTRATION_EXPIRED, {"registration_expires_at": utc(fk.T0 - 1)}, {"last_attempt": fk.T0}),
    ]
    return cases


@pytest.mark.parametrize(("reason", "changes", "kwargs"), not_refreshable_cases())
@pytest.mark.parametrize("remaining", [ADVISORY - 1, MANDATORY - 1, 1, 0, -1, -86400])
def test_login_required(
    reason: oidc.LoginRequiredReason, changes: dict[str, Any], kwargs: dict[str, Any], remaining: float
) -> None:
    token = make_token(remaining, **changes)
    flow = make_flow(token, **kwargs)
    if remaining > 0:  # still valid: handed out, saying why it was not refreshed
        if reason is Reason.TOKEN_EXPIRED:  # only the 60 s rule: not "expired" while it is valid
            reason = Reason.REFRESH_TOO_SOON
        done = flow.next_action(fk.T0)
        assert done == oidc.Done(result=oidc.RefreshResult(token=token, reason=reason))
        assert not done.result.attempted
        return
    with pytest.raises(oidc.LoginRequiredError) as info:
        flow.next_action(fk.T0)
    assert info.value.reason is reason
    assert reason.value in str(info.value)
    assert flow.state is R.FAILED
    with pytest.raises(oidc.LoginRequiredError) as again:
        flow.next_action(fk.T0 + 1)
    assert again.value is info.value


@pytest.mark.parametrize("changes", [c for many in TOKEN_CHANGES.values() for c in many])
def test_fresh_tokens_are_fine_even_when_not_refreshable(changes: dict[str, Any]) -> None:
    token = make_token(ADVISORY + 60, **changes)
    assert make_flow(token).next_action(fk.T0) == oidc.Done(result=oidc.RefreshResult(token=token))
    assert make_flow(token, legacy=True).next_action(fk.T0) == oidc.Done(
        result=oidc.RefreshResult(token=token)
    )


def test_one_attempt_per_minute() -> None:
    token = make_token(60)
    assert isinstance(make_flow(token, last_attempt=fk.T0 - 60).next_action(fk.T0), oidc.Send)
    assert isinstance(make_flow(token, last_attempt=fk.T0 - 3600).next_action(fk.T0), oidc.Send)
    done = make_flow(token, last_attempt=fk.T0 - 30).next_action(fk.T0)
    assert isinstance(done, oidc.Done)
    assert done.result.reason is Reason.REFRESH_TOO_SOON
    assert done.result.token is token
    with pytest.raises(oidc.LoginRequiredError) as info:
        make_flow(make_token(-1), last_attempt=fk.T0 - 30).next_action(fk.T0)
    assert info.value.reason is Reason.TOKEN_EXPIRED


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error", "reason"),
    [
        (fk.INVALID_GRANT, oidc.LoginRequiredError, Reason.REFRESH_REJECTED),
        (fk.INVALID_CLIENT, oidc.LoginRequiredError, Reason.REFRESH_REJECTED),
        (fk.INVALID_REQUEST, oidc.InvalidRequestException, None),
        (fk.EXPIRED, oidc.ExpiredTokenException, None),
    ],
)
@pytest.mark.parametrize("remaining", [ADVISORY - 10, MANDATORY - 10, -10])
def test_rejected_refresh(
    answer: oidc.HttpResponse,
    error: type[Exception],
    reason: oidc.LoginRequiredReason | None,
    remaining: float,
) -> None:
    token = make_token(remaining)
    flow = make_flow(token)
    flow.next_action(fk.T0)
    flow.receive_response(answer, fk.T0 + 1)
    if remaining > MANDATORY:  # advisory: the old token, with the error
        done = flow.next_action(fk.T0 + 1)
        assert isinstance(done, oidc.Done)
        result = done.result
        assert result.token is token
        assert not result.refreshed
        assert result.attempted
        assert result.reason is reason
        assert isinstance(result.error, error)
        if reason is not None:
            assert result.error.reason is reason
            assert isinstance(result.error.__cause__, oidc.ServiceError)
        return
    with pytest.raises(error) as info:
        flow.next_action(fk.T0 + 1)
    if reason is not None:
        assert info.value.reason is reason
        assert isinstance(info.value.__cause__, (oidc.InvalidGrantException, oidc.InvalidClientException))
    assert flow.state is R.FAILED
    with pytest.raises(error) as again:
        flow.next_action(fk.T0 + 2)
    assert again.value is info.value


def test_transient_failures_in_the_mandatory_window() -> None:
    token = make_token(300)
    trace = fk.drive(
        make_flow(token), [fk.SERVER_ERROR, fk.reset(), fk.MALFORMED, fk.THROTTLED_429, fk.SLOW_DOWN]
    )
    assert isinstance(trace.error, oidc.RetriesExhaustedError)
    assert isinstance(trace.error.last_error, oidc.SlowDownException)
    assert trace.error.__cause__ is trace.error.last_error
    # Backoff 0.5, 1, 2, 4 (half of 1, 2, 4, 8 with FixedRandom(0.5)).
    assert [t for t, _ in trace.sends] == [fk.T0, fk.T0 + 0.5, fk.T0 + 1.5, fk.T0 + 3.5, fk.T0 + 7.5]


def test_transient_failures_in_the_advisory_window_keep_the_old_token() -> None:
    token = make_token(ADVISORY - 60)
    trace = fk.drive(
        make_flow(token, retry=oidc.RetryPolicy(max_attempts=2)), [fk.timed_out(), fk.SERVER_ERROR]
    )
    result = trace.result
    assert isinstance(result, oidc.RefreshResult)
    assert result.token is token
    assert result.attempted
    assert not result.refreshed
    assert result.reason is None
    assert isinstance(result.error, oidc.RetriesExhaustedError)
    assert isinstance(result.error.last_error, oidc.InternalServerException)


def test_advisory_retries_end_when_the_mandatory_window_opens() -> None:
    token = make_token(MANDATORY + 3)
    trace = fk.drive(make_flow(token), [fk.SERVER_ERROR] * 5)
    assert [t for t, _ in trace.sends] == [fk.T0, fk.T0 + 0.5, fk.T0 + 1.5]  # the next at +3.5 >= +3
    assert isinstance(trace.result.error, oidc.RetriesExhaustedError)
    assert trace.result.token is token


def test_mandatory_retries_end_when_the_token_expires() -> None:
    token = make_token(2)
    trace = fk.drive(make_flow(token), [fk.reset()] * 5)
    assert [t for t, _ in trace.sends] == [fk.T0, fk.T0 + 0.5, fk.T0 + 1.5]  # the next at +3.5 >= +2
    assert isinstance(trace.error, oidc.RetriesExhaustedError)


@pytest.mark.parametrize(
    ("left", "late", "kept"),
    [(ADVISORY - 60, ADVISORY - 60 - MANDATORY, True), (MANDATORY - 60, MANDATORY - 60, False)],
    ids=["advisory", "mandatory"],
)
@pytest.mark.parametrize("how", ["overslept", "abandoned"])
def test_no_retry_at_or_after_the_deadline(left: float, late: float, kept: bool, how: str) -> None:
    """Woken after the deadline for a retry (a suspended machine), or resumed there after abandoning
    the request: the flow sends nothing and ends as its retries would have."""
    token = make_token(left)
    flow = make_flow(token)
    assert flow.deadline is None
    assert isinstance(flow.next_action(fk.T0), oidc.Send)
    assert flow.deadline == fk.T0 + late
    if how == "overslept":
        flow.receive_failure(fk.reset(), fk.T0)
        assert isinstance(flow.next_action(fk.T0), oidc.Wait)
    else:
        flow.abandon_send(fk.T0)
    when = fk.T0 + late  # the deadline itself: too late already
    if kept:  # advisory: the old token is still good, handed out with the error
        done = flow.next_action(when)
        assert isinstance(done, oidc.Done)
        assert done.result.token is token
        assert not done.result.refreshed
        assert isinstance(done.result.error, oidc.RetriesExhaustedError)
        error = done.result.error
    else:
        with pytest.raises(oidc.RetriesExhaustedError) as info:
            flow.next_action(when)
        error = info.value
    assert str(error).startswith(
        f"refresh deadline passed before another attempt (after {int(how != 'abandoned')})"
    )
    cause = error.last_error
    assert isinstance(cause, ConnectionResetError if how == "overslept" else oidc.TransportError)
    assert flow.state in (oidc.RefreshState.DONE, oidc.RefreshState.FAILED)


def test_expired_token_retries_are_bounded_by_attempts() -> None:
    token = make_token(-86400)
    trace = fk.drive(make_flow(token, retry=oidc.RetryPolicy(max_attempts=3)), [fk.reset()] * 5)
    assert len(trace.sends) == 3
    assert isinstance(trace.error, oidc.RetriesExhaustedError)


def test_advisory_failure_after_the_token_expired_is_an_error() -> None:
    # The response comes back (or the machine wakes up) after the token expired: the old token
    # is no longer good, so an advisory failure must not hand it out (botocore: "Token has
    # expired and refresh failed").
    token = make_token(ADVISORY - 60)
    for answer in (fk.INVALID_GRANT, fk.INVALID_REQUEST, fk.SERVER_ERROR):
        flow = make_flow(token)
        flow.next_action(fk.T0)
        flow.receive_response(answer, fk.T0 + ADVISORY)
        with pytest.raises(oidc.SSOOIDCError) as info:
            flow.next_action(fk.T0 + ADVISORY)
        assert isinstance(
            info.value, (oidc.LoginRequiredError, oidc.InvalidRequestException, oidc.RetriesExhaustedError)
        )
    # Still valid a moment before expiry: the advisory result.
    flow = make_flow(token)
    flow.next_action(fk.T0)
    flow.receive_response(fk.INVALID_REQUEST, fk.T0 + ADVISORY - 61)
    done = flow.next_action(fk.T0 + ADVISORY - 61)
    assert isinstance(done, oidc.Done)
    assert done.result.token is token


def test_a_late_success_is_still_a_success() -> None:
    token = make_token(MANDATORY - 1)
    flow = make_flow(token)
    flow.next_action(fk.T0)
    flow.receive_response(refreshed(), fk.T0 + 3600)
    done = flow.next_action(fk.T0 + 3600)
    assert done.result.refreshed
    assert done.result.token.expires_at == utc(fk.T0 + 7200)


# --- parameters ----------------------------------------------------------------------------------


def test_thresholds_are_parameters() -> None:
    token = make_token(100)
    assert isinstance(make_flow(token, advisory=99, mandatory=10).next_action(fk.T0), oidc.Done)
    flow = make_flow(token, advisory=100, mandatory=50)
    assert isinstance(flow.next_action(fk.T0), oidc.Send)
    flow.receive_response(fk.INVALID_GRANT, fk.T0)
    assert flow.next_action(fk.T0).result.reason is Reason.REFRESH_REJECTED  # advisory
    flow = make_flow(token, advisory=200, mandatory=100)
    flow.next_action(fk.T0)
    flow.receive_response(fk.INVALID_GRANT, fk.T0)
    with pytest.raises(oidc.LoginRequiredError):
        flow.next_action(fk.T0)
    # mandatory == advisory: no advisory window at all; 0: only an expired token is mandatory.
    flow = make_flow(token, advisory=200, mandatory=200)
    flow.next_action(fk.T0)
    flow.receive_response(fk.INVALID_GRANT, fk.T0)
    with pytest.raises(oidc.LoginRequiredError):
        flow.next_action(fk.T0)
    flow = make_flow(token, advisory=200, mandatory=0)
    flow.next_action(fk.T0)
    flow.receive_response(fk.INVALID_GRANT, fk.T0)
    assert isinstance(flow.next_action(fk.T0), oidc.Done)
    assert _refresh.ADVISORY_REFRESH == ADVISORY
    assert _refresh.MANDATORY_REFRESH == MANDATORY
    assert _refresh.MIN_ATTEMPT_INTERVAL == 60


@pytest.mark.parametrize(
    "kwargs",
    [
        {"advisory": 100, "mandatory": 101},
        {"advisory": 100, "mandatory": -1},
        {"advisory": -5, "mandatory": -10},
        {"advisory": "900"},
        {"mandatory": None},
        {"advisory": True},
        {"last_attempt": "yesterday"},
        {"last_attempt": utc(fk.T0)},
        {"rng": 42},
        {"retry": 3},
        {"region": ""},
    ],
)
def test_parameter_validation(kwargs: dict[str, Any]) -> None:
    token = make_token(60, region=None) if "region" in kwargs else make_token(60)
    with pytest.raises(oidc.ParameterError):
        make_flow(token, **kwargs)


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"base": -0.1}, {"cap": 4000}, {"cap": False}])
def test_retry_policy_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(oidc.ParameterError, match="RetryPolicy"):
        make_flow(make_token(60), retry=oidc.RetryPolicy(**kwargs))


def test_token_must_be_a_cached_token() -> None:
    with pytest.raises(oidc.ParameterError, match="CachedToken"):
        oidc.RefreshFlow(token={"accessToken": "x"})  # type: ignore[arg-type]


def test_region_and_endpoint() -> None:
    token = make_token(60)
    send = make_flow(token, region="eu-west-1").next_action(fk.T0)
    assert isinstance(send, oidc.Send)
    assert send.request.url == "https://oidc.eu-west-1.amazonaws.com/token"
    send = make_flow(make_token(60, region=None), endpoint="http://127.0.0.1:8000").next_action(fk.T0)
    assert isinstance(send, oidc.Send)
    assert send.request.url == "http://127.0.0.1:8000/token"
    send = make_flow(token, environ={"AWS_ENDPOINT_URL_SSO_OIDC": "http://localhost:9"}).next_action(fk.T0)
    assert isinstance(send, oidc.Send)
    assert send.request.url == "http://localhost:9/token"
    # Without an rng the backoff is its ceiling.
    flow = oidc.RefreshFlow(token=token)
    flow.next_action(fk.T0)
    flow.receive_failure(fk.reset(), fk.T0)
    assert flow.next_action(fk.T0) == oidc.Wait(until=fk.T0 + 1)


def test_now_must_be_a_number() -> None:
    flow = make_flow(make_token(60))
    with pytest.raises(oidc.ParameterError, match="epoch seconds"):
        flow.next_action(utc(fk.T0))  # type: ignore[arg-type]
    with pytest.raises(oidc.ParameterError, match="epoch seconds"):
        flow.next_action(True)
    assert flow.state is R.DECIDE


# --- illegal calls ------------------------------------------------------------------------------


def flow_in(state: oidc.RefreshState) -> oidc.RefreshFlow:
    if state is R.DONE:
        flow = make_flow(make_token(3600))
        assert isinstance(flow.next_action(fk.T0), oidc.Done)
        return flow
    flow = make_flow(make_token(MANDATORY - 60))
    if state is R.DECIDE:
        return flow
    flow.next_action(fk.T0)
    if state is R.AWAIT_REFRESH:
        return flow
    if state is R.REFRESH:
        flow.receive_failure(fk.reset(), fk.T0)
        return flow
    assert state is R.FAILED
    flow.receive_response(fk.INVALID_GRANT, fk.T0)
    return flow


CALLS: dict[str, Callable[[oidc.RefreshFlow], object]] = {
    "next_action": lambda f: f.next_action(fk.T0),
    "receive_response": lambda f: f.receive_response(refreshed(), fk.T0),
    "receive_failure": lambda f: f.receive_failure(fk.reset(), fk.T0),
    "abandon_send": lambda f: f.abandon_send(fk.T0),
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


def legal(state: oidc.RefreshState, call: str) -> bool:
    return (state in oidc.RefreshFlow.AWAITING) != (call == "next_action")


def test_awaiting_set() -> None:
    assert frozenset({R.AWAIT_REFRESH}) == oidc.RefreshFlow.AWAITING
    assert set(_refresh.TRANSITIONS) == set(R)
    assert not _refresh.TRANSITIONS[R.DONE]
    assert not _refresh.TRANSITIONS[R.FAILED]


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("state", list(R))
def test_transition_table(state: oidc.RefreshState, call: str) -> None:
    flow = flow_in(state)
    assert flow.state is state
    if not legal(state, call):
        with pytest.raises(oidc.LocalProtocolError):
            CALLS[call](flow)
        assert flow.state is state
        if state is R.FAILED:  # still the same sticky error
            with pytest.raises(oidc.LoginRequiredError):
                flow.next_action(fk.T0)
        return
    try:
        CALLS[call](flow)
    except oidc.LocalProtocolError as exc:  # pragma: no cover - fails the test
        raise AssertionError(f"{call} is legal in {state}") from exc
    except oidc.LoginRequiredError:
        assert state is R.FAILED  # the sticky error
    assert flow.state in reachable(_refresh.TRANSITIONS, state)


def test_receive_argument_types() -> None:
    flow = flow_in(R.AWAIT_REFRESH)
    with pytest.raises(oidc.ParameterError, match="HttpResponse"):
        flow.receive_response({"status": 200}, fk.T0)  # type: ignore[arg-type]
    with pytest.raises(oidc.ParameterError, match="exception"):
        flow.receive_failure(None, fk.T0)  # type: ignore[arg-type]
    assert flow.state is R.AWAIT_REFRESH


# --- secrets -------------------------------------------------------------------------------------

SECRETS = (fk.CLIENT_SECRET, fk.ACCESS_TOKEN, fk.REFRESH_TOKEN, NEW_ACCESS, NEW_REFRESH)


def test_no_secret_in_any_repr_str_or_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    leaky = fk.json_response(200, {"accessToken": NEW_ACCESS, "refreshToken": NEW_REFRESH, "expiresIn": -1})
    truncated = fk.json_response(200, b'{"refreshToken": "' + NEW_REFRESH.encode())
    texts: list[str] = []
    runs = [
        (make_token(300), [leaky, truncated, fk.reset(), refreshed()]),
        (make_token(300), [leaky, truncated, leaky, leaky, leaky]),
        (make_token(ADVISORY - 1), [leaky, fk.INVALID_GRANT]),
        (make_token(-5), [fk.INVALID_CLIENT]),
        (make_token(-5, refresh_token=None), []),
        (make_token(60), [refreshed(refresh_token=None)]),
    ]
    for token, script in runs:
        flow = make_flow(token)
        trace = fk.drive(flow, script)
        assert not trace.starved
        for _, _, payload in trace.events:
            texts.extend((repr(payload), str(payload)))
            if isinstance(payload, BaseException):
                texts.extend((repr(payload.__cause__), str(payload.__cause__)))
        result = trace.result
        texts.extend((repr(result), str(result), repr(trace.error), str(trace.error), repr(flow), str(flow)))
        if isinstance(result, oidc.RefreshResult):
            texts.extend((repr(result.token), repr(result.error), str(result.error)))
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(str(record.args) for record in caplog.records)
    assert any("failed" in record.getMessage() for record in caplog.records)
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text)


# --- exhaustive response sequences --------------------------------------------------------------

MAX_LEN = 8
LATENCY = 0.5
JITTER = 0.5  # FixedRandom: every backoff is half its ceiling

ALPHABET = ("ok", "ok_no_rt", "500", "throttled", "malformed", "transport", "invalid_grant", "invalid_client")
TRANSIENT = frozenset({"500", "throttled", "malformed", "transport"})


def outcome(letter: str) -> oidc.HttpResponse | BaseException:
    return {
        "ok": refreshed(),
        "ok_no_rt": refreshed(refresh_token=None),
        "500": fk.SERVER_ERROR,
        "throttled": fk.error_response("ThrottlingException", 429),
        "malformed": fk.MALFORMED,
        "transport": fk.reset(),
        "invalid_grant": fk.INVALID_GRANT,
        "invalid_client": fk.INVALID_CLIENT,
    }[letter]


@dataclasses.dataclass(frozen=True)
class Config:
    remaining: float  # seconds left on the token when the flow starts
    alphabet: tuple[str, ...] = ALPHABET
    retry: oidc.RetryPolicy = dataclasses.field(default_factory=oidc.RetryPolicy)

    @property
    def token(self) -> oidc.CachedToken:
        return make_token(self.remaining)

    @property
    def mandatory(self) -> bool:
        return self.remaining <= MANDATORY

    @property
    def deadline(self) -> float | None:
        """The policy's deadline, computed here from the token (not read from the flow):
        advisory until the mandatory window opens, mandatory until the token expires."""
        expiry = fk.T0 + self.remaining
        if not self.mandatory:
            return expiry - MANDATORY
        return expiry if self.remaining > 0 else None


@dataclasses.dataclass
class Stats:
    leaves: int = 0
    nodes: int = 0
    longest: int = 0
    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)


def step(flow: oidc.RefreshFlow, now: float, fence: float, config: Config) -> tuple[float, float, Any]:
    """Pull until the flow sends (returns the Send) or ends (returns Done or its error)."""
    while True:
        action = pull(flow, now)
        if isinstance(action, oidc.SSOOIDCError):
            assert pull(flow, now + 1) is action  # sticky
            return now, fence, action
        if isinstance(action, oidc.Wait):
            assert action.until > now
            early = flow.next_action((now + action.until) / 2)
            assert early == action
            assert flow.state is R.REFRESH
            now = fence = action.until
            continue
        if isinstance(action, oidc.Send):
            assert now >= fence, "Send before the preceding Wait.until"
            deadline = config.deadline
            assert deadline is None or now < deadline, "Send at or after the deadline"
            check_send(action, config.token)
        else:
            assert isinstance(action, oidc.Done)
        return now, fence, action


def expected(seq: tuple[str, ...], sends: tuple[float, ...], config: Config) -> tuple[str, Any]:
    """The policy as a model: (kind, detail) for the end of ``seq``."""
    deadline = config.deadline
    for attempt, letter in enumerate(seq, start=1):
        if letter in ("ok", "ok_no_rt"):
            return "refreshed", letter
        if letter in ("invalid_grant", "invalid_client"):
            return ("kept" if not config.mandatory else "raised"), oidc.LoginRequiredError
        assert letter in TRANSIENT
        responded = sends[attempt - 1] + LATENCY
        delay = JITTER * min(config.retry.cap, config.retry.base * 2 ** (attempt - 1))
        if attempt >= config.retry.max_attempts or (deadline is not None and responded + delay >= deadline):
            return ("kept" if not config.mandatory else "raised"), oidc.RetriesExhaustedError
        assert attempt == len(seq) or sends[attempt] == responded + delay
    raise AssertionError(f"{seq} does not end the refresh")  # pragma: no cover


def check_leaf(
    seq: tuple[str, ...], sends: tuple[float, ...], now: float, end: Any, config: Config, stats: Stats
) -> None:
    stats.leaves += 1
    stats.longest = max(stats.longest, len(seq))
    kind, detail = expected(seq, sends, config)
    token = config.token
    name = type(end).__name__
    # InvalidGrant after a refresh that got no answer: that refresh rotated the token.
    lost = seq[-1] == "invalid_grant" and "transport" in seq
    reason = Reason.REFRESH_RESPONSE_LOST if lost else Reason.REFRESH_REJECTED
    if kind == "raised":
        assert isinstance(end, detail), (seq, end)
        if isinstance(end, oidc.LoginRequiredError):
            assert end.reason is reason
            assert isinstance(end.__cause__, oidc.InvalidGrantException if lost else oidc.ServiceError)
        else:
            assert isinstance(end.last_error, (oidc.SSOOIDCError, OSError))
    else:
        assert isinstance(end, oidc.Done), (seq, end)
        result = end.result
        assert result.attempted
        name = f"Done({kind})"
        if kind == "refreshed":
            assert result.refreshed
            assert result.error is None
            assert result.token.access_token == NEW_ACCESS
            assert result.token.expires_at == utc(int(now + 3600))
            assert result.token.refresh_token == (NEW_REFRESH if detail == "ok" else fk.REFRESH_TOKEN)
            for field in ("client_id", "client_secret", "registration_expires_at", "start_url", "region"):
                assert getattr(result.token, field) == getattr(token, field)
        else:
            assert not result.refreshed
            assert result.token == token
            assert isinstance(result.error, detail)
            if detail is oidc.LoginRequiredError:
                assert result.reason is result.error.reason is reason
            assert now < fk.T0 + config.remaining  # the old token is still valid
    stats.outcomes[name] = stats.outcomes.get(name, 0) + 1


def explore(
    flow: oidc.RefreshFlow,
    now: float,
    fence: float,
    seq: tuple[str, ...],
    sends: tuple[float, ...],
    config: Config,
    stats: Stats,
) -> None:
    stats.nodes += 1
    for letter in config.alphabet:
        child = fk.clone(flow)
        answer = outcome(letter)
        at = now + LATENCY
        if isinstance(answer, BaseException):
            child.receive_failure(answer, at)
        else:
            child.receive_response(answer, at)
        child_seq = (*seq, letter)
        child_now, child_fence, end = step(child, at, fence, config)
        if not isinstance(end, oidc.Send):
            check_leaf(child_seq, sends, child_now, end, config, stats)
        elif len(child_seq) == MAX_LEN:  # pragma: no cover - attempts and deadlines end runs sooner
            raise AssertionError(f"{child_seq} has not ended the refresh")
        else:
            explore(child, child_now, child_fence, child_seq, (*sends, child_now), config, stats)


def geometric(transient: int, terminal: int, rounds: int) -> int:
    """sum(T**k * N, k < rounds) + T**rounds: see test_authcode_flow.geometric."""
    return sum(transient**k * terminal for k in range(rounds)) + transient**rounds


ENUMERATIONS = {
    # Deadline far: 5 attempts. 4 transient letters, 4 that end the run.
    "advisory": (Config(remaining=12 * 60), geometric(4, 4, 5)),
    # The mandatory window opens 6 s in: sends at +0, +1, +2.5, +5; the next would be at +9.5.
    "advisory-near-mandatory": (Config(remaining=MANDATORY + 6), geometric(4, 4, 4)),
    "mandatory": (Config(remaining=5 * 60), geometric(4, 4, 5)),
    # The token expires 6 s in: as above.
    "mandatory-near-expiry": (Config(remaining=6), geometric(4, 4, 4)),
    # Already expired: no deadline, the attempt bound alone.
    "expired": (Config(remaining=-120), geometric(4, 4, 5)),
    # A longer retry budget reaches the 8-letter bound (a smaller alphabet keeps it quick).
    "mandatory-8-attempts": (
        Config(
            remaining=5 * 60,
            alphabet=("ok_no_rt", "malformed", "transport", "invalid_grant"),
            retry=oidc.RetryPolicy(max_attempts=8),
        ),
        geometric(2, 2, 8),
    ),
}


@pytest.mark.parametrize("name", list(ENUMERATIONS))
def test_every_response_sequence(name: str) -> None:
    config, count = ENUMERATIONS[name]
    started = time.perf_counter()
    flow = make_flow(config.token, retry=config.retry)
    now, fence, first = step(flow, fk.T0, fk.T0, config)
    assert isinstance(first, oidc.Send)
    stats = Stats()
    explore(flow, now, fence, (), (now,), config, stats)
    elapsed = time.perf_counter() - started
    print(
        f"{name}: {stats.leaves} sequences, {stats.nodes} branch points, longest {stats.longest}, "
        f"{elapsed:.2f}s, outcomes {stats.outcomes}"
    )
    assert stats.leaves == count
    assert stats.longest <= MAX_LEN


# --- a Hypothesis state machine -----------------------------------------------------------------

REMAINING = st.one_of(
    st.floats(-7200, 7200),
    st.floats(-60, ADVISORY),
    st.floats(-60, ADVISORY),
    st.sampled_from([ADVISORY + 0.5, ADVISORY, MANDATORY + 0.5, MANDATORY, 1.0, 0.0, -1.0]),
)


class RefreshMachine(RuleBasedStateMachine):
    """Random pulls, responses, transport failures, clock jumps and illegal calls against tokens
    drawn across the windows; the policy is checked after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.token = make_token(3600)
        self.flow = make_flow(self.token)
        self.now = fk.T0
        self.fence = fk.T0
        self.outstanding = False
        self.sends: list[float] = []
        self.abandoned = 0  # sends given up with abandon_send: no attempt used
        self.resent = False  # the next Send resends an abandoned one, at once
        self.error: BaseException | None = None
        self.done: oidc.Done[Any] | None = None
        self.done_at: float | None = None
        self.decided_at: float | None = None
        self.deadline: float | None = None
        self.thresholds = (float(ADVISORY), float(MANDATORY))

    @initialize(
        remaining=REMAINING,
        changes=st.sampled_from(
            [{}] * 6 + [{"refresh_token": None}, {"registration_expires_at": utc(fk.T0 - 1)}]
        ),
        legacy=st.sampled_from([False] * 5 + [True]),
        last_attempt=st.one_of(st.none(), st.floats(0, 120).map(lambda ago: fk.T0 - ago)),
        thresholds=st.sampled_from([(ADVISORY, MANDATORY), (300, 300), (600, 0), (1200, 60)]),
        attempts=st.integers(1, 4),
    )
    def start(
        self,
        remaining: float,
        changes: dict[str, Any],
        legacy: bool,
        last_attempt: float | None,
        thresholds: tuple[float, float],
        attempts: int,
    ) -> None:
        self.token = make_token(remaining, **changes)
        self.thresholds = (float(thresholds[0]), float(thresholds[1]))
        self.flow = make_flow(
            self.token,
            legacy=legacy,
            last_attempt=last_attempt,
            advisory=thresholds[0],
            mandatory=thresholds[1],
            rng=random.Random(attempts),
            retry=oidc.RetryPolicy(max_attempts=attempts, base=1, cap=8),
        )

    @property
    def expiry(self) -> float:
        return self.token.expires_at.timestamp()

    def _illegal(self, call: Callable[[], object]) -> None:
        state = self.flow.state
        with pytest.raises(oidc.LocalProtocolError):
            call()
        assert self.flow.state is state

    @rule()
    def pull(self) -> None:
        if self.outstanding:
            self._illegal(lambda: self.flow.next_action(self.now))
            return
        first = self.flow.state is R.DECIDE
        if first:
            self.decided_at = self.now
            remaining = self.expiry - self.now
            advisory, mandatory = self.thresholds
            if remaining <= advisory:
                self.deadline = (
                    self.expiry - mandatory
                    if remaining > mandatory
                    else (self.expiry if remaining > 0 else None)
                )
        action = pull(self.flow, self.now)
        if isinstance(action, oidc.SSOOIDCError):
            assert self.flow.state is R.FAILED
            assert isinstance(action, (oidc.LoginRequiredError, oidc.RetriesExhaustedError))
            if self.error is None:
                self.error = action
            assert action is self.error
            return
        assert self.error is None
        if isinstance(action, oidc.Done):
            assert self.done is None or action == self.done
            if self.done is None:
                self.done, self.done_at = action, self.now
            result = action.result
            assert result.attempted == bool(self.sends)
            if not result.refreshed:
                assert result.token is self.token
                assert self.now < self.expiry or not first  # handed out only while valid
                if first and self.decided_at is not None and self.expiry - self.now > self.thresholds[0]:
                    assert result.reason is None  # fresh
                    assert not self.sends
        elif isinstance(action, oidc.Wait):
            assert self.now < action.until
            assert self.deadline is None or action.until < self.deadline  # retries are scheduled in time
            self.fence = action.until
        else:
            assert isinstance(action, oidc.Send)
            assert (
                self.expiry - (self.decided_at or self.now) <= self.thresholds[0]
            )  # never for a fresh token
            assert self.now >= self.fence
            # Never at or after the deadline, even when the driver oversleeps a Wait or resumes
            # after abandoning the request: the flow then gives up instead.
            assert self.deadline is None or self.now < self.deadline
            check_send(action, self.token)
            self.outstanding = True
            self.resent = False
            self.sends.append(self.now)

    @rule(letter=st.one_of(st.just("ok"), st.sampled_from(ALPHABET)))
    def respond(self, letter: str) -> None:
        if not self.outstanding:
            self._illegal(lambda: self.flow.receive_response(refreshed(), self.now))
            self._illegal(lambda: self.flow.receive_failure(fk.reset(), self.now))
            return
        answer = outcome(letter)
        if isinstance(answer, BaseException):
            self.flow.receive_failure(answer, self.now)
        else:
            self.flow.receive_response(answer, self.now)
        self.outstanding = False
        if self.flow.state is R.DONE:
            # Whatever comes back, a Done that keeps the old token is only given while it is valid.
            done = self.flow.next_action(self.now)
            assert isinstance(done, oidc.Done)
            if not done.result.refreshed:
                assert self.now < self.expiry
            else:
                assert done.result.token.expires_at == utc(int(self.now + 3600))

    @rule()
    def abandon(self) -> None:
        """The driver is cancelled while the refresh is in flight: the flow sends it again, at once."""
        if not self.outstanding:
            self._illegal(lambda: self.flow.abandon_send(self.now))
            return
        self.flow.abandon_send(self.now)
        assert self.flow.state is R.REFRESH
        self.outstanding = False
        self.abandoned += 1
        self.resent = True

    @rule()
    def happy_step(self) -> None:
        if self.outstanding:
            self.respond("ok")
        else:
            self.pull()

    @rule(seconds=st.one_of(st.floats(0, 5), st.sampled_from([0.5, 61.0, 300.0, 3600.0])))
    def tick(self, seconds: float) -> None:
        self.now += seconds

    @invariant()
    def consistent(self) -> None:
        assert isinstance(self.flow.state, oidc.RefreshState)
        assert self.outstanding == (self.flow.state in oidc.RefreshFlow.AWAITING)
        assert len(self.sends) - self.abandoned <= self.flow.retry.max_attempts


TestRefreshMachine = RefreshMachine.TestCase
TestRefreshMachine.settings = settings(
    max_examples=300, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
