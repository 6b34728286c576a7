"""``ssooidc`` on a real pseudo-terminal, as a person sees it: both login flows, ``--no-browser``, the
QR code, the live countdown, Ctrl-C typed while polling, and the error messages people meet most."""

from __future__ import annotations

import io
import re
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sansio_ssooidc.adapters.simserver import SimulatorServer

from sansio_ssooidc.simulator import Simulator, UserScript
from tests.clikit import Home, Terminal, fake_browser, files

Serve = Callable[..., SimulatorServer]

try:
    import segno
except ImportError:  # the QR code is optional: without segno the login shows none
    segno = None


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(
        tmp_path / "home",
    )


@pytest.fixture
def terminals() -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def start(*args: Any, **kwargs: Any) -> Terminal:
        terminal = Terminal(*args, **kwargs)
        opened.append(terminal)
        return terminal

    yield start
    for terminal in opened:
        terminal.close()


def test_device_flow_no_browser_qr_and_countdown(
    home: Home, ssooidc_simulator_factory: Serve, terminals: Callable[..., Terminal], tmp_path: Path
) -> None:
    server = ssooidc_simulator_factory(Simulator(user=UserScript(on_visit=False, after_polls=1)))
    browser, log = fake_browser(tmp_path)
    term = terminals(
        ["login", "--profile", "dev", "--use-device-code", "--no-browser"], home.env(server, BROWSER=browser)
    )
    code = term.expect(r"enter the code:\s+([A-Z]{4}-[A-Z]{4})").group(1)
    complete = f"{server.url}/device?user_code={code}"
    term.expect(re.escape(complete))
    term.expect(r"\d:\d\d left · 1 poll, every 1 s · waiting for you to approve")
    assert term.wait() == 0
    screen = term.text
    assert "device code flow" in screen
    assert "Logged in to sso-session" in screen
    assert not log.exists()  # --no-browser kept the browser closed, though BROWSER is set
    if segno is not None:
        out = io.StringIO()
        segno.make(complete, error="l", micro=False).terminal(out=out, compact=True, border=2)
        assert out.getvalue().replace("\n", "\r\n") in term.raw.decode()
    else:
        assert "QR code" not in screen
    assert home.token_path().exists()


def test_pkce_opens_the_browser(
    home: Home, ssooidc_simulator_factory: Serve, terminals: Callable[..., Terminal], tmp_path: Path
) -> None:
    server = ssooidc_simulator_factory(Simulator())
    browser, log = fake_browser(tmp_path)
    term = terminals(["login", "--sso-session", "dev"], home.env(server, BROWSER=browser))
    assert term.wait() == 0, term.text
    assert "PKCE flow" in term.text
    assert "Your browser has been opened to log in" in term.text
    assert log.read_text().startswith(f"{server.url}/authorize?response_type=code&client_id=")
    assert home.token_path().exists()


def test_pkce_no_browser_prints_the_url(
    home: Home, ssooidc_simulator_factory: Serve, terminals: Callable[..., Terminal], tmp_path: Path
) -> None:
    server = ssooidc_simulator_factory(Simulator())
    browser, log = fake_browser(tmp_path)
    term = terminals(["login", "--sso-session", "dev", "--no-browser"], home.env(server, BROWSER=browser))
    term.expect("Open this URL in a browser on this machine to log in:")
    url = term.expect(r"(http://\S+/authorize\?\S+)").group(1)
    with urllib.request.urlopen(url, timeout=10) as page:  # the person opens it
        assert b"Login complete" in page.read()
    assert term.wait() == 0, term.text
    assert not log.exists()


def test_ctrl_c_while_polling(
    home: Home, ssooidc_simulator_factory: Serve, terminals: Callable[..., Terminal]
) -> None:
    server = ssooidc_simulator_factory(Simulator(user=UserScript(action="never")))
    term = terminals(["login", "--profile", "dev", "--use-device-code"], home.env(server))
    term.expect(r"1 poll, every 1 s · waiting for you to approve")
    term.type(b"\x03")  # Ctrl-C at the keyboard: SIGINT from the terminal
    assert term.wait() == 130
    assert "Login cancelled; nothing was written." in term.text
    assert term.text.rstrip().endswith("ssooidc: interrupted")
    assert files(home.sso_cache) == []  # no token, no registration, no temporary file, no lock
    assert server.simulator.requests["RegisterClient"] == 1


@pytest.mark.parametrize(
    ("case", "args", "code", "message"),
    [
        (
            "missing profile",
            ["token", "--profile", "prod"],
            2,
            'ssooidc: The config file has no profile "prod" (known: default, dev, legacy, plain); '
            "add a [profile prod] section or use one of the known names. (config file: {config})",
        ),
        (
            "legacy profile",
            ["token", "--profile", "legacy"],
            1,
            'ssooidc: login required for legacy profile "legacy": the token comes from a legacy profile '
            "(sso_start_url without sso_session), which cannot refresh; run: ssooidc login --profile legacy",
        ),
        (
            "expired registration",
            ["token", "--profile", "dev"],
            1,
            'ssooidc: login required for sso-session "dev" (profile "dev"): '
            "the client registration has expired; run: ssooidc login --profile dev",
        ),
        (
            "denied login",
            ["login", "--use-device-code"],
            1,
            'ssooidc: the login for sso-session "dev" (profile "dev") was denied in the browser; '
            "to try again, run: ssooidc login",
        ),
    ],
)
def test_error_messages_on_a_terminal(
    home: Home,
    ssooidc_simulator_factory: Serve,
    terminals: Callable[..., Terminal],
    case: str,
    args: list[str],
    code: int,
    message: str,
) -> None:
    server = ssooidc_simulator_factory(
        Simulator(user=UserScript(action="deny", on_visit=False, after_polls=0))
    )
    past = datetime.now(timezone.utc) - timedelta(minutes=1)
    if case == "legacy profile":
        home.write_token(None, expires_at=past, refresh_token=None, client_id=None, client_secret=None)
    if case == "expired registration":
        home.write_token(expires_at=past, registration_expires_at=past)
    term = terminals(args, home.env(server, AWS_PROFILE="dev"))
    assert term.wait() == code
    assert term.text.strip().splitlines()[-1] == message.format(config=home.config)
