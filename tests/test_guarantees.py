"""The promises of ``docs/explanation/guarantees.md`` that no other test module proves, and a check of
the page itself: every test it cites as a proof exists.

- the core does no I/O: statically (no I/O module, clock read, global randomness, ``open`` or logging
  handler in ``src/sansio_ssooidc``) and at run time (an audit hook sees no file, socket, process or
  sleep while flows run against the simulator, cache files and config files are parsed, requests signed);
- TLS verification cannot be turned off: no adapter or CLI option does it, a ``requests.Session`` with
  ``verify=False`` is verified all the same, empty CA variables fall back to the system store, and a
  certificate for another host name is refused even when its CA is trusted;
- no adapter follows an HTTP redirect (which would resend a secret-bearing body to another URL).
"""

from __future__ import annotations

import ast
import functools
import http.server
import inspect
import re
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests as requests_lib
import trustme
from sansio_ssooidc.adapters import _driver
from sansio_ssooidc.adapters import anyio as ad_anyio
from sansio_ssooidc.adapters import h11 as ad_h11
from sansio_ssooidc.adapters import requests as ad_requests

import sansio_ssooidc as oidc
from tests.clikit import Home, run
from tests.test_adapters import ADAPTERS, Clock, Driver
from tests.tlsserver import TLSServer

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "src" / "sansio_ssooidc"
PAGE = ROOT / "docs" / "explanation" / "guarantees.md"


# --- the page --------------------------------------------------------------------------------------

NODE_ID = re.compile(r"(tests/[\w/]+\.py)::(\w+)(?:::(\w+))?(?:\[[^\]\s`]*\])?")


@functools.cache
def _test_names(path: Path) -> set[str]:
    """``name`` for each test function and ``Class::name`` for each test method of a test file."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names |= {
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test")
            }
    return names


def test_every_test_the_guarantees_page_cites_exists() -> None:
    cited = NODE_ID.findall(PAGE.read_text())
    assert len(cited) >= 40, "the page cites its proofs as tests/test_x.py::test_name"
    missing = []
    for file, first, second in cited:
        path = ROOT / file
        name = f"{first}::{second}" if second else first
        if not path.is_file() or name not in _test_names(path):
            missing.append(f"{file}::{name}")
    assert not missing, f"the guarantees page cites tests that do not exist: {missing}"


# --- the core does no I/O --------------------------------------------------------------------------

#: Modules whose import alone would mean I/O, a clock, the environment or randomness in the core.
IO_MODULES = {
    "asyncio",
    "concurrent",
    "ctypes",
    "fcntl",
    "glob",
    "http.client",
    "http.server",
    "logging.handlers",
    "mmap",
    "multiprocessing",
    "os",
    "pathlib",
    "secrets",
    "select",
    "selectors",
    "shutil",
    "signal",
    "socket",
    "socketserver",
    "sqlite3",
    "ssl",
    "subprocess",
    "sys",
    "tempfile",
    "time",
    "urllib.request",
    "webbrowser",
}
IO_BUILTINS = {"open", "print", "input", "breakpoint"}
#: ``module.attribute`` uses that read a clock, draw global randomness or install a log handler.
IO_ATTRIBUTES = {
    "datetime": {"now", "utcnow", "today"},
    "date": {"today"},
    "_dt": {"now", "utcnow", "today"},
    "random": {
        "random",
        "randint",
        "randrange",
        "choice",
        "choices",
        "shuffle",
        "sample",
        "uniform",
        "getrandbits",
        "randbytes",
        "seed",
        "SystemRandom",
    },
    "uuid": {"uuid1", "uuid4"},
    "logging": {"basicConfig", "StreamHandler", "FileHandler"},
}


def _violations(source: str, label: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, filename=label)):
        where = f"{label}:{getattr(node, 'lineno', 0)}"
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for module in modules:
            if any(module == banned or module.startswith(banned + ".") for banned in IO_MODULES):
                found.append(f"{where}: imports {module}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_BUILTINS:
            found.append(f"{where}: calls {node.func.id}()")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr in IO_ATTRIBUTES.get(node.value.id, ())
        ):
            found.append(f"{where}: uses {node.value.id}.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr in ("addHandler", "basicConfig"):
            found.append(f"{where}: uses .{node.attr}")
    return found


def test_the_core_has_no_io_in_its_source() -> None:
    files = sorted(CORE.rglob("*.py"))
    assert len(files) > 15
    violations = [
        line for path in files for line in _violations(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not violations, violations


def test_the_checker_would_see_io() -> None:
    sample = (
        "import os, socket\nfrom time import sleep\nimport random\n"
        "def f(path):\n    print(open(path).read(), random.random(), datetime.now())\n"
        "    logging.getLogger().addHandler(None)\n"
    )
    found = "\n".join(_violations(sample, "sample.py"))
    for what in ("imports os", "imports socket", "imports time", "calls print()", "calls open()"):
        assert what in found
    for what in ("uses random.random", "uses datetime.now", "uses .addHandler"):
        assert what in found


AUDIT = textwrap.dedent(
    """\
    import importlib, json, pkgutil, random, sys
    from datetime import datetime, timezone
    import sansio_ssooidc as oidc
    from tests.fuzz import soak

    for info in pkgutil.walk_packages(oidc.__path__, "sansio_ssooidc."):
        if not info.name.startswith("sansio_ssooidc.adapters"):
            importlib.import_module(info.name)
    for name in oidc.__all__:
        getattr(oidc, name)
    import http  # (imported lazily by the core for HTTPStatus: a module, not I/O)

    IO = ("open", "socket.", "subprocess.", "os.", "shutil.", "time.sleep", "http.client.", "urllib.",
          "webbrowser.", "select.", "ctypes.", "mmap.", "fcntl.", "glob.", "tempfile.", "sqlite3.",
          "syslog.", "pty.", "signal.", "resource.", "ssl.", "socketserver.", "ftplib.", "smtplib.")
    seen = []

    def hook(event, args):
        if event == "open" and str(args[0]).endswith((".py", ".pyc", ".so")):
            return  # a module being loaded
        if event.startswith(IO):
            seen.append(f"{event} {str(args)[:200]}")

    sys.addaudithook(hook)

    report = soak.soak(dict.fromkeys(soak.KINDS, 40), seed=11)  # device, PKCE and refresh logins
    assert len(report.logins) == 120 and not report.failures()
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    token = oidc.CachedToken(access_token="a", expires_at=now, refresh_token="r")
    assert oidc.load_token(oidc.dump_token(token)) == token
    config = oidc.parse_config(
        "[sso-session s]\\nsso_start_url = https://x/start\\nsso_region = us-east-1\\n"
    )
    oidc.resolve_sso_settings(config, sso_session="s")
    oidc.resolve_endpoint("us-east-1", environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})
    op = oidc.CreateTokenWithIAM(client_id="arn:aws:sso::1:application/x", grant_type="refresh_token",
                                 refresh_token="r")
    op.to_request(oidc.resolve_endpoint("us-east-1"),
                  credentials=oidc.AwsCredentials(access_key_id="AKIA", secret_access_key="s"), now=now)
    flow = oidc.DeviceFlow(start_url="https://x/start", region="us-east-1", client_name="c")
    flow.next_action(1.8e9)
    oidc.DeviceFlow.from_dict(flow.to_dict(include_secrets=True))
    print(json.dumps(seen))
    """
)


def test_the_core_opens_no_file_socket_or_process_at_run_time() -> None:
    done = subprocess.run(
        [sys.executable, "-c", AUDIT], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]", done.stdout


# --- TLS is always verified -------------------------------------------------------------------------

TLS_OFF = re.compile(r"verify|insecure|ssl_context|cert_reqs|check_hostname|no_ssl|tls_context", re.I)


def test_no_adapter_or_cli_option_turns_verification_off(tmp_path: Path) -> None:
    callables = [
        ad_requests.run,
        ad_requests.send,
        ad_h11.run,
        ad_h11.send,
        ad_h11.SocketTransport,
        ad_anyio.run,
        ad_anyio.send,
        ad_anyio.AsyncTransport,
    ]
    for function in callables:
        parameters = list(inspect.signature(function).parameters)
        assert "ca_bundle" in parameters  # trust can be extended, to a CA bundle, and nothing else
        assert not [name for name in parameters if TLS_OFF.search(name)], (function, parameters)
    for context in (_driver.tls_context(None, {}), _driver.tls_context(None, {"AWS_CA_BUNDLE": ""})):
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname
    home = Home(tmp_path / "home")
    for command in ("login", "token", "credentials", "logout"):
        helped = run([command, "--help"], home.env())
        assert helped.returncode == 0, helped.stderr
        assert not TLS_OFF.search(helped.stdout), helped.stdout
    refused = run(["token", "--no-verify-ssl"], home.env())
    assert refused.returncode == 2
    assert "unrecognized arguments: --no-verify-ssl" in refused.stderr


def _tls_failure(error: BaseException) -> bool:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = (
            current.__cause__
            or current.__context__
            or (current.args[0] if current.args and isinstance(current.args[0], BaseException) else None)
        )
    return any(
        isinstance(e, (ssl.SSLError, requests_lib.exceptions.SSLError))
        or "CERTIFICATE_VERIFY_FAILED" in str(e)
        for e in chain
    )


def test_a_session_with_verify_false_is_verified_all_the_same(tmp_path: Path) -> None:
    op = oidc.ListAccounts(access_token="t")
    with TLSServer(tmp_path) as server, requests_lib.Session() as session:
        session.verify = False
        for environ in ({}, {"AWS_CA_BUNDLE": "", "REQUESTS_CA_BUNDLE": "", "CURL_CA_BUNDLE": ""}):
            with pytest.raises(Exception) as caught:
                ad_requests.send(op, server.url, session=session, environ=environ)
            assert _tls_failure(caught.value), caught.value
        assert server.simulator.requests.get("ListAccounts", 0) == 0
        with pytest.raises(oidc.UnauthorizedException):  # the same session, trusting the CA: TLS passes
            ad_requests.send(op, server.url, session=session, ca_bundle=server.ca_file)


@pytest.fixture
def wrong_host_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """An HTTPS port on 127.0.0.1 whose certificate, from a CA the client will trust, names another
    host; it completes no handshake with a verifying client. Yields (url, ca_file)."""
    ca = trustme.CA()
    ca_file = str(tmp_path / "ca.pem")
    ca.cert_pem.write_to_path(ca_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("other.example").configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # so that the loop sees ``stop``
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    with context.wrap_socket(conn, server_side=True):
                        pass
                except (OSError, ssl.SSLError):
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{listener.getsockname()[1]}", ca_file
    finally:
        stop.set()
        thread.join(10)
        listener.close()


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_certificate_for_another_host_is_refused(adapter: str, wrong_host_server: tuple[str, str]) -> None:
    url, ca_file = wrong_host_server
    with pytest.raises(Exception) as caught:
        Driver(adapter, Clock()).send(oidc.ListAccounts(access_token="t"), url, ca_bundle=ca_file, environ={})
    assert _tls_failure(caught.value), repr(caught.value)


# --- redirects are not followed ---------------------------------------------------------------------


class _Redirector(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    status = 307
    target = ""
    hits: list[str]

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.hits.append(self.path)
        self.send_response(self.status)
        if self.target:
            self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(status: int, target: str) -> tuple[http.server.ThreadingHTTPServer, list[str]]:
    hits: list[str] = []
    handler = type("Handler", (_Redirector,), {"status": status, "target": target, "hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server, hits


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_redirects_are_not_followed(adapter: str, status: int) -> None:
    elsewhere, elsewhere_hits = _serve(200, "")
    redirector, hits = _serve(status, f"http://127.0.0.1:{elsewhere.server_address[1]}/steal")
    try:
        op = oidc.CreateToken(
            client_id="cid", client_secret="csecret", grant_type="refresh_token", refresh_token="aorsecret"
        )
        with pytest.raises(oidc.SSOOIDCError):
            Driver(adapter, Clock()).send(op, f"http://127.0.0.1:{redirector.server_address[1]}", environ={})
        assert hits == ["/token"]
        assert elsewhere_hits == []
    finally:
        for server in (redirector, elsewhere):
            server.shutdown()
            server.server_close()


# --- PKCE secrets come from the operating system ----------------------------------------------------


def test_the_cli_draws_pkce_secrets_from_the_os_random_source() -> None:
    """The PKCE verifier and the ``state`` are drawn from the flow's ``rng``, which ``AuthCodeFlow``
    requires (no default); every flow the CLI builds gets ``random.SystemRandom()`` (``os.urandom``)."""
    calls = []
    for path in sorted((ROOT / "adapters").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).split(".")[-1] in (
                "AuthCodeFlow",
                "DeviceFlow",
                "RefreshFlow",
            ):
                keywords = {keyword.arg: ast.unparse(keyword.value) for keyword in node.keywords}
                calls.append((path.name, node.lineno, ast.unparse(node.func), keywords.get("rng")))
    assert any(func.endswith("AuthCodeFlow") for _, _, func, _ in calls), calls
    assert [call for call in calls if call[3] != "random.SystemRandom()"] == []
