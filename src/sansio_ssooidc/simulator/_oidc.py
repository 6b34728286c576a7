"""The sso-oidc routes: RegisterClient, StartDeviceAuthorization, CreateToken, CreateTokenWithIAM,
and the two browser pages (the device verification page and the PKCE ``/authorize`` endpoint).

Choices where the real service's behaviour is not documented follow the RFCs, quoted at the line
that enforces them. Each handler takes the :class:`State`, the routed request and ``now``, and
returns a :class:`Draft` or raises :class:`Fail`.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit

from .._operations import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_DEVICE_CODE,
    GRANT_JWT_BEARER,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
)
from .._pkce import code_challenge
from ._state import AccessToken, AuthCode, DeviceGrant, Registration, Session, State
from ._wire import (
    Draft,
    Incoming,
    b64,
    generic_error,
    json_body,
    jwt,
    oidc_error,
    ok,
    page,
    query_params,
    redirect,
    secret,
    text,
    texts,
    user_code,
)

#: Authorization codes live 5 minutes: RFC 6749 section 4.1.2 says "A maximum authorization code
#: lifetime of 10 minutes is RECOMMENDED", and the browser hands the code over within seconds.
AUTH_CODE_LIFETIME = 300
#: What RFC 8628 section 3.5 adds to the interval after each ``slow_down``.
SLOW_DOWN_STEP = 5

_GRANTS = (
    GRANT_DEVICE_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_AUTHORIZATION_CODE,
    GRANT_JWT_BEARER,
    GRANT_TOKEN_EXCHANGE,
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
# RFC 7636 section 4.1: code-verifier = 43*128unreserved; 4.2: an S256 challenge is 43 base64url chars.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")
# Printable ASCII only: a redirect URI ends up in a Location header.
_URI_CHARS = re.compile(r"[\x21-\x7e]+")
_SIGV4 = re.compile(
    r"AWS4-HMAC-SHA256 Credential=[^/\s,]+/\d{8}/[a-z0-9-]+/sso-oauth/aws4_request,\s*"
    r"SignedHeaders=[a-z0-9;-]+,\s*Signature=[0-9a-f]{64}"
)
_REFRESH_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:refresh_token"


# --- RegisterClient ----------------------------------------------------------------------------------


def _split(uri: str) -> SplitResult | None:
    """``uri`` split, or ``None`` unless it is a printable absolute http(s) URL with a valid port."""
    if not _URI_CHARS.fullmatch(uri):
        return None
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        return None
    return parts


def _registrable(uri: str) -> bool:
    # RFC 8252 section 8.3: loopback redirects may use http; any other must be https.
    parts = _split(uri)
    return parts is not None and (parts.scheme == "https" or parts.hostname in _LOOPBACK)


def register_client(st: State, inc: Incoming, now: float) -> Draft:
    """``POST /client/register``."""
    obj = json_body(inc.request.body)
    name = text(obj, "clientName", required=True)
    client_type = text(obj, "clientType", required=True)
    scopes = texts(obj, "scopes")
    redirect_uris = texts(obj, "redirectUris")
    grant_types = texts(obj, "grantTypes")
    issuer_url = text(obj, "issuerUrl")
    text(obj, "entitledApplicationArn")
    if client_type != "public":
        raise oidc_error(
            "InvalidClientMetadataException", "Invalid client type: only public clients are supported"
        )
    if not all(_SCOPE.fullmatch(s) for s in scopes or ()):
        raise oidc_error("InvalidScopeException", "Invalid scope requested")
    if not all(g in _GRANTS for g in grant_types or ()):
        raise oidc_error("UnsupportedGrantTypeException", "Unsupported grant type requested")
    if not all(_registrable(u) for u in redirect_uris or ()):
        raise oidc_error("InvalidRedirectUriException", "Invalid redirect URI")
    if GRANT_AUTHORIZATION_CODE in (grant_types or ()) and not redirect_uris:
        raise oidc_error("InvalidRedirectUriException", "The authorization_code grant requires redirectUris")
    issued = int(now)
    registration = Registration(
        client_id=secret(st.rng, n=15) + b64(st.config.region.encode("ascii")),
        client_secret=jwt({"kid": "key-1", "alg": "HS384"}, {"serialized": secret(st.rng, n=96)}, st.rng),
        client_name=str(name),
        client_type=client_type,
        scopes=scopes,
        redirect_uris=redirect_uris,
        grant_types=grant_types,
        issuer_url=issuer_url,
        issued_at=float(issued),
        expires_at=float(issued + st.config.registration_lifetime),
    )
    st.put(st.registrations, registration.client_id, registration)
    return ok(
        {
            "clientId": registration.client_id,
            "clientSecret": registration.client_secret,
            "clientIdIssuedAt": issued,
            "clientSecretExpiresAt": int(registration.expires_at),
        }
    )


def _client(st: State, obj: dict[str, Any], now: float) -> Registration:
    client_id = text(obj, "clientId", required=True)
    client_secret = text(obj, "clientSecret", required=True)
    registration = st.registrations.get(str(client_id))
    if registration is None or not hmac.compare_digest(
        registration.client_secret.encode("utf-8", "surrogatepass"),
        str(client_secret).encode("utf-8", "surrogatepass"),
    ):
        raise oidc_error("InvalidClientException", "Invalid client provided")
    if now >= registration.expires_at:
        raise oidc_error("InvalidClientException", "Client registration has expired")
    return registration


def _allows(registration: Registration, grant: str) -> None:
    if registration.grant_types is not None and grant not in registration.grant_types:
        raise oidc_error("UnauthorizedClientException", f"Client is not authorized to use the {grant} grant")


# --- StartDeviceAuthorization and the verification page ------------------------------------------------


def start_device_authorization(st: State, inc: Incoming, now: float) -> Draft:
    """``POST /device_authorization``."""
    obj = json_body(inc.request.body)
    start_url = text(obj, "startUrl", required=True)
    registration = _client(st, obj, now)
    _allows(registration, GRANT_DEVICE_CODE)
    if str(start_url).rstrip("/#") != st.config.start_url.rstrip("/#"):
        raise oidc_error("InvalidRequestException", "Invalid start URL")
    taken = {g.user_code for g in st.device_grants.values()}
    code = user_code(st.rng)
    while code in taken:
        code = user_code(st.rng)
    grant = DeviceGrant(
        device_code=secret(st.rng, n=48),
        user_code=code,
        client_id=registration.client_id,
        scopes=registration.scopes or (),
        expires_at=now + st.config.device_code_lifetime,
        interval=st.config.interval,
        status="pending",
        polls=0,
        last_poll=None,
    )
    st.put(st.device_grants, grant.device_code, grant)
    verification_uri = f"{inc.base}/device"
    return ok(
        {
            "deviceCode": grant.device_code,
            "userCode": code,
            "verificationUri": verification_uri,
            "verificationUriComplete": f"{verification_uri}?{urlencode({'user_code': code})}",
            "expiresIn": st.config.device_code_lifetime,
            "interval": st.config.interval,
        }
    )


_DEVICE_PAGES = {
    "pending": (200, "Authorization requested", "Waiting for you to allow access."),
    "approved": (200, "Request approved", "You can close this window and return to your device."),
    "redeemed": (200, "Request approved", "You can close this window and return to your device."),
    "denied": (200, "Request denied", "Access was not allowed."),
}


def verify_device(st: State, inc: Incoming, now: float) -> Draft:
    """``GET /device?user_code=…``: the page the user opens; the scripted user may act on it."""
    code = (query_params(inc.query) or {}).get("user_code", "").strip().upper()
    if not code:
        return page(200, "Authorize request", "Enter the code shown on your device.")
    grant = next((g for g in st.device_grants.values() if g.user_code == code), None)
    if grant is None:
        return page(400, "Invalid code", "That code is not valid. Check it and try again.")
    if now >= grant.expires_at:
        return page(400, "Code expired", "That code has expired. Start the login again on your device.")
    if grant.status == "pending":
        decision = st.config.user.decision(visited=True, polls=grant.polls, now=now)
        if decision is not None:
            grant = dataclasses.replace(grant, status="approved" if decision == "approve" else "denied")
            st.put(st.device_grants, grant.device_code, grant)
    return page(*_DEVICE_PAGES[grant.status])


# --- the PKCE authorize endpoint -------------------------------------------------------------------


def _redirect_matches(registered: tuple[str, ...], uri: str) -> bool:
    got = _split(uri)
    if got is None:
        return False
    for candidate in registered:
        if candidate == uri:
            return True
        reg = urlsplit(candidate)
        # RFC 8252 section 7.3: "The authorization server MUST allow any port to be specified at the
        # time of the request for loopback IP redirect URIs".
        if (
            reg.scheme == got.scheme == "http"
            and reg.hostname in _LOOPBACK
            and reg.port is None
            and (reg.hostname, reg.path, reg.query) == (got.hostname, got.path, got.query)
        ):
            return True
    return False


def _with_query(uri: str, params: dict[str, str | None]) -> str:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


def authorize(st: State, inc: Incoming, now: float) -> Draft:
    """``GET /authorize?…``: validate, then the scripted user signs in and answers by redirect."""
    params = query_params(inc.query)
    if params is None:
        return page(400, "Invalid request", "A parameter is repeated.")
    registration = st.registrations.get(params.get("client_id", ""))
    if registration is None or now >= registration.expires_at:
        # RFC 6749 section 4.1.2.1: with an invalid client or redirect URI "the authorization server
        # SHOULD inform the resource owner of the error and MUST NOT automatically redirect".
        return page(400, "Invalid request", "The client is not registered or its registration has expired.")
    redirect_uri = params.get("redirect_uri", "")
    if not _redirect_matches(registration.redirect_uris or (), redirect_uri):
        return page(400, "Invalid request", "The redirect URI is not registered for this client.")
    state = params.get("state")

    def error(code: str, description: str) -> Draft:
        return redirect(
            _with_query(redirect_uri, {"error": code, "error_description": description, "state": state})
        )

    if params.get("response_type") != "code":
        return error("unsupported_response_type", "response_type must be code")
    if registration.grant_types is not None and GRANT_AUTHORIZATION_CODE not in registration.grant_types:
        return error("unauthorized_client", "The client may not use the authorization_code grant")
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != "S256" or not _CHALLENGE.fullmatch(challenge):
        return error("invalid_request", "code_challenge with code_challenge_method=S256 is required")
    scopes = tuple(params.get("scopes", "").split()) or registration.scopes or ()
    if registration.scopes is not None and not set(scopes) <= set(registration.scopes):
        return error("invalid_scope", "A requested scope is not registered for this client")
    decision = st.config.user.decision(visited=True, polls=0, now=now)
    if decision is None:
        return page(200, "Sign in", "Waiting for you to sign in and allow access.")
    if decision == "deny":
        return error("access_denied", "The user denied the request")
    code = AuthCode(
        code=secret(st.rng, n=32),
        client_id=registration.client_id,
        redirect_uri=redirect_uri,
        challenge=challenge,
        scopes=scopes,
        expires_at=now + AUTH_CODE_LIFETIME,
        session_id=None,
    )
    st.put(st.auth_codes, code.code, code)
    return redirect(_with_query(redirect_uri, {"code": code.code, "state": state}))


# --- CreateToken ------------------------------------------------------------------------------------


def _scopes(obj: dict[str, Any], granted: tuple[str, ...]) -> tuple[str, ...]:
    requested = texts(obj, "scope")
    if requested is None:
        return granted
    if granted and not set(requested) <= set(granted):
        raise oidc_error("InvalidScopeException", "Invalid scope requested")
    return requested


def _issue(st: State, session: Session, scopes: tuple[str, ...], now: float) -> dict[str, Any]:
    """A new access token for ``session`` (stored with it), as the token response members."""
    token = AccessToken(
        access_token=secret(st.rng, "aoa", 96),
        session_id=session.session_id,
        scopes=scopes,
        expires_at=now + st.config.access_token_lifetime,
    )
    st.put(st.sessions, session.session_id, session)
    st.put(st.access_tokens, token.access_token, token)
    return {
        "accessToken": token.access_token,
        "tokenType": "Bearer",
        "expiresIn": st.config.access_token_lifetime,
        "refreshToken": session.refresh_token,
    }


def _login(st: State, client_id: str, scopes: tuple[str, ...], now: float) -> tuple[Session, dict[str, Any]]:
    session = Session(
        session_id=secret(st.rng, n=12),
        client_id=client_id,
        scopes=scopes,
        refresh_token=secret(st.rng, "aor", 96),
        refresh_expires_at=now + st.config.refresh_token_lifetime,
    )
    return session, _issue(st, session, scopes, now)


def _device_code_grant(st: State, registration: Registration, obj: dict[str, Any], now: float) -> Draft:
    device_code = str(text(obj, "deviceCode", required=True))
    grant = st.device_grants.get(device_code)
    if grant is None or grant.client_id != registration.client_id or grant.status == "redeemed":
        raise oidc_error("InvalidGrantException", "Invalid device code provided")
    if now >= grant.expires_at:
        raise oidc_error("ExpiredTokenException", "Device code has expired")
    scopes = _scopes(obj, grant.scopes)
    # RFC 8628 section 3.5: slow_down: "the interval MUST be increased by 5 seconds for this and all
    # subsequent requests".
    too_fast = grant.last_poll is not None and now - grant.last_poll < grant.interval
    status = grant.status
    if status == "pending" and not too_fast:
        decision = st.config.user.decision(visited=False, polls=grant.polls, now=now)
        if decision is not None:
            status = "approved" if decision == "approve" else "denied"
    if status == "approved":
        status = "redeemed"
    st.put(
        st.device_grants,
        device_code,
        dataclasses.replace(
            grant,
            status=status,
            polls=grant.polls + 1,
            last_poll=now,
            interval=grant.interval + SLOW_DOWN_STEP if too_fast else grant.interval,
        ),
    )
    if too_fast:
        raise oidc_error("SlowDownException", "Client is polling too fast")
    if status == "pending":
        raise oidc_error("AuthorizationPendingException", "Authorization is still pending")
    if status == "denied":
        raise oidc_error("AccessDeniedException", "The user denied the authorization request")
    return ok(_login(st, registration.client_id, scopes, now)[1])


def _authorization_code_grant(
    st: State, registration: Registration, obj: dict[str, Any], now: float
) -> Draft:
    code = str(text(obj, "code", required=True))
    verifier = str(text(obj, "codeVerifier", required=True))
    redirect_uri = text(obj, "redirectUri", required=True)
    record = st.auth_codes.get(code)
    if record is None or record.client_id != registration.client_id:
        raise oidc_error("InvalidGrantException", "Invalid authorization code provided")
    if record.session_id is not None:
        # RFC 6749 section 4.1.2: "If an authorization code is used more than once, the authorization
        # server MUST deny the request and SHOULD revoke (when possible) all tokens previously issued
        # based on that authorization code."
        st.drop_session(record.session_id)
        raise oidc_error("InvalidGrantException", "Authorization code has already been used")
    if now >= record.expires_at:
        raise oidc_error("InvalidGrantException", "Authorization code has expired")
    # RFC 6749 section 5.2: invalid_grant when the code "does not match the redirection URI used in
    # the authorization request"; RFC 7636 section 4.6: invalid_grant when the verifier fails.
    if redirect_uri != record.redirect_uri:
        raise oidc_error("InvalidGrantException", "Redirect URI does not match the authorization request")
    if not _VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
        code_challenge(verifier), record.challenge
    ):
        raise oidc_error("InvalidGrantException", "Invalid code verifier")
    session, body = _login(st, registration.client_id, _scopes(obj, record.scopes), now)
    st.put(st.auth_codes, code, dataclasses.replace(record, session_id=session.session_id))
    return ok(body)


def _refresh(st: State, client_id: str, obj: dict[str, Any], now: float) -> tuple[Session, dict[str, Any]]:
    refresh_token = str(text(obj, "refreshToken", required=True))
    session = st.session_for_refresh(refresh_token)
    if session is None or session.client_id != client_id or now >= session.refresh_expires_at:
        raise oidc_error("InvalidGrantException", "Invalid refresh token provided")
    scopes = _scopes(obj, session.scopes)
    if st.config.rotate_refresh_tokens:
        session = dataclasses.replace(
            session,
            refresh_token=secret(st.rng, "aor", 96),
            refresh_expires_at=now + st.config.refresh_token_lifetime,
        )
    st.refreshes += 1
    return session, _issue(st, session, scopes, now)


def create_token(st: State, inc: Incoming, now: float) -> Draft:
    """``POST /token``: the device code, authorization code and refresh token grants."""
    obj = json_body(inc.request.body)
    grant_type = str(text(obj, "grantType", required=True))
    registration = _client(st, obj, now)
    if grant_type == GRANT_DEVICE_CODE:
        _allows(registration, grant_type)
        return _device_code_grant(st, registration, obj, now)
    if grant_type == GRANT_AUTHORIZATION_CODE:
        _allows(registration, grant_type)
        return _authorization_code_grant(st, registration, obj, now)
    if grant_type == GRANT_REFRESH_TOKEN:
        _allows(registration, grant_type)
        return ok(_refresh(st, registration.client_id, obj, now)[1])
    raise oidc_error("UnsupportedGrantTypeException", "Unsupported grant type")


# --- CreateTokenWithIAM -------------------------------------------------------------------------------


def create_token_with_iam(st: State, inc: Incoming, now: float) -> Draft:
    """``POST /token?aws_iam=t``: any SigV4-shaped signature is accepted; the jwt-bearer grant
    (any JWT-shaped assertion) and the refresh token grant are supported."""
    authorization = inc.request.header("Authorization")
    if authorization is None:
        raise generic_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    if not _SIGV4.fullmatch(authorization):
        raise generic_error(403, "IncompleteSignatureException", "The request signature is malformed")
    obj = json_body(inc.request.body)
    client_id = str(text(obj, "clientId", required=True))
    grant_type = text(obj, "grantType", required=True)
    if grant_type == GRANT_JWT_BEARER:
        assertion = str(text(obj, "assertion", required=True))
        parts = assertion.split(".")
        if len(parts) != 3 or not all(parts[:2]):
            raise oidc_error("InvalidGrantException", "Invalid assertion provided")
        session, body = _login(st, client_id, _scopes(obj, ()) or ("openid", "sso:account:access"), now)
    elif grant_type == GRANT_REFRESH_TOKEN:
        session, body = _refresh(st, client_id, obj, now)
    else:
        raise oidc_error("UnsupportedGrantTypeException", "Unsupported grant type")
    claims = {"sub": session.session_id, "aud": client_id, "iat": int(now)}
    return ok(
        {
            **body,
            "idToken": jwt({"alg": "RS256", "kid": "sim"}, claims, st.rng),
            "issuedTokenType": _REFRESH_TOKEN_TYPE,
            "scope": list(st.access_tokens[body["accessToken"]].scopes),
            "awsAdditionalDetails": {"identityContext": f"sim-identity-context-{session.session_id}"},
        }
    )
