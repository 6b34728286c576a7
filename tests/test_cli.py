"""``ssooidc`` end to end: the installed console script as a subprocess, HOME and AWS_CONFIG_FILE in a
temporary directory, the simulator served on loopback as the endpoint. Output is not a terminal here
(plain lines); tests/test_cli_pty.py drives it through a real pseudo-terminal."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sansio_ssooidc.adapters.simserver import SimulatorServer

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import UserScript
from tests.clikit import (
    CONFIG,
    PYCACHE,
    SSOOIDC,
    START_URL,
    Home,
    RecordingSimulator,
    fake_browser,
    files,
    run,
    seed_login,
)

Serve = Callable[..., SimulatorServer]


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(
        tmp_path / "home",
    )


@pytest.fixture
def serve(ssooidc_simulator_factory: Serve) -> Callable[..., SimulatorServer]:
    def start(**config: Any) -> SimulatorServer:
        config.setdefault("user", UserScript(on_visit=False, after_polls=0))  # approve at the first poll
        return ssooidc_simulator_factory(RecordingSimulator(**config))

    return start


def login(home: Home, server: SimulatorServer, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    result = run(["login", "--use-device-code", *args], home.env(server, **env))
    assert result.returncode == 0, result.stderr
    return result


# --- login ---------------------------------------------------------------------------------------


def test_device_login_writes_the_aws_cli_cache(home: Home, serve: Serve) -> None:
    server = serve(user=UserScript(on_visit=False, after_polls=1))
    result = login(home, server, "--profile", "dev")
    assert "enter the code:" in result.stderr
    assert "/device?user_code=" in result.stderr
    assert "Poll 1: waiting for you to approve" in result.stderr
    assert "approved" in result.stderr
    assert result.stdout == ""  # stdout is for data only
    token_file, reg_file = home.token_path(), home.registration_path()
    assert sorted(files(home.sso_cache)) == sorted(
        [token_file.name, reg_file.name, token_file.stem + ".lock", reg_file.stem + ".lock"]
    )
    for path in (token_file, reg_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(home.sso_cache.stat().st_mode) == 0o700
    raw = json.loads(token_file.read_text())
    assert list(raw) == [
        "startUrl",
        "region",
        "accessToken",
        "expiresAt",
        "clientId",
        "clientSecret",
        "registrationExpiresAt",
        "refreshToken",
    ]
    assert raw["expiresAt"].endswith("Z")
    assert len(raw["expiresAt"]) == 20
    registration = oidc.load_registration(reg_file.read_text())
    assert registration.client_id == raw["clientId"]
    assert registration.scopes == ("sso:account:access",)
    assert not list(home.sso_cache.glob(".*.tmp"))


def test_second_login_reuses_the_registration(home: Home, serve: Serve) -> None:
    server = serve()
    first = seed_login(home, server)
    login(home, server, "--sso-session", "dev")
    assert server.simulator.requests["RegisterClient"] == 1
    assert home.token().access_token != first.access_token
    assert home.token().client_id == first.client_id


def test_corrupt_registration_is_a_miss_and_is_repaired(home: Home, serve: Serve) -> None:
    server = serve()
    home.sso_cache.mkdir(parents=True)
    home.registration_path().write_text('{"clientId": "x", "clientSec')
    result = login(home, server, "--profile", "dev")
    assert "registration cache file" in result.stderr
    assert "is unusable" in result.stderr
    assert oidc.load_registration(home.registration_path().read_text()).client_id == home.token().client_id
    assert server.simulator.requests["RegisterClient"] == 1


def test_login_with_start_url_needs_no_config(home: Home, serve: Serve) -> None:
    server = serve()
    home.config.unlink()
    login(home, server, "--start-url", START_URL, "--region", "us-east-1", "--endpoint-url", server.url)
    assert oidc.load_token(home.token_path(None).read_text()).refresh_token is None  # a legacy-style file


def test_login_method_from_config_and_browser_detection(home: Home, serve: Serve, tmp_path: Path) -> None:
    server = serve(user=UserScript(after_polls=1))
    browser, log = fake_browser(tmp_path)
    home.config.write_text(
        CONFIG.replace(
            "sso_region = us-east-1\nsso_reg", "sso_region = us-east-1\nsso_login_method = device\nsso_reg", 1
        )
    )
    env = home.env(server, BROWSER=browser)
    # sso_login_method = device wins over the available browser; the browser opens the device page.
    result = run(["login", "--profile", "dev"], env)
    assert result.returncode == 0, result.stderr
    assert "device code flow" in result.stderr
    assert "/device?user_code=" in log.read_text()
    # Without the setting and with a browser: PKCE.
    home.config.write_text(CONFIG)
    result = run(["login", "--profile", "dev", "--debug"], env)
    assert result.returncode == 0, result.stderr
    assert "PKCE flow" in result.stderr
    assert "login method: PKCE (BROWSER is set)" in result.stderr
    assert "/authorize?" in log.read_text().splitlines()[-1]
    assert oidc.load_registration(home.registration_path().read_text()).grant_types == (
        "authorization_code",
        "refresh_token",
    )
    # An SSH session without BROWSER falls back to the device code.
    result = run(
        ["login", "--profile", "dev", "--no-browser", "--debug"], home.env(server, SSH_CONNECTION="1 2 3 4")
    )
    assert "device code flow" in result.stderr
    assert "SSH session" in result.stderr


def test_bad_login_method_is_a_config_error(home: Home, serve: Serve) -> None:
    home.config.write_text(
        CONFIG.replace("[profile dev]\n", "[profile dev]\nsso_login_method = carrier-pigeon\n")
    )
    result = run(["login", "--profile", "dev"], home.env(serve()))
    assert result.returncode == 2
    assert "sso_login_method = carrier-pigeon is not a login method" in result.stderr


def test_denied_device_login(home: Home, serve: Serve) -> None:
    server = serve(user=UserScript(action="deny", on_visit=False, after_polls=0))
    result = run(["login", "--use-device-code", "--profile", "dev"], home.env(server))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        'ssooidc: the login for sso-session "dev" (profile "dev") was denied in the browser; '
        "to try again, run: ssooidc login --profile dev"
    )
    assert files(home.sso_cache) == []


def test_denied_pkce_login(home: Home, serve: Serve, tmp_path: Path) -> None:
    server = serve(user=UserScript(action="deny"))
    browser, _ = fake_browser(tmp_path)
    result = run(["login", "--sso-session", "dev"], home.env(server, BROWSER=browser))
    assert result.returncode == 1
    assert 'ssooidc: the login for sso-session "dev" was denied in the browser' in result.stderr
    assert files(home.sso_cache) == []


def test_pkce_with_a_fixed_port(home: Home, serve: Serve, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve(user=UserScript())
    browser, log = fake_browser(tmp_path)
    result = run(["login", "--profile", "dev", "--port", str(port)], home.env(server, BROWSER=browser))
    assert result.returncode == 0, result.stderr
    assert f"redirect_uri=http%3A%2F%2F127.0.0.1%3A{port}%2Foauth%2Fcallback" in log.read_text()
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the last login's TIME_WAIT
        busy.bind(("127.0.0.1", port))
        busy.listen()
        result = run(["login", "--profile", "dev", "--port", str(port)], home.env(server, BROWSER=browser))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "pass another --port" in result.stderr


# --- token ---------------------------------------------------------------------------------------


def test_token_prints_exactly_the_access_token(home: Home, serve: Serve) -> None:
    server = serve()
    seed_login(home, server)
    result = run(["token", "--sso-session", "dev"], home.env(server))
    assert result.returncode == 0
    assert result.stderr == ""
    assert result.stdout == home.token().access_token + "\n"
    result = run(["token", "--json"], home.env(server, AWS_PROFILE="dev"))
    out = json.loads(result.stdout)
    assert out["accessToken"] == home.token().access_token
    assert out["refreshed"] is False
    assert out["ssoSession"] == "dev"
    assert out["expiresAt"].endswith("Z")
    assert server.simulator.refreshes == 0


def test_token_refreshes_when_due_and_writes_back(home: Home, serve: Serve) -> None:
    server = serve(rotate_refresh_tokens=True)
    before = seed_login(home, server)
    home.make_due()
    result = run(["token", "--json", "--profile", "dev"], home.env(server))
    assert result.returncode == 0, result.stderr
    after = home.token()
    assert json.loads(result.stdout)["accessToken"] == after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token  # rotated, and the new one was kept
    assert after.expires_at > datetime.now(timezone.utc) + timedelta(minutes=50)
    assert server.simulator.refreshes == 1


def test_advisory_refresh_failure_keeps_the_old_token(home: Home, serve: Serve) -> None:
    server = serve()
    token = home.write_token(expires_at=datetime.now(timezone.utc) + timedelta(minutes=12))  # unknown client
    result = run(["token", "--profile", "dev"], home.env(server))
    assert result.returncode == 0
    assert result.stdout == token.access_token + "\n"
    assert "ssooidc: warning: refreshing the token for" in result.stderr
    assert "using the cached token" in result.stderr
    # The failed attempt is remembered across processes: no second attempt within a minute.
    requests = server.simulator.requests["CreateToken"]
    result = run(["token", "--profile", "dev"], home.env(server))
    assert result.returncode == 0
    assert server.simulator.requests["CreateToken"] == requests
    # Still valid: not "expired", only refreshed too recently.
    assert "cannot be refreshed: a refresh was attempted less than a minute ago" in result.stderr


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"refresh_token": None}, "the cached token has no refresh token"),
        (
            {"registration_expires_at": datetime.now(timezone.utc) - timedelta(days=1)},
            "the client registration has expired",
        ),
        ({}, "the service rejected the refresh token (expired, revoked or logged out)"),
    ],
)
def test_token_says_why_login_is_required(home: Home, serve: Serve, fields: dict[str, Any], why: str) -> None:
    server = serve()
    home.write_token(expires_at=datetime.now(timezone.utc) - timedelta(minutes=1), **fields)
    result = run(["token", "--sso-session", "dev"], home.env(server))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f'ssooidc: login required for sso-session "dev": {why}; run: ssooidc login --sso-session dev\n'
    )


def test_token_missing_and_corrupt(home: Home, serve: Serve) -> None:
    server = serve()
    result = run(["token", "--profile", "dev"], home.env(server))
    assert result.returncode == 1
    assert "there is no usable cached token" in result.stderr
    assert "run: ssooidc login --profile dev" in result.stderr
    home.sso_cache.mkdir(parents=True)
    home.token_path().write_text("{not json")
    result = run(["token", "--profile", "dev"], home.env(server))
    assert result.returncode == 1
    assert "token cache file" in result.stderr
    assert "it is not JSON" in result.stderr


def test_world_readable_token_warns(home: Home, serve: Serve) -> None:
    home.write_token(mode=0o644)
    result = run(["token", "--profile", "dev"], home.env(serve()))
    assert result.returncode == 0
    assert "is readable by other users (mode 644) and holds secrets; run: chmod 600" in result.stderr


def test_legacy_profile(home: Home, serve: Serve) -> None:
    server = serve()
    result = login(home, server, "--profile", "legacy")
    assert "This is a legacy profile" in result.stderr
    raw = json.loads(home.token_path(None).read_text())
    assert sorted(raw) == ["accessToken", "expiresAt", "region", "startUrl"]  # what the AWS CLI writes
    home.write_token(None, expires_at=datetime.now(timezone.utc) - timedelta(seconds=1), refresh_token=None)
    result = run(["token", "--profile", "legacy"], home.env(server))
    assert result.returncode == 1
    assert result.stderr == (
        'ssooidc: login required for legacy profile "legacy": the token comes from a legacy profile '
        "(sso_start_url without sso_session), which cannot refresh; run: ssooidc login --profile legacy\n"
    )


def test_a_login_without_an_sso_session_uses_the_device_code_even_with_a_browser(
    home: Home, serve: Serve
) -> None:
    """As the AWS CLI: PKCE only for an sso-session (awscli's do_sso_login), whatever the display."""
    server = serve(user=UserScript(on_visit=False, after_polls=0))
    for target in (
        ["--profile", "legacy"],
        ["--start-url", server.simulator.start_url, "--region", "us-east-1"],
    ):
        result = run(["login", "--no-browser", "--debug", *target], home.env(server, DISPLAY=":99"))
        assert result.returncode == 0, result.stderr
        assert "enter the code:" in result.stderr
        assert "no sso-session" in result.stderr
        assert "/authorize?" not in result.stderr


def test_pkce_asked_for_a_profile_without_an_sso_session_is_a_config_error(
    tmp_path: Path, serve: Serve
) -> None:
    config = CONFIG.replace("[profile legacy]\n", "[profile legacy]\nsso_login_method = pkce\n")
    home = Home(tmp_path, config)
    result = run(["login", "--profile", "legacy"], home.env(serve(), DISPLAY=":99"))
    assert result.returncode == 2
    assert "sso_login_method = pkce needs an sso-session" in result.stderr
    assert "[sso-session] section" in result.stderr


# --- configuration and usage errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["token", "--profile", "nope"],
            {},
            'The config file has no profile "nope" (known: default, dev, legacy, plain)',
        ),
        (["login", "--sso-session", "nope"], {}, 'no sso-session "nope"'),
        (["token"], {"AWS_PROFILE": "plain"}, 'Profile "plain" has no SSO settings; add sso_session = NAME'),
        (["credentials", "--profile", "default"], {}, 'Profile "default" has no SSO settings'),
        (["login", "--start-url", START_URL], {}, "--start-url needs --region"),
        (
            ["token"],
            {"AWS_CONFIG_FILE": "/nonexistent/config"},
            "The config file /nonexistent/config does not exist",
        ),
        (
            ["token", "--profile", "dev"],
            {"AWS_ENDPOINT_URL_SSO_OIDC": "not a url"},
            "AWS_ENDPOINT_URL_SSO_OIDC",
        ),
    ],
)
def test_config_errors_exit_2(home: Home, args: list[str], env: dict[str, str], message: str) -> None:
    home.write_token()
    result = run(args, home.env(**env))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("ssooidc: ")
    assert result.stderr.count("\n") == 1


def test_usage_errors_exit_2(home: Home) -> None:
    for args in (
        ["frobnicate"],
        ["login", "--profile", "a", "--sso-session", "b"],
        ["login", "--port", "99999"],
        [],
    ):
        result = run(args, home.env())
        assert result.returncode == 2, args
        assert "usage: ssooidc" in result.stderr


def test_help_and_python_m(home: Home) -> None:
    result = run(["--help"], home.env())
    assert result.returncode == 0
    for command in ("login", "token", "credentials", "logout", "simulate", "demo"):
        assert command in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "sansio_ssooidc.adapters.cli", "login", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    for flag in ("--use-device-code", "--no-browser", "--endpoint-url", "--scopes", "--port", "--start-url"):
        assert flag in result.stdout
    assert SSOOIDC


# --- endpoints -------------------------------------------------------------------------------------


def test_endpoint_precedence(home: Home, serve: Serve) -> None:
    """botocore's order: --endpoint-url, AWS_ENDPOINT_URL_SSO_OIDC / _SSO, AWS_ENDPOINT_URL, then the
    config ([services X] sso_oidc / sso, then the profile's endpoint_url). Each refresh shows where
    it went."""
    good = serve()
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens
    seed_login(home, good)

    def refresh(*args: str, config: str = CONFIG, **env: str) -> None:
        home.make_due()
        home.config.write_text(config)
        before = good.simulator.refreshes
        result = run(["token", "--profile", "dev", *args], home.env(**env))
        assert result.returncode == 0, result.stderr
        assert good.simulator.refreshes == before + 1, (args, env)

    def with_services(url: str) -> str:
        return CONFIG.replace("[profile dev]\n", "[profile dev]\nservices = sim\n") + (
            f"\n[services sim]\nsso_oidc =\n  endpoint_url = {url}\nsso =\n  endpoint_url = {url}\n"
        )

    refresh("--endpoint-url", good.url, AWS_ENDPOINT_URL_SSO_OIDC=dead, AWS_ENDPOINT_URL=dead)
    refresh(AWS_ENDPOINT_URL_SSO_OIDC=good.url, AWS_ENDPOINT_URL=dead, config=with_services(dead))
    refresh(AWS_ENDPOINT_URL=good.url, config=with_services(dead))
    refresh(config=with_services(good.url))
    refresh(config=CONFIG.replace("[profile dev]\n", f"[profile dev]\nendpoint_url = {good.url}\n"))
    # AWS_IGNORE_CONFIGURED_ENDPOINT_URLS drops all but --endpoint-url.
    refresh("--endpoint-url", good.url, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="true", AWS_ENDPOINT_URL=dead)
    # The portal: AWS_ENDPOINT_URL_SSO.
    result = run(["credentials", "--profile", "dev"], home.env(AWS_ENDPOINT_URL_SSO=good.url))
    assert result.returncode == 0, result.stderr
    assert good.simulator.requests["GetRoleCredentials"] == 1


# --- credentials and logout -----------------------------------------------------------------------


def test_credentials_for_credential_process(home: Home, serve: Serve) -> None:
    server = serve()
    seed_login(home, server)
    result = run(["credentials", "--profile", "dev"], home.env(server))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["Version"] == 1
    assert out["AccessKeyId"].startswith("ASIA")
    assert set(out) >= {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    key = oidc.role_credentials_cache_key(
        account_id="111111111111", role_name="ReadOnlyAccess", session_name="dev"
    )
    cached = json.loads((home.cli_cache / key).read_text())
    assert cached["ProviderType"] == "sso"
    assert cached["Credentials"]["AccessKeyId"] == out["AccessKeyId"]
    assert stat.S_IMODE((home.cli_cache / key).stat().st_mode) == 0o600
    again = run(["credentials", "--profile", "dev"], home.env(server))
    assert json.loads(again.stdout) == out
    assert server.simulator.requests["GetRoleCredentials"] == 1


def test_credentials_errors(home: Home, serve: Serve) -> None:
    server = serve()
    home.config.write_text(
        CONFIG.replace("sso_role_name = ReadOnlyAccess\n\n[profile legacy]", "\n[profile legacy]")
    )
    seed_login(home, server)
    result = run(["credentials", "--profile", "dev"], home.env(server))
    assert result.returncode == 2
    assert 'Profile "dev" has no sso_account_id and sso_role_name' in result.stderr
    home.config.write_text(
        CONFIG.replace("ReadOnlyAccess\n\n[profile legacy]", "NoSuchRole\n\n[profile legacy]")
    )
    result = run(["credentials", "--profile", "dev"], home.env(server))
    assert result.returncode == 2
    assert "no role NoSuchRole in account 111111111111" in result.stderr
    home.config.write_text(CONFIG)
    server.simulator.revoke_refresh_tokens()
    run(["logout", "--profile", "dev"], home.env(server))
    result = run(["credentials", "--profile", "dev"], home.env(server))
    assert result.returncode == 1
    assert "login required" in result.stderr


def test_logout_one_and_all(home: Home, serve: Serve) -> None:
    server = serve()
    dev, legacy = seed_login(home, server), seed_login(home, server, session=None)
    result = run(["logout", "--sso-session", "dev"], home.env(server))
    assert result.returncode == 0, result.stderr
    assert not home.token_path().exists()
    assert home.token_path(None).exists()
    assert home.registration_path().exists()  # registrations are kept
    portal = oidc.ListAccounts(access_token=dev.access_token)
    from sansio_ssooidc.adapters import h11

    with pytest.raises(oidc.UnauthorizedException):
        h11.send(portal, server.url)
    result = run(["logout", "--all"], home.env(server))
    assert result.returncode == 0
    kept = [home.registration_path().name, home.registration_path(None, None).name]
    assert [p for p in files(home.sso_cache) if p.endswith(".json")] == sorted(kept)
    assert server.simulator.requests["Logout"] == 2
    with pytest.raises(oidc.UnauthorizedException):
        h11.send(oidc.ListAccounts(access_token=legacy.access_token), server.url)
    result = run(["logout", "--profile", "dev"], home.env(server))
    assert result.returncode == 0
    assert "nothing to log out" in result.stderr


# --- debug output ----------------------------------------------------------------------------------


def test_debug_masks_secrets(home: Home, serve: Serve) -> None:
    server = serve(access_token_lifetime=300)
    result = login(home, server, "--profile", "dev", "--debug")
    token = home.token()
    result2 = run(["token", "--debug", "--profile", "dev"], home.env(server))
    result3 = run(["credentials", "--debug", "--profile", "dev"], home.env(server))
    logs = result.stderr + result2.stderr + result3.stderr
    assert "POST " + server.url + "/token -> 200" in logs
    assert "GET " + server.url + "/federation/credentials" in logs
    fresh = home.token()
    creds = json.loads(result3.stdout)
    for secret in (token.access_token, token.refresh_token, token.client_secret, fresh.access_token,
                   fresh.refresh_token, creds["SecretAccessKey"], creds["SessionToken"]):  # fmt: skip
        assert secret
        assert secret not in logs


def test_demo_runs_the_real_commands() -> None:
    result = subprocess.run(
        [*SSOOIDC, "demo"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "PYTHONPYCACHEPREFIX": str(PYCACHE)},
    )
    assert result.returncode == 0, result.stderr
    for step in ("$ ssooidc login", "$ ssooidc token", "$ ssooidc credentials", "$ ssooidc logout"):
        assert step in result.stdout
    counts = json.loads(result.stdout.strip().splitlines()[-1])["requests"]
    assert counts["GetRoleCredentials"] == 1
    assert counts["Logout"] == 1
    assert counts["RegisterClient"] == 1


def test_simulate_serves_the_other_commands(home: Home, tmp_path: Path) -> None:
    """``ssooidc simulate`` prints the endpoints and a config; login and credentials work against it."""
    served = subprocess.Popen(
        [*SSOOIDC, "simulate"], env=home.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert served.stdout is not None
        lines = [served.stdout.readline() for _ in range(16)]
        url = lines[0].split()[-1]
        blank = [n for n, line in enumerate(lines) if line == "\n"]
        home.config.write_text("".join(lines[blank[0] + 1 : blank[2]]))
        browser, _ = fake_browser(tmp_path)
        env = home.env(AWS_ENDPOINT_URL_SSO_OIDC=url, AWS_ENDPOINT_URL_SSO=url, BROWSER=browser)
        result = run(["login", "--profile", "sim"], env)
        assert result.returncode == 0, result.stderr
        result = run(["credentials", "--profile", "sim"], env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["Version"] == 1
        served.send_signal(signal.SIGINT)
        assert served.wait(10) == 0
    finally:
        served.kill()
        served.communicate()


def test_refreshed_token_that_cannot_be_cached_is_still_used(
    home: Home, serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: the disk is full when the refreshed token is written. The new token is printed
    (the old refresh token may be spent), the old file is kept, and the warning says what happened."""
    import errno
    import io

    from sansio_ssooidc.adapters import cache
    from sansio_ssooidc.adapters.cli import Context
    from sansio_ssooidc.adapters.cli import run as cli_run

    server = serve()
    before = seed_login(home, server)
    home.make_due()

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache.os, "fsync", full)
    out, err = io.StringIO(), io.StringIO()
    code = cli_run(Context(environ=home.env(server), stdout=out, stderr=err), ["token", "--profile", "dev"])
    assert code == 0
    assert out.getvalue().strip() not in ("", before.access_token)
    assert "No space left on device; free some disk space" in err.getvalue()
    assert "the refreshed token is used but not cached" in err.getvalue()
    assert home.token().access_token == before.access_token  # the previous file is unchanged
    assert server.simulator.refreshes == 1


@pytest.mark.parametrize(
    ("environ", "platform", "wsl", "container", "expected"),
    [
        ({"DISPLAY": ":0"}, "linux", False, False, (True, "a graphical display")),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False, True, (True, "a graphical display")),
        ({}, "linux", False, False, (False, "no display (DISPLAY and WAYLAND_DISPLAY are unset)")),
        ({}, "linux", False, True, (False, "a container without a display")),
        ({"DISPLAY": ":0", "SSH_CONNECTION": "a b c d"}, "linux", False, False, (False, "an SSH session")),
        ({"SSH_TTY": "/dev/pts/1"}, "darwin", False, False, (False, "an SSH session")),
        ({}, "darwin", False, False, (True, "darwin")),
        ({}, "linux", True, False, (True, "WSL (the Windows browser)")),
        ({"SSH_CLIENT": "x", "BROWSER": "lynx"}, "linux", False, True, (True, "BROWSER is set")),
    ],
)
def test_browser_detection(
    monkeypatch: pytest.MonkeyPatch,
    environ: dict[str, str],
    platform: str,
    wsl: bool,
    container: bool,
    expected: tuple[bool, str],
) -> None:
    from sansio_ssooidc.adapters import _cli_login

    monkeypatch.setattr(_cli_login.sys, "platform", platform)
    monkeypatch.setattr(_cli_login, "_is_wsl", lambda environ: wsl)
    monkeypatch.setattr(_cli_login.os.path, "exists", lambda path: container)
    available, why = _cli_login.browser_available(environ)
    assert available == expected[0]
    assert why.startswith(expected[1])


def test_wsl_opens_the_windows_browser(tmp_path: Path) -> None:
    from sansio_ssooidc.adapters import _cli_login

    log = tmp_path / "wslview.log"
    wslview = tmp_path / "wslview"
    wslview.write_text(f'#!/bin/sh\necho "$1" > {log}\n')
    wslview.chmod(0o755)
    environ = {"WSL_DISTRO_NAME": "Ubuntu", "PATH": str(tmp_path)}
    assert _cli_login.browser_available(environ)[0]
    _cli_login.open_browser("https://example.com/start?a=1&b=2", environ)
    deadline = time.monotonic() + 10
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert log.read_text() == "https://example.com/start?a=1&b=2\n"


def test_scopes_flag_overrides_the_config(home: Home, serve: Serve, tmp_path: Path) -> None:
    server = serve(user=UserScript())
    browser, log = fake_browser(tmp_path)
    scopes = ["sso:account:access", "codewhisperer:completions"]
    result = run(
        ["login", "--sso-session", "dev", "--scopes", ",".join(scopes)], home.env(server, BROWSER=browser)
    )
    assert result.returncode == 0, result.stderr
    assert "scopes=sso%3Aaccount%3Aaccess+codewhisperer%3Acompletions" in log.read_text()
    registration = oidc.load_registration(home.registration_path(scopes=scopes).read_text())
    assert registration.scopes == tuple(scopes)
    assert server.simulator.token_scopes(home.token().access_token) == tuple(scopes)


def test_token_for_another_start_url_needs_a_login(home: Home) -> None:
    home.write_token(start_url="https://d-0000000000.awsapps.com/start")
    result = run(["token", "--profile", "dev"], home.env())
    assert result.returncode == 1
    assert "the cached token was issued for start URL https://d-0000000000.awsapps.com/start" in result.stderr
    home.write_token(start_url=START_URL + "/")  # the same portal, written with a trailing slash
    assert run(["token", "--profile", "dev"], home.env()).returncode == 0
