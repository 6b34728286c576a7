"""The portal routes (the ``sso`` service): GetRoleCredentials, ListAccounts, ListAccountRoles, Logout.

Every call carries the access token in ``x-amz-sso_bearer_token``; an unknown, expired or
logged-out token is an ``UnauthorizedException``.
"""

from __future__ import annotations

import base64
import json
import re
import string
from typing import Any

from ._config import Account
from ._state import State
from ._wire import Draft, Incoming, b64, dumps, empty, ok, portal_error, query_params

#: Role credentials last an hour, the default session duration of a permission set.
ROLE_CREDENTIALS_LIFETIME = 3600
#: Page size when the caller gives no ``max_result``; the model allows 1..100.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

_KEY_ID_CHARS = string.ascii_uppercase + "234567"
_SECRET_CHARS = string.ascii_letters + string.digits + "+/"


def _authorized(st: State, inc: Incoming, now: float) -> str:
    """The session id of the request's access token."""
    token = inc.request.header("x-amz-sso_bearer_token") or ""
    record = st.access_tokens.get(token)
    if record is None or now >= record.expires_at or record.session_id not in st.sessions:
        raise portal_error("UnauthorizedException", "Session token not found or invalid")
    return record.session_id


def _params(inc: Incoming) -> dict[str, str]:
    params = query_params(inc.query)
    if params is None:
        raise portal_error("InvalidRequestException", "A query parameter is repeated")
    return params


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not value:
        raise portal_error("InvalidRequestException", f"{name} is required")
    return value


def _account(st: State, account_id: str) -> Account:
    for account in st.config.accounts:
        if account.account_id == account_id:
            return account
    raise portal_error("ResourceNotFoundException", "No access")


def _page(params: dict[str, str], items: list[Any], kind: str) -> dict[str, Any]:
    """One page of ``items`` and, unless it is the last, a ``nextToken`` bound to ``kind``."""
    size_text = params.get("max_result")
    size = DEFAULT_PAGE_SIZE
    if size_text is not None:
        if not re.fullmatch(r"[0-9]{1,3}", size_text) or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
            raise portal_error("InvalidRequestException", f"max_result must be within 1..{MAX_PAGE_SIZE}")
        size = int(size_text)
    start = 0
    token = params.get("next_token")
    if token is not None:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, RecursionError):  # binascii.Error is a ValueError
            decoded = None
        if not (
            isinstance(decoded, dict)
            and decoded.get("k") == kind
            and type(decoded.get("o")) is int
            and 0 < decoded["o"] < len(items)
        ):
            raise portal_error("InvalidRequestException", "Invalid next token")
        start = decoded["o"]
    out: dict[str, Any] = {}
    end = start + size
    if end < len(items):
        out["nextToken"] = b64(dumps({"k": kind, "o": end}))
    out["items"] = items[start:end]
    return out


def get_role_credentials(st: State, inc: Incoming, now: float) -> Draft:
    """``GET /federation/credentials?role_name=…&account_id=…``."""
    _authorized(st, inc, now)
    params = _params(inc)
    role_name = _required(params, "role_name")
    account = _account(st, _required(params, "account_id"))
    if role_name not in account.roles:
        raise portal_error("ResourceNotFoundException", "No access")
    rng = st.rng
    return ok(
        {
            "roleCredentials": {
                "accessKeyId": "ASIA" + "".join(rng.choice(_KEY_ID_CHARS) for _ in range(16)),
                "secretAccessKey": "".join(rng.choice(_SECRET_CHARS) for _ in range(40)),
                "sessionToken": "IQoJb3JpZ2luX2Vj" + b64(rng.randbytes(300)),
                "expiration": int((now + ROLE_CREDENTIALS_LIFETIME) * 1000),
            }
        }
    )


def list_accounts(st: State, inc: Incoming, now: float) -> Draft:
    """``GET /assignment/accounts?max_result=…&next_token=…``."""
    _authorized(st, inc, now)
    accounts = [
        {"accountId": a.account_id, "accountName": a.account_name, "emailAddress": a.email_address}
        for a in st.config.accounts
    ]
    page = _page(_params(inc), accounts, "accounts")
    page["accountList"] = page.pop("items")
    return ok(page)


def list_account_roles(st: State, inc: Incoming, now: float) -> Draft:
    """``GET /assignment/roles?account_id=…&max_result=…&next_token=…``."""
    _authorized(st, inc, now)
    params = _params(inc)
    account = _account(st, _required(params, "account_id"))
    roles = [{"roleName": role, "accountId": account.account_id} for role in account.roles]
    page = _page(params, roles, f"roles:{account.account_id}")
    page["roleList"] = page.pop("items")
    return ok(page)


def logout(st: State, inc: Incoming, now: float) -> Draft:
    """``POST /logout``: revokes the access token, its session's other tokens and its refresh token."""
    st.drop_session(_authorized(st, inc, now))
    return empty()
