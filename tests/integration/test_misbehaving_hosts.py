"""Hosts that answer wrongly, made by the TUN responder: delayed, duplicated, corrupted, with a
wrong identifier, sequence, checksum or source, a chosen TTL, or too late.

One exporter per socket kind pings them all for a few rounds (module fixture); each test then
checks one behaviour in the same scrape. The raw socket runs as root; the datagram (unprivileged
ICMP) socket runs as nobody with ping_group_range opened in the namespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import pytest

from lib.exporter import Exporter, Metrics, require_binary
from lib.netns import NetNs, require_netns_support
from lib.tun_responder import EchoWire, TunResponder

COUNT: int = 2
TIMEOUT_S: float = 0.2
DELAY_S: float = 0.05
DELAY_TOLERANCE_S: float = 0.002  # per reply: the responder runs SCHED_FIFO, RTTs are kernel stamps
LATE_S: float = 0.35  # > TIMEOUT_S, and both replies still arrive before the next round (600 ms)
ROUNDS: int = 4
BUCKETS = [0.001, 0.01, 0.04, DELAY_S - DELAY_TOLERANCE_S, DELAY_S + DELAY_TOLERANCE_S, 0.1,
           0.25, 0.5, 1.0]

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
    wire: EchoWire

    def value(self, name: str, family: str, host: str, **labels: str) -> float:
        n = next(k for k, (nm, _) in HOSTS.items() if nm == host)
        addr = _addr(family, n)
        v = self.metrics.get_value(name, target=addr, address=addr, group="group-1", **labels)
        assert v is not None, (name, addr, labels, self.exporter.describe())
        return v

    def replies(self, family: str, host: str) -> list[tuple[int, float]]:
        """(sequence, RTT) of every reply the exporter counted for the host (its debug lines)."""
        n = next(k for k, (nm, _) in HOSTS.items() if nm == host)
        line = re.compile(rf"msg=reply target={re.escape(_addr(family, n))} "
                          r".*seq=(\d+) rtt_ns=(\d+)")
        return [(int(m.group(1)), int(m.group(2)) / 1e9)
                for m in line.finditer(self.exporter.stderr_text())]


@pytest.fixture(scope="module", params=["raw", "dgram"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    require_binary()
    require_netns_support()
    socket_kind: str = request.param
    with NetNs() as ns, TunResponder(ns, _behaviours()), EchoWire(ns) as wire:
        if socket_kind == "dgram":
            ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        hosts = [_addr(f, n) for f in ("ip4", "ip6") for n in HOSTS]
        config = {"workers": 2, "rtt_buckets": BUCKETS,
                  "defaults": {"interval": "600ms", "timeout": f"{int(TIMEOUT_S * 1000)}ms",
                               "metrics": "full",
                               "spacing": "50ms", "count": COUNT},
                  "targets": [{"hosts": hosts}]}
        with Exporter(config, netns=ns, as_nobody=socket_kind == "dgram",
                      extra_args=[f"--icmp.socket={socket_kind}", "--log.level=debug"]) as exp:
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
            yield Env(socket_kind, exp, m, wire)
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
def test_delay_is_measured_per_reply_within_two_ms(env: Env, family: str) -> None:
    """Every reply's RTT within DELAY_TOLERANCE_S of the same packets' times on the TUN device
    (kernel stamps, EchoWire), and so of the injected delay whenever the responder kept it. The
    responder is a Python process: on a busy machine it sometimes answers late (a 145 ms reply
    was seen, on the wire as in the exporter), which is the host's delay, not a measuring error.
    """
    low, high = DELAY_S - DELAY_TOLERANCE_S, DELAY_S + DELAY_TOLERANCE_S
    address = _addr(family, next(k for k, (nm, _) in HOSTS.items() if nm == "delay"))
    # The replies the scrape has counted: the first `count` the log shows (the log runs on, and
    # its newest replies may not have reached the capture's thread yet).
    count = env.value("ping_rtt_seconds_count", family, "delay")
    received = env.value("ping_packets_received_total", family, "delay")
    assert count == received and count >= (ROUNDS - 1) * COUNT, (count, received)
    replies = env.replies(family, "delay")[:int(count)]
    assert len(replies) == count, replies
    wire: list[float] = []
    for seq, rtt in replies:
        w = env.wire.rtt(address, seq)
        assert w is not None, f"seq {seq}: reported {rtt} s, not seen on the wire"
        assert abs(rtt - w) <= DELAY_TOLERANCE_S, f"seq {seq}: reported {rtt} s, wire {w} s"
        wire.append(w)
    kept = [w for w in wire if low <= w <= high]
    assert len(kept) >= len(wire) / 2, f"the responder kept its delay too rarely: {wire}"
    # The histogram holds exactly those replies, in the buckets their wire times say.
    for le in (low, high):
        on_wire = sum(1 for w in wire if w <= le)
        assert env.value("ping_rtt_seconds_bucket", family, "delay", le=str(le)) == on_wire, le
    assert env.value("ping_round_rtt_seconds", family, "delay", stat="min") >= low


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
