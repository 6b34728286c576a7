"""Encode + parse cost per operation: sansio-ssooidc vs botocore's client stack vs the JSON floor.

For each operation, in one run:

- **ours**: build the operation, ``to_request(endpoint)``, ``parse_response(canned HttpResponse)``;
- **botocore**: ``client.<op>(...)`` on a client created once, its HTTP send replaced by a
  ``before-send`` hook that returns a canned ``AWSResponse`` (retries disabled), so botocore's
  validation, serialisation, event system, signing machinery and parser all run, but no socket;
- **floor**: ``json.dumps(request members)`` + ``json.loads(response body)``, the least any
  client must do.

Timed in process CPU time, in interleaved rounds: each round times a batch (~0.05 s) of every
contender in turn. The times shown are each contender's best batch; the ratios are the median
over rounds of the ratio within a round, so that a virtual machine's slow spells (here, up to
twice the usual time for seconds at a time) slow both sides of a ratio alike. Targets:
ours/floor <= 2x, botocore/ours >= 25x.

    python benchmarks/wire.py [--rounds 20] [--min-time 0.05]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import timeit
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError

import sansio_ssooidc as oidc

OIDC = "https://oidc.us-east-1.amazonaws.com"
PORTAL = "https://portal.sso.us-east-1.amazonaws.com"
CORAL = ":http://internal.amazon.com/coral/com.amazonaws.sso.oidc/"


@dataclass
class Case:
    name: str
    service: str  # botocore service name
    method: str  # botocore client method
    params: dict[str, Any]  # botocore parameters (camelCase, as the model names them)
    build: Callable[[], oidc.Operation[Any]]  # our operation, built from the same values
    endpoint: str
    status: int
    headers: dict[str, str]
    body: bytes
    error: type[Exception] | None = None


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


CASES = [
    Case(
        "RegisterClient",
        "sso-oidc",
        "register_client",
        {"clientName": "botocore-client-my-sso", "clientType": "public", "scopes": ["sso:account:access"]},
        lambda: oidc.RegisterClient(
            client_name="botocore-client-my-sso", client_type="public", scopes=["sso:account:access"]
        ),
        OIDC,
        200,
        {"Content-Type": "application/json"},
        _json(
            {
                "clientId": "cid-" + "x" * 60,
                "clientSecret": "eyJraWQiOiJrZXktMTU2NDAyODA5OSIsImFsZyI6IkhTMzg0In0." + "s" * 400,
                "clientIdIssuedAt": 1700000000,
                "clientSecretExpiresAt": 1707776000,
            }
        ),
    ),
    Case(
        "StartDeviceAuthorization",
        "sso-oidc",
        "start_device_authorization",
        {"clientId": "cid", "clientSecret": "secret", "startUrl": "https://my-org.awsapps.com/start"},
        lambda: oidc.StartDeviceAuthorization(
            client_id="cid", client_secret="secret", start_url="https://my-org.awsapps.com/start"
        ),
        OIDC,
        200,
        {"Content-Type": "application/json"},
        _json(
            {
                "deviceCode": "d" * 80,
                "userCode": "ABCD-EFGH",
                "verificationUri": "https://device.sso.us-east-1.amazonaws.com/",
                "verificationUriComplete": "https://device.sso.us-east-1.amazonaws.com/?user_code=ABCD-EFGH",
                "expiresIn": 600,
                "interval": 1,
            }
        ),
    ),
    Case(
        "CreateToken (refresh)",
        "sso-oidc",
        "create_token",
        {
            "clientId": "cid",
            "clientSecret": "secret",
            "grantType": "refresh_token",
            "refreshToken": "r" * 300,
        },
        lambda: oidc.CreateToken(
            client_id="cid", client_secret="secret", grant_type="refresh_token", refresh_token="r" * 300
        ),
        OIDC,
        200,
        {"Content-Type": "application/json"},
        _json(
            {"accessToken": "a" * 400, "tokenType": "Bearer", "expiresIn": 28800, "refreshToken": "r" * 300}
        ),
    ),
    Case(
        "CreateToken (pending)",
        "sso-oidc",
        "create_token",
        {
            "clientId": "cid",
            "clientSecret": "secret",
            "grantType": oidc.GRANT_DEVICE_CODE,
            "deviceCode": "d" * 80,
        },
        lambda: oidc.CreateToken(
            client_id="cid", client_secret="secret", grant_type=oidc.GRANT_DEVICE_CODE, device_code="d" * 80
        ),
        OIDC,
        400,
        {"Content-Type": "application/json", "x-amzn-ErrorType": "AuthorizationPendingException" + CORAL},
        b'{"error":"authorization_pending","error_description":"Authorization is still pending"}',
        error=oidc.AuthorizationPendingException,
    ),
    Case(
        "GetRoleCredentials",
        "sso",
        "get_role_credentials",
        {"roleName": "AdministratorAccess", "accountId": "123456789012", "accessToken": "a" * 400},
        lambda: oidc.GetRoleCredentials(
            role_name="AdministratorAccess", account_id="123456789012", access_token="a" * 400
        ),
        PORTAL,
        200,
        {"Content-Type": "application/json"},
        _json(
            {
                "roleCredentials": {
                    "accessKeyId": "ASIAEXAMPLEEXAMPLE12",
                    "secretAccessKey": "k" * 40,
                    "sessionToken": "t" * 600,
                    "expiration": 1700000000000,
                }
            }
        ),
    ),
    Case(
        "ListAccounts",
        "sso",
        "list_accounts",
        {"accessToken": "a" * 400, "maxResults": 10},
        lambda: oidc.ListAccounts(access_token="a" * 400, max_results=10),
        PORTAL,
        200,
        {"Content-Type": "application/json"},
        _json(
            {
                "accountList": [
                    {
                        "accountId": f"1234567890{i:02d}",
                        "accountName": f"account-{i}",
                        "emailAddress": f"a{i}@x.io",
                    }
                    for i in range(10)
                ],
                "nextToken": "n" * 40,
            }
        ),
    ),
]


# --- the three contenders ----------------------------------------------------------------------


def ours(case: Case) -> Callable[[], Any]:
    response = oidc.HttpResponse(status=case.status, headers=list(case.headers.items()), body=case.body)
    build, endpoint, error = case.build, case.endpoint, case.error
    if error is None:

        def run() -> Any:
            op = build()
            op.to_request(endpoint)
            return op.parse_response(response)

    else:

        def run() -> Any:
            op = build()
            op.to_request(endpoint)
            try:
                op.parse_response(response)
            except error as exc:
                return exc
            raise AssertionError("no error")

    return run


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


_CLIENTS: dict[str, Any] = {}


def _client(service: str) -> Any:
    if service not in _CLIENTS:
        _CLIENTS[service] = botocore.session.get_session().create_client(
            service,
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            config=Config(retries={"total_max_attempts": 1}),
        )
    return _CLIENTS[service]


def theirs(case: Case) -> Callable[[], Any]:
    client = _client(case.service)
    method = getattr(client, case.method)
    params, status, headers, body = case.params, case.status, case.headers, case.body

    def hook(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, status, headers, _Raw(body))

    # One hook per client at a time: botocore ignores a second registration under the same id.
    client.meta.events.unregister("before-send", unique_id="benchmark-send")
    client.meta.events.register("before-send", hook, unique_id="benchmark-send")
    if case.error is None:

        def run() -> Any:
            return method(**params)

    else:

        def run() -> Any:
            try:
                method(**params)
            except ClientError as exc:
                return exc
            raise AssertionError("no error")

    return run


def floor(case: Case) -> Callable[[], Any]:
    params, body = case.params, case.body
    dumps, loads = json.dumps, json.loads

    def run() -> Any:
        dumps(params)
        return loads(body)

    return run


def check(case: Case) -> None:
    """Each contender does the work: ours parses to a result (or the modeled error), botocore too."""
    mine, botos = ours(case)(), theirs(case)()
    if case.error is None:
        assert mine is not None, case.name
        assert not isinstance(mine, Exception), mine
        assert botos["ResponseMetadata"]["HTTPStatusCode"] == case.status, botos
    else:
        assert isinstance(mine, case.error), mine
        assert botos.response["Error"]["Code"] == case.error.__name__, botos.response


def rounds_us(fns: list[Callable[[], Any]], rounds: int, min_time: float) -> list[list[float]]:
    """``fns``' times in microseconds per call, one row per round: each round times one batch
    (about ``min_time`` seconds) of every function in turn."""
    timers, numbers = [], []
    for fn in fns:
        timer = timeit.Timer(fn, timer=time.process_time)
        number, elapsed = timer.autorange()
        timers.append(timer)
        numbers.append(max(1, int(number * min_time / max(elapsed, 1e-9))))
    return [
        [timer.timeit(number) / number * 1e6 for timer, number in zip(timers, numbers, strict=True)]
        for _ in range(rounds)
    ]


def median_ratio(rows: list[list[float]], a: int, b: int) -> float:
    """The median over rounds of ``row[a] / row[b]``: both timed in the same round, so a slow
    spell of the machine slows both."""
    return statistics.median(row[a] / row[b] for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--min-time", type=float, default=0.05, help="seconds per batch")
    args = parser.parse_args(argv)

    print(
        f"python {sys.version.split()[0]}, botocore {botocore.__version__}, "
        f"best batch of {args.rounds} interleaved rounds"
    )
    columns = (("ours µs", 9), ("botocore µs", 13), ("floor µs", 10), ("ours/floor", 12), ("boto/ours", 11))
    header = f"{'operation':<26}" + "".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    worst_floor, worst_boto = 0.0, float("inf")
    for case in CASES:
        check(case)
        # theirs() registers the hook its client needs for this case: made last, kept to the end.
        rows = rounds_us([ours(case), floor(case), theirs(case)], args.rounds, args.min_time)
        t_ours, t_floor, t_theirs = (min(column) for column in zip(*rows, strict=True))
        r_floor, r_boto = median_ratio(rows, 0, 1), median_ratio(rows, 2, 0)
        worst_floor, worst_boto = max(worst_floor, r_floor), min(worst_boto, r_boto)
        print(
            f"{case.name:<26}{t_ours:>9.2f}{t_theirs:>13.1f}{t_floor:>10.2f}{r_floor:>11.2f}x{r_boto:>10.1f}x"
        )
    ok_floor, ok_boto = worst_floor <= 2.0, worst_boto >= 25.0
    print("-" * len(header))
    print(f"worst ours/floor {worst_floor:.2f}x (target <= 2x): {'met' if ok_floor else 'MISSED'}")
    print(f"worst botocore/ours {worst_boto:.1f}x (target >= 25x): {'met' if ok_boto else 'MISSED'}")
    return 0 if ok_floor and ok_boto else 1


if __name__ == "__main__":
    sys.exit(main())
