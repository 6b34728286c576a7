"""The two pieces of the AWS CLI's cache format that ``ssooidc token``'s fast path needs too: a cache
file's name and the times in it. Standard library only, imported lazily inside each function, so
the fast path (adapters/_cli_fast.py) can use them without loading ``datetime`` or OpenSSL for a
token whose expiry is in botocore's usual form."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["parse_time", "sha1_name"]

# RFC 3339 section 5.6 date-time, read tolerantly: "t" or a space for "T", "z" for "Z", a comma for the
# decimal point, an offset without a colon, and the "UTC" suffix older AWS CLI versions wrote (%Z).
_TIME = (
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?"
    r"(?:(Z|UTC)|([+-])([0-9]{2}):?([0-9]{2}))"
)


def sha1_name(text: str) -> str:
    """``<sha1 of text>.json``, the name of a cache file (Python's own SHA-1 where it has one: the
    same digest, without loading OpenSSL)."""
    if TYPE_CHECKING:
        from hashlib import sha1
    else:
        try:
            from _sha1 import sha1
        except ImportError:  # pragma: no cover - a Python built without its own SHA-1
            from hashlib import sha1
    return sha1(text.encode("utf-8")).hexdigest() + ".json"  # noqa: S324 (a name, not security)


def parse_time(text: str) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string, or ``None`` when it is not one."""
    import re
    from datetime import datetime, timedelta, timezone

    match = re.fullmatch(_TIME, text, re.IGNORECASE)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, utc, sign, off_h, off_m = match.groups()
    tz = timezone.utc
    if not utc:
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        if offset >= timedelta(days=1):
            return None
        tz = timezone(offset if sign == "+" else -offset)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        ).astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
