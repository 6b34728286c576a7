"""``ssooidc login``: choose the method, run the core's flow over sockets, write the AWS CLI's cache.

PKCE (the AWS CLI's default) where a browser can open here; the device code where it cannot (no
display, an SSH session, a container), when asked (``--use-device-code``), or when the session's
``sso_login_method = device`` says so. Nothing is written until the login has succeeded: an
interrupted or failed login leaves the cache as it was.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import random
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping

import sansio_ssooidc as oidc

from . import _cli_net
from ._cli_config import CliError, Context, Target
from ._cli_display import Display, is_tty
from ._cli_token import target_from_args

__all__ = ["browser_available", "choose_method", "cmd_login", "open_browser"]

logger = logging.getLogger("sansio_ssooidc.adapters.cli")

DEVICE, PKCE = "device code", "PKCE"
#: Accepted values of the session's ``sso_login_method`` setting.
METHOD_VALUES = {
    "device": DEVICE,
    "device_code": DEVICE,
    "device-code": DEVICE,
    "pkce": PKCE,
    "browser": PKCE,
    "authorization_code": PKCE,
}


def _is_wsl(environ: Mapping[str, str]) -> bool:
    if environ.get("WSL_DISTRO_NAME") or environ.get("WSL_INTEROP"):
        return True
    try:
        with open("/proc/sys/kernel/osrelease", encoding="ascii", errors="replace") as handle:
            return "microsoft" in handle.read().lower()
    except OSError:
        return False


def browser_available(environ: Mapping[str, str]) -> tuple[bool, str]:
    """Whether a browser can open on this machine, and why (for ``--debug``)."""
    if environ.get("BROWSER"):
        return True, "BROWSER is set"
    if environ.get("SSH_CONNECTION") or environ.get("SSH_TTY") or environ.get("SSH_CLIENT"):
        return False, "an SSH session (a browser would open on the other machine)"
    if sys.platform in ("darwin", "win32"):
        return True, sys.platform
    if _is_wsl(environ):
        return True, "WSL (the Windows browser)"
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return True, "a graphical display"
    if environ.get("container") or os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        return False, "a container without a display"
    return False, "no display (DISPLAY and WAYLAND_DISPLAY are unset)"


def choose_method(
    args: argparse.Namespace, settings: oidc.SsoSettings, environ: Mapping[str, str]
) -> tuple[str, str]:
    """The login method and the reason for it."""
    if args.use_device_code:
        return DEVICE, "--use-device-code"
    if settings.login_method is not None:
        method = METHOD_VALUES.get(settings.login_method.strip().lower())
        if method is None:
            raise oidc.ConfigError(
                f"sso_login_method = {settings.login_method} is not a login method; use "
                "sso_login_method = device or sso_login_method = pkce."
            )
        if method == PKCE and settings.legacy:
            raise oidc.ConfigError(
                f"sso_login_method = {settings.login_method} needs an sso-session: a login without one "
                "(a legacy profile, or --start-url) uses the device code, as with the AWS CLI; move "
                "sso_start_url and sso_region into an [sso-session] section (aws configure sso does) "
                "or remove the setting."
            )
        return method, f"sso_login_method = {settings.login_method}"
    if settings.legacy:  # the AWS CLI, too, logs in with PKCE only for an sso-session
        return (
            DEVICE,
            "no sso-session (a legacy profile, or --start-url): the device code, as with the AWS CLI",
        )
    can, why = browser_available(environ)
    if args.no_browser and not can:
        return DEVICE, f"--no-browser and {why}"
    return (PKCE if can else DEVICE), why


def open_browser(url: str, environ: Mapping[str, str]) -> None:
    """Open ``url`` without waiting (a console browser may run until closed); WSL uses Windows'."""
    if not environ.get("BROWSER") and _is_wsl(environ):
        for command in ("wslview", "explorer.exe"):
            path = shutil.which(command, path=environ.get("PATH"))
            if path:
                child = subprocess.Popen(  # noqa: S603 - a fixed program and a URL argument, no shell
                    [path, url],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                threading.Thread(target=child.wait, daemon=True).start()  # reap it when it exits
                return
    import webbrowser

    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()


def _client_name(settings: oidc.SsoSettings) -> str:
    return f"ssooidc-{settings.session_name}" if settings.session_name else "ssooidc"


def _device(
    ctx: Context,
    args: argparse.Namespace,
    target: Target,
    display: Display,
    reg: oidc.CachedRegistration | None,
) -> oidc.LoginResult:
    settings = target.settings
    flow = oidc.DeviceFlow(
        start_url=settings.start_url,
        region=settings.region,
        client_name=_client_name(settings),
        scopes=settings.registration_scopes,
        registration=reg,
        endpoint=target.oidc_endpoint,
        rng=random.SystemRandom(),
    )
    display.interval = lambda: flow.interval
    browse = not args.no_browser and browser_available(ctx.environ)[0]

    def show(action: object) -> None:
        assert isinstance(action, oidc.ShowCode)
        display.show_code(action)
        if browse:
            open_browser(action.verification_uri_complete or action.verification_uri, ctx.environ)

    result: oidc.LoginResult = _cli_net.run(
        flow, environ=ctx.environ, clock=ctx.clock, sleep=display.sleep, show=show, observer=display.observe
    )
    return result


def _pkce(
    ctx: Context,
    args: argparse.Namespace,
    target: Target,
    display: Display,
    reg: oidc.CachedRegistration | None,
) -> oidc.LoginResult:
    from ._driver import RedirectListener

    settings = target.settings
    try:
        listener = RedirectListener(port=args.port or 0)
    except OSError as exc:
        raise CliError(
            f"cannot listen on 127.0.0.1:{args.port or 0} for the browser's redirect ({exc.strerror}); "
            "pass another --port, or use --use-device-code"
        ) from None
    with listener:
        # The AWS CLI registers PKCE clients for sso:account:access unless scopes are configured.
        scopes = settings.registration_scopes
        flow = oidc.AuthCodeFlow(
            start_url=settings.start_url,
            region=settings.region,
            redirect_uri=listener.redirect_uri,
            rng=random.SystemRandom(),
            client_name=_client_name(settings),
            registration=reg,
            endpoint=target.oidc_endpoint,
            scopes=("sso:account:access",) if scopes is None else scopes,
        )

        def show(action: object) -> None:
            assert isinstance(action, oidc.OpenBrowser)
            if not args.no_browser:
                open_browser(action.url, ctx.environ)
            display.browser(
                action.url,
                opened=not args.no_browser,
                redirect_uri=listener.redirect_uri,
                until=flow.deadline,
            )

        result: oidc.LoginResult = _cli_net.run(
            flow, environ=ctx.environ, clock=ctx.clock, sleep=ctx.sleep, show=show, listener=listener
        )
    return result


def _failure(target: Target, exc: BaseException) -> CliError | None:
    """A login error as one message with its cause and fix, or ``None`` to let ``main`` word it."""
    again = f"run: {target.login_command}"
    if isinstance(exc, oidc.AccessDeniedException) or (
        isinstance(exc, oidc.AuthorizationRedirectError) and exc.error == "access_denied"
    ):
        return CliError(f"the login for {target.label} was denied in the browser; to try again, {again}")
    if isinstance(exc, oidc.AuthorizationRedirectError):
        detail = f" ({exc.error_description})" if exc.error_description else ""
        return CliError(f"the browser returned the error {exc.error}{detail}; to try again, {again}")
    if isinstance(exc, (oidc.LoginTimeoutError, oidc.ExpiredTokenException)):
        return CliError(f"the login for {target.label} was not completed in time; {again}")
    if isinstance(exc, oidc.RetriesExhaustedError):
        return CliError(
            f"could not reach IAM Identity Center at {target.oidc_endpoint} ({exc.last_error}); check the "
            "network, sso_region and any endpoint override (--endpoint-url, AWS_ENDPOINT_URL_SSO_OIDC)"
        )
    if isinstance(exc, oidc.InvalidRequestException):
        return CliError(
            f"IAM Identity Center refused the login for {target.label}: {exc.message or exc.code}; "
            f"check sso_start_url ({target.settings.start_url}) and sso_region ({target.settings.region})"
        )
    return None


def cmd_login(ctx: Context, args: argparse.Namespace) -> int:
    """Log in and write the token (and a new registration) to the AWS CLI's cache."""
    target = target_from_args(ctx, args)
    settings = target.settings
    method, why = choose_method(args, settings, ctx.environ)
    logger.debug("login method: %s (%s)", method, why)
    store = ctx.store
    reg = store.load_registration(target.registration_key)
    display = Display(ctx.stderr, tty=is_tty(ctx.stderr, ctx.environ), clock=ctx.clock, sleep=ctx.sleep)
    display.line(f"Logging in to {target.label} at {settings.start_url} with the {method} flow.")
    try:
        run = _device if method == DEVICE else _pkce
        result = run(ctx, args, target, display, reg)
    except KeyboardInterrupt:
        display.line("Login cancelled; nothing was written.")
        raise
    except (oidc.SSOOIDCError, OSError) as exc:
        failure = _failure(target, exc)
        if failure is None:
            raise
        raise failure from None
    finally:
        display.finish()
    if result.registration is not reg:
        with store.sso.lock(target.registration_key):
            store.save_registration(target.registration_key, result.registration)
    token = result.token
    if target.legacy:
        # What the AWS CLI writes for a legacy profile: no client or refresh token (it cannot refresh).
        token = dataclasses.replace(
            token, client_id=None, client_secret=None, registration_expires_at=None, refresh_token=None
        )
    with store.sso.lock(target.token_key) as lock:
        store.save_token(target.token_key, token)
        lock.write_note({})
    until = token.expires_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    display.line(f"Logged in to {target.label}; the token is valid until {until} and cached in")
    display.line(f"  {store.sso.file(target.token_key)}")
    if target.legacy:
        display.line(
            "This is a legacy profile (sso_start_url without sso_session): its token cannot be refreshed. "
            "Move the settings to an [sso-session] section (aws configure sso) to stay logged in longer."
        )
    return 0
