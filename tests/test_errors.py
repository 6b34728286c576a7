"""Errors: the exception classes, redaction, protocol-error excerpts, the mapping of error responses,
the checks on success bodies, and CreateTokenWithIAM's signing (its region and the WIRE.md golden)."""

from __future__ import annotations

import collections
import datetime as dt
import enum
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sansio_ssooidc as oidc
from sansio_ssooidc import _errors, _parse
from sansio_ssooidc._errors import EXCERPT_LENGTH, SECRET_KEYS, redact

# --- redact ---------------------------------------------------------------------------------------

REDACT: list[tuple[str, str]] = [
    ('{"accessToken": "abc", "expiresIn": 5}', '{"accessToken": "***", "expiresIn": 5}'),
    ('{"accessToken":"abc","tokenType":"Bearer"}', '{"accessToken":"***","tokenType":"Bearer"}'),
    ('{"refreshToken"  :\n  "r\\"q\\\\"}', '{"refreshToken"  :\n  "***"}'),
    ('{"idToken": "a.b.c", "x": 1}', '{"idToken": "***", "x": 1}'),
    ('{"clientSecret": "s", "clientId": "c"}', '{"clientSecret": "***", "clientId": "c"}'),
    ('{"deviceCode": "d", "userCode": "ABCD"}', '{"deviceCode": "***", "userCode": "ABCD"}'),
    (
        '{"codeVerifier": "v", "assertion": "a", "subjectToken": "s"}',
        '{"codeVerifier": "***", "assertion": "***", "subjectToken": "***"}',
    ),
    (
        '{"roleCredentials": {"accessKeyId": "AK", "secretAccessKey": "SK", "sessionToken": "ST"}}',
        '{"roleCredentials": {"accessKeyId": "AK", "secretAccessKey": "***", "sessionToken": "***"}}',
    ),
    ('{"SecretAccessKey": "SK", "SessionToken": "ST"}', '{"SecretAccessKey": "***", "SessionToken": "***"}'),
    ('{"accessToken": "truncated jso', '{"accessToken": "***"'),  # an unterminated secret: masked to the end
    ('{"accessToken": "', '{"accessToken": "***"'),
    ('{"accessToken": ', '{"accessToken": '),  # no value yet: nothing to mask
    ('{"accessToken": 5}', '{"accessToken": 5}'),  # not a string: not a token
    ('{"notaccessToken": "x", "AccessToken": "y"}', '{"notaccessToken": "x", "AccessToken": "y"}'),
    # JSON quoted inside a JSON string: the mask runs to the end of the enclosing string.
    (
        '{"message": "echo {\\"accessToken\\": \\"abc\\", \\"x\\": 1}", "y": 2}',
        '{"message": "echo {\\"accessToken\\": "***", "y": 2}',
    ),
    ('say \\"clientSecret\\":\\"s\\"', 'say \\"clientSecret\\":"***"'),
    ("Authorization is still pending", "Authorization is still pending"),
    ("", ""),
    ("http://127.0.0.1/cb?code=abc&state=xyz", "http://127.0.0.1/cb?code=***&state=***"),
    ("code=abc", "code=***"),
    ("a=1&refresh_token=r&access_token=t#frag", "a=1&refresh_token=***&access_token=***#frag"),
    ("device_code=d code_verifier=v", "device_code=*** code_verifier=v"),  # parameters start at ^, ? or &
    ("?code_verifier=v&x=1", "?code_verifier=***&x=1"),
    ("barcode=1&zipcode=2", "barcode=1&zipcode=2"),
    ("x = 1", "x = 1"),
]


@pytest.mark.parametrize(("text", "expected"), REDACT)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
    assert redact(expected) == expected  # idempotent


SECRET = "Z" * 12  # the only place a Z occurs, so any leaked character of it shows
plain_text = st.text(st.characters(codec="ascii", exclude_characters="Zz\x00"), max_size=30)
plain_json = st.recursive(
    st.none() | st.booleans() | st.integers() | plain_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(plain_text, children, max_size=3),
    max_leaves=6,
)


@st.composite
def bodies_with_secrets(draw: st.DrawFn) -> bytes:
    """A JSON document with secrets under their keys at any depth, cut anywhere."""
    keys = draw(st.lists(st.sampled_from(sorted(SECRET_KEYS)), min_size=1, max_size=4))
    secret_values = st.sampled_from([SECRET, SECRET + '\\"' + SECRET, "\\u005a" + SECRET, SECRET + "\\\\"])
    doc: dict[str, Any] = draw(st.dictionaries(plain_text, plain_json, max_size=4))
    for key in keys:
        target = doc
        if draw(st.booleans()):
            target = doc.setdefault(draw(plain_text), {})
            if not isinstance(target, dict):
                target = doc
        target[key] = "\x00"  # placeholder, replaced below with a raw (already escaped) value
    text = json.dumps(doc, separators=draw(st.sampled_from([(", ", ": "), (",", ":"), (" , ", " : ")])))
    while '"\\u0000"' in text:
        text = text.replace('"\\u0000"', '"' + draw(secret_values) + '"', 1)
    raw = text.encode()
    return raw[: draw(st.integers(0, len(raw)))]


@settings(max_examples=400, deadline=None)
@given(body=bodies_with_secrets(), status=st.sampled_from([None, 200, 400, 502]))
def test_a_protocol_error_never_carries_a_secret(body: bytes, status: int | None) -> None:
    error = oidc.RemoteProtocolError("response body is not JSON", status=status, body=body)
    for text in (str(error), repr(error), error.excerpt, repr(error.args)):
        assert "Z" not in text, text
    assert len(error.excerpt) <= EXCERPT_LENGTH


def test_protocol_error_message_status_and_excerpt() -> None:
    error = oidc.RemoteProtocolError("bad")
    assert (str(error), error.status, error.code, error.message, error.excerpt) == ("bad", None, None, "", "")
    assert not error.retryable
    error = oidc.RemoteProtocolError("bad", status=502, body=b"<html>oops</html>", reason="Bad Gateway")
    assert str(error) == "bad (HTTP 502); body starts '<html>oops</html>'"
    assert (error.status, error.code, error.message, error.excerpt) == (
        502,
        "502",
        "Bad Gateway",
        "<html>oops</html>",
    )
    assert isinstance(error, oidc.SSOOIDCError)


@pytest.mark.parametrize(
    ("status", "retryable"), [(200, False), (400, False), (429, True), (499, False), (500, True), (503, True)]
)
def test_protocol_error_retryable(status: int, retryable: bool) -> None:
    assert oidc.RemoteProtocolError("x", status=status).retryable is retryable


def test_excerpt_is_bounded_and_decoded_leniently() -> None:
    body = b"<html>" + b"x" * 10_000 + b"</html>"
    error = oidc.RemoteProtocolError("m", status=500, body=body)
    assert error.excerpt == ("<html>" + "x" * 10_000)[:EXCERPT_LENGTH]
    assert len(str(error)) < EXCERPT_LENGTH + 100
    error = oidc.RemoteProtocolError("m", status=500, body=b"\xff\xfe caf\xc3\xa9")
    assert error.excerpt == "\ufffd\ufffd café"


def test_excerpt_is_cut_after_redaction_from_a_window_twice_its_length() -> None:
    # Redacting a long secret shortens the text; what follows it in the window is shown.
    body = json.dumps({"accessToken": "S" * 300, "expiresIn": "soon", "tail": "t" * 300}).encode()
    error = oidc.RemoteProtocolError("m", status=200, body=body)
    assert error.excerpt == redact(body[: 2 * EXCERPT_LENGTH].decode())[:EXCERPT_LENGTH]
    assert error.excerpt.startswith('{"accessToken": "***", "expiresIn": "soon", "tail": "ttt')
    # A secret cut by the window's end is masked to the end.
    body = b'{"pad": "' + b"p" * 380 + b'", "refreshToken": "' + b"S" * 100 + b'"}'
    error = oidc.RemoteProtocolError("m", status=200, body=body)
    assert "S" not in error.excerpt
    assert len(error.excerpt) == EXCERPT_LENGTH


# --- ServiceError ---------------------------------------------------------------------------------

MODELED = [
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
    "SlowDownException",
    "UnauthorizedClientException",
    "UnsupportedGrantTypeException",
]
PORTAL = ["UnauthorizedException", "ResourceNotFoundException", "TooManyRequestsException"]


@pytest.mark.parametrize("name", MODELED + PORTAL)
def test_each_modeled_error_is_chosen_by_its_code_whatever_the_status(name: str) -> None:
    cls = getattr(oidc, name)
    assert issubclass(cls, oidc.ServiceError)
    assert _errors.ERROR_CLASSES[name] is cls
    assert cls.__doc__
    for status in (400, 401, 500):
        error = _parse.error_for(
            oidc.HttpResponse(status=status, headers=[("x-amzn-ErrorType", name)], body=b"{}")
        )
        assert type(error) is cls
        assert (error.code, error.status) == (name, status)
    assert cls.retryable is (name in ("InternalServerException", "TooManyRequestsException"))
    if name in PORTAL:
        assert cls.oauth_error is None
    else:
        assert _errors.OAUTH_ERROR_CLASSES[cls.oauth_error] is cls


def test_service_error_text_and_attributes() -> None:
    error = oidc.AccessDeniedException(
        "AccessDeniedException",
        "denied",
        status=400,
        error="access_denied",
        error_description="denied",
        reason="KMS_AccessDeniedException",
        request_id="rid",
    )
    assert str(error) == "AccessDeniedException (HTTP 400): denied [reason: KMS_AccessDeniedException]"
    assert error.args == (str(error),)
    assert (
        error.error,
        error.error_description,
        error.reason,
        error.endpoint,
        error.region,
        error.request_id,
    ) == (
        "access_denied",
        "denied",
        "KMS_AccessDeniedException",
        None,
        None,
        "rid",
    )
    assert str(oidc.ServiceError("400", status=400)) == "400 (HTTP 400)"


def test_service_error_message_is_redacted_but_the_attribute_is_not() -> None:
    message = 'bad request {"refreshToken": "CANARY"} from http://h/cb?code=CANARY'
    error = oidc.InvalidRequestException("InvalidRequestException", message, status=400)
    assert "CANARY" not in str(error)
    assert "CANARY" not in repr(error)
    assert (
        str(error)
        == 'InvalidRequestException (HTTP 400): bad request {"refreshToken": "***"} from http://h/cb?code=***'
    )
    assert error.message == message  # the caller asked for the raw service message


# --- error_for ------------------------------------------------------------------------------------


def resp(status: int, body: Any = b"", headers: Any = (), reason: str = "") -> oidc.HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return oidc.HttpResponse(status=status, headers=headers, body=raw, reason=reason)


ERROR_FOR: list[tuple[oidc.HttpResponse, type[Exception], dict[str, Any]]] = [
    # The reason phrase: as received, else the standard one, else none at all.
    (
        resp(404),
        oidc.RemoteProtocolError,
        {
            "message": "Not Found",
            "code": "404",
            "text": "error response with an empty body (Not Found) (HTTP 404)",
        },
    ),
    (resp(404, reason="Nope"), oidc.RemoteProtocolError, {"message": "Nope"}),
    (
        resp(599),
        oidc.RemoteProtocolError,
        {"message": "", "text": "error response with an empty body (HTTP 599)"},
    ),
    (resp(599, b"<html>"), oidc.RemoteProtocolError, {"message": "", "code": "599"}),
    (resp(502, b"<html>"), oidc.RemoteProtocolError, {"message": "Bad Gateway", "excerpt": "<html>"}),
    (resp(400, b"  \n"), oidc.RemoteProtocolError, {"message": "Bad Request"}),
    (
        resp(400, b"null"),
        oidc.RemoteProtocolError,
        {"text": "error body is a JSON NoneType, expected an object (HTTP 400); body starts 'null'"},
    ),
    # Headers: the first of each, matched case-insensitively.
    (
        resp(
            400,
            {},
            [("X-AMZN-ERRORTYPE", "SlowDownException"), ("x-amzn-errortype", "ExpiredTokenException")],
        ),
        oidc.SlowDownException,
        {"code": "SlowDownException"},
    ),
    (
        resp(400, {}, [("x-amzn-RequestId", "one"), ("X-Amzn-RequestId", "two"), ("x-amzn-ErrorType", "X")]),
        oidc.ServiceError,
        {"request_id": "one", "code": "X"},
    ),
    (
        resp(400, b" ", [("x-amzn-ErrorType", "InvalidGrantException")]),
        oidc.InvalidGrantException,
        {"message": ""},
    ),
    # Code: header, then code / Code / __type, cut at the first ":" and after the last "#".
    (resp(400, {"__type": "a.b#c#InvalidScopeException:extra:more"}), oidc.InvalidScopeException, {}),
    (resp(400, {"code": "", "Code": "InvalidClientException"}), oidc.InvalidClientException, {}),
    (
        resp(400, {"code": 5, "error": "invalid_grant"}),
        oidc.InvalidGrantException,
        {"code": "InvalidGrantException"},
    ),
    (resp(400, {"code": 5}), oidc.ServiceError, {"code": "400"}),
    (resp(400, {}, [("x-amzn-ErrorType", "")]), oidc.ServiceError, {"code": "400"}),
    (
        resp(400, {"error": "slow_down"}, [("x-amzn-ErrorType", "Unknown")]),
        oidc.ServiceError,
        {"code": "Unknown"},
    ),
    # Message: message, then Message, then error_description.
    (resp(400, {"message": "", "error_description": "d"}), oidc.ServiceError, {"message": ""}),
    (resp(400, {"Message": "M", "error_description": "d"}), oidc.ServiceError, {"message": "M"}),
    (resp(400, {"error_description": "d"}), oidc.ServiceError, {"message": "d", "error_description": "d"}),
    (resp(400, {"error_description": None, "message": None}), oidc.ServiceError, {"message": ""}),
    (
        resp(
            400, {"__type": "InvalidRequestRegionException", "endpoint": "https://e", "region": "eu-west-1"}
        ),
        oidc.InvalidRequestRegionException,
        {"endpoint": "https://e", "region": "eu-west-1"},
    ),
    # Malformed members.
    (
        resp(400, {"reason": 1}),
        oidc.RemoteProtocolError,
        {"text": "error member 'reason' is not a string (HTTP 400); body starts '{\"reason\": 1}'"},
    ),
    (resp(400, {"Message": 1}), oidc.RemoteProtocolError, {"code": "400"}),
]


@pytest.mark.parametrize(("response", "cls", "expected"), ERROR_FOR)
def test_error_for(response: oidc.HttpResponse, cls: type[Exception], expected: dict[str, Any]) -> None:
    error = _parse.error_for(response)
    assert type(error) is cls
    for name, value in expected.items():
        assert (str(error) if name == "text" else getattr(error, name)) == value, name


def test_json_object_raises_for_a_non_success_status() -> None:
    with pytest.raises(oidc.RemoteProtocolError, match="HTTP 302"):
        _parse.json_object(resp(302), 100)
    assert _parse.json_object(resp(204, b"  "), 100, empty_ok=True) == {}
    assert _parse.json_object(resp(200, b'{"a": 1}'), 100, empty_ok=True) == {"a": 1}
    with pytest.raises(oidc.RemoteProtocolError, match="not JSON"):
        _parse.json_object(resp(200, b""), 100)


# --- checked reads of success bodies --------------------------------------------------------------


class Level(enum.IntEnum):
    ONE = 1


R = resp(200, b"{}")

GET: list[tuple[Any, type, Any]] = [
    ("s", str, "s"),
    (3, int, 3),
    (Level.ONE, int, Level.ONE),  # an int subclass other than bool is an int
    (collections.OrderedDict(a=1), dict, {"a": 1}),
    ([1], list, [1]),
    (None, str, None),
]


@pytest.mark.parametrize(("value", "kind", "expected"), GET)
def test_get_accepts(value: Any, kind: type, expected: Any) -> None:
    assert _parse.get({"k": value}, "k", kind, R) == expected
    assert _parse.get({}, "k", kind, R) is None


@pytest.mark.parametrize(
    ("value", "kind", "message"),
    [
        (True, int, "'k' is a bool, expected int"),
        (1.5, int, "'k' is a float, expected int"),
        (1, str, "'k' is a int, expected str"),
        ("x", dict, "'k' is a str, expected dict"),
        ({}, list, "'k' is a dict, expected list"),
    ],
)
def test_get_refuses(value: Any, kind: type, message: str) -> None:
    with pytest.raises(oidc.RemoteProtocolError, match=message) as info:
        _parse.get({"k": value}, "k", kind, R)
    assert info.value.status == 200


def test_get_required_and_bounded_and_str_list() -> None:
    with pytest.raises(oidc.RemoteProtocolError, match="missing 'k'"):
        _parse.get({"k": None}, "k", str, R, required=True)
    assert _parse.bounded(None, "k", 1, 2, R) is None
    assert _parse.bounded(1, "k", 1, 2, R) == 1
    assert _parse.bounded(2, "k", 1, 2, R) == 2
    with pytest.raises(oidc.RemoteProtocolError, match=r"'k'=3 is outside the sane range 1\.\.2"):
        _parse.bounded(3, "k", 1, 2, R)
    assert _parse.str_list({}, "k", R) is None
    assert _parse.str_list({"k": ["a"]}, "k", R) == ("a",)
    with pytest.raises(oidc.RemoteProtocolError, match="'k' is a str, expected list"):
        _parse.str_list({"k": "a"}, "k", R)


@pytest.mark.parametrize(
    ("op", "body", "message"),
    [
        (
            oidc.ListAccounts(access_token="t"),
            {"accountList": [{"accountId": 1}]},
            "'accountId' is a int, expected str",
        ),
        (
            oidc.ListAccounts(access_token="t"),
            {"accountList": [{"accountName": []}]},
            "'accountName' is a list",
        ),
        (
            oidc.ListAccounts(access_token="t"),
            {"accountList": [{"emailAddress": True}]},
            "'emailAddress' is a bool",
        ),
        (oidc.ListAccounts(access_token="t"), {"accountList": [], "nextToken": 5}, "'nextToken' is a int"),
        (oidc.ListAccounts(access_token="t"), {"accountList": {}}, "'accountList' is a dict"),
        (
            oidc.ListAccountRoles(access_token="t", account_id="1"),
            {"roleList": [{"roleName": {}}]},
            "'roleName' is a dict",
        ),
        (
            oidc.ListAccountRoles(access_token="t", account_id="1"),
            {"roleList": [{"accountId": 1.0}]},
            "'accountId' is a float",
        ),
        (
            oidc.ListAccountRoles(access_token="t", account_id="1"),
            {"roleList": [None]},
            "'roleList' must be a list of objects",
        ),
    ],
)
def test_malformed_list_items_are_protocol_errors(op: Any, body: Any, message: str) -> None:
    with pytest.raises(oidc.RemoteProtocolError, match=message):
        op.parse_response(resp(200, body))


def test_list_items_with_absent_members() -> None:
    accounts = oidc.ListAccounts(access_token="t").parse_response(
        resp(200, {"accountList": [{}, {"accountId": None}]})
    )
    assert accounts.accounts == (oidc.AccountInfo(), oidc.AccountInfo())
    assert oidc.ListAccounts(access_token="t").parse_response(resp(200, {})).accounts == ()
    roles = oidc.ListAccountRoles(access_token="t", account_id="1").parse_response(
        resp(200, {"roleList": None})
    )
    assert roles.roles == ()


def test_the_base_operation_has_no_parser() -> None:
    with pytest.raises(NotImplementedError):
        oidc.Operation().parse_response(resp(200, {}))


# --- CreateTokenWithIAM ---------------------------------------------------------------------------

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
CREDENTIALS = oidc.AwsCredentials(
    access_key_id="AKIDEXAMPLE", secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)
IAM = oidc.CreateTokenWithIAM(
    client_id="arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111",
    grant_type=oidc.GRANT_JWT_BEARER,
    assertion="eyJhbGciOiJSUzI1NiJ9.e30.sig",
)
WIRE_BODY = (
    b'{"clientId": "arn:aws:sso::123456789012:application/ssoins-1111111111111111/apl-1111111111111111", '
    b'"grantType": "urn:ietf:params:oauth:grant-type:jwt-bearer", '
    b'"assertion": "eyJhbGciOiJSUzI1NiJ9.e30.sig"}'
)


def _signature(request: oidc.HttpRequest) -> str:
    match = re.search(r"Signature=([0-9a-f]{64})$", request.header("Authorization") or "")
    assert match is not None
    return match.group(1)


def test_create_token_with_iam_matches_the_wire_golden() -> None:
    request = IAM.to_request("https://oidc.us-east-1.amazonaws.com", credentials=CREDENTIALS, now=NOW)
    assert request.url == "https://oidc.us-east-1.amazonaws.com/token?aws_iam=t"
    assert request.body == WIRE_BODY
    assert _signature(request) == "302012d7536226ca9ee548f0fbe5417dc5afcaae32a551018306201d4774b269"
    authorization = request.header("Authorization") or ""
    assert "Credential=AKIDEXAMPLE/20240101/us-east-1/sso-oauth/aws4_request" in authorization
    assert "SignedHeaders=content-type;host;x-amz-date," in authorization  # not User-Agent, Content-Length
    assert request.header("User-Agent") == oidc.USER_AGENT
    assert request.header("Content-Length") == str(len(WIRE_BODY))
    assert request.header("X-Amz-Date") == "20240101T000000Z"
    session = oidc.AwsCredentials(
        access_key_id="AKIDEXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token="FQoGZXIvYXdzEXAMPLETOKEN",
    )
    signed = IAM.to_request("https://oidc.us-east-1.amazonaws.com", credentials=session, now=NOW)
    assert _signature(signed) == "292e41ed7b2c54af4a054af1f6df65f17df428e1c122a358a51d327d1073d1e2"
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in (
        signed.header("Authorization") or ""
    )


@pytest.mark.parametrize(
    ("endpoint", "region"),
    [
        ("https://oidc.us-east-1.amazonaws.com", "us-east-1"),
        ("https://oidc.eu-west-1.amazonaws.com/", "eu-west-1"),
        ("https://oidc-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("https://oidc.us-east-1.api.aws", "us-east-1"),
        ("https://oidc-fips.cn-north-1.api.amazonwebservices.com.cn", "cn-north-1"),
        ("https://OIDC.AP-SOUTHEAST-2.AMAZONAWS.COM:443", "ap-southeast-2"),
    ],
)
def test_create_token_with_iam_infers_the_region_of_a_standard_endpoint(endpoint: str, region: str) -> None:
    request = IAM.to_request(endpoint, credentials=CREDENTIALS, now=NOW)
    assert f"/20240101/{region}/sso-oauth/aws4_request" in (request.header("Authorization") or "")
    explicit = IAM.to_request(endpoint, credentials=CREDENTIALS, now=NOW, region=region)
    assert explicit == request


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8080",
        "https://sso.example.com/oidc/",
        "https://oidcx.us-east-1.amazonaws.com",
        "https://oidc/",
    ],
)
def test_create_token_with_iam_needs_a_region_for_a_custom_endpoint(endpoint: str) -> None:
    with pytest.raises(
        oidc.ParameterError, match=r"cannot tell the signing region from endpoint .*; pass region=\.\.\.$"
    ):
        IAM.to_request(endpoint, credentials=CREDENTIALS, now=NOW)
    request = IAM.to_request(endpoint, credentials=CREDENTIALS, now=NOW, region="eu-central-1")
    assert "/20240101/eu-central-1/sso-oauth/aws4_request" in (request.header("Authorization") or "")


def test_create_token_with_iam_signs_the_custom_host_and_port() -> None:
    request = IAM.to_request("http://127.0.0.1:8080/p", credentials=CREDENTIALS, now=NOW, region="us-east-1")
    assert request.url == "http://127.0.0.1:8080/p/token?aws_iam=t"
    assert request.header("Host") is None  # signed from the URL; the adapter sends it
    other_port = IAM.to_request(
        "http://127.0.0.1:9090/p", credentials=CREDENTIALS, now=NOW, region="us-east-1"
    )
    assert _signature(request) != _signature(other_port)


def test_create_token_with_iam_checks_its_signing_inputs() -> None:
    with pytest.raises(oidc.ParameterTypeError, match="credentials must be an AwsCredentials"):
        IAM.to_request("https://oidc.us-east-1.amazonaws.com", credentials=None, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(oidc.ParameterError, match="timezone-aware"):
        IAM.to_request(
            "https://oidc.us-east-1.amazonaws.com", credentials=CREDENTIALS, now=dt.datetime(2024, 1, 1)
        )
    with pytest.raises(oidc.ParameterError, match="endpoint must be an absolute"):
        IAM.to_request("oidc.us-east-1.amazonaws.com", credentials=CREDENTIALS, now=NOW)
