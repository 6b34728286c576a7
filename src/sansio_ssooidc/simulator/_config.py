"""The simulator's configuration values: accounts, the scripted user, the fault plan, and the reply.

All are frozen, slotted, keyword-only dataclasses that validate when built and convert to and
from JSON-able dicts (for :meth:`Simulator.to_dict`).
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import ParameterError, ParameterTypeError
from .._http import HttpResponse

__all__ = [
    "DEFAULT_ACCOUNTS",
    "FAULT_KINDS",
    "Account",
    "FaultPlan",
    "Reply",
    "SimulatorConfig",
    "UserScript",
]

#: The faults :class:`FaultPlan` can inject.
FAULT_KINDS = ("5xx", "throttle", "malformed", "drop", "latency")
_ACTIONS = ("approve", "deny", "never")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _require(ok: bool, owner: str, name: str, what: str, value: object) -> None:
    if not ok:
        raise ParameterError(f"{owner}.{name} must be {what}, got {value!r}")


def _strs(owner: str, name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ParameterTypeError(f"{owner}.{name} must be a list or tuple of str, got {value!r}")
    items = tuple(value)
    if not all(isinstance(item, str) and item for item in items):
        raise ParameterTypeError(f"{owner}.{name} must contain only non-empty str, got {value!r}")
    return items


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """An AWS account assigned to the simulated user, with the roles the user may assume in it."""

    account_id: str
    account_name: str
    email_address: str
    roles: tuple[str, ...] = ("AdministratorAccess",)

    def __post_init__(self) -> None:
        _require(
            isinstance(self.account_id, str) and re.fullmatch(r"\d{12}", self.account_id) is not None,
            "Account",
            "account_id",
            "12 digits",
            self.account_id,
        )
        for name in ("account_name", "email_address"):
            _require(isinstance(getattr(self, name), str), "Account", name, "a str", getattr(self, name))
        object.__setattr__(self, "roles", _strs("Account", "roles", self.roles))


#: Three accounts with one to three roles each: enough to page through with ``max_result=1``.
DEFAULT_ACCOUNTS: tuple[Account, ...] = (
    Account(
        account_id="111111111111",
        account_name="dev",
        email_address="dev@example.com",
        roles=("AdministratorAccess", "ReadOnlyAccess", "PowerUserAccess"),
    ),
    Account(
        account_id="222222222222",
        account_name="staging",
        email_address="staging@example.com",
        roles=("ReadOnlyAccess", "PowerUserAccess"),
    ),
    Account(
        account_id="333333333333",
        account_name="prod",
        email_address="prod@example.com",
        roles=("ReadOnlyAccess",),
    ),
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UserScript:
    """What the simulated user does with a login request.

    ``action`` is ``"approve"``, ``"deny"`` or ``"never"`` (the user never answers). The user acts
    when the verification page or the authorize URL is visited (``on_visit``), once the client has
    polled the device code ``after_polls`` times (polls 1..N see the login pending, poll N+1 sees
    the answer), or from epoch time ``at_time`` on; whichever comes first.
    """

    action: str = "approve"
    on_visit: bool = True
    after_polls: int | None = None
    at_time: float | None = None

    def __post_init__(self) -> None:
        _require(self.action in _ACTIONS, "UserScript", "action", f"one of {_ACTIONS}", self.action)
        _require(isinstance(self.on_visit, bool), "UserScript", "on_visit", "a bool", self.on_visit)
        _require(
            self.after_polls is None or (_is_int(self.after_polls) and self.after_polls >= 0),
            "UserScript",
            "after_polls",
            "None or an int >= 0",
            self.after_polls,
        )
        _require(
            self.at_time is None or _is_number(self.at_time),
            "UserScript",
            "at_time",
            "None or epoch seconds",
            self.at_time,
        )

    def decision(self, *, visited: bool, polls: int, now: float) -> str | None:
        """``"approve"`` or ``"deny"`` once the user has acted, else ``None``."""
        if self.action == "never":
            return None
        acted = (
            (visited and self.on_visit)
            or (self.after_polls is not None and polls >= self.after_polls)
            or (self.at_time is not None and now >= self.at_time)
        )
        return self.action if acted else None


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """Transport faults to inject, decided before a request is handled (a faulted request changes
    no service state, except ``latency``, which delays a normal answer).

    Each request is faulted with probability ``rate`` (drawn from the simulator's seeded random
    source) with a kind drawn from ``kinds``; or, for the request numbers a ``script`` names
    (0-based, counting every request :meth:`Simulator.respond` sees), with the kind given there
    (a sequence of kinds or ``None``, or a mapping of request number to kind). The script wins.
    Kinds: ``5xx`` (500/503 with an HTML or empty body), ``throttle`` (429), ``malformed`` (200 with
    truncated JSON), ``drop`` (close the connection without answering), ``latency`` (answer after
    ``latency`` seconds).
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    script: Sequence[str | None] | Mapping[int, str] | None = None
    latency: float = 0.5

    def __post_init__(self) -> None:
        _require(_is_number(self.rate) and 0 <= self.rate <= 1, "FaultPlan", "rate", "within 0..1", self.rate)
        kinds = _strs("FaultPlan", "kinds", self.kinds)
        _require(
            bool(kinds) and set(kinds) <= set(FAULT_KINDS),
            "FaultPlan",
            "kinds",
            f"a subset of {FAULT_KINDS}",
            kinds,
        )
        object.__setattr__(self, "kinds", kinds)
        _require(
            _is_number(self.latency) and 0 <= self.latency <= 3600,
            "FaultPlan",
            "latency",
            "0..3600 seconds",
            self.latency,
        )
        if self.script is not None:
            object.__setattr__(self, "script", self._normalise(self.script))

    @staticmethod
    def _normalise(script: object) -> tuple[tuple[int, str], ...]:
        if isinstance(script, Mapping):
            pairs = list(script.items())
        elif isinstance(script, Sequence) and not isinstance(script, (str, bytes)):
            if all(isinstance(item, (list, tuple)) for item in script) and script:
                pairs = [tuple(item) for item in script]  # the normalised (n, kind) form
            else:
                pairs = [(n, kind) for n, kind in enumerate(script) if kind is not None]
        else:
            raise ParameterTypeError(f"FaultPlan.script must be a sequence or a mapping, got {script!r}")
        for pair in pairs:
            ok = len(pair) == 2 and _is_int(pair[0]) and pair[0] >= 0 and pair[1] in FAULT_KINDS
            _require(ok, "FaultPlan", "script", f"request numbers >= 0 mapped to one of {FAULT_KINDS}", pair)
        return tuple(sorted((int(n), str(kind)) for n, kind in pairs))

    def scripted(self, number: int) -> str | None:
        """The scripted fault for request ``number``, if any."""
        for n, kind in self.script_pairs():
            if n == number:
                return kind
        return None

    def script_pairs(self) -> tuple[tuple[int, str], ...]:
        """The script as sorted ``(request number, kind)`` pairs."""
        return typing.cast("tuple[tuple[int, str], ...]", self.script or ())


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """What the server should do with a request: send ``response`` after ``delay`` seconds, or,
    when ``drop`` is true, close the connection without answering (``response`` is then ``None``)."""

    response: HttpResponse | None = None
    drop: bool = False
    delay: float = 0.0

    def __post_init__(self) -> None:
        _require(
            (self.response is None) == bool(self.drop),
            "Reply",
            "response",
            "None exactly when drop",
            self.response,
        )
        _require(_is_number(self.delay) and self.delay >= 0, "Reply", "delay", "a number >= 0", self.delay)


_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
# Sane bounds on lifetimes (seconds): the real service uses 90 days for registrations and
# refresh tokens, 600 s for device codes, 1 s intervals and 1 to 12 hours for tokens.
_MAX_LIFETIME = 366 * 86400


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorConfig:
    """Everything that configures a :class:`Simulator`; lifetimes and the interval are seconds."""

    start_url: str = "https://d-1234567890.awsapps.com/start"
    region: str = "us-east-1"
    accounts: tuple[Account, ...] = DEFAULT_ACCOUNTS
    registration_lifetime: int = 90 * 86400
    device_code_lifetime: int = 600
    interval: int = 1
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 90 * 86400
    rotate_refresh_tokens: bool = False
    user: UserScript = UserScript()
    faults: FaultPlan = FaultPlan()

    def __post_init__(self) -> None:
        owner = "Simulator"
        _require(
            isinstance(self.start_url, str) and self.start_url.startswith(("https://", "http://")),
            owner,
            "start_url",
            "an http(s) URL",
            self.start_url,
        )
        _require(
            isinstance(self.region, str) and _REGION.fullmatch(self.region) is not None,
            owner,
            "region",
            "a region name",
            self.region,
        )
        if isinstance(self.accounts, (str, bytes)) or not isinstance(self.accounts, Sequence):
            raise ParameterTypeError(f"{owner}.accounts must be a sequence of Account")
        accounts = tuple(self.accounts)
        if not all(isinstance(a, Account) for a in accounts):
            raise ParameterTypeError(f"{owner}.accounts must contain only Account values")
        ids = [a.account_id for a in accounts]
        _require(len(set(ids)) == len(ids), owner, "accounts", "free of duplicate account ids", ids)
        object.__setattr__(self, "accounts", accounts)
        for name in (
            "registration_lifetime",
            "device_code_lifetime",
            "interval",
            "access_token_lifetime",
            "refresh_token_lifetime",
        ):
            value = getattr(self, name)
            _require(
                _is_int(value) and 1 <= value <= _MAX_LIFETIME, owner, name, "an int of seconds >= 1", value
            )
        _require(
            isinstance(self.rotate_refresh_tokens, bool),
            owner,
            "rotate_refresh_tokens",
            "a bool",
            self.rotate_refresh_tokens,
        )
        _require(isinstance(self.user, UserScript), owner, "user", "a UserScript", self.user)
        _require(isinstance(self.faults, FaultPlan), owner, "faults", "a FaultPlan", self.faults)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as JSON-able data."""
        data = dataclasses.asdict(self)
        data["faults"]["script"] = None if self.faults.script is None else self.faults.script_pairs()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        """The configuration :meth:`to_dict` produced; raises :class:`ParameterError` when malformed."""
        try:
            fields = dict(data)
            fields["accounts"] = tuple(Account(**a) for a in fields["accounts"])
            fields["user"] = UserScript(**fields["user"])
            fields["faults"] = FaultPlan(**fields["faults"])
            return cls(**fields)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ParameterError(f"malformed simulator config: {exc}") from None
