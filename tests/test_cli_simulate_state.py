"""``ssooidc simulate --state FILE``: a stopped simulator loses nothing it was asked to keep."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

from sansio_ssooidc.adapters import h11 as transport

import sansio_ssooidc as oidc


def _start(state: pathlib.Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sansio_ssooidc.adapters.cli",
            "simulate",
            "--port",
            "0",
            "--state",
            str(state),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert "listening on " in first, first
    return proc, first.rsplit(" ", 1)[1].strip()


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return err


def test_state_survives_a_restart(tmp_path: pathlib.Path) -> None:
    state = tmp_path / "sim-state.json"
    proc, url = _start(state)
    try:
        registration = transport.send(oidc.RegisterClient(client_name="kept", client_type="public"), url)
    finally:
        err = _stop(proc)
    assert "saved the simulator's state" in err
    assert state.exists()
    assert oct(os.stat(state).st_mode & 0o777) == "0o600"  # it holds the service's secrets

    proc, url = _start(state)
    try:
        # The registration made before the restart is still known to the service.
        started = transport.send(
            oidc.StartDeviceAuthorization(
                client_id=registration.client_id,
                client_secret=registration.client_secret,
                start_url="https://d-1234567890.awsapps.com/start",
            ),
            url,
        )
        assert started.user_code
    finally:
        err = _stop(proc)
    assert "resumed the simulator's state" in err
