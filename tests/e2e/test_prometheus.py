"""A real Prometheus server scrapes the exporter every second and answers PromQL about it: live
targets up, dead ones down, received counters increasing, and an RTT median that is plausible
for loopback. Exporter and Prometheus both run in the client namespace of a TestNet."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from lib.exporter import Exporter, require_binary, wait_until
from lib.netns import TestNet, require_netns_support
from lib.prometheus import PROMETHEUS_BIN, Prometheus


@pytest.fixture
def stack() -> Iterator[tuple[TestNet, Exporter, Prometheus, dict[str, list[str]]]]:
    require_binary()
    require_netns_support()
    if not os.access(PROMETHEUS_BIN, os.X_OK):
        pytest.skip("prometheus (Debian package) not installed")
    with TestNet() as net:
        hosts = {"live": ["127.0.0.1", "::1", net.host_v4(60), net.host_v6(60)],
                 "dead": [net.host_v4(61), net.host_v6(61)]}
        net.host.drop_echo(hosts["dead"])
        config = {"defaults": {"interval": "500ms", "timeout": "200ms", "count": 2,
                               "metrics": "full",
                               "spacing": "50ms"},
                  # Each series carries its group's name as the `group` label.
                  "targets": [{"name": "live", "hosts": hosts["live"]},
                              {"name": "dead", "hosts": hosts["dead"]}]}
        with Exporter(config, netns=net.client) as exp, \
                Prometheus([exp.address], netns=net.client) as prom:
            yield net, exp, prom, hosts
            assert exp.stop() == 0


def _by_target(result: dict[frozenset, float]) -> dict[str, float]:
    return {dict(k)["target"]: v for k, v in result.items()}


def _poll(prom: Prometheus, expr: str, ok, timeout: float = 20) -> dict[str, float]:
    """Query `expr` until `ok(result by target)` holds; returns that result."""

    def attempt() -> dict[str, float] | None:
        got = _by_target(prom.query_values(expr))
        return got if ok(got) else None

    return wait_until(attempt, timeout, interval=0.5, message=f"{expr} to satisfy the test")


@pytest.mark.time_limit(90)
def test_prometheus_sees_up_down_counters_and_rtt(stack) -> None:
    _, exp, prom, hosts = stack
    live, dead = hosts["live"], hosts["dead"]
    every = set(live) | set(dead)

    up = _poll(prom, 'ping_up{job="ping"}',
               lambda r: set(r) == every and all(r[h] == 1 for h in live), timeout=30)
    assert {h: up[h] for h in dead} == {h: 0.0 for h in dead}, up
    scrape_up = prom.query_values('up{job="ping"}')
    assert list(scrape_up.values()) == [1.0], scrape_up

    # increase() needs two samples inside the window; a 1 s scrape gives them in ~2 s.
    increase = _poll(prom, "increase(ping_packets_received_total[30s])",
                     lambda r: set(r) == every)
    assert all(increase[h] > 0 for h in live), increase
    assert all(increase[h] == 0 for h in dead), increase
    sent = _poll(prom, "increase(ping_packets_sent_total[30s])", lambda r: set(r) == every)
    assert all(sent[h] > 0 for h in every), sent

    median = _poll(prom,
                   'histogram_quantile(0.5, rate(ping_rtt_seconds_bucket{group="live"}[30s]))',
                   lambda r: set(r) == set(live))
    for host in ("127.0.0.1", "::1"):
        assert 0 < median[host] < 0.1, (host, median)
    # Dead targets have no RTT observations, hence no median (NaN) rather than a made-up one.
    dead_median = _by_target(prom.query_values(
        'histogram_quantile(0.5, rate(ping_rtt_seconds_bucket{group="dead"}[30s]))'))
    assert set(dead_median) == set(dead) and all(v != v for v in dead_median.values()), \
        dead_median  # NaN != NaN

    states = _by_target(prom.query_values('ping_status{status="no_response"} == 1'))
    assert set(states) == set(dead), states
    assert exp.get("/-/healthy").status == 200
