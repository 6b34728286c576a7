"""The ``ssooidc`` command line. This module holds the commands that serve and demonstrate the
simulator; the login commands build on the same pieces.

Exit codes: 0 success, 1 failure, 2 usage or configuration error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.request
from collections.abc import Sequence
from typing import Any

import sansio_ssooidc as oidc

__all__ = ["main"]


def _masked(secret: str) -> str:
    return f"***({len(secret)} chars)"


def cmd_simulate(args: argparse.Namespace) -> int:
    """Serve the simulator on loopback until interrupted."""
    from .simserver import SimulatorServer

    with SimulatorServer(host=args.host, port=args.port) as server:
        print(f"sso-oidc and portal simulator listening on {server.url}", flush=True)
        print(f"  AWS_ENDPOINT_URL_SSO_OIDC={server.url}\n  AWS_ENDPOINT_URL_SSO={server.url}", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
            return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """A complete device login, a refresh and role credentials, against the embedded simulator."""
    from . import requests as transport
    from .simserver import SimulatorServer

    with SimulatorServer(port=0) as server:
        sim = server.simulator
        print(f"Simulator on {server.url} (start URL {sim.start_url})\n")

        def show(action: Any) -> None:
            assert isinstance(action, oidc.ShowCode)
            url = action.verification_uri_complete or action.verification_uri
            print(f"To log in, open:\n  {url}\nand confirm the code:  {action.user_code}")
            print("(the demo's simulated user opens that page and approves)\n")
            with urllib.request.urlopen(url, timeout=10) as page:  # noqa: S310 - loopback simulator URL
                page.read()

        flow = oidc.DeviceFlow(
            start_url=sim.start_url,
            region="us-east-1",
            endpoint=server.url,
            scopes=("sso:account:access",),
            rng=random.SystemRandom(),
        )
        login = transport.run(flow, show=show)
        token = login.token
        print(f"Logged in: access token {_masked(token.access_token)}, expires {token.expires_at:%H:%M:%S}Z")
        print(f"AWS CLI cache file: ~/.aws/sso/cache/{oidc.token_cache_key(start_url=sim.start_url)}")

        # Refresh now (an advisory threshold longer than the token's life makes it due).
        refresh = oidc.RefreshFlow(token=token, endpoint=server.url, advisory=7 * 86400, mandatory=0)
        refreshed = transport.run(refresh).token
        new = refreshed.access_token
        print(f"Refreshed: new access token {_masked(new)}, expires {refreshed.expires_at:%H:%M:%S}Z")

        accounts = transport.send(oidc.ListAccounts(access_token=refreshed.access_token), server.url)
        account = accounts.accounts[0]
        roles = transport.send(
            oidc.ListAccountRoles(access_token=refreshed.access_token, account_id=account.account_id or ""),
            server.url,
        )
        role = roles.roles[0].role_name or ""
        creds = transport.send(
            oidc.GetRoleCredentials(
                access_token=refreshed.access_token, account_id=account.account_id or "", role_name=role
            ),
            server.url,
        )
        print(
            f"Role credentials for {role} in {account.account_id} ({account.account_name}): "
            f"{creds.access_key_id}, secret {_masked(creds.secret_access_key)}, "
            f"expire {creds.expiration_datetime:%H:%M:%S}Z"
        )
        print(json.dumps({"requests": dict(sim.requests)}, sort_keys=True))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssooidc", description="IAM Identity Center OIDC logins.")
    sub = parser.add_subparsers(dest="command", required=True)
    simulate = sub.add_parser("simulate", help="serve the simulated service on loopback")
    simulate.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    simulate.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    simulate.set_defaults(func=cmd_simulate)
    demo = sub.add_parser("demo", help="log in against the embedded simulator, refresh, get credentials")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ssooidc`` command."""
    args = _parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except oidc.SSOOIDCError as exc:
        print(f"ssooidc: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
