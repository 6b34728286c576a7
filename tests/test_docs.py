"""The documentation cannot drift from the code.

- Every ``python`` code block in the README and in ``docs/`` (at any depth) runs, as written, as a
  script in an empty directory with warnings as errors, and succeeds.
- The API reference covers every public name: everything in ``sansio_ssooidc.__all__`` and in the
  ``__all__`` of every public module (the simulator and each ``adapters/`` module without a leading
  underscore), each under its public path and documented once.
- The state diagrams the docs build draws (``docs/hooks/diagrams.py``) contain every transition of
  each flow's table and nothing else, and the flows page asks for a diagram of every flow.
- The command line reference shows the help of every ``ssooidc`` sub-command.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
from types import ModuleType
from typing import Any

import pytest

import sansio_ssooidc as oidc

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.M | re.S)
EXAMPLES = [
    pytest.param(code, id=f"{page.relative_to(ROOT)}:{n}")
    for page in PAGES
    for n, code in enumerate(BLOCK.findall(page.read_text(encoding="utf-8")), 1)
]


# --- executed examples -------------------------------------------------------------------------------


def test_the_docs_have_examples() -> None:
    # README (1), adapters (5), the DeviceFlow by hand (1), and the explanation pages (2) at least.
    assert len(EXAMPLES) >= 9


def test_every_how_to_guide_is_a_runnable_example() -> None:
    for page in sorted((DOCS / "how-to").glob("*.md")):
        assert BLOCK.search(page.read_text(encoding="utf-8")), f"{page.relative_to(ROOT)} has no python block"


@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code: str, tmp_path: pathlib.Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr


# --- the API reference covers the public API ------------------------------------------------------------

REFERENCE = DOCS / "reference"
DIRECTIVE = re.compile(r"^::: *(?P<path>[\w.]+) *\n(?P<options>(?:[ \t]+.*\n|[ \t]*\n)*)", re.M)


def directives() -> list[tuple[str, Any]]:
    """Every ``::: path`` of the reference pages, with its ``members`` option (None when absent)."""
    found = []
    for page in sorted(REFERENCE.glob("*.md")):
        for match in DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            members = re.search(r"^\s+members:\s*(.+)$", match["options"], re.M)
            value: Any = None
            if members is not None:
                text = members[1].strip()
                value = (
                    False if text == "false" else [name.strip(" '\"") for name in text.strip("[]").split(",")]
                )
            found.append((match["path"], value))
    return found


def public_modules() -> list[str]:
    """The public modules besides the package root: the simulator and the adapters' public modules."""
    adapters = sorted(
        f"sansio_ssooidc.adapters.{path.stem}"
        for path in (ROOT / "adapters").glob("*.py")
        if not path.stem.startswith("_")
    )
    return ["sansio_ssooidc.simulator", *adapters]


def public_names() -> list[tuple[str, str]]:
    """(module, name) for every name a user may import."""
    names = [("sansio_ssooidc", name) for name in oidc.__all__]
    for module_name in public_modules():
        module: ModuleType = importlib.import_module(module_name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{module_name} has no __all__"
        names += [(module_name, name) for name in exported]
    return names


def test_reference_covers_every_public_name() -> None:
    documented = dict(directives())
    missing = []
    for module, name in public_names():
        if f"{module}.{name}" in documented:
            continue
        members = documented.get(module, False) if module in documented else False
        if module in documented and (members is None or (isinstance(members, list) and name in members)):
            continue
        missing.append(f"{module}.{name}")
    assert not missing, f"not in docs/reference/*.md (add a '::: path' directive): {missing}"


def test_every_public_module_has_a_reference_entry() -> None:
    documented = {path for path, _ in directives()}
    assert not [module for module in public_modules() if module not in documented]


def test_reference_entries_are_public_and_unique() -> None:
    paths = [path for path, _ in directives()]
    assert not [path for path in paths if any(part.startswith("_") for part in path.split("."))]
    assert sorted(set(paths)) == sorted(paths), (
        "an object documented twice makes its cross-references ambiguous"
    )


# --- generated state diagrams ----------------------------------------------------------------------------


def _load_hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_hooks_{name}", DOCS / "hooks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


diagrams = _load_hook("diagrams")
FLOWS = diagrams.flows()


def test_every_flow_has_a_diagram_source() -> None:
    assert {"DeviceFlow", "AuthCodeFlow", "RefreshFlow"} <= set(FLOWS)


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_diagram_has_every_transition_and_no_other(name: str) -> None:
    flow = FLOWS[name]
    text = diagrams.mermaid(flow)
    edges = set(re.findall(r"^\s+(\w+|\[\*\]) --> (\w+|\[\*\])$", text, re.M))
    table = {(source.name, target.name) for source, targets in flow.TRANSITIONS.items() for target in targets}
    terminals = {(flow.DONE.name, "[*]"), (flow.FAILED.name, "[*]")}
    initial = next(iter(flow.TRANSITIONS)).name
    assert edges == table | terminals | {("[*]", initial)}
    for state in flow.AWAITING:
        assert re.search(rf"^\s+class .*\b{state.name}\b.* awaiting$", text, re.M)
    rendered = diagrams.render(name)
    for source, targets in flow.TRANSITIONS.items():
        assert f"| `{source.name}` |" in rendered
        for target in targets:
            assert f"{source.name} --> {target.name}" in rendered


def test_the_flows_page_shows_every_diagram() -> None:
    page = (REFERENCE / "flows.md").read_text(encoding="utf-8")
    assert {match["name"] for match in diagrams.MARKER.finditer(page)} == set(FLOWS)
    assert "state-diagram" not in diagrams.expand(page)


def test_an_unknown_flow_is_a_build_error() -> None:
    with pytest.raises(ValueError, match="not a public flow"):
        diagrams.expand("<!-- state-diagram: NoSuchFlow -->")


# --- the command line reference -----------------------------------------------------------------------


def test_the_cli_page_shows_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sansio_ssooidc.adapters.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100"},
    )
    commands = set(re.findall(r"^ {4}(\w+)(?: |$)", done.stdout, re.M))
    assert {"login", "token"} <= commands
    page = (REFERENCE / "cli.md").read_text(encoding="utf-8")
    shown = {args.split()[0] for args in re.findall(r"<!--\s*cli-help:([\w\s-]*)-->", page) if args.split()}
    assert shown == commands
