"""A million-input mutational fuzz run of every parser, seeded from real samples.

    .venv/bin/python benchmarks/fuzz.py [--inputs 1000000] [--seed 0] [--jobs 2]

The inputs are mutations (bytes, text and JSON-level; see ``tests/fuzz/corpus.py``) of samples
recorded from the simulator and the library's own writers, drawn from a ``random.Random`` seeded
per chunk, so a run is reproducible. Each input goes through the same contract as the CI property
tests (``tests/fuzz``): a typed value or the parser's documented errors only. Anything else is
an *unexpected* exception: the run counts them by signature (parser, type, where raised) and prints
the first few with a minimised reproducer. Exit status 1 when any was found.

Parsers: every operation's ``parse_response``; flows awaiting a response (DeviceFlow, AuthCodeFlow,
RefreshFlow) fed any response; ``parse_redirect``; ``load_token`` / ``load_registration`` /
``load_role_credentials``; ``parse_config`` + ``resolve_sso_settings``; ``DeviceFlow.from_dict``
(and the restored flow driven a few steps); ``HttpCodec.receive``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import faulthandler
import itertools
import json
import multiprocessing
import random
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sansio_ssooidc as oidc  # noqa: E402
from tests.fuzz import corpus  # noqa: E402

#: Inputs per parser, as shares of the total (they sum to 1).
SHARES = {
    "response": 0.38,
    "flow-response": 0.10,
    "redirect": 0.14,
    "cache": 0.14,
    "config": 0.06,
    "flow-state": 0.08,
    "flow-state-run": 0.02,
    "codec": 0.08,
}
CHUNK = 5000
CACHE_KINDS = ("token", "registration", "role credentials")
STATUSES = (200, 201, 204, 299, 300, 400, 401, 403, 404, 429, 500, 502, 503)
STAGE_OPERATION = {
    "device-register": "RegisterClient",
    "device-start": "StartDeviceAuthorization",
    "pkce-register": "RegisterClient",
}


class Generator:
    """Inputs for one parser from a seeded source: ``make()`` -> the check's arguments."""

    def __init__(self, parser: str, rng: random.Random) -> None:
        self.parser = parser
        self.rng = rng
        self.mutate = corpus.Mutator(rng)
        self.samples = corpus.samples()
        self.by_op: dict[str, list[oidc.HttpResponse]] = {}
        for name, response in self.samples.responses:
            self.by_op.setdefault(name, []).append(response)
        self.bodies = [r.body for _, r in self.samples.responses]
        self.cache = {
            "token": self.samples.tokens,
            "registration": self.samples.registrations,
            "role credentials": self.samples.role_credentials,
        }

    def response(self, base: oidc.HttpResponse) -> oidc.HttpResponse:
        rng = self.rng
        status, headers, body = base.status, list(base.headers), base.body
        mode = rng.random()
        if mode < 0.45:
            body = self.mutate.bytes(body, self.bodies)
        elif mode < 0.9:
            try:
                value = json.loads(body)
            except ValueError:
                value = {}
            body = corpus.dumps(self.mutate.json(value), rng)
            if rng.random() < 0.5:
                status = 200
        else:
            body = self.mutate.bytes(rng.choice(self.bodies), self.bodies)
        if rng.random() < 0.15:
            status = rng.choice(STATUSES) if rng.random() < 0.7 else rng.randrange(100, 600)
        if rng.random() < 0.1:
            kind = rng.choice(("Foo#Bar:baz", ":", "#", "", "SlowDownException", "ThrottlingException"))
            headers.append((rng.choice(("x-amzn-ErrorType", "X-Amzn-ErrorType")), kind))
        if rng.random() < 0.05 and headers:
            headers.pop(rng.randrange(len(headers)))
        return corpus.make_response(status, headers, body)

    def make(self) -> tuple[Any, ...]:
        rng, parser = self.rng, self.parser
        if parser == "response":
            name = rng.choice(sorted(corpus.OPERATIONS))
            return (name, self.response(rng.choice(self.by_op[name])))
        if parser == "flow-response":
            stage = rng.choice(corpus.FLOW_STAGES)
            base = rng.choice(self.by_op[STAGE_OPERATION.get(stage, "CreateToken")])
            answers = [rng.randrange(11) for _ in range(rng.randrange(7))]
            return (stage, self.response(base), answers)
        if parser == "redirect":
            query, state = rng.choice(self.samples.redirects)
            if rng.random() < 0.05:
                return ("".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(40))), state)
            return (self.mutate.text(query, [q for q, _ in self.samples.redirects]), state)
        if parser == "cache":
            kind = rng.choice(CACHE_KINDS)
            text = rng.choice(self.cache[kind])
            if rng.random() < 0.6:
                mutated = self.mutate.json(json.loads(text))
                return (kind, corpus.dumps(mutated, rng).decode("utf-8", "surrogatepass"))
            return (kind, self.mutate.text(text, self.cache[kind]))
        if parser == "config":
            text = rng.choice(self.samples.configs)
            return (self.mutate.text(text, self.samples.configs), ["s", "dev", "my-sso"])
        if parser in ("flow-state", "flow-state-run"):
            base = rng.choice(self.samples.flow_states)
            data = (
                self.mutate.json(base)
                if rng.random() < 0.97
                else copy.deepcopy(rng.choice(corpus.INTERESTING_JSON))
            )
            if parser == "flow-state":
                return (data,)
            start = rng.choice((corpus.T0, corpus.T0 + 1, corpus.T0 + 599, corpus.T0 + 10**6))
            return (data, start, [rng.randrange(11) for _ in range(rng.randrange(9))])
        assert parser == "codec"
        raw = self.mutate.bytes(rng.choice(self.samples.raw_http), self.samples.raw_http)
        cuts = sorted(rng.randrange(len(raw) + 1) for _ in range(rng.randrange(4)))
        bounds = [0, *cuts, len(raw)]
        return ([raw[a:b] for a, b in itertools.pairwise(bounds)],)


CHECKS: dict[str, Callable[..., str]] = {
    "response": corpus.check_response,
    "flow-response": corpus.check_flow_response,
    "redirect": corpus.check_redirect,
    "cache": corpus.check_cache,
    "config": corpus.check_config,
    "flow-state": corpus.check_flow_state,
    "flow-state-run": corpus.check_flow_state_runs,
    "codec": corpus.check_codec,
}


def signature(parser: str, exc: BaseException) -> str:
    """Parser, exception type and the innermost library frame it came from."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = "?"
    for frame in reversed(frames):
        if "/src/sansio_ssooidc/" in frame.filename or "/adapters/" in frame.filename:
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            break
    else:
        if frames:
            where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}"
    return f"{parser}: {type(exc).__name__} at {where}"


def fails(parser: str, args: tuple[Any, ...], sig: str) -> bool:
    try:
        CHECKS[parser](*args)
    except Exception as exc:
        return signature(parser, exc) == sig
    return False


def minimise(parser: str, args: tuple[Any, ...], sig: str) -> tuple[Any, ...]:
    """Greedy delta debugging of the main argument (bytes, str, dict, response or chunks)."""
    position = {"response": 1, "flow-response": 1, "redirect": 0, "cache": 1, "config": 0}.get(parser, 0)
    value = args[position]

    def with_value(new: Any) -> tuple[Any, ...]:
        return (*args[:position], new, *args[position + 1 :])

    if isinstance(value, oidc.HttpResponse):
        body = _shrink_sequence(value.body, lambda b: fails(parser, with_value(_body(value, b)), sig))
        value = _body(value, body)
        headers = _shrink_sequence(
            list(value.headers),
            lambda h: fails(parser, with_value(corpus.make_response(value.status, h, value.body)), sig),
        )
        return with_value(corpus.make_response(value.status, headers, value.body))
    if isinstance(value, (bytes, str)):
        return with_value(_shrink_sequence(value, lambda v: fails(parser, with_value(v), sig)))
    if isinstance(value, list) and all(isinstance(c, bytes) for c in value):
        joined = _shrink_sequence(b"".join(value), lambda v: fails(parser, with_value([v]), sig))
        return with_value([joined]) if fails(parser, with_value([joined]), sig) else args
    if isinstance(value, dict):
        for key in list(value):
            trial = {k: v for k, v in value.items() if k != key}
            if fails(parser, with_value(trial), sig):
                value = trial
        return with_value(value)
    return args


def _body(response: oidc.HttpResponse, body: bytes) -> oidc.HttpResponse:
    return corpus.make_response(response.status, response.headers, body)


def _shrink_sequence(value: Any, still_fails: Callable[[Any], bool]) -> Any:
    chunk = max(1, len(value) // 2)
    while chunk >= 1:
        i = 0
        while i < len(value):
            trial = value[:i] + value[i + chunk :]
            if still_fails(trial):
                value = trial
            else:
                i += chunk
        chunk //= 2
    return value


def work(
    job: tuple[str, int, int],
) -> tuple[str, Counter[str], list[tuple[str, str, str]], Counter[str], float]:
    """Run ``count`` inputs of ``parser`` from ``seed``: outcomes, first unexpected examples."""
    parser, seed, count = job
    faulthandler.dump_traceback_later(120, exit=True)  # a hang is a finding too
    gen = Generator(parser, random.Random(seed))
    check = CHECKS[parser]
    outcomes: Counter[str] = Counter()
    unexpected: Counter[str] = Counter()
    examples: list[tuple[str, str, str]] = []
    started = time.perf_counter()
    for _ in range(count):
        args = gen.make()
        try:
            outcomes[check(*args)] += 1
        except Exception as exc:
            sig = signature(parser, exc)
            unexpected[sig] += 1
            if unexpected[sig] == 1 and len(examples) < 5:
                small = minimise(parser, args, sig)
                note = f"{type(exc).__name__}: {str(exc)[:160]}"
                examples.append((sig, note, _show(small)))
    faulthandler.cancel_dump_traceback_later()
    return parser, outcomes, examples, unexpected, time.perf_counter() - started


def _show(args: tuple[Any, ...]) -> str:
    parts = []
    for arg in args:
        if isinstance(arg, oidc.HttpResponse):
            parts.append(
                f"HttpResponse(status={arg.status}, headers={list(arg.headers)!r}, body={arg.body!r})"
            )
        else:
            parts.append(repr(arg))
    text = ", ".join(parts)
    return text if len(text) < 600 else text[:600] + "..."


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=max(1, min(4, multiprocessing.cpu_count())))
    opts = parser.parse_args()
    corpus.samples()  # recorded before forking
    jobs = []
    for name, share in SHARES.items():
        total = round(opts.inputs * share)
        for i, start in enumerate(range(0, total, CHUNK)):
            jobs.append(
                (name, opts.seed * 1_000_003 + hash_name(name) * 10_007 + i, min(CHUNK, total - start))
            )
    started = time.perf_counter()
    per_parser: dict[str, Counter[str]] = {name: Counter() for name in SHARES}
    cpu: dict[str, float] = dict.fromkeys(SHARES, 0.0)
    unexpected: Counter[str] = Counter()
    examples: dict[str, tuple[str, str]] = {}
    # A worker that dies (the hang watchdog in work() ends it) breaks the pool and fails the run,
    # where multiprocessing.Pool would wait for its lost job for ever.
    with concurrent.futures.ProcessPoolExecutor(opts.jobs) as pool:
        for future in concurrent.futures.as_completed([pool.submit(work, job) for job in jobs]):
            name, outcomes, found, bad, seconds = future.result()
            per_parser[name].update(outcomes)
            unexpected.update(bad)
            cpu[name] += seconds
            for sig, note, shown in found:
                examples.setdefault(sig, (note, shown))
    wall = time.perf_counter() - started
    total = sum(sum(c.values()) for c in per_parser.values()) + sum(unexpected.values())
    print(
        f"fuzz: {total:,} inputs in {wall:.1f} s wall "
        f"({total / wall:,.0f}/s, {opts.jobs} jobs, seed {opts.seed})"
    )
    for name in SHARES:
        failed = sum(n for sig, n in unexpected.items() if sig.startswith(f"{name}:"))
        count = sum(per_parser[name].values()) + failed
        top = ", ".join(f"{label} {n:,}" for label, n in per_parser[name].most_common(4))
        print(f"  {name:15} {count:>9,} inputs  {cpu[name]:6.1f} s cpu  unexpected {failed:>6,}  ({top})")
    if not unexpected:
        print("no unexpected exceptions")
        return 0
    print(f"UNEXPECTED exceptions: {sum(unexpected.values()):,} inputs, {len(unexpected)} signatures")
    for sig, n in unexpected.most_common():
        print(f"  {n:>8,}  {sig}")
    for sig, (note, shown) in list(examples.items())[:8]:
        print(f"\n{sig}\n  {note}\n  minimal reproducer: check({shown})")
    return 1


def hash_name(name: str) -> int:
    """A stable number for ``name`` (``hash`` of a str varies between processes)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(name))


if __name__ == "__main__":
    sys.exit(main())
