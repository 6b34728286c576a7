"""AWS Signature Version 4 for CreateTokenWithIAM, byte for byte what botocore's ``SigV4Auth`` signs.

Pure: the time is passed in, nothing is read from the clock, the environment or the network.

The rules, as botocore 1.44 applies them to a rest-json request (WIRE.md, "CreateTokenWithIAM signing"):

- Every header of the request is signed except the hop-by-hop and tracing ones botocore leaves out
  (``SIGNED_HEADERS_BLACKLIST``: User-Agent, Expect, Transfer-Encoding …) and those botocore only adds
  after signing (Content-Length, ``amz-sdk-invocation-id``, ``amz-sdk-request``). For the requests this
  library builds that is exactly ``content-type;host;x-amz-date`` (plus ``x-amz-security-token``).
- ``host`` comes from the URL unless the request carries a Host header: lowercase, ``:port`` only when
  the port is not the scheme's default, IPv6 literals in brackets.
- The path has its dot segments and empty segments removed and is percent-encoded once more (every
  byte but ``A-Za-z0-9-_.~/``), so ``%2F`` is signed as ``%252F`` (SigV4 for services other than S3).
- The query string of the URL is already encoded; its ``name=value`` pairs are sorted (by name, then
  value) and a pair without ``=`` is signed as ``name=``.
- The payload hash is SHA-256 of the body, or the value of an ``X-Amz-Content-SHA256`` header.
- A stale ``Authorization``, ``X-Amz-Date`` or ``X-Amz-Security-Token`` header (a retried request) is
  dropped before signing, and the new ones are appended in botocore's order.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote, urlsplit

from ._errors import ParameterError, ParameterTypeError
from ._http import HttpRequest
from ._values import Value, member

__all__ = ["AwsCredentials", "sign_request"]

_ALGORITHM = "AWS4-HMAC-SHA256"

#: Never signed: botocore's ``SIGNED_HEADERS_BLACKLIST`` (auth.py) plus the headers botocore adds only
#: after signing (Content-Length when the body is prepared; the retry headers in ``request-created``).
_UNSIGNED = frozenset(
    {
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
        "content-length",
        "amz-sdk-invocation-id",
        "amz-sdk-request",
    }
)

#: Replaced by a new signature: a request being signed again must not keep the old ones.
_STALE = frozenset({"authorization", "x-amz-date", "x-amz-security-token"})

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_header_token(value: str) -> bool:
    """Visible ASCII only (``!`` to ``~``): safe in a header, nothing to trim, one encoding."""
    return value.isascii() and value.isprintable() and " " not in value


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class AwsCredentials(Value):
    """AWS credentials to sign CreateTokenWithIAM with: an access key and, for temporary ones, a token.

    ``access_key_id`` and ``session_token`` travel in headers, so they must be visible ASCII without
    spaces (real ones are letters, digits and base64). An empty ``session_token`` means none, as in
    botocore. The ``repr`` masks ``secret_access_key`` and ``session_token``.
    """

    access_key_id: str = member(required=True, nonempty=True)
    secret_access_key: str = member(required=True, nonempty=True, secret=True)
    session_token: str | None = member(secret=True)

    def __post_init__(self) -> None:
        Value.__post_init__(self)  # not super(): slots=True makes a new class
        if not _is_header_token(self.access_key_id):
            raise ParameterError(
                "AwsCredentials.access_key_id must be visible ASCII without spaces or control characters"
            )
        if self.session_token and not _is_header_token(self.session_token):
            raise ParameterError(
                "AwsCredentials.session_token must be visible ASCII without spaces or control characters"
            )


def _check_scope_part(name: str, value: object) -> None:
    # The credential scope is "date/region/service/aws4_request" inside the Authorization header:
    # a slash would make it ambiguous, a space or a control character unsendable.
    if not isinstance(value, str):
        raise ParameterTypeError(f"sign_request: {name} must be a str, not {type(value).__name__}")
    if not value:
        raise ParameterError(f"sign_request: {name} must not be empty")
    if not _is_header_token(value) or "/" in value:
        raise ParameterError(
            f"sign_request: {name} must be visible ASCII without '/' or spaces, got {value!r}"
        )


def _amz_date(now: object) -> str:
    if not isinstance(now, datetime):
        raise ParameterTypeError(f"sign_request: now must be a datetime, not {type(now).__name__}")
    offset = now.utcoffset()
    if offset is None:
        raise ParameterError(
            "sign_request: now must be timezone-aware; pass datetime.now(timezone.utc), not a naive datetime"
        )
    if offset:
        try:
            now = now - offset  # the UTC wall clock (tzinfo is kept but no longer consulted)
        except OverflowError:
            raise ParameterError(f"sign_request: now is out of range in UTC: {now!r}") from None
    # SigV4 timestamp, ISO 8601 basic format: YYYYMMDD'T'HHMMSS'Z' (botocore's SIGV4_TIMESTAMP).
    # %-formatting is twice as fast as the f-string here, and this runs on every request.
    fields = (now.year, now.month, now.day, now.hour, now.minute, now.second)
    return "%04d%02d%02dT%02d%02d%02dZ" % fields  # noqa: UP031


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 section 5.2.4, and AWS also collapses empty segments (botocore.utils.remove_dot_segments).
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if out:
                out.pop()
        elif segment and segment != ".":
            out.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and out else ""
    return first + "/".join(out) + last


@functools.lru_cache(maxsize=64)
def _canonical_target(url: str) -> tuple[str, str, str]:
    """(canonical path, canonical query, host) of ``url``; an endpoint has one URL, so it is cached."""
    try:
        parts = urlsplit(url)
        path = quote(_remove_dot_segments(parts.path) if parts.path else "/", safe="/~")
        port = parts.port
    except ValueError as exc:  # a bad port or IPv6 literal; UnicodeEncodeError (lone surrogates)
        raise ParameterError(f"sign_request: cannot sign URL {url!r}: {exc}") from None
    host = parts.hostname
    if not host:
        raise ParameterError(f"sign_request: URL {url!r} has no host")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    query = ""
    if parts.query:
        pairs = sorted(pair.partition("=")[::2] for pair in parts.query.split("&"))
        query = "&".join(f"{name}={value}" for name, value in pairs)
    return path, query, host


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


@functools.lru_cache(maxsize=16)
def _signing_key(
    secret: str, datestamp: str, region: str, service: str
) -> tuple[hashlib._Hash, hashlib._Hash]:
    """The HMAC-SHA256 inner and outer states keyed with the SigV4 signing key.

    kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") changes
    once a day, so a few entries cover every (credentials, region) a process uses. Keeping the two
    keyed SHA-256 states (RFC 2104: H(K ^ opad, H(K ^ ipad, text))) and copying them halves the cost of
    the final HMAC, which would otherwise set up its key again on every request.
    """
    key = hmac.digest(("AWS4" + secret).encode(), datestamp.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    key = hmac.digest(key, b"aws4_request", "sha256").ljust(64, b"\0")  # SHA-256 block size
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def sign_request(
    request: HttpRequest,
    *,
    credentials: AwsCredentials,
    region: str,
    service: str,
    now: datetime,
) -> HttpRequest:
    """Return ``request`` signed with SigV4 for ``region`` and ``service`` at time ``now``.

    The result carries the request's headers (less any stale signature) followed by ``X-Amz-Date``,
    ``X-Amz-Security-Token`` (when the credentials have a session token) and ``Authorization``,
    exactly as botocore signs them. ``now`` must be timezone-aware; it is converted to UTC.
    CreateTokenWithIAM signs for the service ``sso-oauth``.
    """
    if not isinstance(request, HttpRequest):
        raise ParameterTypeError(
            f"sign_request: request must be an HttpRequest, not {type(request).__name__}"
        )
    if not isinstance(credentials, AwsCredentials):
        raise ParameterTypeError(
            f"sign_request: credentials must be an AwsCredentials, not {type(credentials).__name__}"
        )
    _check_scope_part("region", region)
    _check_scope_part("service", service)
    amz_date = _amz_date(now)
    path, query, url_host = _canonical_target(request.url)

    kept: list[tuple[str, str]] = []
    signed: dict[str, str] = {}
    payload_hash: str | None = None
    for name, value in request.headers:
        lname = name.lower()
        if lname in _STALE:
            continue
        kept.append((name, value))
        if lname in _UNSIGNED:
            continue
        if payload_hash is None and lname == "x-amz-content-sha256":
            payload_hash = value
        # "Lowercase(HeaderName) + ':' + Trimall(HeaderValue)", repeated headers joined with commas.
        trimmed = " ".join(value.split())
        previous = signed.get(lname)
        signed[lname] = trimmed if previous is None else f"{previous},{trimmed}"
    if "host" not in signed:
        signed["host"] = url_host
    signed["x-amz-date"] = amz_date
    kept.append(("X-Amz-Date", amz_date))
    token = credentials.session_token
    if token:
        signed["x-amz-security-token"] = token
        kept.append(("X-Amz-Security-Token", token))

    names = sorted(signed)
    signed_headers = ";".join(names)
    canonical_headers = "".join([f"{name}:{signed[name]}\n" for name in names])
    if payload_hash is None:
        payload_hash = hashlib.sha256(request.body).hexdigest()
    canonical_request = (
        f"{request.method.upper()}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
    )
    datestamp = amz_date[:8]
    scope = f"{datestamp}/{region}/{service}/aws4_request"
    try:
        digest = hashlib.sha256(canonical_request.encode()).hexdigest()
        inner_key, outer_key = _signing_key(credentials.secret_access_key, datestamp, region, service)
    except UnicodeEncodeError:  # a lone surrogate in a header value or the secret key
        raise ParameterError(
            "sign_request: a header value or the secret access key is not encodable as UTF-8"
        ) from None
    string_to_sign = f"{_ALGORITHM}\n{amz_date}\n{scope}\n{digest}"
    inner = inner_key.copy()
    inner.update(string_to_sign.encode())
    outer = outer_key.copy()
    outer.update(inner.digest())
    signature = outer.hexdigest()
    kept.append(
        (
            "Authorization",
            f"{_ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}",
        )
    )
    return HttpRequest(method=request.method, url=request.url, headers=tuple(kept), body=request.body)
