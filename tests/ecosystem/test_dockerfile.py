"""The Dockerfile, linted without a Docker engine: instructions parsed, the runtime stage
checked against the binary (default port, shared libraries) and the Helm chart."""

from __future__ import annotations

import json
import pathlib
import re
import shlex
import subprocess
from dataclasses import dataclass

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
CHART = REPO / "helm" / "ping-exporter"
# In debian:bookworm-slim already (apt itself needs them).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}


@dataclass
class Instruction:
    line: int
    op: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are ignored
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        op, _, args = pending.partition(" ")
        out.append(Instruction(start, op.upper(), args.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued instruction"
    return out


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for ins in instructions:
        if ins.op == "FROM":
            result.append([])
        assert result, f"line {ins.line}: {ins.op} before FROM"
        result[-1].append(ins)
    return result


@pytest.fixture(scope="module")
def final_stage() -> list[Instruction]:
    return stages(parse(DOCKERFILE.read_text()))[-1]


def only(stage: list[Instruction], op: str) -> Instruction:
    found = [i for i in stage if i.op == op]
    assert len(found) == 1, f"expected one {op} in the final stage, got {found}"
    return found[0]


def test_parses_into_known_instructions() -> None:
    known = {"FROM", "RUN", "COPY", "ADD", "USER", "EXPOSE", "ENTRYPOINT", "CMD", "WORKDIR",
             "ENV", "ARG", "LABEL", "HEALTHCHECK", "VOLUME", "STOPSIGNAL", "SHELL"}
    instructions = parse(DOCKERFILE.read_text())
    assert instructions and instructions[0].op == "FROM"
    assert [i.op for i in instructions if i.op not in known] == []


def test_runtime_base_is_bookworm_slim(final_stage: list[Instruction]) -> None:
    assert final_stage[0].args.split()[0] == "debian:bookworm-slim"


def test_runs_as_non_root(final_stage: list[Instruction]) -> None:
    user = only(final_stage, "USER").args.split(":")[0]
    assert user not in ("", "0", "root")
    chart = yaml.safe_load((CHART / "values.yaml").read_text())
    assert str(chart["podSecurityContext"]["runAsUser"]) == user


def test_entrypoint_is_the_copied_binary_with_net_raw(final_stage: list[Instruction]) -> None:
    entrypoint = json.loads(only(final_stage, "ENTRYPOINT").args)  # exec form: a JSON array
    assert isinstance(entrypoint, list) and entrypoint
    binary = entrypoint[0]
    copies = [shlex.split(i.args) for i in final_stage if i.op == "COPY"]
    assert any(c[-1] == binary for c in copies), copies
    runs = " ".join(i.args for i in final_stage if i.op == "RUN")
    assert re.search(rf"setcap\s+cap_net_raw=\+ep\s+{re.escape(binary)}", runs)
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    assert f'define "ping-exporter.binary" -}}}}{binary}{{{{' in helpers


def _default_port(help_text: str) -> int:
    for line in help_text.splitlines():
        if "--web.listen-address" in line:
            found = re.findall(r":(\d{2,5})\b", line)
            if found:
                return int(found[-1])
    pytest.fail("`--help` does not show the default of --web.listen-address")


def test_exposes_the_default_port(final_stage: list[Instruction], exporter_help: str) -> None:
    exposed = [p.split("/")[0] for i in final_stage if i.op == "EXPOSE" for p in i.args.split()]
    port = _default_port(exporter_help)
    assert exposed == [str(port)]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["web"]["port"] == port and values["service"]["port"] == port


def _apt_packages(stage: list[Instruction]) -> set[str]:
    packages: set[str] = set()
    for ins in stage:
        if ins.op != "RUN":
            continue
        for command in re.split(r"&&|;", ins.args):
            words = shlex.split(command)
            if words[:2] == ["apt-get", "install"]:
                packages |= {w for w in words[2:] if not w.startswith("-")}
    return packages


def test_runtime_packages_cover_the_binary_libraries(final_stage: list[Instruction],
                                                     exporter_bin: str) -> None:
    """Every shared library the built binary loads comes from a package the image installs."""
    ldd = subprocess.run(["ldd", exporter_bin], capture_output=True, text=True, timeout=30)
    if ldd.returncode != 0 or "=>" not in ldd.stdout:
        pytest.skip(f"{exporter_bin} is not a dynamic executable: {ldd.stdout}{ldd.stderr}")
    paths = re.findall(r"=>\s+(/\S+)", ldd.stdout)
    missing = [line for line in ldd.stdout.splitlines() if "not found" in line]
    assert not missing, missing
    # Debian 12 is usr-merged: ldd says /lib/..., dpkg may know /usr/lib/...; ask for both.
    candidates = {p: {p, str(pathlib.Path(p).resolve())} for p in paths}
    queried = sorted(set().union(*candidates.values()))
    proc = subprocess.run(["dpkg", "-S", *queried], capture_output=True, text=True, timeout=60)
    owners: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        package, _, file = line.partition(": ")
        owners[file.strip()] = package.split(":")[0]
    needed: set[str] = set()
    for path, names in candidates.items():
        found = {owners[n] for n in names if n in owners}
        assert found, f"no Debian package ships {path}"
        needed |= found
    installed = _apt_packages(final_stage)
    assert sorted(needed - installed - BASE_IMAGE_PACKAGES) == []
