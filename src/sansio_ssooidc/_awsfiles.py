"""The AWS CLI's and botocore's files, as pure functions: cache file names, cache JSON, ``~/.aws/config``.

Everything here is byte-compatible with botocore 1.44 and the AWS CLI v2 so that ``aws``, boto3 and
this library share logins (WIRE.md, "The AWS CLI / botocore on-disk formats"):

- cache file names: :func:`token_cache_key` (``botocore.utils.SSOTokenLoader``),
  :func:`registration_cache_key` (the AWS CLI's ``BaseSSOTokenFetcher._registration_cache_key``),
  :func:`role_credentials_cache_key` (``botocore.credentials.SSOCredentialFetcher._create_cache_key``);
- cache contents: ``dump_*`` writes exactly what botocore writes (``json.dumps`` defaults, times as
  ``%Y-%m-%dT%H:%M:%SZ``) and ``load_*`` reads any RFC 3339 time and ignores unknown keys (botocore
  drops them too when it rewrites a token), raising :class:`CacheFileError` for an unusable file
  (a required string such as ``accessToken`` empty is as unusable as a missing one, as in a response);
- config: :func:`parse_config` follows ``botocore.configloader`` (it uses the same ``configparser``)
  and :func:`resolve_sso_settings` the rules of botocore's ``SSOProvider`` and ``aws sso login``.

No I/O: the caller reads and writes the files (with locking and atomic replacement).
"""

from __future__ import annotations

import configparser
import dataclasses
import json
import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, TypeVar

from ._cachefmt import parse_time as _parse_time
from ._cachefmt import sha1_name as _sha1_name
from ._errors import ParameterError, ParameterTypeError, SSOOIDCError
from ._values import Value, member

__all__ = [
    "LOGIN_METHOD_KEY",
    "AwsConfig",
    "CacheFileError",
    "CachedRegistration",
    "CachedRoleCredentials",
    "CachedToken",
    "ConfigError",
    "ConfigSection",
    "ConfigValue",
    "SsoSettings",
    "credential_process_json",
    "dump_registration",
    "dump_role_credentials",
    "dump_token",
    "load_registration",
    "load_role_credentials",
    "load_token",
    "parse_config",
    "registration_cache_key",
    "resolve_sso_settings",
    "role_credentials_cache_key",
    "token_cache_key",
]

_UTC = timezone.utc

#: A config value: a string, or a nested block (``s3 =`` followed by indented ``key = value`` lines).
ConfigValue = str | dict[str, str]
#: One section of the config file, keys lower-cased as ``configparser`` does.
ConfigSection = dict[str, ConfigValue]

#: The config key (ours; the AWS tools ignore it) naming a preferred login method for a session.
LOGIN_METHOD_KEY = "sso_login_method"


class CacheFileError(SSOOIDCError):
    """A cache file cannot be used; ``reason`` says why (never with a secret in it).

    The message names the file when the caller passed ``source`` and says how to recover.
    """

    def __init__(self, reason: str, *, kind: str, source: str | None = None) -> None:
        self.reason = reason
        self.kind = kind
        self.source = source
        name = f"{kind} cache file" + (f" {source}" if source else "")
        fix = _CACHE_FIXES[kind]
        super().__init__(f"The {name} is unusable: {reason}; {fix}")


_CACHE_FIXES = {
    "token": "log in again (ssooidc login or aws sso login) to replace it",
    "registration": "delete it and a new client is registered at the next login",
    "role credentials": "delete it and the credentials are fetched again",
}


class ConfigError(SSOOIDCError):
    """The AWS config file is malformed or its SSO settings are missing or inconsistent.

    The message names the profile or section and says what to change.
    """


# --- cache file names -----------------------------------------------------------------------------


def token_cache_key(*, session_name: str | None = None, start_url: str | None = None) -> str:
    """The token file name in ``~/.aws/sso/cache``: ``sha1(session name)`` for a ``[sso-session]``
    login, else ``sha1(start url)`` for a legacy profile, plus ``.json`` (botocore's SSOTokenLoader)."""
    if session_name is not None:
        return _sha1_name(session_name)
    if start_url is None:
        raise ParameterError("token_cache_key needs session_name=... or start_url=...")
    return _sha1_name(start_url)


def registration_cache_key(
    *, start_url: str, region: str, scopes: Sequence[str] | None, session_name: str | None
) -> str:
    """The client registration file name in ``~/.aws/sso/cache``, as the AWS CLI computes it.

    ``scopes`` is the configured ``sso_registration_scopes`` as parsed (``None`` when the key is absent,
    which hashes differently from an empty list); ``start_url`` is the configured one.
    """
    if isinstance(scopes, str):
        raise ParameterTypeError(f"scopes must be a list of str or None (did you mean [{scopes!r}]?)")
    args = {
        "tool": "botocore",
        "startUrl": start_url,
        "region": region,
        "scopes": None if scopes is None else list(scopes),
        "session_name": session_name,
    }
    return _sha1_name(json.dumps(args, sort_keys=True))


def role_credentials_cache_key(
    *, account_id: str, role_name: str, session_name: str | None = None, start_url: str | None = None
) -> str:
    """The role credentials file name in ``~/.aws/cli/cache`` (botocore's SSOCredentialFetcher):
    keyed by the session name when there is one (a non-empty one, as botocore tests), else the start url."""
    args = {"roleName": role_name, "accountId": account_id}
    if session_name:
        args["sessionName"] = session_name
    elif start_url is None:
        raise ParameterError("role_credentials_cache_key needs session_name=... or start_url=...")
    else:
        args["startUrl"] = start_url
    return _sha1_name(json.dumps(args, sort_keys=True, separators=(",", ":")))


# --- times ------------------------------------------------------------------------------------------


def _format_time(moment: datetime) -> str:
    """``%Y-%m-%dT%H:%M:%SZ`` in UTC, as botocore writes (fractions of a second dropped)."""
    return moment.astimezone(_UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


# --- cached values ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class _TimedValue(Value):
    """A :class:`Value` whose ``kind="any"`` fields are aware datetimes, normalised to UTC."""

    def __post_init__(self) -> None:
        Value.__post_init__(self)
        owner = type(self).__name__
        for name, _wire, kind, _required, _secret, _nonempty, _loc in self._field_specs():
            value = getattr(self, name)
            if kind != "any" or value is None:
                continue
            if not isinstance(value, datetime):
                raise ParameterTypeError(f"{owner}.{name} must be a datetime, not {type(value).__name__}")
            if value.utcoffset() is None:
                raise ParameterError(
                    f"{owner}.{name} must be an aware datetime; pass tzinfo=datetime.timezone.utc"
                )
            try:
                object.__setattr__(self, name, value.astimezone(_UTC))
            except OverflowError:
                raise ParameterError(f"{owner}.{name} is out of range in UTC") from None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CachedToken(_TimedValue):
    """A token file of ``~/.aws/sso/cache``: the access token, and the registration and refresh
    token that renew it (absent for legacy profiles). Times are aware UTC datetimes."""

    start_url: str | None = member("startUrl")
    region: str | None = member("region")
    access_token: str = member("accessToken", required=True, nonempty=True, secret=True)
    expires_at: datetime = member("expiresAt", kind="any", required=True)
    client_id: str | None = member("clientId")
    client_secret: str | None = member("clientSecret", secret=True)
    registration_expires_at: datetime | None = member("registrationExpiresAt", kind="any")
    refresh_token: str | None = member("refreshToken", secret=True)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CachedRegistration(_TimedValue):
    """A client registration file of ``~/.aws/sso/cache`` (the AWS CLI's); ``grant_types`` is set
    for authorization code (PKCE) registrations."""

    client_id: str = member("clientId", required=True, nonempty=True)
    client_secret: str = member("clientSecret", required=True, nonempty=True, secret=True)
    expires_at: datetime = member("expiresAt", kind="any", required=True)
    scopes: tuple[str, ...] | None = member("scopes", kind="strs")
    grant_types: tuple[str, ...] | None = member("grantTypes", kind="strs")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class CachedRoleCredentials(_TimedValue):
    """Role credentials as cached in ``~/.aws/cli/cache`` by botocore's SSO credential provider."""

    access_key_id: str = member("AccessKeyId", required=True, nonempty=True)
    secret_access_key: str = member("SecretAccessKey", required=True, nonempty=True, secret=True)
    session_token: str = member("SessionToken", required=True, nonempty=True, secret=True)
    expiration: datetime = member("Expiration", kind="any", required=True)
    account_id: str | None = member("AccountId")


# --- encoding and decoding ----------------------------------------------------------------------


def _encode(value: Value) -> dict[str, Any]:
    """The wire-named members of ``value`` in field order, ``None`` left out, times formatted."""
    out: dict[str, Any] = {}
    for name, wire, _kind, _required, _secret, _nonempty, _loc in value._field_specs():
        item = getattr(value, name)
        if item is not None:
            out[str(wire)] = _format_time(item) if isinstance(item, datetime) else item
    return out


def _json_type(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a number"


_V = TypeVar("_V", bound=Value)


class _Reader:
    """Reads one cache file's JSON; every problem becomes a :class:`CacheFileError` of that ``kind``.

    Messages quote key names, JSON types and (truncated) times, never other values.
    """

    def __init__(self, kind: str, source: str | None) -> None:
        self.kind = kind
        self.source = source

    def fail(self, reason: str) -> CacheFileError:
        return CacheFileError(reason, kind=self.kind, source=self.source)

    def document(self, text: str) -> dict[str, Any]:
        if not isinstance(text, str):
            raise ParameterTypeError(f"the cache file text must be a str, not {type(text).__name__}")
        if not text.strip():
            raise self.fail("it is empty (perhaps a write was interrupted)")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise self.fail(f"it is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
        except (ValueError, RecursionError):
            raise self.fail("it is not JSON (nested too deeply or a number too long)") from None
        return self.object(data, "the file")

    def object(self, data: object, what: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise self.fail(f"{what} must be a JSON object, not {_json_type(data)}")
        return data

    def value(self, cls: type[_V], obj: dict[str, Any]) -> _V:
        kwargs: dict[str, Any] = {}
        for name, wire, kind, required, _secret, nonempty, _loc in cls._field_specs():
            key = str(wire)
            item = obj.get(key)
            if item is None:  # absent or JSON null
                if required:
                    raise self.fail(f"{key} is missing")
            elif kind == "str":
                if not isinstance(item, str):
                    raise self.fail(f"{key} must be a string, not {_json_type(item)}")
                if nonempty and not item:  # an empty token, client id or key is no credential
                    raise self.fail(f"{key} is empty")
            elif kind == "strs":
                if not isinstance(item, list) or not all(isinstance(s, str) for s in item):
                    raise self.fail(f"{key} must be an array of strings")
            else:
                moment = _parse_time(item) if isinstance(item, str) else None
                if moment is None:
                    shown = repr(item[:40]) if isinstance(item, str) else _json_type(item)
                    raise self.fail(f"{key} {shown} is not an RFC 3339 time with a time zone")
                item = moment
            kwargs[name] = item
        return cls(**kwargs)


def dump_token(token: CachedToken) -> str:
    """The token file text, exactly as botocore and the AWS CLI write it."""
    return json.dumps(_encode(token))


def load_token(text: str, *, source: str | None = None) -> CachedToken:
    """Read a token file; raises :class:`CacheFileError` (naming ``source``) if it is unusable:
    not a JSON object, ``accessToken`` or ``expiresAt`` missing, ``accessToken`` empty, a wrong type
    or an unreadable time."""
    reader = _Reader("token", source)
    return reader.value(CachedToken, reader.document(text))


def dump_registration(registration: CachedRegistration) -> str:
    """The client registration file text, exactly as the AWS CLI writes it."""
    return json.dumps(_encode(registration))


def load_registration(text: str, *, source: str | None = None) -> CachedRegistration:
    """Read a client registration file; raises :class:`CacheFileError` if it is unusable."""
    reader = _Reader("registration", source)
    return reader.value(CachedRegistration, reader.document(text))


def dump_role_credentials(credentials: CachedRoleCredentials) -> str:
    """The role credentials cache file text, exactly as botocore's SSO credential provider writes it."""
    return json.dumps({"ProviderType": "sso", "Credentials": _encode(credentials)})


def load_role_credentials(text: str, *, source: str | None = None) -> CachedRoleCredentials:
    """Read a role credentials cache file; raises :class:`CacheFileError` if it is unusable."""
    reader = _Reader("role credentials", source)
    document = reader.document(text)
    if document.get("Credentials") is None:
        raise reader.fail("Credentials is missing")
    inner = reader.object(document["Credentials"], "Credentials")
    return reader.value(CachedRoleCredentials, inner)


def credential_process_json(credentials: CachedRoleCredentials) -> str:
    """What a ``credential_process`` prints: version 1 of the format botocore's ProcessProvider reads."""
    out = {"Version": 1, **_encode(credentials)}
    return json.dumps(out)


# --- config -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class AwsConfig(Value):
    """A parsed ``~/.aws/config``: profiles (``[default]`` and ``[profile NAME]``), ``[sso-session NAME]``
    and ``[services NAME]`` sections, as botocore's ``load_config`` maps them. Treat as read-only;
    the accessors return copies. The ``repr`` shows section names only (profiles may hold secrets)."""

    profiles: Mapping[str, ConfigSection] = member(kind="any", required=True)
    sso_sessions: Mapping[str, ConfigSection] = member(kind="any", required=True)
    service_sections: Mapping[str, ConfigSection] = member(kind="any", required=True)

    def profile(self, name: str) -> ConfigSection:
        """The settings of profile ``name``; raises :class:`ConfigError` if there is none."""
        return _section(self.profiles, name, "profile")

    def sso_session(self, name: str) -> ConfigSection:
        """The settings of ``[sso-session NAME]``; raises :class:`ConfigError` if there is none."""
        return _section(self.sso_sessions, name, "sso-session")

    def services(self, name: str) -> ConfigSection:
        """The settings of ``[services NAME]``; raises :class:`ConfigError` if there is none."""
        return _section(self.service_sections, name, "services")

    def __repr__(self) -> str:
        return (
            f"AwsConfig(profiles={sorted(self.profiles)!r}, sso_sessions={sorted(self.sso_sessions)!r}, "
            f"service_sections={sorted(self.service_sections)!r})"
        )


def _header(kind: str, name: str) -> str:
    return "[default]" if kind == "profile" and name == "default" else f"[{kind} {name}]"


def _section(sections: Mapping[str, ConfigSection], name: str, kind: str) -> ConfigSection:
    found = sections.get(name)
    if found is None:
        known = ", ".join(sorted(sections)) or "none"
        raise ConfigError(
            f'The config file has no {kind} "{name}" (known: {known}); '
            f"add a {_header(kind, name)} section or use one of the known names."
        )
    return {key: dict(value) if isinstance(value, dict) else value for key, value in found.items()}


def parse_config(text: str, *, source: str | None = None) -> AwsConfig:
    """Parse the text of an AWS config file as ``botocore.configloader.load_config`` does.

    Same ``configparser`` rules (full-line ``#``/``;`` comments, lower-cased keys, ``=`` or ``:``,
    continuation lines, ``[DEFAULT]`` inherited by all sections), nested blocks for indented values,
    and the same section mapping (``[profile default]`` and ``[default]`` both name "default", the later
    one winning). Raises :class:`ConfigError` (naming ``source``) for a malformed file.
    """
    where = f"The config file {source}" if source else "The config file"
    parser = configparser.RawConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error as exc:
        raise ConfigError(f"{where} cannot be parsed: {_describe_parse_error(exc)}.") from None
    profiles: dict[str, ConfigSection] = {}
    sso_sessions: dict[str, ConfigSection] = {}
    services: dict[str, ConfigSection] = {}
    for section in parser.sections():
        values: ConfigSection = {}
        for option in parser.options(section):
            raw = parser.get(section, option)
            values[option] = _nested(raw, where, section, option) if raw.startswith("\n") else raw
        if section.startswith("profile"):
            _add_named(profiles, section, values)
        elif section.startswith("sso-session"):
            _add_named(sso_sessions, section, values)
        elif section.startswith("services"):
            _add_named(services, section, values)
        elif section == "default":
            profiles["default"] = values
    return AwsConfig(profiles=profiles, sso_sessions=sso_sessions, service_sections=services)


def _describe_parse_error(exc: configparser.Error) -> str:
    # The lines themselves are left out: a malformed line may be a pasted secret.
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"line {exc.lineno} comes before any [section] header (start the file with [default])"
    if isinstance(exc, configparser.ParsingError):
        lines = ", ".join(str(lineno) for lineno, _line in exc.errors)
        return f"line(s) {lines} are not 'key = value' settings (indent a line to continue a value)"
    if isinstance(exc, configparser.DuplicateSectionError):
        return f"section [{exc.section}] appears twice (line {exc.lineno})"
    if isinstance(exc, configparser.DuplicateOptionError):
        return f"key {exc.option!r} appears twice in [{exc.section}] (line {exc.lineno})"
    return type(exc).__name__


def _nested(raw: str, where: str, section: str, option: str) -> dict[str, str]:
    """An indented block as botocore's ``_parse_nested`` reads it."""
    parsed: dict[str, str] = {}
    for line in raw.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ConfigError(
                f"{where} cannot be parsed: the block under {option!r} in [{section}] has a line "
                "without '='; write nested settings as indented 'key = value' lines."
            )
        parsed[key.strip()] = value.strip()
    return parsed


def _add_named(into: dict[str, ConfigSection], section: str, values: ConfigSection) -> None:
    """botocore's ``_parse_section``: ``[profile NAME]`` (NAME may be quoted) names NAME; else ignored."""
    try:
        parts = shlex.split(section)
    except ValueError:
        return
    if len(parts) == 2:
        into[parts[1]] = values


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class SsoSettings(Value):
    """What a login needs from the config: the session (``None`` for a legacy profile), start URL and
    region, the registration scopes (``None`` when not configured, as the AWS CLI distinguishes it in
    the registration cache key), the profile's account and role, and the preferred ``login_method``
    (the raw ``sso_login_method`` value, if any)."""

    session_name: str | None = member()
    start_url: str = member(required=True, nonempty=True)
    region: str = member(required=True, nonempty=True)
    registration_scopes: tuple[str, ...] | None = member(kind="strs")
    account_id: str | None = member()
    role_name: str | None = member()
    login_method: str | None = member()

    @property
    def legacy(self) -> bool:
        """True for a profile with ``sso_start_url`` and no ``sso_session``: its token cannot be refreshed."""
        return self.session_name is None


def _text(section: ConfigSection, key: str, where: str, *, empty_ok: bool = False) -> str | None:
    value = section.get(key)
    if isinstance(value, dict):
        raise ConfigError(f"{where} has {key} as an indented block; it must be a single value.")
    if value == "" and not empty_ok:
        raise ConfigError(f"{where} has an empty {key}; give it a value or remove the line.")
    return value


def _scopes(section: ConfigSection, where: str) -> tuple[str, ...] | None:
    """``sso_registration_scopes`` as the AWS CLI's ``parse_sso_registration_scopes`` reads it:
    comma-separated, trimmed, empty items dropped; ``None`` when the key is absent."""
    raw = _text(section, "sso_registration_scopes", where, empty_ok=True)
    if raw is None:
        return None
    return tuple(scope.strip() for scope in raw.split(",") if scope.strip())


def _require(section: ConfigSection, where: str, fix: str) -> tuple[str, str]:
    start_url = _text(section, "sso_start_url", where)
    region = _text(section, "sso_region", where)
    missing = [key for key, value in (("sso_start_url", start_url), ("sso_region", region)) if value is None]
    if start_url is None or region is None:
        raise ConfigError(f"{where} is missing {' and '.join(missing)}; {fix}")
    return start_url, region


_EXAMPLE = "e.g. sso_start_url = https://my-org.awsapps.com/start and sso_region = us-east-1"


def resolve_sso_settings(
    config: AwsConfig, *, profile: str | None = None, sso_session: str | None = None
) -> SsoSettings:
    """The SSO settings of ``sso_session`` (as ``aws sso login --sso-session``) or else of ``profile``
    (default "default"), following botocore's rules; raises :class:`ConfigError` with the fix when the
    profile or session is missing, has no SSO settings, lacks ``sso_start_url``/``sso_region``, or
    when the profile and its session disagree on a key (botocore's InvalidConfigError)."""
    if sso_session is not None:
        session = config.sso_session(sso_session)
        where = f"[sso-session {sso_session}]"
        start_url, region = _require(session, where, f"add them to that section ({_EXAMPLE}).")
        return SsoSettings(
            session_name=sso_session,
            start_url=start_url,
            region=region,
            registration_scopes=_scopes(session, where),
            login_method=_text(session, LOGIN_METHOD_KEY, where),
        )
    name = "default" if profile is None else profile
    settings = config.profile(name)
    where = f'Profile "{name}"'
    session_name = _text(settings, "sso_session", where)
    if session_name is None:
        if not any(key.startswith("sso_") for key in settings):
            raise ConfigError(
                f"{where} has no SSO settings; add sso_session = NAME and an [sso-session NAME] section "
                f"with sso_start_url and sso_region (or run aws configure sso)."
            )
        start_url, region = _require(
            settings, where, f"add them to {_header('profile', name)} ({_EXAMPLE}) or run aws configure sso."
        )
        return SsoSettings(
            start_url=start_url,
            region=region,
            account_id=_text(settings, "sso_account_id", where),
            role_name=_text(settings, "sso_role_name", where),
            login_method=_text(settings, LOGIN_METHOD_KEY, where),
        )
    if session_name not in config.sso_sessions:
        raise ConfigError(
            f"{where} has sso_session = {session_name} but the config file has no "
            f"[sso-session {session_name}] section; add that section or correct the name."
        )
    session = config.sso_session(session_name)
    session_where = f"[sso-session {session_name}]"
    # botocore's SSOProvider._resolve_sso_session_reference; only sso_* values are quoted (others may
    # be secrets).
    for key, value in session.items():
        if settings.get(key, value) != value:
            shown = f" ({settings[key]!r} vs {value!r})" if key.startswith("sso_") else ""
            raise ConfigError(
                f"The value of {key} differs between {where} and {session_where}{shown}; "
                "remove it from the profile or make the two equal."
            )
    start_url, region = _require(session, session_where, f"add them to that section ({_EXAMPLE}).")
    merged = {**settings, **session}
    return SsoSettings(
        session_name=session_name,
        start_url=start_url,
        region=region,
        registration_scopes=_scopes(session, session_where),
        account_id=_text(merged, "sso_account_id", where),
        role_name=_text(merged, "sso_role_name", where),
        login_method=_text(merged, LOGIN_METHOD_KEY, where),
    )
