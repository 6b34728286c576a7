"""What a login shows on the terminal (stderr; stdout stays for data).

On a TTY: the code, the URL, a QR code of the complete URL (when the optional ``segno`` is
installed), and a status line redrawn each second with the time left and the poll state. Elsewhere
(a pipe, a log file, ``TERM=dumb``): plain lines, one per event, nothing redrawn.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Mapping
from typing import TextIO
from urllib.parse import urlsplit

import sansio_ssooidc as oidc

__all__ = ["Display", "is_tty", "qr_code"]

#: How often the TTY status line is redrawn (seconds).
TICK = 1.0
#: How often a plain-output login says it is still waiting (seconds).
PLAIN_REMINDER = 60.0


def is_tty(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Whether ``stream`` is a terminal that can redraw a line."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        return False
    return tty and environ.get("TERM", "") != "dumb"


def qr_code(data: str, stream: TextIO) -> str | None:
    """``data`` as a QR code of block characters, or ``None`` without ``segno`` or a Unicode stream."""
    try:
        import segno
    except ImportError:
        return None
    try:
        "█▀▄".encode(stream.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return None
    out = io.StringIO()
    segno.make(data, error="l", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def _clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Display:
    """The login's output. ``sleep`` is the flow driver's sleep: it redraws while it waits."""

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        qr: bool = True,
    ) -> None:
        self.stream = stream
        self.tty = tty
        self.qr = qr
        self._clock = clock
        self._sleep = sleep
        self.deadline: float | None = None
        self.polls = 0
        self.state = "waiting for the first poll"
        self._status_shown = False
        self._last_reminder = 0.0
        self.interval: Callable[[], int] | None = None

    def line(self, text: str = "") -> None:
        self._clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def show_code(self, action: oidc.ShowCode) -> None:
        """The device flow's code, URL and QR code."""
        self.deadline = action.expires_at
        complete = action.verification_uri_complete
        until = time.strftime("%H:%M:%S", time.localtime(action.expires_at))
        self.line(f"Open this page in a browser on any device:  {action.verification_uri}")
        self.line(f"and enter the code:  {action.user_code}")
        if complete:
            self.line(f"or open this link, which includes the code:\n  {complete}")
            code = qr_code(complete, self.stream) if self.tty and self.qr else None
            if code:
                self.line("or scan this QR code with your phone:")
                self.line(code.rstrip("\n"))
        left = _clock_text(action.expires_at - self._clock())
        self.line(f"The code is valid until {until} ({left}); press Ctrl-C to cancel.")
        if not self.tty:
            self.line("Waiting for approval...")
        self._last_reminder = self._clock()

    def browser(self, url: str, *, opened: bool, redirect_uri: str, until: float | None) -> None:
        """The authorization code flow's URL (the browser was opened, or the user must)."""
        if opened:
            self.line("Your browser has been opened to log in. If it did not open, visit this URL:")
        else:
            self.line("Open this URL in a browser on this machine to log in:")
        self.line(f"  {url}")
        self.line(
            f"The browser returns to {redirect_uri} (port {urlsplit(redirect_uri).port}, this machine only)."
        )
        if until is not None:
            stamp = time.strftime("%H:%M:%S", time.localtime(until))
            self.line(f"Waiting for the browser until {stamp}; press Ctrl-C to cancel.")

    def observe(self, request: oidc.HttpRequest, response: oidc.HttpResponse | None) -> None:
        """Follow the device code polls (``CreateToken`` after the code was shown)."""
        if self.deadline is None or not request.url.split("?", 1)[0].endswith("/token"):
            return
        self.polls += 1
        before = self.state
        if response is None:
            self.state = "network problem, retrying"
        elif response.status == 200:
            self.state = "approved"
        else:
            code = (response.header("x-amzn-ErrorType") or "").split(":", 1)[0]
            self.state = {
                "AuthorizationPendingException": "waiting for you to approve",
                "SlowDownException": "the service asked to poll more slowly",
            }.get(code, code or f"HTTP {response.status}")
        if not self.tty and self.state != before:
            self.line(f"Poll {self.polls}: {self.state}")
        elif self.tty:
            self._status()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, redrawing the countdown (TTY) or now and then saying so (plain)."""
        end = self._clock() + seconds
        while (left := end - self._clock()) > 0:
            if self.deadline is not None:
                if self.tty:
                    self._status()
                elif self._clock() - self._last_reminder >= PLAIN_REMINDER:
                    self._last_reminder = self._clock()
                    left_text = _clock_text(self.deadline - self._clock())
                    self.line(f"Still waiting: {left_text} left, {self.polls} polls")
            self._sleep(min(left, TICK))

    def _status(self) -> None:
        if self.deadline is None:
            return
        left = _clock_text(self.deadline - self._clock())
        every = f", every {self.interval()} s" if self.interval is not None else ""
        polls = f"{self.polls} poll{'' if self.polls == 1 else 's'}"
        text = f"⏳ {left} left · {polls}{every} · {self.state}"
        try:
            text.encode(self.stream.encoding or "ascii")
        except (UnicodeEncodeError, LookupError):
            text = text.replace("⏳ ", "").replace("·", "-")
        self.stream.write("\r\x1b[2K" + text)
        self.stream.flush()
        self._status_shown = True

    def _clear(self) -> None:
        if self._status_shown:
            self.stream.write("\r\x1b[2K")
            self._status_shown = False

    def finish(self) -> None:
        """Remove the status line (before the result, an error or an interrupt is printed)."""
        self._clear()
        self.stream.flush()
