"""The test bed itself tells the truth: checked with the system's ping and fping, no exporter.

If these fail, the exporter tests that build on the same namespaces, nft rules and TUN responder
cannot be trusted either.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time

import pytest

from lib.exporter import parse_metrics, to_toml, wait_until
from lib.netns import NetNs, TestNet
from lib.tun_responder import TunResponder

pytestmark = pytest.mark.skipif(shutil.which("fping") is None or shutil.which("ping") is None,
                                reason="needs fping and ping (iputils-ping)")


def _fping(ns: NetNs, hosts: list[str], count: int, period_ms: int = 20,
           timeout_ms: int = 200) -> dict[str, tuple[int, int]]:
    """{host: (sent, received)} from `fping -c` run inside `ns`."""
    proc = ns.run(["fping", "-q", "-c", str(count), "-p", str(period_ms), "-t", str(timeout_ms),
                   *hosts], check=False, timeout=60)
    out: dict[str, tuple[int, int]] = {}
    for line in proc.stderr.splitlines():
        match = re.match(r"^(\S+)\s*: xmt/rcv/%loss = (\d+)/(\d+)/", line)
        if match:
            out[match.group(1)] = (int(match.group(2)), int(match.group(3)))
    assert set(out) == set(hosts), proc.stderr
    return out


def _ping_lines(ns: NetNs, host: str, count: int = 4, interval: str = "0.1",
                wait_s: str = "1") -> tuple[int, str]:
    proc = ns.run(["ping", "-n", "-c", str(count), "-i", interval, "-W", wait_s, host],
                  check=False, timeout=30)
    return proc.returncode, proc.stdout


@pytest.mark.time_limit(60)
def test_testnet_live_dead_lossy_hosts_seen_by_fping(testnet: TestNet) -> None:
    live: list[str] = [testnet.host_v4(1), testnet.host_v6(1), testnet.host_v4(4000)]
    dead: list[str] = [testnet.host_v4(2), testnet.host_v6(2)]
    assert all(rcv == 3 for _, rcv in _fping(testnet.client, live + dead, 3).values())

    rules = testnet.host.drop_echo(dead)
    seen = _fping(testnet.client, live + dead, 3)
    assert [seen[h] for h in dead] == [(3, 0)] * len(dead)
    assert [seen[h] for h in live] == [(3, 3)] * len(live)
    rules.remove()
    assert all(rcv == 3 for _, rcv in _fping(testnet.client, dead, 3).values())

    lossy: list[str] = [testnet.host_v4(5), testnet.host_v6(5)]
    with testnet.host.lossy_echo(lossy, 50):
        seen = _fping(testnet.client, lossy, 200, period_ms=5)
        for host in lossy:
            sent, received = seen[host]
            assert sent == 200 and 0.3 <= 1 - received / sent <= 0.7, (host, seen[host])

    testnet.host.ignore_all_echo(True)
    assert all(rcv == 0 for _, rcv in _fping(testnet.client, live, 2).values())
    testnet.host.ignore_all_echo(False)
    assert all(rcv == 2 for _, rcv in _fping(testnet.client, live, 2).values())


def test_namespace_is_removed_with_its_processes() -> None:
    from lib.netns import require_netns_support
    require_netns_support()
    with NetNs() as ns:
        name: str = ns.name
        sleeper = ns.popen(["sleep", "60"])
        # A process not started through popen must be killed too.
        ns.run(["sh", "-c", "sleep 60 >/dev/null 2>&1 &"])
        stray: list[int] = wait_until(lambda: [p for p in ns.pids() if p != sleeper.pid], 5,
                                      message="stray sleep in namespace")
    assert sleeper.poll() is not None
    assert not any(os.path.exists(f"/proc/{pid}") and
                   open(f"/proc/{pid}/stat").read().split()[2] != "Z" for pid in stray)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert name not in listed


_V4 = {
    "198.19.0.11": {"delay_ms": 50},
    "198.19.0.12": {"dup": 2},
    "198.19.0.13": {"corrupt": True},
    "198.19.0.15": {"wrong_id": True},
    "198.19.0.17": {"src": "198.19.0.99"},
    "198.19.0.18": {"ttl": 33},
    "198.19.0.19": {"delay_ms": 700},
    "198.19.0.20": {"pattern": "10"},
    "198.19.0.21": {"drop": True},
}


def _v6(v4: dict[str, dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for addr, spec in v4.items():
        spec = dict(spec)
        if "src" in spec:
            spec["src"] = "2001:2:0:1::99"
        out["2001:2:0:1::" + addr.rsplit(".", 1)[1]] = spec
    return out


@pytest.mark.time_limit(90)
@pytest.mark.parametrize("family", ["ip4", "ip6"])
def test_tun_responder_faults_seen_by_ping(netns: NetNs, family: str, tmp_path) -> None:
    behaviours = _V4 if family == "ip4" else _v6(_V4)
    addr = {int(a.rsplit(".", 1)[1]) if family == "ip4" else int(a.rsplit(":", 1)[1]): a
            for a in behaviours}
    log_path = str(tmp_path / "requests.jsonl")
    with TunResponder(netns, behaviours, log_path=log_path) as responder:
        rc, out = _ping_lines(netns, addr[11])
        rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]
        assert rc == 0 and len(rtts) == 4 and all(45 <= r <= 65 for r in rtts), out

        rc, out = _ping_lines(netns, addr[12])
        # ping exits on the last original reply, so the last request's copies may go unseen.
        assert rc == 0 and 6 <= out.count("(DUP!)") <= 8, out

        rc, out = _ping_lines(netns, addr[13])
        assert "wrong data byte" in out, out

        rc, out = _ping_lines(netns, addr[15], count=2)
        assert rc != 0 and " 0 received" in out, out

        rc, out = _ping_lines(netns, addr[17], count=2)
        assert "DIFFERENT ADDRESS" in out, out
        assert re.search(r"from (198\.19\.0\.99|2001:2:0:1::99): ", out), out

        rc, out = _ping_lines(netns, addr[18], count=2)
        ttls = re.findall(r"ttl=(\d+)", out)
        assert ttls == ["33", "33"], out

        # The "late" host is a long delay; what counts as late is the prober's timeout.
        rc, out = _ping_lines(netns, addr[19], count=1, wait_s="2")
        rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]
        assert rc == 0 and len(rtts) == 1 and 690 <= rtts[0] <= 730, out

        rc, out = _ping_lines(netns, addr[20], count=6)
        seqs = [int(s) for s in re.findall(r"icmp_seq=(\d+)", out)]
        assert seqs == [1, 3, 5], out

        rc, out = _ping_lines(netns, addr[21], count=2)
        assert rc != 0 and " 0 received" in out, out

        seen = responder.events()
        assert {e["dst"] for e in seen} >= set(behaviours)
        assert all(e["answered"] == (e["nth"] % 2 == 0) for e in seen if e["dst"] == addr[20])
        assert responder.stop() == 0


def test_tun_responder_exits_on_stdin_eof_and_lifetime(netns: NetNs) -> None:
    responder = TunResponder(netns, {}, max_lifetime_s=1.0)
    with responder:
        proc = responder._proc  # noqa: SLF001 - white-box check of the lifetime bound
        assert proc is not None
        start = time.monotonic()
        proc.wait(timeout=5)
        assert proc.returncode == 0 and time.monotonic() - start < 3
    responder = TunResponder(netns, {})
    with responder:
        proc = responder._proc  # noqa: SLF001
        assert proc is not None and proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=5)
        assert proc.returncode == 0


def test_metrics_parser_and_toml_writer() -> None:
    text = ('# HELP a_total A.\n# TYPE a_total counter\n'
            'a_total{target="x",address="::1",k="q\\"u\\\\o\\n"} 3\n'
            'h_bucket{le="+Inf"} 4\nh_sum 0.5 1700000000000\nnan_metric NaN\n')
    m = parse_metrics(text)
    assert m.types == {"a_total": "counter"}
    assert m.one("a_total", target="x") == 3
    assert m.get_value("a_total", target="x", address="::1", k='q"u\\o\n') == 3
    assert m.one("h_bucket", le="+Inf") == 4 and m.one("h_sum") == 0.5
    with pytest.raises(ValueError):
        parse_metrics("a 1\na 2\n")
    with pytest.raises(ValueError):
        parse_metrics("a{b=c} 1\n")
    toml = to_toml({"workers": 2, "defaults": {"interval": "1s", "dont_fragment": False},
                    "targets": [{"hosts": ["127.0.0.1"], "labels": {"site": "a\"b"}}]})
    assert toml == ('workers = 2\n\n[defaults]\ninterval = "1s"\ndont_fragment = false\n\n'
                    '[[targets]]\nhosts = ["127.0.0.1"]\nlabels = { site = "a\\"b" }\n')
