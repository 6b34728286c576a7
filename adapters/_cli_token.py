"""``ssooidc token`` and the token every other command needs: read the cache, and refresh under the
cache lock when the core's :class:`~sansio_ssooidc.RefreshFlow` says so.

A fresh token reads one file and imports nothing from the network stack; as a command, ``ssooidc
token`` for a fresh token is normally answered before this module loads, by ``_cli_fast``, which
mirrors what :func:`cmd_token` prints (keep the two in step: tests/test_cli_startup.py compares
them). A refresh takes the token's lock, reads the file *again* (another process may have refreshed
meanwhile, and with rotating refresh tokens the old one is now spent), decides again, writes
atomically, unlocks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random

import sansio_ssooidc as oidc

from ._cli_config import CliError, Context, LoginNeeded, Target, resolve_target
from .cache import CacheLock, CacheLockTimeout, CacheWriteError

__all__ = ["cmd_token", "current_token", "target_from_args"]

logger = logging.getLogger("sansio_ssooidc.adapters.cli")


def target_from_args(ctx: Context, args: argparse.Namespace) -> Target:
    """The :class:`Target` of the common flags (absent ones default to ``None``)."""
    scopes = getattr(args, "scopes", None)
    return resolve_target(
        ctx,
        profile=getattr(args, "profile", None),
        sso_session=getattr(args, "sso_session", None),
        start_url=getattr(args, "start_url", None),
        region=getattr(args, "region", None),
        endpoint_url=getattr(args, "endpoint_url", None),
        scopes=None if scopes is None else tuple(scopes),
    )


def _same_url(url: str) -> str:
    return url.rstrip("/#")


def _load(ctx: Context, target: Target) -> oidc.CachedToken:
    token = ctx.store.load_token(target.token_key)
    if token is None:
        path = ctx.store.sso.file(target.token_key)
        raise LoginNeeded(target, f"there is no usable cached token ({path} is missing or unusable)")
    if token.start_url is not None and _same_url(token.start_url) != _same_url(target.settings.start_url):
        raise LoginNeeded(
            target,
            f"the cached token was issued for start URL {token.start_url}, not the configured "
            f"{target.settings.start_url}",
        )
    return token


def _flow(
    ctx: Context, target: Target, token: oidc.CachedToken, last_attempt: float | None
) -> oidc.RefreshFlow:
    return oidc.RefreshFlow(
        token=token,
        region=target.settings.region,
        endpoint=target.oidc_endpoint,
        rng=random.SystemRandom(),
        last_attempt=last_attempt,
        legacy=target.legacy,
    )


def _fingerprint(token: oidc.CachedToken) -> str:
    """Names a token in the lock note without revealing it."""
    return hashlib.sha256(token.access_token.encode()).hexdigest()[:16]


def _until(token: oidc.CachedToken) -> str:
    return token.expires_at.astimezone().strftime("%H:%M:%S")


def _report(ctx: Context, target: Target, result: oidc.RefreshResult) -> None:
    """Warn when an old token is handed out although a refresh was due."""
    if result.error is not None:
        logger.warning(
            "refreshing the token for %s failed (%s); using the cached token, valid until %s",
            target.label,
            result.error,
            _until(result.token),
        )
    elif result.reason is not None:
        logger.warning(
            "the token for %s expires at %s and cannot be refreshed: %s; run: %s",
            target.label,
            _until(result.token),
            result.reason.value,
            target.login_command,
        )


def current_token(ctx: Context, target: Target) -> tuple[oidc.CachedToken, bool]:
    """A usable token for ``target`` and whether it was just refreshed; :class:`LoginNeeded` when
    only a new login can help."""
    token = _load(ctx, target)
    try:
        action = _flow(ctx, target, token, None).next_action(ctx.clock())
    except oidc.LoginRequiredError as exc:
        raise LoginNeeded(target, exc.reason.value) from None
    if isinstance(action, oidc.Done):
        _report(ctx, target, action.result)
        return action.result.token, False
    try:
        lock = ctx.store.sso.lock(target.token_key)
    except (CacheWriteError, CacheLockTimeout) as exc:
        return _without_lock(ctx, target, token, exc), False
    return _refresh_locked(ctx, target, lock)


def _without_lock(
    ctx: Context, target: Target, token: oidc.CachedToken, error: oidc.SSOOIDCError
) -> oidc.CachedToken:
    """The cache lock cannot be taken (a read-only cache directory, a lock file that cannot be opened,
    a holder that never lets go), so no refresh: an advisory one is skipped, as after a failed
    refresh, and the token still valid beyond the mandatory window is used; else the error."""
    left = token.expires_at.timestamp() - ctx.clock()
    if left > _flow(ctx, target, token, None).mandatory:
        logger.warning(
            "%s; the token for %s is not refreshed but is still valid, until %s",
            error,
            target.label,
            _until(token),
        )
        return token
    state = f"expires at {_until(token)}" if left > 0 else "has expired"
    raise CliError(
        f"the token for {target.label} {state} and cannot be refreshed without the cache lock: {error}"
    ) from None


def _refresh_locked(ctx: Context, target: Target, lock: CacheLock) -> tuple[oidc.CachedToken, bool]:
    from . import _cli_net

    store = ctx.store
    with lock:
        token = _load(ctx, target)  # again, under the lock
        note = lock.read_note()
        attempt = note.get("attempt")
        last = (
            float(attempt)
            if isinstance(attempt, (int, float)) and note.get("token") == _fingerprint(token)
            else None
        )
        flow = _flow(ctx, target, token, last)
        started = ctx.clock()
        try:
            result: oidc.RefreshResult = _cli_net.run(
                flow, environ=ctx.environ, clock=ctx.clock, sleep=ctx.sleep
            )
        except oidc.LoginRequiredError as exc:
            raise LoginNeeded(target, exc.reason.value) from None
        except (oidc.SSOOIDCError, OSError) as exc:
            lock.write_note({"attempt": started, "token": _fingerprint(token)})
            raise CliError(
                f"could not refresh the token for {target.label} ({exc}); check the network and the "
                f"endpoint {target.oidc_endpoint}, or run: {target.login_command}"
            ) from None
        if result.refreshed:
            try:
                store.save_token(target.token_key, result.token)
            except CacheWriteError as exc:
                # The service may have spent the old refresh token: use the new token now, and say
                # that the next command may need a login.
                logger.warning(
                    "%s; the refreshed token is used but not cached (the next command may need a login)", exc
                )
            lock.write_note({})
            logger.debug("refreshed the token for %s; valid until %s", target.label, _until(result.token))
        elif result.attempted:
            lock.write_note({"attempt": started, "token": _fingerprint(token)})
    _report(ctx, target, result)
    return result.token, result.refreshed


def cmd_token(ctx: Context, args: argparse.Namespace) -> int:
    """Print a valid access token (or JSON with ``--json``), refreshing it when due."""
    target = target_from_args(ctx, args)
    token, refreshed = current_token(ctx, target)
    if args.json:
        out = {
            "accessToken": token.access_token,
            "expiresAt": token.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ"),  # UTC, as the cache writes it
            "startUrl": target.settings.start_url,
            "region": target.settings.region,
            "ssoSession": target.settings.session_name,
            "refreshed": refreshed,
        }
        ctx.stdout.write(json.dumps(out) + "\n")
    else:
        ctx.stdout.write(token.access_token + "\n")
    ctx.stdout.flush()
    return 0
