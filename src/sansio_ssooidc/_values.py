"""The base of every public value: frozen, slotted, keyword-only, validated, secrets masked.

Every value type in the core derives from :class:`Value`. Its fields are declared with
:func:`member`, which records the wire name, whether the field is required, whether it is a
secret (masked in ``repr``) and its kind (``str``, ``int``, ``strs`` …). Validation, ``repr``
masking and JSON encoding are driven by that one table, so a new field cannot forget one of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar

from ._errors import ParameterError, ParameterTypeError

__all__ = ["MASK", "Record", "Value", "member"]

#: What a secret looks like in a ``repr``, a log line or an exception message.
MASK = "***"

_KINDS = ("str", "int", "bool", "strs", "any")


def member(
    wire: str | None = None,
    *,
    kind: str = "str",
    required: bool = False,
    secret: bool = False,
    nonempty: bool = False,
    location: str = "body",
    default: Any = None,
) -> Any:
    """Declare a field of a :class:`Value`.

    ``wire`` is the name on the wire (camelCase member, query parameter or header); ``kind``
    is one of ``str``, ``int``, ``bool``, ``strs`` (a tuple of strings; a list is accepted and
    frozen) or ``any``; a ``required`` field has no default; a ``secret`` is masked in ``repr``;
    ``nonempty`` refuses the empty string; ``location`` is ``body``, ``query`` or ``header``.
    """
    assert kind in _KINDS, kind
    meta = {
        "wire": wire,
        "kind": kind,
        "required": required,
        "secret": secret,
        "nonempty": nonempty,
        "location": location,
    }
    if required:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


_Spec = tuple[str, str | None, str, bool, bool, bool, str]


def _specs(cls: type) -> tuple[_Spec, ...]:
    out = []
    for f in dataclasses.fields(cls):
        m = f.metadata
        out.append(
            (
                f.name,
                m.get("wire"),
                m.get("kind", "any"),
                m.get("required", False),
                m.get("secret", False),
                m.get("nonempty", False),
                m.get("location", "body"),
            )
        )
    return tuple(out)


def _type_name(value: object) -> str:
    return type(value).__name__


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Record:
    """Base of values the library builds itself from checked input (parsed results):
    frozen, slotted, keyword-only, with secrets masked in ``repr``; no re-validation."""

    _specs_cache: ClassVar[dict[type, tuple[_Spec, ...]]] = {}

    @classmethod
    def _field_specs(cls) -> tuple[_Spec, ...]:
        specs = Record._specs_cache.get(cls)
        if specs is None:
            specs = Record._specs_cache[cls] = _specs(cls)
        return specs

    def __repr__(self) -> str:
        parts = []
        for name, _wire, _kind, _required, secret, _nonempty, _loc in self._field_specs():
            value = getattr(self, name)
            if value is None:
                continue
            parts.append(f"{name}={MASK!r}" if secret else f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Value(Record):
    """Base of the values callers build: validates every field on construction, so a bad
    value fails where it is made, with a message naming the field."""

    def __post_init__(self) -> None:
        owner = type(self).__name__
        for name, _wire, kind, required, _secret, nonempty, _loc in self._field_specs():
            value = getattr(self, name)
            if value is None:
                if required:
                    raise ParameterError(f"{owner}.{name} is required; pass {name}=...")
                continue
            if kind == "str":
                if not isinstance(value, str):
                    raise ParameterTypeError(f"{owner}.{name} must be a str, not {_type_name(value)}")
                if nonempty and not value:
                    raise ParameterError(f"{owner}.{name} must not be empty")
            elif kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ParameterTypeError(f"{owner}.{name} must be an int, not {_type_name(value)}")
            elif kind == "bool":
                if not isinstance(value, bool):
                    raise ParameterTypeError(f"{owner}.{name} must be a bool, not {_type_name(value)}")
            elif kind == "strs":
                object.__setattr__(self, name, _str_tuple(owner, name, value))


def _str_tuple(owner: str, name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ParameterTypeError(
            f"{owner}.{name} must be a list or tuple of str, not {_type_name(value)}"
            + (f" (did you mean [{value!r}]?)" if isinstance(value, str) else "")
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise ParameterTypeError(f"{owner}.{name} must contain only str, found {_type_name(item)}")
    return items
