"""The fault soak in full: 10,000 device logins, 10,000 PKCE logins and 10,000 refreshes against the
sans-IO simulator with ``FaultPlan(rate=0.2)`` over every kind (5xx, throttle, malformed, drop,
latency), in-process on a virtual clock.

    .venv/bin/python benchmarks/soak.py [--logins 10000] [--seed 0]

Policy ``RetryPolicy(max_attempts=10, base=0.5, cap=10.0)``; read timeout 1 s; latency 2 s (a timeout)
and 0.5 s (a late answer) in alternate batches. The driver (``tests/fuzz/soak.py``) fails the run on
a request before its ``Wait.until`` or at or after the flow's deadline; this script also fails it when
a login ends other than by success or ``LostResponseError`` (the response that redeemed a single-use
grant timed out, and the service refused the retry: the login fails, saying so), or sends more
requests than the policy bound (``max_attempts`` per step of progress).
Prints logins per second, requests per login (mean, max, bound), the logins failed by a lost
response, and faults injected by kind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fuzz import soak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=10_000, help="logins of each kind")
    parser.add_argument("--seed", type=int, default=0)
    opts = parser.parse_args()
    report = soak.soak(dict.fromkeys(soak.KINDS, opts.logins), seed=opts.seed)
    print(f"policy {soak.PATIENT!r}, read timeout {soak.READ_TIMEOUT} s, fault rate {soak.RATE}")
    print("\n".join(report.lines()))
    lost = [login for login in report.logins if login.outcome == "lost-response"]
    failures = report.failures()
    over = report.over_bound()
    print(
        f"failed with LostResponseError (a single-use grant redeemed by a request whose answer timed "
        f"out; the retry refused): {len(lost)} of {len(report.logins)} logins"
    )
    for login in lost[:1]:
        print(f"  e.g. {login.kind}: {login.error}")
    for login in failures[:5]:
        print(f"FAILED {login.kind}: {login.outcome}: {login.error}")
    for login in over[:5]:
        print(f"OVER BOUND {login.kind}: {login.requests} > {login.bound}")
    ok = not failures and not over
    print(
        "result:",
        "every login completed, or failed with LostResponseError, within its bound" if ok else "FAILED",
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
