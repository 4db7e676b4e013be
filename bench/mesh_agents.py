#!/usr/bin/env python3
"""Mesh mode per agent: CPU, RSS and scrape size of agents that each ping 200 peers.

Run by hand, as root (network namespaces, raw ICMP sockets):

    /usr/bin/python3 bench/mesh_agents.py --binary build-bench/ping_exporter --peers 200

Each agent runs in a network namespace of its own, as in mesh mode: it owns one loopback alias
(127.1.0.K/32, its "node address") and resolves the peers' name through a namespace-private
hosts file listing all PEERS + 1 aliases; with `all_addresses` and `exclude_local` it pings the
other PEERS (its own namespace's lo answers all of 127.0.0.0/8, so nothing outside 127/8 is
pinged, and nothing leaves the namespace). The mesh group's probe options are the chart's
defaults (helm/ping-exporter/values.yaml `mesh.probe`) unless --interval overrides them.

After a warm-up of two rounds, CPU is utime + stime over --duration seconds (per agent, and per
echo request), RSS is VmRSS at the end, and one scrape per agent gives the body size and the
number of series, in all and of those the chart's ServiceMonitor keeps (`mesh.keepSeries`).
Python 3 standard library, python3-yaml, and tests/lib.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from lib.exporter import Exporter, rss_mib, wait_until  # noqa: E402
from lib.netns import NetNs  # noqa: E402
from run import cpu_seconds  # noqa: E402

MESH_NAME = "ping-exporter-mesh.bench.svc.cluster.local."


def node_address(k: int) -> str:
    return f"127.1.{k // 250}.{k % 250 + 1}"


def mesh_config(values: dict, interval: str | None) -> str:
    """The chart's mesh group (templates/_helpers.tpl) for MESH_NAME, from its values."""
    mesh = values["mesh"]
    probe = dict(mesh["probe"])
    if interval:
        probe["interval"] = interval
    lines = ["[[targets]]", f'name = "{mesh["group"]}"', f'hosts = ["{MESH_NAME}"]',
             f'family = "{mesh["family"]}"', "all_addresses = true", "exclude_local = true"]
    lines += [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}" for k, v in probe.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.environ.get("PING_EXPORTER_BIN", "build/ping_exporter"))
    ap.add_argument("--peers", type=int, default=200, help="peers of each agent")
    ap.add_argument("--agents", type=int, default=4, help="agents measured at once")
    ap.add_argument("--interval", help="override the chart's mesh.probe.interval (e.g. 1s)")
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    args = ap.parse_args()
    os.environ["PING_EXPORTER_BIN"] = os.path.abspath(args.binary)
    values = yaml.safe_load((REPO / "helm" / "ping-exporter" / "values.yaml").read_text())
    config = mesh_config(values, args.interval)
    interval_s = float(config.split('interval = "')[1].split("s")[0])
    keep = set(values["mesh"]["keepSeries"])
    nodes = [node_address(k) for k in range(args.peers + 1)]
    hosts = "127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for a in nodes
                                               for n in (MESH_NAME, MESH_NAME.rstrip(".")))

    with contextlib.ExitStack() as stack:
        agents: list[tuple[str, Exporter]] = []
        for k in range(args.agents):
            ns = stack.enter_context(NetNs("pe-mesh-bench-"))
            ns.ip("addr", "add", f"{nodes[k]}/32", "dev", "lo")
            etc = Path("/etc/netns") / ns.name
            etc.mkdir(parents=True)
            stack.callback(shutil.rmtree, etc, ignore_errors=True)
            (etc / "hosts").write_text(hosts)
            (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
            exp = stack.enter_context(Exporter(config, netns=ns, extra_args=[
                f"--source.name=node-{k}"]))
            agents.append((f"node-{k}", exp))

        def all_peers_up(exp: Exporter) -> bool:
            up = exp.metrics().select("ping_up", group=values["mesh"]["group"])
            return len(up) == args.peers and all(v == 1 for _, v in up)

        for _, exp in agents:
            wait_until(lambda: all_peers_up(exp), 3 * interval_s + 30, interval=0.5,
                       message=f"{args.peers} peers up")
        time.sleep(2 * interval_s)  # two more rounds: histograms and sockets warm
        before = {name: cpu_seconds(exp.proc.pid) for name, exp in agents}
        t0 = time.monotonic()
        time.sleep(args.duration)
        wall = time.monotonic() - t0
        rows = []
        for name, exp in agents:
            cpu = cpu_seconds(exp.proc.pid) - before[name]
            text = exp.scrape_text()
            series = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
            mesh = [ln for ln in series if f'group="{values["mesh"]["group"]}"' in ln]
            kept = [ln for ln in mesh if ln.split("{")[0] in keep]
            m = exp.metrics()
            sent = sum(v for _, v in m.select("ping_packets_sent_total"))
            rows.append((name, cpu / wall * 100, rss_mib(exp.proc.pid), len(text) / 1024,
                         len(series), len(mesh), len(kept), sent))
        requests_per_s = args.peers * int(config.split("count = ")[1].split()[0]) / interval_s
        print(f"{time.strftime('%Y-%m-%d')}, kernel {platform.release()}, {os.cpu_count()} CPUs, "
              f"binary {args.binary}")
        print(f"{args.agents} agents x {args.peers} peers, interval {interval_s:g} s "
              f"({requests_per_s:.0f} echo requests/s each), measured over {wall:.0f} s")
        print("| agent | CPU % of a core | CPU µs / request | RSS MiB | scrape KiB "
              "| series | mesh series | kept by the ServiceMonitor |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, cpu_pct, rss, kib, series, mesh, kept, _ in rows:
            per_request = cpu_pct / 100 / requests_per_s * 1e6
            print(f"| {name} | {cpu_pct:.2f} | {per_request:.1f} | {rss:.1f} | {kib:.0f} "
                  f"| {series} | {mesh} | {kept} |")
        for _, exp in agents:
            exp.stop()
    with contextlib.suppress(OSError):
        (Path("/etc/netns")).rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
