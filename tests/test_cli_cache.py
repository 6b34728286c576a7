"""The on-disk store (``sansio_ssooidc.adapters.cache``): atomic private writes, corrupt or unreadable
files as misses, typed write errors that keep the old file, and locks that exclude other processes."""

from __future__ import annotations

import errno
import logging
import os
import stat
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sansio_ssooidc.adapters import cache
from sansio_ssooidc.adapters.cache import CacheDir, CacheLockTimeout, CacheWriteError, Store

import sansio_ssooidc as oidc

NOW = datetime.now(timezone.utc).replace(microsecond=0)
TOKEN = oidc.CachedToken(
    start_url="https://d-1234567890.awsapps.com/start",
    region="us-east-1",
    access_token="aoaSECRET",
    expires_at=NOW + timedelta(hours=1),
    client_id="cid",
    client_secret="csecret",
    registration_expires_at=NOW + timedelta(days=90),
    refresh_token="aorSECRET",
)
KEY = oidc.token_cache_key(session_name="dev")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(str(tmp_path))


def test_write_is_private_and_exact(store: Store, tmp_path: Path) -> None:
    store.save_token(KEY, TOKEN)
    path = tmp_path / ".aws" / "sso" / "cache" / KEY
    assert path.read_text() == oidc.dump_token(TOKEN)  # byte for byte what botocore writes
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.load_token(KEY) == TOKEN
    assert os.listdir(path.parent) == [KEY]  # no temporary file left


def test_rewrite_repairs_permissions(store: Store) -> None:
    store.save_token(KEY, TOKEN)
    path = Path(store.sso.file(KEY))
    path.chmod(0o644)
    store.save_token(KEY, TOKEN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b'{"accessToken": 1}',
        b"[]",
        b"\xff\xfe not utf-8",
        b'{"expiresAt": "2024-01-01T00:00:00Z"}',
    ],
)
def test_corrupt_file_is_a_miss_with_a_warning(
    store: Store, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store.sso.ensure()
    Path(store.sso.file(KEY)).write_bytes(content)
    with caplog.at_level(logging.WARNING, "sansio_ssooidc"):
        assert store.load_token(KEY) is None
    assert KEY in caplog.text
    store.save_token(KEY, TOKEN)  # the next write repairs it
    assert store.load_token(KEY) == TOKEN


def test_missing_is_a_silent_miss(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, "sansio_ssooidc"):
        assert store.load_token(KEY) is None
        assert store.load_registration("nope.json") is None
        assert store.load_role_credentials("nope.json") is None
    assert caplog.text == ""


def test_unreadable_and_strange_files(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    store.sso.ensure()
    os.mkdir(store.sso.file(KEY))  # a directory where the file should be
    with caplog.at_level(logging.WARNING, "sansio_ssooidc"):
        assert store.load_token(KEY) is None
    assert "not a regular file" in caplog.text
    os.rmdir(store.sso.file(KEY))
    Path(store.sso.file(KEY)).write_bytes(b" " * (cache.MAX_FILE_SIZE + 1))
    assert store.load_token(KEY) is None
    assert "too large" in caplog.text


def test_group_readable_secret_warns(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    store.save_token(KEY, TOKEN)
    os.chmod(store.sso.file(KEY), 0o640)
    with caplog.at_level(logging.WARNING, "sansio_ssooidc"):
        assert store.load_token(KEY) == TOKEN  # still used
    assert "readable by other users (mode 640)" in caplog.text
    assert f"chmod 600 {store.sso.file(KEY)}" in caplog.text


@pytest.mark.parametrize(
    ("code", "fix"),
    [(errno.ENOSPC, "free some disk space"), (errno.EACCES, "make the directory writable by you")],
)
def test_write_errors_are_typed_and_keep_the_old_file(
    store: Store, monkeypatch: pytest.MonkeyPatch, code: int, fix: str
) -> None:
    store.save_token(KEY, TOKEN)
    newer = oidc.CachedToken(access_token="aoaNEWER", expires_at=NOW + timedelta(hours=2))

    def fail(fd: int) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(cache.os, "fsync", fail)  # the disk fills up (or the quota runs out) mid-write
    with pytest.raises(CacheWriteError) as caught:
        store.save_token(KEY, newer)
    assert caught.value.errno == code
    assert fix in str(caught.value)
    assert "the previous file is unchanged" in str(caught.value)
    assert str(caught.value).startswith(f"cannot write {store.sso.file(KEY)}: {os.strerror(code)}")
    monkeypatch.undo()
    assert store.load_token(KEY) == TOKEN
    assert os.listdir(store.sso.path) == [KEY]  # the temporary file was removed


def test_permission_denied_directory(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    real_open = os.open

    def deny(path: str, flags: int, mode: int = 0o777, **kw: object) -> int:
        if str(path).endswith(".tmp"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        return real_open(path, flags, mode)

    monkeypatch.setattr(cache.os, "open", deny)  # (tests run as root: chmod cannot deny root)
    with pytest.raises(CacheWriteError) as caught:
        store.save_token(KEY, TOKEN)
    assert caught.value.errno == errno.EACCES
    assert "Permission denied" in str(caught.value)


def test_interrupted_write_leaves_no_temporary_file(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.save_token(KEY, TOKEN)

    def interrupt(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        store.save_token(KEY, oidc.CachedToken(access_token="aoaX", expires_at=NOW))
    monkeypatch.undo()
    assert os.listdir(store.sso.path) == [KEY]
    assert store.load_token(KEY) == TOKEN


def test_role_credentials_and_registrations_round_trip(store: Store, tmp_path: Path) -> None:
    creds = oidc.CachedRoleCredentials(
        access_key_id="ASIAX",
        secret_access_key="s",
        session_token="t",
        expiration=NOW,
        account_id="111111111111",
    )
    store.save_role_credentials("k.json", creds)
    assert (tmp_path / ".aws" / "cli" / "cache" / "k.json").exists()
    assert store.load_role_credentials("k.json") == creds
    reg = oidc.CachedRegistration(client_id="c", client_secret="s", expires_at=NOW, scopes=("a",))
    store.save_registration("r.json", reg)
    assert store.load_registration("r.json") == reg
    assert list(store.sso.names()) == ["r.json"]
    assert store.sso.remove("r.json") is True
    assert store.sso.remove("r.json") is False


@pytest.mark.parametrize("name", ["", "../x.json", ".hidden.json", "a/b.json"])
def test_bad_names_are_refused(store: Store, name: str) -> None:
    with pytest.raises(oidc.ParameterError):
        store.sso.file(name)


def test_lock_excludes_another_process(tmp_path: Path) -> None:
    directory = CacheDir(str(tmp_path / "cache"))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""\
                import sys, time
                from sansio_ssooidc.adapters.cache import CacheDir
                with CacheDir({directory.path!r}).lock("k.json") as lock:
                    lock.write_note({{"attempt": 1.5, "token": "abc"}})
                    print("locked", flush=True)
                    sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    with holder:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(CacheLockTimeout, match="wait for it to finish or stop it") as caught:
            directory.lock("k.json", timeout=0.2)
        # A live process holds it (an flock ends with its holder): never advise deleting the file.
        message = str(caught.value)
        assert "delete that file" not in message
        assert "still running" in message
        assert "ssooidc" in message
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(10) == 0
    with directory.lock("k.json", timeout=5) as lock:  # released when the holder let go
        assert lock.read_note() == {"attempt": 1.5, "token": "abc"}
        lock.write_note({})
        assert lock.read_note() == {}
    assert sorted(os.listdir(directory.path)) == ["k.lock"]
