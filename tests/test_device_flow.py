"""DeviceFlow (RFC 8628 device authorization) against its contract.

1. Exhaustive enumeration of server behaviours (``test_enumerate_*``): every sequence of outcomes
   up to a length, each checked against a reference model of the flow (exact times, interval,
   retries, deadline, typed end) and the driver's rules (tests/flowkit.py).
2. A Hypothesis state machine driving the flow with arbitrary legal and illegal calls, and a
   transition-table test over every (state, call) pair.
3. Table-driven unit tests: registration reuse, interval, deadline, ShowCode, re-registration,
   retries, validation, save/restore, logging.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import logging
import math
import os
import random
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import sansio_ssooidc as oidc
from sansio_ssooidc import _device, _flow, _register
from tests import flowkit as fk

S = oidc.DeviceState
UTC = timezone.utc
REGION = "us-east-1"
CACHED_ID = "cached-client-CCCC"
CACHED_SECRET = "CANARY-cached-secret-KKKK"
SLOW_DOWN_STEP = 5
POLICY = oidc.RetryPolicy()


def new_flow(**kwargs: Any) -> oidc.DeviceFlow:
    kwargs.setdefault("start_url", fk.START_URL)
    kwargs.setdefault("region", REGION)
    kwargs.setdefault("rng", fk.FixedRandom(0.5))
    return oidc.DeviceFlow(**kwargs)


def cached(
    *,
    left: float = 90 * 86400,
    scopes: tuple[str, ...] | None = None,
    grant_types: tuple[str, ...] | None = None,
    now: float = fk.T0,
) -> oidc.CachedRegistration:
    """A cached registration with ``left`` seconds of validity at ``now``."""
    return oidc.CachedRegistration(
        client_id=CACHED_ID,
        client_secret=CACHED_SECRET,
        expires_at=datetime.fromtimestamp(now + left, UTC),
        scopes=scopes,
        grant_types=grant_types,
    )


def jitter(fraction: float, attempt: int, policy: oidc.RetryPolicy = POLICY) -> float:
    """The backoff the flow must pick with ``FixedRandom(fraction)``: full jitter, capped
    (``random.uniform(0, ceiling)`` is ``0 + (ceiling - 0) * random()``)."""
    ceiling = min(policy.cap, policy.base * 2 ** (attempt - 1))
    return 0 + (ceiling - 0) * fraction


# =================================================================================================
# 1. Exhaustive enumeration
# =================================================================================================
#
# A node of the enumeration tree is a distinct behaviour: the flow's answer to a sequence of
# outcomes. Once the flow ends (Done, a typed error) it consumes nothing more, so every longer
# sequence with that prefix behaves the same and is covered by that node; the test adds up how
# many raw sequences each node covers and checks the sum is exactly sum(len(alphabet)**k, k=1..L).
#
# Two modes:
# - literal: every node is executed (a clone of the parent flow is fed the next outcome);
# - merged: a node whose machine state (every slot, plus the model state and the send time) and
#   remaining length equal an already explored node's reuses that subtree's count. Every
#   (state, outcome) transition is still executed and checked; only repeated subtrees are skipped.
#   This is sound because the flow is a function of its slots and the inputs (the rng is a
#   stateless FixedRandom), and every check is a check of one transition against the model.

POLL_LETTERS = (
    "pending",
    "slow_down",
    "success",
    "expired",
    "denied",
    "5xx",
    "throttled",
    "malformed",
    "transport",
)
TRANSIENT = frozenset({"5xx", "throttled", "malformed", "transport"})
SETUP_LETTERS = (
    "success",
    "5xx",
    "throttled",
    "slow_down",
    "malformed",
    "transport",
    "invalid_client",
    "other_4xx",
)
SETUP_TRANSIENT = frozenset({"5xx", "throttled", "slow_down", "malformed", "transport"})
START_INTERVAL = 2

_TOKEN = fk.token_ok()
_REGISTERED = fk.register_ok()
_STARTED = fk.start_ok(interval=START_INTERVAL)
_INVALID_SCOPE = fk.error_response("InvalidScopeException", oauth="invalid_scope")


def outcome_for(letter: str, position: int, operation: str) -> fk.Outcome:
    """The outcome ``letter`` stands for at 0-based ``position`` for ``operation``.

    Where a letter has variants they alternate with the position's parity, so both appear in
    every long sequence: 5xx = JSON InternalServerException 500 / HTML 502; throttled = bare 429 /
    400 ThrottlingException; malformed = truncated JSON / a JSON body of the wrong shape;
    transport = ConnectionResetError / TimeoutError; other_4xx = InvalidRequest / InvalidScope.
    """
    odd = position & 1
    if letter == "success":
        return {"RegisterClient": _REGISTERED, "StartDeviceAuthorization": _STARTED, "CreateToken": _TOKEN}[
            operation
        ]
    if letter == "transport":
        return fk.timed_out() if odd else fk.reset()
    if letter == "malformed":
        if not odd:
            return fk.MALFORMED
        return fk.MALFORMED_JSON_TYPES[1] if operation == "CreateToken" else fk.MALFORMED_JSON_TYPES[0]
    return {
        "pending": fk.PENDING,
        "slow_down": fk.SLOW_DOWN,
        "expired": fk.EXPIRED,
        "denied": fk.DENIED,
        "5xx": fk.BAD_GATEWAY_HTML if odd else fk.SERVER_ERROR,
        "throttled": fk.THROTTLING if odd else fk.THROTTLED_429,
        "invalid_client": fk.INVALID_CLIENT,
        "other_4xx": _INVALID_SCOPE if odd else fk.INVALID_REQUEST,
    }[letter]


def _expected_last_error(letter: str, position: int) -> tuple[type[BaseException], str | None]:
    odd = position & 1
    return {
        "5xx": (oidc.RemoteProtocolError, "502") if odd else (oidc.InternalServerException, None),
        "throttled": (oidc.ServiceError, "ThrottlingException") if odd else (oidc.RemoteProtocolError, "429"),
        "slow_down": (oidc.SlowDownException, None),
        "malformed": (oidc.RemoteProtocolError, "200"),
        "transport": (TimeoutError, None) if odd else (ConnectionResetError, None),
    }[letter]


def _check_exhausted(error: BaseException, letter: str, position: int) -> None:
    assert isinstance(error, oidc.RetriesExhaustedError), error
    cls, code = _expected_last_error(letter, position)
    assert isinstance(error.last_error, cls), error.last_error
    if code is not None:
        assert getattr(error.last_error, "code", None) == code
    assert error.__cause__ is error.last_error


def _fail_with(flow: oidc.DeviceFlow, now: float) -> BaseException:
    """The error ``next_action`` raises; it must be typed and sticky."""
    try:
        action = flow.next_action(now)
    except oidc.SSOOIDCError as exc:
        error: BaseException = exc
    else:  # pragma: no cover - reported as a failure
        raise AssertionError(f"expected the flow to fail, got {action!r}")
    assert not isinstance(error, oidc.LocalProtocolError)
    assert flow.state is S.FAILED
    with pytest.raises(oidc.SSOOIDCError) as again:
        flow.next_action(now + 1)
    assert again.value is error
    return error


def _covered(depth: int, max_len: int, width: int) -> int:
    """Raw sequences covered by a node at ``depth`` where the flow ended: itself and every
    extension up to ``max_len``."""
    return sum(width**k for k in range(max_len - depth + 1))


@dataclasses.dataclass
class Stats:
    nodes: int = 0  # transitions executed and checked (distinct behaviours in literal mode)
    merged: int = 0  # subtrees reused in merged mode
    sequences: int = 0  # raw sequences covered
    ends: Counter[str] = dataclasses.field(default_factory=Counter)


class _Explorer:
    def __init__(self, root: oidc.DeviceFlow, max_len: int, width: int, merge: bool, latency: float) -> None:
        self.root = root
        self.max_len = max_len
        self.width = width
        self.merge = merge
        self.latency = latency
        self.stats = Stats()
        self.memo: dict[tuple[Any, ...], int] = {}
        self.names = fk.slot_names(root)

    def key(self, flow: oidc.DeviceFlow, *extra: Any) -> tuple[Any, ...]:
        """The machine state: every slot's value (the values are frozen and hashable), leaving out
        ``_last_error``, which the flows only ever write (it is never read)."""
        return (
            *(v for name, v in zip(self.names, fk.snapshot(flow), strict=True) if name != "_last_error"),
            *extra,
        )


class PollExplorer(_Explorer):
    """Enumerates the outcomes of the polls, from the first poll on."""

    def __init__(
        self,
        *,
        max_len: int,
        merge: bool,
        expires_in: int,
        interval: int | None,
        latency: float,
        fraction: float,
        max_expires_in: int = 1800,
    ) -> None:
        flow = new_flow(rng=fk.FixedRandom(fraction), max_expires_in=max_expires_in)
        trace = fk.drive(
            flow, [fk.register_ok(), fk.start_ok(expires_in=expires_in, interval=interval)], latency=latency
        )
        assert trace.starved
        assert flow.state is S.AWAIT_POLL
        super().__init__(flow, max_len, len(POLL_LETTERS), merge, latency)
        self.fraction = fraction
        started = trace.events[-2][0]  # when StartDeviceAuthorization's answer arrived
        self.interval = interval or _device.DEFAULT_INTERVAL
        self.deadline = started + min(expires_in, max_expires_in)
        assert trace.of(oidc.ShowCode)[0].expires_at == self.deadline == flow.deadline
        assert trace.now == started + self.interval
        self.poll = trace.sends[-1][1].request
        body = fk.check_request(trace.sends[-1][1])
        assert body == {
            "clientId": fk.CLIENT_ID,
            "clientSecret": fk.CLIENT_SECRET,
            "grantType": oidc.GRANT_DEVICE_CODE,
            "deviceCode": fk.DEVICE_CODE,
        }
        self.first_sent = self.next_sent = trace.now

    def run(self) -> Stats:
        self.stats.sequences = self.visit(self.root, self.first_sent, self.interval, 0, 0)
        total = sum(self.width**k for k in range(1, self.max_len + 1))
        assert self.stats.sequences == total, (self.stats.sequences, total)
        return self.stats

    def visit(self, parent: oidc.DeviceFlow, sent: float, interval: int, failures: int, depth: int) -> int:
        covered = 0
        t = sent + self.latency
        last = len(POLL_LETTERS) - 1
        for index, letter in enumerate(POLL_LETTERS):
            flow = parent if index == last else fk.clone(parent)
            outcome = outcome_for(letter, depth, "CreateToken")
            if isinstance(outcome, BaseException):
                flow.receive_failure(outcome, t)
            else:
                flow.receive_response(outcome, t)
            self.stats.nodes += 1
            ended = self.check(flow, letter, t, interval, failures, depth)
            if ended is not None:
                self.stats.ends[ended] += 1
                covered += _covered(depth + 1, self.max_len, self.width)
                continue
            covered += 1
            new_interval = interval + (SLOW_DOWN_STEP if letter == "slow_down" else 0)
            new_failures = failures + 1 if letter in TRANSIENT else 0
            if depth + 1 == self.max_len:
                self.stats.ends["cut"] += 1
                continue
            sent_next = self.next_sent
            if self.merge:
                key = self.key(flow, sent_next, new_interval, new_failures, depth + 1)
                known = self.memo.get(key)
                if known is not None:
                    self.stats.merged += 1
                    covered += known
                    continue
                sub = self.visit(flow, sent_next, new_interval, new_failures, depth + 1)
                self.memo[key] = sub
                covered += sub
            else:
                covered += self.visit(flow, sent_next, new_interval, new_failures, depth + 1)
        return covered

    def check(
        self, flow: oidc.DeviceFlow, letter: str, t: float, interval: int, failures: int, depth: int
    ) -> str | None:
        """Check one transition against the model; the name of the end, or None when the flow
        sent its next poll (at ``self.next_sent``)."""
        # The interval never decreases and grows by exactly 5 per slow_down.
        assert flow.interval == interval + (SLOW_DOWN_STEP if letter == "slow_down" else 0)
        deadline = self.deadline
        if letter == "success":
            done = flow.next_action(t)
            assert isinstance(done, oidc.Done)
            result = done.result
            assert isinstance(result, oidc.LoginResult)
            assert result.token.access_token == fk.ACCESS_TOKEN
            assert result.token.refresh_token == fk.REFRESH_TOKEN
            assert result.token.client_id == fk.CLIENT_ID
            assert result.token.expires_at == _flow.to_datetime(t + 28800)
            assert result.registration.client_id == fk.CLIENT_ID
            assert flow.next_action(t + 1) is not done
            assert flow.next_action(t + 1).result is result
            return "done"
        if letter in ("expired", "denied"):
            error = _fail_with(flow, t)
            expected = oidc.ExpiredTokenException if letter == "expired" else oidc.AccessDeniedException
            assert type(error) is expected
            return type(error).__name__
        if letter in TRANSIENT:
            failures += 1
            if failures >= POLICY.max_attempts:
                _check_exhausted(_fail_with(flow, t), letter, depth)
                return "RetriesExhaustedError"
            due = t + max(flow.interval, jitter(self.fraction, failures))
        else:
            due = t + flow.interval
        if t >= deadline:
            error = _fail_with(flow, t)
            assert type(error) is oidc.LoginTimeoutError
            assert error.deadline == deadline
            return "LoginTimeoutError@response"
        wait = flow.next_action(t)
        assert type(wait) is oidc.Wait, wait
        assert wait.until == min(due, deadline)
        assert wait.until > t
        # Asked early, the flow waits again for the same moment, and never sends.
        again = flow.next_action((t + wait.until) / 2)
        assert type(again) is oidc.Wait
        assert again.until == wait.until
        if due >= deadline:
            error = _fail_with(flow, deadline)
            assert type(error) is oidc.LoginTimeoutError
            assert error.deadline == deadline
            return "LoginTimeoutError@deadline"
        send = flow.next_action(wait.until)
        assert type(send) is oidc.Send
        assert send.operation == "CreateToken"
        assert send.request == self.poll  # equal to the first poll, checked in __init__
        assert wait.until < deadline  # never a poll at or after the deadline
        assert wait.until - t >= flow.interval  # no faster than the interval
        self.next_sent = wait.until
        return None


class SetupExplorer(_Explorer):
    """Enumerates the outcomes of RegisterClient and StartDeviceAuthorization, until ShowCode."""

    def __init__(
        self, *, max_len: int, merge: bool, cached_registration: bool, latency: float, fraction: float
    ):
        registration = cached(scopes=("sso:account:access",)) if cached_registration else None
        flow = new_flow(
            rng=fk.FixedRandom(fraction), registration=registration, scopes=["sso:account:access"]
        )
        super().__init__(flow, max_len, len(SETUP_LETTERS), merge, latency)
        self.fraction = fraction
        self.cached_registration = cached_registration

    def run(self) -> Stats:
        send = self.root.next_action(fk.T0)
        assert isinstance(send, oidc.Send)
        phase = "start" if self.cached_registration else "register"
        client_id = CACHED_ID if self.cached_registration else None
        self.check_send(send, phase, client_id)
        self.stats.sequences = self.visit(self.root, fk.T0, phase, 0, self.cached_registration, client_id, 0)
        total = sum(self.width**k for k in range(1, self.max_len + 1))
        assert self.stats.sequences == total, (self.stats.sequences, total)
        return self.stats

    def check_send(self, send: oidc.Send, phase: str, client_id: str | None) -> None:
        body = fk.check_request(send)
        if phase == "register":
            assert send.operation == "RegisterClient"
            assert body == {
                "clientName": "sansio-ssooidc",
                "clientType": "public",
                "scopes": ["sso:account:access"],
            }
        else:
            assert send.operation == "StartDeviceAuthorization"
            secret = CACHED_SECRET if client_id == CACHED_ID else fk.CLIENT_SECRET
            assert body == {"clientId": client_id, "clientSecret": secret, "startUrl": fk.START_URL}

    def visit(
        self,
        parent: oidc.DeviceFlow,
        sent: float,
        phase: str,
        failures: int,
        is_cached: bool,
        client_id: str | None,
        depth: int,
    ) -> int:
        covered = 0
        t = sent + self.latency
        last = len(SETUP_LETTERS) - 1
        operation = "RegisterClient" if phase == "register" else "StartDeviceAuthorization"
        for index, letter in enumerate(SETUP_LETTERS):
            flow = parent if index == last else fk.clone(parent)
            outcome = outcome_for(letter, depth, operation)
            if isinstance(outcome, BaseException):
                flow.receive_failure(outcome, t)
            else:
                flow.receive_response(outcome, t)
            self.stats.nodes += 1
            nxt = self.check(flow, letter, t, phase, failures, is_cached, depth)
            if isinstance(nxt, str):
                self.stats.ends[nxt] += 1
                covered += _covered(depth + 1, self.max_len, self.width)
                continue
            covered += 1
            if depth + 1 == self.max_len:
                self.stats.ends["cut"] += 1
                continue
            sent_next, new_phase, new_failures, new_cached, new_client = nxt
            if self.merge:
                key = self.key(flow, *nxt, depth + 1)
                known = self.memo.get(key)
                if known is not None:
                    self.stats.merged += 1
                    covered += known
                    continue
            sub = self.visit(flow, sent_next, new_phase, new_failures, new_cached, new_client, depth + 1)
            if self.merge:
                self.memo[key] = sub
            covered += sub
        return covered

    def check(
        self,
        flow: oidc.DeviceFlow,
        letter: str,
        t: float,
        phase: str,
        failures: int,
        is_cached: bool,
        depth: int,
    ) -> str | tuple[float, str, int, bool, str | None]:
        if letter == "success" and phase == "start":
            show = flow.next_action(t)
            assert type(show) is oidc.ShowCode
            assert show.user_code == fk.USER_CODE
            assert show.verification_uri == "https://device.sso.us-east-1.amazonaws.com/"
            assert show.verification_uri_complete.endswith("user_code=ABCD-EFGH")  # type: ignore[union-attr]
            assert show.expires_at == t + 600 == flow.deadline
            wait = flow.next_action(t)
            assert type(wait) is oidc.Wait
            assert wait.until == t + START_INTERVAL
            assert flow.interval == START_INTERVAL
            return "ShowCode"
        assert flow.interval == _device.DEFAULT_INTERVAL
        assert flow.deadline is None
        if letter == "success":  # registered: StartDeviceAuthorization at once
            new = ("start", 0, False, fk.CLIENT_ID)
            due = t
        elif letter in SETUP_TRANSIENT:
            failures += 1
            if failures >= POLICY.max_attempts:
                _check_exhausted(_fail_with(flow, t), letter, depth)
                return "RetriesExhaustedError"
            new = (phase, failures, is_cached, CACHED_ID if is_cached else fk.CLIENT_ID)
            due = t + jitter(self.fraction, failures)
        elif letter == "invalid_client" and phase == "start" and is_cached:  # register afresh, once
            new = ("register", 0, False, None)
            due = t
        else:
            error = _fail_with(flow, t)
            expected = {
                "invalid_client": oidc.InvalidClientException,
                "other_4xx": oidc.InvalidScopeException if depth & 1 else oidc.InvalidRequestException,
            }[letter]
            assert type(error) is expected
            return type(error).__name__
        now = t
        if due > t:
            wait = flow.next_action(t)
            assert type(wait) is oidc.Wait
            assert wait.until == due
            now = due
        send = flow.next_action(now)
        assert type(send) is oidc.Send
        self.check_send(send, new[0], new[3])
        return (now, *new)


@pytest.fixture
def quiet_library_logs() -> Iterator[None]:
    """The enumerations run millions of transitions; formatting and capturing their DEBUG lines
    (whose secrets are checked by test_debug_logs_and_errors_never_show_secrets) only costs time."""
    logger = logging.getLogger("sansio_ssooidc")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)


def _report(request: pytest.FixtureRequest, label: str, stats: Stats, max_len: int, width: int) -> None:
    line = (
        f"{label}: all {stats.sequences:,} sequences of length 1..{max_len} over {width} outcomes; "
        f"{stats.nodes:,} transitions checked, {stats.merged:,} merged subtrees; ends {dict(stats.ends)}"
    )
    print(line)
    request.node.user_properties.append(("enumeration", line))


POLL_CASES = {
    # A 10-minute code, no interval sent (5 s), instant answers, jitter near its ceiling.
    "600s-default-interval": {"expires_in": 600, "interval": None, "latency": 0.0, "fraction": 0.999},
    # A 40 s code with a 3 s interval and 0.5 s answers: slow_downs and retries run into the deadline.
    "40s-deadline": {"expires_in": 40, "interval": 3, "latency": 0.5, "fraction": 0.0},
    # The service's 1 s interval, and a 3600 s code capped to 30 s by max_expires_in.
    "capped-30s": {"expires_in": 3600, "interval": 1, "latency": 0.25, "fraction": 0.5, "max_expires_in": 30},
}


@pytest.mark.usefixtures("quiet_library_logs")
@pytest.mark.parametrize("case", sorted(POLL_CASES))
def test_enumerate_poll_sequences_literal_up_to_6(case: str, request: pytest.FixtureRequest) -> None:
    """Every sequence of up to 6 poll outcomes over all 9 letters, each executed one by one."""
    stats = PollExplorer(max_len=6, merge=False, **POLL_CASES[case]).run()
    _report(request, f"poll literal {case}", stats, 6, len(POLL_LETTERS))
    assert stats.ends["done"]
    assert stats.ends["RetriesExhaustedError"]


@pytest.mark.usefixtures("quiet_library_logs")
@pytest.mark.parametrize("case", sorted(POLL_CASES))
def test_enumerate_poll_sequences_up_to_8(case: str, request: pytest.FixtureRequest) -> None:
    """EXHAUSTIVE: every sequence of up to 8 poll outcomes (48,427,560 per case) over all 9 letters,
    with identical machine states merged (every distinct transition executed and checked).

    Set SSOOIDC_LITERAL_ENUMERATION=1 to execute every distinct behaviour one by one instead
    (about 2 million flows per case; minutes)."""
    literal = os.environ.get("SSOOIDC_LITERAL_ENUMERATION") == "1"
    stats = PollExplorer(max_len=8, merge=not literal, **POLL_CASES[case]).run()
    _report(request, f"poll {'literal' if literal else 'merged'} {case}", stats, 8, len(POLL_LETTERS))
    if case != "600s-default-interval":
        assert stats.ends["LoginTimeoutError@deadline"]
    if case == "capped-30s":
        assert stats.ends["LoginTimeoutError@response"]


SETUP_CASES = {
    f"{'cached' if is_cached else 'fresh'}-jitter{fraction}": {
        "cached_registration": is_cached,
        "fraction": fraction,
    }
    for is_cached in (False, True)
    for fraction in (0.0, 0.999)
}


#: Every case is enumerated up to 8 (merged); two of them also literally up to 6.
SETUP_RUNS = [(case, 8) for case in sorted(SETUP_CASES)] + [("fresh-jitter0.0", 6), ("cached-jitter0.999", 6)]


@pytest.mark.usefixtures("quiet_library_logs")
@pytest.mark.parametrize(("case", "max_len"), SETUP_RUNS, ids=[f"{c}-up-to-{n}" for c, n in SETUP_RUNS])
def test_enumerate_setup_sequences(case: str, max_len: int, request: pytest.FixtureRequest) -> None:
    """EXHAUSTIVE: every sequence of outcomes of RegisterClient / StartDeviceAuthorization over 8
    letters: up to 6 executed one by one (299,592 per case), up to 8 (19,173,960 per case) with
    identical machine states merged (or one by one with SSOOIDC_LITERAL_ENUMERATION=1; minutes)."""
    literal = max_len == 6 or os.environ.get("SSOOIDC_LITERAL_ENUMERATION") == "1"
    stats = SetupExplorer(max_len=max_len, merge=not literal, latency=0.25, **SETUP_CASES[case]).run()
    _report(request, f"setup {'literal' if literal else 'merged'} {case}", stats, max_len, len(SETUP_LETTERS))
    assert stats.ends["ShowCode"]
    assert stats.ends["RetriesExhaustedError"]
    assert stats.ends["InvalidClientException"]


# =================================================================================================
# 2. The state machine: arbitrary calls (Hypothesis), and every (state, call) pair
# =================================================================================================


def _start_response(expires_in: int, interval: int | None) -> oidc.HttpResponse:
    return fk.start_ok(expires_in=expires_in, interval=interval)


#: Responses the state machine may give to any Send ("success" is the one for the operation).
RESPONSES: dict[str, oidc.HttpResponse] = {
    "pending": fk.PENDING,
    "slow_down": fk.SLOW_DOWN,
    "expired": fk.EXPIRED,
    "denied": fk.DENIED,
    "invalid_client": fk.INVALID_CLIENT,
    "invalid_grant": fk.INVALID_GRANT,
    "invalid_request": fk.INVALID_REQUEST,
    "server_error": fk.SERVER_ERROR,
    "bad_gateway": fk.BAD_GATEWAY_HTML,
    "throttled_429": fk.THROTTLED_429,
    "throttling": fk.THROTTLING,
    "malformed": fk.MALFORMED,
    "json_list": fk.MALFORMED_JSON_TYPES[0],
    "wrong_type": fk.MALFORMED_JSON_TYPES[1],
    "pending_no_header": fk.error_response(
        "AuthorizationPendingException", oauth="authorization_pending", header=False
    ),
    "slow_down_no_header": fk.error_response("SlowDownException", oauth="slow_down", header=False),
    "token_for_anything": fk.token_ok(),
    "register_for_anything": fk.register_ok(),
}
FAILURES: list[Callable[[], BaseException]] = [
    fk.reset,
    fk.timed_out,
    lambda: ConnectionRefusedError(111, "refused"),
]


class DeviceFlowMachine(RuleBasedStateMachine):
    """Drives one DeviceFlow with arbitrary legal and illegal calls at arbitrary (monotonic) times,
    saving and restoring it on the way, and checks the contract after every call."""

    @initialize(
        registration=st.sampled_from(["none", "usable", "expiring", "other_scopes", "authcode_only"]),
        fraction=st.sampled_from([0.0, 0.25, 0.999]),
        max_expires_in=st.sampled_from([1800, 45, 7]),
        expires_in=st.sampled_from([600, 30, 3600]),
        interval=st.sampled_from([None, 1, 7]),
    )
    def start(
        self, registration: str, fraction: float, max_expires_in: int, expires_in: int, interval: int | None
    ) -> None:
        reg = {
            "none": None,
            "usable": cached(),
            "expiring": cached(left=600),
            "other_scopes": cached(scopes=("other",)),
            "authcode_only": cached(grant_types=(oidc.GRANT_AUTHORIZATION_CODE,)),
        }[registration]
        self.rng = fk.FixedRandom(fraction)
        self.flow = new_flow(registration=reg, rng=self.rng, max_expires_in=max_expires_in)
        self.started = _start_response(expires_in, interval)
        self.cap = min(expires_in, max_expires_in)
        self.now = fk.T0
        self.fence = fk.T0  # the latest Wait.until
        self.last_wait: oidc.Wait | None = None
        self.outstanding: str | None = None
        self.shown = 0
        self.base_interval: int | None = None
        self.slowdowns = 0
        self.deadline: float | None = None
        self.last_answer: float | None = None  # when the start or the last poll was answered
        self.result: Any = None
        self.error: BaseException | None = None

    # --- legal calls ---------------------------------------------------------------------------

    @precondition(lambda self: self.outstanding is None)
    @rule(step=st.one_of(st.just("until"), st.just(0.0), st.floats(0, 40, allow_nan=False)))
    def next_action(self, step: str | float) -> None:
        if step == "until":
            self.now = max(self.now, self.last_wait.until if self.last_wait else self.now)
        else:
            assert isinstance(step, float)
            self.now += step
        try:
            action = self.flow.next_action(self.now)
        except oidc.SSOOIDCError as exc:
            self.failed(exc)
            return
        assert self.error is None
        self.acted(action)

    def failed(self, error: BaseException) -> None:
        assert not isinstance(error, oidc.LocalProtocolError)
        assert self.flow.state is S.FAILED
        if self.error is not None:
            assert error is self.error  # sticky
        if isinstance(error, oidc.LoginTimeoutError):
            assert self.deadline is not None
            assert self.now >= error.deadline == self.deadline
        self.error = error

    def acted(self, action: oidc.Action) -> None:
        if isinstance(action, oidc.Done):
            assert self.result is None or action.result is self.result
            assert isinstance(action.result, oidc.LoginResult)
            self.result = action.result
        elif isinstance(action, oidc.Wait):
            assert action.until > self.now
            assert self.deadline is None or action.until <= self.deadline
            self.fence = max(self.fence, action.until)
            self.last_wait = action
        elif isinstance(action, oidc.ShowCode):
            self.shown += 1
            assert self.shown == 1
            assert self.deadline == action.expires_at == self.flow.deadline
        else:
            assert isinstance(action, oidc.Send)
            assert self.now >= self.fence
            fk.check_request(action)
            if action.operation == "CreateToken":
                assert self.shown == 1
                assert self.deadline is not None
                assert self.now < self.deadline
                assert self.last_answer is not None
                assert self.now >= self.last_answer + self.flow.interval
            self.outstanding = action.operation

    @precondition(lambda self: self.outstanding is None and self.flow.state not in (S.DONE, S.FAILED))
    @rule()
    def run_to_next_send(self) -> None:
        """What a driver does: follow the Waits until the flow sends (or ends)."""
        for _ in range(10):
            self.next_action("until")
            if self.outstanding is not None or self.flow.state in (S.DONE, S.FAILED):
                return
        raise AssertionError("ten actions without a Send")

    @precondition(lambda self: self.outstanding is not None)
    @rule(latency=st.floats(0, 3, allow_nan=False))
    def receive_success(self, latency: float) -> None:
        response = {
            "RegisterClient": fk.register_ok(),
            "StartDeviceAuthorization": self.started,
            "CreateToken": fk.token_ok(),
        }[str(self.outstanding)]
        self.answer(response, latency)

    @precondition(lambda self: self.outstanding == "CreateToken")
    @rule(slow_down=st.booleans(), latency=st.floats(0, 3, allow_nan=False))
    def receive_poll_progress(self, slow_down: bool, latency: float) -> None:
        self.answer(fk.SLOW_DOWN if slow_down else fk.PENDING, latency, slow_down=slow_down)

    @precondition(lambda self: self.outstanding is not None)
    @rule(name=st.sampled_from(sorted(RESPONSES)), latency=st.floats(0, 3, allow_nan=False))
    def receive_any_response(self, name: str, latency: float) -> None:
        self.answer(RESPONSES[name], latency, slow_down=name.startswith("slow_down"))

    def answer(self, response: oidc.HttpResponse, latency: float, *, slow_down: bool = False) -> None:
        self.now += latency
        operation = self.outstanding
        self.flow.receive_response(response, self.now)
        self.answered(operation, slow_down=slow_down)

    @precondition(lambda self: self.outstanding is not None)
    @rule(make=st.sampled_from(FAILURES), latency=st.floats(0, 30, allow_nan=False))
    def receive_failure(self, make: Callable[[], BaseException], latency: float) -> None:
        self.now += latency
        operation = self.outstanding
        self.flow.receive_failure(make(), self.now)
        self.answered(operation, slow_down=False)

    @precondition(lambda self: self.outstanding is not None)
    @rule(latency=st.floats(0, 30, allow_nan=False))
    def abandon(self, latency: float) -> None:
        """The driver is cancelled while a request is in flight: the flow sends it again later
        (a poll no sooner than one interval after giving up)."""
        self.now += latency
        awaiting = self.flow.state
        self.flow.abandon_send(self.now)
        assert self.flow.state is oidc.DeviceFlow.RESEND[awaiting]
        self.outstanding = None
        if awaiting is S.AWAIT_POLL:
            self.last_answer = self.now

    def answered(self, operation: str | None, *, slow_down: bool) -> None:
        self.outstanding = None
        state = self.flow.state
        if operation == "StartDeviceAuthorization" and state is S.SHOW_CODE:
            self.base_interval = self.flow.interval
            self.deadline = self.now + self.cap
            self.last_answer = self.now
        if operation == "CreateToken":
            self.last_answer = self.now
            if slow_down and state is S.POLL:
                self.slowdowns += 1

    @precondition(lambda self: self.flow.state not in (S.DONE, S.FAILED))
    @rule(through_json=st.booleans())
    def save_and_restore(self, through_json: bool) -> None:
        """A web service saves the login after any call and resumes it elsewhere (a request in
        flight is abandoned: the resumed flow sends it again)."""
        data = self.flow.to_dict(include_secrets=True)
        if through_json:
            data = json.loads(json.dumps(data))
        restored = oidc.DeviceFlow.from_dict(data, rng=self.rng)
        assert restored.to_dict(include_secrets=True) == data
        assert restored.state not in oidc.DeviceFlow.AWAITING
        self.flow = restored
        self.outstanding = None

    # --- illegal calls: LocalProtocolError (or ParameterError), the machine unchanged -------------

    @precondition(lambda self: self.outstanding is None)
    @rule()
    def receive_without_send(self) -> None:
        before = fk.snapshot(self.flow)
        with pytest.raises(oidc.LocalProtocolError):
            self.flow.receive_response(fk.PENDING, self.now)
        with pytest.raises(oidc.LocalProtocolError):
            self.flow.receive_failure(fk.reset(), self.now)
        with pytest.raises(oidc.LocalProtocolError):
            self.flow.abandon_send(self.now)
        assert fk.snapshot(self.flow) == before

    @precondition(lambda self: self.outstanding is not None)
    @rule()
    def pull_while_awaiting(self) -> None:
        before = fk.snapshot(self.flow)
        with pytest.raises(oidc.LocalProtocolError):
            self.flow.next_action(self.now)
        assert fk.snapshot(self.flow) == before

    @rule(now=st.sampled_from([datetime(2024, 1, 1, tzinfo=UTC), "1700000000", None, True]))
    def bad_time(self, now: Any) -> None:
        before = fk.snapshot(self.flow)
        if self.outstanding:
            with pytest.raises(oidc.ParameterError):
                self.flow.receive_failure(fk.reset(), now)
        else:
            with pytest.raises(oidc.ParameterError):
                self.flow.next_action(now)
        assert fk.snapshot(self.flow) == before

    @precondition(lambda self: self.outstanding is not None)
    @rule(thing=st.sampled_from([b"HTTP/1.1 200 OK", None, {"status": 200}]))
    def bad_outcome(self, thing: Any) -> None:
        before = fk.snapshot(self.flow)
        with pytest.raises(oidc.ParameterError):
            self.flow.receive_response(thing, self.now)
        with pytest.raises(oidc.ParameterError):
            self.flow.receive_failure(thing, self.now)
        assert fk.snapshot(self.flow) == before

    # --- invariants ------------------------------------------------------------------------------

    def teardown(self) -> None:
        event(f"ended in {self.flow.state.name}, shown={self.shown}, slow_downs={self.slowdowns}")

    @invariant()
    def awaiting_iff_send_outstanding(self) -> None:
        assert (self.flow.state in oidc.DeviceFlow.AWAITING) == (self.outstanding is not None)

    @invariant()
    def interval_only_grows_by_slow_downs(self) -> None:
        if self.base_interval is None:
            assert self.flow.interval == _device.DEFAULT_INTERVAL
        else:
            assert self.flow.interval == self.base_interval + SLOW_DOWN_STEP * self.slowdowns

    @invariant()
    def deadline_is_the_capped_expiry(self) -> None:
        assert self.flow.deadline == self.deadline

    @invariant()
    def ends_are_final(self) -> None:
        if self.result is not None:
            assert self.flow.state is S.DONE
        if self.error is not None:
            assert self.flow.state is S.FAILED


DeviceFlowMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_device_flow_state_machine = DeviceFlowMachine.TestCase


def flow_in(state: oidc.DeviceState) -> oidc.DeviceFlow:
    """A flow brought to ``state`` by ordinary calls."""
    flow = new_flow()
    if state is S.REGISTER:
        return flow
    assert isinstance(flow.next_action(fk.T0), oidc.Send)
    if state is S.AWAIT_REGISTER:
        return flow
    flow.receive_response(fk.register_ok(), fk.T0)
    if state is S.START:
        return flow
    assert isinstance(flow.next_action(fk.T0), oidc.Send)
    if state is S.AWAIT_START:
        return flow
    flow.receive_response(fk.start_ok(), fk.T0)
    if state is S.SHOW_CODE:
        return flow
    assert isinstance(flow.next_action(fk.T0), oidc.ShowCode)
    if state is S.POLL:
        return flow
    assert isinstance(flow.next_action(fk.T0 + 1), oidc.Send)
    if state is S.AWAIT_POLL:
        return flow
    if state is S.DONE:
        flow.receive_response(fk.token_ok(), fk.T0 + 1)
        assert isinstance(flow.next_action(fk.T0 + 1), oidc.Done)
        return flow
    flow.receive_response(fk.DENIED, fk.T0 + 1)
    with pytest.raises(oidc.AccessDeniedException):
        flow.next_action(fk.T0 + 1)
    return flow


def _reachable(state: oidc.DeviceState, steps: int) -> set[oidc.DeviceState]:
    found = {state}
    for _ in range(steps):
        found |= {nxt for s in found for nxt in _device.TRANSITIONS[s]}
    return found


@pytest.mark.parametrize("call", ["next_action", "receive_response", "receive_failure", "abandon_send"])
@pytest.mark.parametrize("state", list(S), ids=[s.name for s in S])
def test_every_state_and_call(state: oidc.DeviceState, call: str) -> None:
    """Each call is legal per AWAITING or raises LocalProtocolError and leaves the flow unchanged."""
    flow = flow_in(state)
    assert flow.state is state
    before = fk.snapshot(flow)
    legal = (call == "next_action") != (state in oidc.DeviceFlow.AWAITING)
    now = fk.T0 + 1
    calls: dict[str, Callable[[], object]] = {
        "next_action": lambda: flow.next_action(now),
        "receive_response": lambda: flow.receive_response(fk.token_ok(), now),
        "receive_failure": lambda: flow.receive_failure(fk.reset(), now),
        "abandon_send": lambda: flow.abandon_send(now),
    }
    if not legal:
        with pytest.raises(oidc.LocalProtocolError):
            calls[call]()
        assert fk.snapshot(flow) == before
        return
    if call == "next_action":
        if state is S.FAILED:
            error = flow._error
            with pytest.raises(oidc.AccessDeniedException) as raised:
                flow.next_action(now)
            assert raised.value is error
            assert fk.snapshot(flow) == before
            return
        action = flow.next_action(now)
        if state is S.DONE:
            assert isinstance(action, oidc.Done)
            assert fk.snapshot(flow) == before
        assert flow.state in _reachable(state, 2)
    elif call == "receive_response":
        flow.receive_response(fk.SERVER_ERROR, now)
        assert flow.state in _device.TRANSITIONS[state]
    elif call == "receive_failure":
        flow.receive_failure(fk.reset(), now)
        assert flow.state in _device.TRANSITIONS[state]
    else:
        flow.abandon_send(now)
        assert flow.state is oidc.DeviceFlow.RESEND[state]
        assert flow.state in _device.TRANSITIONS[state]


class _RecordingFlow(oidc.DeviceFlow):
    """Records every move of the machine (a subclass without slots gets a __dict__ for this)."""

    moves: ClassVar[set[tuple[oidc.DeviceState, oidc.DeviceState]]] = set()

    def _move(self, new: oidc.DeviceState) -> None:
        _RecordingFlow.moves.add((self.state, new))
        super()._move(new)


def test_transition_table_is_complete_and_every_row_is_used() -> None:
    table = _device.TRANSITIONS
    assert set(table) == set(S)
    assert table[S.DONE] == table[S.FAILED] == frozenset()
    assert {S.AWAIT_REGISTER, S.AWAIT_START, S.AWAIT_POLL} == oidc.DeviceFlow.AWAITING
    for state in S:  # every live state can still end both ways
        if state not in (S.DONE, S.FAILED):
            assert {S.DONE, S.FAILED} <= _reachable(state, len(S))
    scripts: list[tuple[oidc.CachedRegistration | None, list[fk.Outcome]]] = [
        (None, [fk.SERVER_ERROR, fk.register_ok(), fk.reset(), fk.start_ok(), fk.PENDING, fk.token_ok()]),
        (cached(), [fk.INVALID_CLIENT, fk.register_ok(), fk.start_ok(), fk.DENIED]),
        (None, [fk.INVALID_REQUEST]),
        (None, [fk.register_ok(), fk.INVALID_REQUEST]),
        (None, [fk.register_ok(), fk.start_ok(expires_in=2, interval=1), fk.PENDING]),
    ]
    _RecordingFlow.moves = set()
    for registration, script in scripts:
        trace = fk.drive(
            _RecordingFlow(start_url=fk.START_URL, region=REGION, registration=registration), script
        )
        assert not trace.starved
    used = _RecordingFlow.moves
    rows = {(a, b) for a, targets in table.items() for b in targets}
    assert used <= rows
    assert used == rows, rows - used


# =================================================================================================
# 3. Table-driven unit tests
# =================================================================================================

DEVICE_GRANTS = (oidc.GRANT_DEVICE_CODE, oidc.GRANT_REFRESH_TOKEN)
AUTHCODE_GRANTS = (oidc.GRANT_AUTHORIZATION_CODE, oidc.GRANT_REFRESH_TOKEN)

REUSE_CASES = [
    # id, seconds left at the first next_action, cached scopes, flow scopes, cached grant types, reused
    ("exactly-15-min-left", 900, None, None, None, False),
    ("15-min-minus-1s", 899, None, None, None, False),
    ("15-min-plus-1s", 901, None, None, None, True),
    ("90-days-left", 90 * 86400, None, None, None, True),
    ("expired", -60, None, None, None, False),
    ("same-scopes-other-order", 86400, ("a", "b"), ["b", "a"], None, True),
    ("scopes-differ", 86400, ("a",), ["a", "b"], None, False),
    ("cached-scopes-flow-none", 86400, ("a",), None, None, False),
    ("cached-none-flow-scopes", 86400, None, ["a"], None, False),
    ("none-equals-empty", 86400, None, [], None, True),
    ("grants-none-device-default", 86400, None, None, None, True),
    ("grants-device", 86400, None, None, DEVICE_GRANTS, True),
    ("grants-authcode-only", 86400, None, None, AUTHCODE_GRANTS, False),
    ("grants-empty", 86400, None, None, (), False),
]


@pytest.mark.parametrize(
    ("left", "cached_scopes", "scopes", "grants", "reused"),
    [case[1:] for case in REUSE_CASES],
    ids=[case[0] for case in REUSE_CASES],
)
def test_registration_reuse(
    left: int, cached_scopes: tuple[str, ...] | None, scopes: list[str] | None, grants: Any, reused: bool
) -> None:
    registration = cached(left=left, scopes=cached_scopes, grant_types=grants)
    flow = new_flow(registration=registration, scopes=scopes)
    first = fk.drive(flow, [])
    assert first.starved
    operation = first.sends[0][1].operation
    assert operation == ("StartDeviceAuthorization" if reused else "RegisterClient")
    script = [fk.start_ok(), fk.token_ok()] if reused else [fk.register_ok(), fk.start_ok(), fk.token_ok()]
    # Replay the same flow from scratch to its end, answering the first Send too.
    flow = new_flow(registration=registration, scopes=scopes)
    trace = fk.drive(flow, script)
    result = trace.result
    assert isinstance(result, oidc.LoginResult)
    if reused:
        assert result.registration is registration
        assert result.token.client_id == CACHED_ID
        assert result.token.client_secret == CACHED_SECRET
    else:
        body = fk.check_request(trace.sends[0][1])
        assert body.get("scopes") == scopes
        assert result.registration.client_id == fk.CLIENT_ID
        assert result.registration.scopes == (None if scopes is None else tuple(scopes))
        assert result.registration.grant_types is None  # the service's default: device code and refresh
        assert result.token.registration_expires_at == result.registration.expires_at


@pytest.mark.parametrize(
    ("grant", "grants", "usable"),
    [
        (oidc.GRANT_DEVICE_CODE, None, True),
        (oidc.GRANT_AUTHORIZATION_CODE, None, False),
        (oidc.GRANT_AUTHORIZATION_CODE, AUTHCODE_GRANTS, True),
        (oidc.GRANT_DEVICE_CODE, AUTHCODE_GRANTS, False),
    ],
)
def test_usable_registration_grant_types(grant: str, grants: Any, usable: bool) -> None:
    registration = cached(grant_types=grants)
    assert _register.usable_registration(registration, fk.T0, scopes=None, grant_type=grant) is usable
    assert _register.usable_registration(None, fk.T0, scopes=None, grant_type=grant) is False


def test_the_margin_is_checked_when_the_flow_starts_not_when_built() -> None:
    registration = cached(left=1000)
    early = fk.drive(new_flow(registration=registration), [], now=fk.T0 + 99)
    late = fk.drive(new_flow(registration=registration), [], now=fk.T0 + 100)
    assert early.operations == ["StartDeviceAuthorization"]
    assert late.operations == ["RegisterClient"]


@pytest.mark.parametrize(("interval", "expected"), [(None, 5), (1, 1), (7, 7), (300, 300)])
def test_poll_interval_defaults_to_5_seconds(interval: int | None, expected: int) -> None:
    flow = new_flow()
    trace = fk.drive(flow, [fk.register_ok(), fk.start_ok(interval=interval, expires_in=3600)], now=fk.T0)
    assert flow.interval == expected
    assert trace.waits[-1][1].until == fk.T0 + expected
    assert trace.sends[-1][0] == fk.T0 + expected  # the first poll, one interval after the start


@pytest.mark.parametrize(
    ("expires_in", "max_expires_in", "lifetime"),
    [(600, 1800, 600), (3600, 1800, 1800), (86400, 1800, 1800), (600, 60, 60), (600, 600, 600), (1, 1800, 1)],
)
def test_device_code_lifetime_is_capped(expires_in: int, max_expires_in: int, lifetime: int) -> None:
    flow = new_flow(max_expires_in=max_expires_in)
    assert flow.deadline is None
    trace = fk.drive(flow, [fk.register_ok(), fk.start_ok(expires_in=expires_in)])
    (show,) = trace.of(oidc.ShowCode)
    assert show.expires_at == flow.deadline == fk.T0 + lifetime


DEADLINE_CASES = [
    # id, expires_in, interval, poll outcomes, expected poll times (s after start)
    ("next-poll-after-deadline", 50, 20, [fk.PENDING, fk.PENDING], [20, 40]),
    ("next-poll-exactly-at-deadline", 20, 10, [fk.PENDING], [10]),
    ("slow-down-pushes-past", 30, 10, [fk.SLOW_DOWN, fk.PENDING], [10, 25]),
    ("interval-longer-than-code", 5, 10, [], []),
    ("retry-backoff-past-deadline", 12, 10, [fk.SERVER_ERROR], [10]),
]


@pytest.mark.parametrize(
    ("expires_in", "interval", "outcomes", "polls"),
    [case[1:] for case in DEADLINE_CASES],
    ids=[case[0] for case in DEADLINE_CASES],
)
def test_deadline_waits_then_times_out(
    expires_in: int, interval: int, outcomes: list[fk.Outcome], polls: list[int]
) -> None:
    flow = new_flow()
    trace = fk.drive(
        flow, [fk.register_ok(), fk.start_ok(expires_in=expires_in, interval=interval), *outcomes]
    )
    deadline = fk.T0 + expires_in
    assert [t - fk.T0 for t, s in trace.sends if s.operation == "CreateToken"] == polls
    assert trace.waits[-1][1].until == deadline  # waits for the deadline itself ...
    assert isinstance(trace.error, oidc.LoginTimeoutError)  # ... then ends, without a poll
    assert trace.error.deadline == deadline
    assert trace.now == deadline
    assert "expired" in str(trace.error)


def test_a_late_answer_after_the_deadline_ends_without_waiting() -> None:
    flow = new_flow()
    trace = fk.drive(
        flow, [fk.register_ok(), fk.start_ok(expires_in=10, interval=9), fk.PENDING], latency=1.5
    )
    assert isinstance(trace.error, oidc.LoginTimeoutError)
    assert trace.events[-2][1] == "response"
    assert trace.now >= trace.error.deadline


def test_a_token_arriving_after_the_deadline_is_still_taken() -> None:
    trace = fk.drive(
        new_flow(), [fk.register_ok(), fk.start_ok(expires_in=10, interval=9), fk.token_ok()], latency=1.5
    )
    assert isinstance(trace.result, oidc.LoginResult)


def test_show_code_is_emitted_once_before_the_first_wait() -> None:
    flow = new_flow(registration=cached())
    trace = fk.drive(
        flow, [fk.SERVER_ERROR, fk.start_ok(), fk.PENDING, fk.SLOW_DOWN, fk.reset(), fk.token_ok()]
    )
    kinds = [type(a).__name__ for _, a in trace.actions]
    assert kinds.count("ShowCode") == 1
    show_at = kinds.index("ShowCode")
    assert kinds[show_at - 1] == "Send"
    assert trace.actions[show_at - 1][1].operation == "StartDeviceAuthorization"
    assert kinds[show_at + 1] == "Wait"
    assert all(a.operation != "CreateToken" for _, a in trace.actions[:show_at] if isinstance(a, oidc.Send))
    (show,) = trace.of(oidc.ShowCode)
    assert show.user_code == fk.USER_CODE
    assert show.verification_uri == "https://device.sso.us-east-1.amazonaws.com/"
    assert show.verification_uri_complete == "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH"


def test_show_code_without_complete_uri() -> None:
    trace = fk.drive(new_flow(), [fk.register_ok(), fk.start_ok(complete=False)])
    assert trace.of(oidc.ShowCode)[0].verification_uri_complete is None


def test_a_rejected_cached_registration_is_replaced_once() -> None:
    registration = cached()
    trace = fk.drive(
        new_flow(registration=registration),
        [fk.INVALID_CLIENT, fk.register_ok(), fk.start_ok(), fk.token_ok()],
    )
    assert trace.operations == [
        "StartDeviceAuthorization",
        "RegisterClient",
        "StartDeviceAuthorization",
        "CreateToken",
    ]
    bodies = [fk.check_request(s) for _, s in trace.sends]
    assert bodies[0]["clientId"] == CACHED_ID
    assert bodies[2]["clientId"] == fk.CLIENT_ID
    assert bodies[3]["clientId"] == fk.CLIENT_ID
    assert bodies[3]["clientSecret"] == fk.CLIENT_SECRET
    assert trace.result.registration is not registration
    assert trace.result.registration.client_id == fk.CLIENT_ID
    # The new registration is rejected too: that is final.
    again = fk.drive(
        new_flow(registration=registration), [fk.INVALID_CLIENT, fk.register_ok(), fk.INVALID_CLIENT]
    )
    assert isinstance(again.error, oidc.InvalidClientException)
    # A fresh registration rejected at once is final as well.
    fresh = fk.drive(new_flow(), [fk.register_ok(), fk.INVALID_CLIENT])
    assert isinstance(fresh.error, oidc.InvalidClientException)
    assert fresh.operations == [
        "RegisterClient",
        "StartDeviceAuthorization",
    ]


def test_invalid_client_while_polling_is_final() -> None:
    trace = fk.drive(new_flow(registration=cached()), [fk.start_ok(), fk.INVALID_CLIENT])
    assert isinstance(trace.error, oidc.InvalidClientException)


PHASE_PREFIX: dict[str, list[fk.Outcome]] = {
    "RegisterClient": [],
    "StartDeviceAuthorization": [fk.register_ok()],
    "CreateToken": [fk.register_ok(), fk.start_ok(expires_in=3600)],
}


@pytest.mark.parametrize("max_attempts", [1, 2, 5, 7])
@pytest.mark.parametrize("phase", sorted(PHASE_PREFIX))
def test_retries_are_bounded(phase: str, max_attempts: int) -> None:
    policy = oidc.RetryPolicy(max_attempts=max_attempts, base=1, cap=4)
    failures = [
        fk.SERVER_ERROR,
        fk.reset(),
        fk.THROTTLED_429,
        fk.MALFORMED,
        fk.timed_out(),
        fk.THROTTLING,
    ] * 2
    flow = new_flow(retry=policy, rng=fk.FixedRandom(0.5))
    trace = fk.drive(flow, [*PHASE_PREFIX[phase], *failures[:max_attempts]])
    assert not trace.starved
    assert trace.operations.count(phase) == max_attempts
    error = trace.error
    assert isinstance(error, oidc.RetriesExhaustedError)
    assert error.last_error is trace.events[-2][2] or isinstance(error.last_error, oidc.SSOOIDCError)
    assert error.__cause__ is error.last_error
    assert str(max_attempts) in str(error)
    # The waits between attempts: full jitter (half the ceiling here), capped, never less than
    # the interval while polling.
    times = [t for t, s in trace.sends if s.operation == phase]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    expected = [jitter(0.5, k, policy) for k in range(1, max_attempts)]
    if phase == "CreateToken":
        expected = [max(1, e) for e in expected]  # start_ok's interval is 1
    assert gaps == expected


def test_slow_down_outside_polling_is_backoff() -> None:
    trace = fk.drive(
        new_flow(rng=None), [fk.SLOW_DOWN, fk.SLOW_DOWN, fk.register_ok(), fk.SLOW_DOWN, fk.start_ok()]
    )
    assert trace.operations == ["RegisterClient"] * 3 + ["StartDeviceAuthorization"] * 2 + ["CreateToken"]
    times = [t - fk.T0 for t, _ in trace.sends]
    assert times == [0, 1, 3, 3, 4, 5]  # without an rng the delay is the ceiling: 1, 2, then 1 again
    flow = new_flow()
    fk.drive(flow, [fk.SLOW_DOWN, fk.register_ok(), fk.SLOW_DOWN, fk.start_ok(interval=None)])
    assert flow.interval == 5  # the poll interval is untouched by these


def test_jitter_comes_from_the_injected_rng() -> None:
    rng, replica = random.Random(42), random.Random(42)
    flow = new_flow(rng=rng, retry=oidc.RetryPolicy(max_attempts=8, base=0.5, cap=3))
    trace = fk.drive(flow, [fk.SERVER_ERROR] * 7 + [fk.register_ok()])
    times = [t for t, s in trace.sends if s.operation == "RegisterClient"]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    ceilings = [min(3, 0.5 * 2 ** (k - 1)) for k in range(1, 8)]
    assert gaps == pytest.approx([replica.uniform(0, c) for c in ceilings], abs=1e-6)  # epoch-time floats
    assert all(0 <= g <= c + 1e-6 for g, c in zip(gaps, ceilings, strict=True))


def test_poll_retries_and_pending_reset_the_attempt_count() -> None:
    policy = oidc.RetryPolicy(max_attempts=2)
    script = [fk.register_ok(), fk.start_ok(), fk.SERVER_ERROR, fk.PENDING, fk.reset(), fk.SLOW_DOWN]
    trace = fk.drive(new_flow(retry=policy), [*script, fk.MALFORMED, fk.token_ok()])
    assert isinstance(trace.result, oidc.LoginResult)


def test_transient_failures_are_retried_and_others_are_not() -> None:
    assert _flow.is_transient(oidc.ServiceError("X", status=503))
    assert _flow.is_transient(oidc.ServiceError("X", status=429))
    assert _flow.is_transient(oidc.ServiceError("ThrottlingException", status=400))
    assert _flow.is_transient(oidc.InternalServerException("InternalServerException", status=400))
    assert _flow.is_transient(oidc.RemoteProtocolError("garbage", status=200))
    assert _flow.is_transient(ConnectionResetError())
    assert _flow.is_transient(TimeoutError())
    assert not _flow.is_transient(oidc.ServiceError("X", status=400))
    assert not _flow.is_transient(oidc.AccessDeniedException("AccessDeniedException", status=400))
    assert not _flow.is_transient(ValueError("x"))
    # Whatever the adapter reports through receive_failure is a transport failure: it is wrapped
    # in a typed TransportError (a ConnectionError) and retried like one.
    flow = new_flow()
    assert isinstance(flow.next_action(fk.T0), oidc.Send)
    flow.receive_failure(ValueError("stream closed by the library"), fk.T0)
    assert flow.state is S.REGISTER
    assert isinstance(flow.next_action(fk.T0), oidc.Wait)


# --- validation ---------------------------------------------------------------------------------

CONSTRUCTOR_ERRORS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("start-url-int", {"start_url": 123}, oidc.ParameterTypeError, "start_url"),
    ("start-url-bytes", {"start_url": b"https://x"}, oidc.ParameterTypeError, "start_url"),
    ("start-url-empty", {"start_url": ""}, oidc.ParameterError, "start_url"),
    ("start-url-none", {"start_url": None}, oidc.ParameterError, "start_url"),
    ("scopes-str", {"scopes": "sso:account:access"}, oidc.ParameterTypeError, "did you mean"),
    ("scopes-ints", {"scopes": [1]}, oidc.ParameterTypeError, "scopes"),
    ("client-name-empty", {"client_name": ""}, oidc.ParameterError, "client_name"),
    ("registration-dict", {"registration": {"clientId": "x"}}, oidc.ParameterError, "CachedRegistration"),
    ("registration-token", {"registration": "cached"}, oidc.ParameterError, "CachedRegistration"),
    ("max-expires-zero", {"max_expires_in": 0}, oidc.ParameterError, "max_expires_in"),
    ("max-expires-negative", {"max_expires_in": -5}, oidc.ParameterError, "max_expires_in"),
    ("max-expires-float", {"max_expires_in": 60.0}, oidc.ParameterError, "max_expires_in"),
    ("max-expires-bool", {"max_expires_in": True}, oidc.ParameterError, "max_expires_in"),
    ("rng-module", {"rng": random}, oidc.ParameterError, "random.Random"),
    ("rng-int", {"rng": 42}, oidc.ParameterError, "random.Random"),
    ("retry-dict", {"retry": {"max_attempts": 3}}, oidc.ParameterError, "RetryPolicy"),
    ("endpoint-not-http", {"endpoint": "ftp://example.com"}, oidc.ParameterError, "endpoint"),
    ("region-bad", {"region": "not a region"}, oidc.ParameterError, "region"),
]


@pytest.mark.parametrize(
    ("kwargs", "error", "words"), [c[1:] for c in CONSTRUCTOR_ERRORS], ids=[c[0] for c in CONSTRUCTOR_ERRORS]
)
def test_constructor_validation(kwargs: dict[str, Any], error: type[Exception], words: str) -> None:
    """Bad arguments fail where the flow is built, with a library error naming the field (a wrong
    type is a ParameterTypeError, the library's TypeError; a wrong value a ParameterError)."""
    with pytest.raises(error, match=words) as raised:
        new_flow(**kwargs)
    assert isinstance(raised.value, oidc.SSOOIDCError)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"base": -1}, "base"),
        ({"cap": 7200}, "cap"),
        ({"base": True}, "base"),
    ],
)
def test_retry_policy_validation(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(oidc.ParameterError, match=words):
        oidc.RetryPolicy(**kwargs)


def test_endpoint_overrides() -> None:
    flow = new_flow(endpoint="http://127.0.0.1:8080/")
    assert fk.drive(flow, []).sends[0][1].request.url == "http://127.0.0.1:8080/client/register"
    flow = new_flow(environ={"AWS_ENDPOINT_URL_SSO_OIDC": "http://localhost:9/p"})
    assert fk.drive(flow, []).sends[0][1].request.url == "http://localhost:9/p/client/register"


@pytest.mark.parametrize("now", [datetime(2024, 1, 1, tzinfo=UTC), "1700000000", None, True, fk.T0 * 1j])
def test_time_must_be_epoch_seconds(now: Any) -> None:
    flow = new_flow()
    before = fk.snapshot(flow)
    with pytest.raises(oidc.ParameterError, match="epoch seconds"):
        flow.next_action(now)
    assert fk.snapshot(flow) == before
    assert isinstance(flow.next_action(fk.T0), oidc.Send)
    with pytest.raises(oidc.ParameterError, match="epoch seconds"):
        flow.receive_response(fk.register_ok(), now)
    with pytest.raises(oidc.ParameterError, match="HttpResponse"):
        flow.receive_response(b"HTTP/1.1 200 OK", fk.T0)  # type: ignore[arg-type]
    with pytest.raises(oidc.ParameterError, match="exception"):
        flow.receive_failure("reset", fk.T0)  # type: ignore[arg-type]
    assert flow.state is S.AWAIT_REGISTER


@pytest.mark.parametrize(
    ("now", "words"),
    [
        (math.nan, "nan"),
        (math.inf, "inf"),
        (-1.0, "-1.0"),
        (fk.T0 * 1000, "milliseconds"),
        (10**30, "milliseconds"),
    ],
)
def test_time_must_be_finite_and_in_range(now: float, words: str) -> None:
    """A NaN clock would pass every deadline check (a poll after the deadline); milliseconds
    would overflow the token's expiry. Both are refused, the flow unchanged."""
    flow = new_flow()
    fk.drive(flow, [fk.register_ok(), fk.start_ok()])
    assert flow.state is S.AWAIT_POLL
    before = fk.snapshot(flow)
    with pytest.raises(oidc.ParameterError, match=words):
        flow.receive_response(fk.PENDING, now)
    assert fk.snapshot(flow) == before
    flow.receive_response(fk.PENDING, fk.T0 + 1)
    with pytest.raises(oidc.ParameterError, match=words):
        flow.next_action(now)
    assert fk.snapshot(flow) != before
    assert flow.state is S.POLL


def test_a_restored_flow_never_asks_to_wait_beyond_the_clock_bound() -> None:
    """Saved times may reach the year 3000; the clock is accepted well beyond, so the waits of such
    a flow (and its retries) can be followed."""
    data = _with("not_before", _device.MAX_EPOCH)
    data.update(state="start", code=None)
    flow = oidc.DeviceFlow.from_dict(data)
    trace = fk.drive(flow, [fk.SERVER_ERROR, fk.SERVER_ERROR, fk.start_ok()])
    assert trace.starved
    assert trace.operations == ["StartDeviceAuthorization"] * 3 + ["CreateToken"]
    assert trace.now > _device.MAX_EPOCH


def test_an_integer_clock_is_accepted() -> None:
    trace = fk.drive(new_flow(), [fk.register_ok(), fk.start_ok(), fk.token_ok()], now=int(fk.T0))
    assert isinstance(trace.result, oidc.LoginResult)


def test_done_is_returned_again_and_nothing_more_is_accepted() -> None:
    flow = new_flow()
    trace = fk.drive(flow, [fk.register_ok(), fk.start_ok(), fk.token_ok()])
    result = trace.result
    assert isinstance(result, oidc.LoginResult)
    assert result.token.start_url == fk.START_URL
    assert result.token.region == REGION
    assert result.token.access_token == fk.ACCESS_TOKEN
    assert result.token.refresh_token == fk.REFRESH_TOKEN
    assert result.token.expires_at == _flow.to_datetime(fk.T0 + 1 + 28800)
    assert result.token.client_secret == fk.CLIENT_SECRET
    assert result.registration.client_secret == fk.CLIENT_SECRET
    for _ in range(2):
        assert flow.next_action(fk.T0 + 10**6).result is result
    with pytest.raises(oidc.LocalProtocolError):
        flow.receive_response(fk.token_ok(), fk.T0)


def test_a_failed_flow_raises_the_same_error_forever() -> None:
    flow = new_flow()
    trace = fk.drive(flow, [fk.register_ok(), fk.start_ok(), fk.EXPIRED])
    error = trace.error
    assert isinstance(error, oidc.ExpiredTokenException)
    assert error.status == 400
    for later in (fk.T0, fk.T0 + 5, fk.T0 + 10**6):
        with pytest.raises(oidc.ExpiredTokenException) as raised:
            flow.next_action(later)
        assert raised.value is error
    with pytest.raises(oidc.LocalProtocolError):
        flow.receive_failure(fk.reset(), fk.T0)


# --- save and restore ---------------------------------------------------------------------------

SECRETS = (fk.CLIENT_SECRET, CACHED_SECRET, fk.DEVICE_CODE, fk.ACCESS_TOKEN, fk.REFRESH_TOKEN)


def _resume(flow: oidc.DeviceFlow, **kwargs: Any) -> oidc.DeviceFlow:
    """Save ``flow`` as JSON text, as a web service would between two requests, and restore it."""
    text = json.dumps(flow.to_dict(include_secrets=True))
    return oidc.DeviceFlow.from_dict(json.loads(text), **kwargs)


def test_a_login_is_resumed_mid_poll_and_finishes_the_same() -> None:
    script = [
        fk.register_ok(),
        fk.start_ok(),
        fk.PENDING,
        fk.SLOW_DOWN,
        fk.SERVER_ERROR,
        fk.PENDING,
        fk.token_ok(),
    ]
    whole = fk.drive(new_flow(), script)
    first = new_flow()
    part = fk.drive(first, script[:4])  # registered, started, two polls answered; the third poll sent
    assert part.starved
    assert first.state is S.AWAIT_POLL
    assert first.interval == 6
    second = _resume(first, rng=fk.FixedRandom(0.5))
    assert second.state is S.POLL
    assert second.interval == 6
    assert second.deadline == first.deadline
    rest = fk.drive(second, script[4:], now=part.now)
    assert [(t, type(a).__name__) for t, a in part.actions[:-1] + rest.actions] == [
        (t, type(a).__name__) for t, a in whole.actions
    ]
    assert rest.result.token == whole.result.token
    assert rest.result.registration == whole.result.registration


def test_a_login_is_resumed_in_another_process(tmp_path: Any) -> None:
    import subprocess
    import sys

    flow = new_flow()
    part = fk.drive(flow, [fk.register_ok(), fk.start_ok(), fk.PENDING])
    saved = tmp_path / "login.json"
    saved.write_text(json.dumps(flow.to_dict(include_secrets=True)))
    code = f"""
import json, sys
import sansio_ssooidc as oidc
flow = oidc.DeviceFlow.from_dict(json.loads(open(sys.argv[1]).read()))
now = {part.now!r}
body = json.dumps({{"accessToken": "tok", "tokenType": "Bearer", "expiresIn": 3600}}).encode()
while True:
    action = flow.next_action(now)
    if isinstance(action, oidc.Wait):
        now = action.until
    elif isinstance(action, oidc.Send):
        assert json.loads(action.request.body)["deviceCode"] == {fk.DEVICE_CODE!r}
        flow.receive_response(oidc.HttpResponse(status=200, body=body), now)
    else:
        print(type(action).__name__, action.result.token.client_id, now)
        break
"""
    out = subprocess.run([sys.executable, "-c", code, str(saved)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["Done", fk.CLIENT_ID, repr(part.now)]


@pytest.mark.parametrize("state", [s for s in S if s not in (S.DONE, S.FAILED)], ids=lambda s: s.name)
def test_every_live_state_round_trips(state: oidc.DeviceState) -> None:
    flow = flow_in(state)
    data = flow.to_dict(include_secrets=True)
    restored = oidc.DeviceFlow.from_dict(json.loads(json.dumps(data)))
    resumed_as = {S.AWAIT_REGISTER: S.REGISTER, S.AWAIT_START: S.START, S.AWAIT_POLL: S.POLL}.get(
        state, state
    )
    assert restored.state is resumed_as
    assert restored.to_dict(include_secrets=True) == data
    trace = fk.drive(
        restored, [fk.register_ok(), fk.start_ok(), fk.token_ok()][-_remaining(state) :], now=fk.T0 + 1
    )
    assert isinstance(trace.result, oidc.LoginResult)
    assert len(trace.of(oidc.ShowCode)) == (
        1 if state in (S.REGISTER, S.AWAIT_REGISTER, S.START, S.AWAIT_START, S.SHOW_CODE) else 0
    )


def _remaining(state: oidc.DeviceState) -> int:
    return {S.REGISTER: 3, S.AWAIT_REGISTER: 3, S.START: 2, S.AWAIT_START: 2}.get(state, 1)


def test_a_cached_registration_stays_marked_cached_across_a_restore() -> None:
    flow = new_flow(registration=cached())
    assert isinstance(flow.next_action(fk.T0), oidc.Send)
    restored = _resume(flow)
    assert restored.to_dict()["registration"]["cached"] is True
    trace = fk.drive(restored, [fk.INVALID_CLIENT, fk.register_ok(), fk.start_ok(), fk.token_ok()])
    assert trace.operations[:2] == ["StartDeviceAuthorization", "RegisterClient"]


@pytest.mark.parametrize("state", [S.DONE, S.FAILED], ids=lambda s: s.name)
def test_a_finished_flow_cannot_be_resumed(state: oidc.DeviceState) -> None:
    data = flow_in(state).to_dict(include_secrets=True)
    assert data["state"] == state.value
    with pytest.raises(oidc.ParameterError, match="finished"):
        oidc.DeviceFlow.from_dict(data)


@pytest.mark.parametrize("state", [S.START, S.SHOW_CODE, S.POLL, S.AWAIT_POLL], ids=lambda s: s.name)
def test_without_secrets_the_state_is_safe_to_show_but_not_resumable(state: oidc.DeviceState) -> None:
    flow = flow_in(state)
    data = flow.to_dict()
    text = json.dumps(data)
    for secret in SECRETS:
        assert secret not in text
    assert data["secrets"] is None
    assert data["registration"]["client_id"] == fk.CLIENT_ID  # not a secret
    with pytest.raises(oidc.ParameterError, match="include_secrets=True"):
        oidc.DeviceFlow.from_dict(data)


def test_a_fresh_flow_needs_no_secrets_to_resume() -> None:
    data = new_flow().to_dict()
    assert oidc.DeviceFlow.from_dict(data).state is S.REGISTER


@functools.cache
def _valid_saved() -> dict[str, Any]:
    return flow_in(S.POLL).to_dict(include_secrets=True)


def _with(path: str, value: Any) -> dict[str, Any]:
    data = json.loads(json.dumps(_valid_saved()))
    *parents, last = path.split(".")
    target = data
    for key in parents:
        target = target[key]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()

MALFORMED_STATES: list[tuple[str, Any]] = [
    ("not-a-dict", ["flow", "device"]),
    ("none", None),
    ("other-flow", _with("flow", "authcode")),
    ("version-2", _with("version", 2)),
    ("no-version", _with("version", _DELETE)),
    ("state-unknown", _with("state", "polling")),
    ("state-int", _with("state", 5)),
    ("state-awaiting", _with("state", "await_poll")),
    ("start-url-missing", _with("start_url", _DELETE)),
    ("start-url-int", _with("start_url", 5)),
    ("start-url-empty", _with("start_url", "")),
    ("region-list", _with("region", ["us-east-1"])),
    ("endpoint-ftp", _with("endpoint", "ftp://x")),
    ("client-name-empty", _with("client_name", "")),
    ("scopes-str", _with("scopes", "a b")),
    ("scopes-ints", _with("scopes", [1, 2])),
    ("interval-str", _with("interval", "5")),
    ("interval-float", _with("interval", 5.5)),
    ("interval-zero", _with("interval", 0)),
    ("interval-negative", _with("interval", -5)),
    ("interval-bool", _with("interval", True)),
    ("interval-beyond-a-day", _with("interval", 86401)),
    ("interval-beyond-float", _with("interval", 10**400)),
    ("deadline-missing", _with("deadline", _DELETE)),
    ("deadline-str", _with("deadline", "soon")),
    ("deadline-nan", _with("deadline", math.nan)),
    ("deadline-inf", _with("deadline", math.inf)),
    ("deadline-int-beyond-float", _with("deadline", 10**400)),
    ("deadline-negative", _with("deadline", -5)),
    ("not-before-nan", _with("not_before", math.nan)),
    ("attempt-negative", _with("attempt", -1)),
    ("attempt-float", _with("attempt", 1.0)),
    ("max-expires-zero", _with("max_expires_in", 0)),
    ("max-expires-str", _with("max_expires_in", "1800")),
    ("registration-list", _with("registration", [])),
    ("registration-missing", _with("registration", None)),
    ("registration-client-id-int", _with("registration.client_id", 7)),
    ("registration-client-id-empty", _with("registration.client_id", "")),
    ("registration-expires-str", _with("registration.expires_at", "2024-01-01")),
    ("registration-expires-huge", _with("registration.expires_at", 1e300)),
    ("registration-expires-year-99999", _with("registration.expires_at", 3e12)),
    ("registration-expires-nan", _with("registration.expires_at", math.nan)),
    ("registration-expires-negative-huge", _with("registration.expires_at", -1e20)),
    ("registration-scopes-ints", _with("registration.scopes", [1])),
    ("registration-grants-str", _with("registration.grant_types", "device")),
    ("registration-cached-str", _with("registration.cached", "yes")),
    ("secrets-list", _with("secrets", ["x"])),
    ("secrets-missing", _with("secrets", None)),
    ("client-secret-int", _with("secrets.client_secret", 5)),
    ("client-secret-empty", _with("secrets.client_secret", "")),
    ("device-code-missing", _with("secrets.device_code", _DELETE)),
    ("device-code-empty", _with("secrets.device_code", "")),
    ("code-missing", _with("code", None)),
    ("code-list", _with("code", [])),
    ("user-code-missing", _with("code.user_code", _DELETE)),
    ("verification-uri-int", _with("code.verification_uri", 1)),
    ("verification-complete-int", _with("code.verification_uri_complete", 1)),
]


@pytest.mark.parametrize("data", [c[1] for c in MALFORMED_STATES], ids=[c[0] for c in MALFORMED_STATES])
def test_malformed_saved_states_are_refused_with_parameter_error(data: Any) -> None:
    with pytest.raises(oidc.ParameterError) as raised:
        oidc.DeviceFlow.from_dict(data)
    assert "KeyError" not in repr(raised.value)


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
        max_leaves=6,
    )


def _paths(data: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        out.append(prefix + key)
        if isinstance(value, dict):
            out.extend(_paths(value, prefix + key + "."))
    return out


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_fuzzed_saved_states_restore_or_raise_parameter_error(data: st.DataObject) -> None:
    """Any one member replaced by any JSON value (or removed): from_dict returns a flow that runs
    to a typed end, or raises ParameterError; never KeyError, TypeError, OverflowError..."""
    path = data.draw(st.sampled_from(_paths(_valid_saved())))
    value = data.draw(st.one_of(_json_values(), st.just(_DELETE)))
    saved = _with(path, value)
    try:
        flow = oidc.DeviceFlow.from_dict(saved)
    except oidc.ParameterError:
        return
    trace = fk.drive(flow, [fk.register_ok(), fk.start_ok(), fk.PENDING, fk.token_ok()], now=fk.T0 + 1)
    assert trace.result is not None or trace.error is not None or trace.starved


# --- logging and secrets --------------------------------------------------------------------------

#: Responses that carry secrets the flow must never echo: a 200 whose token type is wrong, a
#: truncated token, an error whose message quotes the device code as JSON.
LEAKY = [
    fk.json_response(200, {"accessToken": fk.ACCESS_TOKEN, "tokenType": "MAC", "expiresIn": 60}),
    oidc.HttpResponse(
        status=200, body=b'{"refreshToken": "' + fk.REFRESH_TOKEN.encode() + b'", "accessToken": "acc'
    ),
    fk.json_response(500, {"message": f'bad request {{"deviceCode": "{fk.DEVICE_CODE}"}}'}),
    fk.json_response(502, {"clientSecret": fk.CLIENT_SECRET}),
]


def test_debug_logs_and_errors_never_show_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sansio_ssooidc")
    seen: list[str] = []
    scripts: list[tuple[oidc.CachedRegistration | None, list[fk.Outcome]]] = [
        (
            cached(),
            [
                fk.SERVER_ERROR,
                fk.INVALID_CLIENT,
                fk.SLOW_DOWN,
                fk.register_ok(),
                fk.reset(),
                fk.start_ok(),
                *LEAKY,
                fk.token_ok(),
            ],
        ),
        (None, [fk.register_ok(), fk.start_ok(), *LEAKY, fk.MALFORMED]),  # retries exhausted on a leaky body
        (None, [fk.register_ok(), fk.start_ok(), fk.PENDING, fk.DENIED]),
        (None, [fk.register_ok(), fk.start_ok(expires_in=3), fk.PENDING, fk.PENDING]),
    ]
    for registration, script in scripts:
        flow = new_flow(registration=registration)
        trace = fk.drive(flow, script)
        assert not trace.starved
        seen.append(repr(trace.result))
        seen.append(str(trace.error) + repr(trace.error))
        if isinstance(trace.error, oidc.RetriesExhaustedError):
            seen.append(str(trace.error.last_error) + repr(trace.error.last_error))
        seen.extend(repr(a) for _, a in trace.actions)
        seen.append(repr(flow.to_dict()))
        seen.append(
            repr(
                oidc.DeviceFlow.from_dict(flow.to_dict(include_secrets=True))
                if flow.state not in (S.DONE, S.FAILED)
                else ""
            )
        )
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) >= 10  # the flows did log their retries and failures
    assert any("retry" in m for m in messages)
    assert any("failed" in m for m in messages)
    assert any("registering again" in m for m in messages)
    text = "\n".join(messages + seen)
    for secret in SECRETS:
        assert secret not in text, secret
