"""Client registration shared by the login flows: when a cached registration can be reused,
and the cache value made from a RegisterClient result."""

from __future__ import annotations

from ._awsfiles import CachedRegistration
from ._errors import RemoteProtocolError
from ._http import HttpResponse
from ._operations import RegisterClient, RegisterClientResult

__all__ = ["REGISTRATION_MIN_VALIDITY", "registration_from_response", "usable_registration"]

#: A cached registration is reused only with more than this left (seconds): a login started on
#: it must not outlive it (the AWS CLI's own margin is the same 15 minutes).
REGISTRATION_MIN_VALIDITY = 15 * 60


def usable_registration(
    registration: CachedRegistration | None,
    now: float,
    *,
    scopes: tuple[str, ...] | None,
    grant_type: str,
    min_validity: float = REGISTRATION_MIN_VALIDITY,
) -> bool:
    """Whether ``registration`` can serve a login needing ``grant_type`` and ``scopes`` at ``now``.

    A registration with no recorded grant types (the AWS CLI's device-code registrations) allows
    the service's defaults, which include the device code grant but not the authorization code.
    """
    if registration is None:
        return False
    if registration.expires_at.timestamp() - now <= min_validity:
        return False
    if sorted(registration.scopes or ()) != sorted(scopes or ()):
        return False
    if registration.grant_types is None:
        return grant_type != "authorization_code"
    return grant_type in registration.grant_types


def registration_from_response(
    response: HttpResponse,
    now: float,
    *,
    scopes: tuple[str, ...] | None,
    grant_types: tuple[str, ...] | None,
) -> CachedRegistration:
    """The cache value of a fresh registration, recording what it was made for.

    A client secret that has already expired at ``now`` is the service's (or a proxy's) error, not a
    registration to log in with: :class:`RemoteProtocolError`, retried like any malformed answer.
    """
    result = _PARSER.parse_response(response)
    if result.client_secret_expires_at <= now:
        raise RemoteProtocolError(
            f"RegisterClient returned a client secret that expired at {result.client_secret_expires}"
            " (check the clock of this machine if this repeats)",
            status=response.status,
        )
    return _registration(result, scopes=scopes, grant_types=grant_types)


_PARSER = RegisterClient(client_name="-", client_type="public")


def _registration(
    result: RegisterClientResult, *, scopes: tuple[str, ...] | None, grant_types: tuple[str, ...] | None
) -> CachedRegistration:
    return CachedRegistration(
        client_id=result.client_id,
        client_secret=result.client_secret,
        expires_at=result.client_secret_expires,
        scopes=scopes,
        grant_types=grant_types,
    )
