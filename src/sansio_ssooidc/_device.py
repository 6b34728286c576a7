"""The device authorization flow (RFC 8628) as a state machine. Everything that affects it lives here.

    REGISTER -> AWAIT_REGISTER -> START -> AWAIT_START -> SHOW_CODE -> POLL <-> AWAIT_POLL -> DONE

A usable cached registration skips REGISTER; a cached one the service rejects (InvalidClient) is
dropped and registration done once afresh. Any state may end in FAILED. Each AWAIT_* state goes
back to the state that sent its request on a retry, and on ``abandon_send``.

Polling (RFC 8628 section 3.5): "the client SHOULD wait at least 5 seconds" when no interval is
given; "slow_down ... the interval MUST be increased by 5 seconds for this and all subsequent
requests"; ``authorization_pending`` keeps polling; ``expired_token`` and ``access_denied`` end it.
No poll is ever sent at or after the device code's deadline.
"""

from __future__ import annotations

import dataclasses
import enum
import random
from collections.abc import Mapping, Sequence
from typing import Any

from ._awsfiles import CachedRegistration, CachedToken
from ._endpoints import resolve_endpoint
from ._errors import (
    AuthorizationPendingException,
    InvalidClientException,
    ParameterError,
    ParameterTypeError,
    RemoteProtocolError,
    ServiceError,
    SlowDownException,
)
from ._flow import (
    _MAX_UNANSWERED,
    ABANDONED,
    Action,
    LoginTimeoutError,
    Machine,
    RetriesExhaustedError,
    RetryPolicy,
    SavedState,
    Send,
    ShowCode,
    Wait,
    is_transient,
    logger,
    to_datetime,
)
from ._http import HttpRequest, HttpResponse
from ._operations import (
    GRANT_DEVICE_CODE,
    MAX_DEVICE_CODE_LIFETIME,
    MAX_EPOCH,
    CreateToken,
    CreateTokenResult,
    RegisterClient,
    StartDeviceAuthorization,
)
from ._register import REGISTRATION_MIN_VALIDITY, registration_from_response, usable_registration
from ._values import Record, member

__all__ = ["DeviceFlow", "DeviceState", "LoginResult"]

#: RFC 8628 section 3.2: the default poll interval when the service sends none.
DEFAULT_INTERVAL = 5
#: RFC 8628 section 3.5: what each slow_down adds to the interval, for the rest of the flow.
SLOW_DOWN_STEP = 5
#: Longest device-code lifetime honoured (seconds): the service sends 600; this bounds a
#: hostile or buggy value while leaving the service room to grow.
DEFAULT_MAX_EXPIRES_IN = 1800


class DeviceState(enum.Enum):
    """The states of :class:`DeviceFlow`."""

    REGISTER = "register"
    AWAIT_REGISTER = "await_register"
    START = "start"
    AWAIT_START = "await_start"
    SHOW_CODE = "show_code"
    POLL = "poll"
    AWAIT_POLL = "await_poll"
    DONE = "done"
    FAILED = "failed"


S = DeviceState
#: Every legal move; a move not listed is a bug and raises.
TRANSITIONS: Mapping[DeviceState, frozenset[DeviceState]] = {
    S.REGISTER: frozenset({S.AWAIT_REGISTER, S.START}),
    S.AWAIT_REGISTER: frozenset({S.START, S.REGISTER, S.FAILED}),
    S.START: frozenset({S.AWAIT_START}),
    S.AWAIT_START: frozenset({S.SHOW_CODE, S.START, S.REGISTER, S.FAILED}),
    S.SHOW_CODE: frozenset({S.POLL}),
    S.POLL: frozenset({S.AWAIT_POLL, S.FAILED}),
    S.AWAIT_POLL: frozenset({S.POLL, S.DONE, S.FAILED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset(),
}
#: The state that sends each awaited request again (after a transient failure, ``abandon_send``, or
#: in a saved state).
RESEND: Mapping[DeviceState, DeviceState] = {
    S.AWAIT_REGISTER: S.REGISTER,
    S.AWAIT_START: S.START,
    S.AWAIT_POLL: S.POLL,
}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class LoginResult(Record):
    """A completed login: the token and the registration, both ready for the AWS CLI's cache."""

    token: CachedToken = member(kind="any")
    registration: CachedRegistration = member(kind="any")


class DeviceFlow(Machine[DeviceState, "LoginResult"]):
    """Log in with the device authorization grant.

    ``registration`` is a cached registration to reuse when it has more than 15 minutes left and
    was made for the same scopes. ``endpoint`` overrides the URL resolved from ``region`` (as do
    ``AWS_ENDPOINT_URL_SSO_OIDC`` / ``AWS_ENDPOINT_URL`` in ``environ``, when given). ``rng`` jitters
    retries (``random.SystemRandom()`` in production). ``max_expires_in`` caps the device code's
    lifetime the flow will honour.
    """

    TRANSITIONS = TRANSITIONS
    AWAITING = frozenset({S.AWAIT_REGISTER, S.AWAIT_START, S.AWAIT_POLL})
    RESEND = RESEND
    DONE = S.DONE
    FAILED = S.FAILED

    __slots__ = (
        "_client_name",
        "_deadline",
        "_device_code",
        "_endpoint",
        "_interval",
        "_max_expires_in",
        "_poll",
        "_registration",
        "_registration_cached",
        "_showcode",
        "region",
        "scopes",
        "start_url",
    )

    def __init__(
        self,
        *,
        start_url: str,
        region: str,
        client_name: str = "sansio-ssooidc",
        scopes: Sequence[str] | None = None,
        registration: CachedRegistration | None = None,
        endpoint: str | None = None,
        environ: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        retry: RetryPolicy | None = None,
        max_expires_in: int = DEFAULT_MAX_EXPIRES_IN,
    ) -> None:
        super().__init__(S.REGISTER, rng=rng, retry=retry)
        # Validate through the operation that will carry these values.
        StartDeviceAuthorization(client_id="-", client_secret="-", start_url=start_url)
        self._client_name = RegisterClient(client_name=client_name, client_type="public").client_name
        self.start_url = start_url
        self.region = region
        self.scopes: tuple[str, ...] | None = None
        if scopes is not None:
            self.scopes = tuple(
                RegisterClient(client_name="-", client_type="public", scopes=scopes).scopes or ()
            )
        if registration is not None and not isinstance(registration, CachedRegistration):
            raise ParameterError("registration must be a CachedRegistration (load_registration() gives one)")
        if isinstance(max_expires_in, bool) or not isinstance(max_expires_in, int) or max_expires_in < 1:
            raise ParameterError("max_expires_in must be a positive number of seconds")
        self._registration = registration
        self._registration_cached = registration is not None
        self._endpoint = resolve_endpoint(region, endpoint_url=endpoint, environ=environ)
        self._max_expires_in = max_expires_in
        self._device_code: str | None = None
        self._showcode: ShowCode | None = None
        # The poll, checked once; its request is built at each poll rather than kept, since it
        # holds a copy of the client secret and device code (about 2 KB a login on the service).
        self._poll: CreateToken | None = None
        self._interval = DEFAULT_INTERVAL
        self._deadline = 0.0

    @property
    def interval(self) -> int:
        """The current poll interval in seconds (grows by 5 with each slow_down)."""
        return self._interval

    @property
    def deadline(self) -> float | None:
        """When the device code expires (epoch seconds), once known."""
        return self._deadline if self._showcode is not None else None

    def _send(self, request: HttpRequest, operation: str, awaiting: DeviceState) -> Send:
        self._attempt += 1
        self._move(awaiting)
        return Send(request=request, operation=operation)

    def _advance(self, now: float) -> Action:
        state = self._state
        if state is S.POLL:
            if now >= self._deadline:
                raise self._fail(
                    LoginTimeoutError(
                        "the device code expired before the login was approved; run the login again",
                        deadline=self._deadline,
                    )
                )
            if now < self._not_before:
                return Wait(until=min(self._not_before, self._deadline))
            assert self._poll is not None
            return self._send(self._poll.to_request(self._endpoint), "CreateToken", S.AWAIT_POLL)
        if state is S.SHOW_CODE:
            assert self._showcode is not None
            self._move(S.POLL)
            return self._showcode
        if now < self._not_before:
            return Wait(until=self._not_before)
        if state is S.REGISTER:
            if usable_registration(
                self._registration,
                now,
                scopes=self.scopes,
                grant_type=GRANT_DEVICE_CODE,
                min_validity=REGISTRATION_MIN_VALIDITY,
            ):
                self._move(S.START)
                return self._advance(now)
            self._registration = None
            self._registration_cached = False
            op = RegisterClient(client_name=self._client_name, client_type="public", scopes=self.scopes)
            return self._send(op.to_request(self._endpoint), "RegisterClient", S.AWAIT_REGISTER)
        assert state is S.START
        assert self._registration is not None
        op2 = StartDeviceAuthorization(
            client_id=self._registration.client_id,
            client_secret=self._registration.client_secret,
            start_url=self.start_url,
        )
        return self._send(op2.to_request(self._endpoint), "StartDeviceAuthorization", S.AWAIT_START)

    def _on_response(self, response: HttpResponse, now: float) -> None:
        key = None
        if self._state is S.AWAIT_POLL and response.status >= 300 and len(response.body) <= _KNOWN_MAX_BODY:
            key = (response.header("x-amzn-ErrorType"), response.body)
            known = _KNOWN_POLL_ANSWERS.get(key)
            if known is not None:  # the same bytes as an earlier pending / slow_down: no need to parse
                self._poll_later(now, slow_down=known is SlowDownException)
                return
        try:
            self._handle(response, now)
        except (ServiceError, RemoteProtocolError) as exc:
            if key is not None and isinstance(exc, _POLL_PROGRESS) and len(_KNOWN_POLL_ANSWERS) < _KNOWN_MAX:
                _KNOWN_POLL_ANSWERS[key] = type(exc)
            self._on_error(exc, now)

    def _handle(self, response: HttpResponse, now: float) -> None:
        state = self._state
        if state is S.AWAIT_REGISTER:
            self._registration = registration_from_response(
                response, now, scopes=self.scopes, grant_types=None
            )
            self._progress()
            self._move(S.START)
        elif state is S.AWAIT_START:
            assert self._registration is not None
            started = StartDeviceAuthorization(
                client_id="-", client_secret="-", start_url="-"
            ).parse_response(response)
            self._device_code = started.device_code
            self._interval = started.interval or DEFAULT_INTERVAL
            self._deadline = now + min(started.expires_in, self._max_expires_in)
            self._not_before = now + self._interval
            self._progress()
            self._poll = CreateToken(
                client_id=self._registration.client_id,
                client_secret=self._registration.client_secret,
                grant_type=GRANT_DEVICE_CODE,
                device_code=started.device_code,
            )
            self._showcode = ShowCode(
                user_code=started.user_code,
                verification_uri=started.verification_uri,
                verification_uri_complete=started.verification_uri_complete,
                expires_at=self._deadline,
            )
            self._move(S.SHOW_CODE)
        else:
            token = _POLL_PARSER.parse_response(response)
            assert self._registration is not None
            self._finish(LoginResult(token=self._token(token, now), registration=self._registration))

    def _token(self, result: CreateTokenResult, now: float) -> CachedToken:
        assert self._registration is not None
        return CachedToken(
            start_url=self.start_url,
            region=self.region,
            access_token=result.access_token,
            expires_at=to_datetime(now + result.expires_in),
            client_id=self._registration.client_id,
            client_secret=self._registration.client_secret,
            registration_expires_at=self._registration.expires_at,
            refresh_token=result.refresh_token,
        )

    def _poll_later(self, now: float, *, slow_down: bool) -> None:
        """authorization_pending, or slow_down: the interval grows by 5 s for good."""
        self._progress()
        if slow_down:
            self._interval += SLOW_DOWN_STEP
        self._not_before = now + self._interval
        self._move(S.POLL)

    def _on_abandon(self, now: float) -> None:
        if self._state is S.POLL:  # the abandoned poll may have reached the service: keep the interval
            self._not_before = now + self._interval

    def _on_error(self, error: BaseException, now: float) -> None:
        state = self._state
        if state is S.AWAIT_POLL:
            if isinstance(error, (AuthorizationPendingException, SlowDownException)):
                self._poll_later(now, slow_down=isinstance(error, SlowDownException))
                return
            if not is_transient(error):
                self._fail(self._lost_response(error, "device code", "CreateToken") or error)
                return
            if self._attempt >= self.retry.max_attempts:
                exhausted = RetriesExhaustedError(
                    f"gave up polling after {self._attempt} failed attempts; last error: {error}",
                    last_error=error,
                )
                exhausted.__cause__ = error
                self._fail(exhausted)
                return
            self._not_before = now + max(self._interval, self.retry.delay(self._attempt, self._rng))
            logger.debug("DeviceFlow: transient poll failure %s; next poll at %.1f", error, self._not_before)
            self._move(S.POLL)
            return
        if state is S.AWAIT_START and self._registration_cached and isinstance(error, InvalidClientException):
            # The cached registration was revoked or is unknown here: register afresh, once.
            logger.debug("DeviceFlow: cached registration rejected; registering again")
            self._registration = None
            self._registration_cached = False
            self._progress()
            self._move(S.REGISTER)
            return
        retry_state = S.REGISTER if state is S.AWAIT_REGISTER else S.START
        # SlowDown on RegisterClient/StartDeviceAuthorization is backoff, like throttling.
        self._retry_or_fail(
            error,
            now,
            retry_state,
            None,
            transient=is_transient(error) or isinstance(error, SlowDownException),
        )

    # --- save / restore -------------------------------------------------------------------------

    def to_dict(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """The flow's state as JSON-able data. Secrets (client secret, device code) are left out
        unless ``include_secrets``; only a dict with them can be resumed by :meth:`from_dict`."""
        state = self._state
        resume = RESEND.get(state, state)
        reg = self._registration
        data: dict[str, Any] = {
            "flow": "device",
            "version": 1,
            "state": resume.value,
            "start_url": self.start_url,
            "region": self.region,
            "endpoint": self._endpoint,
            "client_name": self._client_name,
            "scopes": None if self.scopes is None else list(self.scopes),
            "interval": self._interval,
            "deadline": self._deadline,
            "not_before": self._not_before,
            "attempt": self._attempt,
            # A request in flight is abandoned: the resumed flow sends it again.
            "unanswered": ABANDONED if state in self.AWAITING else self._unanswered,
            "max_expires_in": self._max_expires_in,
            "registration": None
            if reg is None
            else {
                "client_id": reg.client_id,
                "expires_at": reg.expires_at.timestamp(),
                "scopes": None if reg.scopes is None else list(reg.scopes),
                "grant_types": None if reg.grant_types is None else list(reg.grant_types),
                "cached": self._registration_cached,
            },
            "code": None
            if self._showcode is None
            else {
                "user_code": self._showcode.user_code,
                "verification_uri": self._showcode.verification_uri,
                "verification_uri_complete": self._showcode.verification_uri_complete,
            },
            "secrets": None,
        }
        if include_secrets:
            data["secrets"] = {
                "client_secret": None if reg is None else reg.client_secret,
                "device_code": self._device_code,
            }
        if state in (S.DONE, S.FAILED):
            data["state"] = state.value
        return data

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, rng: random.Random | None = None, retry: RetryPolicy | None = None
    ) -> DeviceFlow:
        """Resume a flow saved by :meth:`to_dict` with ``include_secrets=True``.

        Raises :class:`ParameterError` naming the problem for a dict that is not such a state.
        """
        try:
            return cls._restore(data, rng=rng, retry=retry)
        except ParameterTypeError as exc:  # a list member of the wrong type, say
            raise ParameterError(f"saved DeviceFlow state is invalid: {exc}") from None

    @classmethod
    def _restore(
        cls, data: Mapping[str, Any], *, rng: random.Random | None, retry: RetryPolicy | None
    ) -> DeviceFlow:
        r = SavedState(data, "device")
        flow = cls(
            start_url=r.get("start_url", str),
            region=r.get("region", str),
            client_name=r.get("client_name", str),
            scopes=r.get("scopes", list, optional=True),
            endpoint=r.get("endpoint", str),
            rng=rng,
            retry=retry,
            max_expires_in=r.get("max_expires_in", int),
        )
        state = r.state(DeviceState)
        if state in flow.AWAITING:
            raise ParameterError("saved DeviceFlow state is invalid: a saved state never awaits a response")
        secrets = r.get("secrets", dict, optional=True) or {}
        reg = r.get("registration", dict, optional=True)
        if reg is not None:
            client_secret = secrets.get("client_secret")
            if not isinstance(client_secret, str):
                raise ParameterError(
                    "saved DeviceFlow state has no client secret; save it with to_dict(include_secrets=True)"
                )
            sub = SavedState(reg, "device", where="registration")
            client_id = sub.get("client_id", str)
            if not client_id or not client_secret:
                raise ParameterError("saved DeviceFlow state is invalid: an empty client id or secret")
            flow._registration = CachedRegistration(
                client_id=client_id,
                client_secret=client_secret,
                expires_at=to_datetime(_saved_time(sub, "expires_at")),
                scopes=sub.get("scopes", list, optional=True),
                grant_types=sub.get("grant_types", list, optional=True),
            )
            flow._registration_cached = sub.get("cached", bool)
        elif state is not S.REGISTER:
            raise ParameterError(
                f"saved DeviceFlow state is invalid: state {state.value!r} needs a registration"
            )
        code = r.get("code", dict, optional=True)
        flow._interval = r.get("interval", int)
        flow._deadline = _saved_time(r, "deadline")
        flow._not_before = _saved_time(r, "not_before")
        flow._attempt = r.get("attempt", int)
        # Absent from states saved by earlier versions: nothing known unanswered.
        flow._unanswered = (r.get("unanswered", str, optional=True) or "")[:_MAX_UNANSWERED] or None
        if not 1 <= flow._interval <= MAX_DEVICE_CODE_LIFETIME or flow._attempt < 0:
            raise ParameterError(
                "saved DeviceFlow state is invalid: interval must be within 1..86400 and attempt >= 0"
            )
        if code is not None:
            device_code = secrets.get("device_code")
            if not isinstance(device_code, str) or not device_code:
                raise ParameterError(
                    "saved DeviceFlow state has no device code; save it with to_dict(include_secrets=True)"
                )
            sub = SavedState(code, "device", where="code")
            flow._device_code = device_code
            flow._showcode = ShowCode(
                user_code=sub.get("user_code", str),
                verification_uri=sub.get("verification_uri", str),
                verification_uri_complete=sub.get("verification_uri_complete", str, optional=True),
                expires_at=flow._deadline,
            )
            assert flow._registration is not None
            flow._poll = CreateToken(
                client_id=flow._registration.client_id,
                client_secret=flow._registration.client_secret,
                grant_type=GRANT_DEVICE_CODE,
                device_code=device_code,
            )
        elif state in (S.SHOW_CODE, S.POLL):
            raise ParameterError(
                f"saved DeviceFlow state is invalid: state {state.value!r} needs a device code"
            )
        if state in (S.DONE, S.FAILED):
            raise ParameterError("a finished DeviceFlow cannot be resumed; start a new one")
        flow._state = state
        return flow


def _saved_time(saved: SavedState, key: str) -> float:
    """A saved time: epoch seconds from 0 to the year 3000 (NaN, infinities and the like refused)."""
    value: float = saved.get(key, float)
    if not 0 <= value <= MAX_EPOCH:
        raise ParameterError(f"saved DeviceFlow state is invalid: {key} is not a time ({value!r})")
    return value


#: Pending and slow_down answers already parsed, by (x-amzn-ErrorType header, body). The service
#: repeats the same bytes at every poll, and an error's class depends on nothing else (the status
#: aside, which is checked), so each is parsed once: a poll then costs a dictionary lookup.
#: Bounded in entries and body size, since the peer chooses the bytes.
_KNOWN_POLL_ANSWERS: dict[tuple[str | None, bytes], type[ServiceError]] = {}
_KNOWN_MAX = 64
_KNOWN_MAX_BODY = 1024
_POLL_PROGRESS = (AuthorizationPendingException, SlowDownException)

_POLL_PARSER = CreateToken(client_id="-", client_secret="-", grant_type=GRANT_DEVICE_CODE)
