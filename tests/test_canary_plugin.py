"""The canary plugin itself: a leak fails the test, wherever it surfaces."""

from __future__ import annotations

import pathlib

import pytest

PLUGIN = pathlib.Path(__file__).with_name("canary_plugin.py")

LEAKY = """
import logging, sys
def test_prints():
    print("token CANARY-access-1")
def test_stderr():
    print("secret CANARY-2", file=sys.stderr)
def test_logs():
    logging.getLogger("sansio_ssooidc.flow").debug("refresh with %s", "CANARY-refresh-3")
def test_clean():
    print("nothing to see")
"""


def test_leaks_fail_the_test(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(PLUGIN.read_text(encoding="utf-8"))
    pytester.makepyfile(LEAKY)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:sansio_ssooidc.adapters.pytest_plugin"
    )
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(["*a canary secret leaked*"])
