"""The wire layer: one class per API operation, each encoding a request and decoding its response.

Requests are byte-identical to botocore 1.44.5's for the same members (WIRE.md): JSON bodies
with ``json.dumps`` defaults in model order, only the members given; portal query strings in
model order, percent-encoded like botocore (``-_.~`` unescaped). The headers are botocore's
minus its own ``User-Agent`` and ``amz-sdk-*`` (ours is :data:`USER_AGENT`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar
from urllib.parse import quote, urlsplit

from . import _parse
from ._errors import ParameterError, RemoteProtocolError
from ._http import HttpRequest, HttpResponse
from ._parse import DEFAULT_MAX_BODY_SIZE, JsonObject, bounded, get, str_list
from ._sigv4 import AwsCredentials, sign_request
from ._values import Record, Value, compile_function, json_body, member, record_list, unchecked

__all__ = [
    "GRANT_AUTHORIZATION_CODE",
    "GRANT_DEVICE_CODE",
    "GRANT_JWT_BEARER",
    "GRANT_REFRESH_TOKEN",
    "GRANT_TOKEN_EXCHANGE",
    "USER_AGENT",
    "AccountInfo",
    "CreateToken",
    "CreateTokenResult",
    "CreateTokenWithIAM",
    "CreateTokenWithIAMResult",
    "GetRoleCredentials",
    "GetRoleCredentialsResult",
    "ListAccountRoles",
    "ListAccountRolesResult",
    "ListAccounts",
    "ListAccountsResult",
    "Logout",
    "Operation",
    "RegisterClient",
    "RegisterClientResult",
    "RoleInfo",
    "StartDeviceAuthorization",
    "StartDeviceAuthorizationResult",
]

#: Our ``User-Agent``; the rest of the headers match botocore's.
USER_AGENT = "sansio-ssooidc/0.1.0"

#: ``grantType`` of a device code poll (RFC 8628).
GRANT_DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
#: ``grantType`` of a refresh (RFC 6749 section 6).
GRANT_REFRESH_TOKEN = "refresh_token"
#: ``grantType`` of an authorization code exchange (RFC 6749 section 4.1, with PKCE).
GRANT_AUTHORIZATION_CODE = "authorization_code"
#: ``grantType`` of CreateTokenWithIAM with a trusted token issuer's JWT (RFC 7523).
GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
#: ``grantType`` of CreateTokenWithIAM token exchange (RFC 8693).
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"

# Sane bounds for numbers the service controls (each rejects nonsense, not policy):
#: A token lives at most this long: the service issues 1 to 12 hours; a year is generous.
MAX_TOKEN_LIFETIME = 366 * 86400
#: A device code lives at most this long: the service sends 600 s; a day is generous.
MAX_DEVICE_CODE_LIFETIME = 86400
#: The poll interval is at most this: RFC 8628 suggests 5 s, the service sends 1; 5 min is generous.
MAX_INTERVAL = 300
#: Epoch seconds after which a time is certainly garbage (the year 3000).
MAX_EPOCH = 32503680000

ResultT = TypeVar("ResultT")
RecordT = TypeVar("RecordT", bound=Record)
_UTC = _dt.timezone.utc


def _request(
    method: str, url: str, headers: tuple[tuple[str, str], ...], body: bytes, user_agent: object
) -> HttpRequest:
    """The request, validated only where the caller had a say: the members were checked on
    construction and the endpoint by ``_url``, so only a ``user_agent`` that is not a str needs
    ``HttpRequest``'s checks (bytes are decoded, anything else refused)."""
    if type(user_agent) is str:
        return _new_request(method=method, url=url, headers=headers, body=body)
    return HttpRequest(method=method, url=url, headers=headers, body=body)


_new_request = unchecked(HttpRequest)


#: Query values that ``quote(value, safe="-_.~")`` leaves as they are (account ids, most role names).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*").fullmatch


def _quote(value: object) -> str:
    text = str(value)
    return text if _UNRESERVED(text) else quote(text, safe="-_.~")


_QUERY_STRINGS: dict[type, Callable[[Any], str]] = {}


def _query_lines(cls: type[Record]) -> list[str]:
    """Lines of code appending ``f"{wire}={quoted value}"`` to ``out`` for each query member of a
    ``cls`` value ``self`` that is not ``None``, in field order (names ``_quote`` and ``_int``)."""
    lines = []
    for name, wire, kind, _required, _secret, _nonempty, loc in cls._field_specs():
        if loc == "query" and wire:
            # An int is digits and maybe "-", which need no quoting: written as json writes it.
            write = "_int(v)" if kind == "int" else "_quote(v)"
            lines.append(f"v = self.{name}")
            lines.append(f"if v is not None: out.append({wire + '='!r} + {write})")
    return lines


def _query_string(cls: type[Record]) -> Callable[[Any], str]:
    """``query(op)``: ``"?" + "&".join(f"{wire}={_quote(value)}" ...)`` over the query members
    that are not ``None``, in field order, or ``""`` when there are none; written by code made
    from the field table, like the other per-call helpers in ``_values``."""
    query = _QUERY_STRINGS.get(cls)
    if query is None:
        lines = ["def query(self):", "    out = []", *("    " + line for line in _query_lines(cls))]
        lines.append("    return '?' + '&'.join(out) if out else ''")
        query = _QUERY_STRINGS[cls] = compile_function(
            "\n".join(lines), {"_quote": _quote, "_int": int.__repr__}, "query"
        )
    return query


def _epoch(seconds: float) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(seconds, _UTC)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Operation(Value, Generic[ResultT]):
    """Base of the operations: ``to_request(endpoint)`` and ``parse_response(response)``."""

    service: ClassVar[str] = "sso-oidc"
    method: ClassVar[str] = "POST"
    path: ClassVar[str] = "/"
    _body_members: ClassVar[tuple[tuple[str, str], ...]] = ()
    _query_members: ClassVar[tuple[tuple[str, str], ...]] = ()

    def _url(self, endpoint: str) -> str:
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            raise ParameterError(
                f"endpoint must be an absolute http(s) URL such as resolve_endpoint(region) returns, "
                f"got {endpoint!r}"
            )
        try:
            return endpoint.rstrip("/") + self.path + _query_string(type(self))(self)
        except UnicodeEncodeError as exc:
            names = [spec[0] for spec in self._field_specs() if spec[6] == "query"]
            raise ParameterError(
                f"{type(self).__name__}: a query member ({', '.join(names)}) "
                f"is not encodable as UTF-8 ({exc.reason})"
            ) from None

    def _body(self) -> bytes:
        return json_body(type(self))(self)

    def to_request(self, endpoint: str, *, user_agent: str = USER_AGENT) -> HttpRequest:
        """The HTTP request for this operation against ``endpoint`` (a base URL)."""
        body = self._body()
        return _request(
            self.method,
            self._url(endpoint),
            (
                ("Content-Type", "application/json"),
                ("User-Agent", user_agent),
                ("Content-Length", str(len(body))),
            ),
            body,
            user_agent,
        )

    def parse_response(
        self, response: HttpResponse, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE
    ) -> ResultT:
        """The typed result of a success response; raises the modeled :class:`ServiceError`
        subclass for an error response and :class:`RemoteProtocolError` for a malformed one."""
        return self._parse(_parse.json_object(response, max_body_size), response)

    def _parse(self, obj: JsonObject, response: HttpResponse) -> ResultT:
        raise NotImplementedError


# --- sso-oidc ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RegisterClientResult(Record):
    """A client registration. Times are epoch seconds; ``client_secret_expires`` is a datetime."""

    client_id: str = member("clientId")
    client_secret: str = member("clientSecret", secret=True)
    client_id_issued_at: int | None = member("clientIdIssuedAt", kind="int")
    client_secret_expires_at: int = member("clientSecretExpiresAt", kind="int")
    authorization_endpoint: str | None = member("authorizationEndpoint")
    token_endpoint: str | None = member("tokenEndpoint")

    @property
    def client_secret_expires(self) -> _dt.datetime:
        """When the registration expires, as an aware UTC datetime."""
        return _epoch(self.client_secret_expires_at)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RegisterClient(Operation[RegisterClientResult]):
    """RegisterClient: register a public client (``POST /client/register``)."""

    path: ClassVar[str] = "/client/register"
    client_name: str = member("clientName", required=True, nonempty=True)
    client_type: str = member("clientType", required=True, nonempty=True)
    scopes: Sequence[str] | None = member("scopes", kind="strs")
    redirect_uris: Sequence[str] | None = member("redirectUris", kind="strs")
    grant_types: Sequence[str] | None = member("grantTypes", kind="strs")
    issuer_url: str | None = member("issuerUrl")
    entitled_application_arn: str | None = member("entitledApplicationArn")

    def _parse(self, obj: JsonObject, response: HttpResponse) -> RegisterClientResult:
        client_id = get(obj, "clientId", str, response, required=True)
        if (
            not client_id.isascii()
            and max(client_id) >= "\ud800"
            and any("\ud800" <= c <= "\udfff" for c in client_id)
        ):  # a lone surrogate cannot go into the authorize URL or a cache file
            raise RemoteProtocolError(
                "response member 'clientId' is not valid Unicode", status=response.status
            )
        return unchecked(RegisterClientResult)(
            client_id=client_id,
            client_secret=get(obj, "clientSecret", str, response, required=True),
            client_id_issued_at=bounded(
                get(obj, "clientIdIssuedAt", int, response), "clientIdIssuedAt", 0, MAX_EPOCH, response
            ),
            client_secret_expires_at=bounded(
                get(obj, "clientSecretExpiresAt", int, response, required=True),
                "clientSecretExpiresAt",
                1,
                MAX_EPOCH,
                response,
            ),
            authorization_endpoint=get(obj, "authorizationEndpoint", str, response),
            token_endpoint=get(obj, "tokenEndpoint", str, response),
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class StartDeviceAuthorizationResult(Record):
    """A device authorization: codes, where the user goes, and for how long (seconds).

    ``interval`` is ``None`` when the service sent none (the flow then uses RFC 8628's 5 s).
    """

    device_code: str = member("deviceCode", secret=True)
    user_code: str = member("userCode")
    verification_uri: str = member("verificationUri")
    verification_uri_complete: str | None = member("verificationUriComplete")
    expires_in: int = member("expiresIn", kind="int")
    interval: int | None = member("interval", kind="int")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class StartDeviceAuthorization(Operation[StartDeviceAuthorizationResult]):
    """StartDeviceAuthorization (``POST /device_authorization``)."""

    path: ClassVar[str] = "/device_authorization"
    client_id: str = member("clientId", required=True, nonempty=True)
    client_secret: str = member("clientSecret", required=True, nonempty=True, secret=True)
    start_url: str = member("startUrl", required=True, nonempty=True)

    def _parse(self, obj: JsonObject, response: HttpResponse) -> StartDeviceAuthorizationResult:
        return unchecked(StartDeviceAuthorizationResult)(
            device_code=get(obj, "deviceCode", str, response, required=True),
            user_code=get(obj, "userCode", str, response, required=True),
            verification_uri=get(obj, "verificationUri", str, response, required=True),
            verification_uri_complete=get(obj, "verificationUriComplete", str, response),
            expires_in=bounded(
                get(obj, "expiresIn", int, response, required=True),
                "expiresIn",
                1,
                MAX_DEVICE_CODE_LIFETIME,
                response,
            ),
            interval=bounded(get(obj, "interval", int, response), "interval", 1, MAX_INTERVAL, response),
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CreateTokenResult(Record):
    """A token: ``expires_in`` seconds from the response's receipt; ``token_type`` is ``Bearer``."""

    access_token: str = member("accessToken", secret=True)
    token_type: str | None = member("tokenType")
    expires_in: int = member("expiresIn", kind="int")
    refresh_token: str | None = member("refreshToken", secret=True)
    id_token: str | None = member("idToken", secret=True)


def _token_fields(obj: JsonObject, response: HttpResponse) -> dict[str, Any]:
    token_type = get(obj, "tokenType", str, response)
    if token_type is not None and token_type.lower() != "bearer":
        raise RemoteProtocolError(
            f"tokenType {token_type[:40]!r} is not Bearer", status=response.status, body=response.body
        )
    return {
        "access_token": get(obj, "accessToken", str, response, required=True),
        "token_type": token_type,
        "expires_in": bounded(
            get(obj, "expiresIn", int, response, required=True), "expiresIn", 1, MAX_TOKEN_LIFETIME, response
        ),
        "refresh_token": get(obj, "refreshToken", str, response),
        "id_token": get(obj, "idToken", str, response),
    }


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CreateToken(Operation[CreateTokenResult]):
    """CreateToken (``POST /token``): device code, authorization code or refresh token grant."""

    path: ClassVar[str] = "/token"
    client_id: str = member("clientId", required=True, nonempty=True)
    client_secret: str = member("clientSecret", required=True, nonempty=True, secret=True)
    grant_type: str = member("grantType", required=True, nonempty=True)
    device_code: str | None = member("deviceCode", secret=True)
    code: str | None = member("code", secret=True)
    refresh_token: str | None = member("refreshToken", secret=True)
    scope: Sequence[str] | None = member("scope", kind="strs")
    redirect_uri: str | None = member("redirectUri")
    code_verifier: str | None = member("codeVerifier", secret=True)

    def _parse(self, obj: JsonObject, response: HttpResponse) -> CreateTokenResult:
        return unchecked(CreateTokenResult)(**_token_fields(obj, response))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CreateTokenWithIAMResult(Record):
    """A token from CreateTokenWithIAM, with the issued token type, scopes and identity context."""

    access_token: str = member("accessToken", secret=True)
    token_type: str | None = member("tokenType")
    expires_in: int = member("expiresIn", kind="int")
    refresh_token: str | None = member("refreshToken", secret=True)
    id_token: str | None = member("idToken", secret=True)
    issued_token_type: str | None = member("issuedTokenType")
    scope: Sequence[str] | None = member("scope", kind="strs")
    identity_context: str | None = member("identityContext")


_OIDC_HOST = re.compile(r"^oidc(?:-fips)?\.([a-z0-9-]+)\.")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CreateTokenWithIAM(Operation[CreateTokenWithIAMResult]):
    """CreateTokenWithIAM (``POST /token?aws_iam=t``), signed with SigV4 (service ``sso-oauth``)."""

    path: ClassVar[str] = "/token?aws_iam=t"
    client_id: str = member("clientId", required=True, nonempty=True)
    grant_type: str = member("grantType", required=True, nonempty=True)
    code: str | None = member("code", secret=True)
    refresh_token: str | None = member("refreshToken", secret=True)
    assertion: str | None = member("assertion", secret=True)
    scope: Sequence[str] | None = member("scope", kind="strs")
    redirect_uri: str | None = member("redirectUri")
    subject_token: str | None = member("subjectToken", secret=True)
    subject_token_type: str | None = member("subjectTokenType")
    requested_token_type: str | None = member("requestedTokenType")
    code_verifier: str | None = member("codeVerifier", secret=True)

    def to_request(  # type: ignore[override]
        self,
        endpoint: str,
        *,
        credentials: AwsCredentials,
        now: _dt.datetime,
        region: str | None = None,
        user_agent: str = USER_AGENT,
    ) -> HttpRequest:
        """The signed request. ``region`` is the signing region; it defaults to the one in a
        standard ``oidc.<region>.…`` endpoint and must be given for a custom endpoint."""
        request = Operation.to_request(self, endpoint, user_agent=user_agent)
        if region is None:
            match = _OIDC_HOST.match(urlsplit(request.url).hostname or "")
            if match is None:
                raise ParameterError(
                    f"cannot tell the signing region from endpoint {endpoint!r}; pass region=..."
                )
            region = match.group(1)
        return sign_request(request, credentials=credentials, region=region, service="sso-oauth", now=now)

    def _parse(self, obj: JsonObject, response: HttpResponse) -> CreateTokenWithIAMResult:
        details = get(obj, "awsAdditionalDetails", dict, response) or {}
        return unchecked(CreateTokenWithIAMResult)(
            **_token_fields(obj, response),
            issued_token_type=get(obj, "issuedTokenType", str, response),
            scope=str_list(obj, "scope", response),
            identity_context=get(details, "identityContext", str, response),
        )


# --- portal (sso) -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class _PortalOperation(Operation[ResultT]):
    service: ClassVar[str] = "sso"
    method: ClassVar[str] = "GET"
    access_token: str = member(
        "x-amz-sso_bearer_token", required=True, nonempty=True, secret=True, location="header"
    )

    def to_request(self, endpoint: str, *, user_agent: str = USER_AGENT) -> HttpRequest:
        """The HTTP request against the portal ``endpoint`` (``resolve_endpoint(r, service="sso")``)."""
        headers: tuple[tuple[str, str], ...] = (
            ("x-amz-sso_bearer_token", self.access_token),
            ("User-Agent", user_agent),
        )
        if self.method == "POST":
            headers += (("Content-Length", "0"),)
        request = _request(self.method, self._url(endpoint), headers, b"", user_agent)
        if type(endpoint) is str:  # valid, or _url had raised
            if len(_PORTAL_BASES) >= 64:  # bounded, whatever endpoints a caller makes up
                _PORTAL_BASES.clear()
            _PORTAL_BASES[endpoint] = endpoint.rstrip("/")
        cls = type(self)
        if cls.__module__ == __name__ and "to_request" not in cls.__dict__:  # not a subclass of yours
            cls.to_request = _portal_request(cls)  # type: ignore[method-assign]
        return request


#: Portal endpoints ``to_request`` has found valid, each with its trailing slashes cut.
_PORTAL_BASES: dict[str, str] = {}


def _portal_request(cls: type[_PortalOperation[Any]]) -> Callable[..., HttpRequest]:
    """``to_request`` for the portal operation ``cls``, installed on the first call of the one
    above: the same request in half the time (a portal call is mostly its response), written by
    code made from the field table. It hands back to the one above for an endpoint not seen
    valid yet, a ``user_agent`` that is not a str, a query member UTF-8 cannot encode, and an
    instance of a subclass (whose overrides of ``to_request`` or ``_url`` it would skip)."""
    slow = _PortalOperation.to_request
    post = ', ("Content-Length", "0")' if cls.method == "POST" else ""
    query = _query_lines(cls)
    lines = [
        "def to_request(self, endpoint, *, user_agent=_USER_AGENT):",
        "    base = _bases.get(endpoint) if type(endpoint) is _str else None",
        "    if base is None or type(user_agent) is not _str or type(self) is not _cls:",
        "        return _slow(self, endpoint, user_agent=user_agent)",
        "    out = []",
    ]
    if query:
        lines += ["    try:", *("        " + line for line in query), "    except UnicodeEncodeError:"]
        lines += ["        return _slow(self, endpoint, user_agent=user_agent)"]
    lines += [
        "    r = _new(_HttpRequest)",
        f"    _method(r, {cls.method!r})",
        f"    _url(r, base + {cls.path!r} + '?' + '&'.join(out) if out else base + {cls.path!r})",
        f'    _headers(r, (("x-amz-sso_bearer_token", self.access_token), ("User-Agent", user_agent){post}))',
        "    _body(r, b'')",
        "    return r",
    ]
    namespace = {
        "_USER_AGENT": USER_AGENT,
        "_bases": _PORTAL_BASES,
        "_str": str,
        "_slow": slow,
        "_cls": cls,
        "_quote": _quote,
        "_int": int.__repr__,
        "_new": object.__new__,
        "_HttpRequest": HttpRequest,
        **{f"_{name}": getattr(HttpRequest, name).__set__ for name in ("method", "url", "headers", "body")},
    }
    fast = compile_function("\n".join(lines), namespace, "to_request")
    fast.__doc__, fast.__qualname__ = slow.__doc__, f"{cls.__qualname__}.to_request"
    fast.__wrapped__ = slow  # type: ignore[attr-defined]  # what it stands for (for the tests, and inspect)
    return fast


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class GetRoleCredentialsResult(Record):
    """Role credentials. ``expiration`` is in **milliseconds** since the epoch (as the portal sends);
    ``expiration_datetime`` is the same instant as an aware UTC datetime."""

    access_key_id: str = member("accessKeyId")
    secret_access_key: str = member("secretAccessKey", secret=True)
    session_token: str = member("sessionToken", secret=True)
    expiration: int = member("expiration", kind="int")

    @property
    def expiration_datetime(self) -> _dt.datetime:
        """When the credentials expire, as an aware UTC datetime."""
        return _epoch(self.expiration / 1000)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class GetRoleCredentials(_PortalOperation[GetRoleCredentialsResult]):
    """GetRoleCredentials (``GET /federation/credentials``): a token into AWS credentials."""

    path: ClassVar[str] = "/federation/credentials"
    role_name: str = member("role_name", required=True, nonempty=True, location="query")
    account_id: str = member("account_id", required=True, nonempty=True, location="query")

    def _parse(self, obj: JsonObject, response: HttpResponse) -> GetRoleCredentialsResult:
        creds = get(obj, "roleCredentials", dict, response, required=True)
        return unchecked(GetRoleCredentialsResult)(
            access_key_id=get(creds, "accessKeyId", str, response, required=True),
            secret_access_key=get(creds, "secretAccessKey", str, response, required=True),
            session_token=get(creds, "sessionToken", str, response, required=True),
            expiration=bounded(
                get(creds, "expiration", int, response, required=True),
                "expiration",
                1,
                MAX_EPOCH * 1000,
                response,
            ),
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class AccountInfo(Record):
    """An account the user can access."""

    account_id: str | None = member("accountId")
    account_name: str | None = member("accountName")
    email_address: str | None = member("emailAddress")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ListAccountsResult(Record):
    """One page of accounts; ``next_token`` is ``None`` on the last page."""

    accounts: tuple[AccountInfo, ...] = member("accountList", kind="any")
    next_token: str | None = member("nextToken")


def _records(cls: type[RecordT], obj: JsonObject, key: str, response: HttpResponse) -> tuple[RecordT, ...]:
    """``obj[key]``, a list of objects, as a tuple of ``cls`` (see :func:`record_list`)."""
    items = obj.get(key)
    if type(items) is not list:
        get(obj, key, list, response)  # raises unless absent
        return ()
    records = record_list(cls)(items)
    if records is None:
        raise _malformed(cls, items, key, response)
    return records


def _malformed(cls: type[Record], items: list[Any], key: str, response: HttpResponse) -> RemoteProtocolError:
    """The error for the first fault in ``items``, which :func:`record_list` refused."""
    if not all(isinstance(item, dict) for item in items):
        return RemoteProtocolError(
            f"response member {key!r} must be a list of objects", status=response.status, body=response.body
        )
    wires = [spec[1] for spec in cls._field_specs()]
    item, wire = next(
        (item, wire) for item in items for wire in wires if not isinstance(item.get(wire), (str, type(None)))
    )
    return RemoteProtocolError(
        f"response member {wire!r} is a {type(item[wire]).__name__}, expected str",
        status=response.status,
        body=response.body,
    )


_new_accounts = unchecked(ListAccountsResult)
_STR_OR_NONE = (str, type(None))


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class _PagedOperation(_PortalOperation[ResultT]):
    next_token: str | None = member("next_token", location="query")
    max_results: int | None = member("max_result", kind="int", location="query", minimum=1)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ListAccounts(_PagedOperation[ListAccountsResult]):
    """ListAccounts (``GET /assignment/accounts``), one page."""

    path: ClassVar[str] = "/assignment/accounts"

    def _parse(self, obj: JsonObject, response: HttpResponse) -> ListAccountsResult:
        items, token = obj.get("accountList"), obj.get("nextToken")
        if type(items) is list and type(token) in _STR_OR_NONE:  # the usual page, in one go
            accounts = record_list(AccountInfo)(items)
            if accounts is not None:
                return _new_accounts(accounts=accounts, next_token=token)
        return _new_accounts(  # the checked way, which names the fault
            accounts=_records(AccountInfo, obj, "accountList", response),
            next_token=get(obj, "nextToken", str, response),
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RoleInfo(Record):
    """A role the user can assume in an account."""

    role_name: str | None = member("roleName")
    account_id: str | None = member("accountId")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ListAccountRolesResult(Record):
    """One page of roles; ``next_token`` is ``None`` on the last page."""

    roles: tuple[RoleInfo, ...] = member("roleList", kind="any")
    next_token: str | None = member("nextToken")


_new_roles = unchecked(ListAccountRolesResult)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class ListAccountRoles(_PagedOperation[ListAccountRolesResult]):
    """ListAccountRoles (``GET /assignment/roles``), one page."""

    path: ClassVar[str] = "/assignment/roles"
    account_id: str = member("account_id", required=True, nonempty=True, location="query")

    def _parse(self, obj: JsonObject, response: HttpResponse) -> ListAccountRolesResult:
        items, token = obj.get("roleList"), obj.get("nextToken")
        if type(items) is list and type(token) in _STR_OR_NONE:  # as ListAccounts._parse
            roles = record_list(RoleInfo)(items)
            if roles is not None:
                return _new_roles(roles=roles, next_token=token)
        return _new_roles(
            roles=_records(RoleInfo, obj, "roleList", response),
            next_token=get(obj, "nextToken", str, response),
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Logout(_PortalOperation[None]):
    """Logout (``POST /logout``): ends the user's portal session for this token."""

    method: ClassVar[str] = "POST"
    path: ClassVar[str] = "/logout"

    def parse_response(self, response: HttpResponse, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        """``None`` on success; raises the modeled error otherwise."""
        _parse.json_object(response, max_body_size, empty_ok=True)
