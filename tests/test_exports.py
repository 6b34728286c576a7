"""The public surface, trio style (``trio/_tests/test_exports.py``): a small flat namespace with
``__all__``, everything in it present and documented, values frozen and slotted, and the modeled
errors all there."""

from __future__ import annotations

import dataclasses
import enum
import importlib.metadata
import inspect
import re
import types
from typing import Any

import pytest

import sansio_ssooidc as oidc
from sansio_ssooidc._values import Record

PUBLIC = sorted(oidc.__all__)


def _objects() -> list[tuple[str, Any]]:
    return [(name, getattr(oidc, name)) for name in oidc.__all__]


def test_everything_in_all_exists() -> None:
    missing = [name for name in oidc.__all__ if not hasattr(oidc, name)]
    assert not missing


def test_all_is_unique_and_sorted() -> None:
    assert len(set(oidc.__all__)) == len(oidc.__all__)

    # ruff's RUF022 order: SCREAMING_SNAKE_CASE, then CamelCase, then the rest, each sorted.
    def key(name: str) -> tuple[int, str]:
        group = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return group, name

    assert oidc.__all__ == sorted(oidc.__all__, key=key)


def test_the_namespace_holds_only_all_and_private_names() -> None:
    extra = {name for name in vars(oidc) if not name.startswith("_")} - set(oidc.__all__)
    # Subpackages appear once imported (the simulator, the adapters); nothing else may.
    assert extra <= {"simulator", "adapters"}, extra
    for name in extra:
        assert isinstance(getattr(oidc, name), types.ModuleType)


def test_no_private_module_is_exported() -> None:
    for name, obj in _objects():
        assert not isinstance(obj, types.ModuleType), name
        module = getattr(obj, "__module__", None)
        if module is not None and isinstance(obj, (type, types.FunctionType)):
            # Defined in the package (re-exported from its private modules), never elsewhere.
            assert module.startswith("sansio_ssooidc._"), (name, module)
            assert getattr(importlib.import_module(module), name) is obj


def test_version() -> None:
    assert oidc.__version__ == importlib.metadata.version("sansio-ssooidc")


def _own_doc(obj: Any) -> str | None:
    """The object's own docstring (a dataclass without one gets its signature as __doc__)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
    if isinstance(obj, type) and doc and re.match(rf"{re.escape(obj.__name__)}\(", doc):
        return None
    return doc


@pytest.mark.parametrize("name", PUBLIC)
def test_public_classes_and_functions_are_documented(name: str) -> None:
    obj = getattr(oidc, name)
    if not isinstance(obj, (type, types.FunctionType)):
        return  # constants and type aliases
    assert (_own_doc(obj) or "").strip(), f"{name} has no docstring"
    if not isinstance(obj, type):
        return
    undocumented = []
    for attr, value in vars(obj).items():
        if attr.startswith("_"):
            continue
        function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
        if isinstance(function, types.FunctionType) and not (function.__doc__ or "").strip():
            undocumented.append(attr)
    assert not undocumented, f"{name}: undocumented public methods {undocumented}"


def test_type_aliases_and_constants() -> None:
    assert set(oidc.Action.__args__) == {
        oidc.Send,
        oidc.Wait,
        oidc.ShowCode,
        oidc.OpenBrowser,
        oidc.AwaitRedirect,
        oidc.Done[Any],
    }
    for name in ("GRANT_AUTHORIZATION_CODE", "GRANT_DEVICE_CODE", "GRANT_JWT_BEARER", "GRANT_REFRESH_TOKEN"):
        assert isinstance(getattr(oidc, name), str)
    assert oidc.DEFAULT_MAX_BODY_SIZE == 1 << 20
    assert oidc.USER_AGENT.endswith("/" + oidc.__version__)


DATACLASSES = [name for name, obj in _objects() if isinstance(obj, type) and dataclasses.is_dataclass(obj)]


@pytest.mark.parametrize("name", DATACLASSES)
def test_values_are_frozen_slotted_keyword_only_with_their_own_repr(name: str) -> None:
    cls = getattr(oidc, name)
    params = cls.__dataclass_params__
    assert params.frozen, name
    assert "__slots__" in cls.__dict__, name
    assert all(f.kw_only for f in dataclasses.fields(cls)), name
    # No generated repr: Record's masks secrets; HttpRequest/HttpResponse/AwsConfig have their own.
    assert not params.repr, name
    assert issubclass(cls, Record) or "__repr__" in cls.__dict__, name
    assert cls.__repr__ is not object.__repr__


def test_the_expected_values_are_dataclasses() -> None:
    # Everything a caller builds or receives is a value; the flows are machines.
    machines = {"AuthCodeFlow", "DeviceFlow", "RefreshFlow"}
    for name, obj in _objects():
        if not isinstance(obj, type) or issubclass(obj, (BaseException, enum.Enum)) or name in machines:
            continue
        assert dataclasses.is_dataclass(obj), name


#: WIRE.md, "Errors": the 14 modeled sso-oidc errors, and the portal's three (plus its shared
#: InvalidRequestException).
SSO_OIDC_ERRORS = [
    "AccessDenied",
    "AuthorizationPending",
    "ExpiredToken",
    "InternalServer",
    "InvalidClient",
    "InvalidClientMetadata",
    "InvalidGrant",
    "InvalidRedirectUri",
    "InvalidRequest",
    "InvalidRequestRegion",
    "InvalidScope",
    "SlowDown",
    "UnauthorizedClient",
    "UnsupportedGrantType",
]
PORTAL_ERRORS = ["Unauthorized", "ResourceNotFound", "TooManyRequests"]
MODELED = [name + "Exception" for name in SSO_OIDC_ERRORS + PORTAL_ERRORS]


@pytest.mark.parametrize("name", MODELED)
def test_every_modeled_error_is_exported(name: str) -> None:
    assert name in oidc.__all__
    cls = getattr(oidc, name)
    assert issubclass(cls, oidc.ServiceError)
    assert cls.__name__ == name


def test_no_other_service_errors_are_exported() -> None:
    exported = {
        name for name, obj in _objects() if isinstance(obj, type) and issubclass(obj, oidc.ServiceError)
    }
    assert exported == {*MODELED, "ServiceError"}


def test_every_exception_derives_from_the_root() -> None:
    for name, obj in _objects():
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, oidc.SSOOIDCError), name


def test_public_functions_take_keyword_only_options() -> None:
    # A positional boolean or option is easy to misread; everything after the subject is named.
    for name, obj in _objects():
        if not isinstance(obj, types.FunctionType):
            continue
        params = list(inspect.signature(obj).parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        assert len(positional) <= 2, (name, [p.name for p in positional])
        for p in positional:
            assert p.default is inspect.Parameter.empty or not isinstance(p.default, bool), (name, p.name)


def test_importing_the_package_loads_only_the_error_types() -> None:
    import subprocess
    import sys

    code = (
        "import sys, sansio_ssooidc; print(sorted(m for m in sys.modules if m.startswith('sansio_ssooidc')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['sansio_ssooidc', 'sansio_ssooidc._errors']"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        oidc.NoSuchThing  # noqa: B018


def test_dir_lists_every_public_name_before_it_is_loaded() -> None:
    assert set(oidc.__all__) <= set(dir(oidc))
