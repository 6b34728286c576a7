"""``ssooidc token`` with a fresh cached token and ``ssooidc --help`` stay light: they import none of
the network stack, the simulator, or other adapters' dependencies (measured with ``-X importtime``;
benchmarks/startup.py has the timings)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.clikit import Home

HEAVY = (
    "requests",
    "anyio",
    "trio",
    "botocore",
    "boto3",
    "h11",
    "ssl",
    "socket",
    "http.server",
    "webbrowser",
    "urllib.request",
    "segno",
    "sansio_ssooidc.simulator",
    "sansio_ssooidc.adapters.h11",
    "sansio_ssooidc.adapters._driver",
    "sansio_ssooidc.adapters._cli_login",
)
MAIN = "import sys; from sansio_ssooidc.adapters.cli import main; sys.exit(main())"


def imported(args: list[str], env: dict[str, str]) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", MAIN, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "self [us]" not in line
    }


@pytest.mark.parametrize("args", [["token", "--profile", "dev"], ["token", "--json"], ["--help"]])
def test_fast_paths_import_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    home = Home(tmp_path / "home")
    home.write_token()
    modules = imported(args, home.env(AWS_PROFILE="dev"))
    assert "sansio_ssooidc.adapters.cli" in modules
    assert sorted(m for m in modules if m in HEAVY or m.split(".")[0] in HEAVY) == []
