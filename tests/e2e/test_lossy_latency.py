"""A lossy host whose latency rises, and a dead one, seen by a real Prometheus that evaluates the
repo's rules (rendered from the Helm chart with short windows, through the values users tune):
the latency alert fires for the lossy host, a dead host raises PingHostDown and nothing else,
and no recording rule and no dashboard query evaluates to NaN for the lossy host.

The hosts are answered by the TUN responder inside the test's namespace: the lossy one drops
half the requests (some rounds get nothing back, which used to make the round statistics NaN)
and replies after 5 ms, then after 60 ms."""

from __future__ import annotations

import math
import pathlib
import sys
import time
from typing import Any, Iterator

import pytest
import yaml

from lib.exporter import Exporter, require_binary, wait_until
from lib.netns import NetNs
from lib.prometheus import Prometheus
from lib.tun_responder import TunResponder

ECOSYSTEM_DIR = pathlib.Path(__file__).resolve().parents[1] / "ecosystem"
if str(ECOSYSTEM_DIR) not in sys.path:
    sys.path.insert(0, str(ECOSYSTEM_DIR))

import dashboard_queries  # noqa: E402
import helmrender_build  # noqa: E402
import rules_render  # noqa: E402

LOSSY = "198.19.0.40"
DEAD = "198.19.0.41"
# Two echoes a round; the pattern makes a no-response, a partial and an alive round: half the
# requests lost. The no-response round comes first so that it stays the last completed round
# for a whole interval (a round with every reply completes early, one without at its timeout).
LOSS_PATTERN = "000111"
BEFORE_MS, AFTER_MS = 5, 60
BASELINE_S = 25  # seconds at 5 ms before the rise: the latency baseline
# Short windows and `for`s, set through the chart values users tune.
TUNED = ("prometheusRule.rules.recordingInterval=1s", "prometheusRule.rules.rateWindow=10s",
         "prometheusRule.rules.hostDown.for=5s", "prometheusRule.rules.packetLoss.for=5s",
         "prometheusRule.rules.highLatency.for=5s", "prometheusRule.rules.highLatency.baseline=5m",
         "prometheusRule.availability.enabled=true")
EXPORTER_CONFIG = {
    "defaults": {"interval": "500ms", "timeout": "300ms", "spacing": "50ms", "count": 2,
                 "metrics": "full"},
    "targets": [{"name": "lossy", "hosts": [LOSSY]}, {"name": "dead", "hosts": [DEAD]}],
}
# Dashboard variables the queries are run with: every variable at All, and the lossy host.
CHOICES = ({"job": "$__all", "group": "$__all", "instance": "$__all", "target": LOSSY},
           {"job": "ping_exporter", "group": "lossy", "instance": "$__all", "target": LOSSY})


def _behaviours(delay_ms: int) -> dict[str, dict[str, Any]]:
    return {LOSSY: {"delay_ms": delay_ms, "pattern": LOSS_PATTERN}, DEAD: {"drop": True}}


@pytest.fixture
def rules(tmp_path: pathlib.Path) -> pathlib.Path:
    binary, _ = helmrender_build.build(tmp_path / "helmrender")
    path = tmp_path / "rules.yml"
    path.write_text(rules_render.render_rules(str(binary), *TUNED))
    return path


@pytest.fixture
def scraped(netns: NetNs, rules: pathlib.Path, tmp_path: pathlib.Path
            ) -> Iterator[tuple[Exporter, Prometheus, TunResponder]]:
    """The exporter pinging both hosts, scraped every second by Prometheus with the rules."""
    require_binary()
    responder = TunResponder(netns, _behaviours(BEFORE_MS))
    with responder, Exporter(EXPORTER_CONFIG, netns=netns) as exporter:
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": "ping_exporter", "scrape_timeout": "1s",
                                "static_configs": [{"targets": [exporter.address]}]}],
        }))
        with Prometheus(netns=netns, config_file=str(config)) as prom:
            yield exporter, prom, responder


def _alerts(prom: Prometheus, target: str) -> dict[str, str]:
    """alertname -> state (pending/firing) of the alerts about `target`."""
    return {r["metric"]["alertname"]: r["metric"]["alertstate"]
            for r in prom.query(f'ALERTS{{target="{target}"}}')}


def _nan_series(prom: Prometheus, expr: str, start: float, end: float) -> tuple[int, list[str]]:
    """Range-evaluates `expr` once a second; returns (series about the lossy host or about no
    target in particular, descriptions of those with a NaN point)."""
    status, body = prom.api("query_range", [("query", expr), ("start", f"{start:.3f}"),
                                            ("end", f"{end:.3f}"), ("step", "1")])
    assert status == 200 and body.get("status") == "success", f"{expr}: {status} {body}"
    relevant = [s for s in body["data"]["result"] if s["metric"].get("target", LOSSY) == LOSSY]
    bad = [f"{s['metric']} at {[t for t, v in s['values'] if math.isnan(float(v))][:3]}"
           for s in relevant if any(math.isnan(float(v)) for _, v in s["values"])]
    return len(relevant), bad


@pytest.mark.time_limit(180)
def test_lossy_host_latency_alert_and_no_nan(scraped, rules: pathlib.Path,
                                             netns: NetNs) -> None:
    exporter, prom, responder = scraped

    # Baseline at 5 ms: half the requests lost, but no latency alert.
    wait_until(lambda: prom.query(f'ping_rtt_seconds_count{{target="{LOSSY}"}} > 0'), 20,
               interval=0.5, message="replies from the lossy host in Prometheus")
    baseline_end = time.time() + BASELINE_S
    while time.time() < baseline_end:
        assert "PingHighLatency" not in _alerts(prom, LOSSY), "latency alert at 5 ms"
        time.sleep(1)  # sampling the alert state once a second; nothing to await here
    # Rounds without a reply were scraped, and their round statistics were absent, not NaN.
    window = f"[{BASELINE_S}s]"
    assert prom.query(f'max_over_time(ping_status{{target="{LOSSY}",status="no_response"}}'
                      f'{window}) == 1'), "no scrape saw a round without replies"
    assert prom.query(f'count_over_time(ping_round_rtt_seconds{{target="{LOSSY}",stat="avg"}}'
                      f'{window}) < ignoring(stat) count_over_time(ping_up{{target="{LOSSY}"}}{window})')
    assert "NaN" not in exporter.scrape_text()

    # The rise: the same host now answers after 60 ms (the responder restarts in between).
    responder.stop()
    rise = time.time()
    with TunResponder(netns, _behaviours(AFTER_MS)):
        def latency_fired() -> dict[str, str] | None:
            alerts = _alerts(prom, LOSSY)
            return alerts if alerts.get("PingHighLatency") == "firing" else None

        alerts = wait_until(latency_fired, 60, interval=0.5,
                            message="PingHighLatency firing for the lossy host")
        assert alerts.get("PingPacketLoss") == "firing", alerts
        # The recorded mean of the replies settles at the new delay once the window has
        # only 60 ms replies (the alert may fire on the way up).
        wait_until(lambda: [0.05 < v < 0.2 for v in prom.query_values(
            f'target:ping_rtt_seconds:mean10s{{target="{LOSSY}"}}').values()] == [True], 20,
            interval=0.5, message="mean RTT of the lossy host near 60 ms")

        # The dead host pages once: PingHostDown, and no other alert about it.
        dead = wait_until(lambda: (lambda a: a if a.get("PingHostDown") == "firing" else None)(
            _alerts(prom, DEAD)), 20, interval=0.5, message="PingHostDown for the dead host")
        assert dead == {"PingHostDown": "firing"}, dead

        # No NaN anywhere for the lossy host, before or after the rise.
        end = time.time()
        start = max(rise - BASELINE_S, end - 60)
        problems: list[str] = []
        records = [r["record"] for g in yaml.safe_load(rules.read_text())["groups"]
                   for r in g["rules"] if "record" in r]
        assert records
        for record in records:
            n, bad = _nan_series(prom, f'{record}{{target="{LOSSY}"}}', start, end)
            if n == 0:
                problems.append(f"{record}: no series for {LOSSY}")
            problems += [f"{record}: NaN {b}" for b in bad]
        ran = 0
        for path in dashboard_queries.DASHBOARDS:
            dash = dashboard_queries.load(path)
            for choice in CHOICES:
                values = dashboard_queries.variable_values(dash, choice)
                for where, _, target in dashboard_queries.queries(dash):
                    expr = dashboard_queries.substitute(target["expr"], values)
                    _, bad = _nan_series(prom, expr, start, end)
                    ran += 1
                    problems += [f"{path.name} {where} {choice}: NaN {b}\n    {expr}"
                                 for b in bad]
        assert ran >= 40
        assert problems == [], "\n".join(problems)
