"""Turning an :class:`HttpResponse` into a JSON object or a typed error.

Error code lookup follows botocore's rest-json parser (WIRE.md, "Errors"): the
``x-amzn-ErrorType`` header, then body ``code``/``Code``, then ``__type``; the value is cut
at the first ``:`` and after the last ``#``. Where botocore stops (it reports the status as the
code), we also map the OAuth ``error`` member (RFC 6749 section 5.2) to the modeled class.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from ._errors import ERROR_CLASSES, OAUTH_ERROR_CLASSES, RemoteProtocolError, ServiceError
from ._http import HttpResponse

__all__ = ["DEFAULT_MAX_BODY_SIZE", "JsonObject", "error_for", "json_object"]

#: Largest response body accepted. The largest legitimate response (a ListAccounts page of
#: 100 accounts) is about 20 KiB; 1 MiB leaves 50x headroom while bounding what a hostile
#: or broken peer can make us buffer and parse.
DEFAULT_MAX_BODY_SIZE = 1 << 20

JsonObject = dict[str, Any]
N = TypeVar("N", bound=int | None)

_ERROR_MEMBERS = ("error", "error_description", "reason", "endpoint", "region")


#: The C scanner behind ``json.loads`` (``scan_once(text, index) -> (value, end)``).
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(body: bytes) -> Any:
    """``json.loads(body)``: the same value or a ``ValueError`` (or ``RecursionError``), twice as
    fast for the usual body, a UTF-8 object (``json.loads`` spends as long on finding the text's
    encoding and checking for trailing data as on parsing it)."""
    # json.detect_encoding: a first byte "{" and a second byte that is not NUL means UTF-8.
    if body[:1] != b"{" or body[1:2] == b"\x00":
        return json.loads(body)
    text = body.decode("utf-8", "surrogatepass")
    try:
        value, end = _scan(text, 0)  # a JSONDecodeError for most malformed objects
    except StopIteration as exc:  # "no value at this index", from any depth ('{"a": ' cut short)
        raise ValueError(f"Expecting value at character {exc.value}") from None
    if end != len(text) and text[end:].strip(" \t\n\r"):  # JSON whitespace only may follow
        raise ValueError(f"Extra data at character {end}")
    return value


def _decode(response: HttpResponse, max_body_size: int, what: str) -> Any:
    body = response.body
    if len(body) > max_body_size:
        raise RemoteProtocolError(
            f"{what} body of {len(body)} bytes exceeds the limit of {max_body_size} bytes",
            status=response.status,
        )
    try:
        return loads(body)
    except (ValueError, RecursionError):
        raise RemoteProtocolError(f"{what} body is not JSON", status=response.status, body=body) from None


def json_object(response: HttpResponse, max_body_size: int, *, empty_ok: bool = False) -> JsonObject:
    """The JSON object of a success response; raise the typed error for an error response."""
    if response.status >= 300:
        raise error_for(response, max_body_size)
    body = response.body
    if body[:1] == b"{" and body[1:2] != b"\x00" and len(body) <= max_body_size:
        # The usual success, a UTF-8 object within the limit, read in one go (as loads does);
        # anything amiss is read again below, the checked way, which names the fault.
        try:
            text = body.decode("utf-8", "surrogatepass")
            value, end = _scan(text, 0)
        except (ValueError, RecursionError, StopIteration):  # UnicodeDecodeError is a ValueError
            pass
        else:
            if end == len(text):
                return value  # type: ignore[no-any-return]
    if empty_ok and not response.body.strip():
        return {}
    value = _decode(response, max_body_size, "response")
    if not isinstance(value, dict):
        raise RemoteProtocolError(
            f"response body is a JSON {type(value).__name__}, expected an object",
            status=response.status,
            body=response.body,
        )
    return value


def _reason(response: HttpResponse) -> str:
    """The reason phrase as received, else the standard one for the status, else empty."""
    if response.reason:
        return response.reason
    # Imported here: the http package (an enum of 60 statuses) costs about 1 ms to import, and
    # only an error response without a body or with a body that is not JSON needs it.
    from http import HTTPStatus

    try:
        return HTTPStatus(response.status).phrase
    except ValueError:  # a status with no standard phrase
        return ""


def _cut(code: str) -> str:
    return code.partition(":")[0].rpartition("#")[2]


def error_for(response: HttpResponse, max_body_size: int = DEFAULT_MAX_BODY_SIZE) -> Exception:
    """The exception for an error response: a :class:`ServiceError` subclass, or a
    :class:`RemoteProtocolError` when the body is not a JSON object (an HTML error page, say)."""
    status = response.status
    header: str | None = None
    request_id: str | None = None
    for name, text in response.headers:  # the first of each, names matched case-insensitively
        lname = name.lower()
        if lname == "x-amzn-errortype":
            header = text if header is None else header
        elif lname == "x-amzn-requestid" and request_id is None:
            request_id = text
    body: Any = {}
    if response.body.strip():
        try:
            body = _decode(response, max_body_size, "error")
        except RemoteProtocolError as exc:
            exc.message = _reason(response)
            return exc
    elif not header:
        reason = _reason(response)
        suffix = f" ({reason})" if reason else ""
        return RemoteProtocolError(f"error response with an empty body{suffix}", status=status, reason=reason)
    if not isinstance(body, dict):
        return RemoteProtocolError(
            f"error body is a JSON {type(body).__name__}, expected an object",
            status=status,
            body=response.body,
        )
    fields: dict[str, str | None] = {}
    for name in _ERROR_MEMBERS:
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            return RemoteProtocolError(
                f"error member {name!r} is not a string", status=status, body=response.body
            )
        fields[name] = value
    code: Any = header or body.get("code") or body.get("Code") or body.get("__type")
    cls: type[ServiceError] = ServiceError
    if isinstance(code, str) and code:
        code = _cut(code)
        cls = ERROR_CLASSES.get(code, ServiceError)
    elif fields["error"] in OAUTH_ERROR_CLASSES:
        cls = OAUTH_ERROR_CLASSES[fields["error"]]
        code = cls.__name__
    else:
        code = str(status)
    message: Any = body.get("message")
    if message is None:
        message = body.get("Message")
    if message is None:
        message = fields["error_description"] or ""
    if not isinstance(message, str):
        return RemoteProtocolError("error message is not a string", status=status, body=response.body)
    return cls(
        code,
        message,
        status=status,
        request_id=request_id,
        **fields,
    )


def get(obj: JsonObject, key: str, kind: type, response: HttpResponse, *, required: bool = False) -> Any:
    """``obj[key]`` checked to be of ``kind`` (``None`` and absent are the same, per botocore).

    A ``required`` string must not be empty either: an empty device code, token or client id is
    no more usable than a missing one, and is the peer's error, not the caller's.
    """
    value = obj.get(key)
    if type(value) is kind:  # json.loads makes exact types (and a bool is not an int here)
        if required and value == "":
            raise RemoteProtocolError(
                f"response member {key!r} is empty", status=response.status, body=response.body
            )
        return value
    if value is None:
        if required:
            raise RemoteProtocolError(
                f"response is missing {key!r}", status=response.status, body=response.body
            )
        return None
    if kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind)
    if not ok:
        raise RemoteProtocolError(
            f"response member {key!r} is a {type(value).__name__}, expected {kind.__name__}",
            status=response.status,
            body=response.body,
        )
    return value


def bounded(value: N, key: str, low: int, high: int, response: HttpResponse) -> N:
    """``value`` if within ``low..high``; a protocol error otherwise."""
    if value is not None and not low <= value <= high:
        raise RemoteProtocolError(
            f"response member {key!r}={value} is outside the sane range {low}..{high}",
            status=response.status,
            body=response.body,
        )
    return value


def str_list(obj: JsonObject, key: str, response: HttpResponse) -> tuple[str, ...] | None:
    """``obj[key]`` as a tuple of strings, or ``None``."""
    value = get(obj, key, list, response)
    if value is None:
        return None
    if not all(isinstance(item, str) for item in value):
        raise RemoteProtocolError(
            f"response member {key!r} must be a list of strings", status=response.status, body=response.body
        )
    return tuple(value)
