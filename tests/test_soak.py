"""The fault soak, reduced for CI: device, PKCE and refresh logins against the simulator with 20 %
faults of every kind (``tests/fuzz/soak.py`` explains the driver and its rules; the full run is
``benchmarks/soak.py``).

Policy: ``RetryPolicy(max_attempts=10, base=0.5, cap=10.0)``. Bound on requests per login:
``max_attempts`` per step that needs the service to make progress (``soak.request_bound``):
device ``10 * (3 + after_polls)``, PKCE 20, refresh 10.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import FAULT_KINDS, FaultPlan, Simulator

from .fuzz import soak

LOGINS = 1500


@pytest.fixture(scope="module")
def report() -> soak.Report:
    result = soak.soak(dict.fromkeys(soak.KINDS, LOGINS), seed=1)
    print("\n" + "\n".join(result.lines()))
    return result


def test_every_login_completes_or_fails_with_a_clear_reason(report: soak.Report) -> None:
    failures = report.failures()  # a LostResponseError counts apart only where a success was lost
    assert not failures, [(f.kind, f.outcome, str(f.error)) for f in failures[:5]]
    for kind in soak.KINDS:
        logins = report.by_kind(kind)
        assert len(logins) == LOGINS
        # Only a response lost after redeeming a single-use grant can end a login, and rarely; the
        # flow then says so (LostResponseError), never with a bare InvalidGrantException.
        assert not [login for login in logins if isinstance(login.error, oidc.InvalidGrantException)]
        lost = [login for login in logins if login.outcome == "lost-response"]
        assert len(lost) <= 0.05 * LOGINS
        for login in lost:
            assert isinstance(login.error, oidc.LostResponseError)
            assert isinstance(login.error.__cause__, oidc.InvalidGrantException)
            assert login.error.grant == {"device": "device code", "pkce": "authorization code"}[kind]
    assert not [login for login in report.by_kind("refresh") if login.outcome != "ok"]


def test_requests_per_login_stay_within_the_policy_bound(report: soak.Report) -> None:
    assert not report.over_bound()
    for kind in soak.KINDS:
        requests = [login.requests for login in report.by_kind(kind)]
        assert max(requests) <= max(soak.request_bound(kind, polls) for polls in range(4))
        assert sum(requests) / len(requests) < {"device": 8, "pkce": 3, "refresh": 2}[kind]


def test_every_fault_kind_was_injected_at_the_rate(report: soak.Report) -> None:
    assert set(report.faults) == set(FAULT_KINDS)
    sent = sum(login.requests for login in report.logins)
    assert 0.15 * sent < sum(report.faults.values()) < 0.25 * sent + 500  # plus the refresh set-up logins


def test_the_bound_is_tight() -> None:
    # Nine 5xx in a row for each step, then success: exactly the bound; ten: the flow gives up.
    nine = [*(["5xx"] * 9), None, *(["5xx"] * 9)]
    sim = Simulator(rng=random.Random(2), faults=FaultPlan(script=nine))
    flow = soak._pkce(sim, random.Random(3), None)
    result, _, sent, _ = soak.Driver(sim, random.Random(4)).run(flow, soak.START, soak._pkce_deadline)
    assert isinstance(result, oidc.LoginResult)
    assert sent == soak.request_bound("pkce", 0) == 20
    sim = Simulator(rng=random.Random(2), faults=FaultPlan(script=["5xx"] * 10))
    flow = soak._pkce(sim, random.Random(3), None)
    result, _, sent, _ = soak.Driver(sim, random.Random(4)).run(flow, soak.START, soak._pkce_deadline)
    assert isinstance(result, oidc.RetriesExhaustedError)
    assert sent == 10


class _Impatient:
    """A broken flow: asks to wait, then sends anyway when asked early."""

    def __init__(self, request: oidc.HttpRequest) -> None:
        self.request = request
        self.calls = 0

    def next_action(self, now: float) -> Any:
        self.calls += 1
        if self.calls == 1:
            return oidc.Wait(until=now + 10)
        return oidc.Send(request=self.request, operation="CreateToken")


def test_the_driver_catches_a_request_before_its_wait() -> None:
    sim = Simulator()
    request = oidc.RegisterClient(client_name="x", client_type="public").to_request(soak.URL)
    with pytest.raises(soak.Violation, match="before the wait"):
        soak.Driver(sim, random.Random(0)).run(_Impatient(request), soak.START, lambda flow: None)


def test_the_driver_catches_a_request_after_the_deadline() -> None:
    sim = Simulator()
    request = oidc.RegisterClient(client_name="x", client_type="public").to_request(soak.URL)

    class Late(_Impatient):
        def next_action(self, now: float) -> Any:
            return oidc.Send(request=self.request, operation="CreateToken")

    with pytest.raises(soak.Violation, match="at or after the deadline"):
        soak.Driver(sim, random.Random(0)).run(Late(request), soak.START, lambda flow: soak.START)
