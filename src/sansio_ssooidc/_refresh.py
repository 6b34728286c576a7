"""Token refresh as a state machine: decide, then refresh if the policy says so. Everything that
affects it lives here.

    DECIDE -> DONE (fresh, or not refreshable but still valid)
    DECIDE -> REFRESH <-> AWAIT_REFRESH -> DONE
    any -> FAILED (login required, or a mandatory refresh failed)

AWAIT_REFRESH goes back to REFRESH on a retry, and on ``abandon_send``.

botocore's policy (WIRE.md): refresh when under 15 minutes remain (advisory: a failure keeps the
old token), mandatory under 10 minutes (a failure is an error), at most one attempt per 60 s, no
refresh once the registration has expired; a response without a refresh token keeps the old one.
"""

from __future__ import annotations

import dataclasses
import enum
import random
from collections.abc import Mapping

from ._awsfiles import CachedToken
from ._endpoints import resolve_endpoint
from ._errors import (
    InvalidClientException,
    InvalidGrantException,
    ParameterError,
    RemoteProtocolError,
    ServiceError,
    SlowDownException,
)
from ._flow import (
    Action,
    Done,
    FlowError,
    Machine,
    RetriesExhaustedError,
    RetryPolicy,
    Send,
    TransportError,
    Wait,
    check_now,
    is_transient,
    to_datetime,
)
from ._http import HttpResponse
from ._operations import GRANT_REFRESH_TOKEN, CreateToken
from ._values import Record, member

__all__ = ["LoginRequiredError", "LoginRequiredReason", "RefreshFlow", "RefreshResult", "RefreshState"]

#: Refresh when less than this remains (seconds); a failure keeps the old token (botocore: 15 min).
ADVISORY_REFRESH = 15 * 60
#: Refresh must succeed when less than this remains (seconds) (botocore: 10 min).
MANDATORY_REFRESH = 10 * 60
#: At most one refresh attempt per this many seconds (botocore: 60 s).
MIN_ATTEMPT_INTERVAL = 60


class LoginRequiredReason(enum.Enum):
    """Why a token cannot be refreshed and a new login is needed."""

    NO_REFRESH_TOKEN = "the cached token has no refresh token"
    LEGACY_TOKEN = (
        "the token comes from a legacy profile (sso_start_url without sso_session), which cannot refresh"
    )
    REGISTRATION_EXPIRED = "the client registration has expired"
    REFRESH_REJECTED = "the service rejected the refresh token (expired, revoked or logged out)"
    REFRESH_RESPONSE_LOST = (
        "the service refused the refresh token after an earlier refresh got no answer (it timed out, "
        "failed in transport or was abandoned): that refresh most likely rotated the token"
    )
    TOKEN_EXPIRED = "the token has expired and a refresh was attempted less than a minute ago"
    #: Given with a token that is still valid: not refreshed now, the next attempt waits out the minute.
    REFRESH_TOO_SOON = (
        "a refresh was attempted less than a minute ago; the next waits until that minute is over"
    )


class LoginRequiredError(FlowError):
    """The cached token cannot be used or refreshed; ``reason`` says why. Log in again."""

    def __init__(self, reason: LoginRequiredReason) -> None:
        self.reason = reason
        super().__init__(f"login required: {reason.value}; run the login again")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RefreshResult(Record):
    """The token to use. ``refreshed`` says whether it is new (write it to the cache);
    ``attempted`` whether a refresh was tried (record the time for the 60 s rule);
    ``reason``/``error`` say why an old token is returned when a refresh was due."""

    token: CachedToken = member(kind="any")
    refreshed: bool = member(kind="bool", default=False)
    attempted: bool = member(kind="bool", default=False)
    reason: LoginRequiredReason | None = member(kind="any")
    error: BaseException | None = member(kind="any")


class RefreshState(enum.Enum):
    """The states of :class:`RefreshFlow`."""

    DECIDE = "decide"
    REFRESH = "refresh"
    AWAIT_REFRESH = "await_refresh"
    DONE = "done"
    FAILED = "failed"


R = RefreshState
#: Every legal move; a move not listed is a bug and raises.
TRANSITIONS: Mapping[RefreshState, frozenset[RefreshState]] = {
    R.DECIDE: frozenset({R.DONE, R.REFRESH, R.FAILED}),
    R.REFRESH: frozenset({R.AWAIT_REFRESH, R.DONE, R.FAILED}),
    R.AWAIT_REFRESH: frozenset({R.REFRESH, R.DONE, R.FAILED}),
    R.DONE: frozenset(),
    R.FAILED: frozenset(),
}
#: The state that sends the awaited request again (after a transient failure or ``abandon_send``).
RESEND: Mapping[RefreshState, RefreshState] = {R.AWAIT_REFRESH: R.REFRESH}


class RefreshFlow(Machine[RefreshState, RefreshResult]):
    """Decide from a cached token, the time and the last attempt whether to refresh, and do it.

    ``last_attempt`` is when a refresh of this token was last tried (epoch seconds), for the
    one-per-minute rule. ``legacy`` marks a token of a legacy profile (never refreshed).
    Thresholds are parameters with botocore's defaults.
    """

    TRANSITIONS = TRANSITIONS
    AWAITING = frozenset({R.AWAIT_REFRESH})
    RESEND = RESEND
    DONE = R.DONE
    FAILED = R.FAILED

    __slots__ = (
        "_deadline",
        "_endpoint",
        "_mandatory",
        "advisory",
        "last_attempt",
        "legacy",
        "mandatory",
        "token",
    )

    def __init__(
        self,
        *,
        token: CachedToken,
        region: str | None = None,
        endpoint: str | None = None,
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        retry: RetryPolicy | None = None,
        last_attempt: float | None = None,
        legacy: bool = False,
        advisory: float = ADVISORY_REFRESH,
        mandatory: float = MANDATORY_REFRESH,
    ) -> None:
        super().__init__(R.DECIDE, rng=rng, retry=retry)
        if not isinstance(token, CachedToken):
            raise ParameterError("token must be a CachedToken (load_token() gives one)")
        self.advisory = check_now(advisory)
        self.mandatory = check_now(mandatory)
        if not 0 <= self.mandatory <= self.advisory:
            raise ParameterError("refresh thresholds must satisfy 0 <= mandatory <= advisory")
        self.last_attempt = None if last_attempt is None else check_now(last_attempt)
        self.token = token
        self.legacy = bool(legacy)
        region = region or token.region
        if not region and endpoint is None:
            raise ParameterError("the token names no region; pass region= (the session's sso_region)")
        self._endpoint = resolve_endpoint(region, endpoint_url=endpoint, environ=environ)
        self._mandatory = False
        self._deadline: float | None = None

    @property
    def deadline(self) -> float | None:
        """When attempts at this refresh end (epoch seconds), once decided: the opening of the
        mandatory window for an advisory refresh, the expiry for a mandatory one; ``None`` for an
        expired token, whose attempts are bounded by the retry policy alone."""
        return self._deadline

    def _why_not_refreshable(self, now: float) -> LoginRequiredReason | None:
        token = self.token
        if self.legacy:
            return LoginRequiredReason.LEGACY_TOKEN
        if not token.refresh_token or not token.client_id or not token.client_secret:
            return LoginRequiredReason.NO_REFRESH_TOKEN
        expires = token.registration_expires_at
        if expires is not None and expires.timestamp() <= now:
            return LoginRequiredReason.REGISTRATION_EXPIRED
        if self.last_attempt is not None and now - self.last_attempt < MIN_ATTEMPT_INTERVAL:
            return LoginRequiredReason.TOKEN_EXPIRED
        return None

    def _advance(self, now: float) -> Action:
        if self._state is R.DECIDE:
            remaining = self.token.expires_at.timestamp() - now
            if remaining > self.advisory:
                return self._finish(RefreshResult(token=self.token))
            reason = self._why_not_refreshable(now)
            if reason is not None:
                if remaining > 0:  # still usable: hand it out, saying why it was not refreshed
                    if reason is LoginRequiredReason.TOKEN_EXPIRED:  # not expired: only too soon
                        reason = LoginRequiredReason.REFRESH_TOO_SOON
                    return self._finish(RefreshResult(token=self.token, reason=reason))
                raise self._fail(LoginRequiredError(reason))
            self._mandatory = remaining <= self.mandatory
            # An advisory refresh gives up when the mandatory window opens; a mandatory one when
            # the token expires (or, for an expired token, after its bounded attempts).
            expiry = self.token.expires_at.timestamp()
            self._deadline = (
                expiry - self.mandatory if not self._mandatory else (expiry if remaining > 0 else None)
            )
            self._move(R.REFRESH)
        elif self._deadline is not None and now >= self._deadline:
            # Woken late for a retry, or resumed after an abandoned send, once the window for
            # another attempt has closed: no request at or after the deadline; the retry ends here.
            assert self._last_error is not None
            self._give_up(self._last_error, True, now, late=True)
            if self._state is R.FAILED:
                assert self._error is not None
                raise self._error
            return Done(result=self._result)
        if now < self._not_before:
            return Wait(until=self._not_before)
        token = self.token
        assert token.client_id is not None
        assert token.client_secret is not None
        self._attempt += 1
        self._move(R.AWAIT_REFRESH)
        op = CreateToken(
            client_id=token.client_id,
            client_secret=token.client_secret,
            grant_type=GRANT_REFRESH_TOKEN,
            refresh_token=token.refresh_token,
        )
        return Send(request=op.to_request(self._endpoint), operation="CreateToken")

    def _on_response(self, response: HttpResponse, now: float) -> None:
        try:
            result = _REFRESH_PARSER.parse_response(response)
        except (ServiceError, RemoteProtocolError) as exc:
            self._on_error(exc, now)
            return
        new = dataclasses.replace(
            self.token,
            access_token=result.access_token,
            expires_at=to_datetime(now + result.expires_in),
            refresh_token=result.refresh_token or self.token.refresh_token,
        )
        self._finish(RefreshResult(token=new, refreshed=True, attempted=True))

    def _on_error(self, error: BaseException, now: float) -> None:
        # SlowDown outside polling is backoff, like throttling (as in DeviceFlow).
        transient = is_transient(error) or isinstance(error, SlowDownException)
        if transient and self._attempt < self.retry.max_attempts:
            delay = self.retry.delay(self._attempt, self._rng)
            if self._deadline is None or now + delay < self._deadline:
                self._last_error = error
                self._not_before = now + delay
                self._move(R.REFRESH)
                return
        self._give_up(error, transient, now)

    def _on_abandon(self, now: float) -> None:
        self._last_error = TransportError("the refresh request was abandoned before its answer")

    def _give_up(self, error: BaseException, transient: bool, now: float, *, late: bool = False) -> None:
        """End the refresh with ``error``: the old token if still good (advisory), else the error."""
        final: BaseException = error
        reason = None
        if isinstance(error, (InvalidGrantException, InvalidClientException)):
            # An InvalidGrant after a refresh that got no answer: that refresh rotated the token.
            lost = self._unanswered is not None and isinstance(error, InvalidGrantException)
            reason = (
                LoginRequiredReason.REFRESH_RESPONSE_LOST if lost else LoginRequiredReason.REFRESH_REJECTED
            )
            final = LoginRequiredError(reason)
        elif transient:
            final = RetriesExhaustedError(
                (
                    f"refresh deadline passed before another attempt (after {self._attempt}): {error}"
                    if late
                    else f"refresh failed after {self._attempt} attempts: {error}"
                ),
                last_error=error,
            )
        final.__cause__ = error if final is not error else None
        # Advisory: the old token is still good for a while, unless it expired meanwhile (a slow
        # response or a suspended machine); botocore then fails too ("Token has expired and refresh failed").
        if not self._mandatory and now < self.token.expires_at.timestamp():
            self._finish(RefreshResult(token=self.token, attempted=True, reason=reason, error=final))
            return
        self._fail(final)


_REFRESH_PARSER = CreateToken(client_id="-", client_secret="-", grant_type=GRANT_REFRESH_TOKEN)
