"""Review fixes: ``AWS_CONFIG_FILE`` expanded as botocore expands it (from the CLI's environment), a
config path that is a directory, ``ssooidc simulate``'s bad ``--state`` files and ports, and token
cache files with an empty access token (refused by the core's ``load_token`` and the fast path)."""

from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sansio_ssooidc.adapters import _cli_fast
from sansio_ssooidc.adapters._cli_config import Context

import sansio_ssooidc as oidc
from tests.clikit import START_URL, Home, run


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def _one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The one line on stderr of a command that failed with ``code`` (no traceback)."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("ssooidc: ")
    assert result.stderr.count("\n") == 1, result.stderr
    return result.stderr


# --- 1. AWS_CONFIG_FILE: $VAR, ${VAR}, ~ and ~user, as botocore's raw_config_parse ------------------------


@pytest.mark.parametrize(
    "configured", ["$HOME/.aws/config-sso", "${HOME}/.aws/config-sso", "${AWS_DIR}/config-sso"]
)
def test_config_file_variables_are_expanded(home: Home, configured: str) -> None:
    """Both the fast path (fresh token) and the full path (``--debug`` turns the fast path off)."""
    home.config.rename(home.config.with_name("config-sso"))
    token = home.write_token()
    env = home.env(AWS_CONFIG_FILE=configured, AWS_DIR="~/.aws")
    for args in (["token", "--profile", "dev"], ["token", "--debug", "--profile", "dev"]):
        result = run(args, env)
        assert result.returncode == 0, result.stderr
        assert result.stdout == token.access_token + "\n"


def test_expansion_reads_the_cli_environment_not_the_process_one(home: Home) -> None:
    env = {"HOME": str(home.root), "AWS_CONFIG_FILE": "$HOME/.aws/config", "AWS_PROFILE": "dev"}
    assert os.environ.get("HOME") != str(home.root)
    assert Context(environ=env).config_path == str(home.config)
    token = home.write_token()
    assert _cli_fast.token_output(["token"], env, time.time) == token.access_token + "\n"


def _user_home() -> tuple[str, str]:
    entry = pwd.getpwuid(os.getuid())
    return entry.pw_name, entry.pw_dir.rstrip("/")


@pytest.mark.parametrize(
    "configured",
    [
        "$HOME/c",
        "${HOME}/c",
        "$HOME",
        "~",
        "~/c",
        "~/",
        "~me/c",
        "~me",
        "~no-such-user-ssooidc/c",
        "$NOPE/c",
        "${NOPE}/c",
        "${}/c",
        "$/c",
        "a$",
        "$TILDE/c",
        "~$USER/c",
        "$A$B/c",
        "${A}x$B",
        "$LOOP/c",
        "/plain/c",
        "rel/c",
    ],
)
@pytest.mark.parametrize("home_dir", ["/h/me", "/h/me/", "/"])
def test_config_path_expands_as_botocore(
    monkeypatch: pytest.MonkeyPatch, configured: str, home_dir: str
) -> None:
    """botocore: ``os.path.expanduser(os.path.expandvars(path))`` over the process environment; here the
    same over the CLI's environment mapping (one function for the fast and the full path)."""
    user, _ = _user_home()
    configured = configured.replace("~me", f"~{user}")
    env = {
        "HOME": home_dir,
        "AWS_CONFIG_FILE": configured,
        "TILDE": "~",
        "USER": user,
        "A": "/x",
        "B": "y",
        "LOOP": "$LOOP",
    }
    monkeypatch.setattr(os, "environ", env)
    expected = os.path.expanduser(os.path.expandvars(configured))
    assert Context(environ=dict(env)).config_path == expected
    assert _cli_fast.config_path(dict(env), home_dir) == expected


def test_unknown_user_is_left_alone_and_reported(home: Home) -> None:
    stderr = _one_line_error(
        run(["token", "--profile", "dev"], home.env(AWS_CONFIG_FILE="~no-such-user-ssooidc/config")), 2
    )
    assert "The config file ~no-such-user-ssooidc/config does not exist" in stderr


# --- 2. a config path that is a directory ------------------------------------------------------------------


def test_config_file_that_is_a_directory(home: Home) -> None:
    stderr = _one_line_error(
        run(["token", "--profile", "dev"], home.env(AWS_CONFIG_FILE=str(home.config.parent))), 2
    )
    assert f"The config file {home.config.parent} is a directory" in stderr
    assert "point AWS_CONFIG_FILE at the config file itself" in stderr
    assert "permission" not in stderr


def test_default_config_path_that_is_a_directory(home: Home) -> None:
    home.config.unlink()
    home.config.mkdir()
    env = home.env()
    del env["AWS_CONFIG_FILE"]
    stderr = _one_line_error(run(["token", "--profile", "dev"], env), 2)
    assert f"The config file {home.config} is a directory; move it aside" in stderr
    assert "permission" not in stderr


def test_config_file_that_is_not_utf8(home: Home) -> None:
    home.config.write_bytes(b"[default]\nregion = \xff\n")
    stderr = _one_line_error(run(["token"], home.env()), 2)
    assert "is not UTF-8 text" in stderr
    assert "save it as UTF-8" in stderr


# --- 3. ssooidc simulate: bad --state files and ports ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON (Expecting property name"),
        ("{}", "is not a simulator state saved by ssooidc simulate"),
        ("[1, 2]", "is not a simulator state saved by ssooidc simulate"),
        ("[" * 100_000, "is not JSON"),
        (b"\xff\xfe", "is not JSON"),
    ],
)
def test_simulate_with_an_unusable_state_file(home: Home, content: str | bytes, message: str) -> None:
    state = home.root / "state.json"
    if isinstance(content, bytes):
        state.write_bytes(content)
    else:
        state.write_text(content)
    stderr = _one_line_error(run(["simulate", "--state", str(state)], home.env(), timeout=20), 2)
    assert message in stderr
    assert f"delete or move {state} to start afresh there, or pass another --state FILE" in stderr
    # Left as it was: the user may want what is in it.
    assert state.read_bytes() == (content if isinstance(content, bytes) else content.encode())


def test_simulate_with_a_state_directory(home: Home) -> None:
    stderr = _one_line_error(run(["simulate", "--state", str(home.root)], home.env(), timeout=20), 2)
    assert f"--state {home.root} is a directory; pass a file path" in stderr


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_simulate_with_a_bad_port(home: Home, port: str) -> None:
    result = run(["simulate", "--port", port], home.env(), timeout=20)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"argument --port: {port!r} is not a port number (0..65535)" in result.stderr


def test_simulate_on_a_port_in_use(home: Home) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        state = home.root / "state.json"
        result = run(["simulate", "--port", str(port), "--state", str(state)], home.env(), timeout=20)
    stderr = _one_line_error(result, 1)
    assert f"cannot listen on 127.0.0.1 port {port}" in stderr
    assert "pass another --host (a local address) or --port (0: any free port)" in stderr
    assert not state.exists()  # nothing was served: no state saved


# --- 4. an empty access token is no token -------------------------------------------------------------------


def _doc(**changes: object) -> str:
    now = datetime.now(timezone.utc)
    doc = {
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": "aoaCACHEDTOKEN",
        "expiresAt": (now + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "clientId": "client-id",
        "clientSecret": "client-secret",
        "registrationExpiresAt": (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "refreshToken": "aorREFRESH",
    }
    doc.update(changes)
    return json.dumps(doc)


def test_load_token_refuses_an_empty_access_token() -> None:
    with pytest.raises(oidc.CacheFileError, match="accessToken is empty; log in again") as caught:
        oidc.load_token(_doc(accessToken=""), source="/c/t.json")
    assert caught.value.reason == "accessToken is empty"
    # An optional member may be empty (botocore writes what the service sent).
    assert oidc.load_token(_doc(refreshToken="")).refresh_token == ""


def test_other_cache_files_refuse_empty_required_strings() -> None:
    registration = {"clientId": "", "clientSecret": "s", "expiresAt": "2099-01-01T00:00:00Z"}
    with pytest.raises(oidc.CacheFileError, match="clientId is empty"):
        oidc.load_registration(json.dumps(registration))
    credentials = {
        "AccessKeyId": "ASIA",
        "SecretAccessKey": "",
        "SessionToken": "t",
        "Expiration": "2099-01-01T00:00:00Z",
    }
    with pytest.raises(oidc.CacheFileError, match="SecretAccessKey is empty"):
        oidc.load_role_credentials(json.dumps({"ProviderType": "sso", "Credentials": credentials}))


@pytest.mark.parametrize("args", [["token", "--profile", "dev"], ["token", "--json", "--profile", "dev"]])
def test_token_with_an_empty_access_token_needs_a_login(home: Home, args: list[str]) -> None:
    home.sso_cache.mkdir(parents=True)
    home.token_path().write_text(_doc(accessToken=""))
    home.token_path().chmod(0o600)
    env = home.env()
    assert _cli_fast.token_output(args, env, time.time) is None
    result = run(args, env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "unusable: accessToken is empty" in result.stderr
    assert (
        result.stderr.rstrip("\n")
        .splitlines()[-1]
        .startswith(
            'ssooidc: login required for sso-session "dev" (profile "dev"): there is no usable cached token'
        )
    )
    assert "run: ssooidc login --profile dev" in result.stderr
