"""Markers for the soak test (the shared setup lives in tests/conftest.py)."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long-running (soak); deselect with -m 'not slow'")
