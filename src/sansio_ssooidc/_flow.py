"""What every flow shares: the actions it emits, its errors, retry with backoff, and the
machinery that enforces each flow's transition table.

A flow is driven by three calls (h11 style): ``next_action(now)`` says what to do next
(:class:`Send`, :class:`Wait`, :class:`ShowCode`, :class:`OpenBrowser`, :class:`AwaitRedirect`,
:class:`Done`), and the outcome of a :class:`Send` comes back through ``receive_response`` or
``receive_failure`` -- or, when the caller stopped waiting for it (cancelled), ``abandon_send``.
A flow that has failed raises its error from every later ``next_action``.
Time (``now``, epoch seconds as ``time.time()`` gives) and randomness are inputs.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import random
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, ClassVar, Generic, TypeVar

from ._errors import (
    InvalidGrantException,
    LocalProtocolError,
    ParameterError,
    RemoteProtocolError,
    ServiceError,
    SSOOIDCError,
    redact,
)
from ._http import HttpRequest, HttpResponse
from ._operations import MAX_EPOCH
from ._values import Record, Value, member

__all__ = [
    "Action",
    "AwaitRedirect",
    "Done",
    "FlowError",
    "LoginTimeoutError",
    "LostResponseError",
    "OpenBrowser",
    "RetriesExhaustedError",
    "RetryPolicy",
    "Send",
    "ShowCode",
    "TransportError",
    "Wait",
]

logger = logging.getLogger("sansio_ssooidc")

ResultT = TypeVar("ResultT")
StateT = TypeVar("StateT", bound=enum.Enum)


# --- actions -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Send(Record):
    """Send ``request`` now and report the outcome with ``receive_response`` or ``receive_failure``.

    ``operation`` names the API call (``"CreateToken"``) for logs and metrics.
    """

    request: HttpRequest = member()
    operation: str = member()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Wait(Record):
    """Sleep until ``until`` (epoch seconds), then ask for the next action."""

    until: float = member()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ShowCode(Record):
    """Show the user the code and where to enter it; emitted once. ``expires_at`` is the deadline."""

    user_code: str = member()
    verification_uri: str = member()
    verification_uri_complete: str | None = member()
    expires_at: float = member()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class OpenBrowser(Record):
    """Open ``url`` in the user's browser (or show it); emitted once."""

    url: str = member()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class AwaitRedirect(Record):
    """Wait for the browser's redirect until ``until`` and pass its query to ``receive_redirect``;
    at ``until`` ask for the next action (the flow then ends with :class:`LoginTimeoutError`)."""

    until: float = member()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Done(Record, Generic[ResultT]):
    """The flow finished; ``result`` is its outcome."""

    result: ResultT = member(kind="any")


#: What ``next_action(now)`` returns: send a request, wait, show a code, open a browser, await the
#: redirect, or done with the result.
Action = Send | Wait | ShowCode | OpenBrowser | AwaitRedirect | Done[Any]


# --- errors ------------------------------------------------------------------------------------


class FlowError(SSOOIDCError):
    """A flow could not reach its result."""


class LoginTimeoutError(FlowError):
    """The deadline passed before the user finished logging in; start a new login."""

    def __init__(self, message: str, *, deadline: float) -> None:
        self.deadline = deadline
        super().__init__(message)


class TransportError(FlowError, ConnectionError):
    """A transport failure an adapter reported with an exception of its own kind (an anyio
    ``BrokenResourceError``, say): transient like any connection error; the original is the cause."""


class LostResponseError(FlowError):
    """A single-use grant was refused after an earlier request that redeems it got no answer.

    The request (a device code poll, the authorization code exchange) timed out, failed in transport
    or was abandoned (``abandon_send``), the flow sent it again, and the service refused the retry
    with ``InvalidGrantException`` (the ``__cause__``): it had most likely redeemed the grant in
    answer to the lost request. A grant works once, so this login cannot finish; run it again.
    ``grant`` names it (``"device code"``), ``lost`` says how the last unanswered request ended
    (``"TimeoutError: timed out"``, ``"abandoned"``). An ``InvalidGrantException`` after requests
    that were all answered is raised as it is. (:class:`RefreshFlow` reports the same case as
    :class:`LoginRequiredError` with reason ``REFRESH_RESPONSE_LOST``.)
    """

    def __init__(self, message: str, *, grant: str, lost: str) -> None:
        self.grant = grant
        self.lost = lost
        super().__init__(message)


class RetriesExhaustedError(FlowError):
    """Transient failures went on for every allowed attempt; ``last_error`` is the final one."""

    def __init__(self, message: str, *, last_error: BaseException) -> None:
        self.last_error = last_error
        super().__init__(message)


# --- retry policy --------------------------------------------------------------------------------

#: Codes of throttling errors, retried with backoff (botocore's standard retry mode list, subset).
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
    }
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RetryPolicy(Value):
    """Capped exponential backoff with full jitter for transient failures.

    ``max_attempts`` counts consecutive attempts of one request (the first included). Defaults:
    botocore's standard mode allows 3; a login is worth a little more patience, so 5, which
    with ``base`` 1 s and ``cap`` 20 s waits at most about 35 s in all before giving up.
    """

    max_attempts: int = member(kind="int", default=5)
    base: float = member(kind="any", default=1.0)
    cap: float = member(kind="any", default=20.0)

    def __post_init__(self) -> None:
        Value.__post_init__(self)
        if self.max_attempts < 1:
            raise ParameterError(f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}")
        for name in ("base", "cap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3600:
                raise ParameterError(f"RetryPolicy.{name} must be a number of seconds within 0..3600")

    def delay(self, attempt: int, rng: random.Random | None) -> float:
        """The wait before retry number ``attempt`` (1 for the first retry).

        Full jitter (uniform in ``0..min(cap, base * 2**(attempt-1))``) from ``rng``; without an
        ``rng`` the upper bound itself, which is deterministic but loses the jitter.
        """
        ceiling = min(self.cap, self.base * (2 ** min(attempt - 1, 30)))
        return ceiling if rng is None else rng.uniform(0, ceiling)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` may go away if the same request is sent again later."""
    if isinstance(error, ServiceError):
        return error.retryable or error.code in THROTTLING_CODES or error.status >= 500 or error.status == 429
    # Malformed bodies are retried too: a truncating proxy or a flaky load balancer, not a
    # service that will keep answering garbage; the attempt bound stops a persistent one.
    return isinstance(error, (RemoteProtocolError, OSError, TimeoutError, ConnectionError))


def to_datetime(seconds: float) -> datetime:
    """Epoch seconds as an aware UTC datetime (whole seconds, as the AWS CLI cache stores)."""
    return datetime.fromtimestamp(int(seconds), timezone.utc)


def check_now(now: object) -> float:
    """``now`` as a float, or a clear error for a datetime or a non-number."""
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise ParameterError(f"now must be epoch seconds as a float (time.time()), not {type(now).__name__}")
    return float(now)


#: The latest ``now`` accepted (about the year 4060): twice the latest time a saved flow may hold
#: (MAX_EPOCH, the year 3000), so every Wait a flow asks for stays below it, while a clock in
#: milliseconds (1.7e12) is refused and every expiry computed from ``now`` fits in a datetime.
MAX_CLOCK = 2 * MAX_EPOCH


def _check_clock(now: object) -> float:
    """``now`` of a pull or a receive: finite epoch seconds from 0 to :data:`MAX_CLOCK`. A NaN would
    pass every deadline check, and milliseconds would overflow the expiry times computed from it."""
    if type(now) is float and 0.0 <= now <= MAX_CLOCK:  # the usual case, at every call
        return now
    value = check_now(now)
    if not 0 <= value <= MAX_CLOCK:  # also false for NaN
        hint = " (milliseconds?)" if value > MAX_CLOCK else ""
        raise ParameterError(
            f"now must be epoch seconds (time.time()) from 0 to {MAX_CLOCK}, got {value!r}{hint}"
        )
    return value


# --- the machine base ------------------------------------------------------------------------

#: What ``_unanswered`` holds after :meth:`Machine.abandon_send`.
ABANDONED = "abandoned"
#: The longest description of an unanswered request kept (and saved): a transport error's message
#: can be long, and only its start helps.
_MAX_UNANSWERED = 200


class Machine(Generic[StateT, ResultT]):
    """Enforces a flow's transition table; subclasses hold the protocol logic.

    ``TRANSITIONS`` maps each state to the states it may move to; ``AWAITING`` is the set of
    states in which a response is outstanding (only then may ``receive_*`` and ``abandon_send`` be
    called, and never ``next_action``); ``RESEND`` maps each of them to the state that sends its
    request again. ``DONE`` and ``FAILED`` are the terminal states.
    """

    TRANSITIONS: ClassVar[Mapping[Any, frozenset[Any]]]
    AWAITING: ClassVar[frozenset[Any]]
    RESEND: ClassVar[Mapping[Any, Any]]
    DONE: ClassVar[Any]
    FAILED: ClassVar[Any]

    __slots__ = (
        "_attempt",
        "_error",
        "_last_error",
        "_not_before",
        "_result",
        "_rng",
        "_state",
        "_unanswered",
        "retry",
    )

    def __init__(self, initial: StateT, *, rng: random.Random | None, retry: RetryPolicy | None) -> None:
        if rng is not None and not isinstance(rng, random.Random):
            raise ParameterError("rng must be a random.Random (random.SystemRandom() in production)")
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ParameterError("retry must be a RetryPolicy")
        self._state: StateT = initial
        self._rng = rng
        self.retry = retry or RetryPolicy()
        self._not_before = 0.0
        self._attempt = 0
        self._error: BaseException | None = None
        self._last_error: BaseException | None = None
        self._result: ResultT | None = None
        # How the last request whose outcome is unknown ended (a transport failure, or abandoned),
        # since the flow last made progress; None when every request since was answered.
        self._unanswered: str | None = None

    @property
    def state(self) -> StateT:
        """The current state."""
        return self._state

    def _move(self, new: StateT) -> None:
        if new not in self.TRANSITIONS[self._state]:  # pragma: no cover - a bug in the flow itself
            raise AssertionError(f"illegal transition {self._state.name} -> {new.name}")
        self._state = new

    def _fail(self, error: BaseException) -> BaseException:
        self._error = error
        self._move(self.FAILED)
        logger.debug("%s failed: %s", type(self).__name__, error)
        return error

    def _finish(self, result: ResultT) -> Done[ResultT]:
        self._result = result
        self._move(self.DONE)
        return Done(result=result)

    def _progress(self) -> None:
        """The flow moved on (a step succeeded, or a poll was answered): a new count of attempts,
        and no request left whose outcome is unknown."""
        self._attempt = 0
        self._unanswered = None

    def _check_pull(self, now: object) -> float:
        if self._state in self.AWAITING:
            raise LocalProtocolError(
                f"{type(self).__name__} is waiting for the response to the last Send; "
                "call receive_response(), receive_failure() or abandon_send() first"
            )
        return _check_clock(now)

    def _check_receive(self, now: object, what: str = "only report the outcome of a Send action") -> float:
        if self._state not in self.AWAITING:
            raise LocalProtocolError(
                f"{type(self).__name__} has no request outstanding (state {self._state.name}); {what}"
            )
        return _check_clock(now)

    def next_action(self, now: float) -> Action:
        """What to do next at time ``now``. Raises the flow's error once it has failed."""
        now = self._check_pull(now)
        if self._state is self.FAILED:
            assert self._error is not None
            raise self._error
        if self._state is self.DONE:
            return Done(result=self._result)
        return self._advance(now)

    def receive_response(self, response: HttpResponse, now: float) -> None:
        """Report the response to the last :class:`Send`."""
        now = self._check_receive(now)
        if not isinstance(response, HttpResponse):
            raise ParameterError(f"response must be an HttpResponse, not {type(response).__name__}")
        self._on_response(response, now)

    def receive_failure(self, error: BaseException, now: float) -> None:
        """Report that the last :class:`Send` failed in transport (timeout, refused, reset, TLS...).

        The flow decides whether to retry (with backoff) or to give up with ``error`` as cause.
        """
        now = self._check_receive(now)
        if not isinstance(error, BaseException):
            raise ParameterError("error must be an exception")
        if not isinstance(error, ConnectionRefusedError):  # a refused request never reached the service
            self._unanswered = f"{type(error).__name__}: {redact(str(error))}"[:_MAX_UNANSWERED]
        if not isinstance(error, (OSError, RemoteProtocolError)):
            # Whatever the adapter's library calls it, a failed send is a transport failure.
            wrapped = TransportError(f"transport failure: {type(error).__name__}: {redact(str(error))}")
            wrapped.__cause__ = error
            error = wrapped
        self._on_error(error, now)

    def abandon_send(self, now: float) -> None:
        """Give up on the last :class:`Send`: its outcome will never be reported.

        Call it when the code driving the flow stops waiting for the response (a cancel scope or
        timeout around the send, Ctrl-C): the flow goes back to the state that sends that request
        again, so a later ``next_action`` resumes the login. The abandoned attempt does not count
        against :class:`RetryPolicy` and adds no backoff; a device code poll waits its usual
        interval from ``now`` (never polling after the deadline). The flow remembers that the
        request may have reached the service: should the service then refuse the grant it redeems,
        the login ends with :class:`LostResponseError` rather than a bare ``InvalidGrantException``.
        Raises :class:`LocalProtocolError` when no Send is outstanding, and changes nothing then.
        """
        now = self._check_receive(now, "abandon_send() only gives up on a Send not yet answered")
        logger.debug("%s: the caller abandoned the request in %s", type(self).__name__, self._state.name)
        self._attempt -= 1
        self._unanswered = ABANDONED
        self._move(self.RESEND[self._state])
        self._on_abandon(now)

    def _lost_response(self, error: BaseException, grant: str, operation: str) -> LostResponseError | None:
        """:class:`LostResponseError` for an InvalidGrant ``error`` after an unanswered request, else None."""
        if self._unanswered is None or not isinstance(error, InvalidGrantException):
            return None
        lost = LostResponseError(
            f"the service refused the {grant} (InvalidGrantException) after an earlier {operation} got no "
            f"answer ({self._unanswered}): it most likely redeemed the {grant} in answer to that request, "
            "and a grant can be redeemed only once, so this login cannot finish; run the login again",
            grant=grant,
            lost=self._unanswered,
        )
        lost.__cause__ = error
        return lost

    def _retry_or_fail(
        self,
        error: BaseException,
        now: float,
        retry_state: StateT,
        deadline: float | None,
        *,
        transient: bool | None = None,
    ) -> None:
        """Back off and go to ``retry_state``, or fail if attempts or the deadline run out.

        ``transient`` overrides :func:`is_transient` (SlowDown outside polling is backoff, too).
        """
        self._last_error = error
        if not (is_transient(error) if transient is None else transient):
            self._fail(error)
            return
        if self._attempt >= self.retry.max_attempts:
            exhausted = RetriesExhaustedError(
                f"gave up after {self._attempt} attempts; last error: {error}", last_error=error
            )
            exhausted.__cause__ = error
            self._fail(exhausted)
            return
        delay = self.retry.delay(self._attempt, self._rng)
        if deadline is not None and now + delay >= deadline:
            timeout = LoginTimeoutError(
                f"the deadline passes before the next retry; last error: {error}", deadline=deadline
            )
            timeout.__cause__ = error
            self._fail(timeout)
            return
        logger.debug("%s: transient %s, retry %d in %.2fs", type(self).__name__, error, self._attempt, delay)
        self._not_before = now + delay
        self._move(retry_state)

    # subclasses
    def _on_abandon(self, now: float) -> None:
        """After :meth:`abandon_send` moved to the resending state; nothing more by default."""

    def _advance(self, now: float) -> Action:
        raise NotImplementedError

    def _on_response(self, response: HttpResponse, now: float) -> None:
        raise NotImplementedError

    def _on_error(self, error: BaseException, now: float) -> None:
        raise NotImplementedError


class SavedState:
    """Typed reads from a dict saved by a flow's ``to_dict``; every problem is a ParameterError."""

    __slots__ = ("_data", "_flow", "_where")

    def __init__(self, data: object, flow: str, *, where: str | None = None) -> None:
        if not isinstance(data, Mapping):
            raise ParameterError(f"saved flow state must be a dict, not {type(data).__name__}")
        if where is None and (data.get("flow") != flow or data.get("version") != 1):
            raise ParameterError(
                f"not a saved {flow} flow state (flow={data.get('flow')!r}, version={data.get('version')!r})"
            )
        self._data = data
        self._flow = flow
        self._where = f"{where}." if where else ""

    def get(self, key: str, kind: type, *, optional: bool = False) -> Any:
        """``data[key]``, checked to be a ``kind`` (an int is accepted for a float)."""
        value = self._data.get(key)
        if value is None and optional:
            return None
        ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            try:
                value, ok = float(value), True
            except OverflowError:  # an integer beyond any float
                ok = False
        if not ok:
            raise ParameterError(
                f"saved {self._flow} flow state: {self._where}{key} must be a {kind.__name__}, "
                f"not {type(value).__name__}"
            )
        return value

    def state(self, enum_type: type[StateT]) -> StateT:
        """The saved state as a member of ``enum_type``."""
        name = self.get("state", str)
        try:
            return enum_type(name)
        except ValueError:
            raise ParameterError(f"saved {self._flow} flow state: unknown state {name!r}") from None
