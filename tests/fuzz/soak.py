"""The fault soak: device, PKCE and refresh logins against the sans-IO simulator with 20 % injected
faults of every kind, driven in-process on a virtual clock (a copy, adapted, of the driver in
tests/test_flows_vs_simulator.py). ``tests/test_soak.py`` runs it reduced in CI, ``benchmarks/soak.py``
in full.

The driver plays transport, clock and user, and checks on every action:

- no request before its ``Wait.until``: before each wait ends the flow is asked again at an earlier
  time and must answer with the same ``Wait``; a wake-up may come late (up to 50 ms, as sleeps do);
- no request at or after the flow's deadline: CreateToken polls before the device code expires,
  the code exchange before the redirect deadline, a mandatory refresh before the token expires;
- the requests of a login stay within the bound the retry policy gives (:func:`request_bound`).

Faults (``FaultPlan(rate=0.2)``, kinds 5xx, throttle, malformed, drop, latency): a drop is a
connection reset; latency beyond the read timeout a ``TimeoutError`` after the timeout (the
simulator has handled the request all the same), latency within it a late response. Batches
alternate latency 2 s (beyond the 1 s read timeout) and 0.5 s (within it).

A login may legitimately end in one way other than success: a *lost response* -- the response that
redeemed a single-use grant (the approved device code, the authorization code) timed out, and the
retry is refused. No client can do better; the flow says so with ``LostResponseError``. Such a login
is counted apart only when the simulator confirms that a success answer really was lost; a
``LostResponseError`` without one is a failure like any other.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import FaultPlan, Simulator, UserScript

URL = "http://sim.test"
START = 1_800_000_000.0
READ_TIMEOUT = 1.0
#: The patient policy of the soak: ten attempts per request, backoff 0.5 s doubling to 10 s.
PATIENT = oidc.RetryPolicy(max_attempts=10, base=0.5, cap=10.0)
RATE = 0.2
LATENCIES = (2.0, 0.5)
BATCH = 50
REDIRECT = "http://127.0.0.1:4321/oauth/callback"
KINDS = ("device", "pkce", "refresh")


def request_bound(kind: str, after_polls: int, policy: oidc.RetryPolicy = PATIENT) -> int:
    """The most requests a login may send: ``max_attempts`` per step that needs the service to
    make progress. Device: RegisterClient, StartDeviceAuthorization and ``after_polls + 1`` polls the
    service counts (the user approves at poll ``after_polls + 1``); PKCE: RegisterClient and the
    exchange; refresh: the refresh. A cached registration only lowers the count."""
    steps = {"device": 2 + after_polls + 1, "pkce": 2, "refresh": 1}[kind]
    return policy.max_attempts * steps


class Violation(AssertionError):
    """The flow broke one of the soak's rules."""


@dataclasses.dataclass
class Login:
    """One login's record."""

    kind: str
    outcome: str  # "ok", "lost-response" or the error type
    requests: int
    bound: int
    virtual_seconds: float
    error: BaseException | None = None


class Driver:
    """Drives flows against one simulator on a virtual clock, checking the rules."""

    def __init__(self, sim: Simulator, rng: random.Random) -> None:
        self.sim = sim
        self.rng = rng

    def run(
        self, flow: Any, now: float, deadline: Callable[[Any], float | None]
    ) -> tuple[Any, float, int, bool]:
        """(result or error, end time, requests sent, whether a success response was lost)."""
        redirect: str | None = None
        sent = 0
        lost_success = False
        while True:
            try:
                action = flow.next_action(now)
            except oidc.SSOOIDCError as exc:
                return exc, now, sent, lost_success
            if isinstance(action, oidc.Send):
                limit = deadline(flow) if action.operation == "CreateToken" else None
                if limit is not None and now >= limit:
                    raise Violation(f"{action.operation} sent at {now} at or after the deadline {limit}")
                sent += 1
                reply = self.sim.respond(action.request, now)
                if reply.response is None:
                    flow.receive_failure(ConnectionResetError("connection reset by peer"), now)
                elif reply.delay > READ_TIMEOUT:
                    lost_success |= reply.response.status == 200 and action.operation == "CreateToken"
                    now += READ_TIMEOUT
                    flow.receive_failure(TimeoutError("read timed out"), now)
                else:
                    now += reply.delay
                    flow.receive_response(reply.response, now)
            elif isinstance(action, oidc.Wait):
                if action.until <= now:
                    raise Violation(f"Wait until {action.until} at {now}: not in the future")
                early = now + (action.until - now) * self.rng.random()
                again = flow.next_action(early)
                if not isinstance(again, oidc.Wait) or again.until != action.until:
                    raise Violation(
                        f"asked at {early}, before the wait until {action.until} ended: {again!r}"
                    )
                now = action.until + (self.rng.uniform(0, 0.05) if self.rng.random() < 0.3 else 0.0)
            elif isinstance(action, oidc.ShowCode):
                pass  # the scripted user approves after polls, not on visiting the page
            elif isinstance(action, oidc.OpenBrowser):
                answer = self.sim.handle(oidc.HttpRequest(method="GET", url=action.url), now)
                location = answer.header("Location")
                if answer.status != 302 or not location:
                    raise Violation(f"the authorize page did not redirect: {answer.status}")
                redirect = urlsplit(location).query
                now += self.rng.uniform(0.5, 5.0)  # the user signs in
            elif isinstance(action, oidc.AwaitRedirect):
                assert redirect is not None
                if now >= action.until:
                    raise Violation("AwaitRedirect after its own deadline")
                flow.receive_redirect(redirect, now)
            else:
                assert isinstance(action, oidc.Done)
                return action.result, now, sent, lost_success


def _device_deadline(flow: oidc.DeviceFlow) -> float | None:
    return flow.deadline


def _pkce_deadline(flow: oidc.AuthCodeFlow) -> float | None:
    return flow.deadline


def _classify(kind: str, result: Any, lost_success: bool) -> str:
    if not isinstance(result, BaseException):
        return "ok"
    if lost_success and isinstance(result, oidc.LostResponseError) and kind in ("device", "pkce"):
        return "lost-response"
    return type(result).__name__


@dataclasses.dataclass
class Report:
    """Everything a soak run measured."""

    logins: list[Login]
    faults: Counter[str]
    seconds: dict[str, float]

    def by_kind(self, kind: str) -> list[Login]:
        return [login for login in self.logins if login.kind == kind]

    def failures(self) -> list[Login]:
        return [login for login in self.logins if login.outcome not in ("ok", "lost-response")]

    def over_bound(self) -> list[Login]:
        return [login for login in self.logins if login.requests > login.bound]

    def lines(self) -> list[str]:
        out = []
        for kind in KINDS:
            logins = self.by_kind(kind)
            if not logins:
                continue
            requests = [login.requests for login in logins]
            outcomes = Counter(login.outcome for login in logins)
            virtual = [login.virtual_seconds for login in logins]
            out.append(
                f"{kind:8} {len(logins):>6} logins in {self.seconds[kind]:5.1f} s "
                f"({len(logins) / self.seconds[kind]:,.0f}/s); "
                f"requests/login mean {sum(requests) / len(logins):.2f} "
                f"max {max(requests)} (bound {max(login.bound for login in logins)}); "
                f"virtual s/login mean {sum(virtual) / len(virtual):.1f} max {max(virtual):.1f}; "
                + ", ".join(f"{k} {v}" for k, v in outcomes.most_common())
            )
        total = sum(self.faults.values())
        out.append(
            f"faults injected: {total} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
            + ")"
        )
        return out


def soak(counts: dict[str, int], *, seed: int = 0) -> Report:
    """Run ``counts[kind]`` logins of each kind; batches of :data:`BATCH` share a simulator."""
    logins: list[Login] = []
    faults: Counter[str] = Counter()
    seconds: dict[str, float] = {}
    for kind in KINDS:
        started = time.perf_counter()
        done = 0
        batch = 0
        while done < counts.get(kind, 0):
            size = min(BATCH, counts[kind] - done)
            sim, batch_logins = _batch(kind, size, seed * 1_000_003 + KINDS.index(kind) * 100_003 + batch)
            logins += batch_logins
            faults.update(sim.fault_counts)
            done += size
            batch += 1
        seconds[kind] = time.perf_counter() - started
    return Report(logins=logins, faults=faults, seconds=seconds)


def _batch(kind: str, size: int, seed: int) -> tuple[Simulator, list[Login]]:
    rng = random.Random(seed)
    after_polls = seed % 4
    sim = Simulator(
        rng=random.Random(seed),
        user=UserScript(on_visit=kind == "pkce", after_polls=after_polls),
        faults=FaultPlan(rate=RATE, latency=LATENCIES[seed % len(LATENCIES)]),
    )
    driver = Driver(sim, rng)
    now = START
    out: list[Login] = []
    registration = None
    token = None
    if kind == "refresh":  # the token to refresh: a device login (not counted), until one succeeds
        while token is None:
            login, now, _, _ = driver.run(_device(sim, rng, None), now, _device_deadline)
            token = login.token if isinstance(login, oidc.LoginResult) else None
    for i in range(size):
        started = now
        if kind == "device":
            flow: Any = _device(sim, rng, registration if i % 2 else None)
            result, now, sent, lost = driver.run(flow, now, _device_deadline)
        elif kind == "pkce":
            flow = _pkce(sim, rng, registration if i % 2 else None)
            result, now, sent, lost = driver.run(flow, now, _pkce_deadline)
        else:
            assert token is not None
            expiry = token.expires_at.timestamp()
            flow = oidc.RefreshFlow(
                token=token, endpoint=URL, rng=rng, retry=PATIENT, advisory=7200, mandatory=7200
            )
            result, now, sent, lost = driver.run(flow, now, lambda _flow, expiry=expiry: expiry)
        outcome = _classify(kind, result, lost)
        if outcome == "ok":
            if kind == "refresh":
                assert result.refreshed
                token = result.token
            else:
                registration = result.registration
        out.append(
            Login(
                kind=kind,
                outcome=outcome,
                requests=sent,
                bound=request_bound(kind, after_polls),
                virtual_seconds=now - started,
                error=result if isinstance(result, BaseException) else None,
            )
        )
        now += rng.uniform(1, 30)  # the next user comes along
    return sim, out


def _device(
    sim: Simulator, rng: random.Random, registration: oidc.CachedRegistration | None
) -> oidc.DeviceFlow:
    return oidc.DeviceFlow(
        start_url=sim.start_url,
        region="us-east-1",
        endpoint=URL,
        rng=random.Random(rng.getrandbits(32)),
        retry=PATIENT,
        registration=registration,
    )


def _pkce(
    sim: Simulator, rng: random.Random, registration: oidc.CachedRegistration | None
) -> oidc.AuthCodeFlow:
    return oidc.AuthCodeFlow(
        start_url=sim.start_url,
        region="us-east-1",
        endpoint=URL,
        redirect_uri=REDIRECT,
        rng=random.Random(rng.getrandbits(32)),
        retry=PATIENT,
        registration=registration,
    )
