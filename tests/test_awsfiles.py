"""The AWS CLI / botocore files, with botocore 1.44.5 as the oracle (no network).

botocore computes the cache file names, reads what we write and writes what we read (through its
real ``JSONFileCache``, its token refresh and its SSO credential fetcher); ``configloader`` parses
the same config texts; its SSO providers judge the same profiles.
"""

from __future__ import annotations

import configparser
import contextlib
import hashlib
import json
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore.session
import dateutil.parser
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.configloader import load_config
from botocore.credentials import ProcessProvider, SSOCredentialFetcher, SSOProvider
from botocore.exceptions import ConfigParseError, InvalidConfigError
from botocore.stub import Stubber
from botocore.tokens import SSOTokenProvider, _sso_json_dumps
from botocore.utils import JSONFileCache, SSOTokenLoader
from hypothesis import given
from hypothesis import strategies as st

from sansio_ssooidc._awsfiles import (
    AwsConfig,
    CachedRegistration,
    CachedRoleCredentials,
    CachedToken,
    CacheFileError,
    ConfigError,
    SsoSettings,
    _describe_parse_error,
    _parse_time,
    credential_process_json,
    dump_registration,
    dump_role_credentials,
    dump_token,
    load_registration,
    load_role_credentials,
    load_token,
    parse_config,
    registration_cache_key,
    resolve_sso_settings,
    role_credentials_cache_key,
    token_cache_key,
)
from sansio_ssooidc._errors import ParameterError, ParameterTypeError, SSOOIDCError

UTC = timezone.utc
T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
SECRETS = ("SECRET-access-token", "SECRET-client-secret", "SECRET-refresh-token")


def _stem(name: str) -> str:
    assert name.endswith(".json")
    return name[: -len(".json")]


# --- cache file names ---------------------------------------------------------------------------

names = st.text(min_size=0, max_size=30)


def test_sha1_admin_golden() -> None:
    assert token_cache_key(session_name="admin") == "d033e22ae348aeb5660fc2140aec35850c4da997.json"
    assert token_cache_key(start_url="admin") == "d033e22ae348aeb5660fc2140aec35850c4da997.json"


@given(start_url=names, session_name=st.none() | names)
def test_token_key_matches_botocore(start_url: str, session_name: str | None) -> None:
    cache: dict[str, Any] = {}
    SSOTokenLoader(cache=cache).save_token(start_url, {"x": 1}, session_name=session_name)
    assert list(cache) == [_stem(token_cache_key(session_name=session_name, start_url=start_url))]


@pytest.mark.parametrize(
    ("session_name", "start_url"),
    [("my-sso", "https://d-1.awsapps.com/start"), ("ünïcødé 会话", "https://x"), ("", "https://x")],
)
def test_token_key_session_name_wins(session_name: str, start_url: str) -> None:
    expected = hashlib.sha1(session_name.encode()).hexdigest() + ".json"
    assert token_cache_key(session_name=session_name, start_url=start_url) == expected


def test_token_key_needs_a_name() -> None:
    with pytest.raises(ParameterError, match="session_name"):
        token_cache_key()


@given(
    account_id=names,
    role_name=names,
    start_url=names,
    session_name=st.none() | names,
)
def test_role_credentials_key_matches_botocore(
    account_id: str, role_name: str, start_url: str, session_name: str | None
) -> None:
    fetcher = SSOCredentialFetcher(
        start_url, "us-east-1", role_name, account_id, client_creator=None, sso_session_name=session_name
    )
    ours = role_credentials_cache_key(
        account_id=account_id, role_name=role_name, session_name=session_name, start_url=start_url
    )
    assert ours == fetcher._cache_key + ".json"


def test_role_credentials_key_non_ascii_and_golden() -> None:
    fetcher = SSOCredentialFetcher(
        "https://x", "eu-west-1", "Rôle", "123456789012", client_creator=None, sso_session_name="séssion"
    )
    ours = role_credentials_cache_key(account_id="123456789012", role_name="Rôle", session_name="séssion")
    assert ours == fetcher._cache_key + ".json"
    text = '{"accountId":"1","roleName":"r","startUrl":"u"}'
    golden = hashlib.sha1(text.encode()).hexdigest() + ".json"
    assert role_credentials_cache_key(account_id="1", role_name="r", start_url="u") == golden


def test_role_credentials_key_needs_a_name() -> None:
    with pytest.raises(ParameterError, match="start_url"):
        role_credentials_cache_key(account_id="1", role_name="r", session_name="")


def _cli_registration_key(start_url: str, region: str, scopes: Any, session_name: Any) -> str:
    # The AWS CLI's BaseSSOTokenFetcher._registration_cache_key (awscli/botocore/utils.py), restated.
    args = {
        "tool": "botocore",
        "startUrl": start_url,
        "region": region,
        "scopes": scopes,
        "session_name": session_name,
    }
    return hashlib.sha1(json.dumps(args, sort_keys=True).encode("utf-8")).hexdigest() + ".json"


@pytest.mark.parametrize(
    ("start_url", "region", "scopes", "session_name"),
    [
        ("https://d-1.awsapps.com/start", "us-east-1", None, "my-sso"),
        ("https://d-1.awsapps.com/start", "us-east-1", [], "my-sso"),
        ("https://d-1.awsapps.com/start", "us-east-1", ["sso:account:access"], "my-sso"),
        ("https://d-1.awsapps.com/start", "eu-west-1", ["a", "b"], None),
        ("https://ünï.example/start", "us-east-1", ["scöpe"], "séssion"),
    ],
)
def test_registration_key(start_url: str, region: str, scopes: Any, session_name: Any) -> None:
    expected = _cli_registration_key(start_url, region, scopes, session_name)
    ours = registration_cache_key(
        start_url=start_url, region=region, scopes=scopes, session_name=session_name
    )
    assert ours == expected
    if scopes is not None:  # a tuple hashes like the CLI's list
        ours = registration_cache_key(
            start_url=start_url, region=region, scopes=tuple(scopes), session_name=session_name
        )
        assert ours == expected


def test_registration_key_none_and_empty_scopes_differ() -> None:
    scope_lists: tuple[list[str] | None, ...] = (None, [])
    keys = {
        registration_cache_key(start_url="u", region="r", scopes=s, session_name="n") for s in scope_lists
    }
    assert len(keys) == 2


def test_registration_key_refuses_a_string() -> None:
    with pytest.raises(ParameterTypeError, match="did you mean"):
        registration_cache_key(start_url="u", region="r", scopes="sso:account:access", session_name=None)


# --- values -----------------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
).map(lambda d: d.replace(microsecond=0))
texts = st.text(max_size=20)
#: A required string of a cache file: empty is as unusable as missing (load_* refuse both).
filled = st.text(min_size=1, max_size=20)
opt_texts = st.none() | texts
opt_strs = st.none() | st.lists(texts, max_size=3).map(tuple)

# strftime("%Y") does not pad years before 1000, so botocore's output is compared from 1000 on.
modern = moments.filter(lambda d: d.year >= 1000)


def _tokens(times: st.SearchStrategy[datetime]) -> st.SearchStrategy[CachedToken]:
    return st.builds(
        CachedToken,
        start_url=opt_texts,
        region=opt_texts,
        access_token=filled,
        expires_at=times,
        client_id=opt_texts,
        client_secret=opt_texts,
        registration_expires_at=st.none() | times,
        refresh_token=opt_texts,
    )


def _registrations(times: st.SearchStrategy[datetime]) -> st.SearchStrategy[CachedRegistration]:
    return st.builds(
        CachedRegistration,
        client_id=filled,
        client_secret=filled,
        expires_at=times,
        scopes=opt_strs,
        grant_types=opt_strs,
    )


tokens = _tokens(moments)
registrations = _registrations(moments)
role_credentials = st.builds(
    CachedRoleCredentials,
    access_key_id=filled,
    secret_access_key=filled,
    session_token=filled,
    expiration=moments,
    account_id=opt_texts,
)


def _token(**over: Any) -> CachedToken:
    fields: dict[str, Any] = {
        "start_url": "https://d-1.awsapps.com/start",
        "region": "us-east-1",
        "access_token": SECRETS[0],
        "expires_at": T0,
        "client_id": "cid",
        "client_secret": SECRETS[1],
        "registration_expires_at": T0 + timedelta(days=90),
        "refresh_token": SECRETS[2],
    }
    fields.update(over)
    return CachedToken(**fields)


def _role(**over: Any) -> CachedRoleCredentials:
    fields: dict[str, Any] = {
        "access_key_id": "ASIAEXAMPLE",
        "secret_access_key": SECRETS[0],
        "session_token": SECRETS[1],
        "expiration": datetime(2999, 1, 1, tzinfo=UTC),
        "account_id": "123456789012",
    }
    fields.update(over)
    return CachedRoleCredentials(**fields)


def test_values_mask_secrets() -> None:
    registration = CachedRegistration(client_id="c", client_secret=SECRETS[1], expires_at=T0)
    for value in (_token(), _role(), registration):
        text = repr(value)
        assert "***" in text
        assert not any(secret in text for secret in SECRETS)


def test_times_are_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    token = _token(expires_at=datetime(2024, 1, 2, 5, 4, 5, tzinfo=plus_two))
    assert token.expires_at == T0
    assert token.expires_at.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (datetime(2024, 1, 1), ParameterError, "aware"),
        ("2024-01-01T00:00:00Z", ParameterTypeError, "must be a datetime"),
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), ParameterError, "out of range"),
    ],
)
def test_time_fields_are_validated(value: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        _token(expires_at=value)


def test_required_fields() -> None:
    with pytest.raises(ParameterError, match="access_token is required"):
        CachedToken(access_token=None, expires_at=T0)  # type: ignore[arg-type]


# --- encoding: round trips and botocore as the oracle -----------------------------------------


@given(tokens)
def test_token_round_trip(token: CachedToken) -> None:
    assert load_token(dump_token(token)) == token


@given(registrations)
def test_registration_round_trip(registration: CachedRegistration) -> None:
    assert load_registration(dump_registration(registration)) == registration


@given(role_credentials)
def test_role_credentials_round_trip(credentials: CachedRoleCredentials) -> None:
    assert load_role_credentials(dump_role_credentials(credentials)) == credentials


def _botocore_token_dict(token: CachedToken) -> dict[str, Any]:
    """The dict botocore's SSOTokenProvider/AWS CLI builds, datetimes and all, in their key order."""
    out: dict[str, Any] = {
        "startUrl": token.start_url,
        "region": token.region,
        "accessToken": token.access_token,
        "expiresAt": token.expires_at,
        "clientId": token.client_id,
        "clientSecret": token.client_secret,
        "registrationExpiresAt": token.registration_expires_at,
        "refreshToken": token.refresh_token,
    }
    return {k: v for k, v in out.items() if v is not None}


def _strftime(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@given(_tokens(modern).filter(lambda t: t.start_url is not None), st.none() | names)
def test_token_file_is_byte_identical_to_botocore(token: CachedToken, session_name: str | None) -> None:
    """botocore writes a token (JSONFileCache + _sso_json_dumps, as its refresh and the AWS CLI do) into
    the file we name, with exactly our bytes; we read it back; botocore's loader reads ours."""
    with tempfile.TemporaryDirectory() as tmp:
        loader = SSOTokenLoader(cache=JSONFileCache(tmp, dumps_func=_sso_json_dumps))
        loader.save_token(token.start_url, _botocore_token_dict(token), session_name=session_name)
        path = Path(tmp, token_cache_key(session_name=session_name, start_url=token.start_url))
        text = path.read_text()
    assert text == dump_token(token)
    assert load_token(text) == token
    cache = {_stem(token_cache_key(session_name=session_name, start_url=token.start_url)): json.loads(text)}
    loaded = SSOTokenLoader(cache=cache)(token.start_url, session_name=session_name)
    expected = {
        k: _strftime(v) if isinstance(v, datetime) else v for k, v in _botocore_token_dict(token).items()
    }
    assert loaded == expected


@given(_registrations(modern))
def test_registration_file_matches_the_aws_cli(registration: CachedRegistration) -> None:
    # The AWS CLI's _register_client dict (grantTypes is a tuple there), dumped by _sso_json_dumps.
    cli: dict[str, Any] = {
        "clientId": registration.client_id,
        "clientSecret": registration.client_secret,
        "expiresAt": registration.expires_at,
    }
    if registration.scopes is not None:
        cli["scopes"] = list(registration.scopes)
    if registration.grant_types is not None:
        cli["grantTypes"] = registration.grant_types
    assert dump_registration(registration) == _sso_json_dumps(cli)


def test_registration_with_extra_keys() -> None:
    text = (
        '{"clientId": "c", "clientSecret": "s", "expiresAt": "2024-04-01T00:00:00UTC", '
        '"receivedAt": "2024-01-01T00:00:00UTC", "scopes": ["sso:account:access"], "grantTypes": null}'
    )
    registration = load_registration(text)
    assert registration.expires_at == datetime(2024, 4, 1, tzinfo=UTC)
    assert registration.scopes == ("sso:account:access",)
    assert registration.grant_types is None


@pytest.fixture
def boto_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> botocore.session.Session:
    config = tmp_path / "config"
    config.write_text(
        "[profile p]\nsso_session = s\nsso_account_id = 123456789012\nsso_role_name = Admin\n"
        "[sso-session s]\nsso_start_url = https://d-1.awsapps.com/start\nsso_region = us-east-1\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return botocore.session.Session()


def _client(session: botocore.session.Session, service: str) -> Any:
    return session.create_client(service, region_name="us-east-1", config=Config(signature_version=UNSIGNED))


def test_botocore_refreshes_our_token_and_we_read_its_file(
    boto_session: botocore.session.Session, tmp_path: Path
) -> None:
    cache_dir = tmp_path / "sso-cache"
    cache_dir.mkdir()
    old = _token(start_url="https://d-1.awsapps.com/start", expires_at=T0 + timedelta(minutes=5))
    path = cache_dir / token_cache_key(session_name="s", start_url=old.start_url)
    path.write_text(dump_token(old))

    provider = SSOTokenProvider(
        boto_session,
        cache=JSONFileCache(str(cache_dir), dumps_func=_sso_json_dumps),
        time_fetcher=lambda: T0,
        profile_name="p",
    )
    client = _client(boto_session, "sso-oidc")
    with Stubber(client) as stub:
        stub.add_response(
            "create_token",
            {"accessToken": "new-access", "expiresIn": 28800, "refreshToken": "new-refresh"},
            {
                "grantType": "refresh_token",
                "clientId": "cid",
                "clientSecret": SECRETS[1],
                "refreshToken": SECRETS[2],
            },
        )
        provider.__dict__["_client"] = client
        frozen = provider._refresher()
    assert frozen.token == "new-access"

    text = path.read_text()
    new = load_token(text)
    assert new == _token(
        start_url=old.start_url,
        access_token="new-access",
        expires_at=T0 + timedelta(hours=8),
        refresh_token="new-refresh",
    )
    assert dump_token(new) == text  # botocore's registrationExpiresAt string kept verbatim, like ours


def test_botocore_writes_role_credentials_we_read(
    boto_session: botocore.session.Session, tmp_path: Path
) -> None:
    client = _client(boto_session, "sso")
    cache = JSONFileCache(str(tmp_path))
    fetcher = SSOCredentialFetcher(
        "https://d-1.awsapps.com/start",
        "us-east-1",
        "Admin",
        "123456789012",
        client_creator=lambda *a, **k: client,
        token_loader=lambda start_url: {"accessToken": "at", "expiresAt": "2999-01-01T00:00:00Z"},
        cache=cache,
    )
    expiration_ms = 32503680000123  # 3000-01-01T00:00:00.123Z: botocore drops the fraction
    with Stubber(client) as stub:
        stub.add_response(
            "get_role_credentials",
            {
                "roleCredentials": {
                    "accessKeyId": "ASIAEXAMPLE",
                    "secretAccessKey": SECRETS[0],
                    "sessionToken": SECRETS[1],
                    "expiration": expiration_ms,
                }
            },
            {"roleName": "Admin", "accountId": "123456789012", "accessToken": "at"},
        )
        fetcher.fetch_credentials()
    name = role_credentials_cache_key(
        account_id="123456789012", role_name="Admin", start_url="https://d-1.awsapps.com/start"
    )
    text = (tmp_path / name).read_text()
    expected = _role(expiration=datetime(3000, 1, 1, tzinfo=UTC))
    assert load_role_credentials(text) == expected
    assert dump_role_credentials(expected) == text


def test_botocore_reads_our_role_credentials(tmp_path: Path) -> None:
    credentials = _role()
    name = role_credentials_cache_key(account_id="123456789012", role_name="Admin", session_name="s")
    (tmp_path / name).write_text(dump_role_credentials(credentials))
    fetcher = SSOCredentialFetcher(
        "https://d-1.awsapps.com/start",
        "us-east-1",
        "Admin",
        "123456789012",
        client_creator=None,
        cache=JSONFileCache(str(tmp_path)),
        sso_session_name="s",
    )
    got = fetcher.fetch_credentials()  # from the cache: no client is ever created
    assert got["access_key"] == "ASIAEXAMPLE"
    assert (got["secret_key"], got["token"]) == (SECRETS[0], SECRETS[1])
    assert got["account_id"] == "123456789012"
    assert dateutil.parser.parse(got["expiry_time"]) == credentials.expiration


class _FakeProcess:
    def __init__(self, stdout: bytes) -> None:
        self.stdout = stdout
        self.returncode = 0

    def communicate(self) -> tuple[bytes, bytes]:
        return self.stdout, b""


@pytest.mark.parametrize("account_id", ["123456789012", None])
def test_credential_process_output_is_read_by_botocore(account_id: str | None) -> None:
    credentials = _role(account_id=account_id)
    output = credential_process_json(credentials)
    assert json.loads(output)["Version"] == 1
    assert "Expiration" in json.loads(output)
    provider = ProcessProvider(
        "p",
        load_config=lambda: {"profiles": {"p": {"credential_process": "ssooidc credentials"}}},
        popen=lambda *a, **k: _FakeProcess(output.encode()),
    )
    loaded = provider.load()
    frozen = loaded.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "ASIAEXAMPLE",
        SECRETS[0],
        SECRETS[1],
    )
    assert frozen.account_id == account_id
    assert loaded._expiry_time == credentials.expiration


# --- tolerant time reading ----------------------------------------------------------------------

GOOD_TIMES = [
    ("2024-01-02T03:04:05Z", T0),
    ("2024-01-02T03:04:05+00:00", T0),
    ("2024-01-02T03:04:05-00:00", T0),
    ("2024-01-02T05:04:05+02:00", T0),
    ("2024-01-01T22:34:05-04:30", T0),
    ("2024-01-02T08:34:05+0530", T0),
    ("2024-01-02T03:04:05.5Z", T0.replace(microsecond=500000)),
    ("2024-01-02T03:04:05.123456789Z", T0.replace(microsecond=123456)),
    ("2024-01-02T03:04:05,25Z", T0.replace(microsecond=250000)),
    ("2024-01-02t03:04:05z", T0),
    ("2024-01-02 03:04:05Z", T0),
    ("2024-01-02T03:04:05UTC", T0),  # what older AWS CLI versions wrote (%Z)
    ("2024-01-02T03:04:05utc", T0),
]


@pytest.mark.parametrize(("text", "expected"), GOOD_TIMES)
def test_tolerant_times(text: str, expected: datetime) -> None:
    parsed = _parse_time(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.tzinfo is UTC
    if not text.endswith("utc"):  # botocore's reader (dateutil) agrees, except on a lower-case "utc"
        assert dateutil.parser.parse(text.replace(",", ".")) == expected
    token = load_token(json.dumps({"accessToken": "a", "expiresAt": text, "registrationExpiresAt": text}))
    assert token.expires_at == token.registration_expires_at == expected


BAD_TIMES = [
    "2024-01-02T03:04:05",  # no time zone: botocore could not compare it with "now"
    "2024-01-02",
    "2024-13-02T03:04:05Z",
    "2024-02-30T03:04:05Z",
    "2024-01-02T24:04:05Z",
    "2024-01-02T03:04:60Z",
    "2024-01-02T03:04:05+24:00",
    "2024-01-02T03:04:05+99:99",
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    "２０２４-01-02T03:04:05Z",  # non-ASCII digits
    "2024-01-02T03:04:05Z ",
    "yesterday",
    "",
]


@pytest.mark.parametrize("text", BAD_TIMES)
def test_bad_times(text: str) -> None:
    assert _parse_time(text) is None
    with pytest.raises(CacheFileError, match=r"expiresAt .* is not an RFC 3339 time"):
        load_token(json.dumps({"accessToken": "a", "expiresAt": text}))


# --- unusable files -------------------------------------------------------------------------------

UNUSABLE_TOKENS = [
    ("", "it is empty"),
    ("  \n", "it is empty"),
    ("{", "it is not JSON"),
    ("\ufeff{}", "it is not JSON"),
    ("[" * 100_000, "it is not JSON (nested too deeply"),
    ('{"accessToken": ' + "1" * 5000 + "}", "it is not JSON"),
    ("[]", "the file must be a JSON object, not an array"),
    ("null", "the file must be a JSON object, not null"),
    ('"x"', "the file must be a JSON object, not a string"),
    ("true", "not a boolean"),
    ("1.5", "not a number"),
    ("{}", "accessToken is missing"),
    ('{"expiresAt": "2024-01-02T03:04:05Z"}', "accessToken is missing"),
    ('{"accessToken": null, "expiresAt": "2024-01-02T03:04:05Z"}', "accessToken is missing"),
    ('{"accessToken": "a"}', "expiresAt is missing"),
    ('{"accessToken": 1, "expiresAt": "2024-01-02T03:04:05Z"}', "accessToken must be a string, not a number"),
    ('{"accessToken": "a", "expiresAt": 1700000000}', "expiresAt a number is not an RFC 3339 time"),
    ('{"accessToken": "a", "expiresAt": "soon"}', "expiresAt 'soon' is not"),
    (
        '{"accessToken": "a", "expiresAt": "2024-01-02T03:04:05Z", "clientId": {}}',
        "clientId must be a string",
    ),
    (
        '{"accessToken": "a", "expiresAt": "2024-01-02T03:04:05Z", "registrationExpiresAt": "x"}',
        "registrationExpiresAt 'x' is not",
    ),
]


@pytest.mark.parametrize(("text", "reason"), UNUSABLE_TOKENS)
def test_unusable_token_files(text: str, reason: str) -> None:
    with pytest.raises(CacheFileError) as info:
        load_token(text, source="~/.aws/sso/cache/abc.json")
    message = str(info.value)
    assert reason in message
    assert message.startswith("The token cache file ~/.aws/sso/cache/abc.json is unusable: ")
    assert "log in again" in message
    assert info.value.kind == "token"
    assert reason in info.value.reason
    assert isinstance(info.value, SSOOIDCError)


def test_unknown_keys_and_nulls_are_ignored() -> None:
    text = json.dumps(
        {
            "accessToken": "a",
            "expiresAt": "2024-01-02T03:04:05Z",
            "receivedAt": "2024-01-02T03:04:05UTC",
            "somethingNew": [1, {"x": None}],
            "refreshToken": None,
        }
    )
    assert load_token(text) == CachedToken(access_token="a", expires_at=T0)


UNUSABLE_OTHERS = [
    (load_registration, "{}", "registration", "clientId is missing"),
    (load_registration, '{"clientId": "c", "clientSecret": "s"}', "registration", "expiresAt is missing"),
    (
        load_registration,
        '{"clientId": "c", "clientSecret": "s", "expiresAt": "2024-01-02T03:04:05Z", "scopes": "a"}',
        "registration",
        "scopes must be an array of strings",
    ),
    (
        load_registration,
        '{"clientId": "c", "clientSecret": "s", "expiresAt": "2024-01-02T03:04:05Z", "grantTypes": [1]}',
        "registration",
        "grantTypes must be an array of strings",
    ),
    (load_role_credentials, "{}", "role credentials", "Credentials is missing"),
    (load_role_credentials, '{"Credentials": []}', "role credentials", "Credentials must be a JSON object"),
    (
        load_role_credentials,
        '{"ProviderType": "sso", "Credentials": {"AccessKeyId": "a"}}',
        "role credentials",
        "SecretAccessKey is missing",
    ),
]


@pytest.mark.parametrize(("load", "text", "kind", "reason"), UNUSABLE_OTHERS)
def test_unusable_other_files(load: Any, text: str, kind: str, reason: str) -> None:
    with pytest.raises(CacheFileError, match=f"^The {kind} cache file is unusable: {reason}.*; delete it"):
        load(text)


def test_role_credentials_from_assume_role_style_file() -> None:
    # botocore's assume-role fetchers write isoformat() times and other keys; still readable.
    text = json.dumps(
        {
            "Credentials": {
                "AccessKeyId": "a",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": "2024-01-02T03:04:05+00:00",
            },
            "AssumedRoleUser": {"Arn": "arn"},
        }
    )
    assert load_role_credentials(text) == CachedRoleCredentials(
        access_key_id="a", secret_access_key="s", session_token="t", expiration=T0
    )


def test_text_must_be_str() -> None:
    with pytest.raises(ParameterTypeError, match="must be a str"):
        load_token(b"{}")  # type: ignore[arg-type]


@given(st.text())
def test_fuzz_text(text: str) -> None:
    try:
        result = load_token(text)
    except CacheFileError:
        return
    assert isinstance(result, CachedToken)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
token_keys = st.sampled_from(
    ["startUrl", "region", "accessToken", "expiresAt", "clientId", "clientSecret", "registrationExpiresAt"]
)
time_like = st.sampled_from([t for t, _ in GOOD_TIMES] + BAD_TIMES)


@given(st.dictionaries(token_keys, json_values | time_like, max_size=7))
def test_fuzz_documents(document: dict[str, Any]) -> None:
    for load in (load_token, load_registration, load_role_credentials):
        text = json.dumps({"Credentials": document} if load is load_role_credentials else document)
        with contextlib.suppress(CacheFileError):
            load(text)


@given(
    st.dictionaries(
        st.sampled_from(["expiresAt", "clientId", "startUrl", "registrationExpiresAt", "scopes"]),
        json_values,
        max_size=4,
    ),
    st.sampled_from([None, 7, [], {}, True]),
)
def test_secrets_never_in_messages(broken: dict[str, Any], bad_secret: Any) -> None:
    document = {"accessToken": SECRETS[0], "clientSecret": SECRETS[1], "refreshToken": SECRETS[2], **broken}
    for key in ("accessToken", "clientSecret", "refreshToken", None):
        candidate = dict(document)
        if key is not None:
            candidate[key] = bad_secret
        text = json.dumps(candidate)
        for load in (load_token, load_registration):
            try:
                value = load(text)
            except CacheFileError as exc:
                message = f"{exc} {exc.reason!r} {exc!r}"
                assert not any(secret in message for secret in SECRETS)
            else:
                assert not any(secret in repr(value) for secret in SECRETS)


# --- config parsing, with botocore.configloader as the oracle -----------------------------------

CONFIGS = {
    "sso-session": """
[default]
region = us-west-2

[profile dev]
sso_session = my-sso
sso_account_id = 111122223333
sso_role_name = Admin

[sso-session my-sso]
sso_start_url = https://d-1.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
""",
    "comments-case-delimiters": """
# a comment
; another
[profile Dev]
SSO_Start_URL = https://x/start # not a comment: botocore keeps it
Sso_Region: eu-west-1
empty =
    ; indented comment line
[sso-session MixedCase]
sso_region=us-east-1
""",
    "continuation-and-nested": """
[profile p]
long = first
  second
  third
s3 =
  addressing_style = path
  signature_version = s3v4
services = local

[services local]
sso_oidc =
  endpoint_url = http://127.0.0.1:9000
sso =
  endpoint_url = http://127.0.0.1:9001
  key = a = b
""",
    "profile-default-order-1": "[default]\na = 1\n[profile default]\na = 2\n",
    "profile-default-order-2": "[profile default]\na = 2\n[default]\na = 1\n",
    "DEFAULT-inherited": "[DEFAULT]\nregion = eu-north-1\n[profile a]\nx = 1\n[sso-session s]\ny = 2\n",
    "quoted-and-odd-names": """
[profile "with space"]
a = 1
[profile a b]
ignored = 1
[profile]
ignored = 1
[profilex y]
weird = botocore maps it
[profile "unclosed]
ignored = 1
[services]
ignored = 1
[plugins]
cli_legacy_plugin_path = /x
[Default]
not = a profile
""",
    "non-ascii": "[profile dév]\nsso_session = séssion\n[sso-session séssion]\nsso_start_url = https://ü/start\n",
    "blank-lines-in-values": "[profile p]\nv = a\n\n  b\n\n[profile q]\nw = 1\n",
    "empty": "",
}


def _botocore_load(tmp_path: Path, text: str) -> dict[str, Any]:
    path = tmp_path / "config"
    path.write_text(text, encoding="utf-8")
    loaded: dict[str, Any] = load_config(str(path))
    return loaded


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_parse_config_matches_botocore(name: str, tmp_path: Path) -> None:
    expected = _botocore_load(tmp_path, CONFIGS[name])
    ours = parse_config(CONFIGS[name])
    assert dict(ours.profiles) == expected["profiles"]
    assert dict(ours.sso_sessions) == expected["sso_sessions"]
    assert dict(ours.service_sections) == expected["services"]


def test_config_accessors_return_copies() -> None:
    config = parse_config(CONFIGS["continuation-and-nested"])
    services = config.services("local")
    assert services["sso_oidc"] == {"endpoint_url": "http://127.0.0.1:9000"}
    nested = services["sso_oidc"]
    assert isinstance(nested, dict)
    nested["endpoint_url"] = "changed"
    services["new"] = "x"
    assert config.services("local")["sso_oidc"] == {"endpoint_url": "http://127.0.0.1:9000"}
    assert "new" not in config.services("local")
    assert config.profile("p")["s3"] == {"addressing_style": "path", "signature_version": "s3v4"}


def test_config_repr_shows_only_names() -> None:
    config = parse_config("[default]\naws_secret_access_key = SECRET-key\n[sso-session s]\n[services x]\n")
    assert repr(config) == "AwsConfig(profiles=['default'], sso_sessions=['s'], service_sections=['x'])"


@pytest.mark.parametrize(
    ("kind", "call"),
    [
        ("profile", AwsConfig.profile),
        ("sso-session", AwsConfig.sso_session),
        ("services", AwsConfig.services),
    ],
)
def test_config_accessors_missing(kind: str, call: Any) -> None:
    config = parse_config("[profile a]\n[profile b]\n")
    with pytest.raises(ConfigError, match=f'no {kind} "nope"') as info:
        call(config, "nope")
    assert f"[{kind} nope]" in str(info.value)
    assert ("known: a, b" if kind == "profile" else "known: none") in str(info.value)


CONFIG_ERRORS = [
    ("x = 1\n[default]\n", "line 1 comes before any [section] header"),
    ("[default]\na = 1\nSECRET-pasted-token\n", "line(s) 3 are not 'key = value' settings"),
    ("[default]\n[default]\n", "section [default] appears twice (line 2)"),
    ("[default]\na = 1\nA = 2\n", "key 'a' appears twice in [default] (line 3)"),
    ("[services s]\nsso_oidc =\n  endpoint_url\n", "the block under 'sso_oidc' in [services s] has a line"),
]


@pytest.mark.parametrize(("text", "reason"), CONFIG_ERRORS)
def test_config_errors(text: str, reason: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigParseError):
        _botocore_load(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="~/.aws/config")
    message = str(info.value)
    assert message.startswith("The config file ~/.aws/config cannot be parsed: ")
    assert reason in message
    assert "SECRET" not in message


def test_config_error_without_source() -> None:
    with pytest.raises(ConfigError, match=r"^The config file cannot be parsed"):
        parse_config("[a]\n[a]\n")


def test_describe_other_parse_errors() -> None:
    assert _describe_parse_error(configparser.Error("x")) == "Error"


# --- SSO settings -----------------------------------------------------------------------------------

SETTINGS_CONFIG = """
[default]
sso_session = my-sso
sso_account_id = 111122223333
sso_role_name = Admin

[profile legacy]
sso_start_url = https://legacy.awsapps.com/start
sso_region = eu-west-1
sso_account_id = 444455556666
sso_role_name = ReadOnly
sso_registration_scopes = ignored:for:legacy
sso_login_method = device

[profile same]
sso_session = my-sso
sso_region = us-east-1
sso_account_id = 1
sso_role_name = R

[profile role-in-session]
sso_session = roles

[profile no-scopes]
sso_session = plain

[profile empty-scopes]
sso_session = empty-scopes

[sso-session my-sso]
sso_start_url = https://d-1.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes =  sso:account:access ,, codewhisperer:completions ,
sso_login_method = pkce

[sso-session roles]
sso_start_url = https://d-2.awsapps.com/start
sso_region = us-west-2
sso_account_id = 999
sso_role_name = FromSession

[sso-session plain]
sso_start_url = https://d-3.awsapps.com/start
sso_region = ap-south-1

[sso-session empty-scopes]
sso_start_url = https://d-3.awsapps.com/start
sso_region = ap-south-1
sso_registration_scopes =
"""

SETTINGS = [
    (
        {},
        SsoSettings(
            session_name="my-sso",
            start_url="https://d-1.awsapps.com/start",
            region="us-east-1",
            registration_scopes=("sso:account:access", "codewhisperer:completions"),
            account_id="111122223333",
            role_name="Admin",
            login_method="pkce",
        ),
    ),
    (
        {"profile": "legacy"},
        SsoSettings(
            start_url="https://legacy.awsapps.com/start",
            region="eu-west-1",
            account_id="444455556666",
            role_name="ReadOnly",
            login_method="device",
        ),
    ),
    (
        {"profile": "same"},
        SsoSettings(
            session_name="my-sso",
            start_url="https://d-1.awsapps.com/start",
            region="us-east-1",
            registration_scopes=("sso:account:access", "codewhisperer:completions"),
            account_id="1",
            role_name="R",
            login_method="pkce",
        ),
    ),
    (
        {"profile": "role-in-session"},
        SsoSettings(
            session_name="roles",
            start_url="https://d-2.awsapps.com/start",
            region="us-west-2",
            account_id="999",
            role_name="FromSession",
        ),
    ),
    (
        {"profile": "no-scopes"},
        SsoSettings(session_name="plain", start_url="https://d-3.awsapps.com/start", region="ap-south-1"),
    ),
    (
        {"profile": "empty-scopes"},
        SsoSettings(
            session_name="empty-scopes",
            start_url="https://d-3.awsapps.com/start",
            region="ap-south-1",
            registration_scopes=(),
        ),
    ),
    (
        {"sso_session": "plain", "profile": "legacy"},  # --sso-session wins, as in aws sso login
        SsoSettings(session_name="plain", start_url="https://d-3.awsapps.com/start", region="ap-south-1"),
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), SETTINGS)
def test_resolve_sso_settings(kwargs: dict[str, str], expected: SsoSettings, tmp_path: Path) -> None:
    config = parse_config(SETTINGS_CONFIG)
    settings = resolve_sso_settings(config, **kwargs)
    assert settings == expected
    assert settings.legacy is (expected.session_name is None)
    if "sso_session" not in kwargs and "sso_account_id" in config.profile(kwargs.get("profile", "default")):
        # botocore's SSO credential provider resolves the same start URL and region.
        loaded = _botocore_load(tmp_path, SETTINGS_CONFIG)
        provider = SSOProvider(lambda: loaded, None, kwargs.get("profile", "default"), token_cache={})
        boto = provider._load_sso_config()
        assert (boto["sso_start_url"], boto["sso_region"]) == (settings.start_url, settings.region)
        assert boto.get("sso_session") == settings.session_name


SETTINGS_ERRORS = [
    ("[profile a]\n", {"profile": "b"}, 'The config file has no profile "b" (known: a); add a [profile b]'),
    ("", {}, 'no profile "default" (known: none); add a [default] section'),
    ("[default]\nregion = us-east-1\n", {}, 'Profile "default" has no SSO settings; add sso_session = NAME'),
    (
        "[default]\nsso_session = gone\nsso_account_id = 1\nsso_role_name = r\n[sso-session other]\n",
        {},
        'Profile "default" has sso_session = gone but the config file has no [sso-session gone] section',
    ),
    (
        "[default]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n"
        "[sso-session s]\nsso_region = x\n",
        {},
        "[sso-session s] is missing sso_start_url; add them to that section",
    ),
    (
        "[default]\nsso_session = s\nsso_start_url = https://p\nsso_region = r\n[sso-session s]\nx = 1\n",
        {},
        "[sso-session s] is missing sso_start_url and sso_region",
    ),
    (
        "[profile l]\nsso_start_url = https://x\nsso_account_id = 1\nsso_role_name = r\n",
        {"profile": "l"},
        'Profile "l" is missing sso_region; add them to [profile l]',
    ),
    (
        "[default]\nsso_session = s\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = r\n"
        "[sso-session s]\nsso_start_url = https://x\nsso_region = us-east-1\n",
        {},
        'The value of sso_region differs between Profile "default" and [sso-session s] '
        "('eu-west-1' vs 'us-east-1')",
    ),
    (
        "[default]\nsso_session = s\nsso_account_id = 1\nsso_role_name = r\n"
        "aws_secret_access_key = SECRET-A\n"
        "[sso-session s]\nsso_start_url = https://x\nsso_region = us-east-1\n"
        "aws_secret_access_key = SECRET-B\n",
        {},
        'The value of aws_secret_access_key differs between Profile "default" and [sso-session s]; remove',
    ),
    ("[default]\nsso_session =\n", {}, 'Profile "default" has an empty sso_session'),
    (
        "[default]\nsso_start_url =\n  a = b\nsso_region = r\n",
        {},
        'Profile "default" has sso_start_url as an indented block',
    ),
    (
        "[sso-session s]\nsso_start_url = https://x\n",
        {"sso_session": "s"},
        "[sso-session s] is missing sso_region",
    ),
    (
        "[sso-session s]\n",
        {"sso_session": "t"},
        'no sso-session "t" (known: s); add a [sso-session t] section',
    ),
]


@pytest.mark.parametrize(("text", "kwargs", "message"), SETTINGS_ERRORS)
def test_resolve_sso_settings_errors(text: str, kwargs: dict[str, str], message: str, tmp_path: Path) -> None:
    config = parse_config(text)
    with pytest.raises(ConfigError) as info:
        resolve_sso_settings(config, **kwargs)
    assert message in str(info.value)
    assert "SECRET" not in str(info.value)
    if "sso_account_id" in text and "sso_session" not in kwargs and "sso_start_url = https://p" not in text:
        # Where botocore's SSO credential provider has an opinion, it also refuses the profile.
        loaded = _botocore_load(tmp_path, text)
        provider = SSOProvider(lambda: loaded, None, kwargs.get("profile", "default"), token_cache={})
        with pytest.raises(InvalidConfigError):
            provider._load_sso_config()


def test_session_without_start_url_is_refused_like_botocore_token_provider(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """botocore's credential provider would merge sso_start_url from the profile, but its token provider
    (which a session profile needs) requires both keys in the [sso-session]; so do we."""
    text = "[default]\nsso_session = s\nsso_start_url = https://p\nsso_region = r\n[sso-session s]\nx = 1\n"
    path = tmp_path / "config"
    path.write_text(text)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    provider = SSOTokenProvider(botocore.session.Session(), cache={}, profile_name="default")
    with pytest.raises(InvalidConfigError, match="missing"):
        provider._load_sso_config()
    with pytest.raises(ConfigError, match="missing sso_start_url and sso_region"):
        resolve_sso_settings(parse_config(text))
