"""config/alerts.yml: promtool checks, the unit tests in config/alerts_test.yml, and proof
that those unit tests would catch a rule that fires too eagerly."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import yaml

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[2] / "config"
CHART_ALERTS = CONFIG_DIR.parent / "helm" / "ping-exporter" / "files" / "alerts.yml"

# Each alert, and an expression over the same series with its condition removed: "fire for
# every series". The alert tests must fail with it, or their "does not fire" cases are hollow.
ALERTS: dict[str, str] = {
    "PingHostDown": "ping_up",
    "PingPacketLoss": "ping_loss_ratio",
    "PingHighLatency": 'ping_round_rtt_seconds{stat="avg"}',
    "PingExporterDown": 'up{job=~".*ping.*"}',
    "PingExporterConfigReloadFailed": "ping_exporter_config_last_reload_successful",
    "PingExporterRoundsLate": "ping_exporter_rounds_late_total",
}
PER_TARGET = {"PingHostDown", "PingPacketLoss", "PingHighLatency"}


def rules() -> dict[str, Any]:
    return yaml.safe_load((CONFIG_DIR / "alerts.yml").read_text())


def alert_rules() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rules()["groups"] for r in g["rules"] if "alert" in r}


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([promtool, *args], capture_output=True, text=True, timeout=120)


def test_promtool_check_rules(promtool: str) -> None:
    proc = run_promtool(promtool, "check", "rules", str(CONFIG_DIR / "alerts.yml"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_promtool_unit_tests_pass(promtool: str) -> None:
    proc = run_promtool(promtool, "test", "rules", str(CONFIG_DIR / "alerts_test.yml"))
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
        label = "$labels.target" if name in PER_TARGET else "$labels.instance"
        assert label in annotations["summary"] + annotations["description"], name


def test_chart_copy_of_alerts_is_identical() -> None:
    """The Helm chart cannot read config/alerts.yml, so it ships a copy: it must not drift."""
    assert CHART_ALERTS.read_bytes() == (CONFIG_DIR / "alerts.yml").read_bytes(), (
        f"cp {CONFIG_DIR / 'alerts.yml'} {CHART_ALERTS}")


def test_each_alert_has_firing_and_silent_cases() -> None:
    tests = yaml.safe_load((CONFIG_DIR / "alerts_test.yml").read_text())["tests"]
    fires: set[str] = set()
    silent: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    assert fires == set(ALERTS)
    assert silent == set(ALERTS)


def _mutant_run(promtool: str, workdir: pathlib.Path, alert: str, field: str,
                value: str) -> tuple[str, int, str]:
    """Runs the alert tests of `alert` against alerts.yml with one field of that rule replaced."""
    mutant_dir = workdir / f"{alert}-{field}"
    mutant_dir.mkdir(parents=True)
    mutated = rules()
    for group in mutated["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == alert:
                rule[field] = value
    (mutant_dir / "alerts.yml").write_text(yaml.safe_dump(mutated, sort_keys=False))
    tests = yaml.safe_load((CONFIG_DIR / "alerts_test.yml").read_text())
    tests["tests"] = [t for t in tests["tests"]
                      if any(c["alertname"] == alert for c in t.get("alert_rule_test", []))]
    assert tests["tests"], alert
    (mutant_dir / "alerts_test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    proc = run_promtool(promtool, "test", "rules", str(mutant_dir / "alerts_test.yml"))
    return f"{alert}.{field}={value}", proc.returncode, proc.stdout + proc.stderr


def test_unit_tests_catch_mutated_rules(promtool: str, tmp_path: pathlib.Path) -> None:
    """Removing an alert's condition must make its "does not fire" cases fail; removing its
    `for` must make its "still pending" cases fail."""
    jobs = [(alert, "expr", everything) for alert, everything in ALERTS.items()]
    jobs += [(alert, "for", "0s") for alert in ALERTS]
    # Sanity: the harness itself passes with an unmutated rule.
    name, code, out = _mutant_run(promtool, tmp_path / "unmutated", "PingHostDown", "for",
                                  alert_rules()["PingHostDown"]["for"])
    assert code == 0, out
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda j: _mutant_run(promtool, tmp_path, *j), jobs))
    survivors = [name for name, code, _ in results if code == 0]
    assert survivors == [], f"alert tests still pass with mutated rules: {survivors}"
