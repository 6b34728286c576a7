"""A deterministic, sans-IO fake of the IAM Identity Center OIDC service and the SSO portal.

:class:`Simulator` answers :class:`~sansio_ssooidc.HttpRequest` values with the bytes the real
service would send (WIRE.md): sso-oidc's ``/client/register``, ``/device_authorization``,
``/token`` (device code, authorization code + PKCE, refresh token), ``/token?aws_iam=t``, the
browser's ``/authorize`` and ``/device`` pages, and the portal's ``/federation/credentials``,
``/assignment/accounts``, ``/assignment/roles`` and ``/logout``, all under one base URL.

No I/O: time is the ``now`` argument, randomness an injected :class:`random.Random`, so the same
requests at the same times give the same bytes. A scripted user (:class:`UserScript`) approves or
denies logins; a :class:`FaultPlan` injects transport faults through :meth:`Simulator.respond`.
``sansio_ssooidc.adapters.simserver`` serves it over loopback HTTP.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .._errors import ParameterError, ParameterTypeError
from .._http import HttpRequest, HttpResponse
from . import _oidc, _portal
from ._config import DEFAULT_ACCOUNTS, FAULT_KINDS, Account, FaultPlan, Reply, SimulatorConfig, UserScript
from ._state import State, dump_rng, load_rng, plain
from ._wire import Draft, Fail, Incoming, finish, generic_error, portal_error

__all__ = [
    "DEFAULT_ACCOUNTS",
    "FAULT_KINDS",
    "MAX_REQUEST_BODY",
    "MAX_URL_LENGTH",
    "Account",
    "FaultPlan",
    "Reply",
    "Simulator",
    "SimulatorConfig",
    "UserScript",
]

#: Largest request body handled. The largest legitimate request (a RegisterClient with a few
#: dozen scopes and redirect URIs) is under 8 KiB; 64 KiB is generous and bounds JSON parsing.
MAX_REQUEST_BODY = 64 * 1024
#: Longest request URL handled: an authorize URL is under 1 KiB; 8 KiB is the common server limit.
MAX_URL_LENGTH = 8 * 1024

_FORMAT = "sansio-ssooidc-simulator/1"
_ANY_USER = UserScript()
_NO_FAULTS = FaultPlan()
_Handler = Callable[[State, Incoming, float], Draft]
_ROUTES: dict[tuple[str, str], tuple[str, _Handler]] = {
    ("POST", "/client/register"): ("RegisterClient", _oidc.register_client),
    ("POST", "/device_authorization"): ("StartDeviceAuthorization", _oidc.start_device_authorization),
    ("POST", "/token"): ("CreateToken", _oidc.create_token),
    ("GET", "/authorize"): ("Authorize", _oidc.authorize),
    ("GET", "/device"): ("VerifyDevice", _oidc.verify_device),
    ("GET", "/federation/credentials"): ("GetRoleCredentials", _portal.get_role_credentials),
    ("GET", "/assignment/accounts"): ("ListAccounts", _portal.list_accounts),
    ("GET", "/assignment/roles"): ("ListAccountRoles", _portal.list_account_roles),
    ("POST", "/logout"): ("Logout", _portal.logout),
}
_IAM_ROUTE = ("CreateTokenWithIAM", _oidc.create_token_with_iam)
_PORTAL_PATHS = frozenset({"/federation/credentials", "/assignment/accounts", "/assignment/roles", "/logout"})
# A JSON document cut short: what a proxy that dies mid-response delivers.
_FULL_BODY = b'{"accessToken":"aoaTRUNCATED","tokenType":"Bearer","expiresIn":3600}'
_ERROR_PAGE = b"<html><head><title>%d</title></head><body><h1>%d %s</h1></body></html>"


def _check_now(now: object) -> float:
    if isinstance(now, bool) or not isinstance(now, (int, float)):
        raise ParameterTypeError(f"now must be epoch seconds as a float, not {type(now).__name__}")
    if not math.isfinite(now) or now < 0:
        raise ParameterError(f"now must be finite epoch seconds, got {now!r}")
    return float(now)


class Simulator:
    """The fake service. ``handle`` answers a request as the service would; ``respond`` first
    applies the fault plan and returns a :class:`Reply` for a server to carry out.

    ``rng`` is the only source of randomness (default ``random.Random(0)``); the simulator draws
    from it. Lifetimes and ``interval`` are seconds. Methods are safe to call from several threads
    (a server thread handles requests while a test approves logins).
    """

    def __init__(
        self,
        *,
        rng: random.Random | None = None,
        start_url: str = "https://d-1234567890.awsapps.com/start",
        region: str = "us-east-1",
        accounts: tuple[Account, ...] = DEFAULT_ACCOUNTS,
        registration_lifetime: int = 90 * 86400,
        device_code_lifetime: int = 600,
        interval: int = 1,
        access_token_lifetime: int = 3600,
        refresh_token_lifetime: int = 90 * 86400,
        rotate_refresh_tokens: bool = False,
        user: UserScript = _ANY_USER,
        faults: FaultPlan = _NO_FAULTS,
    ) -> None:
        if rng is None:
            rng = random.Random(0)
        if not isinstance(rng, random.Random):
            raise ParameterTypeError(f"rng must be a random.Random, not {type(rng).__name__}")
        #: The configuration, a frozen value.
        self.config = SimulatorConfig(
            start_url=start_url,
            region=region,
            accounts=accounts,
            registration_lifetime=registration_lifetime,
            device_code_lifetime=device_code_lifetime,
            interval=interval,
            access_token_lifetime=access_token_lifetime,
            refresh_token_lifetime=refresh_token_lifetime,
            rotate_refresh_tokens=rotate_refresh_tokens,
            user=user,
            faults=faults,
        )
        self._state = State(self.config, rng)
        # Faults draw from their own source, so injecting one leaves the service's draws unchanged.
        self._fault_rng = random.Random(rng.getrandbits(64))
        self._lock = threading.RLock()
        self._requests: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._request_number = 0

    @property
    def start_url(self) -> str:
        """The start URL of the simulated instance (StartDeviceAuthorization accepts only this one)."""
        return self.config.start_url

    @property
    def region(self) -> str:
        """The simulated region."""
        return self.config.region

    # --- serving ---------------------------------------------------------------------------------

    def handle(self, request: HttpRequest, now: float) -> HttpResponse:
        """The service's answer to ``request`` at epoch time ``now`` (no faults). Never raises for
        any request: malformed ones get the error response the service would send."""
        now = _check_now(now)
        with self._lock:
            return self._handle(request, now)

    def respond(self, request: HttpRequest, now: float) -> Reply:
        """The fault plan applied to ``request``, decided before it is handled (so a faulted request
        changes no service state), then :meth:`handle`'s answer unless the fault replaces it."""
        now = _check_now(now)
        with self._lock:
            number = self._request_number
            self._request_number += 1
            plan = self.config.faults
            kind = plan.scripted(number)
            if kind is None and plan.rate > 0 and self._fault_rng.random() < plan.rate:
                kind = self._fault_rng.choice(plan.kinds)
            if kind is None:
                return Reply(response=self._handle(request, now))
            self._faults[kind] += 1
            if kind == "latency":
                return Reply(response=self._handle(request, now), delay=plan.latency)
            if kind == "drop":
                return Reply(drop=True)
            return Reply(response=finish(self._fault(kind, request), self._fault_rng, now))

    def _fault(self, kind: str, request: HttpRequest) -> Draft:
        rng = self._fault_rng
        if kind == "5xx":
            status, phrase = rng.choice(((500, b"Internal Server Error"), (503, b"Service Unavailable")))
            if rng.random() < 0.5:
                return Draft(status, (), b"")
            return Draft(status, (("Content-Type", "text/html"),), _ERROR_PAGE % (status, status, phrase))
        if kind == "throttle":
            if urlsplit(request.url).path in _PORTAL_PATHS:
                return portal_error("TooManyRequestsException", "Too many requests").draft
            error_type = "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"
            return generic_error(429, error_type, "Rate exceeded").draft
        # malformed: a success status with a body cut short.
        return Draft(
            200, (("Content-Type", "application/json"),), _FULL_BODY[: rng.randrange(1, len(_FULL_BODY))]
        )

    def _handle(self, request: HttpRequest, now: float) -> HttpResponse:
        name, draft = self._route(request, now)
        self._requests[name] += 1
        return finish(draft, self._state.rng, now)

    def _route(self, request: HttpRequest, now: float) -> tuple[str, Draft]:
        if len(request.url) > MAX_URL_LENGTH:
            return "Unknown", generic_error(414, "RequestUriTooLongException", "Request URI too long").draft
        try:
            parts = urlsplit(request.url)
        except ValueError:
            return "Unknown", generic_error(400, "BadRequestException", "Malformed request URL").draft
        key = (request.method, parts.path)
        route = _ROUTES.get(key)
        if key == ("POST", "/token") and ("aws_iam", "t") in parse_qsl(parts.query):
            route = _IAM_ROUTE
        if route is None:
            return "Unknown", generic_error(404, "UnknownOperationException", "Unknown operation").draft
        name, handler = route
        if len(request.body) > MAX_REQUEST_BODY:
            return name, generic_error(
                413, "RequestEntityTooLargeException", "Request entity too large"
            ).draft
        incoming = Incoming(base=f"{parts.scheme}://{parts.netloc}", query=parts.query, request=request)
        try:
            return name, handler(self._state, incoming, now)
        except Fail as fail:
            return name, fail.draft

    # --- controls for tests ------------------------------------------------------------------------

    def approve(self, user_code: str) -> None:
        """The user approves the pending device authorization ``user_code``."""
        self._decide(user_code, "approved")

    def deny(self, user_code: str) -> None:
        """The user denies the pending device authorization ``user_code``."""
        self._decide(user_code, "denied")

    def _decide(self, user_code: str, status: str) -> None:
        with self._lock:
            for code, grant in self._state.device_grants.items():
                if grant.user_code == user_code and grant.status == "pending":
                    self._state.device_grants[code] = dataclasses.replace(grant, status=status)
                    return
        raise ParameterError(f"no pending device authorization has user code {user_code!r}")

    def pending_user_codes(self, now: float | None = None) -> tuple[str, ...]:
        """User codes of device authorizations awaiting the user (unexpired at ``now``, if given)."""
        with self._lock:
            return tuple(
                g.user_code
                for g in self._state.device_grants.values()
                if g.status == "pending" and (now is None or now < g.expires_at)
            )

    def revoke_refresh_tokens(self) -> None:
        """Revoke every refresh token (access tokens stay valid until they expire)."""
        with self._lock:
            for session_id, session in list(self._state.sessions.items()):
                self._state.sessions[session_id] = dataclasses.replace(session, refresh_token=None)

    def token_scopes(self, access_token: str) -> tuple[str, ...] | None:
        """The scopes recorded for ``access_token``, or ``None`` if it was never issued."""
        with self._lock:
            record = self._state.access_tokens.get(access_token)
            return None if record is None else record.scopes

    @property
    def requests(self) -> Mapping[str, int]:
        """Requests handled, by operation (``CreateToken``, ``Authorize``, ``VerifyDevice``, ``Unknown``…);
        faulted requests that were not handled are not counted."""
        with self._lock:
            return dict(self._requests)

    @property
    def refreshes(self) -> int:
        """Successful refresh token grants."""
        with self._lock:
            return self._state.refreshes

    @property
    def fault_counts(self) -> Mapping[str, int]:
        """Faults injected, by kind."""
        with self._lock:
            return dict(self._faults)

    # --- persistence ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Configuration, state, counters and random state as JSON-able data; contains secrets."""
        with self._lock:
            try:
                rng_state = dump_rng(self._state.rng)
            except NotImplementedError:
                raise ParameterError(
                    "to_dict needs a seedable rng (random.Random, not SystemRandom)"
                ) from None
            return {
                "format": _FORMAT,
                "config": plain(self.config.to_dict()),
                "rng": rng_state,
                "fault_rng": dump_rng(self._fault_rng),
                "request_number": self._request_number,
                "requests": dict(sorted(self._requests.items())),
                "faults": dict(sorted(self._faults.items())),
                "state": self._state.to_dict(),
            }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Simulator:
        """A simulator in the state :meth:`to_dict` recorded; raises :class:`ParameterError` for
        malformed data."""
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise ParameterError(f"simulator state must be a mapping with format {_FORMAT!r}")
        config = SimulatorConfig.from_dict(_get(data, "config", Mapping))
        fields = {name: getattr(config, name) for name in SimulatorConfig.__dataclass_fields__}
        sim = cls(**fields)
        sim._state.rng = load_rng(data.get("rng"))
        sim._fault_rng = load_rng(data.get("fault_rng"))
        sim._state.load(_get(data, "state", Mapping))
        number = data.get("request_number")
        if type(number) is not int or number < 0:
            raise ParameterError("simulator state: request_number must be an int >= 0")
        sim._request_number = number
        sim._requests = _counter(data, "requests")
        sim._faults = _counter(data, "faults")
        return sim


def _get(data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise ParameterError(f"simulator state: {key} must be a {kind.__name__}")
    return value


def _counter(data: Mapping[str, Any], key: str) -> Counter[str]:
    value = _get(data, key, dict)
    if not all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in value.items()):
        raise ParameterError(f"simulator state: {key} must map names to counts")
    return Counter(value)
