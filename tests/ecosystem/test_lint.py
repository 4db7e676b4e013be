"""Checked-in YAML passes yamllint, and the renderer's Go source is gofmt-clean."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
YAML_FILES = sorted([*(REPO / "config").glob("*.yml"),
                     REPO / "helm" / "ping-exporter" / "Chart.yaml",
                     REPO / "helm" / "ping-exporter" / "values.yaml",
                     *(pathlib.Path(__file__).resolve().parent / "testdata").glob("*.yaml")])
# yamllint's default rules, with the line length of the project's code (100).
YAMLLINT_CONFIG = "{extends: default, rules: {line-length: {max: 100}, document-start: disable}}"


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_yamllint(path: pathlib.Path) -> None:
    proc = subprocess.run(["yamllint", "-f", "parsable", "-d", YAMLLINT_CONFIG, str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stdout, proc.stdout + proc.stderr


def test_helmrender_is_gofmt_clean() -> None:
    gofmt = shutil.which("gofmt") or "/usr/lib/go/bin/gofmt"
    source = pathlib.Path(__file__).resolve().parent / "helmrender" / "main.go"
    proc = subprocess.run([gofmt, "-l", str(source)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
