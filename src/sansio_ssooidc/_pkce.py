"""Authorization code + PKCE (RFC 7636) pieces: verifier, challenge, authorize URL, redirect.

Randomness is an input: pass ``random.SystemRandom()`` in production and a seeded
``random.Random`` in tests.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import html
import random
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode

from ._errors import ParameterError, SSOOIDCError
from ._values import Value, member

__all__ = [
    "AuthorizationRedirectError",
    "MalformedRedirectError",
    "MissingCodeError",
    "Redirect",
    "RedirectAnswer",
    "RedirectError",
    "StateMismatchError",
    "authorize_url",
    "code_challenge",
    "make_state",
    "make_verifier",
    "parse_redirect",
]

# RFC 7636 section 4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
#: The AWS CLI's verifier length (WIRE.md); within RFC 7636's 43..128.
VERIFIER_LENGTH = 64
#: Longest redirect query we look at: a real one is under 2 KiB (code + state).
MAX_REDIRECT_QUERY = 8192


def make_verifier(rng: random.Random, length: int = VERIFIER_LENGTH) -> str:
    """A code verifier of ``length`` unreserved characters drawn from ``rng`` (unbiased)."""
    if not 43 <= length <= 128:
        raise ParameterError(f"verifier length must be within 43..128 (RFC 7636 section 4.1), got {length}")
    return "".join(_UNRESERVED[rng.randrange(len(_UNRESERVED))] for _ in range(length))


def make_state(rng: random.Random) -> str:
    """An unguessable ``state`` value: 128 random bits, URL-safe."""
    return base64.urlsafe_b64encode(rng.getrandbits(128).to_bytes(16, "big")).rstrip(b"=").decode("ascii")


def code_challenge(verifier: str) -> str:
    """The S256 challenge: ``BASE64URL(SHA256(ASCII(verifier)))`` without padding (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(
    endpoint: str, *, client_id: str, redirect_uri: str, state: str, challenge: str, scopes: tuple[str, ...]
) -> str:
    """The URL to open in the browser, parameter for parameter as the AWS CLI builds it (WIRE.md).

    The scope parameter is ``scopes`` (plural), space-joined.
    """
    query = urlencode(
        [
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("state", state),
            ("code_challenge_method", "S256"),
            ("scopes", " ".join(scopes)),
            ("code_challenge", challenge),
        ]
    )
    return f"{endpoint.rstrip('/')}/authorize?{query}"


class RedirectError(SSOOIDCError):
    """The redirect back from the browser cannot complete the login."""


class StateMismatchError(RedirectError):
    """The redirect's ``state`` is not the one we sent: a forged or stale redirect (CSRF)."""


class AuthorizationRedirectError(RedirectError):
    """The authorization server redirected with ``error=`` (the user denied, or it refused)."""

    def __init__(self, error: str, description: str | None) -> None:
        self.error = error
        self.error_description = description
        super().__init__(f"authorization failed: {error}" + (f": {description}" if description else ""))


class MissingCodeError(RedirectError):
    """The redirect carries neither ``code`` nor ``error``."""


class MalformedRedirectError(RedirectError):
    """The redirect query is malformed: a repeated parameter or an oversized query."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Redirect(Value):
    """A validated redirect: the authorization ``code`` (a secret) to exchange."""

    code: str = member(required=True, nonempty=True, secret=True)


def parse_redirect(query: str, *, expected_state: str) -> Redirect:
    """Validate the redirect query (without the ``?``) against ``expected_state``.

    The state is compared in constant time and checked before anything else, so a forged
    redirect learns nothing. Raises :class:`StateMismatchError`, :class:`AuthorizationRedirectError`,
    :class:`MissingCodeError` or :class:`MalformedRedirectError`.
    """
    if len(query) > MAX_REDIRECT_QUERY:
        raise MalformedRedirectError(
            f"redirect query of {len(query)} characters exceeds {MAX_REDIRECT_QUERY}"
        )
    params = parse_qs(query, keep_blank_values=True)
    for name in ("state", "code", "error", "error_description"):
        if len(params.get(name, ())) > 1:
            raise MalformedRedirectError(
                f"redirect has {len(params[name])} {name!r} parameters, expected one"
            )
    state = params.get("state", [""])[0]
    # surrogatepass: the query is whatever reached the listener, lone surrogates included.
    if not hmac.compare_digest(
        state.encode("utf-8", "surrogatepass"), expected_state.encode("utf-8", "surrogatepass")
    ):
        raise StateMismatchError("redirect state does not match the login in progress; start the login again")
    if "error" in params:
        raise AuthorizationRedirectError(params["error"][0], params.get("error_description", [None])[0])
    code = params.get("code", [""])[0]
    if not code:
        raise MissingCodeError("redirect carries no authorization code")
    return Redirect(code=code)


_PAGE = (
    "<!doctype html><meta charset=utf-8><title>{title}</title>"
    "<body style='font-family:sans-serif;margin:3em'><h1>{title}</h1><p>{text}</p>"
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class RedirectAnswer(Value):
    """What a redirect listener answers a browser's request with, and what follows for the login.

    ``status``, ``title`` and ``text`` make the page (:meth:`html`). ``accepted``: the flow has
    its code, the listener is done. ``error``: the login failed on this redirect; raise it once
    the page is served. Neither: the request was not the login's redirect, keep listening.
    Made by :meth:`AuthCodeFlow.answer_redirect`; :attr:`NOT_FOUND` and :attr:`NOT_WAITING` are
    the answers a listener gives without asking the flow.
    """

    #: The answer to a request for another path than the redirect URI's, or without a query.
    NOT_FOUND: ClassVar[RedirectAnswer]
    #: The answer to a redirect that arrives when no login waits for one (it ended, or timed out).
    NOT_WAITING: ClassVar[RedirectAnswer]

    status: int = member(kind="int", required=True)
    title: str = member(required=True)
    text: str = member(required=True)
    accepted: bool = member(kind="bool", default=False)
    error: Any = member(kind="any")

    def html(self) -> bytes:
        """The page as UTF-8 HTML, ``title`` and ``text`` escaped (a redirect's ``error_description``
        is the authorization server's text, not markup; a lone surrogate in it becomes ``?``)."""
        page = _PAGE.format(title=html.escape(self.title), text=html.escape(self.text))
        return page.encode("utf-8", "replace")


RedirectAnswer.NOT_FOUND = RedirectAnswer(
    status=404, title="Not found", text="This is the login callback of sansio-ssooidc."
)
RedirectAnswer.NOT_WAITING = RedirectAnswer(
    status=503, title="Login is not waiting", text="Return to your terminal."
)
