"""Fixtures for the ecosystem tests: the exporter binary and its --help, promtool,
the offline Helm renderer, and one exporter + Prometheus stack shared by the
tests that query real data (dashboards, probe config)."""

from __future__ import annotations

import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Iterator

import pytest

TESTS_DIR = pathlib.Path(__file__).resolve().parent.parent
if str(TESTS_DIR) not in sys.path:  # `from lib import ...` also when run from this directory
    sys.path.insert(0, str(TESTS_DIR))
ECOSYSTEM_DIR = pathlib.Path(__file__).resolve().parent
if str(ECOSYSTEM_DIR) not in sys.path:
    sys.path.insert(0, str(ECOSYSTEM_DIR))

import helmrender_build  # noqa: E402
import stack  # noqa: E402
from lib import exporter as lib_exporter  # noqa: E402

REPO = TESTS_DIR.parent


@pytest.fixture(scope="session")
def repo() -> pathlib.Path:
    return REPO


@pytest.fixture(scope="session")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool missing (Debian package prometheus)")
    return path


@pytest.fixture(scope="session")
def exporter_bin() -> str:
    return lib_exporter.require_binary()


@pytest.fixture(scope="session")
def exporter_help(exporter_bin: str) -> str:
    """`ping_exporter --help`; skips while the binary is still a placeholder."""
    proc = subprocess.run([exporter_bin, "--help"], capture_output=True, text=True, timeout=30)
    text = proc.stdout + proc.stderr
    if "--config.file" not in text:
        pytest.skip(f"{exporter_bin} --help does not list --config.file: not the real exporter yet")
    return text


@pytest.fixture(scope="session")
def exporter_flags(exporter_help: str) -> set[str]:
    """Long flags the binary accepts, e.g. {"--config.file", "--web.listen-address"}."""
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9._-]*[a-z0-9])", exporter_help))


@pytest.fixture(scope="session")
def helmrender(tmp_path_factory: pytest.TempPathFactory) -> str:
    scratch = tmp_path_factory.mktemp("helmrender")
    binary, seconds = helmrender_build.build(scratch)
    # Reported in the test log (pytest -rA or -s shows it).
    print(f"\nhelmrender: offline go build took {seconds:.1f}s", file=sys.stderr)
    return str(binary)


@pytest.fixture(scope="session")
def live_stack(exporter_help: str) -> Iterator[stack.Stack]:
    """A running exporter pinging 127.0.0.1 and ::1 every 500ms, scraped every second by a real
    Prometheus through both the /metrics job and the /probe job of config/prometheus*.yml."""
    with stack.Stack(REPO) as running:
        yield running
