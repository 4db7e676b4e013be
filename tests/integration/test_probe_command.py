"""The seed's job, `ping_exporter probe HOST...`: all hosts at once, so a round over 1000 dead
hosts costs about one timeout (the seed took 28 s for ten hosts one after another), and the three
states printed exactly as the seed printed them, with exit status 0 only when all are alive."""

from __future__ import annotations

import ipaddress
import re
import time

import pytest

from lib.exporter import run_cli
from lib.netns import TestNet
from lib.tun_responder import TunResponder

_LINE = re.compile(r"^Status from (\S+) is (Alive|Partial Response|No response)$")


def _states(stdout: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in stdout.splitlines():
        if not line.strip():
            continue
        match = _LINE.match(line.strip())
        assert match, f"unexpected output line {line!r}"
        assert match.group(1) not in out, f"host printed twice: {line!r}"
        out[match.group(1)] = match.group(2)
    return out


@pytest.mark.time_limit(60)
def test_probe_1000_dead_hosts_takes_about_one_timeout(exporter_bin: str,
                                                       testnet: TestNet) -> None:
    dead_net = ipaddress.ip_network("198.18.160.0/22")  # inside TestNet.HOSTS_V4
    hosts = [str(dead_net.network_address + i) for i in range(1, 1001)]
    testnet.host.drop_echo([str(dead_net)])
    start = time.monotonic()
    proc = run_cli(["probe", "--count=2", "--timeout=1s", *hosts], netns=testnet.client,
                   timeout=15)
    elapsed = time.monotonic() - start
    states = _states(proc.stdout)
    assert states == {h: "No response" for h in hosts}, proc.stderr[-2000:]
    assert proc.returncode != 0
    # It did wait for the replies (>= the timeout), but only once, not once per host.
    assert 0.9 <= elapsed < 5.0, elapsed


@pytest.mark.time_limit(60)
def test_probe_prints_the_three_states(exporter_bin: str, testnet: TestNet) -> None:
    alive = [testnet.host_v4(40), testnet.host_v6(40), testnet.host_v4(41), "127.0.0.1"]
    dead = [testnet.host_v4(42), testnet.host_v6(42), testnet.host_v4(43)]
    partial = ["198.19.0.40", "2001:2:0:1::40", "198.19.0.41"]
    testnet.host.drop_echo(dead)
    with TunResponder(testnet.client, {h: {"pattern": "10"} for h in partial}):
        proc = run_cli(["probe", "--count=2", "--timeout=500ms", *alive, *dead, *partial],
                       netns=testnet.client, timeout=30)
    expected = {**{h: "Alive" for h in alive}, **{h: "No response" for h in dead},
                **{h: "Partial Response" for h in partial}}
    assert _states(proc.stdout) == expected, proc.stdout + proc.stderr
    assert proc.returncode != 0

    proc = run_cli(["probe", "--count=2", "--timeout=500ms", *alive], netns=testnet.client,
                   timeout=30)
    assert _states(proc.stdout) == {h: "Alive" for h in alive}, proc.stdout + proc.stderr
    assert proc.returncode == 0
