"""config/prometheus.yml and config/prometheus-probe.yml: promtool, the real server, and the
/probe relabelling against a live exporter."""

from __future__ import annotations

import ipaddress
import pathlib
import subprocess
from typing import Any

import pytest
import yaml

import stack
from lib.exporter import Exporter, wait_until

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[2] / "config"
SERVER_CONFIGS = ["prometheus.yml", "prometheus-probe.yml"]
ALERT_RULES = 10  # alerting + recording rules in alerts.yml


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_of(address: str) -> str:
    if address.startswith("["):
        return address[1:address.index("]")]
    if address.count(":") == 1:
        return address.rsplit(":", 1)[0]
    return address  # a bare host or an IPv6 literal without port


@pytest.mark.parametrize("name", SERVER_CONFIGS)
def test_promtool_check_config(promtool: str, name: str) -> None:
    proc = subprocess.run([promtool, "check", "config", str(CONFIG_DIR / name)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", SERVER_CONFIGS)
def test_examples_only_use_loopback(name: str) -> None:
    config = yaml.safe_load((CONFIG_DIR / name).read_text())
    hosts: list[str] = []
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            hosts += [_host_of(t) for t in static["targets"]]
        for sd in job.get("file_sd_configs", []):
            for f in sd["files"]:
                for group in yaml.safe_load((CONFIG_DIR / f).read_text()):
                    hosts += [_host_of(t) for t in group["targets"]]
        for rule in job.get("relabel_configs", []):
            if rule.get("target_label") == "__address__":
                hosts.append(_host_of(rule["replacement"]))
    assert hosts
    assert [h for h in hosts if not _is_loopback(h)] == []


@pytest.mark.parametrize("name", SERVER_CONFIGS)
def test_real_prometheus_loads_config(name: str) -> None:
    """Starts the server on the checked-in file (rule_files resolve beside it) until /-/ready,
    then checks that it loaded the rules and built the expected scrape targets."""
    with stack.PrometheusServer(CONFIG_DIR / name) as prom:
        status, rules = prom.api("rules")
        assert status == 200, rules
        loaded = [r for g in rules["data"]["groups"] for r in g["rules"]]
        assert len(loaded) == ALERT_RULES
        wanted_jobs = {j["job_name"] for j in
                       yaml.safe_load((CONFIG_DIR / name).read_text())["scrape_configs"]}

        def discovered() -> list[dict[str, Any]]:
            # Service discovery runs after /-/ready: wait for every job to show up.
            status, targets = prom.api("targets")
            assert status == 200, targets
            active = targets["data"]["activeTargets"]
            return active if {t["labels"]["job"] for t in active} == wanted_jobs else []

        active: list[dict[str, Any]] = wait_until(discovered, 20, interval=0.1,
                                                  message=f"targets of jobs {wanted_jobs}")
        if name == "prometheus-probe.yml":
            probes = [t for t in active if t["labels"]["job"] == "ping_probe"]
            # One per host of the file_sd file and static_configs, none probed twice.
            assert sorted(t["labels"]["instance"] for t in probes) == ["127.0.0.1", "::1",
                                                                       "localhost"]
            for t in probes:
                url = t["scrapeUrl"]
                assert url.startswith("http://localhost:9823/probe?"), url
                assert "target=" in url, url


def test_probe_job_through_live_exporter(live_stack: stack.Stack) -> None:
    """The ping_probe job of prometheus-probe.yml, aimed at a live exporter, yields
    probe_success 1 and ping_* series per discovered loopback host."""
    prom = live_stack.prometheus
    exporter = live_stack.exporter
    assert prom is not None and exporter is not None
    direct = exporter.get("/probe?target=127.0.0.1", timeout=10)
    assert direct.status == 200, (
        f"exporter /probe?target=127.0.0.1 answered {direct.status}: {direct.text[:300]}")

    def probed() -> dict[str, float]:
        rows = prom.query('probe_success{job="ping_probe"}')
        return {r["metric"]["instance"]: float(r["value"][1]) for r in rows}

    got = wait_until(lambda: (lambda p: p if {"127.0.0.1", "::1"} <= set(p) else None)(probed()),
                     30, interval=0.5, message="probe_success for both loopback hosts")
    assert got["127.0.0.1"] == 1.0 and got["::1"] == 1.0, got
    for host in ("127.0.0.1", "::1"):
        up = prom.query(f'ping_up{{job="ping_probe", instance="{host}"}}')
        assert [float(r["value"][1]) for r in up] == [1.0], up
        assert all(r["metric"].get("target") == host for r in up), up
        duration = prom.query(f'probe_duration_seconds{{job="ping_probe", instance="{host}"}}')
        assert duration and 0 < float(duration[0]["value"][1]) < 5, duration


def test_metrics_job_scrapes_live_exporter(live_stack: stack.Stack) -> None:
    prom = live_stack.prometheus
    assert prom is not None
    live_stack.wait_for_window(seconds=3)
    up = prom.query('up{job="ping_exporter"}')
    assert [float(r["value"][1]) for r in up] == [1.0]
    targets = prom.query('ping_up{job="ping_exporter"} == 1')
    assert sorted(r["metric"]["target"] for r in targets) == sorted(stack.TARGETS)
    # The static label from prometheus.yml is attached.
    assert all(r["metric"].get("prober") == "lab" for r in targets)


def test_rules_evaluate_cleanly_on_healthy_loopback(live_stack: stack.Stack) -> None:
    """Every rule of alerts.yml evaluates without error against real series, and the ones
    about down hosts, latency and the exporter stay silent while both loopback targets
    answer."""
    prom = live_stack.prometheus
    assert prom is not None
    live_stack.wait_for_window(seconds=5)

    def evaluated() -> list[dict[str, Any]]:
        status, body = prom.api("rules")
        assert status == 200, body
        rules = [r for g in body["data"]["groups"] for r in g["rules"]]
        return rules if all(r.get("lastEvaluation", "").startswith("2") and
                            not r["lastEvaluation"].startswith("0001") for r in rules) else []

    rules = wait_until(evaluated, 30, interval=0.5, message="every rule evaluated once")
    assert len(rules) == ALERT_RULES
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []
    # Nothing can have fired yet (every `for` is >= 1m), so "pending" is what would show a
    # rule that is wrong on healthy data. Loss and late rounds are left out: on a busy
    # machine a late reply or a late round is real, and those rules rightly go pending.
    load_dependent = {"PingPacketLoss", "PingExporterRoundsLate"}
    active = [f'{r["name"]} {a["state"]} job={a["labels"].get("job")} '
              f'instance={a["labels"].get("instance")} target={a["labels"].get("target")}'
              for r in rules if r["type"] == "alerting" and r["name"] not in load_dependent
              for a in r.get("alerts", [])]
    assert active == [], "\n".join(active)
    # The recording rule produced a series per target.
    recorded = prom.query("target:ping_rtt_seconds:mean5m")
    assert {r["metric"]["target"] for r in recorded} >= set(stack.TARGETS)


@pytest.mark.parametrize("clash", [False, True], ids=["examples", "clashing-scrape-label"])
def test_example_configs_produce_no_exported_labels(exporter_help: str, tmp_path: pathlib.Path,
                                                    clash: bool) -> None:
    """config/ping_exporter.toml scraped through the jobs of prometheus.yml and
    prometheus-probe.yml: no exporter label collides with one Prometheus sets (it would be
    renamed exported_<name>). The control run adds a clashing scrape label and must see one."""
    repo = CONFIG_DIR.parent
    with Exporter((CONFIG_DIR / "ping_exporter.toml").read_text()) as exporter:
        rules = tmp_path / "alerts.yml"
        rules.write_text(yaml.safe_dump(stack.fast_rules(repo)))
        config = stack.stack_config(repo, exporter.address, rules)
        if clash:
            config["scrape_configs"][0]["static_configs"][0]["labels"]["zone"] = "dc1"
        config_file = tmp_path / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        with stack.PrometheusServer(config_file) as prom:
            def scraped() -> list[dict[str, Any]]:
                rows = prom.query('{__name__=~"ping_up|ping_rtt_seconds_count|probe_success"}')
                jobs = {(r["metric"]["__name__"], r["metric"]["job"]) for r in rows}
                return rows if {("ping_up", "ping_exporter"), ("ping_up", "ping_probe"),
                                ("ping_rtt_seconds_count", "ping_exporter")} <= jobs else []

            rows = wait_until(scraped, 30, interval=0.5, message="series of both jobs")
            names = {name for r in rows for name in r["metric"]}
            exported = sorted(n for n in names if n.startswith("exported_"))
            assert exported == (["exported_zone"] if clash else []), names
            # The group label and the example's static labels made it through.
            if not clash:
                v4 = [r["metric"] for r in rows if r["metric"].get("target") == "127.0.0.1"
                      and r["metric"]["job"] == "ping_exporter"]
                assert v4 and all(m["group"] == "loopback-v4" and m["zone"] == "lab" and
                                  m["role"] == "self-check" and m["prober"] == "lab"
                                  for m in v4), v4
                # What the dashboards' ad hoc filter offers: the label names of ping_up.
                status, body = prom.api("labels", [("match[]", "ping_up")])
                assert status == 200, body
                assert {"group", "instance", "zone", "role"} <= set(body["data"]), body
