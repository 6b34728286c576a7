"""PKCE pieces (RFC 7636) and the redirect parser: vectors, exact URL, a table of redirects, fuzzing."""

from __future__ import annotations

import base64
import hashlib
import random
import string
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sansio_ssooidc as oidc
from sansio_ssooidc import _pkce

UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
STATE = "c3RhdGUtdmFsdWUtMTIzNDU2"


# --- verifier, challenge, state ------------------------------------------------------------------


def test_rfc7636_appendix_b_vector() -> None:
    # RFC 7636 Appendix B: the S256 example.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert oidc.code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_challenge_is_unpadded_base64url_of_sha256() -> None:
    for verifier in ("a" * 43, "~" * 128, "x" * 64):
        challenge = oidc.code_challenge(verifier)
        assert "=" not in challenge
        assert len(challenge) == 43
        padded = challenge + "="
        assert base64.urlsafe_b64decode(padded) == hashlib.sha256(verifier.encode()).digest()


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**64))
def test_verifier_alphabet_and_length(seed: int) -> None:
    verifier = oidc.make_verifier(random.Random(seed))
    assert len(verifier) == 64
    assert set(verifier) <= UNRESERVED
    # Same seed, same verifier: randomness is an input.
    assert oidc.make_verifier(random.Random(seed)) == verifier


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), length=st.integers(min_value=43, max_value=128))
def test_verifier_lengths_within_rfc_range(seed: int, length: int) -> None:
    verifier = oidc.make_verifier(random.Random(seed), length)
    assert len(verifier) == length
    assert set(verifier) <= UNRESERVED


@pytest.mark.parametrize("length", [0, 42, 129, 1000])
def test_verifier_length_outside_rfc_range_is_refused(length: int) -> None:
    with pytest.raises(oidc.ParameterError, match=r"43\.\.128"):
        oidc.make_verifier(random.Random(0), length)


def test_verifier_uses_the_whole_alphabet() -> None:
    # Unbiased draws over all 66 characters: a few thousand characters hit every one.
    rng = random.Random(7)
    seen = set("".join(oidc.make_verifier(rng) for _ in range(200)))
    assert seen == UNRESERVED


def test_make_state() -> None:
    states = {oidc.make_state(random.Random(seed)) for seed in range(200)}
    assert len(states) == 200
    for state in states:
        assert len(state) == 22  # 128 bits, base64url without padding
        assert set(state) <= set(string.ascii_letters + string.digits + "-_")
    assert oidc.make_state(random.Random(1)) == oidc.make_state(random.Random(1))


# --- authorize URL -------------------------------------------------------------------------------


def test_authorize_url_exact() -> None:
    url = oidc.authorize_url(
        "https://oidc.us-east-1.amazonaws.com/",
        client_id="cid-1",
        redirect_uri="http://127.0.0.1:54321/oauth/callback",
        state="st-1",
        challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        scopes=("sso:account:access",),
    )
    assert url == (
        "https://oidc.us-east-1.amazonaws.com/authorize?response_type=code&client_id=cid-1"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A54321%2Foauth%2Fcallback&state=st-1"
        "&code_challenge_method=S256&scopes=sso%3Aaccount%3Aaccess"
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


def test_authorize_url_space_joins_scopes_and_keeps_a_path_prefix() -> None:
    url = oidc.authorize_url(
        "http://127.0.0.1:8080/prefix",
        client_id="c",
        redirect_uri="http://[::1]:1/cb",
        state="s",
        challenge="ch",
        scopes=("a", "b:c"),
    )
    parts = urlsplit(url)
    assert parts.path == "/prefix/authorize"
    assert parse_qsl(parts.query) == [
        ("response_type", "code"),
        ("client_id", "c"),
        ("redirect_uri", "http://[::1]:1/cb"),
        ("state", "s"),
        ("code_challenge_method", "S256"),
        ("scopes", "a b:c"),
        ("code_challenge", "ch"),
    ]


# --- parse_redirect ------------------------------------------------------------------------------

Q = urlencode

REDIRECT_TABLE: list[tuple[str, str, Any]] = [
    ("good", Q({"code": "the-code", "state": STATE}), "the-code"),
    ("good, other order and extras", Q({"state": STATE, "x": "1", "code": "c+d/e"}), "c+d/e"),
    ("percent-encoded code", f"code=a%20b%26c&state={STATE}", "a b&c"),
    ("wrong state", Q({"code": "c", "state": STATE + "x"}), oidc.StateMismatchError),
    ("state prefix only", Q({"code": "c", "state": STATE[:-1]}), oidc.StateMismatchError),
    ("no state", Q({"code": "c"}), oidc.StateMismatchError),
    ("empty state", Q({"code": "c", "state": ""}), oidc.StateMismatchError),
    ("state without =", "code=c&state", oidc.StateMismatchError),
    ("empty query", "", oidc.StateMismatchError),
    ("wrong state with error", Q({"error": "access_denied", "state": "nope"}), oidc.StateMismatchError),
    ("two states", f"code=c&state={STATE}&state={STATE}", oidc.MalformedRedirectError),
    ("two states, one wrong", f"code=c&state={STATE}&state=x", oidc.MalformedRedirectError),
    ("two codes", f"code=a&code=b&state={STATE}", oidc.MalformedRedirectError),
    ("two errors", f"error=a&error=b&state={STATE}", oidc.MalformedRedirectError),
    ("two descriptions", f"error=a&error_description=x&error_description=y&state={STATE}", None),
    (
        "error with description",
        Q({"error": "access_denied", "error_description": "no", "state": STATE}),
        None,
    ),
    ("error without description", Q({"error": "access_denied", "state": STATE}), None),
    ("error and code", Q({"error": "server_error", "code": "c", "state": STATE}), None),
    ("empty error", f"error=&state={STATE}", None),
    ("missing code", Q({"state": STATE}), oidc.MissingCodeError),
    ("empty code", Q({"code": "", "state": STATE}), oidc.MissingCodeError),
    ("code without =", f"code&state={STATE}", oidc.MissingCodeError),
    ("oversized", Q({"code": "c" * _pkce.MAX_REDIRECT_QUERY, "state": STATE}), oidc.MalformedRedirectError),
]


@pytest.mark.parametrize(
    ("query", "expected"), [(q, e) for _, q, e in REDIRECT_TABLE], ids=[n for n, _, _ in REDIRECT_TABLE]
)
def test_parse_redirect_table(query: str, expected: Any) -> None:
    if isinstance(expected, str):
        redirect = oidc.parse_redirect(query, expected_state=STATE)
        assert redirect == oidc.Redirect(code=expected)
        assert expected not in repr(redirect)
        return
    if expected is None:  # an error= redirect: AuthorizationRedirectError, or malformed when repeated
        params = dict(parse_qsl(query, keep_blank_values=True))
        with pytest.raises((oidc.AuthorizationRedirectError, oidc.MalformedRedirectError)) as info:
            oidc.parse_redirect(query, expected_state=STATE)
        if query.count("error_description=") > 1:
            assert isinstance(info.value, oidc.MalformedRedirectError)
            return
        assert isinstance(info.value, oidc.AuthorizationRedirectError)
        assert info.value.error == params["error"]
        assert info.value.error_description == params.get("error_description")
        return
    with pytest.raises(expected):
        oidc.parse_redirect(query, expected_state=STATE)


def test_authorization_redirect_error_message() -> None:
    with pytest.raises(oidc.AuthorizationRedirectError, match=r"^authorization failed: access_denied: no$"):
        oidc.parse_redirect(
            Q({"error": "access_denied", "error_description": "no", "state": STATE}), expected_state=STATE
        )
    with pytest.raises(oidc.AuthorizationRedirectError, match=r"^authorization failed: access_denied$"):
        oidc.parse_redirect(Q({"error": "access_denied", "state": STATE}), expected_state=STATE)


def test_oversized_boundary() -> None:
    head = f"state={STATE}&code="
    exact = head + "c" * (_pkce.MAX_REDIRECT_QUERY - len(head))
    assert len(exact) == _pkce.MAX_REDIRECT_QUERY
    assert oidc.parse_redirect(exact, expected_state=STATE).code == exact[len(head) :]
    with pytest.raises(oidc.MalformedRedirectError, match="exceeds"):
        oidc.parse_redirect(exact + "c", expected_state=STATE)


def test_redirect_errors_are_library_errors() -> None:
    for cls in (
        oidc.StateMismatchError,
        oidc.MalformedRedirectError,
        oidc.MissingCodeError,
        oidc.AuthorizationRedirectError,
    ):
        assert issubclass(cls, oidc.RedirectError)
        assert issubclass(cls, oidc.SSOOIDCError)


def test_state_mismatch_message_reveals_neither_state() -> None:
    with pytest.raises(oidc.StateMismatchError) as info:
        oidc.parse_redirect(Q({"code": "secret-code", "state": "forged-state"}), expected_state=STATE)
    assert STATE not in str(info.value)
    assert "forged-state" not in str(info.value)
    assert "secret-code" not in str(info.value)


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[bytes, bytes]] = []

    def __call__(self, a: bytes, b: bytes) -> bool:
        self.calls.append((a, b))
        return a == b


def test_state_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _Recorder()
    monkeypatch.setattr(_pkce.hmac, "compare_digest", recorder)
    assert oidc.parse_redirect(Q({"code": "c", "state": STATE}), expected_state=STATE).code == "c"
    with pytest.raises(oidc.StateMismatchError):
        oidc.parse_redirect(Q({"code": "c", "state": "other"}), expected_state=STATE)
    with pytest.raises(oidc.StateMismatchError):
        oidc.parse_redirect("code=c", expected_state=STATE)
    # Every comparison went through compare_digest, with bytes on both sides.
    assert recorder.calls == [
        (STATE.encode(), STATE.encode()),
        (b"other", STATE.encode()),
        (b"", STATE.encode()),
    ]


def test_state_is_checked_before_error_and_code() -> None:
    # A forged redirect with a wrong state learns nothing about error handling or the code.
    for query in (Q({"error": "x", "state": "bad"}), Q({"state": "bad"}), Q({"code": "", "state": "bad"})):
        with pytest.raises(oidc.StateMismatchError):
            oidc.parse_redirect(query, expected_state=STATE)


def test_lone_surrogates_are_a_mismatch_not_a_crash() -> None:
    # The query is whatever reached the listener; a str may carry lone surrogates.
    with pytest.raises(oidc.StateMismatchError):
        oidc.parse_redirect("code=c&state=\ud800", expected_state=STATE)
    assert oidc.parse_redirect(f"code=\udfff&state={STATE}", expected_state=STATE).code == "\udfff"


query_chars = st.sampled_from(
    ["&", "=", "%", "+", ";", "#", "?", "state", "code", "error", "error_description", STATE]
)


#: Any code point, lone surrogates included: the listener hands over whatever it decoded.
ANY_TEXT = st.text(
    st.characters(codec=None, categories=["L", "M", "N", "P", "S", "Z", "Cc", "Cs"]), max_size=200
)
OUTCOMES = (
    oidc.Redirect,
    oidc.StateMismatchError,
    oidc.MalformedRedirectError,
    oidc.MissingCodeError,
    oidc.AuthorizationRedirectError,
)


@settings(max_examples=300, deadline=None)
@given(
    query=st.one_of(
        ANY_TEXT,
        st.lists(st.one_of(query_chars, ANY_TEXT.map(lambda t: t[:8])), max_size=30).map("".join),
        # Structured: known and unknown parameters with arbitrary values, repeats included.
        st.lists(
            st.tuples(
                st.sampled_from(["state", "code", "error", "error_description", "x", ""]),
                st.one_of(st.just(STATE), ANY_TEXT.map(lambda t: t[:10])),
            ),
            max_size=5,
        ).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)),
        # Around the size bound: a good redirect padded to the limit, plus or minus a character.
        st.integers(min_value=-2, max_value=2).map(
            lambda d: f"state={STATE}&code=" + "c" * (_pkce.MAX_REDIRECT_QUERY - len(STATE) - 12 + d)
        ),
    )
)
def test_any_query_gives_a_redirect_or_a_redirect_error(query: str) -> None:
    outcome: object
    try:
        outcome = oidc.parse_redirect(query, expected_state=STATE)
    except oidc.RedirectError as exc:
        outcome = exc
    assert type(outcome) in OUTCOMES
    if isinstance(outcome, oidc.Redirect):
        assert outcome.code
    if len(query) > _pkce.MAX_REDIRECT_QUERY:
        assert isinstance(outcome, oidc.MalformedRedirectError)


@settings(max_examples=300, deadline=None)
@given(
    code=st.text(min_size=1, max_size=60),
    extra=st.dictionaries(
        st.sampled_from(["a", "b", "scope", "session_state"]), st.text(max_size=10), max_size=3
    ),
)
def test_good_redirects_round_trip(code: str, extra: dict[str, str]) -> None:
    query = urlencode({**extra, "code": code, "state": STATE}, errors="surrogatepass")
    redirect = oidc.parse_redirect(query, expected_state=STATE)
    # urlencode/parse_qs replace undecodable bytes; otherwise the code comes back unchanged.
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in code):
        assert redirect.code == code
