"""How long ``import sansio_ssooidc`` takes (``python -X importtime``), against ``import botocore.session``.

Each import runs in a fresh interpreter, several times; the best run counts. Reported:

- **own**: the self time of the ``sansio_ssooidc`` modules (the library's own import work; target < 15 ms);
- **cumulative**: everything the import statement pulls in, standard library included;
- the heaviest modules of the import by self time, to show where the time goes.

Bytecode: by default the runs write and reuse ``.pyc`` files in a temporary ``PYTHONPYCACHEPREFIX``
(an installed package has its bytecode), after one warm-up run; ``--source`` also measures the
import with ``PYTHONDONTWRITEBYTECODE=1`` and the usual cache locations, as this checkout runs:
the standard library's installed ``.pyc`` are used, the package (with no ``__pycache__``) is
compiled from source on every import.

    python benchmarks/importtime.py [--runs 7] [--top 12] [--source]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

OWN = "sansio_ssooidc"


@dataclass
class Entry:
    name: str
    self_us: int
    cumulative_us: int
    depth: int


def _parse(stderr: str) -> list[Entry]:
    """The ``-X importtime`` lines after ``site`` (the interpreter's own start-up), in print order."""
    entries: list[Entry] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        stripped = name.lstrip(" ")
        entry = Entry(stripped, int(self_us), int(cumulative_us), (len(name) - len(stripped) - 1) // 2)
        if entry.depth == 0 and entry.name == "site":
            entries.clear()  # everything so far was start-up
            continue
        entries.append(entry)
    return entries


def _run(statement: str, env: dict[str, str]) -> list[Entry]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", statement],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return _parse(result.stderr)


@dataclass
class Measure:
    own_us: int  # self time of the package's modules
    cumulative_us: int  # sum of the top-level imports' cumulative times
    entries: list[Entry]


def measure(statement: str, package: str, runs: int, env: dict[str, str]) -> Measure:
    best: Measure | None = None
    for _ in range(runs):
        entries = _run(statement, env)
        own = sum(e.self_us for e in entries if e.name == package or e.name.startswith(package + "."))
        cumulative = sum(e.cumulative_us for e in entries if e.depth == 0)
        if best is None or cumulative < best.cumulative_us:
            best = Measure(own, cumulative, entries)
        best.own_us = min(best.own_us, own)
    assert best is not None
    return best


def _env(cache_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPYCACHEPREFIX", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if cache_dir is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # the installed pycs of the stdlib are still read
    else:
        env["PYTHONPYCACHEPREFIX"] = cache_dir  # every module's pyc written and read there
    return env


def report(label: str, env: dict[str, str], runs: int, top: int) -> Measure:
    ours = measure(f"import {OWN}", OWN, runs, env)
    theirs = measure("import botocore.session", "botocore", runs, env)
    print(f"\n{label} (best of {runs})")
    for name, result in ((OWN, ours), ("botocore.session", theirs)):
        own, cumulative = result.own_us / 1000, result.cumulative_us / 1000
        print(f"  import {name:<22} own {own:7.2f} ms   cumulative {cumulative:7.2f} ms")
    print(f"  botocore.session / {OWN} cumulative: {theirs.cumulative_us / max(ours.cumulative_us, 1):.1f}x")
    print(f"  heaviest modules of import {OWN} by self time:")
    for entry in sorted(ours.entries, key=lambda e: e.self_us, reverse=True)[:top]:
        mark = "*" if entry.name.startswith(OWN) else " "
        own, cumulative = entry.self_us / 1000, entry.cumulative_us / 1000
        print(f"   {mark} {own:6.2f} ms  (cumulative {cumulative:6.2f})  {entry.name}")
    return ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=12, help="how many of the heaviest modules to list")
    parser.add_argument("--source", action="store_true", help="also measure with no bytecode cache")
    args = parser.parse_args(argv)

    print(f"python {sys.version.split()[0]}; * marks the package's own modules")
    with tempfile.TemporaryDirectory(prefix="importtime-pyc-") as cache:
        env = _env(cache)
        _run(f"import {OWN}; import botocore.session", env)  # warm-up: writes the bytecode
        ours = report("with bytecode (.pyc) cached", env, args.runs, args.top)
    if args.source:
        label = "PYTHONDONTWRITEBYTECODE=1 (the package compiled from source)"
        report(label, _env(None), args.runs, args.top)
    ok = ours.own_us < 15_000
    print(f"\nown import time {ours.own_us / 1000:.2f} ms (target < 15 ms): {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
