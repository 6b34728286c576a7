"""Start-up: ``ssooidc token`` with a fresh cached token takes the fast path (``_cli_fast``), which must
print exactly what the full path (``cli.run``) prints, and ``--help`` stays light. Structural tests
(which modules load), not timings: benchmarks/startup.py has those.

- the fast and the full path over a table of situations, in-process with a fixed clock (the fast
  path must answer exactly the rows marked fast, each as the full path does), and end to end (the
  console script against ``run`` forced, as subprocesses: same stdout, stderr and exit code);
- the fast path's copies of the core's rules (times, region names, cache file names, thresholds, the
  command line) against the originals, with hypothesis where the input space is large.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sansio_ssooidc.adapters import _cli_fast, cache, cli
from sansio_ssooidc.adapters._cli_config import Context

import sansio_ssooidc as oidc
from sansio_ssooidc import _awsfiles, _endpoints, _refresh
from tests import clikit
from tests.clikit import PYCACHE, SSOOIDC, START_URL, Home

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
#: Not loaded by the fast path: the full path's machinery (its presence means the full path ran).
FULL_PATH = (
    "argparse",
    "logging",
    "dataclasses",
    "inspect",
    "datetime",
    "sansio_ssooidc._values",
    "sansio_ssooidc._awsfiles",
    "sansio_ssooidc._refresh",
    "sansio_ssooidc._flow",
    "sansio_ssooidc._endpoints",
    "sansio_ssooidc.adapters.cache",
    "sansio_ssooidc.adapters._cli_config",
    "sansio_ssooidc.adapters._cli_token",
)
MAIN = "import sys; from sansio_ssooidc.adapters.cli import main; sys.exit(main())"
#: The full path alone, as ``main`` runs it when the fast path declines.
FULL = (
    "import sys; from sansio_ssooidc.adapters.cli import Context, run; sys.exit(run(Context(), sys.argv[1:]))"
)


#: Reports every module loaded (``sys.modules``) when the process exits, on stderr.
_REPORT = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
)
#: The console script's own code, run as ``__main__`` (``main`` when the venv has no script).
_SCRIPT = (
    f"sys.argv[0] = {SSOOIDC[0]!r}\n"
    "with open(sys.argv[0]) as file: code = compile(file.read(), sys.argv[0], 'exec')\n"
    "exec(code, {'__name__': '__main__'})\n"
    if len(SSOOIDC) == 1
    else MAIN
)


def imported(args: list[str], env: dict[str, str], main: str = _SCRIPT) -> set[str]:
    """The modules loaded by ``ssooidc ARGS`` (by ``main``) when it exits; it must succeed."""
    result = subprocess.run(
        [sys.executable, "-c", _REPORT + main, *args], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    line = [line for line in result.stderr.splitlines() if line.startswith("MODULES ")][-1]
    return set(line.split()[1:])


@pytest.mark.parametrize("args", [["token", "--profile", "dev"], ["token", "--json"], ["--help"]])
def test_fast_paths_import_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    home = Home(tmp_path / "home")
    home.write_token()
    modules = imported(args, home.env(AWS_PROFILE="dev"), MAIN)
    assert "sansio_ssooidc.adapters.cli" in modules
    assert sorted(m for m in modules if m in HEAVY or m.split(".")[0] in HEAVY) == []


@pytest.mark.parametrize(
    "args", [["token", "--profile", "dev"], ["token", "--json"], ["token", "--sso-session=dev", "--json"]]
)
def test_fresh_token_takes_the_fast_path(tmp_path: Path, args: list[str]) -> None:
    """The console script prints a fresh token without loading argparse, logging, dataclasses, the
    core's value types, config and refresh modules, or the full path's command module."""
    home = Home(tmp_path / "home")
    token = home.write_token(expires_at=datetime.now(timezone.utc) + timedelta(hours=8))
    env = home.env(AWS_PROFILE="dev")
    modules = imported(args, env)
    assert "sansio_ssooidc.adapters._cli_fast" in modules
    assert sorted(m for m in modules if m in FULL_PATH) == []
    done = subprocess.run([*SSOOIDC, *args], env=env, capture_output=True, text=True, check=False)
    assert (done.returncode, done.stderr) == (0, "")
    assert token.access_token in done.stdout


def test_help_loads_only_argparse(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    modules = imported(["--help"], home.env())
    assert "argparse" in modules
    unexpected = {"logging", "dataclasses", "json", "configparser"} | {m for m in FULL_PATH if "." in m}
    assert sorted(modules & unexpected) == []


def test_a_stale_token_takes_the_full_path(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    home.write_token(expires_at=datetime.now(timezone.utc) + timedelta(minutes=12), refresh_token=None)
    modules = imported(["token", "--profile", "dev"], home.env())
    assert {"sansio_ssooidc.adapters._cli_token", "sansio_ssooidc._refresh"} <= modules


# --- the table ------------------------------------------------------------------------------------------

OTHER_URL = "https://d-0000000000.awsapps.com/start"
# clikit's config (dev, legacy, plain), and the odd profiles the table needs.
CONFIG = (
    clikit.CONFIG
    + f"""\

[profile "quoted name"]
sso_session = dev

[profile same]
sso_session = dev
sso_region = us-east-1

[profile conflict]
sso_session = dev
sso_region = eu-west-1

[profile empty-account]
sso_session = dev
sso_account_id =

[profile nested-role]
sso_session = dev
sso_role_name =
    a = b

[profile bad-region]
sso_start_url = {START_URL}
sso_region = us_east_1

[profile dangling]
sso_session = nope

[profile services]
sso_session = dev
services = sim

[profile endpoint]
sso_session = dev
endpoint_url = http://127.0.0.1:9

[services sim]
sso_oidc =
  endpoint_url = http://127.0.0.1:9

[sso-session other]
sso_start_url = {OTHER_URL}
sso_region = eu-west-1

[sso-session no-region]
sso_start_url = {START_URL}
"""
)

HOURS = 3600.0
MINUTES = 60.0


def _time(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_doc(now: float, left: float = 8 * HOURS, **changes: Any) -> dict[str, Any]:
    """A token file's JSON with ``left`` seconds left at ``now`` (a whole second: botocore's format)."""
    doc: dict[str, Any] = {
        "startUrl": START_URL,
        "region": "us-east-1",
        "accessToken": "aoaCACHEDTOKEN",
        "expiresAt": _time(now + left),
        "clientId": "client-id",
        "clientSecret": "client-secret",
        "registrationExpiresAt": _time(now + 30 * 24 * HOURS),
        "refreshToken": "aorREFRESH",
    }
    doc.update(changes)
    return {key: value for key, value in doc.items() if value is not ...}


@dataclass
class Case:
    """A situation: the command line, the environment, the token file (its JSON document, raw text, or
    a directory), and whether the fast path must answer it (``fast``)."""

    id: str
    args: list[str]
    fast: bool
    token: Callable[[float], Any] | None = lambda now: token_doc(now)
    key: str = oidc.token_cache_key(session_name="dev")
    env: dict[str, str] = field(default_factory=dict)
    config: str | None = CONFIG
    mode: int = 0o600


LEGACY_KEY = oidc.token_cache_key(start_url=START_URL)
OTHER_KEY = oidc.token_cache_key(session_name="other")

CASES = [
    # The fast path answers.
    Case("profile", ["token", "--profile", "dev"], True),
    Case("aws-profile", ["token"], True, env={"AWS_PROFILE": "dev"}),
    Case("sso-session", ["token", "--sso-session", "dev"], True),
    Case("json", ["token", "--json", "--profile", "dev"], True),
    Case("json-equals", ["token", "--sso-session=dev", "--json"], True),
    Case("profile-equals", ["token", "--profile=dev"], True),
    Case("legacy", ["token", "--profile", "legacy", "--json"], True, key=LEGACY_KEY),
    Case("start-url", ["token", "--start-url", START_URL, "--region", "us-east-1"], True, key=LEGACY_KEY),
    Case(
        "start-url-json-no-config",
        ["token", "--json", "--region=us-east-1", "--start-url", START_URL],
        True,
        key=LEGACY_KEY,
        env={"AWS_CONFIG_FILE": "/nonexistent/config"},
    ),
    Case("quoted-profile-name", ["token", "--profile", "quoted name"], True),
    Case("profile-repeats-session-value", ["token", "--json", "--profile", "same"], True),
    Case(
        "other-session",
        ["token", "--json", "--sso-session", "other"],
        True,
        key=OTHER_KEY,
        token=lambda now: token_doc(now, startUrl=OTHER_URL, region="eu-west-1"),
    ),
    Case(
        "offset-and-fraction",
        ["token", "--json", "--profile", "dev"],
        True,
        token=lambda now: token_doc(now, expiresAt="2099-01-02T03:04:05.678901+02:30"),
    ),
    Case(
        "utc-suffix-and-space",
        ["token", "--json", "--profile", "dev"],
        True,
        token=lambda now: token_doc(
            now, expiresAt="2099-01-02 03:04:05UTC", registrationExpiresAt="2099-01-02t03:04:05,5z"
        ),
    ),
    Case(
        "unknown-keys-and-nulls",
        ["token", "--profile", "dev"],
        True,
        token=lambda now: {**token_doc(now, refreshToken=None, clientId=None), "extra": [1, {"a": None}]},
    ),
    Case(
        "minimal-token",
        ["token", "--json", "--profile", "dev"],
        True,
        token=lambda now: {"accessToken": "aoaMIN", "expiresAt": _time(now + HOURS)},
    ),
    Case(
        "unicode-access-token",
        ["token", "--json", "--profile", "dev"],
        True,
        token=lambda now: token_doc(now, accessToken='aoa\u00e9\u2603"\\'),
    ),
    Case(
        "start-url-trailing-slash",
        ["token", "--profile", "dev"],
        True,
        token=lambda now: token_doc(now, startUrl=START_URL + "/#"),
    ),
    Case(
        "sixteen-minutes-left",
        ["token", "--profile", "dev"],
        True,
        token=lambda now: token_doc(now, left=16 * MINUTES),
    ),
    Case(
        "expired-registration-fresh-token",
        ["token", "--profile", "dev"],
        True,
        token=lambda now: token_doc(now, registrationExpiresAt=_time(now - HOURS)),
    ),
    Case("config-tilde", ["token", "--profile", "dev"], True, env={"AWS_CONFIG_FILE": "~/.aws/config"}),
    Case(
        "config-home-var", ["token", "--profile", "dev"], True, env={"AWS_CONFIG_FILE": "$HOME/.aws/config"}
    ),
    Case(
        "config-braced-var",
        ["token", "--json", "--profile", "dev"],
        True,
        env={"AWS_CONFIG_FILE": "${CFG_DIR}/config", "CFG_DIR": "~/.aws"},
    ),
    Case(
        "default-section",
        ["token", "--profile", "dev"],
        True,
        config="[DEFAULT]\nsso_region = us-east-1\n\n" + CONFIG,
    ),
    Case(
        "ignore-configured-endpoints",
        ["token", "--profile", "dev"],
        True,
        env={"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"},
    ),
    # The full path decides: a refresh is due, or the token cannot be used.
    Case(
        "advisory-no-refresh-token",
        ["token", "--profile", "dev"],
        False,
        token=lambda now: token_doc(now, left=14 * MINUTES, refreshToken=...),
    ),
    Case(
        "mandatory-legacy",
        ["token", "--json", "--profile", "legacy"],
        False,
        key=LEGACY_KEY,
        token=lambda now: token_doc(now, left=5 * MINUTES),
    ),
    Case(
        "due-registration-expired",
        ["token", "--profile", "dev"],
        False,
        token=lambda now: token_doc(now, left=12 * MINUTES, registrationExpiresAt=_time(now - 1)),
    ),
    Case(
        "expired",
        ["token", "--sso-session", "dev"],
        False,
        token=lambda now: token_doc(now, left=-MINUTES, refreshToken=...),
    ),
    Case("missing-token", ["token", "--profile", "dev"], False, token=None),
    Case("not-json", ["token", "--profile", "dev"], False, token=lambda now: "{not json"),
    Case("empty-file", ["token", "--profile", "dev"], False, token=lambda now: "  \n"),
    Case("json-array", ["token", "--profile", "dev"], False, token=lambda now: [token_doc(now)]),
    Case(
        "no-access-token",
        ["token", "--profile", "dev"],
        False,
        token=lambda now: token_doc(now, accessToken=...),
    ),
    Case(
        "empty-access-token",
        ["token", "--profile", "dev"],
        False,
        token=lambda now: token_doc(now, accessToken=""),
    ),
    Case(
        "number-access-token",
        ["token", "--profile", "dev"],
        False,
        token=lambda now: token_doc(now, accessToken=12),
    ),
    Case(
        "number-start-url", ["token", "--profile", "dev"], False, token=lambda now: token_doc(now, startUrl=1)
    ),
    Case(
        "bad-expiry",
        ["token", "--profile", "dev"],
        False,
        token=lambda now: token_doc(now, expiresAt="2099-02-30T00:00:00Z"),
    ),
    Case(
        "expiry-without-zone",
        ["token", "--profile", "dev"],
        False,
        token=lambda now: token_doc(now, expiresAt="2099-01-01T00:00:00"),
    ),
    Case(
        "bad-registration-expiry",
        ["token", "--profile", "dev"],
        False,
        token=lambda now: token_doc(now, registrationExpiresAt="soon"),
    ),
    Case("not-utf8", ["token", "--profile", "dev"], False, token=lambda now: b"\xff\xfe{}"),
    Case("directory", ["token", "--profile", "dev"], False, token=lambda now: Path()),
    Case("world-readable", ["token", "--profile", "dev"], False, mode=0o644),
    Case("group-readable-json", ["token", "--json", "--profile", "dev"], False, mode=0o640),
    Case(
        "other-start-url",
        ["token", "--profile", "dev"],
        False,
        token=lambda now: token_doc(now, startUrl=OTHER_URL),
    ),
    Case("start-url-no-file", ["token", "--start-url", START_URL + "/", "--region", "us-east-1"], False),
    # Configuration and usage: errors, and what the fast path leaves alone.
    Case("no-such-profile", ["token", "--profile", "nope"], False),
    Case("no-sso-settings", ["token"], False, env={"AWS_PROFILE": "plain"}),
    Case("conflict", ["token", "--profile", "conflict"], False),
    Case("empty-sso-value", ["token", "--profile", "empty-account"], False),
    Case("nested-sso-value", ["token", "--profile", "nested-role"], False),
    Case("bad-region", ["token", "--profile", "bad-region"], False, key=LEGACY_KEY),
    Case("dangling-session", ["token", "--profile", "dangling"], False),
    Case("session-without-region", ["token", "--sso-session", "no-region"], False),
    Case("no-config", ["token", "--profile", "dev"], False, config=None),
    Case(
        "config-unset-var",
        ["token", "--profile", "dev"],
        False,
        env={"AWS_CONFIG_FILE": "$NO_SUCH_VAR/config"},
    ),
    Case("malformed-config", ["token", "--profile", "dev"], False, config=CONFIG + "not a setting\n"),
    Case(
        "nested-block-without-equals",
        ["token", "--profile", "dev"],
        False,
        config=CONFIG + "[profile x]\ns3 =\n  no equals sign\n",
    ),
    Case(
        "default-section-empty-sso",
        ["token", "--profile", "dev"],
        False,
        config="[DEFAULT]\nsso_login_method =\n\n" + CONFIG,
    ),
    Case("services-profile", ["token", "--profile", "services"], False),
    Case("endpoint-profile", ["token", "--profile", "endpoint"], False),
    Case(
        "services-of-aws-profile", ["token", "--sso-session", "dev"], False, env={"AWS_PROFILE": "services"}
    ),
    Case(
        "endpoint-env", ["token", "--profile", "dev"], False, env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    ),
    Case("empty-endpoint-env", ["token", "--profile", "dev"], False, env={"AWS_ENDPOINT_URL_SSO": ""}),
    Case("bad-endpoint-env", ["token", "--profile", "dev"], False, env={"AWS_ENDPOINT_URL_SSO_OIDC": "nope"}),
    Case("endpoint-flag", ["token", "--profile", "dev", "--endpoint-url", "http://127.0.0.1:9"], False),
    Case("debug", ["token", "--debug", "--profile", "dev"], False),
    Case("debug-first", ["--debug", "token", "--profile", "dev"], False),
    Case("abbreviation", ["token", "--prof", "dev"], False),
    Case("repeated-flag", ["token", "--profile", "dev", "--profile", "dev"], False),
    Case("repeated-json", ["token", "--json", "--json", "--profile", "dev"], False),
    Case("region-without-start-url", ["token", "--profile", "dev", "--region", "us-east-1"], False),
    Case("start-url-without-region", ["token", "--start-url", START_URL], False),
    Case("profile-and-session", ["token", "--profile", "dev", "--sso-session", "dev"], False),
    Case("empty-profile-flag", ["token", "--profile="], False, env={"AWS_PROFILE": "dev"}),
    Case("missing-value", ["token", "--profile"], False),
    Case("extra-argument", ["token", "dev"], False),
    Case("token-help", ["token", "--help"], False),
    Case("help", ["--help"], False),
    Case("no-arguments", [], False),
]


def _write(root: Path, case: Case, now: float) -> dict[str, str]:
    """A HOME for ``case`` at ``now``; returns the environment."""
    aws = root / ".aws"
    (aws / "sso" / "cache").mkdir(parents=True)
    if case.config is not None:
        (aws / "config").write_text(case.config)
    token = None if case.token is None else case.token(now)
    path = aws / "sso" / "cache" / case.key
    if isinstance(token, Path):
        path.mkdir()
    elif token is not None:
        data = token if isinstance(token, bytes) else (token if isinstance(token, str) else json.dumps(token))
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        path.chmod(case.mode)
    env = {
        "HOME": str(root),
        "AWS_CONFIG_FILE": str(aws / "config"),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
    }
    env.update(case.env)
    return env


def _in_process(argv: list[str], env: dict[str, str], clock: Callable[[], float]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):  # argparse's
        code = cli.run(Context(environ=env, stdout=out, stderr=err, clock=clock), argv)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_fast_path_answers_as_the_full_path(tmp_path: Path, case: Case) -> None:
    """In-process, at one fixed time: the fast path answers exactly the rows marked fast, and then
    what the full path prints (exit 0, nothing on stderr)."""
    now = float(int(time.time()))
    env = _write(tmp_path / "home", case, now)
    fast = _cli_fast.token_output(case.args, env, lambda: now)
    assert (fast is not None) == case.fast, fast
    if fast is not None:
        assert _in_process(case.args, env, lambda: now) == (0, fast, "")


def _normalized(done: subprocess.CompletedProcess[str], root: Path) -> tuple[int, str, str]:
    return done.returncode, done.stdout.replace(str(root), "HOME"), done.stderr.replace(str(root), "HOME")


def test_console_script_and_full_path_agree(tmp_path: Path) -> None:
    """End to end, every row: the console script (fast path when it can) and ``run`` alone, each on
    its own copy of the situation, print the same stdout and stderr and exit with the same code."""
    now = time.time()

    def both(index: int) -> tuple[Case, tuple[int, str, str], tuple[int, str, str]]:
        case = CASES[index]
        results = []
        for name, command in (("script", SSOOIDC), ("full", [sys.executable, "-c", FULL])):
            root = tmp_path / f"{index}-{name}"
            env = _write(root, case, now)
            done = subprocess.run(
                [*command, *case.args], env=env, capture_output=True, text=True, timeout=60, check=False
            )
            results.append(_normalized(done, root))
        return case, results[0], results[1]

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(both, range(len(CASES))))
    differences = [(case.id, script, full) for case, script, full in outcomes if script != full]
    assert differences == []
    # The table exercises what it says: fresh rows succeed silently, the rest mostly do not.
    for case, script, _full in outcomes:
        if case.fast:
            assert (script[0], script[2]) == (0, ""), case.id


def test_boundary_of_the_refresh_window(tmp_path: Path) -> None:
    """Fresh means more than ADVISORY_REFRESH seconds left, to the microsecond, as RefreshFlow says;
    at the threshold the full path decides (here: a token that cannot refresh, with a warning)."""
    base = 4_000_000_000.0
    case = Case(
        "boundary",
        ["token", "--json", "--profile", "dev"],
        True,
        token=lambda now: token_doc(now, refreshToken=..., expiresAt="2096-10-02T07:06:40.000001Z"),
    )
    env = _write(tmp_path / "home", case, base)
    expiry = datetime(2096, 10, 2, 7, 6, 40, 1, tzinfo=timezone.utc).timestamp()
    for now, fast in ((expiry - 900.000002, True), (expiry - 900, False), (expiry - 899, False)):
        out = _cli_fast.token_output(case.args, env, lambda now=now: now)
        assert (out is not None) == fast, now
        code, stdout, stderr = _in_process(case.args, env, lambda now=now: now)
        if out is not None:
            assert (code, stdout, stderr) == (0, out, "")
        else:
            assert code == 0
            assert "cannot be refreshed: the cached token has no refresh token" in stderr


def test_the_fast_path_writes_what_it_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _write(tmp_path / "home", CASES[0], time.time())
    monkeypatch.setattr(os, "environ", env)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    assert cli.main(["token", "--profile", "dev"]) == 0
    assert out.getvalue() == "aoaCACHEDTOKEN\n"

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Broken())
    assert cli.main(["token", "--profile", "dev"]) == 1


# --- the copies of the core's rules --------------------------------------------------------------------


def test_constants_match_the_core() -> None:
    assert _cli_fast.ADVISORY_REFRESH == _refresh.ADVISORY_REFRESH
    assert _cli_fast.MAX_FILE_SIZE == cache.MAX_FILE_SIZE
    for name in ("dev", "", "é ü", START_URL):
        assert _cli_fast._sha1_name(name) == oidc.token_cache_key(session_name=name)
    assert sorted(_cli_fast._ENDPOINT_VARS) == sorted(
        {*_endpoints._SERVICE_ENV_VARS.values(), "AWS_ENDPOINT_URL"}
    )


_TIMES = st.one_of(
    st.from_regex(
        r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{1,9})?"
        r"([Zz]|UTC|utc|[+-][0-9]{2}:?[0-9]{2})?\Z"
    ),
    st.builds(
        lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    ),
    st.text(max_size=30),
)


@settings(max_examples=500, deadline=None)
@given(_TIMES)
def test_times_read_as_load_token_reads_them(text: str) -> None:
    expected = _awsfiles._parse_time(text)
    try:
        epoch, shown = _cli_fast._epoch(text)
    except _cli_fast._Unsure:
        # Refused: the core refuses too, or it is botocore's form before 1970 (never fresh).
        assert expected is None or expected.year < 1970
        return
    assert expected is not None
    assert epoch == expected.timestamp()
    assert shown == expected.strftime("%Y-%m-%dT%H:%M:%SZ")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab09-_.Z \n", max_size=70))
def test_region_names_checked_as_resolve_endpoint_checks_them(region: str) -> None:
    valid = _endpoints._REGION_RE.fullmatch(region) is not None
    assert _cli_fast._valid_region(region) == valid


_WORDS = [
    "token",
    "login",
    "--json",
    "--json=1",
    "--profile",
    "--profile=dev",
    "--profile=",
    "--sso-session",
    "--sso-session=a b",
    "--start-url",
    "--start-url=u",
    "--region",
    "--region=r",
    "--prof",
    "--endpoint-url",
    "--debug",
    "-h",
    "--",
    "dev",
    "",
    "-x",
    "-1",
    "a b",
    "x=y",
    "token",
]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), max_size=7))
def test_command_lines_read_as_argparse_reads_them(argv: list[str]) -> None:
    """Whatever command line the fast path accepts, argparse accepts with the same meaning."""
    flags = _cli_fast._args(argv)
    if flags is None:
        return
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        args = cli._parser().parse_args(argv)
    assert args.command == "token"
    assert not getattr(args, "debug", False)
    assert args.endpoint_url is None
    assert args.json == ("json" in flags)
    for name in ("profile", "sso_session", "start_url", "region"):
        assert getattr(args, name) == flags.get(name)


def test_the_fast_module_loads_nothing_of_the_full_path() -> None:
    code = "import sys, json, sansio_ssooidc.adapters._cli_fast; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    modules = set(json.loads(done.stdout))
    assert sorted(modules & {*FULL_PATH, "configparser", "shlex"}) == []


def test_help_is_unchanged(tmp_path: Path) -> None:
    """``--help`` through the light ``main`` prints what ``run`` prints."""
    env = Home(tmp_path / "home").env(COLUMNS="100")
    script = subprocess.run([*SSOOIDC, "--help"], env=env, capture_output=True, text=True, check=False)
    full = subprocess.run(
        [sys.executable, "-c", FULL, "--help"], env=env, capture_output=True, text=True, check=False
    )
    assert (script.returncode, script.stdout, script.stderr) == (full.returncode, full.stdout, full.stderr)
    assert "usage: ssooidc" in script.stdout
