"""Run every benchmark in this directory and put the figures on the docs' benchmarks page.

    .venv/bin/python benchmarks/run_all.py [--quick] [--only wire.py importtime.py]

Each script runs with this interpreter (``make bench`` uses the project's virtualenv), one after
the other so they do not compete for the CPU. Its output, exit status and duration go into
``docs/benchmarks.md`` between ``<!-- figures:start -->`` and ``<!-- figures:end -->``, under a
description of the machine (CPU, cores, OS, Python, botocore and boto3 versions, date, commit);
the hand-written text around the markers is left as it is. ``--quick`` passes each script its
smaller settings (a check that everything runs, not figures to quote). A script found here but not
listed in ``SCRIPTS`` runs with its defaults. The exit status is 1 when any script failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import os
import pathlib
import platform
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
PAGE = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- figures:start -->", "<!-- figures:end -->"


@dataclasses.dataclass(frozen=True)
class Script:
    name: str
    quick: tuple[str, ...]
    full: tuple[str, ...] = ()


#: Every benchmark, in the order they run (cheapest first), with the arguments of ``--quick``.
SCRIPTS = (
    Script("importtime.py", quick=("--runs", "3")),
    Script("startup.py", quick=("--runs", "5")),
    Script("wire.py", quick=("--rounds", "3", "--min-time", "0.02")),
    Script("flows.py", quick=("--flows", "5000")),
    Script("adapters.py", quick=("--quick",)),
    Script("soak.py", quick=("--logins", "300")),
    Script("fuzz.py", quick=("--inputs", "20000", "--jobs", "1")),
)


@dataclasses.dataclass(frozen=True)
class Outcome:
    script: Script
    argv: tuple[str, ...]
    returncode: int
    seconds: float
    output: str


def all_scripts() -> list[Script]:
    """``SCRIPTS`` plus any other benchmark script in this directory (run with its defaults)."""
    known = {script.name for script in SCRIPTS}
    extra = [
        Script(path.name, quick=())
        for path in sorted(HERE.glob("*.py"))
        if path.name not in known
        and path.name != pathlib.Path(__file__).name
        and not path.name.startswith("_")
    ]
    return [*SCRIPTS, *extra]


def run(script: Script, quick: bool) -> Outcome:
    argv = script.quick if quick else script.full
    print(f"== {script.name} {' '.join(argv)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(HERE / script.name), *argv],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    sys.stderr.write(done.stdout)
    print(f"== {script.name}: exit {done.returncode}, {seconds:.1f} s\n", file=sys.stderr, flush=True)
    output = "\n".join(line.rstrip() for line in done.stdout.rstrip().splitlines())
    return Outcome(script, argv, done.returncode, seconds, output)


def _cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True, text=True, check=False
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def machine() -> list[tuple[str, str]]:
    """What the figures were measured on."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [
        ("CPU", _cpu_model()),
        ("cores", f"{os.cpu_count()} ({affinity} usable by this process)"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("botocore / boto3", f"{_version('botocore')} / {_version('boto3')}"),
        ("sansio-ssooidc", f"{_version('sansio-ssooidc')} (commit {_commit()})"),
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]


def render(outcomes: list[Outcome], quick: bool, command: str) -> str:
    """The Markdown that goes between the markers."""
    lines = [
        "",
        f"Measured with `{command}`"
        + (
            " (**quick mode**: smaller runs to check that every script works, not figures to quote)"
            if quick
            else ""
        )
        + ", on:",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in machine()),
        "",
    ]
    for outcome in outcomes:
        argv = " ".join(("benchmarks/" + outcome.script.name, *outcome.argv))
        status = "ok" if outcome.returncode == 0 else f"**exit status {outcome.returncode}**"
        lines += [
            f"### `{outcome.script.name}`",
            "",
            f"`python {argv}`: {status}, {outcome.seconds:.1f} s",
            "",
            "```text",
            outcome.output.replace("```", "'''") or "(no output)",
            "```",
            "",
        ]
    return "\n".join(lines)


def write_page(page: pathlib.Path, figures: str) -> None:
    """Replace what is between the markers of ``page`` with ``figures``."""
    text = page.read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise SystemExit(f"{page}: the markers {START} and {END} are missing")
    page.write_text(text[: start + len(START)] + "\n" + figures + "\n" + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs: check that everything works")
    parser.add_argument("--only", nargs="+", metavar="SCRIPT", help="run only these scripts (e.g. wire.py)")
    parser.add_argument("--page", type=pathlib.Path, default=PAGE, help="the page to update")
    args = parser.parse_args(argv)
    scripts = all_scripts()
    if args.only:
        unknown = sorted(set(args.only) - {script.name for script in scripts})
        if unknown:
            parser.error(f"unknown scripts: {', '.join(unknown)}")
        scripts = [script for script in scripts if script.name in args.only]
    command = "make bench" if not args.quick and not args.only else "python benchmarks/run_all.py"
    if args.quick:
        command += " --quick"
    if args.only:
        command += " --only " + " ".join(args.only)
    outcomes = [run(script, args.quick) for script in scripts]
    write_page(args.page, render(outcomes, args.quick, command))
    failed = [outcome.script.name for outcome in outcomes if outcome.returncode != 0]
    print(f"wrote {args.page}; failed: {', '.join(failed) or 'none'}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
