"""Reply timing the TUN responder makes up: RTTs that alternate (jitter), replies that overtake
each other (reordering), and replies seconds after their round's timeout (bufferbloat).

One exporter per socket kind pings the hosts for several rounds (module fixture); each test reads
one behaviour from the same scrape. The raw socket runs as root; the datagram (unprivileged ICMP)
socket as nobody with ping_group_range opened in the namespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

import pytest

from lib.exporter import Exporter, Metrics, require_binary
from lib.netns import NetNs, require_netns_support
from lib.tun_responder import TunResponder

COUNT: int = 2
SPACING_S: float = 0.02
INTERVAL_S: float = 0.5
TIMEOUT_S: float = 0.3
BLOAT_S: float = 2.5  # rounds after the timeout: five rounds later at a 500 ms interval
ALTERNATE_MS: tuple[float, float] = (10.0, 30.0)
ROUNDS: int = 8

# last address byte -> (name, behaviour)
HOSTS: dict[int, tuple[str, dict]] = {
    30: ("steady", {}),
    31: ("alternating", {"delay_cycle_ms": list(ALTERNATE_MS)}),
    # A round's first request waits 60 ms, its second (20 ms later) none: the second's reply
    # arrives first, every round.
    32: ("overtaking", {"delay_cycle_ms": [60.0, 0.0]}),
    33: ("bloated", {"delay_ms": BLOAT_S * 1000}),
}


def _addr(family: str, n: int) -> str:
    return f"198.19.0.{n}" if family == "ip4" else f"2001:2:0:1::{n}"


@dataclass
class Env:
    socket: str
    metrics: Metrics
    exporter: Exporter
    log: str  # stderr right after the scrape: one debug line per counted reply

    def value(self, name: str, family: str, host: str, **labels: str) -> float:
        n = next(k for k, (nm, _) in HOSTS.items() if nm == host)
        addr = _addr(family, n)
        # Matched on these labels only, whatever others (a group) the series carry.
        v = self.metrics.maybe(name, target=addr, address=addr, **labels)
        assert v is not None, (name, addr, labels, self.exporter.describe())
        return v

    def logged_rtts(self, family: str, host: str) -> list[float]:
        """RTTs of the host's counted replies in the order the exporter counted them."""
        n = next(k for k, (nm, _) in HOSTS.items() if nm == host)
        line = re.compile(rf"msg=reply target={re.escape(_addr(family, n))} .*rtt_ns=(\d+)")
        return [int(m.group(1)) / 1e9 for m in line.finditer(self.log)]


def rfc3550_jitter(rtts: list[float]) -> float:
    """J += (|D| - J) / 16 over consecutive RTTs (RFC 3550 section 6.4.1)."""
    j = 0.0
    for a, b in zip(rtts, rtts[1:]):
        j += (abs(b - a) - j) / 16
    return j


@pytest.fixture(scope="module", params=["raw", "dgram"])
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    require_binary()
    require_netns_support()
    socket_kind: str = request.param
    behaviours: dict[str, dict] = {"default": {"drop": True}}
    for family in ("ip4", "ip6"):
        for n, (_, spec) in HOSTS.items():
            behaviours[_addr(family, n)] = spec
    with NetNs() as ns, TunResponder(ns, behaviours):
        if socket_kind == "dgram":
            ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        hosts = [_addr(f, n) for f in ("ip4", "ip6") for n in HOSTS]
        config = {"workers": 2,
                  "defaults": {"interval": f"{int(INTERVAL_S * 1000)}ms",
                               "timeout": f"{int(TIMEOUT_S * 1000)}ms",
                               "spacing": f"{int(SPACING_S * 1000)}ms", "count": COUNT,
                               "metrics": "full"},
                  "targets": [{"hosts": hosts}]}
        with Exporter(config, netns=ns, as_nobody=socket_kind == "dgram",
                      extra_args=[f"--icmp.socket={socket_kind}", "--log.level=debug"]) as exp:
            def enough(m: Metrics) -> bool:
                # Raise, not return False, so a timeout reports what was missing.
                for family in ("ip4", "ip6"):
                    got = m.maybe("ping_packets_received_total", target=_addr(family, 31),
                                      address=_addr(family, 31))
                    assert got is not None and got >= ROUNDS * COUNT, f"{family} received {got}"
                    late = m.maybe("ping_late_replies_total", target=_addr(family, 33),
                                       address=_addr(family, 33))
                    assert late is not None and late >= 3 * COUNT, f"{family} late {late}"
                return True

            m = exp.wait_for(enough, ROUNDS * INTERVAL_S + BLOAT_S + 15, interval=0.2,
                             message=f"{ROUNDS} rounds and late replies everywhere")
            yield Env(socket_kind, m, exp, exp.stderr_text())
            assert exp.stop() == 0


FAMILIES = pytest.mark.parametrize("family", ["ip4", "ip6"])


@FAMILIES
def test_steady_host_has_no_reordering_and_little_jitter(env: Env, family: str) -> None:
    assert env.value("ping_out_of_order_replies_total", family, "steady") == 0
    assert env.value("ping_late_replies_total", family, "steady") == 0
    assert 0 <= env.value("ping_jitter_seconds", family, "steady") < 0.002


@FAMILIES
def test_alternating_rtts_give_rfc3550_jitter(env: Env, family: str) -> None:
    # Exactly the RFC's estimate over the RTTs the exporter counted, in the order it counted
    # them (the first `received` of its reply lines are those of the published rounds).
    received = int(env.value("ping_packets_received_total", family, "alternating"))
    rtts = env.logged_rtts(family, "alternating")
    assert len(rtts) >= received >= ROUNDS * COUNT, (len(rtts), received)
    jitter = env.value("ping_jitter_seconds", family, "alternating")
    assert jitter == pytest.approx(rfc3550_jitter(rtts[:received]), abs=1e-6)
    # And about what the responder made: |D| = 20 ms every step, so J nears 20 ms as
    # 20 * (1 - (15/16)^k); late replies of a busy responder push it up, never to zero.
    step_s = (ALTERNATE_MS[1] - ALTERNATE_MS[0]) / 1000
    assert step_s * (1 - (15 / 16) ** (received - 1)) - 0.002 <= jitter < 2 * step_s, jitter
    assert env.value("ping_out_of_order_replies_total", family, "alternating") == 0
    low = ALTERNATE_MS[0] / 1000
    high = ALTERNATE_MS[1] / 1000
    assert low - 0.002 <= env.value("ping_round_rtt_seconds", family, "alternating",
                                    stat="min") <= low + 0.002
    assert high - 0.002 <= env.value("ping_round_rtt_seconds", family, "alternating",
                                     stat="max") <= high + 0.002


@FAMILIES
def test_overtaken_replies_count_as_out_of_order(env: Env, family: str) -> None:
    received = env.value("ping_packets_received_total", family, "overtaking")
    reordered = env.value("ping_out_of_order_replies_total", family, "overtaking")
    # One per round: its first reply comes second. A round may be in flight.
    rounds = received / COUNT
    assert rounds - 1 <= reordered <= rounds + 1, (reordered, received)
    assert env.value("ping_round_packets_received", family, "overtaking") == COUNT
    assert env.value("ping_late_replies_total", family, "overtaking") == 0


@FAMILIES
def test_replies_rounds_after_the_timeout_are_late_not_invalid(env: Env, family: str) -> None:
    sent = env.value("ping_packets_sent_total", family, "bloated")
    late = env.value("ping_late_replies_total", family, "bloated")
    assert env.value("ping_invalid_replies_total", family, "bloated") == 0
    assert env.value("ping_packets_received_total", family, "bloated") == 0
    assert env.value("ping_up", family, "bloated") == 0
    # Every request is answered 2.5 s later: all but the last 2.5 s worth have come back late.
    in_flight = (BLOAT_S / INTERVAL_S + 1) * COUNT
    assert sent - in_flight - COUNT <= late <= sent, (late, sent)
