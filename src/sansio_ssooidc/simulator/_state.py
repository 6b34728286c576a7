"""The simulated service's state: registrations, device grants, authorization codes, sessions, tokens.

Records are frozen values (updated by replacement); :class:`State` holds them in insertion-ordered
tables, each bounded by :data:`MAX_RECORDS` (the oldest record goes first), and converts to and
from JSON-able data. Secrets are excluded from every ``repr``.
"""

from __future__ import annotations

import dataclasses
import random
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from .._errors import ParameterError
from ._config import SimulatorConfig

#: Records kept per table. Every client may register, start logins and refresh without bound;
#: 10,000 live records of each kind is far beyond a test run and keeps a long-lived simulator
#: within a few tens of megabytes.
MAX_RECORDS = 10_000


def _secret() -> Any:
    return dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Registration:
    """A registered client."""

    client_id: str
    client_secret: str = _secret()
    client_name: str
    client_type: str
    scopes: tuple[str, ...] | None
    redirect_uris: tuple[str, ...] | None
    grant_types: tuple[str, ...] | None
    issuer_url: str | None
    issued_at: float
    expires_at: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DeviceGrant:
    """A device authorization: ``status`` is ``pending``, ``approved``, ``denied`` or ``redeemed``."""

    device_code: str = _secret()
    user_code: str
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    interval: int
    status: str
    polls: int
    last_poll: float | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AuthCode:
    """An authorization code bound to its client, redirect URI and PKCE challenge; ``session_id``
    is set once it has been exchanged (a code is single use)."""

    code: str = _secret()
    client_id: str
    redirect_uri: str
    challenge: str
    scopes: tuple[str, ...]
    expires_at: float
    session_id: str | None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """A login: the scopes granted and its current refresh token (``None`` once revoked)."""

    session_id: str
    client_id: str
    scopes: tuple[str, ...]
    refresh_token: str | None = _secret()
    refresh_expires_at: float


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AccessToken:
    """An access token of a session, with the scopes it carries."""

    access_token: str = _secret()
    session_id: str
    scopes: tuple[str, ...]
    expires_at: float


R = TypeVar("R")
_TABLES: tuple[tuple[str, type[Any]], ...] = (
    ("registrations", Registration),
    ("device_grants", DeviceGrant),
    ("auth_codes", AuthCode),
    ("sessions", Session),
    ("access_tokens", AccessToken),
)


class State:
    """The service's configuration, random source and tables, which the route handlers read and update."""

    def __init__(self, config: SimulatorConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.registrations: dict[str, Registration] = {}
        self.device_grants: dict[str, DeviceGrant] = {}
        self.auth_codes: dict[str, AuthCode] = {}
        self.sessions: dict[str, Session] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refreshes = 0

    @staticmethod
    def put(table: dict[str, R], key: str, record: R) -> None:
        """Insert or replace ``record``, dropping the oldest record when the table is full."""
        if key not in table and len(table) >= MAX_RECORDS:
            del table[next(iter(table))]
        table[key] = record

    def session_for_refresh(self, refresh_token: str) -> Session | None:
        """The session whose current refresh token is ``refresh_token``."""
        for session in self.sessions.values():
            if session.refresh_token == refresh_token:
                return session
        return None

    def drop_session(self, session_id: str) -> None:
        """Revoke a session: its refresh token and every access token issued in it."""
        self.sessions.pop(session_id, None)
        for token in [t for t, a in self.access_tokens.items() if a.session_id == session_id]:
            del self.access_tokens[token]

    def to_dict(self) -> dict[str, Any]:
        """The tables as JSON-able data (records in insertion order)."""
        out: dict[str, Any] = {}
        for name, _cls in _TABLES:
            out[name] = [plain(dataclasses.asdict(r)) for r in getattr(self, name).values()]
        out["refreshes"] = self.refreshes
        return out

    def load(self, data: Mapping[str, Any]) -> None:
        """Replace the tables with the ones :meth:`to_dict` produced."""
        for name, cls in _TABLES:
            items = data.get(name)
            if not isinstance(items, list):
                raise ParameterError(f"simulator state: {name} must be a list")
            key = dataclasses.fields(cls)[0].name
            table = {}
            for item in items:
                record = _load(cls, item, name)
                table[getattr(record, key)] = record
            setattr(self, name, table)
        refreshes = data.get("refreshes")
        if type(refreshes) is not int or refreshes < 0:
            raise ParameterError("simulator state: refreshes must be an int >= 0")
        self.refreshes = refreshes


def plain(value: Any) -> Any:
    """``value`` with tuples turned into lists, so it equals its own JSON round trip."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def _load(cls: type[R], item: object, table: str) -> R:
    hints = typing.get_type_hints(cls)
    if not isinstance(item, dict) or set(item) != set(hints):
        raise ParameterError(f"simulator state: each of {table} must be an object with keys {sorted(hints)}")
    values = {}
    for name, hint in hints.items():
        value = _coerce(hint, item[name])
        if value is _BAD:
            raise ParameterError(
                f"simulator state: {table}.{name} has the wrong type: {type(item[name]).__name__}"
            )
        values[name] = value
    return cls(**values)


_BAD = object()


def _coerce(hint: Any, value: Any) -> Any:
    args = typing.get_args(hint)
    if type(None) in args:
        if value is None:
            return None
        hint = args[0]
    if hint is float and type(value) in (int, float):
        return float(value)
    if hint in (str, int, bool) and type(value) is hint:
        return value
    if hint == tuple[str, ...] and isinstance(value, list) and all(type(v) is str for v in value):
        return tuple(value)
    return _BAD


def dump_rng(rng: random.Random) -> list[Any]:
    """A random source's state as JSON-able data."""
    return plain(rng.getstate())  # type: ignore[no-any-return]


def load_rng(data: Any) -> random.Random:
    """A random source in the state :func:`dump_rng` recorded."""
    rng = random.Random()
    try:
        version, internal, gauss = data
        rng.setstate((version, tuple(internal), gauss))
    except (TypeError, ValueError):
        raise ParameterError("simulator state: malformed random state") from None
    return rng
