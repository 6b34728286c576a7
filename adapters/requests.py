"""Synchronous adapter over a ``requests.Session``: connection reuse, proxies and
``REQUESTS_CA_BUNDLE`` / ``AWS_CA_BUNDLE`` as requests honours them; TLS always verified."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

import sansio_ssooidc as oidc

from ._driver import RedirectListener, Show, run_sync

__all__ = ["RedirectListener", "run", "send"]


class _Sender:
    def __init__(
        self,
        session: requests.Session,
        connect_timeout: float,
        read_timeout: float,
        ca_bundle: str | None,
        environ: Mapping[str, str] | None,
        max_body_size: int,
    ) -> None:
        env = os.environ if environ is None else environ
        self.session = session
        self.timeout = (connect_timeout, read_timeout)
        self.verify: str | bool = ca_bundle or env.get("AWS_CA_BUNDLE") or True
        self.max = max_body_size

    def __call__(self, request: oidc.HttpRequest) -> oidc.HttpResponse:
        with self.session.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.body,
            timeout=self.timeout,
            verify=self.verify,
            allow_redirects=False,
            stream=True,
        ) as r:
            body = bytearray()
            for chunk in r.iter_content(65536):
                body += chunk
                if len(body) > self.max:
                    raise oidc.RemoteProtocolError(
                        f"response body exceeds {self.max} bytes", status=r.status_code
                    )
            return oidc.HttpResponse(
                status=r.status_code,
                headers=tuple(r.headers.items()),
                body=bytes(body),
                reason=r.reason or "",
            )


def _sender(session: requests.Session | None, options: dict[str, Any]) -> _Sender:
    return _Sender(
        session or requests.Session(),
        options.pop("connect_timeout", 10.0),
        options.pop("read_timeout", 30.0),
        options.pop("ca_bundle", None),
        options.pop("environ", None),
        options.pop("max_body_size", oidc.DEFAULT_MAX_BODY_SIZE),
    )


def run(
    flow: Any,
    *,
    session: requests.Session | None = None,
    show: Show | None = None,
    listener: RedirectListener | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    **options: Any,
) -> Any:
    """Drive ``flow`` to its result. ``options``: ``connect_timeout``, ``read_timeout``,
    ``ca_bundle``, ``environ``, ``max_body_size``. A session you pass is left open."""
    sender = _sender(session, options)
    failures = (requests.RequestException, oidc.RemoteProtocolError, OSError)
    try:
        return run_sync(flow, sender, failures, show, listener, clock, sleep)
    finally:
        if session is None:
            sender.session.close()


def send(op: Any, endpoint: str, *, session: requests.Session | None = None, **options: Any) -> Any:
    """Send one operation and parse its response. Transport options as :func:`run`; the rest go
    to ``op.to_request`` (``credentials`` and ``now`` for CreateTokenWithIAM)."""
    sender = _sender(session, options)
    try:
        return op.parse_response(sender(op.to_request(endpoint, **options)))
    finally:
        if session is None:
            sender.session.close()
