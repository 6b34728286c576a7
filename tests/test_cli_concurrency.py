"""Many processes asking for a token at once, with rotating refresh tokens and tokens so short-lived
that every call is inside the refresh window: each refresh spends the previous refresh token, so a
process that refreshed from a stale copy of the file would get invalid_grant. The lock plus the
re-read under it must make every call succeed, lose no token and corrupt no file."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from sansio_ssooidc.adapters import h11
from sansio_ssooidc.adapters.simserver import SimulatorServer

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import UserScript
from tests.clikit import SSOOIDC, Home, RecordingSimulator, seed_login

Serve = Callable[..., SimulatorServer]
PROCESSES = 8

# One worker process: ``ssooidc token`` CALLS times, each a full run of the command (config parsed,
# cache read, lock taken, ...), in-process (``main``) or as a fresh console-script process (spawn).
WORKER = textwrap.dedent(
    """\
    import contextlib, io, json, subprocess, sys
    from sansio_ssooidc.adapters.cli import main
    calls, spawn, command = int(sys.argv[1]), sys.argv[2] == "spawn", json.loads(sys.argv[3])
    results = []
    for _ in range(calls):
        if spawn:
            done = subprocess.run(command + ["token", "--profile", "dev"], capture_output=True, text=True)
            results.append([done.returncode, done.stdout.strip(), done.stderr])
        else:
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(["token", "--profile", "dev"])
            results.append([code, out.getvalue().strip(), err.getvalue()])
    print(json.dumps(results))
    """
)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


@pytest.mark.parametrize(("calls", "mode"), [(50, "main"), (2, "spawn")])
def test_concurrent_token_refreshes(
    home: Home, ssooidc_simulator_factory: Serve, calls: int, mode: str
) -> None:
    simulator = RecordingSimulator(
        user=UserScript(on_visit=False, after_polls=0),
        access_token_lifetime=60,  # always under the 10-minute mandatory threshold: every call refreshes
        rotate_refresh_tokens=True,
    )
    server = ssooidc_simulator_factory(simulator)
    seed_login(home, server)
    env = home.env(server)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(calls), mode, json.dumps(SSOOIDC)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        results.extend(json.loads(out))

    total = PROCESSES * calls
    assert [code for code, _, _ in results] == [0] * total, [err for _, _, err in results if err][:3]
    assert [err for _, _, err in results if err] == []
    tokens = [token for _, token, _ in results]
    assert len(set(tokens)) == total  # every call got a token of its own: no refresh was lost or repeated
    counted = simulator.refreshes
    assert counted == total
    assert simulator.errors == {}  # no invalid_grant (or anything else) was ever answered

    # The file is whole, private, and holds the live refresh token of the last refresh.
    path = home.token_path()
    final = oidc.load_token(path.read_text())
    assert final.access_token in tokens
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(home.sso_cache.glob(".*.tmp"))
    again = h11.run(oidc.RefreshFlow(token=final, endpoint=server.url, advisory=86400, mandatory=0))
    assert again.refreshed
    print(f"{total} concurrent `ssooidc token` calls ({mode}): {counted} refreshes, no invalid_grant")
