"""The two values that cross the sans-IO boundary: :class:`HttpRequest` out, :class:`HttpResponse` in."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from ._errors import ParameterError, ParameterTypeError

__all__ = ["Headers", "HttpRequest", "HttpResponse"]

Headers = tuple[tuple[str, str], ...]

#: Headers whose values are credentials; shown as ``***`` in a ``repr``.
_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "x-amz-sso_bearer_token",
        "x-amz-security-token",
        # Not sent by this library, but a proxy or load balancer may set or ask for them.
        "cookie",
        "set-cookie",
        "proxy-authorization",
    }
)


def _headers(owner: str, value: object) -> Headers:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ParameterTypeError(f"{owner}.headers must be a sequence of (name, value) pairs")
    out = []
    for pair in value:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            # Only the shape: a malformed pair may well hold a credential.
            shape = f" of {len(pair)} item(s)" if isinstance(pair, (tuple, list)) else ""
            raise ParameterTypeError(
                f"{owner}.headers must contain (name, value) pairs, got a {type(pair).__name__}{shape}"
            )
        name, val = pair
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(val, bytes):
            val = val.decode("latin-1")
        if not isinstance(name, str) or not isinstance(val, str):
            raise ParameterTypeError(f"{owner}.headers names and values must be str or bytes")
        out.append((name, val))
    return tuple(out)


def _header(headers: Headers, name: str) -> str | None:
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


def _repr_headers(headers: Headers) -> str:
    shown = [(k, "***" if k.lower() in _SECRET_HEADERS else v) for k, v in headers]
    return repr(shown)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class HttpRequest:
    """An HTTP request for an adapter to send: ``method``, absolute ``url``, ``headers``, ``body``.

    ``body`` may carry secrets, so the ``repr`` shows only its length, and credential headers
    are masked.
    """

    method: str
    url: str
    headers: Headers = ()
    body: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not self.method:
            raise ParameterTypeError("HttpRequest.method must be a non-empty str")
        if not isinstance(self.url, str) or not self.url.startswith(("http://", "https://")):
            raise ParameterError(f"HttpRequest.url must be an absolute http(s) URL, got {self.url!r}")
        if not isinstance(self.body, bytes):
            raise ParameterTypeError("HttpRequest.body must be bytes")
        object.__setattr__(self, "headers", _headers("HttpRequest", self.headers))

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        return _header(self.headers, name)

    def __repr__(self) -> str:
        return (
            f"HttpRequest(method={self.method!r}, url={self.url!r}, "
            f"headers={_repr_headers(self.headers)}, body=<{len(self.body)} bytes>)"
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class HttpResponse:
    """An HTTP response as an adapter received it: ``status``, ``headers``, ``body``, ``reason``.

    Header names and values may be given as ``bytes`` (decoded as Latin-1). The ``repr`` shows
    only the body's length, since success bodies carry tokens.
    """

    status: int
    headers: Headers = ()
    body: bytes = b""
    reason: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.status, bool) or not isinstance(self.status, int):
            raise ParameterTypeError("HttpResponse.status must be an int")
        if not 100 <= self.status <= 599:
            raise ParameterError(f"HttpResponse.status must be within 100..599, got {self.status}")
        if not isinstance(self.body, bytes):
            raise ParameterTypeError("HttpResponse.body must be bytes")
        if not isinstance(self.reason, str):
            raise ParameterTypeError("HttpResponse.reason must be a str")
        object.__setattr__(self, "headers", _headers("HttpResponse", self.headers))

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        return _header(self.headers, name)

    def __repr__(self) -> str:
        return (
            f"HttpResponse(status={self.status}, headers={_repr_headers(self.headers)}, "
            f"body=<{len(self.body)} bytes>)"
        )
