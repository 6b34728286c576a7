"""Adapters against boto3, in one run: sequential CreateToken (refresh) calls over loopback
keep-alive to one server, and 1,000 device logins in progress in one anyio process.

The server for the throughput figures is a minimal canned-answer HTTP/1.1 server in a separate
process, so its cost is the same for every client and small: the ratios compare client stacks.
Run: ``.venv/bin/python benchmarks/adapters.py`` (``--quick`` for fewer calls).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import socket
import socketserver
import sys
import time
import tracemalloc
from typing import Any

import anyio
import boto3
from botocore.config import Config
from sansio_ssooidc.adapters import anyio as ad_anyio
from sansio_ssooidc.adapters import h11 as ad_h11
from sansio_ssooidc.adapters import requests as ad_requests
from sansio_ssooidc.adapters.simserver import SimulatorServer

import sansio_ssooidc as oidc
from sansio_ssooidc.simulator import Simulator, UserScript

BODY = json.dumps({"accessToken": "a" * 120, "tokenType": "Bearer", "expiresIn": 3600}).encode()
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nx-amzn-RequestId: r\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


def _serve(port_queue: Any) -> None:
    """A canned-answer HTTP/1.1 server: a blocking thread per connection, so its own cost per
    request is a few tens of microseconds and the same for every client."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            sock = self.request
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            buffer = b""
            while True:
                while (end := buffer.find(b"\r\n\r\n")) < 0:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer[:end], buffer[end + 4 :]
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                while len(buffer) < length:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                buffer = buffer[length:]
                sock.sendall(ANSWER)

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    with Server(("127.0.0.1", 0), Handler) as server:
        port_queue.put(server.server_address[1])
        server.serve_forever()


def _rate(fn: Any, n: int) -> float:
    fn()  # warm up: connect, caches
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = max(best, n / (time.perf_counter() - start))
    return best


def throughput(url: str, n: int) -> dict[str, float]:
    params = {"clientId": "c", "clientSecret": "s", "grantType": "refresh_token", "refreshToken": "r"}
    rates: dict[str, float] = {}
    client = boto3.client(
        "sso-oidc",
        region_name="us-east-1",
        endpoint_url=url,
        config=Config(retries={"total_max_attempts": 1}),
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    rates["boto3"] = _rate(lambda: client.create_token(**params), n)

    def op() -> oidc.CreateToken:
        return oidc.CreateToken(
            client_id="c", client_secret="s", grant_type="refresh_token", refresh_token="r"
        )

    session = ad_requests.make_session()
    rates["requests"] = _rate(lambda: ad_requests.send(op(), url, session=session), n)
    transport = ad_h11.SocketTransport()
    rates["h11"] = _rate(lambda: ad_h11.send(op(), url, transport=transport), n)
    for backend in ("asyncio", "trio"):

        async def run_async() -> float:
            async with ad_anyio.AsyncTransport() as t:
                await ad_anyio.send(op(), url, transport=t)
                best = 0.0
                for _ in range(3):
                    start = time.perf_counter()
                    for _ in range(n):
                        await ad_anyio.send(op(), url, transport=t)
                    best = max(best, n / (time.perf_counter() - start))
                return best

        rates[f"anyio-{backend}"] = anyio.run(run_async, backend=backend)
    return rates


def concurrency(logins: int) -> tuple[float, float, float]:
    """``logins`` device logins polling at once in one anyio process (the simulator served from a
    thread of the same process never approves): bytes per login and the time to start them all."""
    simulator = Simulator(user=UserScript(action="never"), interval=5, device_code_lifetime=600)
    with SimulatorServer(simulator) as server:
        shown = 0

        def show(action: Any) -> None:
            nonlocal shown
            shown += 1

        async def main() -> tuple[float, float]:
            nonlocal shown
            registration = None
            tracemalloc.start()
            before = tracemalloc.take_snapshot()
            start = time.perf_counter()
            async with anyio.create_task_group() as group, ad_anyio.AsyncTransport() as transport:
                for _ in range(logins):
                    flow = oidc.DeviceFlow(
                        start_url=simulator.start_url,
                        region="us-east-1",
                        endpoint=server.url,
                        registration=registration,
                        rng=random.Random(1),
                    )
                    group.start_soon(lambda f=flow: ad_anyio.run(f, transport=transport, show=show))
                while shown < logins:
                    await anyio.sleep(0.05)
                elapsed = time.perf_counter() - start
                after = tracemalloc.take_snapshot()
                group.cancel_scope.cancel()
            tracemalloc.stop()
            grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
            return grown / logins, elapsed

        per_login, elapsed = anyio.run(main)
        return per_login, elapsed, float(logins)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 300 if args.quick else 2000
    ports: Any = multiprocessing.Queue()
    proc = multiprocessing.Process(target=_serve, args=(ports,), daemon=True)
    proc.start()
    try:
        url = f"http://127.0.0.1:{ports.get(timeout=10)}"
        rates = throughput(url, n)
    finally:
        proc.terminate()
    print(
        f"Sequential CreateToken (refresh) over loopback keep-alive, {n} calls, best of 3, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print(f"{'client':<16}{'calls/s':>10}{'vs boto3':>10}")
    for name, rate in rates.items():
        print(f"{name:<16}{rate:>10.0f}{rate / rates['boto3']:>9.1f}x")
    per_login, elapsed, logins = concurrency(100 if args.quick else 1000)
    print(
        f"\n{logins:.0f} device logins in progress in one anyio process: "
        f"{per_login / 1024:.1f} KiB per login (tracemalloc, client and connections), "
        f"all polling after {elapsed:.1f} s"
    )


if __name__ == "__main__":
    main()
