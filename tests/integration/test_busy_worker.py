"""A busy worker (several rounds a grid step) reads replies and ICMP errors once a step instead of
waking for each (TargetTable::coalesced): nothing may get lost or late that way.

Hundreds of targets in a namespace of the test's own: 198.18.0.1/15 on its lo makes the whole /15
local, so the kernel answers them, and an nft rule rejects echo requests to one /24 of it with
host-unreachable, so those targets' rounds end in ICMP errors. Raw sockets (root) and datagram
sockets (nobody, ping_group_range opened in the namespace).
"""

from __future__ import annotations

import pytest

from lib.exporter import Exporter, Metrics, require_binary
from lib.netns import NetNs, require_netns_support

ANSWERED: list[str] = [f"198.18.0.{i}" for i in range(1, 241)]
REJECTED: list[str] = [f"198.18.1.{i}" for i in range(1, 81)]
INTERVAL_S: float = 0.5
ROUNDS: int = 4


def by_target(m: Metrics, name: str, **labels: str) -> dict[str, float]:
    """Target -> value of the family's series with these labels (others, a group, may be there)."""
    return {lab["target"]: v for lab, v in m.select(name, **labels)}


@pytest.mark.parametrize("socket_kind", ["raw", "dgram"])
@pytest.mark.time_limit(60)
def test_busy_worker_reads_every_reply_and_error_once_a_step(socket_kind: str) -> None:
    require_binary()
    require_netns_support()
    with NetNs() as ns:
        ns.ip("addr", "add", "198.18.0.1/15", "dev", "lo")
        ns.add_input_rule("ip daddr 198.18.1.0/24 icmp type echo-request "
                          "reject with icmp type host-unreachable")
        if socket_kind == "dgram":
            ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        # 640 rounds a second over two workers: a 100 ms grid with 32 rounds a step, coalesced.
        config = {"workers": 2,
                  "defaults": {"interval": f"{int(INTERVAL_S * 1000)}ms", "timeout": "200ms",
                               "count": 1, "metrics": "full"},
                  "targets": [{"hosts": ANSWERED + REJECTED}]}
        with Exporter(config, netns=ns, as_nobody=socket_kind == "dgram",
                      extra_args=[f"--icmp.socket={socket_kind}"]) as exp:
            def enough(m: Metrics) -> bool:
                sent = by_target(m, "ping_packets_sent_total")
                for host in ANSWERED[:3] + ANSWERED[-3:] + REJECTED[:3] + REJECTED[-3:]:
                    assert sent.get(host, 0) >= ROUNDS, (host, sent.get(host))
                return True

            m = exp.wait_for(enough, ROUNDS * INTERVAL_S + 15, interval=0.2,
                             message=f"{ROUNDS} rounds everywhere")
            sent = by_target(m, "ping_packets_sent_total")
            up = by_target(m, "ping_up")
            received = by_target(m, "ping_packets_received_total")
            rtt_max = by_target(m, "ping_round_rtt_seconds", stat="max")
            for host in ANSWERED:
                assert up[host] == 1, host
                assert received[host] == sent[host], host
                # Kernel stamps on both ends: read a step late, the loopback RTT stays tiny.
                assert rtt_max[host] < 0.005, host
            for counter in ("ping_late_replies_total", "ping_invalid_replies_total",
                            "ping_duplicate_replies_total"):
                values = by_target(m, counter)
                assert all(values[h] == 0 for h in ANSWERED), counter
            errors = by_target(m, "ping_send_errors_total", reason="host_unreachable")
            for host in REJECTED:
                assert up[host] == 0, host
                # Every request gets its error; the round in flight may lag either way.
                assert sent[host] - 1 <= errors[host] <= sent[host] + 1, (host, errors[host])
            assert exp.stop() == 0
