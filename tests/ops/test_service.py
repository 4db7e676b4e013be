"""The systemd unit and the install layout: the unit is valid (systemd-analyze verify where
available) and confines the service as intended; `cmake --install` lays out the binary, the
example config and the unit, and the installed binary accepts the installed config."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from lib.exporter import binary_path, require_binary, temp_dir

ROOT: str = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UNIT: str = os.path.join(ROOT, "config", "ping_exporter.service")


def read_unit(path: str) -> dict[str, dict[str, list[str]]]:
    """systemd unit -> {section: {key: [values in order]}} (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
                continue
            assert current is not None, f"key outside a section: {line}"
            key, sep, value = line.partition("=")
            assert sep, f"not key=value: {line}"
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_unit_confines_the_service() -> None:
    unit = read_unit(UNIT)
    service = {k: v[-1] for k, v in unit["Service"].items()}
    assert service["ExecStart"].split()[0] == "/usr/bin/ping_exporter"
    assert "--config.file=/etc/ping_exporter/ping_exporter.toml" in service["ExecStart"]
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert service["AmbientCapabilities"] == "CAP_NET_RAW"
    assert service["CapabilityBoundingSet"] == "CAP_NET_RAW"
    assert service.get("DynamicUser") == "yes" or service.get("User") == "ping_exporter"
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices"):
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    assert set(service["RestrictAddressFamilies"].split()) == {
        "AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"}
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    # The exporter reads /proc/stat (process metrics) and /proc/sys (ping_group_range).
    assert "ProcSubset" not in service


def test_unit_passes_systemd_analyze_verify() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (the key checks above still ran)")
    require_binary()
    with temp_dir() as d:
        # verify insists that ExecStart exists: point it at the binary under test.
        with open(UNIT, encoding="utf-8") as f:
            text = f.read().replace("/usr/bin/ping_exporter", binary_path())
        unit = os.path.join(d, "ping_exporter.service")
        with open(unit, "w", encoding="utf-8") as f:
            f.write(text)
        proc = subprocess.run([analyze, "verify", unit], capture_output=True, text=True,
                              timeout=60, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "ping_exporter.service" not in out, out  # no warnings about our unit


def test_cmake_install_layout() -> None:
    build_dir = os.path.dirname(require_binary())
    if not os.path.exists(os.path.join(build_dir, "cmake_install.cmake")):
        pytest.skip(f"{build_dir} is not a CMake build directory")
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake not installed")
    with temp_dir() as prefix:
        proc = subprocess.run([cmake, "--install", build_dir, "--prefix", prefix],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        exe = os.path.join(prefix, "bin", "ping_exporter")
        config = os.path.join(prefix, "etc", "ping_exporter", "ping_exporter.toml")
        unit = os.path.join(prefix, "lib", "systemd", "system", "ping_exporter.service")
        for path in (exe, config, unit):
            assert os.path.isfile(path), f"missing {path}; installed:\n{proc.stdout}"
        assert os.access(exe, os.X_OK)
        # The installed binary accepts the installed example config.
        check = subprocess.run([exe, f"--config.file={config}", "--config.check"],
                               capture_output=True, text=True, timeout=30, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        # The installed unit is the checked-in one with the configured paths filled in.
        installed = read_unit(unit)["Service"]
        start = installed["ExecStart"][-1].split()
        assert start[0].endswith("/bin/ping_exporter")
        assert any(a.startswith("--config.file=") and a.endswith("/ping_exporter/ping_exporter.toml")
                   for a in start)
        assert installed["AmbientCapabilities"] == ["CAP_NET_RAW"]
