"""The service's wire format, server side: error and success responses, request members, secrets.

Responses are built as a :class:`Draft` (status, headers, body); :func:`finish` adds what every
response carries (``x-amzn-RequestId``, ``Date``, ``Content-Length``). A handler refuses a request
by raising :class:`Fail` with the draft of the error response.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import random
import uuid
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from .._errors import ERROR_CLASSES
from .._http import HttpRequest, HttpResponse

# RFC 8628 section 6.1: a base-20 alphabet without vowels, so no word can be spelled by accident.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"

_JSON = ("Content-Type", "application/json")
_HTML = ("Content-Type", "text/html; charset=utf-8")
_OIDC_NAMESPACE = "http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"
_PORTAL_NAMESPACE = "com.amazonaws.switchboard.portal#"
_PORTAL_STATUS = {
    "UnauthorizedException": 401,
    "ResourceNotFoundException": 404,
    "TooManyRequestsException": 429,
    "InvalidRequestException": 400,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Draft:
    """A response without the headers every response carries."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Fail(Exception):
    """Raised by a handler to answer with ``draft`` (an error response)."""

    def __init__(self, draft: Draft) -> None:
        super().__init__(draft.status)
        self.draft = draft


def dumps(obj: Any) -> bytes:
    """Compact JSON, as the service writes it."""
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def ok(obj: Any) -> Draft:
    """A 200 JSON response."""
    return Draft(200, (_JSON,), dumps(obj))


def empty() -> Draft:
    """A 200 response with an empty body (Logout)."""
    return Draft(200, (_JSON,), b"")


def oidc_error(name: str, description: str) -> Fail:
    """An sso-oidc error: the coral ``x-amzn-ErrorType`` header and an OAuth body (RFC 6749 5.2)."""
    status = {"InvalidClientException": 401, "InternalServerException": 500}.get(name, 400)
    body = {"error": ERROR_CLASSES[name].oauth_error, "error_description": description}
    return Fail(Draft(status, (("x-amzn-ErrorType", f"{name}:{_OIDC_NAMESPACE}"), _JSON), dumps(body)))


def portal_error(name: str, message: str) -> Fail:
    """A portal error: the code in ``__type``, the message in ``message``."""
    body = {"__type": _PORTAL_NAMESPACE + name, "message": message}
    return Fail(Draft(_PORTAL_STATUS[name], (_JSON,), dumps(body)))


def generic_error(status: int, error_type: str, message: str) -> Fail:
    """An error from the service's front end (unknown operation, oversized request, throttling)."""
    return Fail(Draft(status, (("x-amzn-ErrorType", error_type), _JSON), dumps({"message": message})))


def page(status: int, title: str, text: str) -> Draft:
    """A small HTML page (the device verification and sign-in pages)."""
    body = (
        f"<!DOCTYPE html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return Draft(status, (_HTML,), body.encode("utf-8"))


def redirect(location: str) -> Draft:
    """A 302 redirect to ``location``."""
    return Draft(302, (("Location", location),), b"")


def finish(draft: Draft, rng: random.Random, now: float) -> HttpResponse:
    """The response: ``draft`` plus a request id, a ``Date`` and a ``Content-Length``."""
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    headers = (
        ("x-amzn-RequestId", request_id),
        *draft.headers,
        ("Date", formatdate(now, usegmt=True)),
        ("Content-Length", str(len(draft.body))),
    )
    return HttpResponse(status=draft.status, headers=headers, body=draft.body)


# --- request members -------------------------------------------------------------------------------


def json_body(body: bytes) -> dict[str, Any]:
    """The request's JSON object; a bad body is an ``InvalidRequestException``."""
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        raise oidc_error("InvalidRequestException", "Request body is not valid JSON") from None
    if not isinstance(obj, dict):
        raise oidc_error("InvalidRequestException", "Request body must be a JSON object")
    return obj


def text(obj: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    """String member ``key`` (``null`` is absent); a required one must be non-empty."""
    value = obj.get(key)
    if value is None or (required and value == ""):
        if required:
            raise oidc_error("InvalidRequestException", f"{key} is required")
        return None
    if not isinstance(value, str):
        raise oidc_error("InvalidRequestException", f"{key} must be a string")
    return value


def texts(obj: dict[str, Any], key: str) -> tuple[str, ...] | None:
    """List-of-strings member ``key`` (``null`` is absent)."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise oidc_error("InvalidRequestException", f"{key} must be a list of strings")
    return tuple(value)


# --- secrets (drawn from the injected random source) ---------------------------------------------


def b64(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def secret(rng: random.Random, prefix: str = "", n: int = 48) -> str:
    """An opaque secret: ``prefix`` and ``n`` random bytes, base64url."""
    return prefix + b64(rng.randbytes(n))


def jwt(header: dict[str, Any], payload: dict[str, Any], rng: random.Random) -> str:
    """A JWT-shaped (unsigned, random signature) string, like the service's secrets and ID tokens."""
    return ".".join((b64(dumps(header)), b64(dumps(payload)), b64(rng.randbytes(32))))


def user_code(rng: random.Random) -> str:
    """A user code such as ``BCDF-GHJK``."""
    chars = "".join(rng.choice(USER_CODE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


# --- the request as the handlers see it --------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Incoming:
    """A routed request: its ``base`` URL (``scheme://host:port``), query string and the request."""

    base: str
    query: str
    request: HttpRequest


def query_params(query: str) -> dict[str, str] | None:
    """The query parameters, or ``None`` when one is repeated (RFC 6749 section 3.1: "Request and
    response parameters MUST NOT be included more than once")."""
    pairs = parse_qsl(query, keep_blank_values=True)
    params = dict(pairs)
    return params if len(params) == len(pairs) else None
