"""Mesh mode end to end: six "nodes" (network namespaces on one bridge, 198.18.1.0/24), each
running the exporter exactly as the Helm chart's `mode: mesh` configures it (the rendered
ConfigMap and container arguments, --source.name = the node), the peers' name resolved through
a namespace-private hosts file listing every node (as the headless Service's DNS would), and a
real Prometheus scraping all six with the ServiceMonitor's metric relabelling and the chart's
rules (windows shortened through the chart's values); a second one, the same with
--enable-feature=native-histograms, checks the RTT rule and the dashboard over native series.

Faults: one node drops every ICMP packet (nft); later, with that node still dark, the link
between two other nodes drops. Each time, within two minutes, PingMeshNodeDown names that node
and only it, PingMeshLinkBad names that pair (both directions) and only it. Every query of the
mesh dashboard returns data. Nothing outside the namespaces made here is pinged.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Iterator

import pytest
import yaml

from lib.exporter import Exporter, require_binary, wait_until
from lib.netns import NetNs, require_netns_support
from lib.prometheus import PROMETHEUS_BIN, Prometheus

ECOSYSTEM = pathlib.Path(__file__).resolve().parents[1] / "ecosystem"
if str(ECOSYSTEM) not in sys.path:
    sys.path.insert(0, str(ECOSYSTEM))

import dashboard_queries  # noqa: E402
import helmrender_build  # noqa: E402

REPO = pathlib.Path(__file__).resolve().parents[2]
NODES: list[str] = [f"node-{c}" for c in "abcdef"]
ADDRESS: dict[str, str] = {n: f"198.18.1.{i + 1}" for i, n in enumerate(NODES)}
PROMETHEUS_ADDRESS = "198.18.1.100"
PORT = 9823
DOWN, LINK = "node-c", ("node-a", "node-b")
# The chart's values, with probes and windows short enough for a test.
CHART_VALUES: list[str] = [
    "mode=mesh", "serviceMonitor.enabled=true", "prometheusRule.enabled=true",
    "mesh.probe.interval=1s", "mesh.probe.timeout=400ms", "mesh.probe.spacing=100ms",
    "mesh.probe.resolve_interval=5s",
    "prometheusRule.mesh.recordingInterval=1s", "prometheusRule.mesh.rateWindow=15s",
    "prometheusRule.mesh.nodeDown.for=5s", "prometheusRule.mesh.linkBad.for=5s",
]
CAMEL_TO_SNAKE = {"sourceLabels": "source_labels", "targetLabel": "target_label"}
LOSS_THRESHOLD = 0.2  # prometheusRule.mesh.lossThreshold


def render_chart(scratch: pathlib.Path) -> dict[str, Any]:
    """The chart's objects in mesh mode, by kind."""
    binary, _ = helmrender_build.build(scratch)
    argv = [str(binary), "--api-versions", "monitoring.coreos.com/v1"]
    for value in CHART_VALUES:
        argv += ["--set", value]
    proc = subprocess.run([*argv, str(REPO / "helm" / "ping-exporter")], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return {d["kind"]: d for d in yaml.safe_load_all(proc.stdout) if d}


class MeshBed(contextlib.ExitStack):
    """The namespaces, hosts files, agents and Prometheus of the test."""

    def __init__(self, objects: dict[str, Any]) -> None:
        super().__init__()
        self.objects = objects
        self.nodes: dict[str, NetNs] = {}
        self.agents: dict[str, Exporter] = {}
        self.prometheus: Prometheus | None = None
        # The same scrape and rules with native histograms: RTT from the native series.
        self.native: Prometheus | None = None
        self.dir = tempfile.mkdtemp(prefix="pe-mesh-")
        self.callback(shutil.rmtree, self.dir, ignore_errors=True)

    def _switch(self) -> NetNs:
        switch = self.enter_context(NetNs("pe-sw-"))
        switch.ip("link", "add", "br0", "type", "bridge")
        switch.ip("link", "set", "br0", "up")
        return switch

    def _attach(self, switch: NetNs, ns: NetNs, port: str, address: str) -> None:
        ns.ip("link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", switch.name)
        ns.ip("addr", "add", f"{address}/24", "dev", "eth0")
        ns.ip("link", "set", "eth0", "up")
        switch.ip("link", "set", port, "master", "br0", "up")

    def _private_resolver(self, ns: NetNs, name: str) -> None:
        """/etc/netns/NS/{hosts,resolv.conf}: `ip netns exec` binds them over /etc. The hosts
        file lists every node for the peers' name, as the headless Service's DNS answers; the
        nameserver is the namespace's own loopback, where nothing listens."""
        directory = pathlib.Path("/etc/netns") / ns.name
        directory.mkdir(parents=True)
        self.callback(self._remove_resolver, directory)
        lines = ["127.0.0.1 localhost"]
        for host in (name, name.rstrip(".")):
            lines += [f"{ADDRESS[n]} {host}" for n in NODES]
        (directory / "hosts").write_text("\n".join(lines) + "\n")
        (directory / "resolv.conf").write_text("nameserver 127.0.0.1\n")

    @staticmethod
    def _remove_resolver(directory: pathlib.Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)
        with contextlib.suppress(OSError):
            directory.parent.rmdir()  # only if no one else uses it

    def start(self) -> None:
        config = self.objects["ConfigMap"]["data"]["config.toml"]
        mesh_host = next(line.split('"')[1] for line in config.splitlines()
                         if line.startswith("hosts = [") and ".svc." in line)
        container = self.objects["DaemonSet"]["spec"]["template"]["spec"]["containers"][0]
        chart_args = [a for a in container["args"]
                      if not a.startswith(("--config.file=", "--web.listen-address="))]
        switch = self._switch()
        for i, node in enumerate(NODES):
            ns = self.enter_context(NetNs("pe-node-"))
            self.nodes[node] = ns
            self._attach(switch, ns, f"p{i}", ADDRESS[node])
            self._private_resolver(ns, mesh_host)
        for node, ns in self.nodes.items():
            # The downward API's node name, and the address Prometheus scrapes it at.
            args = [a.replace("$(NODE_NAME)", node) for a in chart_args]
            args.append(f"--web.listen-address={ADDRESS[node]}:{PORT}")
            self.agents[node] = self.enter_context(Exporter(config, netns=ns, extra_args=args))
        prom_ns = self.enter_context(NetNs("pe-prom-"))
        self._attach(switch, prom_ns, "prom", PROMETHEUS_ADDRESS)
        config_file = self._prometheus_config()
        self.prometheus = self.enter_context(Prometheus(config_file=config_file, netns=prom_ns))
        self.native = self.enter_context(Prometheus(
            config_file=config_file, netns=prom_ns,
            extra_args=["--enable-feature=native-histograms"]))

    def _prometheus_config(self) -> str:
        """The ServiceMonitor's scrape as a static job, with the chart's rules."""
        rules = {"groups": self.objects["PrometheusRule"]["spec"]["groups"]}
        for group in rules["groups"]:
            group.pop("interval", None)  # everything at the 1 s global interval
        rules_path = os.path.join(self.dir, "rules.yml")
        with open(rules_path, "w", encoding="utf-8") as f:
            yaml.safe_dump(rules, f)
        endpoint = self.objects["ServiceMonitor"]["spec"]["endpoints"][0]
        relabel = [{CAMEL_TO_SNAKE.get(k, k): v for k, v in r.items()}
                   for r in endpoint["metricRelabelings"]]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                       "scrape_timeout": "1s"},
            "rule_files": [rules_path],
            "scrape_configs": [{
                "job_name": "ping-mesh", "metrics_path": endpoint["path"],
                "static_configs": [{"targets": [f"{ADDRESS[n]}:{PORT}" for n in NODES]}],
                "metric_relabel_configs": relabel}],
        }
        path = os.path.join(self.dir, "prometheus.yml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f)
        return path


@pytest.fixture
def bed(tmp_path: pathlib.Path) -> Iterator[MeshBed]:
    require_binary()
    require_netns_support()
    if not os.access(PROMETHEUS_BIN, os.X_OK):
        pytest.skip("prometheus (Debian package) not installed")
    with MeshBed(render_chart(tmp_path)) as running:
        running.start()
        yield running
        for agent in running.agents.values():
            assert agent.stop() == 0


def firing(prom: Prometheus, alert: str) -> set[tuple[str, ...]]:
    """(source, destination) or (destination,) of each firing instance of `alert`."""
    found = set()
    for r in prom.query(f'ALERTS{{alertname="{alert}",alertstate="firing"}}'):
        m = r["metric"]
        found.add((m["source"], m["destination"]) if "source" in m else (m["destination"],))
    return found


def pairs(prom: Prometheus, record: str = "source_destination:ping_mesh_loss_ratio:rate"
          ) -> dict[tuple[str, str], float]:
    return {(r["metric"]["source"], r["metric"]["destination"]): float(r["value"][1])
            for r in prom.query(record)}


def check_dashboard(prom: Prometheus) -> None:
    """Every query of the mesh dashboard returns data, with each legend's labels."""
    dash = dashboard_queries.load(dashboard_queries.MESH_DASHBOARD)
    problems: list[str] = []
    ran = 0
    for choice in ({"source": "$__all", "destination": "$__all"},
                   {"source": "node-a", "destination": "node-d"}):
        values = dashboard_queries.variable_values(dash, choice)
        for where, _, target in dashboard_queries.queries(dash):
            expr = dashboard_queries.substitute(target["expr"], values)
            result = prom.query(expr)
            ran += 1
            if not result:
                problems.append(f"{where} {choice}: no data\n    {expr}")
                continue
            labels = set().union(*(r["metric"] for r in result))
            for wanted in re.findall(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}",
                                     target.get("legendFormat", "")):
                if wanted not in labels and "or vector(0)" not in target["expr"]:
                    problems.append(f"{where}: legend {wanted} not in {sorted(labels)}")
    assert ran >= 20
    assert problems == [], "\n".join(problems)


@pytest.mark.time_limit(360)
def test_mesh_alerts_name_the_dead_node_and_the_broken_link(bed: MeshBed) -> None:
    prom = bed.prometheus
    assert prom is not None
    everyone = {(s, d) for s in NODES for d in NODES if s != d}

    # Healthy: every node measures every other (never itself, exclude_local), named by node.
    # (Healthy: under the loss threshold; a loaded machine may time out an echo now and then.)
    healthy = wait_until(lambda: (p := pairs(prom)) and set(p) == everyone
                         and all(v < LOSS_THRESHOLD for v in p.values()) and p, 60, interval=1,
                         message="30 healthy pairs named by node")
    assert len(healthy) == len(NODES) * (len(NODES) - 1)
    addresses = {r["metric"]["source"]: r["metric"]["address"]
                 for r in prom.query("source:ping_mesh_agent_address:info")}
    assert addresses == ADDRESS
    # The ServiceMonitor's relabelling keeps only what the rules read of the mesh series.
    assert prom.query('ping_rtt_seconds_bucket{group="mesh"}') == []
    assert prom.query('ping_rtt_seconds_bucket{group="loopback"}') != []
    # A Prometheus keeping native histograms: the relabelling keeps the native series, and the
    # RTT rule reads it (no _sum/_count there) for every pair.
    native = bed.native
    assert native is not None
    rtts = wait_until(lambda: (p := pairs(native, "source_destination:ping_mesh_rtt_seconds:mean"))
                      and set(p) == everyone and p, 60, interval=1,
                      message="native: RTT of 30 pairs named by node")
    assert all(0 < v < 0.1 for v in rtts.values()), rtts
    assert native.query('ping_rtt_seconds_sum{group="mesh"}') == []
    assert native.query('ping_rtt_seconds{group="mesh"}') != []
    assert firing(prom, "PingMeshNodeDown") == set() and firing(prom, "PingMeshLinkBad") == set()

    # One node drops all ICMP: its peers lose it and it loses them.
    bed.nodes[DOWN].add_input_rule("meta l4proto icmp drop")
    began = time.monotonic()
    wait_until(lambda: firing(prom, "PingMeshNodeDown") == {(DOWN,)}, 120, interval=1,
               message=f"PingMeshNodeDown for {DOWN} only")
    assert firing(prom, "PingMeshLinkBad") == set()
    print(f"\nPingMeshNodeDown fired {time.monotonic() - began:.1f} s after the fault")

    # Then one link: a and b stop hearing each other (one rule drops both directions' ICMP).
    a, b = LINK
    bed.nodes[a].add_input_rule(f"ip saddr {ADDRESS[b]} meta l4proto icmp drop")
    began = time.monotonic()
    wait_until(lambda: firing(prom, "PingMeshLinkBad") == {(a, b), (b, a)}, 120, interval=1,
               message=f"PingMeshLinkBad for {a} <-> {b} only")
    print(f"PingMeshLinkBad fired {time.monotonic() - began:.1f} s after the fault")
    assert firing(prom, "PingMeshNodeDown") == {(DOWN,)}
    check_dashboard(prom)
    check_dashboard(native)
