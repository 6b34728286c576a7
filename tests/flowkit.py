"""Shared helpers for testing the flows (DeviceFlow, AuthCodeFlow, RefreshFlow): scripted
responses, a driver loop on a virtual clock that records every action, and request checks.

Typical use::

    from tests import flowkit as fk

    flow = oidc.DeviceFlow(start_url=fk.START_URL, region="us-east-1", rng=fk.FixedRandom(0.5))
    trace = fk.drive(flow, [fk.register_ok(), fk.start_ok(), fk.PENDING, fk.token_ok()])
    assert trace.result is not None and trace.error is None
    assert trace.operations == ["RegisterClient", "StartDeviceAuthorization", "CreateToken", "CreateToken"]

    # AuthCodeFlow: ``redirect(action, now)`` returns the redirect's query and arrival time.
    trace = fk.drive(auth_flow, [fk.register_ok(), fk.token_ok()], redirect=lambda a, now: (query, now + 1))

Also: :func:`clone` and :func:`snapshot` (copy / compare a flow's whole state, for enumerations
and "illegal call leaves the flow unchanged" checks) and :class:`FixedRandom` (jitter without state).

An *outcome* is what the "network" gives back for one :class:`Send`: an :class:`HttpResponse`
(passed to ``receive_response``) or an exception instance (passed to ``receive_failure``, as
an adapter does for a transport error). Use the factories (:func:`reset`, :func:`timed_out`)
rather than sharing one exception instance between flows, since a flow may chain or raise it.

:func:`drive` checks, on every run, what holds for every flow: the clock only moves forward and
only to a ``Wait.until`` (or an ``AwaitRedirect``'s), every ``Wait`` is in the future, no
``Send`` is emitted before an earlier ``Wait.until`` nor at or after the flow's ``deadline``
(when it has one), every request is well formed (:func:`check_request`), a failed flow raises a
:class:`SSOOIDCError` and raises the same one again (sticky), a finished flow keeps returning
its ``Done``. A broken rule raises ``AssertionError``.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

import sansio_ssooidc as oidc

__all__ = [
    "ACCESS_TOKEN",
    "BAD_GATEWAY_HTML",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "DENIED",
    "DEVICE_CODE",
    "EXPIRED",
    "INVALID_CLIENT",
    "INVALID_GRANT",
    "INVALID_REQUEST",
    "MALFORMED",
    "MALFORMED_JSON_TYPES",
    "PENDING",
    "REFRESH_TOKEN",
    "REQUESTS",
    "SERVER_ERROR",
    "SLOW_DOWN",
    "START_URL",
    "T0",
    "THROTTLED_429",
    "THROTTLING",
    "USER_CODE",
    "FixedRandom",
    "Redirector",
    "Trace",
    "check_request",
    "clone",
    "drive",
    "error_response",
    "json_response",
    "register_ok",
    "reset",
    "slot_names",
    "snapshot",
    "start_ok",
    "timed_out",
    "token_ok",
]

#: The virtual clock's default start (epoch seconds, 2023-11-14).
T0 = 1_700_000_000.0
START_URL = "https://d-1234567890.awsapps.com/start"
# Distinctive values, so that a test can search logs and reprs for them; the secrets carry the
# suite's CANARY marker (tests/canary_plugin.py fails any test whose output or logs show one).
CLIENT_ID = "client-id-AAAA"
CLIENT_SECRET = "CANARY-client-secret-SSSS"
DEVICE_CODE = "CANARY-device-code-DDDD"
USER_CODE = "ABCD-EFGH"
ACCESS_TOKEN = "CANARY-access-token-TTTT"
REFRESH_TOKEN = "CANARY-refresh-token-RRRR"

_JSON = (("Content-Type", "application/json"),)


# --- response builders ---------------------------------------------------------------------------


def json_response(status: int, body: Any, headers: Iterable[tuple[str, str]] = ()) -> oidc.HttpResponse:
    """A response with ``body`` encoded as JSON (a ``bytes`` body is sent as is)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return oidc.HttpResponse(status=status, headers=(*_JSON, *headers), body=raw)


def error_response(
    code: str, status: int = 400, *, oauth: str | None = None, description: str = "", header: bool = True
) -> oidc.HttpResponse:
    """An error the way the real service sends it (WIRE.md, "Errors"): the code in the
    ``x-amzn-ErrorType`` header (left out with ``header=False``), the OAuth ``error`` and
    ``error_description`` in the body."""
    headers = [("x-amzn-RequestId", "req-1")]
    if header:
        headers.append(
            ("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/com.amazonaws.sso.oidc/")
        )
    body: dict[str, str] = {"error_description": description or code}
    if oauth is not None:
        body["error"] = oauth
    return json_response(status, body, headers)


def register_ok(
    *,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    expires_at: float = T0 + 90 * 86400,
) -> oidc.HttpResponse:
    """A RegisterClient success (the registration expires at ``expires_at``, epoch seconds)."""
    return json_response(
        200,
        {
            "clientId": client_id,
            "clientSecret": client_secret,
            "clientIdIssuedAt": int(T0),
            "clientSecretExpiresAt": int(expires_at),
        },
    )


def start_ok(
    *,
    device_code: str = DEVICE_CODE,
    user_code: str = USER_CODE,
    expires_in: int = 600,
    interval: int | None = 1,
    complete: bool = True,
) -> oidc.HttpResponse:
    """A StartDeviceAuthorization success; ``interval=None`` leaves the interval out and
    ``complete=False`` the ``verificationUriComplete``."""
    body: dict[str, Any] = {
        "deviceCode": device_code,
        "userCode": user_code,
        "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
        "expiresIn": expires_in,
    }
    if complete:
        body["verificationUriComplete"] = f"https://device.sso.us-east-1.amazonaws.com/?user_code={user_code}"
    if interval is not None:
        body["interval"] = interval
    return json_response(200, body)


def token_ok(
    *, access_token: str = ACCESS_TOKEN, expires_in: int = 28800, refresh_token: str | None = REFRESH_TOKEN
) -> oidc.HttpResponse:
    """A CreateToken success."""
    body: dict[str, Any] = {"accessToken": access_token, "tokenType": "Bearer", "expiresIn": expires_in}
    if refresh_token is not None:
        body["refreshToken"] = refresh_token
    return json_response(200, body)


PENDING = error_response("AuthorizationPendingException", oauth="authorization_pending")
SLOW_DOWN = error_response("SlowDownException", oauth="slow_down")
EXPIRED = error_response("ExpiredTokenException", oauth="expired_token")
DENIED = error_response("AccessDeniedException", oauth="access_denied")
INVALID_CLIENT = error_response("InvalidClientException", 401, oauth="invalid_client")
INVALID_GRANT = error_response("InvalidGrantException", oauth="invalid_grant")
INVALID_REQUEST = error_response("InvalidRequestException", oauth="invalid_request")
SERVER_ERROR = error_response("InternalServerException", 500, oauth="server_error")
THROTTLED_429 = oidc.HttpResponse(status=429, body=b"", reason="Too Many Requests")
THROTTLING = error_response("ThrottlingException", 400)
BAD_GATEWAY_HTML = oidc.HttpResponse(
    status=502, headers=(("Content-Type", "text/html"),), body=b"<html>bad</html>"
)
#: A 200 whose body is not JSON (a truncating proxy).
MALFORMED = oidc.HttpResponse(status=200, headers=_JSON, body=b'{"accessToken": "trunc')
#: 200 bodies of the wrong JSON shape.
MALFORMED_JSON_TYPES = (
    json_response(200, []),
    json_response(200, {"accessToken": 5, "expiresIn": 1}),
    json_response(200, {"clientId": "x"}),
)


def reset() -> ConnectionResetError:
    """A fresh transport failure: the connection was reset."""
    return ConnectionResetError(104, "Connection reset by peer")


def timed_out() -> TimeoutError:
    """A fresh transport failure: the read timed out."""
    return TimeoutError("timed out")


class FixedRandom(random.Random):
    """A ``random.Random`` whose ``random()`` is always ``fraction``: jitter is deterministic and the
    object has no state to share, so flows cloned with :func:`clone` stay independent."""

    def __init__(self, fraction: float = 0.5) -> None:
        super().__init__(0)
        assert 0.0 <= fraction < 1.0
        self.fraction = fraction

    def random(self) -> float:
        return self.fraction


# --- request checks --------------------------------------------------------------------------------

#: Operation -> (path, required JSON members, optional members).
REQUESTS: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    "RegisterClient": (
        "/client/register",
        frozenset({"clientName", "clientType"}),
        frozenset({"scopes", "redirectUris", "grantTypes", "issuerUrl", "entitledApplicationArn"}),
    ),
    "StartDeviceAuthorization": (
        "/device_authorization",
        frozenset({"clientId", "clientSecret", "startUrl"}),
        frozenset(),
    ),
    "CreateToken": (
        "/token",
        frozenset({"clientId", "clientSecret", "grantType"}),
        frozenset({"deviceCode", "code", "refreshToken", "scope", "redirectUri", "codeVerifier"}),
    ),
}


def check_request(send: oidc.Send) -> dict[str, Any]:
    """Assert that ``send`` carries a well-formed request for its operation; return the JSON body.

    Checks the method, the path, the JSON headers and ``Content-Length``, that every required
    member is a non-empty string and that no unknown member is present.
    """
    assert isinstance(send, oidc.Send), send
    request = send.request
    path, required, optional = REQUESTS[send.operation]
    assert request.method == "POST"
    assert urlsplit(request.url).path.endswith(path), (send.operation, request.url)
    assert request.header("Content-Type") == "application/json"
    assert request.header("Content-Length") == str(len(request.body))
    assert request.header("Authorization") is None
    body = json.loads(request.body)
    assert isinstance(body, dict)
    for key in required:
        assert isinstance(body.get(key), str), (send.operation, key)
        assert body[key], (send.operation, key)
    assert set(body) <= required | optional, (send.operation, sorted(body))
    return body


# --- cloning ---------------------------------------------------------------------------------------


def _all_slots(cls: type) -> tuple[str, ...]:
    names: list[str] = []
    for klass in cls.__mro__:
        for name in klass.__dict__.get("__slots__", ()):
            if name not in names:
                names.append(name)
    return tuple(names)


_SLOTS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _slots_of(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    found = _SLOTS.get(cls)
    if found is None:
        names = _all_slots(cls)
        found = _SLOTS[cls] = (names, operator.attrgetter(*names))  # type: ignore[assignment]
    return found


def slot_names(flow: Any) -> tuple[str, ...]:
    """The names of every slot of ``flow``, in :func:`snapshot` order."""
    return _slots_of(type(flow))[0]


def snapshot(flow: Any) -> tuple[Any, ...]:
    """Every slot of ``flow`` as a tuple: equal snapshots mean an unchanged machine (the flows'
    fields are immutable values, so ``==`` on the tuple compares the whole state)."""
    return _slots_of(type(flow))[1](flow)


def clone(flow: Any) -> Any:
    """A shallow copy of a flow (every slot). The flows' fields are immutable values, except the
    ``rng``, which is shared: use a stateless :class:`FixedRandom` when clones must not interfere."""
    cls = type(flow)
    names, getter = _slots_of(cls)
    new = cls.__new__(cls)
    for name, value in zip(names, getter(flow), strict=True):
        object.__setattr__(new, name, value)
    return new


# --- the driver ------------------------------------------------------------------------------------

#: What answers a Send: a script of outcomes, or a function (send, now) -> outcome.
Outcome = oidc.HttpResponse | BaseException
Responder = Callable[[oidc.Send, float], Outcome]
#: For AuthCodeFlow: (action, now) -> (query, arrival time), or None for no redirect before
#: ``action.until``.
Redirector = Callable[[oidc.AwaitRedirect, float], "tuple[str, float] | None"]


@dataclasses.dataclass
class Trace:
    """What happened in one :func:`drive`.

    ``events`` lists ``(time, kind, payload)`` in order; kinds are ``"action"`` (payload the action),
    ``"response"`` / ``"failure"`` (the outcome reported), ``"redirect"`` (the query),
    ``"redirect_error"`` (what ``receive_redirect`` raised) and ``"error"`` (the exception the flow
    ended with). ``result`` is ``Done.result`` and ``error`` the flow's
    error, or both ``None`` when the script ran out first (``starved``). ``consumed`` counts outcomes.
    """

    events: list[tuple[float, str, Any]] = dataclasses.field(default_factory=list)
    result: Any = None
    error: BaseException | None = None
    starved: bool = False
    consumed: int = 0
    now: float = T0

    @property
    def actions(self) -> list[tuple[float, Any]]:
        """``(time, action)`` for every action, in order."""
        return [(t, p) for t, kind, p in self.events if kind == "action"]

    @property
    def sends(self) -> list[tuple[float, oidc.Send]]:
        """``(time, send)`` for every Send."""
        return [(t, p) for t, p in self.actions if isinstance(p, oidc.Send)]

    @property
    def waits(self) -> list[tuple[float, oidc.Wait]]:
        """``(time, wait)`` for every Wait."""
        return [(t, p) for t, p in self.actions if isinstance(p, oidc.Wait)]

    def of(self, kind: type) -> list[Any]:
        """Every action of type ``kind`` (``oidc.ShowCode``, ...)."""
        return [p for _, p in self.actions if isinstance(p, kind)]

    @property
    def operations(self) -> list[str]:
        """The operation of every Send, in order."""
        return [s.operation for _, s in self.sends]


def drive(
    flow: Any,
    script: Iterable[Outcome] | Responder,
    *,
    now: float = T0,
    latency: float = 0.0,
    redirect: Redirector | None = None,
    max_steps: int = 100_000,
) -> Trace:
    """Run ``flow`` to its end on a virtual clock starting at ``now``; return the :class:`Trace`.

    Each :class:`Send` is answered by the next outcome of ``script`` (or by calling it), which
    arrives ``latency`` seconds later. On a :class:`Wait` the clock jumps to ``until``. On an
    ``AwaitRedirect`` ``redirect`` decides whether and when a redirect arrives (passed to
    ``flow.receive_redirect``); without one, or when it returns ``None``, the clock jumps to
    ``until``. ``ShowCode`` and ``OpenBrowser`` are recorded only.
    The run stops at ``Done``, at the flow's error (never raised: see ``Trace.error``) or when the
    script runs out. The rules in the module docstring are asserted all along.
    """
    trace = Trace(now=now)
    responder: Responder | None = script if callable(script) else None
    outcomes: Iterator[Outcome] | None = None if callable(script) else iter(script)
    fence = now  # the latest Wait.until: no Send before it
    for _ in range(max_steps):
        try:
            action = flow.next_action(now)
        except oidc.LocalProtocolError:
            raise
        except oidc.SSOOIDCError as exc:
            _check_sticky(flow, exc, now)
            trace.events.append((now, "error", exc))
            trace.error = exc
            trace.now = now
            return trace
        trace.events.append((now, "action", action))
        if isinstance(action, oidc.Done):
            again = flow.next_action(now)
            assert isinstance(again, oidc.Done)
            assert again.result is action.result
            trace.result = action.result
            trace.now = now
            return trace
        if isinstance(action, oidc.Wait):
            assert action.until > now, f"Wait({action.until}) is not in the future at {now}"
            now = fence = action.until
        elif isinstance(action, oidc.Send):
            assert now >= fence, f"Send at {now} before an earlier Wait's until {fence}"
            deadline = getattr(flow, "deadline", None)
            assert deadline is None or now < deadline, f"Send at {now} at/after the deadline {deadline}"
            check_request(action)
            if responder is not None:
                outcome = responder(action, now)
            else:
                assert outcomes is not None
                outcome = next(outcomes, None)  # type: ignore[arg-type]
                if outcome is None:
                    trace.starved = True
                    trace.now = now
                    return trace
            trace.consumed += 1
            now += latency
            if isinstance(outcome, BaseException):
                trace.events.append((now, "failure", outcome))
                flow.receive_failure(outcome, now)
            else:
                trace.events.append((now, "response", outcome))
                flow.receive_response(outcome, now)
        elif isinstance(action, oidc.AwaitRedirect):
            assert action.until > now
            arrival = None if redirect is None else redirect(action, now)
            if arrival is None:
                now = fence = action.until
            else:
                query, at = arrival
                assert now <= at < action.until
                now = at
                trace.events.append((now, "redirect", query))
                try:
                    flow.receive_redirect(query, now)
                except oidc.LocalProtocolError:
                    raise
                except oidc.SSOOIDCError as exc:
                    # A stray redirect leaves the flow waiting; a failed one ends it (sticky).
                    trace.events.append((now, "redirect_error", exc))
        else:
            assert isinstance(action, (oidc.ShowCode, oidc.OpenBrowser)), action
    raise AssertionError(f"the flow did not finish within {max_steps} steps")


def _check_sticky(flow: Any, exc: BaseException, now: float) -> None:
    assert flow.state is flow.FAILED, flow.state
    again: BaseException | None = None
    try:
        flow.next_action(now)
    except oidc.SSOOIDCError as raised:
        again = raised
    assert again is exc, f"a failed flow must raise its error again, got {again!r}"
