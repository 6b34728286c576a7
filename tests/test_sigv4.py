"""SigV4 for CreateTokenWithIAM: the WIRE.md goldens, input validation, and botocore as the oracle.

botocore (a dev dependency, imported only here) is driven two ways:

- as a real ``sso-oidc`` client whose ``before-send`` hook captures the prepared request and answers
  with a canned 200, so the whole pipeline (serializer, endpoint rules, retry headers, User-Agent,
  signer) runs and we re-sign the very same method, URL, headers and body;
- as a bare ``SigV4Auth`` over arbitrary requests (paths, query strings, repeated headers …).

botocore's clock is frozen by patching ``botocore.auth.get_current_datetime`` (botocore.compat's
function, imported into botocore.auth where ``SigV4Auth.add_auth`` calls it) to return naive UTC.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import botocore.auth
import botocore.credentials
import botocore.session
import pytest
from botocore.awsrequest import AWSRequest, AWSResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from sansio_ssooidc._errors import ParameterError, ParameterTypeError
from sansio_ssooidc._http import HttpRequest
from sansio_ssooidc._sigv4 import AwsCredentials, _canonical_target, _signing_key, sign_request

UTC = dt.timezone.utc
NOW = dt.datetime(2024, 1, 1, tzinfo=UTC)
AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEXAMPLETOKEN"
URL = "https://oidc.us-east-1.amazonaws.com/token?aws_iam=t"
BODY = (
    b'{"clientId": "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111",'
    b' "grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer",'
    b' "assertion": "eyJhbGciOiJSUzI1NiJ9.e30.sig"}'
)
PARAMS = {
    "clientId": "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111",
    "grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer",
    "assertion": "eyJhbGciOiJSUzI1NiJ9.e30.sig",
}
STALE = {"authorization", "x-amz-date", "x-amz-security-token"}
#: Headers botocore's pipeline adds only after signing (a bare SigV4Auth would sign them).
POST_SIGNING = {"content-length", "amz-sdk-invocation-id", "amz-sdk-request"}


def _request(
    url: str = URL, headers: tuple[tuple[str, str], ...] | None = None, body: bytes = BODY
) -> HttpRequest:
    if headers is None:
        headers = (
            ("Content-Type", "application/json"),
            ("User-Agent", "sansio-ssooidc/0.1.0"),
            ("Content-Length", str(len(body))),
        )
    return HttpRequest(method="POST", url=url, headers=headers, body=body)


def _creds(token: str | None = None) -> AwsCredentials:
    return AwsCredentials(access_key_id=AKID, secret_access_key=SECRET, session_token=token)


def _sign(request: HttpRequest | None = None, **kwargs: Any) -> HttpRequest:
    args: dict[str, Any] = {
        "credentials": _creds(),
        "region": "us-east-1",
        "service": "sso-oauth",
        "now": NOW,
    }
    args.update(kwargs)
    return sign_request(_request() if request is None else request, **args)


# --- the goldens (WIRE.md) ------------------------------------------------------------------------


def test_golden_without_session_token() -> None:
    signed = _sign()
    assert signed.header("X-Amz-Date") == "20240101T000000Z"
    assert signed.header("X-Amz-Security-Token") is None
    assert signed.header("Authorization") == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sso-oauth/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date, "
        "Signature=302012d7536226ca9ee548f0fbe5417dc5afcaae32a551018306201d4774b269"
    )
    # The request is otherwise untouched and the new headers come in botocore's order.
    assert signed.method == "POST"
    assert signed.url == URL
    assert signed.body == BODY
    assert [name for name, _ in signed.headers] == [
        "Content-Type",
        "User-Agent",
        "Content-Length",
        "X-Amz-Date",
        "Authorization",
    ]


def test_golden_with_session_token() -> None:
    signed = _sign(credentials=_creds(TOKEN))
    assert signed.header("X-Amz-Date") == "20240101T000000Z"
    assert signed.header("X-Amz-Security-Token") == TOKEN
    assert signed.header("Authorization") == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/sso-oauth/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
        "Signature=292e41ed7b2c54af4a054af1f6df65f17df428e1c122a358a51d327d1073d1e2"
    )
    assert [name for name, _ in signed.headers][-3:] == [
        "X-Amz-Date",
        "X-Amz-Security-Token",
        "Authorization",
    ]


def test_empty_session_token_means_none() -> None:
    assert _sign(credentials=_creds("")) == _sign(credentials=_creds(None))


def test_time_is_converted_to_utc_and_truncated_to_the_second() -> None:
    eastern = dt.timezone(dt.timedelta(hours=-5))
    same_instant = dt.datetime(2023, 12, 31, 19, 0, 0, 999_999, tzinfo=eastern)
    assert _sign(now=same_instant) == _sign()
    late = _sign(now=dt.datetime(2024, 2, 29, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=-8))))
    assert late.header("X-Amz-Date") == "20240301T075959Z"
    assert "/20240301/us-east-1/" in (late.header("Authorization") or "")


def test_signing_again_replaces_the_old_signature() -> None:
    first = _sign(credentials=_creds(TOKEN))
    again = _sign(first, credentials=_creds(TOKEN))
    assert again == first
    # New credentials without a token: the stale token goes away with the stale signature.
    plain = _sign(first, now=NOW + dt.timedelta(days=1))
    assert plain.header("X-Amz-Security-Token") is None
    assert [name for name, _ in plain.headers].count("Authorization") == 1
    assert plain.header("X-Amz-Date") == "20240102T000000Z"


def test_signed_headers_skip_hop_by_hop_and_post_signing_headers() -> None:
    headers = (
        ("Content-Type", "application/json"),
        ("User-Agent", "x"),
        ("Content-Length", "203"),
        ("amz-sdk-invocation-id", "c0ffee"),
        ("amz-sdk-request", "attempt=1; max=3"),
        ("Expect", "100-continue"),
        ("Connection", "keep-alive"),
        ("X-Amzn-Trace-Id", "Root=1"),
    )
    signed = _sign(_request(headers=headers))
    assert signed.header("Authorization") == _sign().header("Authorization")
    assert signed.headers[: len(headers)] == headers


def test_signed_headers_repeated_trimmed_host_and_payload_header() -> None:
    headers = (
        ("Content-Type", "  application/json  "),
        ("X-Amz-Meta", "a   b"),
        ("x-amz-meta", "\tc "),
        ("Host", "Example.com"),
        ("X-Amz-Content-SHA256", "UNSIGNED-PAYLOAD"),
        ("x-amz-content-sha256", "ignored: only the first one counts"),
    )
    authorization = _sign(_request(headers=headers)).header("Authorization") or ""
    assert "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-meta," in authorization
    assert authorization == _botocore_sigv4(_request(headers=headers))["Authorization"]


@pytest.mark.parametrize(
    ("url", "path", "query", "host"),
    [
        (
            "https://oidc.us-east-1.amazonaws.com/token?aws_iam=t",
            "/token",
            "aws_iam=t",
            "oidc.us-east-1.amazonaws.com",
        ),
        ("https://H.example.COM", "/", "", "h.example.com"),
        ("https://h:443/", "/", "", "h"),
        ("http://h:80/a", "/a", "", "h"),
        ("http://h:443/a", "/a", "", "h:443"),
        ("https://h:80/a", "/a", "", "h:80"),
        ("http://127.0.0.1:8765/token?aws_iam=t", "/token", "aws_iam=t", "127.0.0.1:8765"),
        ("http://[::1]:9000/p/token", "/p/token", "", "[::1]:9000"),
        ("http://[::1]/", "/", "", "[::1]"),
        ("https://h/a/./b/../c//d/", "/a/c/d/", "", "h"),
        ("https://h/../..", "/", "", "h"),
        ("https://h/a/..", "/", "", "h"),
        ("https://h/x%2Fy/ä b~", "/x%252Fy/%C3%A4%20b~", "", "h"),
        ("https://h/t?b=2&a=1&a=0&c&d=", "/t", "a=0&a=1&b=2&c=&d=", "h"),
        ("https://h/t?", "/t", "", "h"),
        ("https://h/t#frag", "/t", "", "h"),
    ],
)
def test_canonical_target(url: str, path: str, query: str, host: str) -> None:
    assert _canonical_target(url) == (path, query, host)
    request = _request(url=url)
    assert _sign(request).header("Authorization") == _botocore_sigv4(request)["Authorization"]


def test_signing_key_cache_is_bounded() -> None:
    for i in range(40):
        _sign(credentials=AwsCredentials(access_key_id=AKID, secret_access_key=f"secret-{i}"))
    info = _signing_key.cache_info()
    assert info.maxsize is not None
    assert info.currsize <= info.maxsize <= 64
    assert _canonical_target.cache_info().maxsize is not None


# --- validation, and no secret in any repr or message ---------------------------------------------


def test_credentials_repr_masks_the_secret_and_the_token() -> None:
    text = repr(_creds(TOKEN))
    assert text == "AwsCredentials(access_key_id='AKIDEXAMPLE', secret_access_key='***', session_token='***')"
    assert SECRET not in str(_creds(TOKEN))
    assert TOKEN not in str(_creds(TOKEN))
    signed = repr(_sign(credentials=_creds(TOKEN)))
    assert TOKEN not in signed
    assert "Signature" not in signed


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"access_key_id": None, "secret_access_key": SECRET}, ParameterError),
        ({"access_key_id": AKID, "secret_access_key": None}, ParameterError),
        ({"access_key_id": "", "secret_access_key": SECRET}, ParameterError),
        ({"access_key_id": AKID, "secret_access_key": ""}, ParameterError),
        ({"access_key_id": 1, "secret_access_key": SECRET}, ParameterTypeError),
        ({"access_key_id": AKID, "secret_access_key": b"s3cr3t-bytes"}, ParameterTypeError),
        ({"access_key_id": AKID, "secret_access_key": SECRET, "session_token": 5}, ParameterTypeError),
        ({"access_key_id": "AKID EXAMPLE", "secret_access_key": SECRET}, ParameterError),
        ({"access_key_id": "AKIDÉ", "secret_access_key": SECRET}, ParameterError),
        (
            {"access_key_id": AKID, "secret_access_key": SECRET, "session_token": "tok\r\nX-Injected: 1"},
            ParameterError,
        ),
        ({"access_key_id": AKID, "secret_access_key": SECRET, "session_token": "tok\x00en"}, ParameterError),
    ],
)
def test_credentials_validation(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        AwsCredentials(**kwargs)
    message = str(info.value)
    assert "AwsCredentials." in message
    for secret in (SECRET, "s3cr3t", "tok\r\n", "X-Injected", "tok\x00en"):
        assert secret not in message


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"region": ""}, ParameterError, "region must not be empty"),
        ({"region": None}, ParameterTypeError, "region must be a str"),
        ({"region": "us east 1"}, ParameterError, "region must be visible ASCII"),
        ({"region": "us-east-1/x"}, ParameterError, "region must be visible ASCII"),
        ({"region": "üs-east-1"}, ParameterError, "region must be visible ASCII"),
        ({"service": ""}, ParameterError, "service must not be empty"),
        ({"service": b"sso-oauth"}, ParameterTypeError, "service must be a str"),
        ({"service": "sso\n"}, ParameterError, "service must be visible ASCII"),
        ({"now": dt.datetime(2024, 1, 1)}, ParameterError, "now must be timezone-aware"),
        ({"now": dt.date(2024, 1, 1)}, ParameterTypeError, "now must be a datetime"),
        ({"now": 1704067200}, ParameterTypeError, "now must be a datetime"),
        (
            {"now": dt.datetime.min.replace(tzinfo=dt.timezone(dt.timedelta(hours=1)))},
            ParameterError,
            "now is out of range",
        ),
        ({"credentials": (AKID, SECRET)}, ParameterTypeError, "credentials must be an AwsCredentials"),
    ],
)
def test_sign_request_validation(kwargs: dict[str, Any], error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words) as info:
        _sign(**kwargs)
    assert SECRET not in str(info.value)


def test_sign_request_refuses_what_is_not_a_request() -> None:
    with pytest.raises(ParameterTypeError, match="request must be an HttpRequest"):
        sign_request(
            {"method": "POST", "url": URL},  # type: ignore[arg-type]
            credentials=_creds(),
            region="us-east-1",
            service="sso-oauth",
            now=NOW,
        )


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://h:99999/", "cannot sign URL"),
        ("http://h:port/", "cannot sign URL"),
        ("https://h/\udcff", "cannot sign URL"),
        ("https://", "has no host"),
        ("http://:8080/token", "has no host"),
    ],
)
def test_unsignable_urls(url: str, words: str) -> None:
    with pytest.raises(ParameterError, match=words):
        _sign(_request(url=url))


def test_unencodable_header_value_or_secret() -> None:
    with pytest.raises(ParameterError, match="not encodable as UTF-8"):
        _sign(_request(headers=(("X-Amz-Meta", "\udcff"),)))
    secret = "lone\udcffsurrogate"
    with pytest.raises(ParameterError, match="not encodable as UTF-8") as info:
        _sign(credentials=AwsCredentials(access_key_id=AKID, secret_access_key=secret))
    assert secret not in str(info.value)
    assert "lone" not in str(info.value)


# --- botocore as the oracle -----------------------------------------------------------------------


@contextlib.contextmanager
def _frozen_botocore_clock(now: dt.datetime) -> Iterator[None]:
    naive_utc = now.astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive_utc):
        yield


@contextlib.contextmanager
def _isolated_environment() -> Iterator[None]:
    """No AWS_* variable and no config file of the machine running the tests can reach botocore."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environ["AWS_CONFIG_FILE"] = environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    with mock.patch.dict(os.environ, environ, clear=True):
        yield


@functools.lru_cache(maxsize=1)
def _session() -> Any:
    with _isolated_environment():
        return botocore.session.Session()


@functools.lru_cache(maxsize=64)
def _client(region: str, endpoint_url: str | None, akid: str, secret: str, token: str | None) -> Any:
    with _isolated_environment():
        return _session().create_client(
            "sso-oidc",
            region_name=region,
            endpoint_url=endpoint_url,
            aws_access_key_id=akid,
            aws_secret_access_key=secret,
            aws_session_token=token,
        )


class _Raw:
    """The raw response object AWSResponse reads the body from."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b"{}"


def _botocore_create_token_with_iam(
    *,
    region: str,
    endpoint_url: str | None,
    credentials: AwsCredentials,
    now: dt.datetime,
    params: dict[str, Any],
) -> Any:
    """The AWSPreparedRequest botocore sends for CreateTokenWithIAM, signed at ``now``."""
    client = _client(
        region,
        endpoint_url,
        credentials.access_key_id,
        credentials.secret_access_key,
        credentials.session_token,
    )
    captured: list[Any] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        captured.append(request)
        return AWSResponse(request.url, 200, {}, _Raw())

    client.meta.events.register("before-send", capture)
    try:
        with _isolated_environment(), _frozen_botocore_clock(now):
            client.create_token_with_iam(**params)
    finally:
        client.meta.events.unregister("before-send", capture)
    (prepared,) = captured
    return prepared


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _headers_of(prepared: Any) -> tuple[tuple[str, str], ...]:
    return tuple((name, _text(value)) for name, value in prepared.headers.items())


def _as_set(headers: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return sorted((name.lower(), value) for name, value in headers)


def _assert_same_as_botocore(
    *,
    region: str,
    endpoint_url: str | None,
    credentials: AwsCredentials,
    now: dt.datetime,
    params: dict[str, Any],
) -> None:
    prepared = _botocore_create_token_with_iam(
        region=region, endpoint_url=endpoint_url, credentials=credentials, now=now, params=params
    )
    sent = _headers_of(prepared)
    # What our encoder hands to the signer: botocore's request before it was signed. The retry
    # headers and Content-Length (added by botocore after signing) are kept: they must not be signed.
    unsigned = HttpRequest(
        method=prepared.method,
        url=prepared.url,
        headers=tuple((name, value) for name, value in sent if name.lower() not in STALE),
        body=prepared.body or b"",
    )
    ours = sign_request(unsigned, credentials=credentials, region=region, service="sso-oauth", now=now)
    assert ours.header("Authorization") == dict(sent)["Authorization"]
    assert _as_set(ours.headers) == _as_set(sent)
    # Signing the request botocore sent (with its signature) again gives the same request.
    resigned = sign_request(
        HttpRequest(method=prepared.method, url=prepared.url, headers=sent, body=prepared.body or b""),
        credentials=credentials,
        region=region,
        service="sso-oauth",
        now=now,
    )
    assert _as_set(resigned.headers) == _as_set(sent)


def test_oracle_reproduces_the_goldens() -> None:
    for token, signature in [
        (None, "302012d7536226ca9ee548f0fbe5417dc5afcaae32a551018306201d4774b269"),
        (TOKEN, "292e41ed7b2c54af4a054af1f6df65f17df428e1c122a358a51d327d1073d1e2"),
    ]:
        prepared = _botocore_create_token_with_iam(
            region="us-east-1", endpoint_url=None, credentials=_creds(token), now=NOW, params=PARAMS
        )
        assert prepared.url == URL
        assert prepared.body == BODY
        assert _text(prepared.headers["Authorization"]).endswith(f"Signature={signature}")


ENDPOINTS = [
    None,  # the real one, from the endpoint rules
    "http://127.0.0.1:8765",
    "https://sso.example.com/prefix",
    "https://sso.example.com:8443/a/b/",
    "http://localhost:80",
    "https://OIDC.Example.COM",
    "http://[::1]:9000/p",
]
REGIONS = ["us-east-1", "eu-west-2", "ap-southeast-3", "cn-north-1", "us-gov-west-1", "xx-foo-1"]
TIMES = [NOW, dt.datetime(2024, 2, 29, 23, 59, 59, 500_000, tzinfo=dt.timezone(dt.timedelta(hours=-8)))]


@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize("endpoint_url", ENDPOINTS)
@pytest.mark.parametrize("region", REGIONS)
def test_same_as_botocore(region: str, endpoint_url: str | None, token: str | None) -> None:
    for now in TIMES:
        _assert_same_as_botocore(
            region=region, endpoint_url=endpoint_url, credentials=_creds(token), now=now, params=PARAMS
        )


_VISIBLE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
_MEMBERS = st.text(max_size=30)  # any Unicode, the empty string included
_AWARE = st.datetimes(
    min_value=dt.datetime(1970, 1, 1),
    max_value=dt.datetime(2199, 12, 31),
    timezones=st.builds(
        dt.timezone,
        st.timedeltas(
            min_value=-dt.timedelta(hours=23, minutes=59), max_value=dt.timedelta(hours=23, minutes=59)
        ),
    ),
)


@settings(max_examples=50, deadline=None)
@given(
    region=st.sampled_from(REGIONS) | st.from_regex(r"[a-z]{2}-[a-z]{3,9}-[1-9]", fullmatch=True),
    endpoint_url=st.sampled_from(ENDPOINTS),
    akid=_VISIBLE,
    secret=st.text(min_size=1, max_size=40),
    token=st.none() | st.just("") | _VISIBLE,
    now=_AWARE,
    required=st.fixed_dictionaries({"clientId": _MEMBERS, "grantType": _MEMBERS}),
    optional=st.fixed_dictionaries(
        {},
        optional={
            "code": _MEMBERS,
            "refreshToken": _MEMBERS,
            "assertion": _MEMBERS,
            "scope": st.lists(_MEMBERS, max_size=3),
            "redirectUri": _MEMBERS,
            "subjectToken": _MEMBERS,
            "codeVerifier": _MEMBERS,
        },
    ),
)
def test_same_as_botocore_for_any_values(
    region: str,
    endpoint_url: str | None,
    akid: str,
    secret: str,
    token: str | None,
    now: dt.datetime,
    required: dict[str, str],
    optional: dict[str, Any],
) -> None:
    _assert_same_as_botocore(
        region=region,
        endpoint_url=endpoint_url,
        credentials=AwsCredentials(access_key_id=akid, secret_access_key=secret, session_token=token),
        now=now,
        params={**required, **optional},
    )


def _botocore_sigv4(
    request: HttpRequest,
    credentials: AwsCredentials | None = None,
    region: str = "us-east-1",
    service: str = "sso-oauth",
    now: dt.datetime = NOW,
) -> dict[str, str]:
    """Headers botocore's SigV4Auth adds to ``request`` (given header by header, repeats kept).

    The headers botocore's pipeline only adds after signing are left out, as in the pipeline.
    """
    credentials = credentials or _creds()
    aws_request = AWSRequest(method=request.method, url=request.url, data=request.body)
    for name, value in request.headers:
        if name.lower() not in POST_SIGNING:
            aws_request.headers[name] = value  # HTTPHeaders appends: repeated names are kept
    signer = botocore.auth.SigV4Auth(
        botocore.credentials.Credentials(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        ),
        service,
        region,
    )
    with _frozen_botocore_clock(now):
        signer.add_auth(aws_request)
    return {name: aws_request.headers[name] for name in ("Authorization", "X-Amz-Date")}


# Header names for arbitrary requests; not Date nor X-Amz-Security-Token, which botocore special-cases
# (Date replaces X-Amz-Date; a token header is only replaced when the credentials have a token).
_NAMES = st.sampled_from(
    [
        "Content-Type",
        "content-type",
        "Accept",
        "Host",
        "X-Amz-Target",
        "x-amz-meta-Thing",
        "X-Amz-Content-SHA256",
        "User-Agent",
        "Expect",
        "Authorization",
        "X-Amz-Date",
        "Content-Length",
        "amz-sdk-request",
        "Connection",
    ]
)
_VALUES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x85\u2028\u2029")
    | st.sampled_from(" \t\u3000"),
    max_size=20,
)
_SEGMENT = st.lists(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/?#[]\\\u2028\u2029\x85")
    | st.sampled_from([".", "%2F", "%", "~", " "]),
    max_size=6,
).map("".join) | st.sampled_from(["", ".", ".."])
_QUERY_PART = st.text(st.sampled_from("abcAB019-_.~%+=é "), max_size=5)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(
        st.sampled_from(["oidc.us-east-1.amazonaws.com", "Example.COM", "127.0.0.1", "[::1]", "[fe80::1]"])
    )
    port = draw(st.none() | st.sampled_from([80, 443, 8080]) | st.integers(1, 65535))
    path = "/".join(draw(st.lists(_SEGMENT, max_size=5)))
    if path and draw(st.booleans()):
        path = "/" + path
    pairs = draw(st.lists(st.tuples(_QUERY_PART, st.none() | _QUERY_PART), max_size=4))
    query = "&".join(k if v is None else f"{k}={v}" for k, v in pairs)
    url = f"{scheme}://{host}{'' if port is None else f':{port}'}"
    if path:
        url += path if path.startswith("/") else "/" + path
    if query or draw(st.booleans()):
        url += "?" + query
    return url


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from(["POST", "GET", "put", "Delete"]),
    url=_urls(),
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=6),
    body=st.binary(max_size=64),
    akid=_VISIBLE,
    secret=st.text(min_size=1, max_size=20),
    token=st.none() | _VISIBLE,
    region=st.from_regex(r"[a-z]{2}-[a-z]{3,9}-[1-9]", fullmatch=True),
    service=st.sampled_from(["sso-oauth", "execute-api", "s3-object-lambda"]),
    now=_AWARE,
)
def test_same_as_botocore_sigv4auth_for_any_request(
    method: str,
    url: str,
    headers: list[tuple[str, str]],
    body: bytes,
    akid: str,
    secret: str,
    token: str | None,
    region: str,
    service: str,
    now: dt.datetime,
) -> None:
    request = HttpRequest(method=method, url=url, headers=tuple(headers), body=body)
    credentials = AwsCredentials(access_key_id=akid, secret_access_key=secret, session_token=token)
    ours = sign_request(request, credentials=credentials, region=region, service=service, now=now)
    theirs = _botocore_sigv4(request, credentials, region, service, now)
    assert ours.header("X-Amz-Date") == theirs["X-Amz-Date"]
    assert ours.header("Authorization") == theirs["Authorization"]
