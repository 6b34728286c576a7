"""Helpers for the ``ssooidc`` command line tests: a throw-away HOME with an AWS config, the
installed console script run as a real subprocess (plainly or on a pseudo-terminal), a fake
browser, and a simulator that records every error it answers."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import Reply, Simulator

START_URL = "https://d-1234567890.awsapps.com/start"
_SCRIPT = Path(sys.executable).with_name("ssooidc")
#: The installed console script, or ``python -m`` when the venv has none.
SSOOIDC: list[str] = (
    [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "sansio_ssooidc.adapters.cli"]
)

CONFIG = f"""\
[default]
region = us-east-1

[sso-session dev]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_registration_scopes = sso:account:access

[profile dev]
sso_session = dev
sso_account_id = 111111111111
sso_role_name = ReadOnlyAccess

[profile legacy]
sso_start_url = {START_URL}
sso_region = us-east-1
sso_account_id = 111111111111
sso_role_name = ReadOnlyAccess

[profile plain]
region = eu-west-1
"""

#: Bytecode for the subprocesses (PYTHONDONTWRITEBYTECODE may be set): compiled once, shared by every
#: test and run (Python checks each .pyc against its source), so a process starts as an installed one.
PYCACHE = Path(tempfile.gettempdir()) / f"sansio-ssooidc-test-pycache-{os.getuid()}"

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class RecordingSimulator(Simulator):
    """A simulator that counts the error codes it answers (``errors["InvalidGrantException"]``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.errors: Counter[str] = Counter()

    def respond(self, request: oidc.HttpRequest, now: float) -> Reply:
        reply = super().respond(request, now)
        if reply.response is not None and reply.response.status >= 400:
            error = reply.response.header("x-amzn-ErrorType") or ""
            if not error and reply.response.body.startswith(b"{"):
                error = str(json.loads(reply.response.body).get("__type", ""))
            self.errors[error.split(":", 1)[0].rsplit("#", 1)[-1] or str(reply.response.status)] += 1
        return reply


class Home:
    """A HOME directory with ``.aws/config`` and the environment a command runs in."""

    def __init__(self, root: Path, config: str = CONFIG, *, pycache: Path | None = PYCACHE) -> None:
        self.root = root
        self.config = root / ".aws" / "config"
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_text(config)
        self.pycache = pycache

    @property
    def sso_cache(self) -> Path:
        return self.root / ".aws" / "sso" / "cache"

    @property
    def cli_cache(self) -> Path:
        return self.root / ".aws" / "cli" / "cache"

    def token_path(self, session: str | None = "dev", start_url: str = START_URL) -> Path:
        key = (
            oidc.token_cache_key(session_name=session)
            if session
            else oidc.token_cache_key(start_url=start_url)
        )
        return self.sso_cache / key

    def registration_path(
        self, session: str | None = "dev", scopes: Sequence[str] | None = ("sso:account:access",)
    ) -> Path:
        key = oidc.registration_cache_key(
            start_url=START_URL,
            region="us-east-1",
            scopes=None if scopes is None else list(scopes),
            session_name=session,
        )
        return self.sso_cache / key

    def token(self, session: str | None = "dev") -> oidc.CachedToken:
        return oidc.load_token(self.token_path(session).read_text())

    def write_token(
        self, session: str | None = "dev", *, mode: int = 0o600, **fields: Any
    ) -> oidc.CachedToken:
        now = datetime.now(timezone.utc)
        values: dict[str, Any] = {
            "start_url": START_URL,
            "region": "us-east-1",
            "access_token": "aoaCACHEDTOKEN",
            "expires_at": now + timedelta(hours=1),
            "client_id": "client-id",
            "client_secret": "client-secret",
            "registration_expires_at": now + timedelta(days=30),
            "refresh_token": "aorREFRESH",
        }
        values.update(fields)
        token = oidc.CachedToken(**values)
        path = self.token_path(session)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(oidc.dump_token(token))
        path.chmod(mode)
        return token

    def make_due(self, minutes: float = 5) -> None:
        """Pretend time passed: the cached token (kept otherwise as is) has ``minutes`` left."""
        path = self.token_path()
        raw = json.loads(path.read_text())
        moment = datetime.now(timezone.utc) + timedelta(minutes=minutes)
        raw["expiresAt"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        path.write_text(json.dumps(raw))

    def env(self, server: Any = None, **extra: str) -> dict[str, str]:
        """A clean environment: no DISPLAY, BROWSER, SSH or AWS variables unless given."""
        env = {
            "HOME": str(self.root),
            "AWS_CONFIG_FILE": str(self.config),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
        }
        if self.pycache is not None:
            env["PYTHONPYCACHEPREFIX"] = str(self.pycache)
        if server is not None:
            env["AWS_ENDPOINT_URL_SSO_OIDC"] = server.url
            env["AWS_ENDPOINT_URL_SSO"] = server.url
        env.update(extra)
        return {k: v for k, v in env.items() if v is not None}


class _Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def seed_login(home: Home, server: Any, session: str | None = "dev") -> oidc.CachedToken:
    """Log in in-process (device flow, virtual clock) and cache the result as ``ssooidc login`` does,
    for tests about the other commands. The simulator must approve at the first poll."""
    from sansio_ssooidc.adapters import h11
    from sansio_ssooidc.adapters.cache import Store

    clock = _Clock()
    scopes = ("sso:account:access",) if session else None
    flow = oidc.DeviceFlow(start_url=START_URL, region="us-east-1", scopes=scopes, endpoint=server.url)
    result = h11.run(flow, show=lambda action: None, clock=clock, sleep=clock.sleep)
    store = Store(str(home.root))
    key = oidc.registration_cache_key(
        start_url=START_URL, region="us-east-1", scopes=scopes, session_name=session
    )
    store.save_registration(key, result.registration)
    token: oidc.CachedToken = result.token
    store.save_token(oidc.token_cache_key(session_name=session, start_url=START_URL), token)
    return token


def run(
    args: Sequence[str], env: Mapping[str, str], *, timeout: float = 30, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """``ssooidc ARGS`` as a subprocess, output captured as text."""
    return subprocess.run(
        [*SSOOIDC, *args], env=dict(env), capture_output=True, text=True, timeout=timeout, check=False, **kw
    )


def fake_browser(tmp: Path, *, follow: bool = True) -> tuple[str, Path]:
    """A ``BROWSER`` command that logs each URL to a file and (``follow``) fetches it, following
    the redirect to the loopback callback as a browser would. Returns (BROWSER value, log path)."""
    log = tmp / "browser.log"
    script = tmp / "browser.py"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import sys, urllib.request
            with open({str(log)!r}, "a") as log:
                log.write(sys.argv[1] + "\\n")
            if {follow!r}:
                with urllib.request.urlopen(sys.argv[1], timeout=10) as page:
                    page.read()
            """
        )
    )
    script.chmod(0o755)
    return str(script), log  # one program path: webbrowser does not split BROWSER into arguments


# The child becomes a session leader with the pty as its controlling terminal, so that Ctrl-C
# typed into the pty is a SIGINT from the terminal, as for a person at a keyboard.
_CTTY = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


class Terminal:
    """``ssooidc ARGS`` on a pseudo-terminal (80x40): read what a person would see, type keys."""

    def __init__(
        self, args: Sequence[str], env: Mapping[str, str], *, columns: int = 100, rows: int = 50
    ) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {**env, "TERM": "xterm-256color"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CTTY, *SSOOIDC, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        os.close(slave)
        self.raw = b""

    @property
    def text(self) -> str:
        """Everything shown so far, escape sequences removed."""
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.raw += data
        return bool(data)

    def expect(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        """Wait until the screen output matches ``pattern``."""
        deadline = time.monotonic() + timeout
        while (match := re.search(pattern, self.text)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.2)) and self.proc.poll() is not None):
                raise AssertionError(
                    f"{pattern!r} not shown within {timeout} s; the terminal shows:\n{self.text}"
                )
        return match

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 30) -> int:
        """The exit code, once the output is drained."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            raise AssertionError(f"still running after {timeout} s; the terminal shows:\n{self.text}")
        while self._read(0.05):
            pass
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def files(directory: Path) -> list[str]:
    """The names in ``directory`` (empty if it does not exist)."""
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []
