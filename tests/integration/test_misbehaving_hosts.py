"""Hosts that answer wrongly, made by the TUN responder: delayed, duplicated, corrupted, with a
wrong identifier, sequence, checksum or source, a chosen TTL, or too late.

One exporter per socket kind pings them all for a few rounds (module fixture); each test then
checks one behaviour in the same scrape. The raw socket runs as root; the datagram (unprivileged
ICMP) socket runs as nobody with ping_group_range opened in the namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import pytest

from lib.exporter import Exporter, Metrics, require_binary
from lib.netns import NetNs, require_netns_support
from lib.tun_responder import TunResponder

COUNT: int = 2
TIMEOUT_S: float = 0.2
DELAY_S: float = 0.05
LATE_S: float = 0.35  # > TIMEOUT_S, and both replies still arrive before the next round (600 ms)
ROUNDS: int = 4
BUCKETS = [0.001, 0.01, 0.04, 0.06, 0.1, 0.25, 0.5, 1.0]

# last address byte -> (name, behaviour)
HOSTS: dict[int, tuple[str, dict]] = {
    10: ("baseline", {}),
    11: ("delay", {"delay_ms": DELAY_S * 1000}),
    12: ("dup", {"dup": 2}),
    13: ("corrupt", {"corrupt": True}),
    14: ("bad_checksum", {"bad_checksum": True}),
    15: ("wrong_id", {"wrong_id": True}),
    16: ("wrong_seq", {"wrong_seq": True}),
    17: ("wrong_src", {"src": "99"}),
    18: ("ttl", {"ttl": 33}),
    19: ("late", {"delay_ms": LATE_S * 1000}),
}


def _addr(family: str, n: int) -> str:
    return f"198.19.0.{n}" if family == "ip4" else f"2001:2:0:1::{n}"


def _behaviours() -> dict[str, dict]:
    out: dict[str, dict] = {"default": {"drop": True}}
    for family in ("ip4", "ip6"):
        for n, (_, spec) in HOSTS.items():
            spec = dict(spec)
            if "src" in spec:
                spec["src"] = _addr(family, int(spec["src"]))
            out[_addr(family, n)] = spec
    return out


@dataclass
class Env:
    socket: str
    exporter: Exporter
    metrics: Metrics

    def value(self, name: str, family: str, host: str, **labels: str) -> float:
        n = next(k for k, (nm, _) in HOSTS.items() if nm == host)
        addr = _addr(family, n)
        v = self.metrics.get_value(name, target=addr, address=addr, group="group-1", **labels)
        assert v is not None, (name, addr, labels, self.exporter.describe())
        return v


@pytest.fixture(scope="module", params=["raw", "dgram"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    require_binary()
    require_netns_support()
    socket_kind: str = request.param
    with NetNs() as ns, TunResponder(ns, _behaviours()):
        if socket_kind == "dgram":
            ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        hosts = [_addr(f, n) for f in ("ip4", "ip6") for n in HOSTS]
        config = {"workers": 2, "rtt_buckets": BUCKETS,
                  "defaults": {"interval": "600ms", "timeout": f"{int(TIMEOUT_S * 1000)}ms",
                               "metrics": "full",
                               "spacing": "50ms", "count": COUNT},
                  "targets": [{"hosts": hosts}]}
        with Exporter(config, netns=ns, as_nobody=socket_kind == "dgram",
                      extra_args=[f"--icmp.socket={socket_kind}"]) as exp:
            # Enough rounds everywhere, and the late replies of the last one have landed.
            def enough(m: Metrics) -> bool:
                sent = {lab["target"]: v for lab, v in m.select("ping_packets_sent_total")}
                late = m.select("ping_late_replies_total", target=_addr("ip4", 19))
                # Raise, not return False, so a timeout reports what was missing.
                assert set(sent) == set(hosts), f"targets so far: {sorted(sent)}"
                assert all(v >= ROUNDS * COUNT for v in sent.values()), f"sent: {sent}"
                assert late and late[0][1] >= (ROUNDS - 1) * COUNT, f"late: {late}"
                return True

            m = exp.wait_for(enough, ROUNDS * 0.6 + 10, interval=0.2,
                             message=f"{ROUNDS} rounds everywhere")
            yield Env(socket_kind, exp, m)
            assert exp.stop() == 0


FAMILIES = pytest.mark.parametrize("family", ["ip4", "ip6"])


@FAMILIES
def test_baseline_host_is_alive_and_fast(env: Env, family: str) -> None:
    assert env.value("ping_up", family, "baseline") == 1
    assert env.value("ping_round_packets_received", family, "baseline") == COUNT
    assert env.value("ping_round_rtt_seconds", family, "baseline", stat="max") < 0.03
    for counter in ("ping_duplicate_replies_total", "ping_invalid_replies_total",
                    "ping_late_replies_total"):
        assert env.value(counter, family, "baseline") == 0, counter
    assert env.value("ping_reply_ttl", family, "baseline") == 64


@FAMILIES
def test_delay_is_measured_in_round_stats_and_histogram(env: Env, family: str) -> None:
    for stat in ("min", "avg", "max"):
        rtt = env.value("ping_round_rtt_seconds", family, "delay", stat=stat)
        assert DELAY_S - 0.005 <= rtt <= DELAY_S + 0.010, (stat, rtt)
    assert 0 <= env.value("ping_round_rtt_seconds", family, "delay", stat="stddev") < 0.005
    count = env.value("ping_rtt_seconds_count", family, "delay")
    received = env.value("ping_packets_received_total", family, "delay")
    assert count == received and count >= (ROUNDS - 1) * COUNT, (count, received)
    assert env.value("ping_rtt_seconds_bucket", family, "delay", le="0.04") == 0
    # Every reply in the 40-100 ms buckets; most within +10 ms. An occasional reply 10-50 ms
    # late has been seen on datagram IPv6 sockets since the probe loop moved to a phase grid
    # (2 of 8 in about 1 run of 12): open in the notes, not hidden by this bound.
    assert env.value("ping_rtt_seconds_bucket", family, "delay", le="0.1") == count
    assert env.value("ping_rtt_seconds_bucket", family, "delay", le="0.06") >= count * 0.7
    assert env.value("ping_rtt_seconds_bucket", family, "delay", le="+Inf") == count
    mean = env.value("ping_rtt_seconds_sum", family, "delay") / count
    assert DELAY_S - 0.005 <= mean <= DELAY_S + 0.010, mean


@FAMILIES
def test_duplicates_are_counted_apart_never_as_received(env: Env, family: str) -> None:
    sent = env.value("ping_packets_sent_total", family, "dup")
    received = env.value("ping_packets_received_total", family, "dup")
    dups = env.value("ping_duplicate_replies_total", family, "dup")
    assert env.value("ping_up", family, "dup") == 1
    assert env.value("ping_round_packets_received", family, "dup") == COUNT
    assert received <= sent and sent - received <= COUNT, (sent, received)
    # Two extra copies per answered request; a round in flight may lag by COUNT requests.
    assert abs(dups - 2 * received) <= 2 * COUNT, (dups, received)
    assert env.value("ping_invalid_replies_total", family, "dup") == 0


@FAMILIES
@pytest.mark.parametrize("host", ["corrupt", "wrong_src"])
def test_corrupt_or_spoofed_replies_are_invalid(env: Env, family: str, host: str) -> None:
    sent = env.value("ping_packets_sent_total", family, host)
    assert env.value("ping_up", family, host) == 0
    assert env.value("ping_status", family, host, status="no_response") == 1
    assert env.value("ping_packets_received_total", family, host) == 0
    invalid = env.value("ping_invalid_replies_total", family, host)
    # sent_total may lag by the round in flight (if it is counted when the round completes).
    assert sent - 2 * COUNT <= invalid <= sent + COUNT, (invalid, sent)


@FAMILIES
def test_bad_checksum_is_never_received(env: Env, family: str) -> None:
    assert env.value("ping_up", family, "bad_checksum") == 0
    assert env.value("ping_packets_received_total", family, "bad_checksum") == 0
    invalid = env.value("ping_invalid_replies_total", family, "bad_checksum")
    if env.socket == "raw" and family == "ip4":
        # Raw IPv4 sockets get ICMP with bad checksums (the kernel checks after delivering to
        # raw sockets), so the exporter sees them and must reject them itself.
        assert invalid > 0
    else:
        # ICMPv6 raw sockets and ping sockets drop them in the kernel.
        assert invalid == 0


@FAMILIES
def test_wrong_identifier_is_never_received(env: Env, family: str) -> None:
    # The socket filters on the identifier (BPF on raw, the kernel on ping sockets), so these
    # replies may be invisible; what must hold is that none counts as received.
    assert env.value("ping_up", family, "wrong_id") == 0
    assert env.value("ping_packets_received_total", family, "wrong_id") == 0
    assert env.value("ping_duplicate_replies_total", family, "wrong_id") == 0


@FAMILIES
def test_wrong_sequence_is_never_received(env: Env, family: str) -> None:
    sent = env.value("ping_packets_sent_total", family, "wrong_seq")
    assert env.value("ping_up", family, "wrong_seq") == 0
    assert env.value("ping_packets_received_total", family, "wrong_seq") == 0
    invalid = env.value("ping_invalid_replies_total", family, "wrong_seq")
    # sent_total may lag by the round in flight (if it is counted when the round completes).
    assert sent - 2 * COUNT <= invalid <= sent + COUNT, (invalid, sent)


@FAMILIES
def test_reply_ttl_is_reported(env: Env, family: str) -> None:
    assert env.value("ping_reply_ttl", family, "ttl") == 33
    assert env.value("ping_up", family, "ttl") == 1


@FAMILIES
def test_late_replies_are_late_not_received(env: Env, family: str) -> None:
    sent = env.value("ping_packets_sent_total", family, "late")
    late = env.value("ping_late_replies_total", family, "late")
    assert env.value("ping_up", family, "late") == 0
    assert env.value("ping_status", family, "late", status="no_response") == 1
    assert env.value("ping_packets_received_total", family, "late") == 0
    assert env.value("ping_invalid_replies_total", family, "late") == 0
    # Every request gets one late reply; the last round's may still be on its way.
    assert sent - 2 * COUNT <= late <= sent, (late, sent)
    assert env.value("ping_rtt_seconds_count", family, "late") == 0
