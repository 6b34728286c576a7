"""The authorization code flow with PKCE (RFC 7636), the AWS CLI's default. Everything that
affects it lives here.

    REGISTER -> AWAIT_REGISTER -> OPEN_BROWSER -> AWAIT_REDIRECT -> EXCHANGE <-> AWAIT_EXCHANGE -> DONE

Each AWAIT_* state goes back to the state that sent its request on a retry, and on ``abandon_send``.

A redirect with a wrong ``state`` (a stray or forged request to the loopback listener) raises
:class:`StateMismatchError` but leaves the flow waiting for the real one; ``error=`` or a
missing code with the right state ends the flow. Any state may end in FAILED.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from ._awsfiles import CachedRegistration, CachedToken
from ._device import LoginResult
from ._endpoints import resolve_endpoint
from ._errors import LocalProtocolError, ParameterError, RemoteProtocolError, ServiceError, SlowDownException
from ._flow import (
    Action,
    AwaitRedirect,
    LoginTimeoutError,
    Machine,
    OpenBrowser,
    RetryPolicy,
    Send,
    Wait,
    check_now,
    is_transient,
    to_datetime,
)
from ._http import HttpResponse
from ._operations import GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, CreateToken, RegisterClient
from ._pkce import (
    AuthorizationRedirectError,
    MalformedRedirectError,
    MissingCodeError,
    RedirectAnswer,
    RedirectError,
    StateMismatchError,
    authorize_url,
    code_challenge,
    make_state,
    make_verifier,
    parse_redirect,
)
from ._register import registration_from_response, usable_registration

__all__ = ["AuthCodeFlow", "AuthCodeState"]

#: The AWS CLI's registration scopes for PKCE logins.
DEFAULT_SCOPES = ("sso:account:access",)
#: How long the flow waits for the browser's redirect (seconds): long enough to log in with
#: MFA, short enough that a forgotten login does not hold the loopback port for long.
DEFAULT_REDIRECT_TIMEOUT = 600
_GRANTS = (GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN)
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class AuthCodeState(enum.Enum):
    """The states of :class:`AuthCodeFlow`."""

    REGISTER = "register"
    AWAIT_REGISTER = "await_register"
    OPEN_BROWSER = "open_browser"
    AWAIT_REDIRECT = "await_redirect"
    EXCHANGE = "exchange"
    AWAIT_EXCHANGE = "await_exchange"
    DONE = "done"
    FAILED = "failed"


A = AuthCodeState
#: Every legal move; a move not listed is a bug and raises.
TRANSITIONS: Mapping[AuthCodeState, frozenset[AuthCodeState]] = {
    A.REGISTER: frozenset({A.AWAIT_REGISTER, A.OPEN_BROWSER}),
    A.AWAIT_REGISTER: frozenset({A.OPEN_BROWSER, A.REGISTER, A.FAILED}),
    A.OPEN_BROWSER: frozenset({A.AWAIT_REDIRECT}),
    A.AWAIT_REDIRECT: frozenset({A.EXCHANGE, A.FAILED}),
    A.EXCHANGE: frozenset({A.AWAIT_EXCHANGE, A.FAILED}),
    A.AWAIT_EXCHANGE: frozenset({A.EXCHANGE, A.DONE, A.FAILED}),
    A.DONE: frozenset(),
    A.FAILED: frozenset(),
}
#: The state that sends each awaited request again (after a transient failure or ``abandon_send``).
RESEND: Mapping[AuthCodeState, AuthCodeState] = {A.AWAIT_REGISTER: A.REGISTER, A.AWAIT_EXCHANGE: A.EXCHANGE}


def registered_redirect_uri(redirect_uri: str) -> str:
    """The URI to register for ``redirect_uri``: the same without the port (WIRE.md), since the
    service matches loopback redirects on any port (RFC 8252 section 7.3)."""
    try:
        parts = urlsplit(redirect_uri) if isinstance(redirect_uri, str) else None
        _ = None if parts is None else parts.port  # raises ValueError for a bad port
    except ValueError:  # an unclosed "[", a port out of range or not a number
        parts = None
    # RFC 6749 section 3.1.2: "The endpoint URI MUST NOT include a fragment component."
    if (
        parts is None
        or parts.scheme != "http"
        or parts.hostname not in _LOOPBACK
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ParameterError(
            f"redirect_uri must be an http loopback URL such as http://127.0.0.1:PORT/oauth/callback, "
            f"got {redirect_uri!r}"
        )
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"http://{host}{parts.path}"


class AuthCodeFlow(Machine[AuthCodeState, LoginResult]):
    """Log in with the authorization code grant and PKCE.

    ``redirect_uri`` is where the loopback listener waits, port included
    (``http://127.0.0.1:PORT/oauth/callback``). ``rng`` is required: it draws the PKCE verifier and
    the ``state`` (pass ``random.SystemRandom()``). ``redirect_timeout`` bounds the wait for the
    browser. Other parameters as :class:`DeviceFlow`.
    """

    TRANSITIONS = TRANSITIONS
    AWAITING = frozenset({A.AWAIT_REGISTER, A.AWAIT_EXCHANGE})
    RESEND = RESEND
    DONE = A.DONE
    FAILED = A.FAILED

    __slots__ = (
        "_client_name",
        "_code",
        "_deadline",
        "_endpoint",
        "_redirect_timeout",
        "_registered_uri",
        "_registration",
        "_registration_cached",
        "_state_value",
        "_verifier",
        "redirect_uri",
        "region",
        "scopes",
        "start_url",
    )

    def __init__(
        self,
        *,
        start_url: str,
        region: str,
        redirect_uri: str,
        rng: random.Random,
        client_name: str = "sansio-ssooidc",
        scopes: Sequence[str] | None = DEFAULT_SCOPES,
        registration: CachedRegistration | None = None,
        endpoint: str | None = None,
        environ: Mapping[str, str] | None = None,
        retry: RetryPolicy | None = None,
        redirect_timeout: float = DEFAULT_REDIRECT_TIMEOUT,
    ) -> None:
        if not isinstance(rng, random.Random):
            raise ParameterError("AuthCodeFlow needs rng=random.SystemRandom(): it draws the PKCE secrets")
        super().__init__(A.REGISTER, rng=rng, retry=retry)
        op = RegisterClient(
            client_name=client_name, client_type="public", scopes=scopes, issuer_url=start_url
        )
        if not start_url:
            raise ParameterError("AuthCodeFlow.start_url must not be empty")
        if registration is not None and not isinstance(registration, CachedRegistration):
            raise ParameterError("registration must be a CachedRegistration (load_registration() gives one)")
        self._redirect_timeout = check_now(redirect_timeout)
        if self._redirect_timeout <= 0:
            raise ParameterError("redirect_timeout must be a positive number of seconds")
        self.start_url = start_url
        self.region = region
        self.redirect_uri = redirect_uri
        self._registered_uri = registered_redirect_uri(redirect_uri)
        self.scopes: tuple[str, ...] | None = None if op.scopes is None else tuple(op.scopes)
        self._client_name = client_name
        self._registration = registration
        self._registration_cached = registration is not None
        self._endpoint = resolve_endpoint(region, endpoint_url=endpoint, environ=environ)
        self._verifier = make_verifier(rng)
        self._state_value = make_state(rng)
        self._code: str | None = None
        self._deadline = 0.0

    @property
    def deadline(self) -> float | None:
        """When the wait for the redirect ends (epoch seconds), once the browser was opened."""
        return self._deadline if self._deadline else None

    def _send(self, op: RegisterClient | CreateToken, awaiting: AuthCodeState) -> Send:
        self._attempt += 1
        self._move(awaiting)
        return Send(request=op.to_request(self._endpoint), operation=type(op).__name__)

    def _advance(self, now: float) -> Action:
        state = self._state
        if state is A.AWAIT_REDIRECT:
            if now >= self._deadline:
                raise self._fail(
                    LoginTimeoutError(
                        "no redirect from the browser before the deadline; run the login again "
                        "(or use the device code flow on a machine without a browser)",
                        deadline=self._deadline,
                    )
                )
            return AwaitRedirect(until=self._deadline)
        if state is A.OPEN_BROWSER:
            assert self._registration is not None
            self._deadline = now + self._redirect_timeout
            self._move(A.AWAIT_REDIRECT)
            return OpenBrowser(
                url=authorize_url(
                    self._endpoint,
                    client_id=self._registration.client_id,
                    redirect_uri=self.redirect_uri,
                    state=self._state_value,
                    challenge=code_challenge(self._verifier),
                    scopes=self.scopes or (),
                )
            )
        if state is A.EXCHANGE and now >= self._deadline:
            # A redirect handed over late, or a retry woken late: never send after the deadline.
            raise self._fail(
                LoginTimeoutError(
                    "the login deadline passed before the authorization code was exchanged; "
                    "run the login again",
                    deadline=self._deadline,
                )
            )
        if now < self._not_before:
            return Wait(until=self._not_before)
        if state is A.REGISTER:
            if usable_registration(
                self._registration, now, scopes=self.scopes, grant_type=GRANT_AUTHORIZATION_CODE
            ):
                self._move(A.OPEN_BROWSER)
                return self._advance(now)
            self._registration = None
            self._registration_cached = False
            return self._send(
                RegisterClient(
                    client_name=self._client_name,
                    client_type="public",
                    scopes=self.scopes,
                    redirect_uris=(self._registered_uri,),
                    grant_types=_GRANTS,
                    issuer_url=self.start_url,
                ),
                A.AWAIT_REGISTER,
            )
        assert state is A.EXCHANGE
        assert self._registration is not None
        assert self._code is not None
        return self._send(
            CreateToken(
                client_id=self._registration.client_id,
                client_secret=self._registration.client_secret,
                grant_type=GRANT_AUTHORIZATION_CODE,
                code=self._code,
                redirect_uri=self.redirect_uri,
                code_verifier=self._verifier,
            ),
            A.AWAIT_EXCHANGE,
        )

    def receive_redirect(self, query: str, now: float) -> None:
        """Hand over the query of the request that reached the redirect URI (without ``?``).

        Raises :class:`StateMismatchError` or :class:`MalformedRedirectError` for a request that is
        not our redirect, and the flow keeps waiting; raises :class:`AuthorizationRedirectError`
        (``error=``) or :class:`MissingCodeError` for our redirect that failed, and the flow ends.
        """
        check_now(now)
        if self._state is not A.AWAIT_REDIRECT:
            raise LocalProtocolError(
                f"AuthCodeFlow is not waiting for a redirect (state {self._state.name}); "
                "pass the redirect only after the AwaitRedirect action"
            )
        if not isinstance(query, str):
            raise ParameterError(f"query must be a str, not {type(query).__name__}")
        try:
            redirect = parse_redirect(query, expected_state=self._state_value)
        except (AuthorizationRedirectError, MissingCodeError) as exc:
            raise self._fail(exc) from None
        self._code = redirect.code
        self._progress()
        self._move(A.EXCHANGE)

    def answer_redirect(self, query: str, now: float) -> RedirectAnswer:
        """:meth:`receive_redirect`, answered: the page for the browser, and what follows.

        A request that is not our redirect gets a refusal page and the flow keeps waiting; our
        redirect gets a success page (``accepted``) or, when it failed, a failure page with the
        error the flow ended on in ``error``, for the listener to raise once the page is served.
        """
        try:
            self.receive_redirect(query, now)
        except (StateMismatchError, MalformedRedirectError):
            text = "This link does not belong to the login in progress."
            return RedirectAnswer(status=400, title="Not this login", text=text)
        except RedirectError as exc:
            text = f"{exc}. Return to your terminal."
            return RedirectAnswer(status=400, title="Login failed", text=text, error=exc)
        text = "You can close this tab and return to your terminal."
        return RedirectAnswer(status=200, title="Login complete", text=text, accepted=True)

    def _on_response(self, response: HttpResponse, now: float) -> None:
        try:
            if self._state is A.AWAIT_REGISTER:
                self._registration = registration_from_response(
                    response, now, scopes=self.scopes, grant_types=_GRANTS
                )
                self._progress()
                self._move(A.OPEN_BROWSER)
                return
            token = _EXCHANGE_PARSER.parse_response(response)
        except (ServiceError, RemoteProtocolError) as exc:
            self._on_error(exc, now)
            return
        registration = self._registration
        assert registration is not None
        self._finish(
            LoginResult(
                token=CachedToken(
                    start_url=self.start_url,
                    region=self.region,
                    access_token=token.access_token,
                    expires_at=to_datetime(now + token.expires_in),
                    client_id=registration.client_id,
                    client_secret=registration.client_secret,
                    registration_expires_at=registration.expires_at,
                    refresh_token=token.refresh_token,
                ),
                registration=registration,
            )
        )

    def _on_error(self, error: BaseException, now: float) -> None:
        # SlowDown outside polling is backoff, like throttling (as in DeviceFlow).
        transient = is_transient(error) or isinstance(error, SlowDownException)
        if self._state is A.AWAIT_REGISTER:
            self._retry_or_fail(error, now, A.REGISTER, None, transient=transient)
            return
        lost = self._lost_response(error, "authorization code", "CreateToken")
        if lost is not None:
            self._fail(lost)
            return
        # The code is single use and short-lived: retry transient failures only within the
        # redirect deadline, which bounds the whole login.
        self._retry_or_fail(error, now, A.EXCHANGE, self._deadline, transient=transient)


_EXCHANGE_PARSER = CreateToken(client_id="-", client_secret="-", grant_type=GRANT_AUTHORIZATION_CODE)
