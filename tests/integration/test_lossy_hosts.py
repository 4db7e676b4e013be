"""Lossy hosts (nft drops about half the echo requests at random): partial rounds, a loss ratio
near one half over many probes, monotone counters, and never more received than sent."""

from __future__ import annotations

import time

import pytest

from lib.exporter import Exporter, Metrics
from lib.netns import TestNet

COUNT: int = 5
MIN_PROBES_PER_HOST: int = 100
CONFIG_DEFAULTS = {"interval": "300ms", "timeout": "120ms", "spacing": "20ms", "count": COUNT,
                   "metrics": "full"}
COUNTERS = ("ping_packets_sent_total", "ping_packets_received_total", "ping_rtt_seconds_count",
            "ping_duplicate_replies_total", "ping_invalid_replies_total",
            "ping_late_replies_total")


def _labels(host: str) -> dict[str, str]:
    return {"target": host, "address": host, "group": "group-1"}


def _check_scrape(m: Metrics, host: str) -> tuple[float, float, float]:
    """Invariants that hold in every single scrape; returns (round_sent, round_received,
    partial)."""
    lab = _labels(host)
    sent = m.get_value("ping_packets_sent_total", **lab)
    received = m.get_value("ping_packets_received_total", **lab)
    assert sent is not None and received is not None, (host, sorted(m.names()))
    assert received <= sent, (host, received, sent)
    r_sent = m.get_value("ping_round_packets_sent", **lab) or 0.0
    r_recv = m.get_value("ping_round_packets_received", **lab) or 0.0
    assert 0 <= r_recv <= r_sent <= COUNT, (host, r_recv, r_sent)
    partial = m.get_value("ping_status", status="partial", **lab)
    alive = m.get_value("ping_status", status="alive", **lab)
    none = m.get_value("ping_status", status="no_response", **lab)
    if r_sent:
        # The state set and the round gauges describe the same round.
        assert (alive, partial, none) == (float(r_recv == r_sent), float(0 < r_recv < r_sent),
                                          float(r_recv == 0)), (host, alive, partial, none,
                                                                r_recv, r_sent)
        assert m.get_value("ping_up", **lab) == float(r_recv > 0)
        loss = m.get_value("ping_loss_ratio", **lab)
        assert loss is not None and abs(loss - (1 - r_recv / r_sent)) < 1e-9, (host, loss)
    return r_sent, r_recv, partial or 0.0


@pytest.mark.time_limit(60)
def test_lossy_hosts_partial_rounds_and_half_loss(exporter_bin: str, testnet: TestNet) -> None:
    lossy = [testnet.host_v4(20), testnet.host_v4(21), testnet.host_v6(20),
             testnet.host_v6(21)]
    testnet.host.lossy_echo(lossy, 50)
    config = {"defaults": CONFIG_DEFAULTS, "targets": [{"hosts": lossy}]}
    with Exporter(config, netns=testnet.client) as exp:
        exp.wait_for(lambda m: all(m.get_value("ping_packets_sent_total", **_labels(h))
                                   is not None for h in lossy), 10, message="lossy series")
        previous: dict[tuple, float] = {}
        partial_seen: set[str] = set()
        deadline = time.monotonic() + 30
        while True:
            m = exp.metrics()
            for host in lossy:
                _, _, partial = _check_scrape(m, host)
                if partial == 1:
                    partial_seen.add(host)
            for name in COUNTERS:
                for labels, value in m.select(name):
                    key = (name, frozenset(labels.items()))
                    assert value >= previous.get(key, 0.0), (name, labels, value, previous[key])
                    previous[key] = value
            sent = {h: m.get_value("ping_packets_sent_total", **_labels(h)) or 0
                    for h in lossy}
            if all(s >= MIN_PROBES_PER_HOST for s in sent.values()):
                break
            assert time.monotonic() < deadline, f"too few probes in 30 s: {sent}"
            time.sleep(0.1)

        assert partial_seen == set(lossy), partial_seen
        # Compare only completed rounds: take both counters from one scrape and allow the
        # replies of a round in flight (at most COUNT) by judging the ratio on sent - COUNT.
        total_sent = total_recv = 0.0
        for host in lossy:
            s = m.get_value("ping_packets_sent_total", **_labels(host))
            r = m.get_value("ping_packets_received_total", **_labels(host))
            assert s is not None and r is not None
            loss_high = 1 - r / s
            loss_low = 1 - r / max(1.0, s - COUNT)
            assert 0.3 <= loss_high and loss_low <= 0.7, (host, r, s)
            total_sent += s
            total_recv += r
        # ~400+ probes at p=0.5: a standard deviation of 0.025.
        assert 0.38 <= 1 - total_recv / total_sent <= 0.62, (total_recv, total_sent)
        assert exp.stop() == 0
