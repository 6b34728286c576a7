"""The values at the sans-IO boundary (HttpRequest, HttpResponse), the JSON decoding of bodies, and the
requests the operations build from them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sansio_ssooidc as oidc
from sansio_ssooidc import _parse

URL = "https://oidc.us-east-1.amazonaws.com/token"

# --- HttpRequest / HttpResponse construction ------------------------------------------------------

BAD_REQUESTS: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"method": b"GET"}, oidc.ParameterTypeError, r"^HttpRequest\.method must be a non-empty str$"),
    ({"method": ""}, oidc.ParameterTypeError, r"^HttpRequest\.method must be a non-empty str$"),
    (
        {"url": "oidc.us-east-1.amazonaws.com/token"},
        oidc.ParameterError,
        r"url must be an absolute http\(s\) URL, got",
    ),
    ({"url": "ftp://h/"}, oidc.ParameterError, r"url must be an absolute http\(s\) URL, got 'ftp://h/'$"),
    ({"url": b"https://h/"}, oidc.ParameterError, r"url must be an absolute http\(s\) URL"),
    ({"body": "{}"}, oidc.ParameterTypeError, r"^HttpRequest\.body must be bytes$"),
    ({"body": bytearray(b"{}")}, oidc.ParameterTypeError, r"^HttpRequest\.body must be bytes$"),
]

BAD_HEADERS: list[tuple[Any, str]] = [
    ("Content-Type: application/json", r"headers must be a sequence of \(name, value\) pairs$"),
    (b"Content-Type", r"headers must be a sequence of \(name, value\) pairs$"),
    (5, r"headers must be a sequence of \(name, value\) pairs$"),
    ({"Content-Type": "application/json"}, r"headers must contain \(name, value\) pairs, got a str$"),
    ([("Content-Type",)], r"headers must contain \(name, value\) pairs, got a tuple of 1 item\(s\)$"),
    ([["a", "b", "c"]], r"headers must contain \(name, value\) pairs, got a list of 3 item\(s\)$"),
    ([None], r"headers must contain \(name, value\) pairs, got a NoneType$"),
    ([("X-Count", 5)], r"headers names and values must be str or bytes$"),
    ([(None, "v")], r"headers names and values must be str or bytes$"),
]


def request(**changes: Any) -> oidc.HttpRequest:
    return oidc.HttpRequest(**{"method": "POST", "url": URL, **changes})


def response(**changes: Any) -> oidc.HttpResponse:
    return oidc.HttpResponse(**{"status": 200, **changes})


@pytest.mark.parametrize(("changes", "error", "message"), BAD_REQUESTS)
def test_bad_requests_are_refused(changes: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        request(**changes)


@pytest.mark.parametrize(("headers", "message"), BAD_HEADERS)
@pytest.mark.parametrize("factory", [request, response], ids=["request", "response"])
def test_bad_headers_are_a_parameter_type_error(factory: Any, headers: Any, message: str) -> None:
    with pytest.raises(oidc.ParameterTypeError, match=message):
        factory(headers=headers)
    owner = "HttpRequest" if factory is request else "HttpResponse"
    with pytest.raises(oidc.ParameterTypeError, match=f"^{owner}\\.headers"):
        factory(headers=headers)


def test_a_malformed_header_pair_is_not_echoed() -> None:
    # A pair with a credential in it must not end up in an exception message (or a log).
    for pair in [
        ("Authorization", "Bearer CANARY-secret", "x"),
        ["x-amz-sso_bearer_token", "CANARY-secret", 1],
    ]:
        with pytest.raises(oidc.ParameterTypeError) as info:
            request(headers=[pair])
        assert "CANARY" not in str(info.value)
        assert "CANARY" not in repr(info.value.args)


def test_headers_are_normalised_to_a_tuple_of_str_pairs() -> None:
    req = request(
        headers=[["Content-Type", "application/json"], (b"X-Raw", b"caf\xe9"), ("X-Mixed", b"\xff")]
    )
    assert req.headers == (("Content-Type", "application/json"), ("X-Raw", "café"), ("X-Mixed", "ÿ"))
    assert type(req.headers) is tuple
    assert all(type(pair) is tuple for pair in req.headers)
    resp = response(headers=iter([(b"Content-Type", b"application/json")]))
    assert resp.headers == (("Content-Type", "application/json"),)
    assert request().headers == ()
    assert request().body == b""


def test_header_lookup_is_case_insensitive_and_returns_the_first() -> None:
    headers = [("X-Amzn-RequestId", "one"), ("x-amzn-requestid", "two"), ("Content-Type", "application/json")]
    for value in (request(headers=headers), response(headers=headers)):
        assert value.header("x-amzn-requestid") == "one"
        assert value.header("X-AMZN-REQUESTID") == "one"
        assert value.header("content-TYPE") == "application/json"
        assert value.header("missing") is None


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"status": True}, oidc.ParameterTypeError, r"^HttpResponse\.status must be an int$"),
        ({"status": "200"}, oidc.ParameterTypeError, r"^HttpResponse\.status must be an int$"),
        ({"status": 200.0}, oidc.ParameterTypeError, r"^HttpResponse\.status must be an int$"),
        ({"status": 99}, oidc.ParameterError, r"^HttpResponse\.status must be within 100\.\.599, got 99$"),
        ({"status": 600}, oidc.ParameterError, r"^HttpResponse\.status must be within 100\.\.599, got 600$"),
        ({"status": -200}, oidc.ParameterError, r"within 100\.\.599, got -200$"),
        ({"body": "{}"}, oidc.ParameterTypeError, r"^HttpResponse\.body must be bytes$"),
        ({"body": None}, oidc.ParameterTypeError, r"^HttpResponse\.body must be bytes$"),
        ({"reason": b"OK"}, oidc.ParameterTypeError, r"^HttpResponse\.reason must be a str$"),
        ({"reason": None}, oidc.ParameterTypeError, r"^HttpResponse\.reason must be a str$"),
    ],
)
def test_bad_responses_are_refused(changes: dict[str, Any], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        response(**changes)


@pytest.mark.parametrize("status", [100, 101, 200, 204, 302, 400, 499, 500, 599])
def test_every_status_in_range_is_accepted(status: int) -> None:
    assert response(status=status).status == status


# --- repr -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Authorization", "authorization", "X-Amz-Security-Token", "x-amz-sso_bearer_token"]
)
def test_repr_masks_credential_headers_and_bodies(name: str) -> None:
    req = request(
        headers=[(name, "CANARY-credential"), ("Content-Type", "application/json")], body=b'{"a": "CANARY"}'
    )
    text = repr(req)
    assert "CANARY" not in text
    assert text == (
        f"HttpRequest(method='POST', url='{URL}', headers=[({name!r}, '***'), "
        "('Content-Type', 'application/json')], body=<15 bytes>)"
    )
    resp = response(headers=[(name, "CANARY-credential")], body=b'{"accessToken": "CANARY"}')
    assert "CANARY" not in repr(resp)
    assert repr(resp) == f"HttpResponse(status=200, headers=[({name!r}, '***')], body=<25 bytes>)"


@pytest.mark.parametrize("name", ["Set-Cookie", "Cookie", "Proxy-Authorization"])
def test_repr_masks_cookies_too(name: str) -> None:
    assert "CANARY" not in repr(response(headers=[(name, "session=CANARY")]))
    assert "CANARY" not in repr(request(headers=[(name, "session=CANARY")]))


def test_values_are_frozen_and_compare_by_value() -> None:
    req = request(headers=[("A", "b")])
    assert req == request(headers=(("A", "b"),))
    assert hash(req) == hash(request(headers=[["A", "b"]]))
    with pytest.raises(AttributeError):
        req.url = "http://x/"  # type: ignore[misc]


# --- JSON decoding: our fast path against json.loads ----------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


def same_as_json_loads(body: bytes) -> None:
    try:
        expected: Any = json.loads(body)
    except (ValueError, RecursionError) as exc:
        expected = type(exc)
    try:
        got: Any = _parse.loads(body)
    except (ValueError, RecursionError) as exc:
        got = type(exc)
    if isinstance(expected, type):
        assert isinstance(got, type), (body, got)
        assert issubclass(got, ValueError) == issubclass(expected, ValueError)
    else:
        assert got == expected
        assert json.dumps(got) == json.dumps(expected)  # same types, same order


@settings(max_examples=300, deadline=None)
@given(
    value=st.dictionaries(st.text(max_size=5), json_values, max_size=4),
    before=st.sampled_from(["", " ", "\n", "\t "]),
    after=st.sampled_from(["", " ", "\r\n", "  \t", "x", " {}", "\x00", "\u00a0", " ,"]),
    encoding=st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig", "utf-16"]),
    ensure_ascii=st.booleans(),
)
def test_loads_equals_json_loads_on_json_objects(
    value: dict[str, Any], before: str, after: str, encoding: str, ensure_ascii: bool
) -> None:
    same_as_json_loads((before + json.dumps(value, ensure_ascii=ensure_ascii) + after).encode(encoding))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40).map(lambda b: b"{" + b))
def test_loads_equals_json_loads_on_bytes_after_a_brace(body: bytes) -> None:
    same_as_json_loads(body)


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"{} ",
        b"{}\n\t\r ",
        b"{}x",
        b"{} {}",
        b"{",
        b'{"a": ',
        b'{"a":',
        b'{"a": [',
        b'{"a": [1, ',
        b'{"a": {"b": ',
        b'{"a',
        b"{\x00",
        b'{"a": 1}\xff',
        b'{"a": "\xed\xa0\x80"}',  # an encoded lone surrogate: json.loads accepts it (surrogatepass)
        b'{"a": NaN, "b": -Infinity}',
        b'{"a": 1, "a": 2}',
        b"{" * 100000,
        b"[]",
        b" {}",
        b"\xef\xbb\xbf{}",
        b"",
        b"null",
    ],
)
def test_loads_equals_json_loads_on_edge_cases(body: bytes) -> None:
    same_as_json_loads(body)


# --- the requests our operations build ------------------------------------------------------------


def test_a_bytes_user_agent_is_decoded_and_anything_else_refused() -> None:
    op = oidc.CreateToken(client_id="c", client_secret="s", grant_type="refresh_token", refresh_token="r")
    assert op.to_request("https://h", user_agent=b"agent/\xe9").header("User-Agent") == "agent/é"  # type: ignore[arg-type]
    portal = oidc.Logout(access_token="t")
    assert portal.to_request("https://h", user_agent=b"agent/1").header("user-agent") == "agent/1"  # type: ignore[arg-type]
    for op_ in (op, portal):
        with pytest.raises(
            oidc.ParameterTypeError, match=r"HttpRequest\.headers names and values must be str"
        ):
            op_.to_request("https://h", user_agent=None)  # type: ignore[arg-type]
    assert op.to_request("https://h", user_agent="custom/2").header("User-Agent") == "custom/2"


@pytest.mark.parametrize(
    "op",
    [
        oidc.RegisterClient(client_name="n", client_type="public", scopes=["a"]),
        oidc.StartDeviceAuthorization(client_id="c", client_secret="s", start_url="u"),
        oidc.CreateToken(client_id="c", client_secret="s", grant_type="g", device_code="d"),
        oidc.GetRoleCredentials(role_name="r", account_id="1", access_token="t"),
        oidc.ListAccounts(access_token="t", max_results=3),
        oidc.ListAccountRoles(access_token="t", account_id="1", next_token="n"),
        oidc.Logout(access_token="t"),
    ],
    ids=lambda op: type(op).__name__,
)
def test_operation_requests_equal_validated_ones(op: oidc.Operation[Any]) -> None:
    built = op.to_request("https://example.com/base/")
    validated = oidc.HttpRequest(method=built.method, url=built.url, headers=built.headers, body=built.body)
    assert built == validated
    assert type(built.headers) is tuple
    assert all(type(name) is str and type(value) is str for name, value in built.headers)
    assert type(built.body) is bytes


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("AdministratorAccess", "AdministratorAccess"),
        ("a-b_c.d~e", "a-b_c.d~e"),
        ("a b", "a%20b"),
        ("a+b=c,d@e", "a%2Bb%3Dc%2Cd%40e"),
        ("ö/", "%C3%B6%2F"),
        ("x&y=z", "x%26y%3Dz"),
    ],
)
def test_query_values_are_percent_encoded_like_botocore(value: str, encoded: str) -> None:
    url = (
        oidc.GetRoleCredentials(role_name=value, account_id="1", access_token="t").to_request("https://h").url
    )
    assert url == f"https://h/federation/credentials?role_name={encoded}&account_id=1"


def test_an_unencodable_query_member_names_the_query_members() -> None:
    op = oidc.ListAccountRoles(access_token="t", account_id="\udc80")
    with pytest.raises(
        oidc.ParameterError, match=r"ListAccountRoles: a query member \(next_token, max_results, account_id\)"
    ):
        op.to_request("https://h")
