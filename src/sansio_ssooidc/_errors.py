"""Every exception the library raises, split by blame (h11 style).

- :class:`LocalProtocolError`: the caller used the library wrongly (an illegal call for the state).
- :class:`ParameterError` / :class:`ParameterTypeError`: a value given to the library is invalid.
- :class:`RemoteProtocolError`: the peer sent something malformed (status and a redacted excerpt).
- :class:`ServiceError` and its subclasses: the service answered with a modeled error.

All derive from :class:`SSOOIDCError`. No message ever contains a secret: excerpts of bodies are
redacted by :func:`redact` before they are stored.
"""

from __future__ import annotations

import re

__all__ = [
    "ERROR_CLASSES",
    "AccessDeniedException",
    "AuthorizationPendingException",
    "ExpiredTokenException",
    "InternalServerException",
    "InvalidClientException",
    "InvalidClientMetadataException",
    "InvalidGrantException",
    "InvalidRedirectUriException",
    "InvalidRequestException",
    "InvalidRequestRegionException",
    "InvalidScopeException",
    "LocalProtocolError",
    "ParameterError",
    "ParameterTypeError",
    "RemoteProtocolError",
    "ResourceNotFoundException",
    "SSOOIDCError",
    "ServiceError",
    "SlowDownException",
    "TooManyRequestsException",
    "UnauthorizedClientException",
    "UnauthorizedException",
    "UnsupportedGrantTypeException",
    "redact",
]

#: JSON members whose values are secrets (WIRE.md, "Sensitive"), in wire and cache spelling.
SECRET_KEYS = frozenset(
    {
        "clientSecret",
        "accessToken",
        "refreshToken",
        "idToken",
        "codeVerifier",
        "assertion",
        "subjectToken",
        "deviceCode",
        "secretAccessKey",
        "sessionToken",
        "SecretAccessKey",
        "SessionToken",
    }
)

# The key may be escaped (\"accessToken\": \"…\"), as in a message quoting a JSON request: the mask then
# runs to the end of the enclosing string, which is more than needed and never less.
_SECRET_JSON = re.compile(
    r'(\\?"(?:' + "|".join(sorted(SECRET_KEYS)) + r')\\?"\s*:\s*)\\?"(?:[^"\\]|\\.)*("?)'
)
_SECRET_QUERY = re.compile(
    r"((?:^|[?&])(?:code|code_verifier|state|device_code|refresh_token|access_token)=)[^&#\s]*"
)


def _mask_json(match: re.Match[str]) -> str:
    return match.group(1) + '"***"'


def _mask_query(match: re.Match[str]) -> str:
    return match.group(1) + "***"


def redact(text: str) -> str:
    """Mask the values of secret JSON members and query parameters in ``text``.

    Works on truncated JSON too (an unterminated secret string is masked to its end).
    """
    # Each pattern needs its own character to match; a function (not a "\1" template, which costs
    # a call into the re module per sub) as the replacement makes a text without a match free.
    if '"' in text:
        text = _SECRET_JSON.sub(_mask_json, text)
    if "=" in text:
        text = _SECRET_QUERY.sub(_mask_query, text)
    return text


class SSOOIDCError(Exception):
    """Root of every exception raised by sansio-ssooidc."""


class LocalProtocolError(SSOOIDCError):
    """The caller did something the protocol state does not allow (a bug in the calling code)."""


class ParameterError(SSOOIDCError, ValueError):
    """A value passed to the library is invalid; the message names the field and the fix."""


class ParameterTypeError(SSOOIDCError, TypeError):
    """A value passed to the library has the wrong type; the message names the field."""


#: How much of a malformed body an exception carries: enough to recognise an HTML error page
#: or a truncated JSON document, too little to dump a whole response into a log.
EXCERPT_LENGTH = 200


class RemoteProtocolError(SSOOIDCError):
    """The peer sent something malformed: not JSON, wrong types, missing fields, too large.

    ``status`` is the HTTP status and ``excerpt`` the start of the body with secrets masked.
    """

    def __init__(
        self, message: str, *, status: int | None = None, body: bytes = b"", reason: str = ""
    ) -> None:
        self.status = status
        #: As botocore reports such a response: the status as the code, the reason as the message.
        self.code = None if status is None else str(status)
        self.message = reason
        text = body[: EXCERPT_LENGTH * 2].decode("utf-8", "replace")
        excerpt = redact(text)[:EXCERPT_LENGTH]
        self.excerpt = excerpt
        full = message if status is None else f"{message} (HTTP {status})"
        if excerpt:
            full += f"; body starts {excerpt!r}"
        super().__init__(full)

    @property
    def retryable(self) -> bool:
        """True for a server error or throttling status: the same request may succeed later."""
        return self.status is not None and (self.status >= 500 or self.status == 429)


class ServiceError(SSOOIDCError):
    """The service answered with an error.

    ``code`` is the error code (``"AuthorizationPendingException"``, or the status as a string when
    the response names none, as botocore does), ``message`` the service's message, ``status`` the
    HTTP status; ``error``, ``error_description``, ``reason``, ``endpoint`` and ``region`` are the
    modeled members when present, and ``request_id`` the ``x-amzn-RequestId`` header.
    Unknown codes are raised as this base class; known ones as the subclass named like the model.
    """

    # Slots, not the instance dict: a poll answered "pending" builds one of these every
    # second, and setting nine slots costs a third less than nine dict entries.
    __slots__ = (
        "code",
        "endpoint",
        "error",
        "error_description",
        "message",
        "reason",
        "region",
        "request_id",
        "status",
    )

    #: The OAuth ``error`` value that maps to this class when no code header is present.
    oauth_error: str | None = None
    #: True when a client may retry the same request later (server errors, throttling).
    retryable: bool = False

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        status: int,
        error: str | None = None,
        error_description: str | None = None,
        reason: str | None = None,
        endpoint: str | None = None,
        region: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.code = code
        self.message = message
        self.status = status
        self.error = error
        self.error_description = error_description
        self.reason = reason
        self.endpoint = endpoint
        self.region = region
        self.request_id = request_id
        text = f"{code} (HTTP {status})"
        if message:
            text += f": {redact(message)}"
        if reason:
            text += f" [reason: {reason}]"
        super().__init__(text)


class AccessDeniedException(ServiceError):
    """The user or the service denied access (RFC 8628 ``access_denied``: the login was refused)."""

    oauth_error = "access_denied"


class AuthorizationPendingException(ServiceError):
    """The user has not yet approved the device authorization; keep polling."""

    oauth_error = "authorization_pending"


class ExpiredTokenException(ServiceError):
    """The device code or token has expired; start a new login."""

    oauth_error = "expired_token"


class InternalServerException(ServiceError):
    """The service failed; the request may be retried."""

    oauth_error = "server_error"
    retryable = True


class InvalidClientException(ServiceError):
    """The client registration is unknown, expired or its secret is wrong; register again."""

    oauth_error = "invalid_client"


class InvalidClientMetadataException(ServiceError):
    """RegisterClient was given invalid metadata."""

    oauth_error = "invalid_client_metadata"


class InvalidGrantException(ServiceError):
    """The grant (device code, authorization code or refresh token) is invalid or was revoked."""

    oauth_error = "invalid_grant"


class InvalidRedirectUriException(ServiceError):
    """The redirect URI is not one the client registered."""

    oauth_error = "invalid_redirect_uri"


class InvalidRequestException(ServiceError):
    """The request is malformed (a missing or invalid parameter)."""

    oauth_error = "invalid_request"


class InvalidRequestRegionException(ServiceError):
    """The request went to the wrong region; ``endpoint`` and ``region`` say where to send it."""

    oauth_error = "invalid_request_region"


class InvalidScopeException(ServiceError):
    """A requested scope is invalid or not allowed for this client."""

    oauth_error = "invalid_scope"


class SlowDownException(ServiceError):
    """The client polled faster than the interval; add 5 seconds to it (RFC 8628 section 3.5)."""

    oauth_error = "slow_down"


class UnauthorizedClientException(ServiceError):
    """The client is not allowed to use this grant type."""

    oauth_error = "unauthorized_client"


class UnsupportedGrantTypeException(ServiceError):
    """The grant type is not supported."""

    oauth_error = "unsupported_grant_type"


class UnauthorizedException(ServiceError):
    """Portal: the access token is invalid, expired or was logged out; log in again."""


class ResourceNotFoundException(ServiceError):
    """Portal: the account or role does not exist or is not assigned to the user."""


class TooManyRequestsException(ServiceError):
    """Portal: throttled; retry later."""

    retryable = True


#: Error code -> class, for both services (the class is chosen by code alone, whatever the status).
ERROR_CLASSES: dict[str, type[ServiceError]] = {
    cls.__name__: cls
    for cls in (
        AccessDeniedException,
        AuthorizationPendingException,
        ExpiredTokenException,
        InternalServerException,
        InvalidClientException,
        InvalidClientMetadataException,
        InvalidGrantException,
        InvalidRedirectUriException,
        InvalidRequestException,
        InvalidRequestRegionException,
        InvalidScopeException,
        SlowDownException,
        UnauthorizedClientException,
        UnsupportedGrantTypeException,
        UnauthorizedException,
        ResourceNotFoundException,
        TooManyRequestsException,
    )
}

#: OAuth ``error`` value -> class: our improvement over botocore when no code header is present.
OAUTH_ERROR_CLASSES: dict[str, type[ServiceError]] = {
    cls.oauth_error: cls for cls in ERROR_CLASSES.values() if cls.oauth_error is not None
}
