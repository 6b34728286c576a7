"""The CLI tutorial (docs/tutorial/cli.md) as written: its ``console`` blocks run in bash, against
``ssooidc simulate`` started as the page says, with the installed ``ssooidc`` console script, HOME
and the working directory in a temporary directory, and a stand-in browser that opens the link.

A ``console`` block is a terminal session: ``$ command`` lines, each followed by what it prints.
Every printed line of the page must appear in the command's output, in order; ``…`` in a line
stands for any text (times, paths). The first block is the simulator's terminal; the others run
one after the other in the second terminal, whose ``export`` lines carry over."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clikit import PYCACHE, fake_browser

PAGE = Path(__file__).resolve().parent.parent / "docs" / "tutorial" / "cli.md"
BIN = Path(sys.executable).parent
DOC_PORT = "8765"
CONSOLE = re.compile(r"^```console\n(.*?)^```", re.M | re.S)
INI = re.compile(r"^```ini\n(.*?)^```", re.M | re.S)


def session(block: str) -> list[tuple[str, list[str]]]:
    """``(command, expected output lines)`` for each ``$`` line of a console block."""
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            assert steps, f"output before the first command in:\n{block}"
            steps[-1][1].append(line)
    return steps


def assert_shown(expected: list[str], output: str, command: str) -> None:
    """Each non-blank expected line matches a later line of ``output`` (``…``: any text)."""
    lines = output.splitlines()
    at = 0
    for want in expected:
        if not want.strip():
            continue
        pattern = re.compile(".*?".join(re.escape(part) for part in want.split("…")) + "$")
        while at < len(lines) and not pattern.match(lines[at]):
            at += 1
        assert at < len(lines), f"`{command}` did not print {want!r} (in order); it printed:\n{output}"
        at += 1


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def test_the_cli_tutorial_runs_as_written(tmp_path: Path) -> None:
    text = PAGE.read_text(encoding="utf-8")
    port = free_port()
    text = text.replace(f"127.0.0.1:{DOC_PORT}", f"127.0.0.1:{port}").replace(
        f"--port {DOC_PORT}", f"--port {port}"
    )
    blocks = CONSOLE.findall(text)
    assert len(blocks) >= 5
    (simulate, printed), *rest = session(blocks[0])
    assert not rest
    assert simulate.startswith("ssooidc simulate")

    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    browser, visited = fake_browser(tmp_path)
    env = {
        "HOME": str(home),
        "PATH": f"{BIN}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPYCACHEPREFIX": str(PYCACHE),
        "BROWSER": browser,  # the person who opens the link
    }
    config = next(block for block in INI.findall(text) if "[sso-session sim]" in block)
    (work / "sim-config").write_text(config)

    served = subprocess.Popen(
        ["bash", "-c", f"exec {simulate}"],
        env=env,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert served.stdout is not None
        shown: list[str] = []
        while not shown or shown[-1] != "Press Ctrl-C to stop.\n":
            line = served.stdout.readline()
            assert line, f"the simulator stopped: {served.communicate(timeout=10)}"
            shown.append(line)
        assert_shown(printed, "".join(shown), simulate)

        for block in blocks[1:]:
            for command, expected in session(block):
                if command.startswith("export "):
                    done = subprocess.run(
                        ["bash", "-c", f"{command} && env -0"],
                        env=env,
                        cwd=work,
                        capture_output=True,
                        check=True,
                    )
                    env = dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if item)
                    continue
                done = subprocess.run(
                    ["bash", "-c", command],
                    env=env,
                    cwd=work,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert done.returncode == 0, f"`{command}` exited {done.returncode}:\n{done.stdout}"
                assert_shown(expected, done.stdout, command)
        assert "/device?user_code=" in visited.read_text()  # the login was approved on the page

        served.send_signal(signal.SIGINT)  # Ctrl-C
        assert served.wait(10) == 0
    finally:
        if served.poll() is None:
            served.kill()
        served.communicate()


@pytest.mark.parametrize(
    ("line", "output", "ok"),
    [
        ("Open …/device", "x\nOpen http://h/device\n", True),
        ("exit code 1", "exit code 10\n", False),
        ("a … b", "a b\n", False),
    ],
)
def test_the_output_matcher(line: str, output: str, ok: bool) -> None:
    if ok:
        assert_shown([line], output, "cmd")
    else:
        with pytest.raises(AssertionError):
            assert_shown([line], output, "cmd")
