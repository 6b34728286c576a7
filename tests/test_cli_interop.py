"""Interoperation with the real botocore 1.44.5 and boto3: they read the files ``ssooidc`` writes and
``ssooidc`` reads theirs. botocore runs in its own process (it fixes ``~/.aws/sso/cache`` from HOME
when imported), with HOME and AWS_CONFIG_FILE in a temporary directory and the served simulator as
every endpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sansio_ssooidc.adapters.simserver import SimulatorServer

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import UserScript
from tests.clikit import CONFIG, SSOOIDC, Home, RecordingSimulator, run, seed_login

Serve = Callable[..., SimulatorServer]

BOTOCORE_TOKEN = """\
import json
import botocore.session
from botocore.tokens import SSOTokenProvider
session = botocore.session.Session(profile="dev")
token = SSOTokenProvider(session).load_token().get_frozen_token()
print(json.dumps({"token": token.token}))
"""

BOTO3_CREDENTIALS = """\
import json, sys
import boto3
creds = boto3.Session(profile_name=sys.argv[1]).get_credentials().get_frozen_credentials()
print(json.dumps({"access_key": creds.access_key, "secret_key": creds.secret_key, "token": creds.token}))
"""


@pytest.fixture
def home(tmp_path: Path) -> Home:
    config = CONFIG + textwrap.dedent(
        f"""
        [profile cp]
        credential_process = {" ".join(SSOOIDC)} credentials --profile dev
        """
    )
    return Home(
        tmp_path / "home",
        config,
    )


@pytest.fixture
def server(ssooidc_simulator_factory: Serve) -> SimulatorServer:
    simulator = RecordingSimulator(user=UserScript(on_visit=False, after_polls=0), rotate_refresh_tokens=True)
    return ssooidc_simulator_factory(simulator)


def python(script: str, env: dict[str, str], *args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_botocore_uses_and_refreshes_our_login_and_we_read_its_file(
    home: Home, server: SimulatorServer
) -> None:
    env = home.env(server)
    result = run(["login", "--profile", "dev", "--use-device-code"], env)
    assert result.returncode == 0, result.stderr
    ours = home.token()

    # botocore's SSOTokenProvider loads the token we wrote, as is.
    assert python(BOTOCORE_TOKEN, env)["token"] == ours.access_token
    assert server.simulator.refreshes == 0

    # Near expiry, botocore refreshes it through the simulator and writes the file back.
    home.make_due()  # 5 minutes left: inside every refresh window
    refreshed = python(BOTOCORE_TOKEN, env)["token"]
    assert server.simulator.refreshes == 1
    assert refreshed != ours.access_token
    theirs = home.token()  # botocore's file loads with our reader
    assert theirs.access_token == refreshed
    assert theirs.refresh_token != ours.refresh_token  # rotated, kept by botocore
    assert (theirs.client_id, theirs.client_secret) == (ours.client_id, ours.client_secret)

    # We read botocore's file: its fresh token is printed, with no refresh of our own.
    result = run(["token", "--profile", "dev"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == refreshed
    assert server.simulator.refreshes == 1

    # And we refresh what botocore wrote (its rotated refresh token is the live one).
    home.make_due()  # 5 minutes left: inside every refresh window
    result = run(["token", "--profile", "dev"], env)
    assert result.returncode == 0, result.stderr
    assert server.simulator.refreshes == 2
    assert result.stdout.strip() == home.token().access_token != refreshed
    assert python(BOTOCORE_TOKEN, env)["token"] == home.token().access_token  # and botocore reads ours
    assert server.simulator.errors == {}


def test_boto3_credential_process_profile(home: Home, server: SimulatorServer) -> None:
    env = home.env(server)
    assert run(["login", "--profile", "dev", "--use-device-code"], env).returncode == 0

    creds = python(BOTO3_CREDENTIALS, env, "cp")
    assert creds["access_key"].startswith("ASIA")
    assert server.simulator.requests["GetRoleCredentials"] == 1
    key = oidc.role_credentials_cache_key(
        account_id="111111111111", role_name="ReadOnlyAccess", session_name="dev"
    )
    cached = oidc.load_role_credentials((home.cli_cache / key).read_text())
    assert (cached.access_key_id, cached.secret_access_key, cached.session_token) == (
        creds["access_key"],
        creds["secret_key"],
        creds["token"],
    )
    # A second boto3 process gets the same credentials from the role credential cache.
    assert python(BOTO3_CREDENTIALS, env, "cp") == creds
    assert server.simulator.requests["GetRoleCredentials"] == 1


def test_boto3_sso_profile_uses_our_token(home: Home, server: SimulatorServer) -> None:
    env = home.env(server)
    seed_login(home, server)
    creds = python(BOTO3_CREDENTIALS, env, "dev")  # botocore's own SSO credential provider
    assert creds["access_key"].startswith("ASIA")
    assert server.simulator.requests["GetRoleCredentials"] == 1
