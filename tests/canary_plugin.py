"""Fail any test whose captured output, log records or failure text contains a canary secret.

The suite's secrets carry the marker ``CANARY`` (``"CANARY-client-secret-…"``), so a secret that
reaches a repr, a log line, an exception or stdout/stderr is caught wherever it surfaces, not
only where a test thought to look. Log records of the ``sansio_ssooidc`` logger are checked at
DEBUG level, whatever the capture level.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

MARKER = "CANARY"


class _Sniffer(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if MARKER in message:
            self.leaks.append(f"{record.name}: {message}")


_sniffer = _Sniffer()


@pytest.fixture(autouse=True)
def _sniff_library_logs() -> Iterator[None]:
    logger = logging.getLogger("sansio_ssooidc")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(_sniffer)
    try:
        yield
    finally:
        logger.removeHandler(_sniffer)
        logger.setLevel(level)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" and not _sniffer.leaks:
        return
    if "pytester" in getattr(item, "fixturenames", ()):  # another session's output, judged there
        _sniffer.leaks.clear()
        return
    found = [f"log record {leak!r}" for leak in _sniffer.leaks]
    _sniffer.leaks.clear()
    for name, content in report.sections:
        if MARKER in content:
            found.append(f"{name}: {content[content.index(MARKER) - 60 : content.index(MARKER) + 40]!r}")
    if report.passed and found:
        report.outcome = "failed"
        report.longrepr = "a canary secret leaked:\n  " + "\n  ".join(found)
