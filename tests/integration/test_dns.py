"""Host names never block: a dead nameserver delays only the names, and names resolve, move and
fan out (all_addresses) without a reload.

The exporter runs in the client namespace of a TestNet. `ip netns exec` bind-mounts
/etc/netns/<ns>/resolv.conf and /etc/netns/<ns>/hosts over /etc, so the exporter sees a private
resolver configuration: its nameserver is the client's own address, where an nft input rule
drops every DNS packet (a lookup that never gets an answer; a drop on the output hook would fail
at once instead). Names that resolve come from the private hosts file and point at 198.18.x.y
hosts that the host namespace answers. No name is ever sent to the machine's nameserver.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from typing import Any, Iterator

import pytest

from lib.exporter import Exporter, Metrics, wait_until
from lib.netns import TestNet

FAST: dict[str, Any] = {"interval": "500ms", "timeout": "200ms", "spacing": "20ms", "count": 2}


class PrivateDns:
    """resolv.conf and hosts for one namespace, seen by processes started with ip netns exec."""

    def __init__(self, net: TestNet) -> None:
        self.dir: str = os.path.join("/etc/netns", net.client.name)
        os.makedirs(self.dir)
        with open(os.path.join(self.dir, "resolv.conf"), "w", encoding="utf-8") as f:
            f.write(f"nameserver {TestNet.CLIENT_V4}\n")
        self.write_hosts({})
        net.client.add_input_rule("udp dport 53 drop")
        net.client.add_input_rule("tcp dport 53 drop")

    def write_hosts(self, names: dict[str, list[str]]) -> None:
        # In place (same inode): the bind mount made at exec keeps pointing at this file.
        lines = ["127.0.0.1 localhost"] + [f"{ip} {name}" for name, ips in names.items()
                                           for ip in ips]
        with open(os.path.join(self.dir, "hosts"), "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            os.rmdir("/etc/netns")  # only if no one else uses it
        except OSError:
            pass


@pytest.fixture
def dns(testnet: TestNet) -> Iterator[PrivateDns]:
    private = PrivateDns(testnet)
    try:
        yield private
    finally:
        private.remove()


def _up(m: Metrics, target: str, address: str) -> bool:
    return m.maybe("ping_up", target=target, address=address) == 1


@pytest.mark.time_limit(90)
def test_dead_nameserver_delays_only_the_names(exporter_bin: str, testnet: TestNet,
                                               dns: PrivateDns) -> None:
    literals = [testnet.host_v4(1), testnet.host_v6(1)]
    names = [f"n{i}.test" for i in range(1000)]
    config = {"defaults": FAST,
              "targets": [{"name": "literals", "hosts": literals},
                          {"name": "names", "hosts": names, "resolve_timeout": "1s"}]}
    begin = time.monotonic()
    with Exporter(config, netns=testnet.client) as exp:
        exp.metrics()
        assert time.monotonic() - begin < 1.0, f"/metrics after {time.monotonic() - begin:.2f} s"

        m = exp.wait_for(lambda m: all(_up(m, h, h) for h in literals), 3,
                         message="literals up while every lookup hangs")
        assert time.monotonic() - begin < 4.0

        # Every name is a target at once: down, address unknown, its lost rounds counted.
        m = exp.wait_for(lambda m: all(m.maybe("ping_send_errors_total", target=n, address="",
                                               reason="resolve") for n in names), 10,
                         message="every name probed as unresolved")
        assert all(m.maybe("ping_up", target=n, address="") == 0 for n in names)
        # 256 lookups at a time, 1 s each: every name has failed once within a few seconds.
        m = exp.wait_for(lambda m: all(m.get_value("ping_resolve_errors_total", target=n)
                                       for n in names), 15, message="a resolve error per name")
        assert exp.get("/-/ready").status == 200  # unresolved targets complete rounds too

        exp.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in exp.stderr_text(), 1.0, interval=0.02,
                   message="SIGHUP reload done within 1 s")
        m = exp.metrics()
        assert all(_up(m, h, h) for h in literals)
        assert m.one("ping_exporter_targets") == len(literals) + len(names)

        assert exp.stop(timeout_s=1.0) == 0  # SIGTERM with ~256 lookups in flight


@pytest.mark.time_limit(90)
def test_names_resolve_move_and_fan_out_without_a_reload(exporter_bin: str, testnet: TestNet,
                                                         dns: PrivateDns) -> None:
    a1, a2, late = testnet.host_v4(10), testnet.host_v4(11), testnet.host_v4(12)
    multi = [testnet.host_v4(20), testnet.host_v4(21), testnet.host_v6(22)]
    dns.write_hosts({"a.test": [a1], "multi.test": multi})
    resolve = {"resolve_interval": "1s", "resolve_timeout": "300ms"}
    config = {"defaults": FAST,
              "targets": [{"name": "names", "hosts": ["a.test", "late.test"], **resolve},
                          {"name": "multi", "hosts": ["multi.test"], "all_addresses": True,
                           **resolve}]}
    with Exporter(config, netns=testnet.client) as exp:
        m = exp.wait_for(lambda m: _up(m, "a.test", a1)
                         and all(_up(m, "multi.test", ip) for ip in multi), 10,
                         message="names from the hosts file up")
        # all_addresses: one series per address, and nothing else for that name.
        assert sorted(lab["address"] for lab, _ in m.select("ping_up", target="multi.test")) \
            == sorted(multi)
        assert m.maybe("ping_up", target="late.test", address="") == 0
        m = exp.wait_for(lambda m: (m.get_value("ping_resolve_errors_total", target="late.test")
                                    or 0) >= 1, 5, message="late.test failing")

        # A name that starts resolving comes up on its next retry, without a reload.
        dns.write_hosts({"a.test": [a1], "multi.test": multi, "late.test": [late]})
        m = exp.wait_for(lambda m: _up(m, "late.test", late), 10, message="late.test up")
        assert m.maybe("ping_up", target="late.test", address="") is None

        # A moved address: the address label moves, the counters carry on.
        sent_before = m.one("ping_packets_sent_total", target="a.test", address=a1)
        dns.write_hosts({"a.test": [a2], "multi.test": multi, "late.test": [late]})
        m = exp.wait_for(lambda m: _up(m, "a.test", a2), 10, message="a.test moved")
        assert m.select("ping_up", target="a.test", address=a1) == []
        assert m.one("ping_packets_sent_total", target="a.test", address=a2) > sent_before

        assert "configuration reloaded" not in exp.stderr_text()
        assert exp.stop() == 0
