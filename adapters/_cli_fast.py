"""The fast path of ``ssooidc token``: a fresh cached token, printed before anything heavy is imported.

Tools run ``ssooidc token`` before each AWS call, and nearly always the cached token is fresh. The
full path (``cli.run`` -> ``_cli_token.cmd_token``) parses the command line with argparse, the config
with the core's ``parse_config``/``resolve_sso_settings``, the token with ``load_token`` and asks the
core's ``RefreshFlow`` whether to refresh; that costs more imports than the rest of the work. This
module redoes the same steps with the standard library's lightest modules, but only for the plain
case, and answers only when it is certain to print exactly what the full path would:

- the command line is ``token`` with at most one of ``--profile P`` / ``--sso-session S`` /
  ``--start-url U --region R`` (``--flag=value`` too) and ``--json``, no abbreviations, values
  neither empty nor starting with ``-``;
- no endpoint override anywhere (``AWS_ENDPOINT_URL*`` set, even empty, or ``services`` /
  ``endpoint_url`` in the profile whose ``[services]`` the full path would consult);
- the config file reads and parses (same ``configparser`` rules and section mapping), the profile or
  session exists and no ``sso_*`` value it reads is empty or a nested block, the profile agrees with
  its session, and the region is a valid host label;
- the token file is a regular file of mode 0600 or stricter (no permission warning) and at most
  1 MiB, UTF-8, a JSON object whose members have the types ``load_token`` requires (``accessToken``
  not empty) and whose times parse, for the same start URL; and more than ``ADVISORY_REFRESH``
  seconds remain (the refresh policy's "fresh": no refresh, no warning).

Anything else, including any exception, is "not sure": :func:`token_output` returns ``None`` and the
caller runs the full path, which does everything again and reports problems in its own words.
tests/test_cli_startup.py runs both paths over a table of situations and compares their output.
"""

from __future__ import annotations

import os
import sys
import time

from sansio_ssooidc._cachefmt import sha1_name as _sha1_name  # light: no datetime, no OpenSSL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["ADVISORY_REFRESH", "MAX_FILE_SIZE", "config_path", "fast_main", "token_output"]

#: ``sansio_ssooidc._refresh.ADVISORY_REFRESH``: a token with more than this left is not refreshed.
ADVISORY_REFRESH = 15 * 60
#: ``cache.MAX_FILE_SIZE``: a larger cache file is ignored (with a warning) by the full path.
MAX_FILE_SIZE = 1024 * 1024

#: The valued flags of ``ssooidc token`` handled here (``--endpoint-url`` is not: it overrides).
_FLAGS = {
    "--profile": "profile",
    "--sso-session": "sso_session",
    "--start-url": "start_url",
    "--region": "region",
}
#: The environment variables through which an endpoint override may come (resolve_endpoint).
_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_SSO", "AWS_ENDPOINT_URL")


class _Unsure(Exception):
    """The fast path cannot be sure to answer as the full path does."""


def _args(argv: Sequence[str]) -> dict[str, str] | None:
    """The flags of a plain ``token`` command line, or ``None`` for anything else."""
    if not argv or argv[0] != "token":
        return None
    found: dict[str, str] = {}
    i = 1
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--json":
            if "json" in found:
                return None
            found["json"] = ""
            continue
        name, eq, value = arg.partition("=")
        key = _FLAGS.get(name)
        if key is None or key in found:
            return None
        if not eq:
            if i >= len(argv):
                return None
            value = argv[i]
            i += 1
        if not value or value.startswith("-"):
            return None
        found[key] = value
    if len([key for key in ("profile", "sso_session", "start_url") if key in found]) > 1:
        return None
    if ("region" in found) != ("start_url" in found):
        return None
    return found


# --- config (as parse_config, resolve_sso_settings and Context) -------------------------------------

_Section = dict[str, str | dict[str, str]]


def config_path(environ: Mapping[str, str], home: str) -> str:
    """The config file: ``AWS_CONFIG_FILE`` expanded as botocore's ``raw_config_parse`` expands it
    (``os.path.expandvars``, then ``os.path.expanduser``) but from ``environ``, with ``home`` for
    ``~``; else ``HOME/.aws/config``. ``Context.config_path`` too (one rule for both paths)."""
    configured = environ.get("AWS_CONFIG_FILE")
    if not configured:
        return os.path.join(home, ".aws", "config")
    return _expanduser(_expandvars(configured, environ), home)


def _expandvars(path: str, environ: Mapping[str, str]) -> str:
    """``posixpath.expandvars`` reading ``environ``: ``$name`` and ``${name}`` of a set variable are
    replaced (once: a value is not expanded again), anything else is left as it is."""
    if "$" not in path:
        return path
    import re

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("{") and name.endswith("}"):
            name = name[1:-1]
        return environ.get(name, match.group(0))

    return re.sub(r"\$(\w+|\{[^}]*\})", value, path, flags=re.ASCII)


def _expanduser(path: str, home: str) -> str:
    """``posixpath.expanduser`` with ``home`` for ``~``: ``~`` or ``~/...`` is under ``home``,
    ``~user/...`` under that user's home directory (left as it is for an unknown user)."""
    if not path.startswith("~"):
        return path
    end = path.find("/", 1)
    if end < 0:
        end = len(path)
    if end == 1:
        base = home
    else:
        import pwd

        try:
            base = pwd.getpwnam(path[1:end]).pw_dir
        except (ImportError, KeyError):  # no pwd module (Windows), or no such user
            return path
    return (base.rstrip("/") + path[end:]) or "/"


def _nested(raw: str) -> dict[str, str]:
    """``_awsfiles._nested``; a line without ``=`` is a ConfigError there."""
    parsed: dict[str, str] = {}
    for line in raw.splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise _Unsure
        parsed[key.strip()] = value.strip()
    return parsed


def _parse_config(text: str) -> tuple[dict[str, _Section], dict[str, _Section]]:
    """Profiles and sso-sessions as ``parse_config`` maps them; raises on what it refuses."""
    import configparser
    import shlex

    parser = configparser.RawConfigParser()
    parser.read_string(text)
    profiles: dict[str, _Section] = {}
    sessions: dict[str, _Section] = {}
    for section in parser.sections():
        values: _Section = {}
        for option in parser.options(section):
            raw = parser.get(section, option)
            values[option] = _nested(raw) if raw.startswith("\n") else raw
        into = (
            profiles
            if section.startswith("profile")
            else sessions
            if section.startswith("sso-session")
            else None
        )
        if into is not None:
            try:
                parts = shlex.split(section)
            except ValueError:
                continue
            if len(parts) == 2:
                into[parts[1]] = values
        elif section == "default":
            profiles["default"] = values
        # [services NAME] sections need no parsing beyond the nested blocks: a profile naming one
        # is left to the full path.
    return profiles, sessions


def _plain(section: _Section) -> _Section:
    """``section`` if none of its ``sso_*`` values is empty or a nested block (the full path's
    ``_text`` refuses those), else :class:`_Unsure`."""
    for key, value in section.items():
        if key.startswith("sso_") and (isinstance(value, dict) or not value):
            raise _Unsure
    return section


def _settings(
    profiles: dict[str, _Section], sessions: dict[str, _Section], profile: str | None, sso_session: str | None
) -> tuple[str | None, str, str]:
    """(session name, start URL, region), as ``resolve_sso_settings``."""
    if sso_session is not None:
        session = _plain(sessions[sso_session])
        return sso_session, str(session["sso_start_url"]), str(session["sso_region"])
    settings = _plain(profiles[profile or "default"])
    session_name = settings.get("sso_session")
    if session_name is None:  # a legacy profile
        if not any(key.startswith("sso_") for key in settings):
            raise _Unsure
        return None, str(settings["sso_start_url"]), str(settings["sso_region"])
    assert isinstance(session_name, str)
    session = _plain(sessions[session_name])
    for key, value in session.items():
        if settings.get(key, value) != value:
            raise _Unsure
    return session_name, str(session["sso_start_url"]), str(session["sso_region"])


# --- the token file (as CacheDir.read_text and load_token) --------------------------------------------


def _read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if (info.st_mode & 0o170000) != 0o100000 or info.st_mode & 0o077 or info.st_size > MAX_FILE_SIZE:
            raise _Unsure  # not a regular file, a permission warning, or too large
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8")


def _epoch(text: object) -> tuple[float, str]:
    """(epoch seconds, ``%Y-%m-%dT%H:%M:%SZ`` in UTC) of a cache file time, as ``load_token`` reads it
    and ``cmd_token`` prints it. The form botocore writes is computed here; any other goes through
    the core's own ``parse_time`` (which needs ``datetime``)."""
    import re

    if not isinstance(text, str):
        raise _Unsure
    match = re.fullmatch(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z", text)
    if match is None:
        from sansio_ssooidc._cachefmt import parse_time

        moment = parse_time(text)
        if moment is None:
            raise _Unsure
        return moment.timestamp(), moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    days_in_month = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
    if not (year >= 1970 and 1 <= month <= 12 and 1 <= day <= days_in_month[month - 1]):
        raise _Unsure
    if not (hour <= 23 and minute <= 59 and second <= 59):
        raise _Unsure
    # Days since 1970-01-01 (H. Hinnant's days_from_civil).
    y = year - (month <= 2)
    era, yoe = divmod(y, 400)
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return float(days * 86400 + hour * 3600 + minute * 60 + second), text


# --- the command ------------------------------------------------------------------------------------


def _token_output(argv: Sequence[str], environ: Mapping[str, str], clock: Callable[[], float]) -> str | None:
    args = _args(argv)
    if args is None or any(name in environ for name in _ENDPOINT_VARS):
        return None
    home = environ.get("HOME") or os.path.expanduser("~")
    config_file = config_path(environ, home)
    start_url = args.get("start_url")
    try:
        with open(config_file, encoding="utf-8") as handle:
            text: str | None = handle.read()
    except FileNotFoundError:
        if start_url is None:
            return None
        text = None  # an ad hoc login needs no config file
    import json

    profiles, sessions = _parse_config(text) if text is not None else ({}, {})
    used_profile = None
    if start_url is not None:
        session_name, region = None, args["region"]
    else:
        if "sso_session" not in args:
            used_profile = args.get("profile") or environ.get("AWS_PROFILE") or "default"
        session_name, start_url, region = _settings(profiles, sessions, used_profile, args.get("sso_session"))
    # The profile whose [services] section and endpoint_url the full path consults.
    services_profile = profiles.get(used_profile or environ.get("AWS_PROFILE") or "default", {})
    if "services" in services_profile or "endpoint_url" in services_profile:
        return None
    if not _valid_region(region):
        return None

    key = _sha1_name(session_name if session_name is not None else start_url)
    data = json.loads(_read(os.path.join(home, ".aws", "sso", "cache", key)))
    if not isinstance(data, dict):
        return None
    access_token = data.get("accessToken")
    if not isinstance(access_token, str) or not access_token:
        return None  # load_token refuses it: missing, not a string, or empty
    for name in ("startUrl", "region", "clientId", "clientSecret", "refreshToken"):
        if data.get(name) is not None and not isinstance(data[name], str):
            return None
    if data.get("registrationExpiresAt") is not None:
        _epoch(data["registrationExpiresAt"])
    expires, expires_text = _epoch(data.get("expiresAt"))
    cached_url = data.get("startUrl")
    if cached_url is not None and cached_url.rstrip("/#") != start_url.rstrip("/#"):
        return None
    if not expires - clock() > ADVISORY_REFRESH:
        return None  # due for a refresh (or past it): the full path decides
    if "json" not in args:
        return access_token + "\n"
    out = {
        "accessToken": access_token,
        "expiresAt": expires_text,
        "startUrl": start_url,
        "region": region,
        "ssoSession": session_name,
        "refreshed": False,
    }
    return json.dumps(out) + "\n"


def _valid_region(region: str) -> bool:
    """``_endpoints._REGION_RE`` (botocore's ``validate_region_name``)."""
    import re

    return re.fullmatch(r"(?![0-9]+$)(?!-)[a-zA-Z0-9-]{1,63}(?<!-)", region) is not None


def token_output(
    argv: Sequence[str], environ: Mapping[str, str], clock: Callable[[], float] = time.time
) -> str | None:
    """What ``ssooidc ARGV`` prints on stdout (with nothing on stderr, exit code 0) if this is a
    ``token`` command for a fresh cached token that the fast path can be sure of; else ``None``."""
    try:
        return _token_output(argv, environ, clock)
    except Exception:
        return None


def fast_main(argv: Sequence[str] | None = None) -> int | None:
    """``ssooidc`` for a fresh cached token: print it and return the exit code; ``None`` when the full
    path must run."""
    try:
        out = token_output(sys.argv[1:] if argv is None else argv, os.environ)
        if out is None:
            return None
        # As cli.run reports a failed write of the output.
        try:
            sys.stdout.write(out)
            sys.stdout.flush()
        except BrokenPipeError:
            return 1
        except OSError as exc:
            sys.stderr.write(f"ssooidc: {exc}; check the network connection and the endpoint\n")
            return 1
    except KeyboardInterrupt:
        sys.stderr.write("\nssooidc: interrupted\n")
        return 130
    return 0
