"""Start-up time of the ``ssooidc`` command, against the interpreter and botocore, in one run.

Measured, each as a fresh process, in a throw-away HOME holding a fresh cached token:

- ``python -c pass``: the floor (this venv's interpreter start-up);
- ``ssooidc --help``;
- ``ssooidc token``: a fresh cached token printed (no network; ``_cli_fast``'s path);
- botocore's token provider: ``SSOTokenProvider(...).load_token().get_frozen_token()`` on the same file;
- ``import boto3`` + ``boto3.client("sso-oidc")``: what a script using boto3 pays first.

The commands run round-robin (so load on the machine hits them alike); the best and the median of
``--runs`` are reported, with ratios of both (the target is judged on the best). Bytecode is cached
in a temporary ``PYTHONPYCACHEPREFIX`` after a warm-up, as an installed package has its ``.pyc``
files. ``--importtime`` adds where ``ssooidc token``'s time goes (``python -X importtime``) and which
path it took.

    python benchmarks/startup.py [--runs 15] [--importtime]

Target (the issue): ``ssooidc token`` at least 5x faster than ``import boto3`` + client.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sansio_ssooidc as oidc

START_URL = "https://d-1234567890.awsapps.com/start"
CONFIG = f"""\
[profile dev]
sso_session = dev
sso_account_id = 111111111111
sso_role_name = ReadOnlyAccess

[sso-session dev]
sso_start_url = {START_URL}
sso_region = us-east-1
"""
BOTOCORE = (
    "import botocore.session; from botocore.tokens import SSOTokenProvider; "
    "print(SSOTokenProvider(botocore.session.Session(profile='dev')).load_token().get_frozen_token().token)"
)
BOTO3 = "import boto3; boto3.client('sso-oidc', region_name='us-east-1')"
TARGET = 5.0


def _home(root: Path) -> dict[str, str]:
    (root / ".aws" / "sso" / "cache").mkdir(parents=True)
    (root / ".aws" / "config").write_text(CONFIG)
    now = datetime.now(timezone.utc)
    token = oidc.CachedToken(
        start_url=START_URL,
        region="us-east-1",
        access_token="aoaBENCHMARKTOKEN",
        expires_at=now + timedelta(hours=8),
        client_id="cid",
        client_secret="csecret",
        registration_expires_at=now + timedelta(days=90),
        refresh_token="aorBENCHMARK",
    )
    path = root / ".aws" / "sso" / "cache" / oidc.token_cache_key(session_name="dev")
    path.write_text(oidc.dump_token(token))
    path.chmod(0o600)
    return {
        "HOME": str(root),
        "AWS_CONFIG_FILE": str(root / ".aws" / "config"),
        "AWS_PROFILE": "dev",
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "PYTHONPYCACHEPREFIX": str(root / "pycache"),
    }


def _time(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def _importtime(command: list[str], env: dict[str, str], threshold_ms: float = 0.5) -> None:
    """Where ``ssooidc token``'s import time goes: the import tree to depth 3, entries over the threshold."""
    result = subprocess.run(
        [command[0], "-X", "importtime", *command[1:]], env=env, capture_output=True, text=True, check=True
    )
    full = "sansio_ssooidc.adapters._cli_token" in result.stderr
    print(f"\n`ssooidc token` took the {'full path (_cli_token)' if full else 'fast path (_cli_fast)'}.")
    print(f"`ssooidc token` imports over {threshold_ms} ms (-X importtime, cumulative, in import order):")
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _self, cumulative, name = line[len("import time:") :].split("|", 2)
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        if depth <= 3 and int(cumulative) >= threshold_ms * 1000:
            print(f"  {int(cumulative) / 1000:7.2f} ms  {'  ' * depth}{name.strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--importtime", action="store_true", help="show where ssooidc token's time goes")
    args = parser.parse_args(argv)

    python = sys.executable
    script = shutil.which("ssooidc", path=str(Path(python).parent)) or ""
    ssooidc = [script] if script else [python, "-m", "sansio_ssooidc.adapters.cli"]
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "ssooidc --help": [*ssooidc, "--help"],
        "ssooidc token": [*ssooidc, "token"],
        "botocore SSOTokenProvider": [python, "-c", BOTOCORE],
        "import boto3 + client": [python, "-c", BOTO3],
    }
    with tempfile.TemporaryDirectory(prefix="ssooidc-startup-") as tmp:
        env = _home(Path(tmp))
        out = subprocess.run(commands["ssooidc token"], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "aoaBENCHMARKTOKEN", out
        for command in commands.values():  # warm-up: writes the bytecode, fills the page cache
            _time(command, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, command in commands.items():
                samples[name].append(_time(command, env))
        print(f"python {sys.version.split()[0]}, {args.runs} runs each, round-robin; wall time per process")
        print(f"  {'':28} {'best':>8} {'median':>8}")
        best = {name: min(values) for name, values in samples.items()}
        for name, values in samples.items():
            print(f"  {name:28} {best[name]:7.1f}  {statistics.median(values):7.1f}  ms")
        median = {name: statistics.median(values) for name, values in samples.items()}
        print(f"\n  {'':43} {'best':>6} {'median':>7}")
        for baseline in ("import boto3 + client", "botocore SSOTokenProvider"):
            print(
                f"  {baseline + ' / ssooidc token:':43} {best[baseline] / best['ssooidc token']:5.1f}x"
                f" {median[baseline] / median['ssooidc token']:6.1f}x"
            )
        for name in ("ssooidc token", "ssooidc --help"):
            print(
                f"  {name + ' above python -c pass:':43} {best[name] - best['python -c pass']:5.1f}"
                f" {median[name] - median['python -c pass']:6.1f}  ms"
            )
        if args.importtime:
            _importtime([python, "-c", _MAIN], env)
    ratio = best["import boto3 + client"] / best["ssooidc token"]
    print(f"\ntarget: ssooidc token >= {TARGET:.0f}x faster than import boto3 + client: ", end="")
    print(f"{'met' if ratio >= TARGET else 'MISSED'} ({ratio:.1f}x)")
    return 0 if ratio >= TARGET else 1


_MAIN = "import sys; sys.argv[1:] = ['token']; from sansio_ssooidc.adapters.cli import main; sys.exit(main())"

if __name__ == "__main__":
    sys.exit(main())
