"""A griffe extension for the API reference: the docstrings are reStructuredText-flavoured prose,
the reference is Markdown.

- Sphinx roles (``:class:`~sansio_ssooidc.HttpRequest```, ``:func:`parse_config```, ...) become
  cross-references when griffe can resolve the name from where it is written, and plain code
  otherwise. The references are *optional* autorefs: a name the reference does not render (a
  private helper) shows as code instead of failing the strict build.
- ``#:`` comments above a module constant or class attribute (the Sphinx convention the code uses)
  become its docstring.
- Fields declared with the core's ``member(...)`` show their real default in signatures (none for a
  required field) instead of the call.
- Special methods are left out of the reference (the site uses ``filters: public``, which honours
  ``__all__``), except the protocols a user calls through syntax: ``with``, ``async with``, calls
  and iteration.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?P<role>class|func|meth|data|attr|mod|exc|obj|const):`(?P<target>[^`]+)`")
_CALLABLE_ROLES = frozenset({"func", "meth"})
_SHOWN_SPECIAL = frozenset(
    {"__enter__", "__exit__", "__aenter__", "__aexit__", "__call__", "__iter__", "__aiter__"}
)


def _resolve(obj: griffe.Object, name: str) -> str | None:
    """The full path ``name`` refers to when written in ``obj``'s docstring, if griffe knows it."""
    if name.startswith("sansio_ssooidc"):
        return name
    head, _, rest = name.partition(".")
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            path = scope.resolve(head)
        except (griffe.NameResolutionError, KeyError, AttributeError):
            scope = scope.parent
            continue
        return f"{path}.{rest}" if rest else path
    return None


def rewrite(text: str, obj: griffe.Object) -> str:
    """``text`` with its Sphinx roles turned into optional cross-references (or code)."""

    def replace(match: re.Match[str]) -> str:
        target = match["target"].strip()
        shown = target.lstrip("~")
        if target.startswith("~"):
            shown = shown.rsplit(".", 1)[-1]
        if match["role"] in _CALLABLE_ROLES and not shown.endswith(")"):
            shown += "()"
        path = _resolve(obj, target.lstrip("~"))
        if path is None or target.lstrip("~").split(".")[0] in {"random", "datetime", "typing"}:
            return f"`{shown}`"
        return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'

    return ROLE.sub(replace, text)


def _hidden_special(name: str) -> bool:
    """Whether ``name`` is a special member left out (``__init__`` stays: it gives the signature)."""
    special = name.startswith("__") and name.endswith("__")
    return special and name != "__init__" and name not in _SHOWN_SPECIAL


def _comment_doc(obj: griffe.Object) -> str | None:
    """The ``#:`` comment lines right above ``obj``'s definition, joined."""
    lines = obj.parent.lines if obj.parent is not None else []
    number = (obj.lineno or 0) - 2  # 0-based index of the line above
    found: list[str] = []
    while 0 <= number < len(lines) and lines[number].strip().startswith("#:"):
        found.append(lines[number].strip()[2:].strip())
        number -= 1
    return " ".join(reversed(found)) or None


def _member_default(value: str) -> str | None:
    """The default a ``member(...)`` call gives its field, or None when the field is required."""
    try:
        call = ast.parse(value, mode="eval").body
    except SyntaxError:
        return value
    if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "member"):
        return value
    keywords = {kw.arg: kw.value for kw in call.keywords}
    if "required" in keywords and getattr(keywords["required"], "value", False) is True:
        return None
    if "default" in keywords:
        return ast.unparse(keywords["default"])
    return "None"


class SphinxProse(griffe.Extension):
    """See the module docstring."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        seen: set[int] = set()
        self._walk(pkg, seen)

    def _walk(self, obj: griffe.Object, seen: set[int]) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if obj.is_attribute and obj.docstring is None and obj.lineno:
            doc = _comment_doc(obj)
            if doc is not None:
                obj.docstring = griffe.Docstring(doc, parent=obj)
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value, obj)
        if obj.is_class:
            self._fix_members(obj)  # type: ignore[arg-type]
            for name in [name for name in obj.members if _hidden_special(name)]:
                del obj.members[name]
        for member in obj.members.values():
            if not member.is_alias:
                self._walk(member, seen)  # type: ignore[arg-type]

    @staticmethod
    def _fix_members(cls: griffe.Class) -> None:
        init = cls.members.get("__init__")
        if init is None or init.is_alias or not init.is_function:
            return
        for parameter in init.parameters:  # type: ignore[union-attr]
            if str(parameter.default or "").startswith("member("):
                parameter.default = _member_default(str(parameter.default))
        for member in cls.members.values():
            if member.is_attribute and not member.is_alias and str(member.value or "").startswith("member("):
                member.value = _member_default(str(member.value))  # type: ignore[union-attr]
