"""The ``ssooidc`` command line: ``login``, ``token``, ``credentials``, ``logout``, and ``simulate`` /
``demo`` around the simulator. Logins are shared with the AWS CLI and boto3 through their cache.

Exit codes: 0 success, 1 failure, 2 usage or configuration error, 130 interrupted. Every error is
one line naming the cause and the fix; ``--debug`` logs to stderr with secrets masked.

Start-up matters (``ssooidc token`` runs before every AWS call of some tools): :func:`main` first
tries ``_cli_fast``, which prints a fresh cached token with a handful of standard modules and answers
only when sure to print exactly what :func:`run` would; everything else runs :func:`run`. This module
imports nothing at load time (``--help`` costs argparse only); each command imports its own modules,
and a fresh token never touches the network stack.
"""

from __future__ import annotations

import sys

import sansio_ssooidc as oidc  # already loaded: this module is inside it; its names load on first use

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    import logging
    import re
    from collections.abc import Callable, Sequence

    from ._cli_config import Context

__all__ = ["Context", "main", "run"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def __getattr__(name: str) -> object:
    # Context and CliError load with their module, when first named: ``ssooidc token`` for a fresh
    # token and ``ssooidc --help`` never need them.
    if name in ("CliError", "Context"):
        from . import _cli_config

        return getattr(_cli_config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- commands (each imports its module when run) ------------------------------------------------


def cmd_login(ctx: Context, args: argparse.Namespace) -> int:
    from ._cli_login import cmd_login as command

    return command(ctx, args)


def cmd_token(ctx: Context, args: argparse.Namespace) -> int:
    from ._cli_token import cmd_token as command

    return command(ctx, args)


def cmd_credentials(ctx: Context, args: argparse.Namespace) -> int:
    from ._cli_portal import cmd_credentials as command

    return command(ctx, args)


def cmd_logout(ctx: Context, args: argparse.Namespace) -> int:
    from ._cli_portal import cmd_logout as command

    return command(ctx, args)


def cmd_simulate(ctx: Context, args: argparse.Namespace) -> int:
    from ._cli_sim import cmd_simulate as command

    return command(ctx, args)


def cmd_demo(ctx: Context, args: argparse.Namespace) -> int:
    from ._cli_sim import cmd_demo as command

    return command(ctx, args)


# --- parsing ----------------------------------------------------------------------------------------


def _scopes(text: str) -> list[str]:
    import argparse

    scopes = [scope.strip() for scope in text.split(",") if scope.strip()]
    if not scopes:
        raise argparse.ArgumentTypeError("give at least one scope, e.g. sso:account:access")
    return scopes


def _port(text: str, lowest: int = 1) -> int:
    import argparse

    try:
        port = int(text)
    except ValueError:
        port = -1
    if not lowest <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number ({lowest}..65535)")
    return port


def _listen_port(text: str) -> int:
    """``simulate --port``: a port number, or 0 for any free port."""
    return _port(text, lowest=0)


def _target_flags(parser: argparse.ArgumentParser, *, start_url: bool = True, all_flag: bool = False) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--profile", metavar="P", help="profile in the AWS config (default: $AWS_PROFILE or default)"
    )
    which.add_argument("--sso-session", metavar="S", help="[sso-session S] section of the AWS config")
    if start_url:
        which.add_argument("--start-url", metavar="U", help="AWS access portal URL, without a config file")
        parser.add_argument("--region", metavar="R", help="IAM Identity Center region (with --start-url)")
    if all_flag:
        which.add_argument("--all", action="store_true", help="every cached token")
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="endpoint of sso-oidc and the portal (else AWS_ENDPOINT_URL_SSO_OIDC / AWS_ENDPOINT_URL_SSO, "
        "AWS_ENDPOINT_URL, then the config's [services] section or endpoint_url)",
    )


def _parser() -> argparse.ArgumentParser:
    import argparse

    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log what happens on stderr (secrets masked)",
    )
    parser = argparse.ArgumentParser(
        prog="ssooidc",
        parents=[debug],
        description="IAM Identity Center (AWS SSO) logins that the AWS CLI and boto3 share.",
        epilog="Exit codes: 0 success, 1 failure, 2 usage or configuration error, 130 interrupted.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = sub.add_parser("login", parents=[debug], help="log in and cache the token (like aws sso login)")
    _target_flags(login)
    login.add_argument("--use-device-code", action="store_true", help="use the device code flow")
    login.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    login.add_argument(
        "--scopes",
        type=_scopes,
        metavar="SCOPES",
        help="registration scopes, comma-separated (default: from config)",
    )
    login.add_argument(
        "--port", type=_port, metavar="N", help="loopback port for the browser's redirect (PKCE)"
    )
    login.set_defaults(func=cmd_login)

    token = sub.add_parser("token", parents=[debug], help="print a valid access token, refreshing it if due")
    _target_flags(token)
    token.add_argument("--json", action="store_true", help="print JSON with the token and its expiry")
    token.set_defaults(func=cmd_token)

    creds = sub.add_parser(
        "credentials", parents=[debug], help="print role credentials for credential_process (Version 1)"
    )
    creds.add_argument("--profile", metavar="P", help="profile with sso_account_id and sso_role_name")
    creds.add_argument("--endpoint-url", metavar="URL", help="endpoint of sso-oidc and the portal")
    creds.set_defaults(func=cmd_credentials)

    logout = sub.add_parser(
        "logout",
        parents=[debug],
        help="end the portal session, delete its token file and the cached SSO role credentials",
    )
    _target_flags(logout, start_url=False, all_flag=True)
    logout.set_defaults(func=cmd_logout)

    simulate = sub.add_parser("simulate", parents=[debug], help="serve the simulated service on loopback")
    simulate.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    simulate.add_argument(
        "--port", type=_listen_port, default=0, metavar="N", help="port (default 0: any free port)"
    )
    simulate.add_argument(
        "--user", choices=("approve", "deny", "never"), default="approve", help="what the user does"
    )
    simulate.add_argument("--access-token-lifetime", type=int, default=3600, metavar="SECONDS")
    simulate.add_argument(
        "--rotate-refresh-tokens", action="store_true", help="issue a new refresh token each time"
    )
    simulate.add_argument(
        "--state", metavar="FILE", help="resume from FILE if it exists, and save the state there on stop"
    )
    simulate.set_defaults(func=cmd_simulate)
    demo = sub.add_parser(
        "demo", parents=[debug], help="login, token, credentials and logout against a simulator"
    )
    demo.set_defaults(func=cmd_demo)
    return parser


# --- logging ---------------------------------------------------------------------------------------

_SECRET_PATTERNS = (
    r"(?P<json>\"(?:accessToken|refreshToken|clientSecret|idToken|deviceCode|codeVerifier|assertion|"
    r"subjectToken|secretAccessKey|sessionToken|SecretAccessKey|SessionToken)\"\s*:\s*)\"[^\"]*\""
    r"|\b(?:aoa|aor)[A-Za-z0-9+/=_-]{16,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*"
    r"|(?P<param>\b(?:code|code_verifier|device_code|refresh_token)=)[^&\s]+"
)
_secret_re: re.Pattern[str] | None = None


def mask(text: str) -> str:
    """``text`` with anything shaped like a token, secret or code replaced by ``***``."""
    global _secret_re
    if _secret_re is None:
        import re

        _secret_re = re.compile(_SECRET_PATTERNS)

    def repl(match: re.Match[str]) -> str:
        return (match.group("json") and match.group("json") + '"***"') or (match.group("param") or "") + "***"

    return _secret_re.sub(repl, text)


def _logging(ctx: Context, debug: bool) -> tuple[logging.Handler, int, bool]:
    """Route the library's log to ``ctx.stderr``; returns what :func:`_unlog` needs to undo it."""
    import logging

    class MaskingFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            record.levelname = record.levelname.lower()
            return mask(super().format(record))

    handler = logging.StreamHandler(ctx.stderr)
    fmt = "ssooidc: %(levelname)s: %(message)s"
    if debug:
        fmt = "%(asctime)s %(name)s %(levelname)s: %(message)s"
    handler.setFormatter(MaskingFormatter(fmt))
    logger = logging.getLogger("sansio_ssooidc")
    saved = (handler, logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    logger.propagate = False
    return saved


def _unlog(saved: tuple[logging.Handler, int, bool]) -> None:
    import logging

    handler, level, propagate = saved
    logger = logging.getLogger("sansio_ssooidc")
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


def run(ctx: Context, argv: Sequence[str] | None = None) -> int:
    """Run one command in ``ctx``; returns the exit code."""
    return _run(lambda: ctx, argv)


def _run(context: Callable[[], Context], argv: Sequence[str] | None) -> int:
    """:func:`run` with the context made only once the command line is valid (``--help`` and usage
    errors need none)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    from ._cli_config import CliError

    ctx = context()
    saved = _logging(ctx, getattr(args, "debug", False))
    func = args.func
    try:
        return int(func(ctx, args))
    except KeyboardInterrupt:
        ctx.stderr.write("\nssooidc: interrupted\n")
        return EXIT_INTERRUPTED
    except (oidc.ConfigError, oidc.ParameterError) as exc:
        ctx.stderr.write(f"ssooidc: {exc}\n")
        return EXIT_USAGE
    except CliError as exc:
        ctx.stderr.write(f"ssooidc: {exc}\n")
        return exc.exit_code
    except oidc.SSOOIDCError as exc:
        ctx.stderr.write(f"ssooidc: {mask(str(exc))}\n")
        return EXIT_FAILURE
    except BrokenPipeError:
        return EXIT_FAILURE
    except OSError as exc:
        ctx.stderr.write(f"ssooidc: {exc}; check the network connection and the endpoint\n")
        return EXIT_FAILURE
    finally:
        _unlog(saved)
        net = sys.modules.get(f"{__package__}._cli_net")  # only if a command used the network
        if net is not None:
            net.close_connections()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ssooidc`` command: the fast path of ``token`` for a fresh cached token
    (``_cli_fast``, which answers only when sure to print what :func:`run` would), else :func:`run`."""
    from ._cli_fast import fast_main

    code = fast_main(argv)
    if code is not None:
        return code
    return _run(_process_context, argv)


def _process_context() -> Context:
    """The context of the process: its environment, standard streams and clock."""
    from ._cli_config import Context

    return Context()


if __name__ == "__main__":
    sys.exit(main())
