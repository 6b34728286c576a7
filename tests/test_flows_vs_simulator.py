"""Our flows, driven in-process against the sans-IO simulator with a virtual clock: the same
scenarios the boto3 fidelity tests run over HTTP, and the same with 20 % injected faults.

The driver plays transport and browser: a dropped connection is reported as a reset, latency
beyond the read timeout as a timeout; the browser's own visits are never faulted.
"""

from __future__ import annotations

import random
import statistics
from typing import Any
from urllib.parse import urlsplit

import pytest

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import FaultPlan, Simulator, UserScript

URL = "http://sim.test"
START = 1_800_000_000.0
READ_TIMEOUT = 1.0
PATIENT = oidc.RetryPolicy(max_attempts=10, base=0.5, cap=10.0)


def drive(flow: Any, sim: Simulator, now: float = START) -> tuple[Any, float, int]:
    """Run ``flow`` against ``sim``: (result, end time, requests sent). Raises the flow's error."""
    redirect: str | None = None
    sent = 0
    last_wait = now
    while True:
        action = flow.next_action(now)
        if isinstance(action, oidc.Send):
            assert now >= last_wait  # never before the wait it was told to keep
            sent += 1
            reply = sim.respond(action.request, now)
            if reply.delay > READ_TIMEOUT:
                now += READ_TIMEOUT
                flow.receive_failure(TimeoutError("read timed out"), now)
            elif reply.response is None:
                flow.receive_failure(ConnectionResetError("connection reset by peer"), now)
            else:
                now += reply.delay
                flow.receive_response(reply.response, now)
        elif isinstance(action, oidc.Wait):
            assert action.until >= now
            now = last_wait = action.until
        elif isinstance(action, oidc.ShowCode):
            assert action.verification_uri_complete
            page = sim.handle(oidc.HttpRequest(method="GET", url=action.verification_uri_complete), now)
            assert page.status == 200
        elif isinstance(action, oidc.OpenBrowser):
            answer = sim.handle(oidc.HttpRequest(method="GET", url=action.url), now)
            location = answer.header("Location")
            assert answer.status == 302
            assert location
            redirect = urlsplit(location).query
        elif isinstance(action, oidc.AwaitRedirect):
            assert redirect is not None
            flow.receive_redirect(redirect, now)
        else:
            assert isinstance(action, oidc.Done)
            return action.result, now, sent


def device(sim: Simulator, seed: int, **kwargs: Any) -> oidc.DeviceFlow:
    return oidc.DeviceFlow(
        start_url=sim.start_url,
        region="us-east-1",
        endpoint=URL,
        scopes=("sso:account:access",),
        rng=random.Random(seed),
        **kwargs,
    )


def pkce(sim: Simulator, seed: int) -> oidc.AuthCodeFlow:
    return oidc.AuthCodeFlow(
        start_url=sim.start_url,
        region="us-east-1",
        endpoint=URL,
        redirect_uri="http://127.0.0.1:4321/oauth/callback",
        rng=random.Random(seed),
        retry=PATIENT,
    )


# --- the fidelity scenarios, without faults --------------------------------------------------


def test_device_pkce_refresh_and_role_credentials() -> None:
    sim = Simulator(rng=random.Random(1), rotate_refresh_tokens=True)
    login, now, _ = drive(device(sim, 1), sim)
    assert login.token.refresh_token
    code_login, now, _ = drive(pkce(sim, 2), sim, now)
    assert code_login.registration.grant_types == ("authorization_code", "refresh_token")
    refreshed, now, _ = drive(oidc.RefreshFlow(token=login.token, endpoint=URL, advisory=7200), sim, now)
    assert refreshed.refreshed
    assert refreshed.token.refresh_token != login.token.refresh_token
    op = oidc.GetRoleCredentials(
        access_token=refreshed.token.access_token, account_id="111111111111", role_name="ReadOnlyAccess"
    )
    creds = op.parse_response(sim.handle(op.to_request(URL), now))
    assert creds.expiration_datetime.timestamp() > now


@pytest.mark.parametrize(
    ("script", "error"),
    [
        (UserScript(action="deny"), oidc.AccessDeniedException),
        (UserScript(action="deny", on_visit=False, after_polls=2), oidc.AccessDeniedException),
        (UserScript(action="never"), oidc.LoginTimeoutError),
    ],
)
def test_device_login_failures(script: UserScript, error: type[Exception]) -> None:
    sim = Simulator(user=script, device_code_lifetime=30)
    with pytest.raises(error):
        drive(device(sim, 3), sim)


def test_revoked_refresh_token_means_login_required() -> None:
    sim = Simulator()
    login, now, _ = drive(device(sim, 5), sim)
    sim.revoke_refresh_tokens()
    with pytest.raises(oidc.LoginRequiredError) as info:
        drive(oidc.RefreshFlow(token=login.token, endpoint=URL, advisory=7200, mandatory=7200), sim, now)
    assert info.value.reason is oidc.LoginRequiredReason.REFRESH_REJECTED


# --- the same with 20 % faults ------------------------------------------------------------------

LOGINS = 300


def _faulty(seed: int, **config: Any) -> Simulator:
    # Latency stays under the read timeout: an answer lost after the server acted on it (a device
    # code spent) is not a transient fault but a lost login, which no client can recover.
    return Simulator(rng=random.Random(seed), faults=FaultPlan(rate=0.2, latency=0.5), **config)


@pytest.mark.parametrize("kind", ["device", "pkce", "refresh"])
def test_every_login_completes_with_20_percent_faults(kind: str) -> None:
    requests_per_login = []
    for seed in range(LOGINS):
        user = UserScript(on_visit=False, after_polls=seed % 4) if kind == "device" else UserScript()
        sim = _faulty(seed, user=user)
        if kind == "device":
            result, _, sent = drive(device(sim, seed, retry=PATIENT), sim)
            assert result.token.access_token
        elif kind == "pkce":
            result, _, sent = drive(pkce(sim, seed), sim)
            assert result.token.access_token
        else:
            login, now, _ = drive(device(sim, seed, retry=PATIENT), sim)
            flow = oidc.RefreshFlow(
                token=login.token, endpoint=URL, advisory=7200, mandatory=7200, retry=PATIENT
            )
            result, _, sent = drive(flow, sim, now)
            assert result.refreshed
        requests_per_login.append(sent)
    # Bounded work: each login stays within a small multiple of its fault-free request count.
    assert max(requests_per_login) <= 40
    print(
        f"{kind}: {LOGINS} logins, requests per login mean {statistics.mean(requests_per_login):.1f}, "
        f"max {max(requests_per_login)}"
    )


class _LibraryError(Exception):
    """A transport library's own failure type, not an OSError (like anyio.BrokenResourceError)."""


def test_a_transport_failure_of_any_type_is_retried_then_typed() -> None:
    sim = Simulator()
    flow = device(sim, 9, retry=oidc.RetryPolicy(max_attempts=2, base=0.1, cap=0.1))
    now = START
    action = flow.next_action(now)
    assert isinstance(action, oidc.Send)
    flow.receive_failure(_LibraryError("stream broken"), now)  # retried, not fatal
    now = flow.next_action(now).until  # type: ignore[union-attr]
    assert isinstance(flow.next_action(now), oidc.Send)
    flow.receive_failure(_LibraryError("stream broken again"), now)
    with pytest.raises(oidc.RetriesExhaustedError) as info:
        flow.next_action(now)
    last = info.value.last_error
    assert isinstance(last, oidc.TransportError)
    assert isinstance(last, ConnectionError)
    assert isinstance(last.__cause__, _LibraryError)
