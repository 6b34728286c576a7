"""What the synchronous adapters share: the action loop, TLS set-up, the default printer and
the loopback redirect listener. No protocol decisions: the flow makes them all."""

from __future__ import annotations

import http.server
import queue
import ssl
import sys
import threading
import time
import webbrowser
from collections.abc import Callable, Mapping
from typing import Any

import sansio_ssooidc as oidc

__all__ = ["RedirectListener", "Show", "default_show", "run_sync", "tls_context"]

Show = Callable[[Any], None]


def tls_context(ca_bundle: str | None, environ: Mapping[str, str]) -> ssl.SSLContext:
    """A verifying TLS context: the system store, or ``ca_bundle`` / ``AWS_CA_BUNDLE``."""
    return ssl.create_default_context(cafile=ca_bundle or environ.get("AWS_CA_BUNDLE") or None)


def default_show(action: Any) -> None:
    """Print the user code and URL (device flow) or open the browser (PKCE), on stderr."""
    if isinstance(action, oidc.ShowCode):
        url = action.verification_uri_complete or action.verification_uri
        deadline = time.strftime("%H:%M:%S", time.localtime(action.expires_at))
        print(
            f"Open {url}\nand confirm the code {action.user_code} (valid until {deadline}).", file=sys.stderr
        )
    else:
        print(f"Opening your browser at:\n{action.url}", file=sys.stderr)
        webbrowser.open(action.url)


def run_sync(
    flow: Any,
    send: Callable[[oidc.HttpRequest], oidc.HttpResponse],
    failures: tuple[type[BaseException], ...],
    show: Show | None,
    listener: RedirectListener | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Any:
    """Drive ``flow``: send, wait, show, hand redirects over, until ``Done`` (or its error)."""
    show = show or default_show
    while True:
        action = flow.next_action(clock())
        if isinstance(action, oidc.Send):
            try:
                response = send(action.request)
            except failures as exc:
                flow.receive_failure(exc, clock())
            except BaseException:  # Ctrl-C mid-request: the flow forgets the request and can resume
                flow.abandon_send(clock())
                raise
            else:
                flow.receive_response(response, clock())
        elif isinstance(action, oidc.Wait):
            sleep(max(0.0, action.until - clock()))
        elif isinstance(action, oidc.AwaitRedirect):
            if listener is None:
                raise oidc.ParameterError("an AuthCodeFlow needs listener=RedirectListener(); see the docs")
            listener.deliver(flow, until=action.until, clock=clock)
        elif isinstance(action, oidc.Done):
            return action.result
        else:
            show(action)


class _Callback:
    """A callback request queued for ``deliver``: either deliver takes it and answers, or its
    handler gives up waiting and answers NOT_WAITING; :meth:`take` makes sure not both."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.answer: oidc.RedirectAnswer | None = None  # deliver's, set before ``answered``
        self.answered = threading.Event()
        self.written = threading.Event()  # the page is written (or the client is gone)
        self._lock = threading.Lock()
        self._open = True

    def take(self) -> bool:
        """For deliver or the handler giving up: whether the caller is the first to take it."""
        with self._lock:
            first, self._open = self._open, False
        return first


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # a slow or silent client is dropped after this many seconds
    wait = 5.0  # a callback not taken by ``deliver`` in this many seconds gets NOT_WAITING

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path != self.server.path or not query:
            self._reply(oidc.RedirectAnswer.NOT_FOUND)
            return
        callback = _Callback(query)
        self.server.requests.put(callback)
        try:
            if callback.answered.wait(self.wait) or not callback.take():
                callback.answered.wait(2)  # deliver has taken it: its answer is on the way
            self._reply(callback.answer or oidc.RedirectAnswer.NOT_WAITING)
        finally:
            callback.written.set()

    def _reply(self, answer: oidc.RedirectAnswer) -> None:
        body = answer.html()
        self.send_response(answer.status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    path = "/oauth/callback"
    requests: queue.Queue[_Callback]


class RedirectListener:
    """The PKCE redirect listener: binds 127.0.0.1 only, port 0 = any free one.

    Use as a context manager; pass ``redirect_uri`` to :class:`~sansio_ssooidc.AuthCodeFlow` and the
    listener to ``run``. Unrelated requests get a 404, a wrong ``state`` a refusal page, and the
    real redirect a success or failure page; it stops at the flow's deadline.
    """

    def __init__(self, *, port: int = 0, path: str = "/oauth/callback") -> None:
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.path = path
        self._server.requests = queue.Queue()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def redirect_uri(self) -> str:
        """``http://127.0.0.1:PORT/oauth/callback`` with the bound port."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{self._server.path}"

    def deliver(self, flow: Any, *, until: float, clock: Callable[[], float]) -> None:
        """Hand callback requests to ``flow`` until one is accepted, the flow fails, or ``until``.
        Only requests whose handler still waits are handed over (the others got NOT_WAITING)."""
        while (left := until - clock()) > 0:
            try:
                callback = self._server.requests.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if not callback.take():
                continue
            try:
                reply = callback.answer = flow.answer_redirect(callback.query, clock())
            finally:
                callback.answered.set()
            if reply.error is not None or reply.accepted:
                callback.written.wait(2)  # the last page is written before the listener closes
                if reply.error is not None:
                    raise reply.error
                return

    def close(self) -> None:
        """Stop listening."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RedirectListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
