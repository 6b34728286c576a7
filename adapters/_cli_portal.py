"""``ssooidc credentials`` (a ``credential_process`` backed by the portal and the AWS CLI's role
credential cache) and ``ssooidc logout`` (portal Logout, then the token files go, and the SSO role
credentials cached in ``~/.aws/cli/cache``, as ``aws sso logout`` does)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
from datetime import datetime, timezone

import sansio_ssooidc as oidc

from ._cli_config import CliError, Context, LoginNeeded, Target, resolve_endpoints
from ._cli_token import current_token, target_from_args

__all__ = ["cmd_credentials", "cmd_logout"]

logger = logging.getLogger("sansio_ssooidc.adapters.cli")

#: Cached role credentials are handed out only with more than this left (seconds): botocore's
#: CachedCredentialFetcher window, and what its refreshable credentials treat as "refresh soon".
ROLE_CREDENTIALS_MIN_VALIDITY = 15 * 60


def _fresh(creds: oidc.CachedRoleCredentials | None, now: float) -> bool:
    return creds is not None and creds.expiration.timestamp() - now > ROLE_CREDENTIALS_MIN_VALIDITY


def cmd_credentials(ctx: Context, args: argparse.Namespace) -> int:
    """Print ``credential_process`` JSON (Version 1) for the profile's account and role."""
    target = target_from_args(ctx, args)
    settings = target.settings
    if not settings.account_id or not settings.role_name:
        name = target.profile or "default"
        raise oidc.ConfigError(
            f'Profile "{name}" has no sso_account_id and sso_role_name; add both to its section '
            "(credential_process needs the account and role to get credentials for)."
        )
    key = oidc.role_credentials_cache_key(
        account_id=settings.account_id,
        role_name=settings.role_name,
        session_name=settings.session_name,
        start_url=settings.start_url,
    )
    store = ctx.store
    creds = store.load_role_credentials(key)
    if not _fresh(creds, ctx.clock()):
        with store.cli.lock(key):
            creds = store.load_role_credentials(key)  # another process may have fetched them
            if not _fresh(creds, ctx.clock()):
                creds = _fetch(ctx, target, settings.account_id, settings.role_name)
                store.save_role_credentials(key, creds)
    assert creds is not None
    ctx.stdout.write(oidc.credential_process_json(creds) + "\n")
    ctx.stdout.flush()
    return 0


def _fetch(ctx: Context, target: Target, account_id: str, role_name: str) -> oidc.CachedRoleCredentials:
    from . import _cli_net

    token, _ = current_token(ctx, target)
    op = oidc.GetRoleCredentials(access_token=token.access_token, account_id=account_id, role_name=role_name)
    try:
        result = _cli_net.send(op, target.portal_endpoint, environ=ctx.environ)
    except oidc.UnauthorizedException:
        raise LoginNeeded(
            target, "the portal rejected the cached token (it was revoked or logged out)"
        ) from None
    except OSError as exc:
        raise CliError(
            f"could not reach the AWS access portal at {target.portal_endpoint} ({exc}); check the network "
            "and any endpoint override (--endpoint-url, AWS_ENDPOINT_URL_SSO)"
        ) from None
    except oidc.ResourceNotFoundException:
        raise oidc.ConfigError(
            f"The portal has no role {role_name} in account {account_id} for this login; check "
            "sso_account_id and sso_role_name (aws sso list-account-roles shows what you can use)."
        ) from None
    return oidc.CachedRoleCredentials(
        access_key_id=result.access_key_id,
        secret_access_key=result.secret_access_key,
        session_token=result.session_token,
        expiration=result.expiration_datetime,
        account_id=account_id,
    )


def _token_files(ctx: Context) -> list[tuple[str, oidc.CachedToken | None]]:
    """Every token file in the SSO cache (registration files and strangers are left alone)."""
    found: list[tuple[str, oidc.CachedToken | None]] = []
    for name in ctx.store.sso.names():
        text = ctx.store.sso.read_text(name)
        try:
            is_token = text is not None and "accessToken" in json.loads(text)
        except (ValueError, TypeError):
            is_token = False
        if is_token:
            found.append((name, ctx.store.load_token(name)))
    return found


def cmd_logout(ctx: Context, args: argparse.Namespace) -> int:
    """End the portal session of one login (or ``--all``), delete its token file, and delete the SSO
    role credentials cached in ``~/.aws/cli/cache`` (all of them, whatever the form: like ``aws sso
    logout``, since a file there does not say which login it came from)."""
    ok = _logout_tokens(ctx, args)
    ok &= _remove_role_credentials(ctx)
    return 0 if ok else 1


def _logout_tokens(ctx: Context, args: argparse.Namespace) -> bool:
    """The portal logouts and token files; whether all went well."""
    if args.all:
        entries = _token_files(ctx)
        labels = {name: f"token file {name}" for name, _ in entries}
        portal: dict[str, str | None] = {}
        for name, token in entries:
            portal[name] = _portal_for(ctx, args, token)
        if not entries:
            ctx.stderr.write("No cached tokens; nothing to log out.\n")
            return True
    else:
        target = target_from_args(ctx, args)
        entries = [(target.token_key, ctx.store.load_token(target.token_key))]
        labels = {target.token_key: target.label}
        portal = {target.token_key: target.portal_endpoint}
        if not os.path.lexists(ctx.store.sso.file(target.token_key)):
            ctx.stderr.write(f"No cached token for {target.label}; nothing to log out.\n")
            return True
    ok = True
    for name, token in entries:
        ok &= _portal_logout(ctx, labels[name], token, portal[name])
        with ctx.store.sso.lock(name):
            ctx.store.sso.remove(name)
        ctx.stderr.write(f"Logged out of {labels[name]}: removed {ctx.store.sso.file(name)}\n")
    return ok


def _remove_role_credentials(ctx: Context) -> bool:
    """Delete the SSO role credentials ``credentials`` (or the AWS CLI) cached; whether all went."""
    removed, errors = ctx.store.remove_sso_role_credentials()
    if removed:
        count = len(removed)
        ctx.stderr.write(
            f"Removed {count} cached SSO role credentials file{'s' if count != 1 else ''} "
            f"from {ctx.store.cli.path}\n"
        )
    for exc in errors:
        logger.warning("%s; those role credentials stay usable until they expire", exc)
    return not errors


def _portal_for(ctx: Context, args: argparse.Namespace, token: oidc.CachedToken | None) -> str | None:
    if token is None or not (token.region or args.endpoint_url):
        return None
    config = None
    with contextlib.suppress(oidc.ConfigError):
        config = ctx.config()
    return resolve_endpoints(ctx, config, ctx.profile_name(None), token.region, args.endpoint_url)[1]


def _portal_logout(ctx: Context, label: str, token: oidc.CachedToken | None, endpoint: str | None) -> bool:
    """Tell the portal; whether the session is known to be over (or never usable)."""
    from . import _cli_net

    now = datetime.fromtimestamp(ctx.clock(), timezone.utc)
    if token is None or token.expires_at <= now:
        return True  # nothing the portal would accept; the refresh token dies with the file
    if endpoint is None:
        logger.warning("the token of %s names no region; it is removed without a portal logout", label)
        return True
    try:
        _cli_net.send(oidc.Logout(access_token=token.access_token), endpoint, environ=ctx.environ)
    except oidc.UnauthorizedException:
        return True  # already logged out or revoked
    except (oidc.SSOOIDCError, OSError) as exc:
        logger.warning(
            "the portal logout of %s failed (%s); the token file is removed anyway, but the "
            "portal session lasts until it expires",
            label,
            exc,
        )
        return False
    return True
