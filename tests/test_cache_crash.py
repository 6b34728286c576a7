"""Crash safety of the cache (``sansio_ssooidc.adapters.cache``), with real processes and real faults.

**SIGKILL trials.** A writer process rewrites a token file and a registration file in a loop through the
real :class:`~sansio_ssooidc.adapters.cache.Store`, alternating large contents A and B (each a valid file;
every generation distinct), and reports each finished write on a pipe. The test kills it with ``SIGKILL``
after a random (seeded) delay, then checks that each file is

- absent only if the writer never finished a write of it (and the directory held none before);
- otherwise byte for byte one of the writer's contents: the last it reported, or the one in flight (the
  rename happened, the report did not), or the previous trial's file if it had finished nothing; so it
  parses completely (``json`` and the library's ``load_token`` / ``load_registration``) and no finished
  write is lost;
- mode 0600 in a 0700 directory, read back by ``Store`` without a warning.

A kill between the temporary file's creation and the rename leaves that temporary file behind. What the
cache guarantees about it, and what is checked: it is a hidden ``.<name>.<pid>.<hex>.tmp`` file, mode 0600,
holding a prefix of the content in flight; it is never a cache entry (botocore and the AWS CLI open
``<sha1>.json`` by name, and ``CacheDir.names()`` skips it); the next write of the same file succeeds
and deletes it, since its writer is dead (it may hold a copy of a secret), as ``ssooidc logout`` does.
Three in four trials reuse one directory (as in a real ``~/.aws/sso/cache``); every
fourth starts in an empty one, so kills also land before and inside the first write.

Figures (seed 0, 300 trials, 2 cores shared with other jobs, ext4; the test prints them, run it with ``-s``):
every kill hit a writer still running; 300 of 300 trials left both files intact, 0 corrupt, partial or lost.
Kill points over three runs (they move with the machine's load): mid-write, temporary file partial 12-31;
temporary file complete, before the rename (mostly inside ``fsync``) 81-131; after the rename, before its
report 49-64; between writes 36-107; before the writer's first temporary file 32-57. Temporary files left:
112-143. The trials take 5-12 s.

**Real faults** (no monkeypatching; ``tests/test_cli_cache.py`` covers the same paths by monkeypatch):

- ``EFBIG``: a writer under ``RLIMIT_FSIZE`` (``ulimit -f``), a real short write then a failed one;
- ``ENOSPC``: a writer on a full 1 MiB tmpfs, mounted in a user and mount namespace (``unshare -rm``);
  skipped where unprivileged namespaces are not allowed (for instance Ubuntu 24.04's AppArmor default);
- ``EACCES``: a writer whose cache directory it owns is mode 0500 (when the suite runs as root, the writer
  drops to uid 65534 first, since root ignores permission bits).

Each gives a :class:`CacheWriteError` naming the file and the fix, keeps the previous file byte for byte,
leaves no temporary file, and the next write (once the fault is gone) succeeds.

A corrupt file is a miss and is replaced at the next write: ``tests/test_cli_cache.py::
test_corrupt_file_is_a_miss_with_a_warning`` (hand-made corruptions), ``tests/test_cli.py::
test_corrupt_registration_is_a_miss_and_is_repaired`` (through the CLI) and
``tests/fuzz/test_parsers.py::test_cache_files`` (fuzzed); here, every truncation of a real token file.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sansio_ssooidc.adapters.cache import CacheWriteError, Store, _writer_tag

import sansio_ssooidc as oidc

TRIALS = 300
SEED = 0
#: Kill delays are spread over [0, MAX_DELAY): a few write cycles of the writer (~1.5 ms per file here).
MAX_DELAY = 0.012
#: A writer that was somehow never killed stops by itself after this many cycles (and the test fails).
MAX_GENERATIONS = 20_000

TOKEN_KEY = oidc.token_cache_key(session_name="crash")
REG_KEY = oidc.registration_cache_key(
    session_name="crash", start_url="https://d-1.awsapps.com/start", region="us-east-1", scopes=None
)
EXPIRES = datetime(2030, 1, 1, tzinfo=timezone.utc)
TEMP_NAME = re.compile(r"\.(?P<name>[0-9a-f]{40}\.json)\.(?P<pid>[0-9]+)\.[0-9a-f]{8}\.tmp")
NOBODY = 65534


def _filler(trial: int, generation: int, size: int) -> str:
    """``size`` characters that differ for every (trial, generation), all along their length."""
    unit = f"{trial}.{generation}."
    return (unit * (size // len(unit) + 1))[:size]


def make_token(trial: int, generation: int) -> oidc.CachedToken:
    """Content A (96 KiB access token) for even generations, B (224 KiB) for odd ones."""
    size = (96 if generation % 2 == 0 else 224) * 1024
    return oidc.CachedToken(
        start_url="https://d-1.awsapps.com/start",
        region="us-east-1",
        access_token="aoa" + _filler(trial, generation, size),
        expires_at=EXPIRES,
        client_id=f"cid-{trial}-{generation}",
        client_secret="cs" + _filler(trial, generation, 1024),
        registration_expires_at=EXPIRES,
        refresh_token="aor" + _filler(trial, generation, 2048),
    )


def make_registration(trial: int, generation: int) -> oidc.CachedRegistration:
    size = (32 if generation % 2 == 0 else 8) * 1024
    return oidc.CachedRegistration(
        client_id=f"cid-{trial}-{generation}",
        client_secret="cs" + _filler(trial, generation, size),
        expires_at=EXPIRES,
        scopes=("sso:account:access",),
    )


# --- the processes the tests start (``python tests/test_cache_crash.py MODE ...``) ----------------------


def _writer(home: str, trial: int, progress: int) -> NoReturn:
    """Rewrite both files forever, one byte on ``progress`` after each finished write."""
    try:
        store = Store(home)
        os.write(progress, b"s")  # started: the kill delay counts from here
        for generation in range(MAX_GENERATIONS):
            store.save_token(TOKEN_KEY, make_token(trial, generation))
            os.write(progress, b"t")
            store.save_registration(REG_KEY, make_registration(trial, generation))
            os.write(progress, b"r")
    except BaseException:
        traceback.print_exc()
        os._exit(2)
    os._exit(3)


def _launcher() -> None:
    """Fork a writer per trial (imports paid once); the test kills it, this process reaps it and reports.

    Protocol on stdin/stdout, one line each: ``<home>\\t<trial>`` -> ``<pid>`` (once the writer has
    started); ``reap`` -> a JSON report.
    """
    while line := sys.stdin.readline():
        home, trial = line.rstrip("\n").split("\t")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            _writer(home, int(trial), write_end)
        os.close(write_end)
        started = os.read(read_end, 1)
        print(pid if started == b"s" else -1, flush=True)
        if sys.stdin.readline() != "reap\n":
            raise SystemExit("protocol error")
        _, status = os.waitpid(pid, 0)  # the pid stays ours until reaped, so the kill hit the writer
        chunks = []
        while chunk := os.read(read_end, 65536):
            chunks.append(chunk)
        os.close(read_end)
        progress = b"".join(chunks)
        report = {
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "exit": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "tokens": progress.count(b"t"),
            "registrations": progress.count(b"r"),
        }
        print(json.dumps(report), flush=True)


def _write_failure_report(store: Store, new: oidc.CachedToken) -> dict[str, Any]:
    try:
        store.save_token(TOKEN_KEY, new)
    except CacheWriteError as exc:
        return {"errno": exc.errno, "path": exc.path, "message": str(exc), "type": type(exc).__name__}
    return {"errno": None}


def _efbig(home: str) -> None:
    """Write a large token under a 4 KiB file size limit: one short write, then a real EFBIG."""
    store = Store(home)
    new = make_token(1, 1)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # (Python ignores it already) EFBIG, not a signal
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
    print(json.dumps(_write_failure_report(store, new)), flush=True)


def _eacces(home: str) -> None:
    """Write into a cache directory that denies us write permission (as uid 65534 if started as root)."""
    store = Store(home)
    new = make_token(1, 1)
    if os.geteuid() == 0:
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        except OSError as exc:
            print(json.dumps({"unavailable": f"cannot drop root privileges: {exc}"}), flush=True)
            return
    print(json.dumps(_write_failure_report(store, new)), flush=True)


def _enospc(home: str) -> None:
    """On a fresh tmpfs at ``home``: write a token, fill the disk, try a new token, free space, retry."""
    store = Store(home)
    old, new = make_token(0, 0), make_token(1, 1)
    store.save_token(TOKEN_KEY, old)
    filler = os.path.join(home, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    failure = None
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        failure = exc.errno
    finally:
        os.close(fd)
    assert failure == errno.ENOSPC, failure
    report = _write_failure_report(store, new)
    report["previous_intact"] = Path(store.sso.file(TOKEN_KEY)).read_text() == oidc.dump_token(old)
    report["listing"] = sorted(os.listdir(store.sso.path))
    os.unlink(filler)
    store.save_token(TOKEN_KEY, new)
    report["retry_ok"] = store.load_token(TOKEN_KEY) == new
    print(json.dumps(report), flush=True)


def _child(mode: str, *args: str) -> list[str]:
    return [sys.executable, os.path.abspath(__file__), mode, *args]


# --- SIGKILL trials -------------------------------------------------------------------------------------


def _dump_token(trial: int, generation: int) -> str:
    return oidc.dump_token(make_token(trial, generation))


def _dump_registration(trial: int, generation: int) -> str:
    return oidc.dump_registration(make_registration(trial, generation))


def _check_file(
    directory: Path,
    name: str,
    dump: Callable[[int, int], str],
    load: Callable[[str], object],
    trial: int,
    finished: int,
    before: str | None,
) -> str:
    """Check one file after a kill; return which content it holds."""
    allowed: dict[str, str | None] = (
        {"before": before, "in flight": dump(trial, 0)}
        if finished == 0
        else {"reported": dump(trial, finished - 1), "in flight": dump(trial, finished)}
    )
    path = directory / name
    if not path.exists():
        assert finished == 0, f"{name} vanished after {finished} finished writes"
        assert before is None, f"{name} vanished after a kill"
        return "absent"
    data = path.read_bytes()
    matches = [label for label, text in allowed.items() if text is not None and data == text.encode()]
    assert matches, f"{name}: {len(data)} bytes, not one of the contents written ({finished} finished)"
    json.loads(data)  # complete JSON ...
    load(data.decode())  # ... and a complete file for the library's loader
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return matches[0]


def _leftovers(directory: Path, pid: int) -> dict[str, bytes]:
    """The temporary files the killed writer left: name of the file they were for -> their content."""
    found = {}
    for entry in os.listdir(directory) if directory.exists() else ():
        if entry in (TOKEN_KEY, REG_KEY):
            continue
        match = TEMP_NAME.fullmatch(entry)
        assert match, f"unexpected file {entry!r} in the cache directory"
        assert match["name"] in (TOKEN_KEY, REG_KEY)
        assert stat.S_IMODE((directory / entry).stat().st_mode) == 0o600  # it holds secrets too
        if int(match["pid"]) == pid:
            assert match["name"] not in found, "two writes in flight at once"
            found[match["name"]] = (directory / entry).read_bytes()
    return found


def _phase(temps: dict[str, bytes], full: dict[str, bytes], held: dict[str, str]) -> str:
    """Where the kill landed, as far as the files can tell."""
    for name, data in temps.items():
        assert full[name].startswith(data), f"the temporary file of {name} is not the content in flight"
        return "mid-write (partial temporary file)" if len(data) < len(full[name]) else "before the rename"
    if "in flight" in held.values():
        return "after the rename, before its report"
    if held[TOKEN_KEY] in ("absent", "before"):
        return "before the first temporary file"
    return "between writes"


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    errors = (tmp_path / "launcher.err").open("w")
    process = subprocess.Popen(
        _child("launcher"), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True
    )
    with errors, process:
        yield process
        assert process.stdin is not None
        process.stdin.close()
        assert process.wait(30) == 0, (tmp_path / "launcher.err").read_text()


def test_sigkill_at_random_points_never_leaves_a_corrupt_file(
    launcher: subprocess.Popen[str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert launcher.stdin is not None
    assert launcher.stdout is not None
    rng = random.Random(SEED)
    shared = tmp_path / "shared"
    previous: dict[str, str | None] = {TOKEN_KEY: None, REG_KEY: None}
    tally: Counter[str] = Counter()
    leftovers = 0
    started = time.perf_counter()
    for trial in range(TRIALS):
        fresh = trial % 4 == 0
        home = tmp_path / f"fresh-{trial}" if fresh else shared
        before = {TOKEN_KEY: None, REG_KEY: None} if fresh else previous
        directory = home / ".aws" / "sso" / "cache"

        launcher.stdin.write(f"{home}\t{trial}\n")
        launcher.stdin.flush()
        pid = int(launcher.stdout.readline())
        assert pid > 0, (tmp_path / "launcher.err").read_text()
        time.sleep(rng.uniform(0, MAX_DELAY))
        os.kill(pid, signal.SIGKILL)
        launcher.stdin.write("reap\n")
        launcher.stdin.flush()
        report = json.loads(launcher.stdout.readline())
        assert report["signal"] == signal.SIGKILL, (report, (tmp_path / "launcher.err").read_text())

        held = {
            TOKEN_KEY: _check_file(
                directory, TOKEN_KEY, _dump_token, oidc.load_token, trial, report["tokens"], before[TOKEN_KEY]
            ),
            REG_KEY: _check_file(
                directory,
                REG_KEY,
                _dump_registration,
                oidc.load_registration,
                trial,
                report["registrations"],
                before[REG_KEY],
            ),
        }
        if directory.exists():
            assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        temps = _leftovers(directory, pid)
        full = {  # what the write in flight was writing
            TOKEN_KEY: _dump_token(trial, report["tokens"]).encode(),
            REG_KEY: _dump_registration(trial, report["registrations"]).encode(),
        }
        tally[_phase(temps, full, held)] += 1
        leftovers += len(temps)

        # The library reads what is there without complaint, and the next normal write succeeds.
        store = Store(str(home))
        with caplog.at_level(logging.WARNING, "sansio_ssooidc"):
            if held[TOKEN_KEY] != "absent":
                assert store.load_token(TOKEN_KEY) is not None
            if held[REG_KEY] != "absent":
                assert store.load_registration(REG_KEY) is not None
        assert not caplog.records, caplog.text
        assert list(store.sso.names()) == sorted(name for name, how in held.items() if how != "absent")
        token, registration = make_token(trial, -1), make_registration(trial, -1)
        store.save_token(TOKEN_KEY, token)
        store.save_registration(REG_KEY, registration)
        assert store.load_token(TOKEN_KEY) == token
        assert store.load_registration(REG_KEY) == registration
        # ... and removes what the killed writer left: a temporary file may hold a copy of a secret.
        assert sorted(os.listdir(directory)) == sorted([TOKEN_KEY, REG_KEY])
        if not fresh:
            previous = {TOKEN_KEY: oidc.dump_token(token), REG_KEY: oidc.dump_registration(registration)}

    elapsed = time.perf_counter() - started
    print(f"\n{TRIALS} SIGKILL trials in {elapsed:.1f} s; {leftovers} temporary files left; kill points:")
    for phase, count in tally.most_common():
        print(f"  {count:4d}  {phase}")
    # The trials are only worth something if kills land inside writes, not only between them.
    assert tally["before the rename"] + tally["mid-write (partial temporary file)"] > 0
    assert sorted(os.listdir(shared / ".aws" / "sso" / "cache")) == sorted([TOKEN_KEY, REG_KEY])


def test_a_truncated_file_at_any_length_is_a_miss_and_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What a writer without atomic renames (or a copy cut short) leaves: every prefix is a miss."""
    store = Store(str(tmp_path))
    token = oidc.CachedToken(
        start_url="https://d-1.awsapps.com/start",
        region="us-east-1",
        access_token="aoa" + "x" * 300,
        expires_at=EXPIRES,
        client_id="cid",
        client_secret="cs" + "y" * 200,
        registration_expires_at=EXPIRES,
        refresh_token="aor" + "z" * 200,
    )
    text = oidc.dump_token(token).encode()
    path = Path(store.sso.file(TOKEN_KEY))
    store.sso.ensure()
    with caplog.at_level(logging.WARNING, "sansio_ssooidc"):
        for length in range(len(text)):
            path.write_bytes(text[:length])
            caplog.clear()
            assert store.load_token(TOKEN_KEY) is None, length
            assert TOKEN_KEY in caplog.text
    store.save_token(TOKEN_KEY, token)
    assert path.read_bytes() == text
    assert store.load_token(TOKEN_KEY) == token


# --- real write faults ----------------------------------------------------------------------------------


def _assert_typed_failure(report: dict[str, Any], code: int, path: str, fix: str) -> None:
    assert report["type"] == "CacheWriteError"
    assert report["errno"] == code
    assert report["path"] == path
    assert (
        report["message"]
        == f"cannot write {path}: {os.strerror(code)}; {fix} (the previous file is unchanged)"
    )


def _run(command: list[str]) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_file_size_limit_is_a_typed_error_and_keeps_the_previous_file(tmp_path: Path) -> None:
    store = Store(str(tmp_path))
    old = make_token(0, 0)
    store.save_token(TOKEN_KEY, old)
    report = _run(_child("efbig", str(tmp_path)))
    path = store.sso.file(TOKEN_KEY)
    _assert_typed_failure(
        report, errno.EFBIG, path, "raise the file size limit (ulimit -f) and run the command again"
    )
    assert Path(path).read_text() == oidc.dump_token(old)
    assert os.listdir(store.sso.path) == [TOKEN_KEY]  # the short temporary file was removed
    store.save_token(TOKEN_KEY, make_token(1, 1))  # without the limit, the same write succeeds
    assert store.load_token(TOKEN_KEY) == make_token(1, 1)


@pytest.fixture
def traversable_home() -> Iterator[Path]:
    """A home directory others may traverse (pytest's are 0700), for a writer that is not root."""
    base = Path(tempfile.mkdtemp(prefix="ssooidc-eacces-"))
    try:
        base.chmod(0o711)
        yield base / "home"
    finally:
        shutil.rmtree(base)


def test_permission_denied_is_a_typed_error_and_keeps_the_previous_file(traversable_home: Path) -> None:
    store = Store(str(traversable_home))
    old = make_token(0, 0)
    store.save_token(TOKEN_KEY, old)
    cache_dir = Path(store.sso.path)
    if os.geteuid() == 0:
        os.chown(cache_dir, NOBODY, NOBODY)  # the writer's own directory, as it would be
    cache_dir.chmod(0o500)  # ... but not writable: the mistake the error message fixes
    try:
        report = _run(_child("eacces", str(traversable_home)))
    finally:
        cache_dir.chmod(0o700)
    if "unavailable" in report:
        pytest.skip(report["unavailable"])
    path = store.sso.file(TOKEN_KEY)
    _assert_typed_failure(
        report,
        errno.EACCES,
        path,
        "make the directory writable by you (chmod 700 it, or chown it to your user)",
    )
    assert Path(path).read_text() == oidc.dump_token(old)
    assert os.listdir(cache_dir) == [TOKEN_KEY]
    store.save_token(TOKEN_KEY, make_token(1, 1))  # once writable, the same write succeeds
    assert store.load_token(TOKEN_KEY) == make_token(1, 1)


def test_full_disk_is_a_typed_error_and_keeps_the_previous_file(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare(1) to mount a small tmpfs")
    mountpoint = tmp_path / "tmpfs"
    mountpoint.mkdir()
    script = 'mount -t tmpfs -o size=1m,mode=0700 tmpfs "$1" || exit 77; shift; exec "$@"'
    done = subprocess.run(
        [
            *(unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(mountpoint)),
            *_child("enospc", str(mountpoint)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode == 77 or done.stderr.startswith("unshare:"):
        pytest.skip(f"no user and mount namespaces here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    path = os.path.join(mountpoint, ".aws", "sso", "cache", TOKEN_KEY)
    _assert_typed_failure(report, errno.ENOSPC, path, "free some disk space and run the command again")
    assert report["previous_intact"]
    assert report["listing"] == [TOKEN_KEY]  # no temporary file left behind
    assert report["retry_ok"]


_MODES: dict[str, Callable[..., None]] = {
    "launcher": _launcher,
    "efbig": _efbig,
    "eacces": _eacces,
    "enospc": _enospc,
}

if __name__ == "__main__":
    _MODES[sys.argv[1]](*sys.argv[2:])


def test_dead_writers_temporary_files_are_swept(tmp_path: Path) -> None:
    """The next write of a file, or its removal (``ssooidc logout``), deletes the temporary files of
    writers that are gone, and only theirs: a live writer's file and other files' are kept."""
    store = Store(str(tmp_path))
    store.save_token(TOKEN_KEY, make_token(0, 0))
    directory = tmp_path / ".aws" / "sso" / "cache"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    with subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    ) as live:
        ours = _writer_tag()  # written on this machine, in this pid namespace: its pids mean something here
        for sweep in ("write", "remove"):
            orphan = directory / f".{TOKEN_KEY}.{dead_pid}.00{ours}.tmp"
            running = directory / f".{TOKEN_KEY}.{live.pid}.01{ours}.tmp"
            other = directory / f".{REG_KEY}.{dead_pid}.00{ours}.tmp"
            for path in (orphan, running, other):
                path.write_text('{"accessToken": "CANARY-leftover"')
            if sweep == "write":
                store.save_token(TOKEN_KEY, make_token(0, 1))
            else:
                assert store.sso.remove(TOKEN_KEY)
            assert not orphan.exists(), sweep
            assert running.exists(), sweep
            assert other.exists(), sweep  # another file's leftovers wait for that file's next write
            running.unlink()
        assert live.stdin is not None
        live.stdin.close()
    store.save_registration(REG_KEY, make_registration(0, 0))
    assert sorted(os.listdir(directory)) == [REG_KEY]
