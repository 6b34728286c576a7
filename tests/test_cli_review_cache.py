"""Review fixes around the cache, through the installed ``ssooidc`` and real files:

- ``logout`` (every form) deletes the SSO role credentials in ``~/.aws/cli/cache``, as ``aws sso logout``
  does, and leaves every other file there alone;
- an advisory refresh whose cache lock cannot be taken hands out the still-valid token with a warning;
- a temporary file of a writer in another pid namespace (a container sharing ``~/.aws``) is not swept
  while fresh, an old one is;
- (the lock-timeout error, which must not advise deleting the lock file, is checked by
  tests/test_cli_cache.py::test_lock_excludes_another_process).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sansio_ssooidc.adapters.simserver import SimulatorServer

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import UserScript
from tests.clikit import SSOOIDC, Home, RecordingSimulator, files, run, seed_login

Serve = Callable[..., SimulatorServer]

CREDS_KEY = oidc.role_credentials_cache_key(
    account_id="111111111111", role_name="ReadOnlyAccess", session_name="dev"
)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.fixture
def serve(ssooidc_simulator_factory: Serve) -> Serve:
    def start(**config: Any) -> SimulatorServer:
        config.setdefault("user", UserScript(on_visit=False, after_polls=0))
        return ssooidc_simulator_factory(RecordingSimulator(**config))

    return start


def _dead_pid() -> int:
    """A pid no process here has (that of a child already reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    return int(done.stdout)


# --- 1. logout sweeps the SSO role credentials ------------------------------------------------------


def test_logout_removes_cached_sso_role_credentials(home: Home, serve: Serve) -> None:
    server = serve()
    seed_login(home, server)
    assert run(["credentials", "--profile", "dev"], home.env(server)).returncode == 0
    assert (home.cli_cache / CREDS_KEY).exists()
    # What the sweep must leave alone: other providers' credentials, non-JSON, unreadable, directories.
    strangers = {
        "assume-role.json": json.dumps({"ProviderType": "assume-role", "Credentials": {}}),
        "garbage.json": "{not json",
        "list.json": "[1, 2]",
        "notes.txt": "hello",
    }
    for name, text in strangers.items():
        (home.cli_cache / name).write_text(text)
    (home.cli_cache / "directory.json").mkdir()

    result = run(["logout", "--profile", "dev"], home.env(server))
    assert result.returncode == 0, result.stderr
    assert not (home.cli_cache / CREDS_KEY).exists()
    assert "cached SSO role credentials" in result.stderr
    for name, text in strangers.items():
        assert (home.cli_cache / name).read_text() == text
    assert (home.cli_cache / "directory.json").is_dir()

    after = run(["credentials", "--profile", "dev"], home.env(server))
    assert after.returncode == 1
    assert "login required" in after.stderr
    assert after.stdout == ""


@pytest.mark.parametrize("form", [["--all"], ["--profile", "dev"]])
def test_logout_sweeps_even_with_no_token_left(home: Home, serve: Serve, form: list[str]) -> None:
    """``aws sso logout`` sweeps the role credentials whatever the token cache holds; so do all forms."""
    server = serve()
    seed_login(home, server)
    assert run(["credentials", "--profile", "dev"], home.env(server)).returncode == 0
    home.token_path().unlink()  # the token file went some other way; its role credentials stayed
    result = run(["logout", *form], home.env(server))
    assert result.returncode == 0, result.stderr
    assert "nothing to log out" in result.stderr
    assert not (home.cli_cache / CREDS_KEY).exists()


# --- 2. an advisory refresh without the lock ------------------------------------------------------


def test_advisory_refresh_without_the_lock_uses_the_valid_token(home: Home, serve: Serve) -> None:
    server = serve()
    token = seed_login(home, server)
    lock = home.sso_cache / (home.token_path().stem + ".lock")
    lock.unlink(missing_ok=True)
    lock.mkdir()  # the lock file cannot be opened (as in a read-only cache directory)
    home.make_due(minutes=12)  # advisory window: still valid, botocore would keep using it
    result = run(["token", "--profile", "dev"], home.env(server))
    assert result.returncode == 0, result.stderr
    assert result.stdout == token.access_token + "\n"
    assert str(lock) in result.stderr
    assert "warning" in result.stderr.lower()
    assert server.simulator.requests["CreateToken"] == 1  # the login's, no refresh without the lock

    home.make_due(minutes=5)  # mandatory window: no token is printed, and the error says why
    result = run(["token", "--profile", "dev"], home.env(server))
    assert result.returncode == 1
    assert result.stdout == ""
    assert str(lock) in result.stderr


# --- 3. temporary files of writers in other pid namespaces ------------------------------------------


def test_a_fresh_temporary_file_of_an_unknown_writer_is_kept_an_old_one_swept(
    home: Home, serve: Serve
) -> None:
    """A pid that does not exist here may be a live writer in a container or on another host sharing
    ``~/.aws``: its fresh temporary file must survive our write of the same file."""
    server = serve()
    seed_login(home, server)
    key = home.token_path().name
    pid = _dead_pid()
    fresh = home.sso_cache / f".{key}.{pid}.0badcafe.tmp"
    old = home.sso_cache / f".{key}.{pid}.0c0ffee0.tmp"
    for path in (fresh, old):
        path.write_text('{"accessToken": "CANARY-in-flight"')
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    home.make_due(minutes=5)
    result = run(["token", "--profile", "dev"], home.env(server))  # refreshes: writes the token file
    assert result.returncode == 0, result.stderr
    assert server.simulator.requests["CreateToken"] == 2
    assert fresh.exists()
    assert not old.exists()


def _unshare() -> list[str]:
    command = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc"]
    if shutil.which("unshare") is None:
        pytest.skip("no unshare command")
    probe = subprocess.run([*command, "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"cannot create user and pid namespaces: {probe.stderr.decode().strip()}")
    return command


#: A writer that stops inside its write (the temporary file complete, before the rename) until told.
_PAUSED_WRITER = """\
import os, sys
from datetime import datetime, timedelta, timezone
import sansio_ssooidc as oidc
from sansio_ssooidc.adapters.cache import Store
real_fsync, paused = os.fsync, []
def fsync(fd):
    real_fsync(fd)
    if not paused:
        paused.append(fd)
        print("paused", flush=True)
        sys.stdin.readline()
os.fsync = fsync
now = datetime.now(timezone.utc)
token = oidc.CachedToken(
    start_url="https://d-1234567890.awsapps.com/start", region="us-east-1", access_token="aoaHOSTWRITER",
    expires_at=now + timedelta(hours=1), client_id="cid", client_secret="cs",
    registration_expires_at=now + timedelta(days=30), refresh_token="aorHOST",
)
Store(sys.argv[1]).save_token(sys.argv[2], token)
print("written", flush=True)
"""


def test_a_live_writer_in_another_pid_namespace_keeps_its_temporary_file(home: Home, serve: Serve) -> None:
    """The writer runs here, mid-write; ``ssooidc token`` runs in a new pid namespace (as in a container
    sharing ``~/.aws``), where the writer's pid does not exist, and writes the same file."""
    unshare = _unshare()
    server = serve()
    seed_login(home, server)
    key = home.token_path().name
    writer = subprocess.Popen(
        [sys.executable, "-c", _PAUSED_WRITER, str(home.root), key],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    with writer:
        assert writer.stdout is not None
        assert writer.stdin is not None
        assert writer.stdout.readline() == "paused\n"
        assert [name for name in files(home.sso_cache) if name.endswith(".tmp")]
        home.make_due(minutes=5)
        result = subprocess.run(
            [*unshare, *SSOOIDC, "token", "--profile", "dev"],
            env=home.env(server),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert server.simulator.requests["CreateToken"] == 2  # it refreshed, and wrote the file
        writer.stdin.write("\n")
        writer.stdin.flush()
        assert writer.wait(30) == 0, writer.stderr.read() if writer.stderr else ""
    assert home.token().access_token == "aoaHOSTWRITER"  # the paused write was not lost
    assert not [name for name in files(home.sso_cache) if name.endswith(".tmp")]
