"""The CLI's network: the h11 socket adapter (light to import), with a debug log of each exchange
(method, URL and status only: headers and bodies may carry secrets), and an observer hook the
device display uses to show the poll state."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import sansio_ssooidc as oidc

from . import h11 as _h11

__all__ = ["Transport", "close_connections", "run", "send"]

logger = logging.getLogger("sansio_ssooidc.adapters.cli")

Observer = Callable[[oidc.HttpRequest, "oidc.HttpResponse | None"], None]


class Transport(_h11.SocketTransport):
    """A :class:`SocketTransport` that logs each exchange and tells an optional observer."""

    def __init__(self, *, environ: Mapping[str, str], observer: Observer | None = None) -> None:
        super().__init__(environ=environ)
        self.observer = observer

    def send(self, request: oidc.HttpRequest) -> oidc.HttpResponse:
        url = request.url.split("?", 1)[0]
        started = time.monotonic()
        try:
            response = super().send(request)
        except BaseException as exc:
            logger.debug("%s %s failed: %s", request.method, url, exc)
            if self.observer is not None:
                self.observer(request, None)
            raise
        error = response.header("x-amzn-ErrorType") if response.status >= 400 else None
        logger.debug(
            "%s %s -> %d%s (%.0f ms)",
            request.method,
            url,
            response.status,
            f" {error.split(':', 1)[0]}" if error else "",
            (time.monotonic() - started) * 1000,
        )
        if self.observer is not None:
            self.observer(request, response)
        return response


_transports: dict[str, Transport] = {}


def _transport(environ: Mapping[str, str], observer: Observer | None) -> Transport:
    """One transport per CA bundle for the life of the process: building its TLS context (loading
    the CA store) costs more than a refresh itself, and a process that runs several commands
    (``demo``, tests, a long-lived caller of ``main``) also keeps its connections alive."""
    bundle = environ.get("AWS_CA_BUNDLE", "")
    transport = _transports.get(bundle)
    if transport is None:
        transport = _transports[bundle] = Transport(environ=environ)
    transport.observer = observer
    return transport


def close_connections() -> None:
    """Close the kept-alive connections (the transports, and their TLS contexts, stay for reuse)."""
    for transport in _transports.values():
        transport.close()


def run(
    flow: Any,
    *,
    environ: Mapping[str, str],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    show: Any = None,
    listener: Any = None,
    observer: Observer | None = None,
) -> Any:
    """Drive ``flow`` over sockets with the CLI's transport."""
    transport = _transport(environ, observer)
    try:
        return _h11.run(flow, transport=transport, show=show, listener=listener, clock=clock, sleep=sleep)
    finally:
        transport.observer = None


def send(op: Any, endpoint: str, *, environ: Mapping[str, str]) -> Any:
    """Send one operation and parse its answer."""
    return _h11.send(op, endpoint, transport=_transport(environ, None))
