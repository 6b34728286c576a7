"""What a CLI command works on: the environment and files (:class:`Context`) and the login it names
(:class:`Target`: settings, cache keys, endpoints, and the ``ssooidc login`` command that renews it).

Config semantics come from the core (``parse_config``, ``resolve_sso_settings``, ``resolve_endpoint``);
this module reads the files and the environment and puts the pieces together. ``_cli_fast`` mirrors the
part of it that ``ssooidc token`` needs for a fresh token (tests/test_cli_startup.py compares them).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

import sansio_ssooidc as oidc

from ._cli_fast import config_path
from .cache import Store

__all__ = ["CliError", "Context", "LoginNeeded", "Target", "resolve_target"]


class CliError(oidc.SSOOIDCError):
    """A command failed; the message names the cause and the fix. ``exit_code`` 1 (a failure)."""

    exit_code = 1


class LoginNeeded(CliError):
    """A command needs a new login; the message says for what, why, and the command to run."""

    def __init__(self, target: Target, why: str) -> None:
        self.target = target
        self.why = why
        super().__init__(f"login required for {target.label}: {why}; run: {target.login_command}")


@dataclasses.dataclass
class Context:
    """The world a command sees: environment, standard streams, clock. Tests and ``demo`` build
    their own; ``main`` uses the process's."""

    environ: Mapping[str, str] = dataclasses.field(default_factory=lambda: os.environ)
    stdout: TextIO = dataclasses.field(default_factory=lambda: sys.stdout)
    stderr: TextIO = dataclasses.field(default_factory=lambda: sys.stderr)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    _config: oidc.AwsConfig | None = None

    @property
    def home(self) -> str:
        return self.environ.get("HOME") or os.path.expanduser("~")

    @property
    def config_path(self) -> str:
        """``AWS_CONFIG_FILE`` (``$VAR``/``${VAR}`` from ``environ``, then ``~``/``~user`` expanded, as
        botocore expands it) or ``~/.aws/config``; the fast path uses the same function."""
        return config_path(self.environ, self.home)

    @property
    def store(self) -> Store:
        return Store(self.home)

    def config(self) -> oidc.AwsConfig:
        """The parsed config file; :class:`~sansio_ssooidc.ConfigError` if it is missing or malformed."""
        if self._config is None:
            path = self.config_path
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except FileNotFoundError:
                raise oidc.ConfigError(
                    f"The config file {path} does not exist; create it with an [sso-session NAME] section "
                    "(sso_start_url, sso_region) and a profile using it (or run aws configure sso), "
                    "or pass --start-url and --region."
                ) from None
            except IsADirectoryError:
                fix = (
                    "point AWS_CONFIG_FILE at the config file itself, not a directory"
                    if self.environ.get("AWS_CONFIG_FILE")
                    else "move it aside and create the config file there (or run aws configure sso)"
                )
                raise oidc.ConfigError(f"The config file {path} is a directory; {fix}.") from None
            except PermissionError as exc:
                raise oidc.ConfigError(
                    f"The config file {path} cannot be read ({exc.strerror}); fix its permissions."
                ) from None
            except UnicodeDecodeError as exc:
                raise oidc.ConfigError(
                    f"The config file {path} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                    "save it as UTF-8."
                ) from None
            except OSError as exc:
                raise oidc.ConfigError(
                    f"The config file {path} cannot be read ({exc.strerror or exc}); "
                    "check the path and that it is a readable file."
                ) from None
            self._config = oidc.parse_config(text, source=path)
        return self._config

    def profile_name(self, explicit: str | None) -> str:
        """The profile in use: ``--profile``, else ``AWS_PROFILE``, else ``default`` (as the AWS CLI)."""
        return explicit or self.environ.get("AWS_PROFILE") or "default"


@dataclasses.dataclass(frozen=True)
class Target:
    """A login: its settings, its cache files and endpoints, and how to name it to a person."""

    settings: oidc.SsoSettings
    label: str
    login_command: str
    token_key: str
    registration_key: str
    oidc_endpoint: str
    portal_endpoint: str
    profile: str | None = None

    @property
    def legacy(self) -> bool:
        return self.settings.legacy


def _quote(value: str) -> str:
    return shlex.quote(value)


def configured_endpoint(config: oidc.AwsConfig | None, profile: str, key: str) -> str | None:
    """The config file's endpoint for service ``key`` (botocore's order, after the environment):
    ``endpoint_url`` under ``key`` in the ``[services X]`` section the profile names, else the
    profile's own ``endpoint_url``."""
    if config is None:
        return None
    section = config.profiles.get(profile, {})
    services = section.get("services")
    if isinstance(services, str):
        block = config.service_sections.get(services, {}).get(key)
        if isinstance(block, dict) and block.get("endpoint_url"):
            return block["endpoint_url"]
    fallback = section.get("endpoint_url")
    return fallback if isinstance(fallback, str) and fallback else None


def endpoint_variant(
    config: oidc.AwsConfig | None, profile: str, environ: Mapping[str, str], key: str
) -> bool:
    """botocore's ``use_fips_endpoint`` / ``use_dualstack_endpoint``: ``AWS_USE_FIPS_ENDPOINT`` /
    ``AWS_USE_DUALSTACK_ENDPOINT`` if set (even empty), else the profile's setting; true only when
    it reads ``true`` in any case (botocore's ``ensure_boolean``)."""
    value = environ.get(f"AWS_{key.upper()}")
    if value is None and config is not None:
        found = config.profiles.get(profile, {}).get(key)
        value = found if isinstance(found, str) else None
    return value is not None and value.lower() == "true"


def resolve_endpoints(
    ctx: Context, config: oidc.AwsConfig | None, profile: str, region: str | None, endpoint_url: str | None
) -> tuple[str, str]:
    """The sso-oidc and portal base URLs for ``region`` as botocore resolves them for ``profile``:
    ``--endpoint-url``, then the environment and config overrides, then the partition's rules with
    FIPS and dual-stack as configured (a custom endpoint with either is an error, as in botocore)."""
    flags = {
        "fips": endpoint_variant(config, profile, ctx.environ, "use_fips_endpoint"),
        "dualstack": endpoint_variant(config, profile, ctx.environ, "use_dualstack_endpoint"),
    }
    oidc_endpoint, portal_endpoint = (
        oidc.resolve_endpoint(
            region,
            service=service,
            endpoint_url=endpoint_url,
            environ=ctx.environ,
            config_endpoint_url=configured_endpoint(config, profile, key),
            **flags,
        )
        for service, key in (("sso-oidc", "sso_oidc"), ("sso", "sso"))
    )
    return oidc_endpoint, portal_endpoint


def _from_config(
    ctx: Context, config: oidc.AwsConfig, profile: str | None, sso_session: str | None
) -> tuple[oidc.SsoSettings, str, str, str | None]:
    """Settings, label, login command and the profile used, for ``--sso-session`` or a profile."""
    if sso_session is not None:
        settings = oidc.resolve_sso_settings(config, sso_session=sso_session)
        return (
            settings,
            f'sso-session "{sso_session}"',
            f"ssooidc login --sso-session {_quote(sso_session)}",
            None,
        )
    used = ctx.profile_name(profile)
    settings = oidc.resolve_sso_settings(config, profile=used)
    if settings.session_name is not None:
        label = f'sso-session "{settings.session_name}" (profile "{used}")'
    else:
        label = f'legacy profile "{used}"'
    return settings, label, "ssooidc login" + (f" --profile {_quote(used)}" if profile else ""), used


def resolve_target(
    ctx: Context,
    *,
    profile: str | None = None,
    sso_session: str | None = None,
    start_url: str | None = None,
    region: str | None = None,
    endpoint_url: str | None = None,
    scopes: tuple[str, ...] | None = None,
) -> Target:
    """The login named by the command line flags (``--profile`` / ``--sso-session`` /
    ``--start-url`` + ``--region``; else ``AWS_PROFILE`` or ``default``)."""
    config: oidc.AwsConfig | None
    if start_url is not None:
        if not region:
            raise oidc.ConfigError(
                "--start-url needs --region (the IAM Identity Center region, e.g. us-east-1)."
            )
        settings = oidc.SsoSettings(start_url=start_url, region=region)
        label = f"start URL {start_url}"
        command = f"ssooidc login --start-url {_quote(start_url)} --region {_quote(region)}"
        try:
            config = ctx.config()
        except oidc.ConfigError:
            config = None  # an ad hoc login needs no config file
        used_profile = None
    else:
        config = ctx.config()
        try:
            settings, label, command, used_profile = _from_config(ctx, config, profile, sso_session)
        except oidc.ConfigError as exc:
            raise oidc.ConfigError(f"{exc} (config file: {ctx.config_path})") from None
    if scopes is not None:
        settings = dataclasses.replace(settings, registration_scopes=scopes)
    services_profile = used_profile or ctx.profile_name(None)
    oidc_endpoint, portal_endpoint = resolve_endpoints(
        ctx, config, services_profile, settings.region, endpoint_url
    )
    return Target(
        settings=settings,
        label=label,
        login_command=command,
        token_key=oidc.token_cache_key(session_name=settings.session_name, start_url=settings.start_url),
        registration_key=oidc.registration_cache_key(
            start_url=settings.start_url,
            region=settings.region,
            scopes=settings.registration_scopes,
            session_name=settings.session_name,
        ),
        oidc_endpoint=oidc_endpoint,
        portal_endpoint=portal_endpoint,
        profile=used_profile,
    )
