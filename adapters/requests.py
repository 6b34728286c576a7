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

__all__ = ["RedirectListener", "make_session", "run", "send"]


class _Session(requests.Session):
    """A session that resolves proxy variables once per origin instead of on every call."""

    def __init__(self) -> None:
        super().__init__()
        # requests would re-read every proxy variable on each call (about 0.4 ms).
        self.trust_env = False
        self.origin_proxies: dict[str, dict[str, str]] = {}


def make_session() -> requests.Session:
    """The session ``run`` and ``send`` make when given none: keep it to reuse connections across
    calls. Proxies come from the environment (``HTTPS_PROXY``, ``NO_PROXY``…), read once per origin."""
    return _Session()


class _Sender:
    def __init__(
        self,
        session: requests.Session | None,
        connect_timeout: float,
        read_timeout: float,
        ca_bundle: str | None,
        environ: Mapping[str, str] | None,
        max_body_size: int,
    ) -> None:
        env = os.environ if environ is None else environ
        self.own = session is None
        self.session = session or _Session()
        self.timeout = (connect_timeout, read_timeout)
        self.verify: str | bool = (
            ca_bundle or env.get("AWS_CA_BUNDLE") or env.get("REQUESTS_CA_BUNDLE") or True
        )
        self.max = max_body_size

    def __call__(self, request: oidc.HttpRequest) -> oidc.HttpResponse:
        proxies = None
        if isinstance(self.session, _Session):
            origin = "/".join(request.url.split("/", 3)[:3])
            proxies = self.session.origin_proxies.get(origin)
            if proxies is None:
                proxies = self.session.origin_proxies[origin] = requests.utils.get_environ_proxies(origin)
        with self.session.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=request.body,
            timeout=self.timeout,
            verify=self.verify,
            proxies=proxies,
            allow_redirects=False,
            stream=True,
        ) as r:
            if not 100 <= r.status_code <= 599:
                raise oidc.RemoteProtocolError(f"HTTP status {r.status_code} is not a valid status")
            body = r.raw.read(self.max + 1, decode_content=True)
            if len(body) > self.max:
                raise oidc.RemoteProtocolError(
                    f"response body exceeds {self.max} bytes", status=r.status_code
                )
            return oidc.HttpResponse(
                status=r.status_code, headers=tuple(r.headers.items()), body=body, reason=r.reason or ""
            )

    def close(self) -> None:
        if self.own:
            self.session.close()


def run(
    flow: Any,
    *,
    session: requests.Session | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    ca_bundle: str | None = None,
    environ: Mapping[str, str] | None = None,
    max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE,
    show: Show | None = None,
    listener: RedirectListener | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Drive ``flow`` to its result. A ``session`` you pass is left open."""
    sender = _Sender(
        session or requests.Session(), connect_timeout, read_timeout, ca_bundle, environ, max_body_size
    )
    failures = (requests.RequestException, oidc.RemoteProtocolError, OSError)
    try:
        return run_sync(flow, sender, failures, show, listener, clock, sleep)
    finally:
        if session is None:
            sender.session.close()


def send(
    op: Any,
    endpoint: str,
    *,
    session: requests.Session | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    ca_bundle: str | None = None,
    environ: Mapping[str, str] | None = None,
    max_body_size: int = oidc.DEFAULT_MAX_BODY_SIZE,
    **request_options: Any,
) -> Any:
    """Send one operation and parse its response; ``request_options`` go to ``op.to_request``
    (``credentials`` and ``now`` for CreateTokenWithIAM)."""
    sender = _Sender(
        session or requests.Session(), connect_timeout, read_timeout, ca_bundle, environ, max_body_size
    )
    try:
        return op.parse_response(sender(op.to_request(endpoint, **request_options)))
    finally:
        if session is None:
            sender.session.close()
