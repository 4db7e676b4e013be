"""The Prometheus rule files, rendered from the Helm chart (helm/ping-exporter/templates/
_rules.tpl with values.yaml): one source for the PrometheusRule and for config/alerts*.yml.

    python3 tests/ecosystem/rules_render.py    # rewrites config/alerts.yml and alerts-slo.yml

Tests compare the checked-in files with `rule_files()` and render tuned rules with
`render_rules()`, through the same values users set.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "ping-exporter"
CONFIG_DIR = REPO / "config"

_HEADER = """\
# {what}
# Generated from the Helm chart: helm/ping-exporter/templates/_rules.tpl with the defaults of
# prometheusRule.{values} in helm/ping-exporter/values.yaml. Do not edit: change the chart,
# then run `python3 tests/ecosystem/rules_render.py` (a test keeps this file equal to the
# chart). To tune thresholds and `for` durations, see README "Alerts".
# Tested by {tests}: promtool test rules config/{tests}
"""
ALERTS_HEADER = _HEADER.format(
    what="Alert and recording rules for ping_exporter (Prometheus rule_files).",
    values="rules", tests="alerts_test.yml")
SLO_HEADER = _HEADER.format(
    what="Optional availability (SLO) burn-rate alerts; load beside alerts.yml.",
    values="availability", tests="alerts-slo_test.yml")


def _spec_groups(rendered: str) -> str:
    """The `groups:` block of the PrometheusRule in `rendered`, as a rule file's text."""
    for doc in rendered.split("\n---\n"):
        if "\nkind: PrometheusRule\n" not in "\n" + doc:
            continue
        lines = doc.rstrip("\n").split("\n")
        start = lines.index("  groups:")
        body = lines[start:]
        bad = [ln for ln in body if ln and not ln.startswith("  ")]
        if bad:
            raise AssertionError(f"spec.groups is not indented as expected: {bad[:2]}")
        return "\n".join(ln[2:] for ln in body) + "\n"
    raise AssertionError("no PrometheusRule rendered")


def render_rules(helmrender: str, *sets: str) -> str:
    """The rules the chart renders with `--set` overrides `sets` (e.g.
    "prometheusRule.rules.hostDown.for=30s"), as the text of a Prometheus rule file."""
    argv = [helmrender, "--set", "prometheusRule.enabled=true"]
    for s in sets:
        argv += ["--set", s]
    proc = subprocess.run([*argv, str(CHART)], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {proc.stderr}")
    return _spec_groups(proc.stdout)


def rule_files(helmrender: str) -> dict[pathlib.Path, str]:
    """What config/alerts.yml and config/alerts-slo.yml must contain."""
    default = render_rules(helmrender)
    with_slo = render_rules(helmrender, "prometheusRule.availability.enabled=true")
    if not with_slo.startswith(default):
        raise AssertionError("the availability groups must follow the default groups")
    return {CONFIG_DIR / "alerts.yml": ALERTS_HEADER + default,
            CONFIG_DIR / "alerts-slo.yml": SLO_HEADER + "groups:\n" + with_slo[len(default):]}


def main() -> int:
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import helmrender_build

    with tempfile.TemporaryDirectory(prefix="rules-render-") as scratch:
        binary, _ = helmrender_build.build(pathlib.Path(scratch))
        for path, text in rule_files(str(binary)).items():
            path.write_text(text)
            print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
