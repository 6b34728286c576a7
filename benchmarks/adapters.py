"""Adapters against boto3, in one run: sequential CreateToken (refresh) calls over loopback
keep-alive to one server, and 1,000 device logins in progress in one anyio process.

Throughput: the server is a minimal canned-answer HTTP/1.1 server in a separate process, so its
cost is small and the same for every client: the ratios compare client stacks. Every call is a
real ``CreateToken`` (refresh) with its response fully parsed (``parse_response``); boto3 is a
plain client with ``endpoint_url``. The clients take turns, round after round, so a noisy machine
slows them alike; each reports its median round, and the median of its ratios to boto3's rounds.

Concurrency: the simulator is served from a separate process, so the memory measured (Python
allocations by tracemalloc, and the resident set) is the client's alone.

Run: ``.venv/bin/python benchmarks/adapters.py`` (``--quick`` for fewer calls and logins).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import multiprocessing
import os
import socket
import socketserver
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
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
#: Calls per second each adapter must reach, as a multiple of boto3's (issue 5).
TARGETS = {"requests": 1.5, "h11": 5.0, "anyio-asyncio": 5.0, "anyio-trio": 5.0}
PARAMS = {"clientId": "c", "clientSecret": "s", "grantType": "refresh_token", "refreshToken": "r"}


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


def _op() -> oidc.CreateToken:
    return oidc.CreateToken(client_id="c", client_secret="s", grant_type="refresh_token", refresh_token="r")


def _check(token: Any) -> None:
    assert token.access_token == "a" * 120, token  # every call's answer is parsed, and right


def _timed(call: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - start)


async def _atimed(url: str, n: int) -> float:
    async with ad_anyio.AsyncTransport() as transport:
        for _ in range(20):  # connect, warm up
            _check(await ad_anyio.send(_op(), url, transport=transport))
        start = time.perf_counter()
        for _ in range(n):
            await ad_anyio.send(_op(), url, transport=transport)
        return n / (time.perf_counter() - start)


def throughput(url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    """Calls per second of each client in each round: every round, each client makes ``calls``
    calls in turn, so a machine whose speed drifts (other processes) slows them alike."""
    client = boto3.client(
        "sso-oidc",
        region_name="us-east-1",
        endpoint_url=url,
        config=Config(retries={"total_max_attempts": 1}),
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    session = ad_requests.make_session()
    transport = ad_h11.SocketTransport()
    assert client.create_token(**PARAMS)["accessToken"] == "a" * 120
    _check(ad_requests.send(_op(), url, session=session))
    _check(ad_h11.send(_op(), url, transport=transport))
    runs: dict[str, Callable[[int], float]] = {
        "boto3": lambda n: _timed(lambda: client.create_token(**PARAMS), n),
        "requests": lambda n: _timed(lambda: ad_requests.send(_op(), url, session=session), n),
        "h11": lambda n: _timed(lambda: ad_h11.send(_op(), url, transport=transport), n),
    }
    for backend in ("asyncio", "trio"):  # an event loop per round, on the main thread, as users run it
        runs[f"anyio-{backend}"] = functools.partial(anyio.run, _atimed, url, backend=backend)
    for run in runs.values():  # warm up for a second each: connections, caches (boto3's take longest)
        started = time.perf_counter()
        while time.perf_counter() - started < 1:
            run(calls)
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            rates[name].append(run(calls))
    transport.close()
    session.close()
    return rates


def _serve_simulator(queue: Any) -> None:
    """The simulator served from this (separate) process; logins are never approved."""
    simulator = Simulator(user=UserScript(action="never"), interval=5, device_code_lifetime=600)
    with SimulatorServer(simulator) as server:
        queue.put((server.url, simulator.start_url))
        threading.Event().wait()


def _resident() -> int:
    """This process's resident set size in bytes (Linux), else 0."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def concurrency(url: str, start_url: str, logins: int, backend: str, trace: bool) -> tuple[float, float]:
    """``logins`` device logins polling at once in this anyio process: bytes per login (Python
    allocations with ``trace``, else resident set growth) and seconds until all are polling."""
    shown = 0

    def show(action: Any) -> None:
        nonlocal shown
        shown += 1

    def flow() -> oidc.DeviceFlow:
        return oidc.DeviceFlow(start_url=start_url, region="us-east-1", endpoint=url)  # SystemRandom jitter

    async def main() -> tuple[float, float]:
        nonlocal shown
        async with ad_anyio.AsyncTransport() as transport:
            # One login first, to the code: imports, caches and the connections are not per login.
            async with anyio.create_task_group() as group:
                group.start_soon(functools.partial(ad_anyio.run, flow(), transport=transport, show=show))
                while shown < 1:
                    await anyio.sleep(0.01)
                group.cancel_scope.cancel()
            shown = 0
            gc.collect()
            if trace:
                tracemalloc.start()
                before = tracemalloc.take_snapshot()
            resident = _resident()
            start = time.perf_counter()
            async with anyio.create_task_group() as group:
                for _ in range(logins):
                    group.start_soon(functools.partial(ad_anyio.run, flow(), transport=transport, show=show))
                while shown < logins:
                    await anyio.sleep(0.02)
                elapsed = time.perf_counter() - start
                gc.collect()
                if trace:
                    after = tracemalloc.take_snapshot()
                    tracemalloc.stop()
                    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
                else:
                    grown = _resident() - resident
                group.cancel_scope.cancel()
        return grown / logins, elapsed

    return anyio.run(main, backend=backend)


def _concurrency(queue: Any, *args: Any) -> None:
    queue.put(concurrency(*args))


def _start(target: Callable[[Any], None]) -> tuple[multiprocessing.Process, Any]:
    queue: Any = multiprocessing.Queue()
    process = multiprocessing.Process(target=target, args=(queue,), daemon=True)
    process.start()
    return process, queue.get(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    calls, rounds, logins = (100, 6, 100) if args.quick else (200, 25, 1000)
    rounds = args.rounds or rounds

    server, port = _start(_serve)
    try:
        rates = throughput(f"http://127.0.0.1:{port}", calls, rounds)
    finally:
        server.terminate()
    print(
        f"Sequential CreateToken (refresh) over loopback keep-alive: {rounds} rounds of {calls} calls per "
        f"client, taking turns; Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print(f"{'client':<15}{'calls/s':>9}{'vs boto3':>10}{'best':>8}  target (on the median)")
    base = rates["boto3"]
    for name, rate in rates.items():
        paired = statistics.median(r / b for r, b in zip(rate, base, strict=True))
        best = max(rate) / max(base)
        target = TARGETS.get(name)
        verdict = "" if target is None else f"≥{target:g}x {'met' if paired >= target else 'MISSED'}"
        print(f"{name:<15}{statistics.median(rate):>9.0f}{paired:>9.1f}x{best:>7.1f}x  {verdict}")
    print(
        "(calls/s: the median round; vs boto3: the median over rounds of calls/s over boto3's in the "
        "same round; best: best round over boto3's best)"
    )

    simulator, (url, start_url) = _start(_serve_simulator)
    try:
        print(f"\n{logins} device logins in progress in one anyio process, simulator in another process:")
        for backend in ("asyncio", "trio"):
            measured = []
            for trace in (False, True):  # each in a fresh interpreter: no memory freed before to reuse
                spawn = multiprocessing.get_context("spawn")
                queue = spawn.Queue()
                child = spawn.Process(
                    target=_concurrency, args=(queue, url, start_url, logins, backend, trace)
                )
                child.start()
                measured.append(queue.get(timeout=600))
                child.join()
            (resident, elapsed), (traced, _) = measured
            print(
                f"  {backend:<8} {traced / 1024:.1f} KiB per login (tracemalloc), "
                f"{resident / 1024:.1f} KiB (resident set growth); all polling after {elapsed:.1f} s"
            )
    finally:
        simulator.terminate()


if __name__ == "__main__":
    main()
