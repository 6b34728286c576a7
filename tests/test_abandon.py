"""``abandon_send``: the caller gives up on an outstanding Send (a cancel scope, a timeout around the
send, Ctrl-C), and the flow goes back to sending that request again; and :class:`LostResponseError`:
a single-use grant refused after a request that redeems it got no answer.

Table tests for every awaiting state of every flow: where the flow goes, that no attempt and no
backoff are spent (a device poll keeps its interval and its deadline), that an illegal abandon
changes nothing, that a saved flow keeps what it knows, and when an ``InvalidGrantException``
becomes the clear error (and when it stays as it is).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest

import sansio_ssooidc as oidc
from tests import flowkit as fk

S = oidc.DeviceState
A = oidc.AuthCodeState
R = oidc.RefreshState
INTERVAL = 3
REDIRECT_URI = "http://127.0.0.1:4321/oauth/callback"
CODE = "auth-code-CCCC"


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


def device(**kwargs: Any) -> oidc.DeviceFlow:
    return oidc.DeviceFlow(start_url=fk.START_URL, region="us-east-1", rng=fk.FixedRandom(0.5), **kwargs)


def authcode(**kwargs: Any) -> oidc.AuthCodeFlow:
    return oidc.AuthCodeFlow(
        start_url=fk.START_URL,
        region="us-east-1",
        redirect_uri=REDIRECT_URI,
        rng=fk.FixedRandom(0.5),
        **kwargs,
    )


def token(remaining: float) -> oidc.CachedToken:
    return oidc.CachedToken(
        start_url=fk.START_URL,
        region="us-east-1",
        access_token=fk.ACCESS_TOKEN,
        expires_at=utc(fk.T0 + remaining),
        client_id=fk.CLIENT_ID,
        client_secret=fk.CLIENT_SECRET,
        registration_expires_at=utc(fk.T0 + 60 * 86400),
        refresh_token=fk.REFRESH_TOKEN,
    )


def refresh(remaining: float = 300, **kwargs: Any) -> oidc.RefreshFlow:
    """A refresh in the mandatory window (300 s left) unless ``remaining`` says otherwise."""
    return oidc.RefreshFlow(token=token(remaining), rng=fk.FixedRandom(0.5), **kwargs)


def send(flow: Any, now: float) -> oidc.Send:
    action = flow.next_action(now)
    assert isinstance(action, oidc.Send), action
    return action


# --- flows brought to each awaiting state: (flow, the Send it awaits, when it was sent) -------------


def device_awaiting(state: oidc.DeviceState, **kwargs: Any) -> tuple[oidc.DeviceFlow, oidc.Send, float]:
    flow = device(**kwargs)
    sent = send(flow, fk.T0)
    if state is S.AWAIT_REGISTER:
        return flow, sent, fk.T0
    flow.receive_response(fk.register_ok(), fk.T0)
    sent = send(flow, fk.T0)
    if state is S.AWAIT_START:
        return flow, sent, fk.T0
    assert state is S.AWAIT_POLL
    flow.receive_response(fk.start_ok(interval=INTERVAL, expires_in=60), fk.T0)
    assert isinstance(flow.next_action(fk.T0), oidc.ShowCode)
    assert flow.next_action(fk.T0) == oidc.Wait(until=fk.T0 + INTERVAL)
    return flow, send(flow, fk.T0 + INTERVAL), fk.T0 + INTERVAL


def authcode_awaiting(state: oidc.AuthCodeState, **kwargs: Any) -> tuple[oidc.AuthCodeFlow, oidc.Send, float]:
    flow = authcode(**kwargs)
    sent = send(flow, fk.T0)
    if state is A.AWAIT_REGISTER:
        return flow, sent, fk.T0
    assert state is A.AWAIT_EXCHANGE
    flow.receive_response(fk.register_ok(), fk.T0)
    assert isinstance(flow.next_action(fk.T0), oidc.OpenBrowser)
    flow.receive_redirect(f"code={CODE}&state={flow._state_value}", fk.T0 + 1)
    return flow, send(flow, fk.T0 + 1), fk.T0 + 1


def refresh_awaiting(state: oidc.RefreshState, **kwargs: Any) -> tuple[oidc.RefreshFlow, oidc.Send, float]:
    assert state is R.AWAIT_REFRESH
    flow = refresh(**kwargs)
    return flow, send(flow, fk.T0), fk.T0


AWAITING: list[tuple[Callable[..., tuple[Any, oidc.Send, float]], Any]] = [
    *((device_awaiting, s) for s in (S.AWAIT_REGISTER, S.AWAIT_START, S.AWAIT_POLL)),
    *((authcode_awaiting, a) for a in (A.AWAIT_REGISTER, A.AWAIT_EXCHANGE)),
    (refresh_awaiting, R.AWAIT_REFRESH),
]
IDS = [f"{type(state).__name__}.{state.name}" for _, state in AWAITING]


def test_every_awaiting_state_is_covered() -> None:
    for flow_type, states in [(oidc.DeviceFlow, S), (oidc.AuthCodeFlow, A), (oidc.RefreshFlow, R)]:
        assert set(flow_type.RESEND) == flow_type.AWAITING
        assert {state for _, state in AWAITING if isinstance(state, states)} == flow_type.AWAITING
        for awaiting, resend in flow_type.RESEND.items():
            # The table holds the move, both ways: the resending state sends into the awaiting one.
            assert resend in flow_type.TRANSITIONS[awaiting]
            assert awaiting in flow_type.TRANSITIONS[resend]


@pytest.mark.parametrize(("make", "state"), AWAITING, ids=IDS)
def test_abandon_goes_back_to_sending_the_same_request(make: Any, state: Any) -> None:
    flow, sent, at = make(state)
    assert flow.state is state
    attempt = flow._attempt
    later = at + 0.5
    flow.abandon_send(later)
    assert flow.state is type(flow).RESEND[state]
    assert flow.state in type(flow).TRANSITIONS[state]
    assert flow._attempt == attempt - 1  # the abandoned attempt does not count
    assert flow._unanswered == "abandoned"
    action = flow.next_action(later)
    if state is S.AWAIT_POLL:
        # The abandoned poll may have reached the service: the next one keeps the interval.
        assert action == oidc.Wait(until=later + INTERVAL)
        assert flow.next_action(later + INTERVAL - 0.001) == action
        action = flow.next_action(later + INTERVAL)
    # No backoff otherwise: the same request, at once.
    assert isinstance(action, oidc.Send)
    assert action == sent
    assert flow.state is state


@pytest.mark.parametrize(("make", "state"), AWAITING, ids=IDS)
def test_abandon_uses_no_attempt(make: Any, state: Any) -> None:
    """With one attempt allowed, any number of abandoned sends leave that one attempt."""
    flow, sent, at = make(state, retry=oidc.RetryPolicy(max_attempts=1))
    now = at
    for _ in range(5):
        now += INTERVAL
        flow.abandon_send(now)
        while not isinstance(action := flow.next_action(now), oidc.Send):
            assert isinstance(action, oidc.Wait)
            now = action.until
        assert action == sent
    flow.receive_response(fk.SERVER_ERROR, now)
    with pytest.raises(oidc.RetriesExhaustedError, match="after 1"):
        flow.next_action(now)


def _non_awaiting() -> list[Any]:
    """Flows in every state where nothing is outstanding."""
    fresh_device, fresh_authcode, fresh_refresh = device(), authcode(), refresh()
    polling, _, at = device_awaiting(S.AWAIT_POLL)
    polling.receive_response(fk.PENDING, at)
    done, _, at = device_awaiting(S.AWAIT_POLL)
    done.receive_response(fk.token_ok(), at)
    failed, _, at = refresh_awaiting(R.AWAIT_REFRESH)
    failed.receive_response(fk.INVALID_GRANT, at)
    browser, _, at = authcode_awaiting(A.AWAIT_REGISTER)
    browser.receive_response(fk.register_ok(), at)
    redirect = authcode()
    send(redirect, fk.T0)
    redirect.receive_response(fk.register_ok(), fk.T0)
    redirect.next_action(fk.T0)
    return [fresh_device, fresh_authcode, fresh_refresh, polling, done, failed, browser, redirect]


@pytest.mark.parametrize("flow", _non_awaiting(), ids=lambda f: f"{type(f).__name__}.{f.state.name}")
def test_abandon_without_an_outstanding_send_is_a_local_protocol_error(flow: Any) -> None:
    before = fk.snapshot(flow)
    with pytest.raises(oidc.LocalProtocolError, match="abandon_send"):
        flow.abandon_send(fk.T0 + 1)
    assert fk.snapshot(flow) == before


@pytest.mark.parametrize(("make", "state"), AWAITING, ids=IDS)
def test_abandon_checks_the_clock_and_changes_nothing_on_a_bad_one(make: Any, state: Any) -> None:
    flow, _, _ = make(state)
    before = fk.snapshot(flow)
    with pytest.raises(oidc.ParameterError):
        flow.abandon_send(datetime(2024, 1, 1, tzinfo=timezone.utc))
    assert fk.snapshot(flow) == before


def test_a_pull_while_awaiting_names_abandon_send() -> None:
    flow, _, at = refresh_awaiting(R.AWAIT_REFRESH)
    with pytest.raises(oidc.LocalProtocolError, match=r"abandon_send\(\)"):
        flow.next_action(at)


# --- the device code's deadline ---------------------------------------------------------------------


def test_an_abandoned_poll_waits_at_most_until_the_deadline_then_times_out() -> None:
    flow, _, _ = device_awaiting(S.AWAIT_POLL)
    deadline = flow.deadline
    assert deadline == fk.T0 + 60
    flow.abandon_send(deadline - 1)  # the interval would end after the deadline
    assert flow.next_action(deadline - 1) == oidc.Wait(until=deadline)
    with pytest.raises(oidc.LoginTimeoutError) as raised:
        flow.next_action(deadline)
    assert raised.value.deadline == deadline


def test_a_poll_abandoned_after_the_deadline_is_not_sent_again() -> None:
    flow, _, _ = device_awaiting(S.AWAIT_POLL)
    deadline = flow.deadline
    assert deadline is not None
    flow.abandon_send(deadline + 5)
    with pytest.raises(oidc.LoginTimeoutError):
        flow.next_action(deadline + 5)


def test_a_login_resumed_after_abandoning_finishes_under_the_driver_rules() -> None:
    flow, _, at = device_awaiting(S.AWAIT_POLL)
    flow.abandon_send(at + 2)
    trace = fk.drive(flow, [fk.PENDING, fk.token_ok()], now=at + 2)
    assert trace.result is not None
    assert trace.sends[0][0] == at + 2 + INTERVAL


# --- save and restore -----------------------------------------------------------------------------


def test_an_abandoned_poll_is_saved_and_restored() -> None:
    flow, sent, at = device_awaiting(S.AWAIT_POLL)
    flow.abandon_send(at + 1)
    data = json.loads(json.dumps(flow.to_dict(include_secrets=True)))
    assert data["state"] == "poll"
    assert data["unanswered"] == "abandoned"
    restored = oidc.DeviceFlow.from_dict(data, rng=fk.FixedRandom(0.5))
    assert restored.to_dict(include_secrets=True) == data
    assert restored.next_action(at + 1) == oidc.Wait(until=at + 1 + INTERVAL)
    assert restored.next_action(at + 1 + INTERVAL) == sent
    restored.receive_response(fk.INVALID_GRANT, at + 2 + INTERVAL)
    with pytest.raises(oidc.LostResponseError) as raised:
        restored.next_action(at + 2 + INTERVAL)
    assert raised.value.lost == "abandoned"


def test_a_flow_saved_while_awaiting_knows_the_request_in_flight_is_unanswered() -> None:
    flow, _, _ = device_awaiting(S.AWAIT_POLL)
    data = flow.to_dict(include_secrets=True)
    assert data["state"] == "poll"
    assert data["unanswered"] == "abandoned"
    assert flow.state is S.AWAIT_POLL  # saving changes nothing


def test_a_transport_failure_is_saved_redacted() -> None:
    flow, _, at = device_awaiting(S.AWAIT_POLL)
    flow.receive_failure(ValueError(f'{{"clientSecret": "{fk.CLIENT_SECRET}"}}' + "x" * 500), at + 1)
    saved = flow.to_dict()["unanswered"]
    assert saved.startswith("ValueError: ")  # the adapter's own exception, not the wrapper
    assert fk.CLIENT_SECRET not in saved
    assert len(saved) == 200


@pytest.mark.parametrize(("saved", "restored"), [(None, None), ("", None), ("x" * 300, "x" * 200)])
def test_saved_unanswered_values(saved: Any, restored: Any) -> None:
    flow, _, at = device_awaiting(S.AWAIT_POLL)
    flow.receive_response(fk.PENDING, at)
    data = flow.to_dict(include_secrets=True)
    assert data["unanswered"] is None
    data["unanswered"] = saved
    assert oidc.DeviceFlow.from_dict(data)._unanswered == restored
    del data["unanswered"]  # a state saved by an earlier version
    assert oidc.DeviceFlow.from_dict(data)._unanswered is None


def test_a_saved_unanswered_must_be_a_string() -> None:
    flow, _, _ = device_awaiting(S.AWAIT_POLL)
    data = flow.to_dict(include_secrets=True)
    data["unanswered"] = 5
    with pytest.raises(oidc.ParameterError, match="unanswered must be a str"):
        oidc.DeviceFlow.from_dict(data)


# --- LostResponseError -------------------------------------------------------------------------------

#: How the redeeming request got no answer: reported as a failure, or abandoned.
LOSSES: dict[str, Callable[[Any, float], None]] = {
    "timeout": lambda flow, now: flow.receive_failure(fk.timed_out(), now),
    "reset": lambda flow, now: flow.receive_failure(fk.reset(), now),
    "adapter-error": lambda flow, now: flow.receive_failure(RuntimeError("stream broken"), now),
    "abandon": lambda flow, now: flow.abandon_send(now),
}
LOST_AS = {
    "timeout": "TimeoutError: timed out",
    "reset": "ConnectionResetError: [Errno 104] Connection reset by peer",
    "adapter-error": "RuntimeError: stream broken",
    "abandon": "abandoned",
}


def redeem_again(flow: Any, at: float, loss: str, *between: fk.Outcome) -> float:
    """Lose the outstanding request's answer, answer ``between`` to the next sends, then refuse
    the grant; the time."""
    LOSSES[loss](flow, at)
    now = at
    for outcome in (*between, fk.INVALID_GRANT):
        while not isinstance(action := flow.next_action(now), oidc.Send):
            assert isinstance(action, oidc.Wait)
            now = action.until
        if isinstance(outcome, BaseException):
            flow.receive_failure(outcome, now)
        else:
            flow.receive_response(outcome, now)
    return now


GRANTS = [
    (device_awaiting, S.AWAIT_POLL, "device code"),
    (authcode_awaiting, A.AWAIT_EXCHANGE, "authorization code"),
]


@pytest.mark.parametrize(
    "between", [(), (fk.SERVER_ERROR,), (fk.reset(),)], ids=["next", "after-5xx", "after-reset"]
)
@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize(("make", "state", "grant"), GRANTS, ids=["device", "authcode"])
def test_invalid_grant_after_a_lost_answer_is_a_lost_response_error(
    make: Any, state: Any, grant: str, loss: str, between: tuple[fk.Outcome, ...]
) -> None:
    flow, _, at = make(state)
    now = redeem_again(flow, at, loss, *between)
    with pytest.raises(oidc.LostResponseError) as raised:
        flow.next_action(now)
    error = raised.value
    assert isinstance(error, oidc.FlowError)
    assert not isinstance(error, oidc.InvalidGrantException)
    assert isinstance(error.__cause__, oidc.InvalidGrantException)
    assert error.grant == grant
    assert error.lost == (
        LOST_AS["reset"] if between and between[0] is not fk.SERVER_ERROR else LOST_AS[loss]
    )
    message = str(error)
    assert f"refused the {grant}" in message
    assert f"got no answer ({error.lost})" in message
    assert "run the login again" in message
    assert flow.state is type(flow).FAILED


@pytest.mark.parametrize(("make", "state", "grant"), GRANTS, ids=["device", "authcode"])
def test_a_clean_invalid_grant_stays_as_it_is(make: Any, state: Any, grant: str) -> None:
    flow, _, at = make(state)
    flow.receive_response(fk.INVALID_GRANT, at)
    with pytest.raises(oidc.InvalidGrantException):
        flow.next_action(at)


def test_invalid_grant_after_a_refused_connection_stays_as_it_is() -> None:
    """A refused connection never reached the service: nothing was redeemed."""
    flow, _, at = device_awaiting(S.AWAIT_POLL)
    flow.receive_failure(ConnectionRefusedError(111, "refused"), at)
    assert flow._unanswered is None
    trace = fk.drive(flow, [fk.INVALID_GRANT], now=at)
    assert type(trace.error) is oidc.InvalidGrantException


def test_an_answered_poll_clears_the_unknown_outcome() -> None:
    """A pending answer after a lost poll proves the lost one redeemed nothing."""
    flow, _, at = device_awaiting(S.AWAIT_POLL)
    now = redeem_again(flow, at, "timeout", fk.PENDING)
    with pytest.raises(oidc.InvalidGrantException):
        flow.next_action(now)


@pytest.mark.parametrize("state", [S.AWAIT_REGISTER, S.AWAIT_START])
def test_a_lost_answer_before_polling_does_not_count(state: oidc.DeviceState) -> None:
    flow, _, at = device_awaiting(state)
    flow.receive_failure(fk.timed_out(), at)
    script = [fk.register_ok(), fk.start_ok(), fk.INVALID_GRANT]
    trace = fk.drive(flow, script[1:] if state is S.AWAIT_START else script, now=at)
    assert type(trace.error) is oidc.InvalidGrantException


def test_a_lost_registration_before_the_exchange_does_not_count() -> None:
    flow, _, at = authcode_awaiting(A.AWAIT_REGISTER)
    flow.abandon_send(at)
    trace = fk.drive(
        flow,
        [fk.register_ok(), fk.INVALID_GRANT],
        now=at,
        redirect=lambda action, now: (f"code={CODE}&state={flow._state_value}", now + 1),
    )
    assert type(trace.error) is oidc.InvalidGrantException


# --- refresh: LoginRequiredError with its own reason ------------------------------------------------


@pytest.mark.parametrize("loss", list(LOSSES))
def test_a_refresh_refused_after_a_lost_answer_says_so(loss: str) -> None:
    flow, _, at = refresh_awaiting(R.AWAIT_REFRESH)  # mandatory: the failure is raised
    now = redeem_again(flow, at, loss)
    with pytest.raises(oidc.LoginRequiredError) as raised:
        flow.next_action(now)
    assert raised.value.reason is oidc.LoginRequiredReason.REFRESH_RESPONSE_LOST
    assert isinstance(raised.value.__cause__, oidc.InvalidGrantException)
    assert "run the login again" in str(raised.value)


def test_an_advisory_refresh_refused_after_a_lost_answer_keeps_the_old_token_and_says_why() -> None:
    flow, _, at = refresh_awaiting(R.AWAIT_REFRESH, remaining=800)
    now = redeem_again(flow, at, "abandon")
    result = flow.next_action(now).result
    assert result.token == token(800)
    assert result.reason is oidc.LoginRequiredReason.REFRESH_RESPONSE_LOST
    assert isinstance(result.error, oidc.LoginRequiredError)
    assert isinstance(result.error.__cause__, oidc.InvalidGrantException)


@pytest.mark.parametrize(
    ("loss", "answer"),
    [(None, fk.INVALID_GRANT), ("timeout", fk.INVALID_CLIENT)],
    ids=["clean-invalid-grant", "invalid-client-after-timeout"],
)
def test_other_refused_refreshes_keep_the_rejected_reason(
    loss: str | None, answer: oidc.HttpResponse
) -> None:
    flow, _, at = refresh_awaiting(R.AWAIT_REFRESH)
    now = at
    if loss is not None:
        LOSSES[loss](flow, at)
        while not isinstance(action := flow.next_action(now), oidc.Send):
            now = action.until
    flow.receive_response(answer, now)
    with pytest.raises(oidc.LoginRequiredError) as raised:
        flow.next_action(now)
    assert raised.value.reason is oidc.LoginRequiredReason.REFRESH_REJECTED


def test_the_new_error_is_public() -> None:
    assert "LostResponseError" in oidc.__all__
    assert issubclass(oidc.LostResponseError, oidc.FlowError)
    error = oidc.LostResponseError("m", grant="device code", lost="abandoned")
    assert (error.grant, error.lost, str(error)) == ("device code", "abandoned", "m")
