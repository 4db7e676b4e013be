"""config/alerts.yml, config/alerts-slo.yml and config/alerts-mesh.yml: promtool checks, the
unit tests beside them, proof that those unit tests would catch a rule that fires too eagerly,
and that the files are what the Helm chart renders with its default values (one source)."""

from __future__ import annotations

import pathlib
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

import rules_render

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[2] / "config"
# Rule file -> its promtool unit tests.
RULE_FILES: dict[str, str] = {"alerts.yml": "alerts_test.yml",
                              "alerts-slo.yml": "alerts-slo_test.yml",
                              "alerts-mesh.yml": "alerts-mesh_test.yml"}

# Each alert: its rule file, and an expression over the same series with its condition
# removed: "fire for every series". The alert tests must fail with it, or their "does not
# fire" cases are hollow.
ALERTS: dict[str, tuple[str, str]] = {
    "PingHostDown": ("alerts.yml", "ping_up"),
    "PingPacketLoss": ("alerts.yml", "ping_packets_sent_total"),
    "PingHighLatency": ("alerts.yml", "target:ping_rtt_seconds:mean5m"),
    "PingExporterDown": ("alerts.yml", 'up{job=~".*ping.*"}'),
    "PingExporterConfigReloadFailed": ("alerts.yml",
                                       "ping_exporter_config_last_reload_successful"),
    "PingExporterTargetFileFailing": ("alerts.yml", "ping_exporter_target_file_ok"),
    "PingExporterResolveErrors": ("alerts.yml",
                                  "count by (job, instance) (ping_resolve_errors_total)"),
    "PingExporterRoundsStale": ("alerts.yml",
                                "count by (job, instance) (ping_last_round_timestamp_seconds)"),
    "PingExporterRoundsLate": ("alerts.yml", "ping_exporter_rounds_late_total"),
    "PingAvailabilityBudgetBurnFast": ("alerts-slo.yml", "target:ping_loss_ratio:rate1h"),
    "PingAvailabilityBudgetBurnSlow": ("alerts-slo.yml", "target:ping_loss_ratio:rate1d"),
    "PingMeshNodeDown": ("alerts-mesh.yml", "destination:ping_mesh_peers:count"),
    "PingMeshLinkBad": ("alerts-mesh.yml", "source_destination:ping_mesh_loss_ratio:rate"),
}
PER_TARGET = {"PingHostDown", "PingPacketLoss", "PingHighLatency",
              "PingAvailabilityBudgetBurnFast", "PingAvailabilityBudgetBurnSlow"}
# What each mesh alert names: the node, or both ends of the link.
MESH_NAMES: dict[str, tuple[str, ...]] = {
    "PingMeshNodeDown": ("$labels.destination",),
    "PingMeshLinkBad": ("$labels.source", "$labels.destination"),
}


def rules(name: str = "alerts.yml") -> dict[str, Any]:
    return yaml.safe_load((CONFIG_DIR / name).read_text())


def alert_rules() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for name in RULE_FILES for g in rules(name)["groups"]
            for r in g["rules"] if "alert" in r}


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", RULE_FILES)
def test_promtool_check_rules(promtool: str, name: str) -> None:
    proc = run_promtool(promtool, "check", "rules", str(CONFIG_DIR / name))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", RULE_FILES.values())
def test_promtool_unit_tests_pass(promtool: str, name: str) -> None:
    proc = run_promtool(promtool, "test", "rules", str(CONFIG_DIR / name))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_every_alert_is_present_and_labelled() -> None:
    found = alert_rules()
    assert set(found) == set(ALERTS)
    for name, rule in found.items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule.get("for"), f"{name} needs a 'for' so one bad round does not page"
        annotations = rule["annotations"]
        assert annotations.get("summary") and annotations.get("description"), name
        labels = MESH_NAMES.get(name) or (
            ("$labels.target",) if name in PER_TARGET else ("$labels.instance",))
        for label in labels:
            assert label in annotations["summary"] + annotations["description"], (name, label)


@pytest.mark.parametrize("name", RULE_FILES)
def test_rtt_rules_read_classic_and_native_histograms(name: str) -> None:
    """A Prometheus with --enable-feature=native-histograms stores ping_rtt_seconds as one
    native series, without _sum/_count/_bucket: each rule over the classic histogram falls back
    to the native one (both are run on real servers in e2e/test_native_histograms.py; promtool
    2.42 unit tests cannot write native input series)."""
    for group in rules(name)["groups"]:
        for rule in group["rules"]:
            expr = rule["expr"]
            if re.search(r"ping_rtt_seconds_(?:sum|count|bucket)\{", expr):
                assert re.search(r"\bor\b", expr) and "rate(ping_rtt_seconds{" in expr, rule


def test_rule_files_are_the_chart_rendering(helmrender: str) -> None:
    """config/alerts*.yml are the chart's rules with default values, so Helm and plain
    Prometheus users get the same rules from one source."""
    for path, text in rules_render.rule_files(helmrender).items():
        assert path.read_text() == text, (
            f"{path.name} differs from the chart: run python3 tests/ecosystem/rules_render.py")


def test_values_tune_the_rendered_rules(helmrender: str) -> None:
    """Thresholds, windows and `for` durations come from the values users set."""
    tuned = yaml.safe_load(rules_render.render_rules(
        helmrender, "prometheusRule.rules.packetLoss.threshold=0.25",
        "prometheusRule.rules.packetLoss.for=7m", "prometheusRule.rules.rateWindow=2m",
        "prometheusRule.rules.hostDown.for=3m", "prometheusRule.rules.recordingInterval=30s",
        "prometheusRule.availability.enabled=true", "prometheusRule.availability.objective=0.995"))
    by_name = {r.get("alert") or r["record"]: r for g in tuned["groups"] for r in g["rules"]}
    loss = by_name["PingPacketLoss"]
    assert loss["for"] == "7m"
    assert "[2m]" in loss["expr"] and "> 0.25" in loss["expr"] and "ping_up[3m]" in loss["expr"]
    assert "25%" not in loss["annotations"]["description"]  # Prometheus formats the threshold
    assert "{{ 0.25 | humanizePercentage }}" in loss["annotations"]["description"]
    assert by_name["PingHostDown"]["for"] == "3m"
    mesh = yaml.safe_load(rules_render.render_rules(
        helmrender, "prometheusRule.mesh.enabled=true", "mesh.group=peers",
        "prometheusRule.mesh.rateWindow=30s", "prometheusRule.mesh.lossThreshold=0.05",
        "prometheusRule.mesh.nodeDown.peerRatio=0.75", "prometheusRule.mesh.linkBad.for=5m"))
    mesh_rules = {r.get("alert") or r["record"]: r for g in mesh["groups"] for r in g["rules"]}
    loss = mesh_rules["source_destination:ping_mesh_loss_ratio:rate"]["expr"]
    assert '{group="peers"}[30s]' in loss
    assert "> bool 0.05" in mesh_rules["destination:ping_mesh_peers_losing:count"]["expr"]
    assert "> 0.75" in mesh_rules["PingMeshNodeDown"]["expr"]
    assert mesh_rules["PingMeshLinkBad"]["for"] == "5m"
    assert 'group!="peers"' in mesh_rules["PingHostDown"]["expr"]
    assert "target:ping_rtt_seconds:mean2m" in by_name
    assert {g["interval"] for g in tuned["groups"] if "interval" in g} == {"30s"}
    assert "(1 - 0.995)" in by_name["PingAvailabilityBudgetBurnFast"]["expr"]
    assert "target:ping_loss_ratio:rate3d" in by_name


def test_each_alert_has_firing_and_silent_cases() -> None:
    fires: set[str] = set()
    silent: set[str] = set()
    for test_file in RULE_FILES.values():
        for case in yaml.safe_load((CONFIG_DIR / test_file).read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    assert fires == set(ALERTS)
    assert silent == set(ALERTS)


def test_a_dead_host_pages_exactly_once() -> None:
    """alerts_test.yml has a case where a dead host fires PingHostDown and every other
    per-target alert of alerts.yml is checked silent at the same time."""
    per_target = {a for a in PER_TARGET if ALERTS[a][0] == "alerts.yml"}
    for case in yaml.safe_load((CONFIG_DIR / "alerts_test.yml").read_text())["tests"]:
        checks = case.get("alert_rule_test", [])
        times = {c["eval_time"] for c in checks}
        if len(times) != 1 or {c["alertname"] for c in checks} != per_target:
            continue
        firing = [c for c in checks if c.get("exp_alerts")]
        if [c["alertname"] for c in firing] == ["PingHostDown"] and \
                len(firing[0]["exp_alerts"]) == 1:
            return
    pytest.fail("no case shows a dead host paging once")


def _mutant_run(promtool: str, workdir: pathlib.Path, alert: str, field: str,
                value: str) -> tuple[str, int, str]:
    """Runs the alert tests of `alert` against its rule file with one field of that rule
    replaced."""
    rule_file = ALERTS[alert][0]
    mutant_dir = workdir / f"{alert}-{field}"
    mutant_dir.mkdir(parents=True)
    mutated = rules(rule_file)
    for group in mutated["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule[field] = value
    (mutant_dir / rule_file).write_text(yaml.safe_dump(mutated, sort_keys=False))
    tests = yaml.safe_load((CONFIG_DIR / RULE_FILES[rule_file]).read_text())
    tests["tests"] = [t for t in tests["tests"]
                      if any(c["alertname"] == alert for c in t.get("alert_rule_test", []))]
    assert tests["tests"], alert
    test_file = mutant_dir / RULE_FILES[rule_file]
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    proc = run_promtool(promtool, "test", "rules", str(test_file))
    return f"{alert}.{field}={value}", proc.returncode, proc.stdout + proc.stderr


# About 30 promtool runs, two at a time: on a loaded 2-core machine more than the default 90 s.
@pytest.mark.time_limit(240)
def test_unit_tests_catch_mutated_rules(promtool: str, tmp_path: pathlib.Path) -> None:
    """Removing an alert's condition must make its "does not fire" cases fail; removing its
    `for` must make its "still pending" cases fail."""
    jobs = [(alert, "expr", everything) for alert, (_, everything) in ALERTS.items()]
    jobs += [(alert, "for", "0s") for alert in ALERTS]
    # Sanity: the harness itself passes with unmutated rules, in both files.
    for alert in ("PingHostDown", "PingAvailabilityBudgetBurnFast"):
        name, code, out = _mutant_run(promtool, tmp_path / "unmutated", alert, "for",
                                      alert_rules()[alert]["for"])
        assert code == 0, out
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda j: _mutant_run(promtool, tmp_path, *j), jobs))
    survivors = [name for name, code, _ in results if code == 0]
    assert survivors == [], f"alert tests still pass with mutated rules: {survivors}"
