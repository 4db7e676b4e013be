"""Dead hosts: the exporter says so, keeps counting what it sent, and sees them come back.

The exporter runs in the client namespace of a TestNet; the hosts live in the host namespace and
are killed with an nft drop rule or with the kernel's icmp_echo_ignore_all switch.
"""

from __future__ import annotations

from typing import Any

import pytest

from lib.exporter import Exporter, Metrics
from lib.netns import TestNet

COUNT: int = 2
INTERVAL_S: float = 0.4
CONFIG_DEFAULTS: dict[str, Any] = {"interval": "400ms", "timeout": "150ms", "spacing": "20ms",
                                   "metrics": "full",
                                   "count": COUNT}


def _labels(host: str) -> dict[str, str]:
    return {"target": host, "address": host, "group": "group-1"}


def _is_dead(m: Metrics, host: str) -> bool:
    lab = _labels(host)
    return (m.get_value("ping_up", **lab) == 0
            and m.get_value("ping_status", status="no_response", **lab) == 1
            and m.get_value("ping_status", status="alive", **lab) == 0
            and m.get_value("ping_status", status="partial", **lab) == 0
            and m.get_value("ping_round_packets_received", **lab) == 0
            and m.get_value("ping_round_packets_sent", **lab) == COUNT
            and m.get_value("ping_loss_ratio", **lab) == 1)


def _is_alive(m: Metrics, host: str) -> bool:
    lab = _labels(host)
    return (m.get_value("ping_up", **lab) == 1
            and m.get_value("ping_status", status="alive", **lab) == 1
            and m.get_value("ping_status", status="no_response", **lab) == 0
            and m.get_value("ping_round_packets_received", **lab) == COUNT)


def _sent(m: Metrics, host: str) -> float:
    value = m.get_value("ping_packets_sent_total", **_labels(host))
    assert value is not None, host
    return value


@pytest.mark.time_limit(60)
def test_nft_dropped_hosts_are_down_then_recover_without_restart(exporter_bin: str,
                                                                   testnet: TestNet) -> None:
    live = [testnet.host_v4(1), testnet.host_v6(1)]
    dead = [testnet.host_v4(2), testnet.host_v6(2)]
    rules = testnet.host.drop_echo(dead)
    config = {"defaults": CONFIG_DEFAULTS, "targets": [{"hosts": live + dead}]}
    with Exporter(config, netns=testnet.client) as exp:
        m = exp.wait_for(lambda m: all(_is_dead(m, h) for h in dead)
                         and all(_is_alive(m, h) for h in live),
                         10, message="dead hosts down, live hosts up")
        start_time = m.one("process_start_time_seconds")
        for host in dead:
            assert m.get_value("ping_packets_received_total", **_labels(host)) == 0
            assert m.get_value("ping_rtt_seconds_count", **_labels(host)) in (0, None)
        # Sent keeps counting while the host is dead: wait for more rounds.
        before = {h: _sent(m, h) for h in dead}
        m = exp.wait_for(lambda m: all(_sent(m, h) >= before[h] + 2 * COUNT for h in dead),
                         10 * INTERVAL_S + 5, message="sent counter growing")
        assert all(m.get_value("ping_packets_received_total", **_labels(h)) == 0 for h in dead)
        assert all(_is_dead(m, h) for h in dead)

        rules.remove()
        m = exp.wait_for(lambda m: all(_is_alive(m, h) for h in dead + live),
                         4 * INTERVAL_S + 3, message="recovered hosts up again")
        assert m.one("process_start_time_seconds") == start_time  # same process, no restart
        for host in dead:
            assert m.get_value("ping_packets_received_total", **_labels(host)) >= COUNT
        assert exp.stop() == 0


@pytest.mark.time_limit(60)
def test_echo_ignore_all_makes_every_host_dead_and_back(exporter_bin: str,
                                                       testnet: TestNet) -> None:
    hosts = [testnet.host_v4(10), testnet.host_v6(10), testnet.host_v4(11)]
    config = {"defaults": CONFIG_DEFAULTS, "targets": [{"hosts": hosts}]}
    with Exporter(config, netns=testnet.client) as exp:
        exp.wait_for(lambda m: all(_is_alive(m, h) for h in hosts), 10,
                     message="hosts up before switching echo off")
        testnet.host.ignore_all_echo(True)
        m = exp.wait_for(lambda m: all(_is_dead(m, h) for h in hosts),
                         4 * INTERVAL_S + 3, message="all hosts dead")
        received_then = {h: m.get_value("ping_packets_received_total", **_labels(h))
                         for h in hosts}
        sent_then = {h: _sent(m, h) for h in hosts}
        m = exp.wait_for(lambda m: all(_sent(m, h) > sent_then[h] for h in hosts), 5,
                         message="more rounds while dead")
        assert {h: m.get_value("ping_packets_received_total", **_labels(h))
                for h in hosts} == received_then
        testnet.host.ignore_all_echo(False)
        exp.wait_for(lambda m: all(_is_alive(m, h) for h in hosts),
                     4 * INTERVAL_S + 3, message="hosts back up")
        assert exp.stop() == 0
