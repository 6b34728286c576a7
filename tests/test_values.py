"""The value base classes: validation messages, freezing, secret masking, and the compiled helpers
(validators, ``unchecked`` builders, ``wire_members``) against the plain rules they replace."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import sansio_ssooidc as oidc
from sansio_ssooidc._values import (
    MASK,
    Record,
    Value,
    json_body,
    member,
    record_list,
    unchecked,
    wire_members,
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Sample(Value):
    """Every kind, required and optional, plus a secret and a nonempty field."""

    name: str = member("name", required=True, nonempty=True)
    label: str | None = member("label")
    token: str | None = member("token", secret=True, location="header")
    count: int = member("count", kind="int", required=True, location="query")
    limit: int | None = member("limit", kind="int", location="query")
    flag: bool = member("flag", kind="bool", required=True)
    maybe: bool | None = member("maybe", kind="bool")
    tags: tuple[str, ...] | None = member("tags", kind="strs")
    needed: tuple[str, ...] = member("needed", kind="strs", required=True)
    blob: Any = member("blob", kind="any")
    plain: str | None = member()  # no wire name: never on the wire


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Empty(Record):
    """A record without fields."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Unchecked(Value):
    """A value whose only field is of kind ``any``: nothing to check."""

    anything: Any = member(kind="any", default=3)


GOOD: dict[str, Any] = {"name": "n", "count": 1, "flag": True, "needed": ["a"]}


def sample(**changes: Any) -> Sample:
    return Sample(**{**GOOD, **changes})


class StrSub(str):
    pass


class IntSub(int):
    pass


#: (what is built, error class, message): each message names the class, the field and the fix.
INVALID: list[tuple[Callable[[], Any], type[Exception], str]] = [
    (lambda: sample(name=None), oidc.ParameterError, r"^Sample\.name is required; pass name=\.\.\.$"),
    (lambda: sample(name=""), oidc.ParameterError, r"^Sample\.name must not be empty$"),
    (lambda: sample(name=b"n"), oidc.ParameterTypeError, r"^Sample\.name must be a str, not bytes$"),
    (lambda: sample(label=5), oidc.ParameterTypeError, r"^Sample\.label must be a str, not int$"),
    (lambda: sample(count=None), oidc.ParameterError, r"^Sample\.count is required; pass count=\.\.\.$"),
    (lambda: sample(count=True), oidc.ParameterTypeError, r"^Sample\.count must be an int, not bool$"),
    (lambda: sample(count=1.0), oidc.ParameterTypeError, r"^Sample\.count must be an int, not float$"),
    (lambda: sample(limit="5"), oidc.ParameterTypeError, r"^Sample\.limit must be an int, not str$"),
    (lambda: sample(flag=1), oidc.ParameterTypeError, r"^Sample\.flag must be a bool, not int$"),
    (lambda: sample(maybe="yes"), oidc.ParameterTypeError, r"^Sample\.maybe must be a bool, not str$"),
    (lambda: sample(needed=None), oidc.ParameterError, r"^Sample\.needed is required; pass needed=\.\.\.$"),
    (
        lambda: sample(tags="sso:account:access"),
        oidc.ParameterTypeError,
        r"^Sample\.tags must be a list or tuple of str, not str \(did you mean \['sso:account:access'\]\?\)$",
    ),
    (
        lambda: sample(tags=b"ab"),
        oidc.ParameterTypeError,
        r"^Sample\.tags must be a list or tuple of str, not bytes$",
    ),
    (
        lambda: sample(tags=7),
        oidc.ParameterTypeError,
        r"^Sample\.tags must be a list or tuple of str, not int$",
    ),
    (
        lambda: sample(tags=["a", 2]),
        oidc.ParameterTypeError,
        r"^Sample\.tags must contain only str, found int$",
    ),
    (
        lambda: sample(needed=[None]),
        oidc.ParameterTypeError,
        r"^Sample\.needed must contain only str, found NoneType$",
    ),
    # The same rules on the public values.
    (
        lambda: oidc.CreateToken(client_id="c", client_secret="s", grant_type=None),
        oidc.ParameterError,
        r"^CreateToken\.grant_type is required; pass grant_type=\.\.\.$",
    ),
    (
        lambda: oidc.StartDeviceAuthorization(client_id="c", client_secret="s", start_url=""),
        oidc.ParameterError,
        r"^StartDeviceAuthorization\.start_url must not be empty$",
    ),
    (
        lambda: oidc.GetRoleCredentials(role_name="r", account_id=123456789012, access_token="t"),
        oidc.ParameterTypeError,
        r"^GetRoleCredentials\.account_id must be a str, not int$",
    ),
    (
        lambda: oidc.CreateTokenWithIAM(client_id="c", grant_type="g", scope="openid"),
        oidc.ParameterTypeError,
        r"^CreateTokenWithIAM\.scope must be a list or tuple of str, not str "
        r"\(did you mean \['openid'\]\?\)$",
    ),
    (
        lambda: oidc.AwsCredentials(access_key_id="AKID", secret_access_key=""),
        oidc.ParameterError,
        r"^AwsCredentials\.secret_access_key must not be empty$",
    ),
    (
        lambda: oidc.ListAccounts(access_token="t", max_results=0),
        oidc.ParameterError,
        r"max_results must be at least 1",
    ),
]


@pytest.mark.parametrize(("factory", "error", "message"), INVALID)
def test_invalid_values_name_the_field_and_the_fix(
    factory: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        factory()


def test_parameter_errors_are_library_and_builtin_errors() -> None:
    assert issubclass(oidc.ParameterError, oidc.SSOOIDCError)
    assert issubclass(oidc.ParameterError, ValueError)
    assert issubclass(oidc.ParameterTypeError, oidc.SSOOIDCError)
    assert issubclass(oidc.ParameterTypeError, TypeError)


VALID: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({}, {"name": "n", "count": 1, "flag": True, "needed": ("a",), "tags": None, "label": None}),
    ({"tags": ["x", "y"]}, {"tags": ("x", "y")}),  # a list is frozen into a tuple
    ({"tags": ("x",)}, {"tags": ("x",)}),
    ({"tags": []}, {"tags": ()}),
    ({"tags": iter(["g"])}, {"tags": ("g",)}),  # any iterable of str
    ({"tags": {"k": 1}}, {"tags": ("k",)}),
    ({"name": StrSub("sub")}, {"name": "sub"}),  # subclasses take the slow path and pass
    ({"count": IntSub(4), "limit": IntSub(0)}, {"count": 4, "limit": 0}),
    ({"label": "", "flag": False, "maybe": False}, {"label": "", "flag": False, "maybe": False}),
    ({"blob": object}, {"blob": object}),  # kind "any" is not checked
]


@pytest.mark.parametrize(("changes", "expected"), VALID)
def test_valid_values_are_built_and_frozen(changes: dict[str, Any], expected: dict[str, Any]) -> None:
    value = sample(**changes)
    for name, want in expected.items():
        assert getattr(value, name) == want, name
    with pytest.raises(dataclasses.FrozenInstanceError):
        value.name = "x"  # type: ignore[misc]
    assert not hasattr(value, "__dict__")


def test_a_field_without_member_kind_defaults_to_str() -> None:
    with pytest.raises(oidc.ParameterTypeError, match=r"Sample\.plain must be a str, not int"):
        sample(plain=5)
    assert Unchecked().anything == 3
    assert Unchecked(anything=[1]).anything == [1]


def test_member_refuses_an_unknown_kind() -> None:
    with pytest.raises(AssertionError):
        member(kind="float")


def test_values_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        oidc.Logout("t")  # type: ignore[call-arg]


# --- the compiled validator against the rules it implements ---------------------------------------


def reference_check(cls: type[Value], values: dict[str, Any]) -> tuple[type[Exception], str] | dict[str, Any]:
    """The validation rules written plainly: the error (class, message) or the stored values."""
    owner = cls.__name__
    out = {}
    for f in dataclasses.fields(cls):
        kind = f.metadata.get("kind", "any")
        value = values.get(f.name, f.default)
        out[f.name] = value
        if value is None:
            if f.metadata.get("required"):
                return oidc.ParameterError, f"{owner}.{f.name} is required; pass {f.name}=..."
            continue
        name = f"{owner}.{f.name}"
        if kind == "str" and not isinstance(value, str):
            return oidc.ParameterTypeError, f"{name} must be a str, not {type(value).__name__}"
        if kind == "str" and f.metadata.get("nonempty") and not value:
            return oidc.ParameterError, f"{name} must not be empty"
        if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
            return oidc.ParameterTypeError, f"{name} must be an int, not {type(value).__name__}"
        if kind == "bool" and not isinstance(value, bool):
            return oidc.ParameterTypeError, f"{name} must be a bool, not {type(value).__name__}"
        if kind == "strs":
            if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
                hint = f" (did you mean [{value!r}]?)" if isinstance(value, str) else ""
                return (
                    oidc.ParameterTypeError,
                    f"{name} must be a list or tuple of str, not {type(value).__name__}{hint}",
                )
            items = tuple(value)
            bad = [item for item in items if not isinstance(item, str)]
            if bad:
                return oidc.ParameterTypeError, f"{name} must contain only str, found {type(bad[0]).__name__}"
            out[f.name] = items
    return out


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.builds(IntSub, st.integers(0, 3)),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.builds(StrSub, st.text(max_size=2)),
    st.binary(max_size=2),
    st.lists(st.one_of(st.text(max_size=2), st.integers()), max_size=3),
    st.tuples(st.text(max_size=2)),
)


#: Values of the right kind, so that whole valid values come up often too.
FITTING = {
    "str": st.text(min_size=1, max_size=3),
    "int": st.integers(),
    "bool": st.booleans(),
    "strs": st.lists(st.text(max_size=2), max_size=2),
    "any": st.integers(),
}


FIELDS = dataclasses.fields(Sample)


@settings(max_examples=500, deadline=None)
@given(
    fitting=st.fixed_dictionaries(
        {f.name: FITTING[f.metadata["kind"]] for f in FIELDS if f.default is dataclasses.MISSING},
        optional={
            f.name: FITTING[f.metadata.get("kind", "str")]
            for f in FIELDS
            if f.default is not dataclasses.MISSING
        },
    ),
    changes=st.dictionaries(st.sampled_from([f.name for f in FIELDS]), anything, max_size=2),
)
def test_the_compiled_validator_applies_the_plain_rules(
    fitting: dict[str, Any], changes: dict[str, Any]
) -> None:
    values = {**fitting, **changes}
    expected = reference_check(Sample, values)
    event("refused" if isinstance(expected, tuple) else "built")
    if isinstance(expected, tuple):
        error, message = expected
        with pytest.raises(error) as info:
            Sample(**values)
        assert type(info.value) is error
        assert str(info.value) == message
    else:
        value = Sample(**values)
        assert {f.name: getattr(value, f.name) for f in dataclasses.fields(Sample)} == expected


# --- repr -----------------------------------------------------------------------------------------


def test_repr_masks_secrets_and_omits_absent_fields() -> None:
    value = sample(token="CANARY-token", label="visible", tags=["t"])
    text = repr(value)
    assert "CANARY" not in text
    assert f"token={MASK!r}" in text
    assert text.startswith("Sample(name='n', label='visible', token='***', count=1, flag=True, ")
    assert "limit" not in text
    assert "maybe" not in text
    assert repr(Empty()) == "Empty()"
    op = oidc.CreateToken(
        client_id="cid", client_secret="sec", grant_type="refresh_token", refresh_token="rt"
    )
    assert repr(op) == (
        "CreateToken(client_id='cid', client_secret='***', grant_type='refresh_token', refresh_token='***')"
    )


def test_repr_of_nested_records_masks_inner_secrets() -> None:
    creds = oidc.AwsCredentials(access_key_id="AKID", secret_access_key="SECRET", session_token="TOKEN")
    done = oidc.Done(result=creds)
    assert (
        repr(done)
        == "Done(result=AwsCredentials(access_key_id='AKID', secret_access_key='***', session_token='***'))"
    )


# --- unchecked builders ---------------------------------------------------------------------------


RESULT_CLASSES = [
    oidc.RegisterClientResult,
    oidc.StartDeviceAuthorizationResult,
    oidc.CreateTokenResult,
    oidc.CreateTokenWithIAMResult,
    oidc.GetRoleCredentialsResult,
    oidc.AccountInfo,
    oidc.ListAccountsResult,
    oidc.RoleInfo,
    oidc.ListAccountRolesResult,
]


@pytest.mark.parametrize("cls", RESULT_CLASSES, ids=lambda c: c.__name__)
def test_unchecked_builds_what_the_constructor_builds(cls: type[Record]) -> None:
    fields = {f.name: f"v-{f.name}" for f in dataclasses.fields(cls)}
    fast = unchecked(cls)(**fields)
    slow = cls(**fields)
    assert type(fast) is cls
    assert fast == slow
    assert hash(fast) == hash(slow)
    assert repr(fast) == repr(slow)
    assert unchecked(cls) is unchecked(cls)  # compiled once
    # Defaults apply as in the constructor.
    assert unchecked(cls)() == cls()


def test_unchecked_keeps_defaults_and_required_fields() -> None:
    assert unchecked(Empty)() == Empty()
    assert unchecked(Unchecked)().anything == 3
    request = unchecked(oidc.HttpRequest)(method="GET", url="http://h/")
    assert request == oidc.HttpRequest(method="GET", url="http://h/")
    with pytest.raises(TypeError):
        unchecked(oidc.HttpRequest)(method="GET")  # url has no default
    with pytest.raises(TypeError):
        unchecked(oidc.RoleInfo)(role_name="r", unknown=1)


def test_unchecked_refuses_a_default_factory() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
    class WithFactory(Record):
        items: list[str] = dataclasses.field(default_factory=list)

    with pytest.raises(AssertionError, match="items"):
        unchecked(WithFactory)


# --- wire members ---------------------------------------------------------------------------------


def test_wire_members_by_location_in_field_order_without_none() -> None:
    value = sample(token="t", limit=3, tags=["x"], blob=1, plain="p")
    assert wire_members(Sample, "body")(value) == {
        "name": "n",
        "flag": True,
        "tags": ("x",),
        "needed": ("a",),
        "blob": 1,
    }
    assert list(wire_members(Sample, "body")(value)) == ["name", "flag", "tags", "needed", "blob"]
    assert wire_members(Sample, "query")(value) == {"count": 1, "limit": 3}
    assert wire_members(Sample, "header")(value) == {"token": "t"}
    assert wire_members(Sample, "header")(sample()) == {}
    assert wire_members(Sample, "nowhere")(value) == {}
    assert wire_members(Sample, "body") is wire_members(Sample, "body")


# --- the compiled __init__ against the dataclasses-made one ----------------------------------------


def _outcome(build: Callable[[], Any]) -> tuple[str, Any]:
    try:
        value = build()
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return "built", {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}


def test_the_first_construction_installs_the_compiled_init() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
    class Fresh(Value):
        name: str = member("name", required=True)

    made = Fresh.__dict__["__init__"]
    assert not hasattr(made, "__wrapped__")
    Fresh(name="a")
    compiled = Fresh.__dict__["__init__"]
    assert compiled.__wrapped__ is made
    assert (
        compiled.__qualname__
        == made.__qualname__
        == "test_the_first_construction_installs_the_compiled_init.<locals>.Fresh.__init__"
    )
    assert Fresh(name="b").name == "b"
    with pytest.raises(oidc.ParameterTypeError, match=r"^Fresh\.name must be a str, not int$"):
        Fresh(name=1)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    kwargs=st.dictionaries(
        st.sampled_from([f.name for f in FIELDS] + ["unknown"]), anything, max_size=len(FIELDS) + 1
    ),
    positional=st.booleans(),
)
def test_the_compiled_init_does_what_the_dataclass_init_does(
    kwargs: dict[str, Any], positional: bool
) -> None:
    sample()  # installs it
    made = Sample.__init__.__wrapped__  # type: ignore[misc]

    def original() -> Sample:
        value = object.__new__(Sample)
        made(value, *([1] if positional else []), **kwargs)
        return value

    def compiled() -> Sample:
        return Sample(*([1] if positional else []), **kwargs)  # type: ignore[misc]

    expected = _outcome(original)
    event(expected[0])
    assert _outcome(compiled) == expected


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Counted(Value):
    """A value with its own ``__post_init__``, which the compiled ``__init__`` must still call."""

    name: str = member("name", required=True)
    calls: Any = member(kind="any", default=None)

    def __post_init__(self) -> None:
        Value.__post_init__(self)
        if isinstance(self.calls, list):
            self.calls.append(self.name)


class Undecorated(Sample):
    """A subclass that is not a dataclass: it inherits Sample's ``__init__``, whichever it is."""

    __slots__ = ()
    seen: list[str] = []  # noqa: RUF012 - a test's record

    def __post_init__(self) -> None:
        Undecorated.seen.append(self.name)
        Value.__post_init__(self)


def test_the_compiled_init_calls_an_own_post_init() -> None:
    calls: list[str] = []
    Counted(name="first", calls=calls)
    Counted(name="second", calls=calls)
    assert Counted.__dict__["__init__"].__wrapped__ is not None
    assert calls == ["first", "second"]
    sample()
    Undecorated.seen.clear()
    Undecorated(**GOOD)
    Undecorated(**{**GOOD, "name": "again"})
    assert Undecorated.seen == ["n", "again"]
    assert "__init__" not in Undecorated.__dict__


def test_classes_the_compiled_init_cannot_serve_keep_their_own() -> None:
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
    class Nothing(Value):
        pass

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
    class Factory(Value):
        items: Any = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
    class NotInit(Value):
        name: str = member("name", required=True)
        derived: str = dataclasses.field(init=False, default="d")

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False, init=False)
    class OwnInit(Value):
        name: str = member("name", required=True)

        def __init__(self, name: str) -> None:
            object.__setattr__(self, "name", name.upper())
            self.__post_init__()

    for build in (Nothing, Factory, lambda: NotInit(name="x"), lambda: OwnInit("x")):
        build()
        build()
    for cls in (Nothing, Factory, NotInit, OwnInit):
        assert not hasattr(cls.__dict__["__init__"], "__wrapped__"), cls
    assert Factory().items == []
    assert Factory().items is not Factory().items
    assert OwnInit("x").name == "X"
    assert NotInit(name="y").derived == "d"


@settings(max_examples=300, deadline=None)
@given(
    changes=st.fixed_dictionaries(
        {},
        optional={
            "name": st.text(min_size=1),
            "label": st.none() | st.text(),
            "flag": st.booleans(),
            "tags": st.none() | st.lists(st.text(), max_size=3),
            "needed": st.lists(st.text(), max_size=3),
            "blob": st.none() | st.integers() | st.text() | st.lists(st.integers(), max_size=2),
        },
    )
)
def test_the_compiled_json_body_is_json_dumps_of_the_body_members(changes: dict[str, Any]) -> None:
    value = sample(**changes)
    assert json_body(Sample)(value) == json.dumps(wire_members(Sample, "body")(value)).encode()


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True, repr=False)
class Single(Record):
    """A record of one string member (the generated code unpacks one value differently)."""

    only: str | None = member("accountId")


def plain_records(cls: type[Record], items: list[Any]) -> tuple[Record, ...] | None:
    """What :func:`record_list` does, written plainly."""
    fields = {spec[0]: spec[1] for spec in cls._field_specs()}
    out = []
    for item in items:
        if not isinstance(item, dict):
            return None
        values = {name: item.get(wire) for name, wire in fields.items()}
        if not all(value is None or type(value) is str for value in values.values()):
            return None
        out.append(cls(**values))
    return tuple(out)


member_values = (
    st.none() | st.text(max_size=5) | st.integers() | st.booleans() | st.lists(st.none(), max_size=1)
)
KEYS = ["accountId", "accountName", "emailAddress", "roleName"]
items_strategy = st.lists(
    st.dictionaries(st.sampled_from([*KEYS, "other"]), member_values, max_size=5)
    # every member present and a string (the one-call read), maybe with extras
    | st.fixed_dictionaries({key: st.text(max_size=3) for key in KEYS}, optional={"other": member_values})
    | st.sampled_from([None, 1, "x", [], [{}]]),
    max_size=5,
)


@settings(max_examples=500, deadline=None)
@given(cls=st.sampled_from([oidc.AccountInfo, oidc.RoleInfo, Single]), items=items_strategy)
def test_record_list_applies_the_plain_rules(cls: type[Record], items: list[Any]) -> None:
    expected = plain_records(cls, items)
    event("refused" if expected is None else "built")
    got = record_list(cls)(items)
    assert got == expected
    if got is not None:
        assert all(type(record) is cls for record in got)


def test_record_list_needs_string_members_with_wire_names() -> None:
    with pytest.raises(AssertionError):
        record_list(Sample)
