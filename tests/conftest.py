"""Shared pytest setup for the Python integration and e2e tests.

Puts /work/main/tests on sys.path so tests say `from lib import ...`, bounds every test in wall time
(no pytest-timeout on Debian 12, so a SIGALRM does it), and offers the namespace fixtures.
"""

import os
import signal
import sys
from typing import Iterator

import pytest

_TESTS_DIR: str = os.path.dirname(os.path.abspath(__file__))
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from lib import netns as _netns  # noqa: E402  (needs the path above)
from lib import exporter as _exporter  # noqa: E402

# Wall-time limit for one test unless it carries @pytest.mark.time_limit(seconds).
_DEFAULT_TIME_LIMIT_S: int = 90


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "time_limit(seconds): fail the test after this wall time")


class TestTimeLimitExceeded(Exception):
    """Raised inside a test that ran past its time limit."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    marker = item.get_closest_marker("time_limit")
    limit: int = int(marker.args[0]) if marker else _DEFAULT_TIME_LIMIT_S

    def on_alarm(signum: int, frame: object) -> None:
        raise TestTimeLimitExceeded(f"{item.nodeid} ran longer than {limit} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def exporter_bin() -> str:
    """Path of the exporter under test; skips if it was not built."""
    return _exporter.require_binary()


@pytest.fixture
def netns() -> Iterator[_netns.NetNs]:
    """One fresh network namespace with lo up, removed afterwards."""
    _netns.require_netns_support()
    with _netns.NetNs() as ns:
        yield ns


@pytest.fixture
def testnet() -> Iterator[_netns.TestNet]:
    """Client namespace (runs the exporter) joined by veth to a host namespace (the targets)."""
    _netns.require_netns_support()
    with _netns.TestNet() as net:
        yield net
