"""State diagrams of the flows, generated from their transition tables at every docs build.

Each flow class (a ``Machine`` subclass) carries ``TRANSITIONS`` (state -> the states it may move
to) and ``AWAITING`` (the states in which a response is outstanding). A page asks for a flow's
diagram with the comment ``<!-- state-diagram: DeviceFlow -->``; the mkdocs hook below replaces
it with a Mermaid ``stateDiagram-v2`` and the same table in plain Markdown (readable where the
Mermaid script cannot load). Nothing is written by hand, so the pictures cannot drift from the code.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from typing import Any

import sansio_ssooidc as oidc

MARKER = re.compile(r"<!--\s*state-diagram:\s*(?P<name>\w+)\s*-->")


def flows() -> dict[str, type]:
    """Every public flow: the names in ``sansio_ssooidc.__all__`` that carry a transition table."""
    out = {}
    for name in oidc.__all__:
        value = getattr(oidc, name)
        if isinstance(value, type) and isinstance(getattr(value, "TRANSITIONS", None), Mapping):
            out[name] = value
    return out


def transitions(flow: type) -> Iterator[tuple[enum.Enum, enum.Enum]]:
    """Every legal move of ``flow``, in the table's order (targets in their enum's order)."""
    table: Mapping[Any, frozenset[Any]] = flow.TRANSITIONS  # type: ignore[attr-defined]
    for source, targets in table.items():
        for target in type(source):
            if target in targets:
                yield source, target


def mermaid(flow: type) -> str:
    """``flow``'s transition table as a Mermaid ``stateDiagram-v2``."""
    table: Mapping[Any, frozenset[Any]] = flow.TRANSITIONS  # type: ignore[attr-defined]
    awaiting = sorted(state.name for state in flow.AWAITING)  # type: ignore[attr-defined]
    initial = next(iter(table))
    lines = ["stateDiagram-v2", f"    [*] --> {initial.name}"]
    lines += [f"    {source.name} --> {target.name}" for source, target in transitions(flow)]
    lines += [f"    {state.name} --> [*]" for state in (flow.DONE, flow.FAILED)]  # type: ignore[attr-defined]
    if awaiting:
        lines.append("    classDef awaiting font-style:italic,stroke-dasharray:4 2")
        lines.append(f"    class {','.join(awaiting)} awaiting")
    return "\n".join(lines)


def table(flow: type) -> str:
    """``flow``'s transition table as a Markdown table."""
    transitions_of: Mapping[Any, frozenset[Any]] = flow.TRANSITIONS  # type: ignore[attr-defined]
    awaiting = flow.AWAITING  # type: ignore[attr-defined]
    rows = ["| state | a response is outstanding | may move to |", "|---|---|---|"]
    for source, targets in transitions_of.items():
        moves = ", ".join(f"`{t.name}`" for t in type(source) if t in targets) or "— (final)"
        rows.append(f"| `{source.name}` | {'yes' if source in awaiting else ''} | {moves} |")
    return "\n".join(rows)


def render(name: str) -> str:
    """The Markdown that replaces ``<!-- state-diagram: NAME -->``."""
    known = flows()
    if name not in known:
        raise ValueError(f"state-diagram: {name!r} is not a public flow (known: {', '.join(sorted(known))})")
    flow = known[name]
    return (
        f"```mermaid\n{mermaid(flow)}\n```\n\n"
        f"States in *italics* (dashed) await the response to a `Send`: only `receive_response`, "
        f"`receive_failure` or `abandon_send` may be called there. "
        f"Generated from `{flow.__module__}.TRANSITIONS`.\n\n"
        f"{table(flow)}\n"
    )


def expand(markdown: str) -> str:
    """``markdown`` with every state-diagram marker replaced."""
    return MARKER.sub(lambda match: render(match["name"]), markdown)


# --- mkdocs hook ---------------------------------------------------------------------------------


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return expand(markdown)
