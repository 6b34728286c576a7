"""The base of every public value: frozen, slotted, keyword-only, validated, secrets masked.

Every value type in the core derives from :class:`Value`. Its fields are declared with
:func:`member`, which records the wire name, whether the field is required, whether it is a
secret (masked in ``repr``) and its kind (``str``, ``int``, ``strs`` …). Validation, ``repr``
masking and JSON encoding are driven by that one table, so a new field cannot forget one of them.
"""

from __future__ import annotations

import dataclasses
import json
import operator
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from ._errors import ParameterError, ParameterTypeError

__all__ = [
    "MASK",
    "Record",
    "Value",
    "compile_function",
    "json_body",
    "member",
    "record_list",
    "unchecked",
    "wire_members",
]

#: What a secret looks like in a ``repr``, a log line or an exception message.
MASK = "***"

_KINDS = ("str", "int", "bool", "strs", "any")

R = TypeVar("R")
RecordT = TypeVar("RecordT", bound="Record")


def member(
    wire: str | None = None,
    *,
    kind: str = "str",
    required: bool = False,
    secret: bool = False,
    nonempty: bool = False,
    location: str = "body",
    default: Any = None,
    minimum: int | None = None,
) -> Any:
    """Declare a field of a :class:`Value`.

    ``wire`` is the name on the wire (camelCase member, query parameter or header); ``kind``
    is one of ``str``, ``int``, ``bool``, ``strs`` (a tuple of strings; a list is accepted and
    frozen) or ``any``; a ``required`` field has no default; a ``secret`` is masked in ``repr``;
    ``nonempty`` refuses the empty string; ``location`` is ``body``, ``query`` or ``header``;
    ``minimum`` is the least value an ``int`` field takes.
    """
    assert kind in _KINDS, kind
    assert minimum is None or kind == "int", kind
    meta = {
        "wire": wire,
        "kind": kind,
        "required": required,
        "secret": secret,
        "nonempty": nonempty,
        "location": location,
        "minimum": minimum,
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
        cls = type(self)
        validate = _VALIDATORS.get(cls)
        if validate is None:
            validate = _VALIDATORS[cls] = _compile_validator(cls)
            _install_init(cls)
        validate(self)


def _check_field(self: Value, owner: str, name: str, kind: str, nonempty: bool) -> None:
    """Validate one field (and freeze a ``strs`` one to a tuple): the slow path of a validator,
    for a value its quick type test did not let through."""
    value = getattr(self, name)
    if value is None:  # the validator lets an optional None through: this one is required
        raise ParameterError(f"{owner}.{name} is required; pass {name}=...")
    if kind == "str":
        if not isinstance(value, str):
            raise ParameterTypeError(f"{owner}.{name} must be a str, not {_type_name(value)}")
        if nonempty and not value:
            raise ParameterError(f"{owner}.{name} must not be empty")
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterTypeError(f"{owner}.{name} must be an int, not {_type_name(value)}")
    elif kind == "bool":  # bool has no subclasses: the validator let every bool through
        raise ParameterTypeError(f"{owner}.{name} must be a bool, not {_type_name(value)}")
    else:
        assert kind == "strs", kind
        object.__setattr__(self, name, _str_tuple(owner, name, value))


#: The test of a value that needs no further look, per kind ("strs" always takes the slow path,
#: which freezes a list into a tuple).
_FAST_OK = {"str": "type(v) is str", "int": "type(v) is int", "bool": "type(v) is bool", "strs": "False"}

_VALIDATORS: dict[type, Callable[[Any], None]] = {}
_BUILDERS: dict[type, Callable[..., Any]] = {}
_MEMBERS: dict[tuple[type, str], Callable[[Any], dict[str, Any]]] = {}


def compile_function(source: str, namespace: dict[str, Any], name: str) -> Callable[..., Any]:
    # Straight-line code made from the field table, as dataclasses makes __init__: a value is
    # built on every call, and a loop over the table costs three times as much.
    exec(source, namespace)  # noqa: S102 - the source is built from field names only
    function: Callable[..., Any] = namespace[name]
    return function


def _compile_validator(cls: type[Value]) -> Callable[[Any], None]:
    """``validate(self)`` for ``cls``: a type test per field, and :func:`_check_field` (which
    raises the error naming the field, or converts) only when the test fails."""
    lines = ["def validate(self):", *_validation(cls, "self."), "    return None"]
    return compile_function("\n".join(lines), {"_check": _check_field, "_Error": ParameterError}, "validate")


def _validation(cls: type[Value], prefix: str) -> list[str]:
    """The body of :func:`_compile_validator`'s function, reading each field as ``prefix + name``
    (``self.name``, or in ``__init__`` the parameter)."""
    owner = cls.__name__
    minimums = {f.name: f.metadata.get("minimum") for f in dataclasses.fields(cls)}
    lines, bounds = [], []
    for name, _wire, kind, required, _secret, nonempty, _loc in cls._field_specs():
        if kind == "any":
            continue
        ok = _FAST_OK[kind] + (" and v" if nonempty and kind == "str" else "")
        bad = f"not ({ok})" if required else f"v is not None and not ({ok})"
        lines.append(f"    v = {prefix}{name}")
        lines.append(f"    if {bad}: _check(self, {owner!r}, {name!r}, {kind!r}, {nonempty})")
        minimum = minimums[name]
        if minimum is not None:  # checked once every field has its type: the type errors first
            bounds.append(f"    if {prefix}{name} is not None and {prefix}{name} < {int(minimum)}:")
            bounds.append(f"        raise _Error({f'{owner}.{name} must be at least {int(minimum)}'!r})")
    return lines + bounds


def wire_members(cls: type[Record], location: str) -> Callable[[Any], dict[str, Any]]:
    """``members(value)``: the ``{wire name: value}`` of the fields of ``cls`` at ``location``
    (``body``, ``query`` or ``header``) that have a wire name and are not ``None``, in field order."""
    members = _MEMBERS.get((cls, location))
    if members is None:
        lines = ["def members(self):", "    out = {}"]
        for name, wire, _kind, _required, _secret, _nonempty, loc in cls._field_specs():
            if loc == location and wire:
                lines.append(f"    v = self.{name}")
                lines.append(f"    if v is not None: out[{wire!r}] = v")
        lines.append("    return out")
        members = _MEMBERS[(cls, location)] = compile_function("\n".join(lines), {}, "members")
    return members


_BODIES: dict[type, Callable[[Any], bytes]] = {}

#: How each kind of validated value is written as JSON, exactly as ``json.dumps`` (its defaults:
#: ASCII only, ``", "`` and ``": "`` separators) writes it.
_JSON_OF_KIND = {
    "str": "_s(v)",
    "int": "_i(v)",
    "bool": "('true' if v else 'false')",
    "strs": "'[' + ', '.join(map(_s, v)) + ']'",
    "any": "_dumps(v)",
}


def json_body(cls: type[Record]) -> Callable[[Any], bytes]:
    """``body(value)``: ``json.dumps(wire_members(cls, "body")(value)).encode()``, byte for byte,
    written by code made from the field table (the C encoder spends longer setting up for a dict
    of four members than on writing them)."""
    body = _BODIES.get(cls)
    if body is None:
        lines = ["def body(self):", "    out = []"]
        for name, wire, kind, _required, _secret, _nonempty, loc in cls._field_specs():
            if loc == "body" and wire:
                key = json.dumps(wire) + ": "
                lines.append(f"    v = self.{name}")
                lines.append(f"    if v is not None: out.append({key!r} + {_JSON_OF_KIND[kind]})")
        lines.append("    return ('{' + ', '.join(out) + '}').encode('ascii')")
        namespace = {"_s": json.encoder.encode_basestring_ascii, "_i": int.__repr__, "_dumps": json.dumps}
        body = _BODIES[cls] = compile_function("\n".join(lines), namespace, "body")
    return body


_RECORD_LISTS: dict[type, Callable[[list[Any]], tuple[Any, ...] | None]] = {}


def record_list(cls: type[RecordT]) -> Callable[[list[Any]], tuple[RecordT, ...] | None]:
    """``records(items)``: a tuple of ``cls``, one per JSON object in ``items``, each field read
    from the member of its wire name (all of kind ``str``, all optional); ``None`` when an item is
    not an object or a member is neither a string nor absent (the caller then names the culprit).

    Written by code made from the field table, with the fields set straight into the slots: a
    portal page holds up to 100 such records, and this is most of the time spent parsing it.
    """
    records = _RECORD_LISTS.get(cls)
    if records is None:
        specs = cls._field_specs()
        for name, wire, kind, _required, _secret, _nonempty, _loc in specs:
            assert kind == "str", (cls, name)
            assert wire, (cls, name)
        wires = [spec[1] for spec in specs]
        names = ", ".join(f"v{i}" for i in range(len(specs))) + ("," if len(specs) == 1 else "")
        read = "(_all(item),)" if len(specs) == 1 else "_all(item)"
        namespace: dict[str, Any] = {
            "_new": object.__new__,
            "_cls": cls,
            "_dict": dict,
            "_str": str,
            # All members present (the usual page) are read in one call; a missing one raises
            # KeyError, and an item that is not an object TypeError: then one by one.
            "_all": operator.itemgetter(*wires),
            "_missing": (KeyError, TypeError),
        }
        lines = ["def records(items):", "    out = []", "    append = out.append", "    for item in items:"]
        lines += ["        try:", f"            {names} = {read}"]
        lines += ["        except _missing:", "            if type(item) is not _dict: return None"]
        lines += [f"            v{i} = item.get({wire!r})" for i, wire in enumerate(wires)]
        sets = []
        for i, (name, *_rest) in enumerate(specs):
            namespace[f"_s{i}"] = getattr(cls, name).__set__
            lines.append(f"        if type(v{i}) is not _str and v{i} is not None: return None")
            sets.append(f"        _s{i}(r, v{i})")
        lines += ["        r = _new(_cls)", *sets, "        append(r)", "    return tuple(out)"]
        records = _RECORD_LISTS[cls] = compile_function("\n".join(lines), namespace, "records")
    return records


def unchecked(cls: type[R]) -> Callable[..., R]:
    """A keyword-only constructor of ``cls`` that sets the fields without ``__init__``'s frozen
    ``__setattr__`` calls and without validation: for values the library builds from input it
    has just checked (parsed responses). Same result as ``cls(**fields)``, in half the time."""
    build = _BUILDERS.get(cls)
    if build is None:
        build = _BUILDERS[cls] = _compile_builder(cls)
    return build


def _compile_builder(cls: type) -> Callable[..., Any]:
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    params, body = [], []
    for i, field in enumerate(dataclasses.fields(cls)):
        assert field.default_factory is dataclasses.MISSING, field.name
        if field.default is dataclasses.MISSING:
            params.append(field.name)
        else:
            namespace[f"_d{i}"] = field.default
            params.append(f"{field.name}=_d{i}")
        namespace[f"_s{i}"] = getattr(cls, field.name).__set__  # the slot's descriptor
        body.append(f"    _s{i}(self, {field.name})")
    signature = f"*, {', '.join(params)}" if params else ""
    source = f"def build({signature}):\n    self = _new(_cls)\n" + "".join(line + "\n" for line in body)
    return compile_function(source + "    return self\n", namespace, "build")


def _install_init(cls: type[Value]) -> None:
    """Replace the ``__init__`` that dataclasses made for ``cls`` with one that sets the slots
    directly and then runs the validator's checks on its parameters: the same signature,
    defaults, checks and errors in half the time (a frozen dataclass's ``__init__`` goes
    through ``object.__setattr__`` once per field).

    Done on the first construction, so it costs nothing at import. A class with its own
    ``__init__`` keeps it; one with its own ``__post_init__`` still has it called.
    """
    init = cls.__dict__.get("__init__")
    fields = dataclasses.fields(cls)
    if (
        init is None
        or getattr(init, "__code__", None) is None
        or init.__code__.co_filename != "<string>"  # not the dataclasses-made __init__
        or not fields
        or any(not f.init or f.default_factory is not dataclasses.MISSING for f in fields)
        or any(f.name in ("self", "v") or f.name.startswith("_") for f in fields)  # the code's own names
    ):
        return
    post_init = cls.__post_init__
    namespace: dict[str, Any] = {"_finish": post_init, "_check": _check_field, "_Error": ParameterError}
    params, body = [], []
    for i, field in enumerate(fields):
        if field.default is dataclasses.MISSING:
            params.append(field.name)
        else:
            namespace[f"_d{i}"] = field.default
            params.append(f"{field.name}=_d{i}")
        namespace[f"_s{i}"] = getattr(cls, field.name).__set__
        body.append(f"    _s{i}(self, {field.name})\n")
    # A subclass that inherits this __init__ (one not made a dataclass itself) gets its own
    # __post_init__ called, as the dataclasses-made __init__ would.
    namespace["_cls"] = cls
    if post_init is Value.__post_init__:  # the validator's checks, on the parameters
        checks = "".join("    " + line + "\n" for line in _validation(cls, ""))
        finish = f"    if type(self) is _cls:\n{checks or '        pass'}\n    else: self.__post_init__()\n"
    else:
        finish = "    if type(self) is _cls: _finish(self)\n    else: self.__post_init__()\n"
    source = f"def __init__(self, *, {', '.join(params)}):\n{''.join(body)}{finish}"
    fast = compile_function(source, namespace, "__init__")
    fast.__qualname__ = init.__qualname__
    fast.__doc__ = init.__doc__
    fast.__module__ = init.__module__
    fast.__wrapped__ = init  # type: ignore[attr-defined]  # what it replaces (for the tests, and inspect)
    setattr(cls, "__init__", fast)  # noqa: B010 - mypy refuses assigning to a method


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
