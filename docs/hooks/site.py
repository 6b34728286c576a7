"""mkdocs hooks of the docs build: where the API reference reads the code, and the CLI's help.

1. The package is ``src/sansio_ssooidc`` plus ``adapters/`` mounted as ``sansio_ssooidc.adapters``
   (a setuptools ``package-dir`` mapping), a layout griffe cannot see by reading files. Before the
   build, ``build/docs-api/sansio_ssooidc/`` is made afresh from symbolic links to both, and the
   reference reads the package there (``paths`` of the mkdocstrings handler): statically, with no
   import, and every module of the real tree included.
2. ``<!-- cli-help: login -->`` in a page becomes the output of ``ssooidc login --help``, run with
   this interpreter at build time, so the CLI reference is the parser itself.
3. ``<!-- error-tree -->`` becomes the hierarchy of the public exceptions, read from the classes.
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
from typing import Any

from mkdocs.plugins import event_priority

ROOT = pathlib.Path(__file__).resolve().parents[2]
STAGE = ROOT / "build" / "docs-api"
CLI_HELP = re.compile(r"<!--\s*cli-help:(?P<args>[\w\s-]*)-->")
ERROR_TREE = re.compile(r"<!--\s*error-tree\s*-->")


def stage_package(root: pathlib.Path = ROOT, stage: pathlib.Path = STAGE) -> pathlib.Path:
    """Build ``stage/sansio_ssooidc`` (links to ``src/sansio_ssooidc/*`` and ``adapters``); return it."""
    package = stage / "sansio_ssooidc"
    if stage.exists():
        shutil.rmtree(stage)
    package.mkdir(parents=True)
    for entry in sorted((root / "src" / "sansio_ssooidc").iterdir()):
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    (package / "adapters").symlink_to(root / "adapters", target_is_directory=True)
    return package


def cli_help(args: str) -> str:
    """The ``--help`` text of ``ssooidc ARGS`` as a fenced block."""
    command = [sys.executable, "-m", "sansio_ssooidc.adapters.cli", *args.split(), "--help"]
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr}")
    return f"```text\n{done.stdout.rstrip()}\n```"


def error_tree() -> str:
    """The public exceptions as a nested Markdown list, each linked to its reference entry."""
    import sansio_ssooidc as oidc

    errors = {
        name: value
        for name in oidc.__all__
        if isinstance(value := getattr(oidc, name), type) and issubclass(value, BaseException)
    }
    public = set(errors.values())
    children: dict[type | None, list[type]] = {}
    for error in errors.values():
        parent = next((base for base in error.__mro__[1:] if base in public), None)
        children.setdefault(parent, []).append(error)

    def lines(parent: type | None, depth: int) -> list[str]:
        out = []
        for error in sorted(children.get(parent, []), key=lambda cls: cls.__name__):
            others = [
                base.__name__ for base in error.__bases__ if base not in public and base is not Exception
            ]
            also = f" (also a `{'`, `'.join(others)}`)" if others else ""
            out.append(f"{'    ' * depth}- [`{error.__name__}`][sansio_ssooidc.{error.__name__}]{also}")
            out += lines(error, depth + 1)
        return out

    return "\n".join(lines(None, 0)) + "\n"


@event_priority(100)  # before mkdocstrings sets up its handler
def on_config(config: Any, **kwargs: Any) -> Any:
    stage_package()
    return config


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    markdown = CLI_HELP.sub(lambda match: cli_help(match["args"]), markdown)
    return ERROR_TREE.sub(lambda match: error_tree(), markdown)
