"""Synchronous adapter over a ``requests.Session``: connection reuse, proxies and
``REQUESTS_CA_BUNDLE`` / ``AWS_CA_BUNDLE`` as requests honours them; TLS always verified."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
import requests.adapters
from requests.structures import CaseInsensitiveDict

import sansio_ssooidc as oidc

from ._driver import RedirectListener, Show, run_sync

__all__ = ["RedirectListener", "make_session", "run", "send"]


def _origin(url: str) -> str:
    return "/".join(url.split("/", 3)[:3])


@functools.lru_cache(maxsize=64)
def _prepared_url(url: str) -> str:
    """``url`` as ``PreparedRequest.prepare_url`` makes it (IDNA, quoting): the same every time."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, None)
    return prepared.url or url


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter, remembering each origin's connection pool key (requests works it out
    again, with a ``stat`` of the CA bundle, on every call)."""

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[tuple[str, Any, Any], Any] = {}

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:  # (host parameters, pool keyword arguments), copies: urllib3 may change them
        key = (_origin(request.url or ""), verify, cert)
        found = self._keys.get(key)
        if found is None:
            found = self._keys[key] = super().build_connection_pool_key_attributes(request, verify, cert)
        return dict(found[0]), dict(found[1])


class _Session(requests.Session):
    """A session that resolves proxy variables once per origin instead of on every call."""

    def __init__(self) -> None:
        super().__init__()
        # requests would re-read every proxy variable on each call (about 0.4 ms).
        self.trust_env = False
        self.origin_proxies: dict[str, dict[str, str]] = {}
        # Only the headers the protocol needs (the core's): requests' defaults say nothing HTTP/1.1
        # does not (Accept: */*, keep-alive) or ask for compression that small JSON answers skip.
        self.headers.clear()
        self.mount("https://", _Adapter())
        self.mount("http://", _Adapter())


def make_session() -> requests.Session:
    """The session ``run`` and ``send`` make when given none: keep it to reuse connections across
    calls. Proxies come from the environment (``HTTPS_PROXY``, ``NO_PROXY``…), read once per origin;
    no ``.netrc``; each request's own headers only (not requests' defaults, ``Accept-Encoding``…)."""
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
        self.own = session is None  # the session made here is closed by close(); one passed in is not
        self.session = _Session() if session is None else session
        self.timeout = (connect_timeout, read_timeout)
        self.verify: str | bool = (
            ca_bundle or env.get("AWS_CA_BUNDLE") or env.get("REQUESTS_CA_BUNDLE") or True
        )
        self.max = max_body_size

    def __call__(self, request: oidc.HttpRequest) -> oidc.HttpResponse:
        session = self.session
        if not isinstance(session, _Session) or session.cookies or session.auth or session.params:
            prepared = session.prepare_request(  # requests merges everything, reads the environment
                requests.Request(
                    request.method, request.url, headers=dict(request.headers), data=request.body
                )
            )
            settings = session.merge_environment_settings(prepared.url, {}, True, self.verify, None)
        else:  # ours, with only headers and hooks to merge: what prepare_request would build
            headers = CaseInsensitiveDict(session.headers)
            headers.update(request.headers)
            for name in [name for name, value in headers.items() if value is None]:
                del headers[name]
            prepared = requests.PreparedRequest()  # PreparedRequest.prepare, step by step
            prepared.prepare_method(request.method)
            prepared.url = _prepared_url(request.url)
            prepared.prepare_headers(headers)
            prepared.prepare_cookies(None)
            prepared.prepare_body(request.body, None)
            prepared.prepare_auth(None, prepared.url)
            prepared.prepare_hooks(session.hooks)
            origin = _origin(request.url)
            proxies = session.origin_proxies.get(origin)
            if proxies is None:
                proxies = session.origin_proxies[origin] = requests.utils.get_environ_proxies(origin)
            settings = {
                "proxies": {**session.proxies, **proxies},
                "verify": self.verify,
                "stream": True,
                "cert": session.cert,
            }
        with session.send(prepared, timeout=self.timeout, allow_redirects=False, **settings) as r:
            if not 100 <= r.status_code <= 599:
                raise oidc.RemoteProtocolError(f"HTTP status {r.status_code} is not a valid status")
            # iter_content, not raw.read: it turns urllib3's errors (a body cut short, bad chunked
            # encoding or gzip, a stall past read_timeout) into requests' own, which run reports to
            # the flow. Each piece is at most max + 1 decoded bytes, and urllib3 (2.6 on) decompresses
            # no more than it returns: a gzip bomb stays bounded.
            pieces: list[bytes] = []
            size = 0
            for piece in r.iter_content(self.max + 1):
                pieces.append(piece)
                size += len(piece)
                if size > self.max:
                    raise oidc.RemoteProtocolError(
                        f"response body exceeds {self.max} bytes", status=r.status_code
                    )
            return oidc.HttpResponse(
                status=r.status_code,
                headers=tuple(r.headers.items()),
                body=b"".join(pieces),
                reason=r.reason or "",
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
    """Drive ``flow`` to its result. A ``session`` you pass is used as given and left open; without
    one, a session as ``make_session()`` makes is used and closed at the end."""
    sender = _Sender(session, connect_timeout, read_timeout, ca_bundle, environ, max_body_size)
    failures = (requests.RequestException, oidc.RemoteProtocolError, OSError)
    try:
        return run_sync(flow, sender, failures, show, listener, clock, sleep)
    finally:
        sender.close()


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
    (``credentials`` and ``now`` for CreateTokenWithIAM). ``session`` as for ``run``."""
    sender = _Sender(session, connect_timeout, read_timeout, ca_bundle, environ, max_body_size)
    try:
        return op.parse_response(sender(op.to_request(endpoint, **request_options)))
    finally:
        sender.close()
