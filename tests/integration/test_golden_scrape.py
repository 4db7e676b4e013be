"""The exposition's shape stays put: a scrape of a fixed loopback config, and one /probe answer,
compared line by line with golden files after masking what differs between runs.

Compared exactly: HELP and TYPE lines, family order, series names, label names and label values
(targets, addresses, groups, the agent's `source`, static labels, histogram bounds, reasons,
states). Masked: every sample
value, and the label values that depend on the build or the machine (build version and revision,
a target file's absolute path). Whether a series exists at all is not masked: on loopback every
target answers, so ping_reply_ttl is always there.

Regenerate the golden files after an intended change of the output, then review the diff:

    PE_UPDATE_GOLDEN=1 PING_EXPORTER_BIN=$PWD/build/ping_exporter /usr/bin/python3 -m pytest -q \
        -p no:cacheprovider -c tests/pytest.ini --rootdir tests tests/integration/test_golden_scrape.py
"""

from __future__ import annotations

import difflib
import os
import re
from typing import Any

import pytest

from lib.exporter import Exporter, temp_dir, wait_until

_TESTDATA: str = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata")
_UPDATE: bool = os.environ.get("PE_UPDATE_GOLDEN") == "1"
_MASKED_LABELS: frozenset[str] = frozenset({"version", "revision", "path"})
_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')

# Loopback only: two inline groups (one with a static label) and a target file, four targets.
_FILE_HOST: str = "127.0.0.3"
_TARGETS: list[str] = ["127.0.0.1", "::1", "127.0.0.2", _FILE_HOST]


def _config(target_file: str) -> dict[str, Any]:
    return {
        "workers": 2,
        "defaults": {"interval": "500ms", "timeout": "200ms", "spacing": "50ms", "count": 2},
        # "lo" and the file: the default families; "lab": every family (metrics = "full").
        "targets": [{"name": "lo", "hosts": ["127.0.0.1", "::1"]},
                    {"name": "lab", "hosts": ["127.0.0.2"], "labels": {"site": "lab"},
                     "metrics": "full"}],
        "target_files": [{"path": target_file}],
    }


def mask(text: str) -> list[str]:
    """The exposition with run-dependent parts replaced by placeholders, one entry a line."""
    out: list[str] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            out.append(line)
            continue
        match = _SAMPLE_RE.match(line)
        assert match is not None, f"not a sample line: {line!r}"
        name, labels = match.group(1), match.group(2)
        if labels is None:
            out.append(f"{name} <value>")
            continue
        shown: list[str] = []
        rest: str = labels
        while rest:
            lm = _LABEL_RE.match(rest)
            assert lm is not None, f"bad labels in {line!r}"
            value: str = "<masked>" if lm.group(1) in _MASKED_LABELS else lm.group(2)
            shown.append(f'{lm.group(1)}="{value}"')
            rest = rest[lm.end():]
        out.append(f"{name}{{{','.join(shown)}}} <value>")
    return out


def compare_with_golden(masked: list[str], golden_name: str) -> None:
    path: str = os.path.join(_TESTDATA, golden_name)
    if _UPDATE:
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(masked) + "\n")
    with open(path, encoding="utf-8") as f:
        golden: list[str] = f.read().splitlines()
    diff: list[str] = list(difflib.unified_diff(golden, masked, golden_name, "this run",
                                                lineterm=""))
    assert not diff, ("output differs from the golden file (PE_UPDATE_GOLDEN=1 regenerates it):\n"
                      + "\n".join(diff[:200]))


def test_mask_hides_values_and_build_labels_only() -> None:
    text = ('# HELP a_total A.\n# TYPE a_total counter\na_total 3\n'
            'b{target="::1",version="1.2",path="/tmp/x"} 0.5\n')
    assert mask(text) == ["# HELP a_total A.", "# TYPE a_total counter", "a_total <value>",
                          'b{target="::1",version="<masked>",path="<masked>"} <value>']


@pytest.mark.time_limit(60)
def test_metrics_and_probe_match_the_golden_files(exporter_bin: str) -> None:
    with temp_dir() as d:
        target_file: str = os.path.join(d, "targets.txt")
        with open(target_file, "w", encoding="utf-8") as f:
            f.write(_FILE_HOST + "\n")
        # A fixed --source.name: the default (the host name) differs between machines.
        with Exporter(_config(target_file), extra_args=["--source.name=golden-agent"]) as exp:
            # Every target has completed a round: from then on the set of series is fixed.
            def all_rounds_done() -> bool:
                m = exp.metrics()
                return all(m.select("ping_up", target=t)
                           for t in _TARGETS)

            wait_until(all_rounds_done, 20, interval=0.1, message="a round of every target")
            compare_with_golden(mask(exp.scrape_text()), "golden_scrape.txt")

            resp = exp.get("/probe?target=127.0.0.1", timeout=10)
            assert resp.status == 200, resp.text
            compare_with_golden(mask(resp.text), "golden_probe.txt")
            assert exp.stop() == 0
