"""``ssooidc simulate`` (serve the simulator for the other commands, or for ``aws`` and boto3) and
``ssooidc demo`` (the real ``login``, ``token``, ``credentials`` and ``logout`` commands against an
embedded simulator, in a throw-away HOME)."""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
from typing import TYPE_CHECKING

from ._cli_config import CliError, Context

if TYPE_CHECKING:
    from sansio_ssooidc.simulator import Simulator

    from .simserver import SimulatorServer

__all__ = ["StateFileError", "cmd_demo", "cmd_simulate", "example_config"]


class StateFileError(CliError):
    """``simulate --state FILE`` names a file that holds no saved simulator state: a usage error (2)."""

    exit_code = 2


def example_config(start_url: str, region: str, *, name: str = "sim") -> str:
    """An AWS config for the simulator: an ``[sso-session]`` and a profile with an account and role."""
    return (
        f"[sso-session {name}]\n"
        f"sso_start_url = {start_url}\n"
        f"sso_region = {region}\n"
        "sso_registration_scopes = sso:account:access\n\n"
        f"[profile {name}]\n"
        f"sso_session = {name}\n"
        "sso_account_id = 111111111111\n"
        "sso_role_name = ReadOnlyAccess\n"
    )


def cmd_simulate(ctx: Context, args: argparse.Namespace) -> int:
    """Serve the simulator on loopback until interrupted."""
    from sansio_ssooidc.simulator import Simulator, UserScript

    state = os.path.abspath(args.state) if args.state else None
    if state and os.path.exists(state):
        simulator = _load_state(state)  # before the try: a file it cannot use is left as it is
        ctx.stderr.write(f"resumed the simulator's state from {state}\n")
    else:
        simulator = Simulator(
            user=UserScript(action=args.user),
            access_token_lifetime=args.access_token_lifetime,
            rotate_refresh_tokens=args.rotate_refresh_tokens,
        )
    server = _listen(args, simulator)  # before the try too: nothing was served, nothing to save
    try:
        return _serve(ctx, server)
    finally:
        if state:  # saved atomically (temp file, fsync, rename), 0600: it holds secrets
            from .cache import CacheDir

            CacheDir(os.path.dirname(state)).write_text(
                os.path.basename(state), json.dumps(simulator.to_dict())
            )
            ctx.stderr.write(f"saved the simulator's state to {state}\n")


def _load_state(path: str) -> Simulator:
    """The simulator saved in ``path``; :class:`StateFileError` naming the cause and the fix."""
    from sansio_ssooidc import ParameterError
    from sansio_ssooidc.simulator import Simulator

    fix = f"delete or move {path} to start afresh there, or pass another --state FILE"
    try:
        with open(path, encoding="utf-8") as saved:
            data = json.load(saved)
    except IsADirectoryError:
        raise StateFileError(
            f"--state {path} is a directory; pass a file path (e.g. {os.path.join(path, 'state.json')})"
        ) from None
    except PermissionError as exc:
        raise StateFileError(
            f"The simulator state file {path} cannot be read ({exc.strerror}); fix its permissions "
            "or pass another --state FILE"
        ) from None
    except OSError as exc:
        raise StateFileError(f"The simulator state file {path} cannot be read ({exc}); {fix}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, too deep
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise StateFileError(f"The simulator state file {path} is not JSON ({reason}); {fix}") from None
    try:
        return Simulator.from_dict(data)
    except ParameterError as exc:
        raise StateFileError(
            f"The file {path} is not a simulator state saved by ssooidc simulate ({exc}); {fix}"
        ) from None


def _listen(args: argparse.Namespace, simulator: Simulator) -> SimulatorServer:
    from .simserver import SimulatorServer

    try:
        return SimulatorServer(simulator, host=args.host, port=args.port)
    except OSError as exc:  # address in use or not this host's, unknown host name
        raise CliError(
            f"cannot listen on {args.host} port {args.port} ({exc.strerror or exc}); pass another "
            "--host (a local address) or --port (0: any free port)"
        ) from None


def _serve(ctx: Context, server: SimulatorServer) -> int:
    simulator = server.simulator
    # Ctrl-C is how it stops, so it is a clean stop wherever it lands: while the banner is still
    # being written (the banner's first line is all a script waits for) or while serving.
    try:
        with server:
            out = ctx.stdout
            out.write(f"sso-oidc and portal simulator listening on {server.url}\n")
            out.write(f"  export AWS_ENDPOINT_URL_SSO_OIDC={server.url} AWS_ENDPOINT_URL_SSO={server.url}\n")
            out.write("A config for it (append to ~/.aws/config, or point AWS_CONFIG_FILE at a copy):\n\n")
            out.write(example_config(simulator.start_url, simulator.region) + "\n")
            out.write("then: ssooidc login --profile sim; ssooidc credentials --profile sim\n")
            out.write("Press Ctrl-C to stop.\n")
            out.flush()
            while True:
                ctx.sleep(3600)
    except KeyboardInterrupt:
        ctx.stderr.write("stopped\n")
        return 0


def _step(ctx: Context, demo: Context, argv: list[str]) -> str:
    """Run one real command in the demo's context; its stdout is returned (and not printed)."""
    from .cli import run

    ctx.stdout.write(f"\n$ ssooidc {' '.join(argv)}\n")
    ctx.stdout.flush()
    demo.stdout = io.StringIO()
    code = run(demo, argv)
    if code != 0:
        raise SystemExit(code)
    return demo.stdout.getvalue()


def _masked(value: str) -> str:
    return f"***({len(value)} chars)"


def cmd_demo(ctx: Context, args: argparse.Namespace) -> int:
    """Log in with the device code (a simulated user approves), get and refresh a token, turn it
    into role credentials and log out: the commands a person runs, against a simulator."""
    from sansio_ssooidc.simulator import Simulator, UserScript

    from .simserver import SimulatorServer

    # Ten-minute tokens are inside the refresh window at once, so the demo shows a refresh too.
    simulator = Simulator(
        user=UserScript(on_visit=False, after_polls=1), access_token_lifetime=600, rotate_refresh_tokens=True
    )
    with tempfile.TemporaryDirectory(prefix="ssooidc-demo-") as home, SimulatorServer(simulator) as server:
        config = os.path.join(home, "config")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(example_config(simulator.start_url, simulator.region, name="demo"))
        environ = {
            "HOME": home,
            "AWS_CONFIG_FILE": config,
            "AWS_ENDPOINT_URL_SSO_OIDC": server.url,
            "AWS_ENDPOINT_URL_SSO": server.url,
            "TERM": ctx.environ.get("TERM", "dumb"),
        }
        demo = Context(environ=environ, stderr=ctx.stdout, clock=ctx.clock, sleep=ctx.sleep)
        out = ctx.stdout
        config_text = example_config(simulator.start_url, simulator.region, name="demo")
        out.write(f"Simulator on {server.url}; HOME={home}; the config file:\n\n{config_text}")
        out.write("(the simulated user approves the login after the first poll)\n")
        _step(ctx, demo, ["login", "--profile", "demo", "--use-device-code", "--no-browser"])
        token = json.loads(_step(ctx, demo, ["token", "--profile", "demo", "--json"]))
        out.write(
            f"access token {_masked(token['accessToken'])}, expires {token['expiresAt']}, "
            f"refreshed now: {token['refreshed']} (a 10-minute token is refreshed at once)\n"
        )
        creds = json.loads(_step(ctx, demo, ["credentials", "--profile", "demo"]))
        out.write(
            f"credential_process output: Version {creds['Version']}, AccessKeyId {creds['AccessKeyId']}, "
            f"SecretAccessKey {_masked(creds['SecretAccessKey'])}, Expiration {creds['Expiration']}\n"
        )
        again = json.loads(_step(ctx, demo, ["credentials", "--profile", "demo"]))
        out.write(
            f"(served from the role credential cache: {again['AccessKeyId'] == creds['AccessKeyId']})\n"
        )
        _step(ctx, demo, ["logout", "--profile", "demo"])
        out.write("\n" + json.dumps({"requests": dict(simulator.requests)}, sort_keys=True) + "\n")
        out.flush()
    return 0
