"""The Helm chart, rendered offline by tests/ecosystem/helmrender in each mode, then checked:
yamllint, the fields each kind needs, security settings, flags the binary really accepts, and
the rendered ConfigMap's TOML through `ping_exporter --config.check`."""

from __future__ import annotations

import os
import pathlib
import re
import shlex
import stat
import subprocess
from typing import Any

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "ping-exporter"
TESTDATA = pathlib.Path(__file__).resolve().parent / "testdata"

MODES: dict[str, list[str]] = {
    "deployment": [],
    "daemonset": ["--set", "kind=DaemonSet", "--set", "hostNetwork=true"],
    "statefulset": ["--set", "kind=StatefulSet,replicas=3"],
    "datagram": ["--set", "icmp.netRaw=false", "--set", "icmp.pingGroupRange.enabled=true",
                 "--set", "icmp.socket=dgram"],
    "monitoring": ["--set", "serviceMonitor.enabled=true", "--set", "prometheusRule.enabled=true",
                   "--set", "prometheusRule.labels.release=kube-prometheus",
                   "--api-versions", "monitoring.coreos.com/v1"],
    "groups": ["-f", str(TESTDATA / "helm-values-groups.yaml"), "--name", "edge",
               "--namespace", "monitoring",
               "--set-string", "podAnnotations.owner=team-{{ .Release.Name }}"],
    "mesh": ["--set", "mode=mesh", "--set", "serviceMonitor.enabled=true",
             "--set", "prometheusRule.enabled=true", "--api-versions", "monitoring.coreos.com/v1"],
}
WORKLOADS = {"Deployment", "DaemonSet", "StatefulSet"}
KNOWN_KINDS = WORKLOADS | {"ConfigMap", "Service", "ServiceAccount", "ServiceMonitor",
                           "PrometheusRule"}
API_VERSIONS = {"Deployment": "apps/v1", "DaemonSet": "apps/v1", "StatefulSet": "apps/v1",
                "ConfigMap": "v1", "Service": "v1", "ServiceAccount": "v1",
                "ServiceMonitor": "monitoring.coreos.com/v1",
                "PrometheusRule": "monitoring.coreos.com/v1"}


def render(helmrender: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([helmrender, *args, str(CHART)], capture_output=True, text=True,
                          timeout=60)


@pytest.fixture(scope="module")
def rendered(helmrender: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for mode, args in MODES.items():
        proc = render(helmrender, *args)
        assert proc.returncode == 0, f"{mode}: {proc.stderr}"
        out[mode] = proc.stdout
    return out


def docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def workload(objects: list[dict[str, Any]]) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] in WORKLOADS]
    assert len(found) == 1, [o["kind"] for o in found]
    return found[0]


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    containers = workload(objects)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def flags_in(c: dict[str, Any]) -> list[str]:
    """Every --flag the container passes to the exporter: its args, and those inside a shell
    wrapper's script."""
    words: list[str] = list(c.get("args", []))
    command = c.get("command", [])
    if command[:2] == ["/bin/sh", "-c"]:
        words += shlex.split(command[2])
    return [w.split("=", 1)[0] for w in words if w.startswith("--")]


def config_toml(objects: list[dict[str, Any]]) -> str:
    maps = by_kind(objects, "ConfigMap")
    assert len(maps) == 1
    return maps[0]["data"]["config.toml"]


# -- the renderer and the chart render in every mode -------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_yamllint_relaxed(rendered: dict[str, str], mode: str, tmp_path: pathlib.Path) -> None:
    out = tmp_path / f"{mode}.yaml"
    out.write_text(rendered[mode])
    proc = subprocess.run(["yamllint", "-f", "parsable", "-d", "relaxed", str(out)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("mode", MODES)
def test_objects_have_required_fields(rendered: dict[str, str], mode: str) -> None:
    objects = docs(rendered[mode])
    names: set[tuple[str, str]] = set()
    for obj in objects:
        kind = obj.get("kind")
        assert kind in KNOWN_KINDS, kind
        assert obj.get("apiVersion") == API_VERSIONS[kind], obj
        meta = obj["metadata"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", meta["name"]), meta["name"]
        assert meta["labels"]["app.kubernetes.io/name"] == "ping-exporter"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert (kind, meta["name"]) not in names, f"duplicate {kind}/{meta['name']}"
        names.add((kind, meta["name"]))
        assert meta["namespace"] == ("monitoring" if mode == "groups" else "default")

    wl = workload(objects)
    spec = wl["spec"]
    pod = spec["template"]
    selector = spec["selector"]["matchLabels"]
    assert selector and selector.items() <= pod["metadata"]["labels"].items()
    if wl["kind"] == "DaemonSet":
        assert "replicas" not in spec
    else:
        assert isinstance(spec["replicas"], int) and spec["replicas"] >= 1

    c = container(objects)
    assert c["image"] and ":" in c["image"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 9823}
    assert c["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http"}
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]

    # The config file flag points into the mounted ConfigMap.
    config_flags = [a for a in c["args"] if a.startswith("--config.file=")]
    assert len(config_flags) == 1
    config_path = pathlib.PurePosixPath(config_flags[0].split("=", 1)[1])
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mount_name = next(n for n, p in mounts.items() if p == str(config_path.parent))
    configmap = volumes[mount_name]["configMap"]["name"]
    assert [m["metadata"]["name"] for m in by_kind(objects, "ConfigMap")] == [configmap]
    assert config_path.name in by_kind(objects, "ConfigMap")[0]["data"]

    services = by_kind(objects, "Service")
    main = [s for s in services if s["spec"].get("clusterIP") != "None"]
    assert len(main) == 1
    assert main[0]["spec"]["selector"] == selector
    assert [p["targetPort"] for p in main[0]["spec"]["ports"]] == ["http"]
    if wl["kind"] == "StatefulSet":
        headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
        assert [s["metadata"]["name"] for s in headless] == [spec["serviceName"]]
    account = pod["spec"]["serviceAccountName"]
    assert [a["metadata"]["name"] for a in by_kind(objects, "ServiceAccount")] == [account]


@pytest.mark.parametrize("mode", MODES)
def test_security_context(rendered: dict[str, str], mode: str) -> None:
    objects = docs(rendered[mode])
    pod_spec = workload(objects)["spec"]["template"]["spec"]
    pod_sc = pod_spec["securityContext"]
    c = container(objects)
    sc = c["securityContext"]
    assert pod_sc["runAsNonRoot"] is True and sc["runAsNonRoot"] is True
    assert pod_sc["runAsUser"] != 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    added = sc["capabilities"].get("add", [])
    assert added in ([], ["NET_RAW"])
    # File capabilities need privilege escalation allowed; without NET_RAW it must be off.
    assert sc["allowPrivilegeEscalation"] is bool(added)
    sysctls = {s["name"]: s["value"] for s in pod_sc.get("sysctls", [])}
    if mode == "datagram":
        assert added == []
        assert sysctls == {"net.ipv4.ping_group_range": "0 2147483647"}
    else:
        assert added == ["NET_RAW"] and sysctls == {}
    assert pod_spec["automountServiceAccountToken"] is False


def test_pod_annotations_are_templated(rendered: dict[str, str]) -> None:
    pod = workload(docs(rendered["groups"]))["spec"]["template"]
    assert pod["metadata"]["annotations"]["owner"] == "team-edge"
    assert re.fullmatch(r"[0-9a-f]{64}", pod["metadata"]["annotations"]["checksum/config"])


def test_daemonset_host_network(rendered: dict[str, str]) -> None:
    pod_spec = workload(docs(rendered["daemonset"]))["spec"]["template"]["spec"]
    assert pod_spec["hostNetwork"] is True
    assert pod_spec["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert "hostNetwork" not in workload(docs(rendered["deployment"]))["spec"]["template"]["spec"]


def test_monitoring_objects(rendered: dict[str, str]) -> None:
    objects = docs(rendered["monitoring"])
    monitors = by_kind(objects, "ServiceMonitor")
    assert len(monitors) == 1
    service = by_kind(objects, "Service")[0]
    assert monitors[0]["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    assert [e["port"] for e in monitors[0]["spec"]["endpoints"]] == ["http"]
    assert monitors[0]["spec"]["endpoints"][0]["path"] == "/metrics"
    rules = by_kind(objects, "PrometheusRule")
    assert len(rules) == 1
    assert rules[0]["metadata"]["labels"]["release"] == "kube-prometheus"
    # The default rendering is config/alerts.yml (test_alerts checks it byte for byte).
    expected = yaml.safe_load((REPO / "config" / "alerts.yml").read_text())
    assert rules[0]["spec"] == expected
    for mode in ("deployment", "groups"):
        kinds = {o["kind"] for o in docs(rendered[mode])}
        assert not kinds & {"ServiceMonitor", "PrometheusRule"}, mode


def test_mesh_mode_objects(rendered: dict[str, str]) -> None:
    """mode: mesh is a DaemonSet on every node naming itself after its node, a headless
    Service listing every agent (ready or not) that the ConfigMap's mesh group resolves, a
    ServiceMonitor keeping only the mesh series the rules read, and the mesh rules."""
    import tomllib

    objects = docs(rendered["mesh"])
    wl = workload(objects)
    assert wl["kind"] == "DaemonSet"
    pod_spec = wl["spec"]["template"]["spec"]
    assert {"operator": "Exists"} in pod_spec["tolerations"]
    c = container(objects)
    assert c["env"] == [{"name": "NODE_NAME",
                         "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    assert "--source.name=$(NODE_NAME)" in c["args"]

    headless = [s for s in by_kind(objects, "Service") if s["spec"].get("clusterIP") == "None"]
    assert len(headless) == 1
    assert headless[0]["spec"]["publishNotReadyAddresses"] is True
    assert headless[0]["spec"]["selector"] == wl["spec"]["selector"]["matchLabels"]

    config = tomllib.loads(config_toml(objects))
    mesh = [g for g in config["targets"] if g["name"] == "mesh"]
    assert len(mesh) == 1
    name = headless[0]["metadata"]["name"]
    assert mesh[0]["hosts"] == [f"{name}.default.svc.cluster.local."]
    assert mesh[0]["all_addresses"] is True and mesh[0]["exclude_local"] is True
    assert mesh[0]["family"] == "ip4" and mesh[0]["interval"] == "10s"

    monitor = by_kind(objects, "ServiceMonitor")[0]["spec"]["endpoints"][0]
    assert monitor["interval"] == "30s"
    relabel = monitor["metricRelabelings"]
    assert relabel[1] == {"sourceLabels": ["group", "__tmp_mesh_keep"], "regex": "mesh;",
                          "action": "drop"}
    kept = set(relabel[0]["regex"].split("|"))
    rules = yaml.safe_load((REPO / "config" / "alerts-mesh.yml").read_text())
    read = set(re.findall(r"\b(ping_[a-z_]+)\{group=", yaml.safe_dump(rules)))
    assert read and read <= kept, f"the mesh rules read {read - kept}, which are dropped"

    spec = by_kind(objects, "PrometheusRule")[0]["spec"]
    default = yaml.safe_load((REPO / "config" / "alerts.yml").read_text())["groups"]
    assert spec["groups"] == default + rules["groups"]


@pytest.mark.parametrize("args,expected", [
    ([], ["--source.name", ""]),
    (["--set", "sourceName=central"], ["--source.name=central"]),
])
def test_source_name_outside_mesh_mode(helmrender: str, args: list[str],
                                       expected: list[str]) -> None:
    """Outside mesh mode no source label unless asked: the default, the pod name, would start
    every series anew at each rollout."""
    proc = render(helmrender, *args)
    assert proc.returncode == 0, proc.stderr
    c_args = container(docs(proc.stdout))["args"]
    at = next(i for i, a in enumerate(c_args) if a.startswith("--source.name"))
    assert c_args[at:at + len(expected)] == expected


@pytest.mark.parametrize("args,expected", [
    ([], None),
    (["--set", "mode=mesh"], "64"),
    (["--set", "mode=mesh", "--set", "web.maxConnections=200"], "200"),
    (["--set", "web.maxConnections=32"], "32"),
])
def test_max_connections(helmrender: str, args: list[str], expected: str | None) -> None:
    """A mesh agent parks 64 HTTP connection threads rather than the binary's 512 (its
    clients are Prometheus and the kubelet); web.maxConnections overrides either."""
    proc = render(helmrender, *args)
    assert proc.returncode == 0, proc.stderr
    given = [a.split("=", 1)[1] for a in container(docs(proc.stdout))["args"]
             if a.startswith("--web.max-connections")]
    assert given == ([] if expected is None else [expected])


def test_statefulset_shard_wrapper_computes_ordinal(rendered: dict[str, str],
                                                     tmp_path: pathlib.Path) -> None:
    """Runs the container's shell wrapper with a stand-in binary that prints its arguments."""
    c = container(docs(rendered["statefulset"]))
    command = c["command"]
    assert command[:2] == ["/bin/sh", "-c"] and len(command) == 4
    stand_in = tmp_path / "ping_exporter"
    stand_in.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    stand_in.chmod(stand_in.stat().st_mode | stat.S_IXUSR)
    script = command[2].replace("/usr/local/bin/ping_exporter", str(stand_in))
    assert script != command[2], "wrapper must exec /usr/local/bin/ping_exporter"
    env_names = [e["name"] for e in c["env"]]
    assert env_names == ["POD_NAME"]
    assert c["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    for ordinal in (0, 2):
        proc = subprocess.run(["/bin/sh", "-c", script, command[3], *c["args"]],
                              capture_output=True, text=True, timeout=10,
                              env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                   "POD_NAME": f"edge-ping-exporter-{ordinal}"})
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == [f"--shard={ordinal}/3", *c["args"]]


# -- against the exporter binary ----------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_container_flags_are_accepted_by_binary(rendered: dict[str, str], mode: str,
                                                exporter_flags: set[str]) -> None:
    used = flags_in(container(docs(rendered[mode])))
    assert "--config.file" in used
    unknown = sorted(set(used) - exporter_flags)
    assert unknown == [], f"flags not in `ping_exporter --help`: {unknown}"


def test_flag_check_catches_unknown_flag(helmrender: str, exporter_flags: set[str]) -> None:
    proc = render(helmrender, "--set", "extraArgs={--no-such.flag=1}")
    assert proc.returncode == 0, proc.stderr
    assert "--no-such.flag" in flags_in(container(docs(proc.stdout)))
    assert "--no-such.flag" not in exporter_flags


@pytest.mark.parametrize("mode", MODES)
def test_configmap_passes_config_check(rendered: dict[str, str], mode: str,
                                       exporter_bin: str, exporter_help: str,
                                       tmp_path: pathlib.Path) -> None:
    toml = tmp_path / "config.toml"
    toml.write_text(config_toml(docs(rendered[mode])))
    proc = subprocess.run([exporter_bin, "--config.check", f"--config.file={toml}"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"{toml.read_text()}\n{proc.stdout}{proc.stderr}"


def test_config_check_rejects_invalid_values(helmrender: str, exporter_bin: str,
                                             exporter_help: str, tmp_path: pathlib.Path) -> None:
    """The check above can fail: count = 0 renders fine but is not a valid config."""
    proc = render(helmrender, "--set", "config.defaults.count=0")
    assert proc.returncode == 0, proc.stderr
    toml = tmp_path / "config.toml"
    toml.write_text(config_toml(docs(proc.stdout)))
    assert "count = 0" in toml.read_text()
    check = subprocess.run([exporter_bin, "--config.check", f"--config.file={toml}"],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode != 0, check.stdout + check.stderr


def test_rendered_toml_matches_values(rendered: dict[str, str]) -> None:
    """The ConfigMap says what the values say (parsed back with Python's TOML reader)."""
    import tomllib

    config = tomllib.loads(config_toml(docs(rendered["groups"])))
    values = yaml.safe_load((TESTDATA / "helm-values-groups.yaml").read_text())["config"]
    assert config["workers"] == values["workers"]
    assert config["rtt_buckets"] == values["rtt_buckets"]
    assert config["group_label"] is values["group_label"] is False
    assert config["defaults"] == values["defaults"]
    assert config["targets"] == values["targets"]
    default = tomllib.loads(config_toml(docs(rendered["deployment"])))
    chart_values = yaml.safe_load((CHART / "values.yaml").read_text())["config"]
    assert default["defaults"] == chart_values["defaults"]
    assert [t["hosts"] for t in default["targets"]] == [["127.0.0.1", "::1"]]
    assert "rtt_buckets" not in default  # empty list: the exporter's default buckets
    assert default["group_label"] is True


# -- the chart refuses bad values ----------------------------------------------------------------
@pytest.mark.parametrize("args,message", [
    (["--set", "kind=ReplicaSet"], "kind must be one of"),
    (["--set", "mode=ring"], "mode must be one of"),
    (["--set", "icmp.netRaw=false"], "cannot open ICMP sockets"),
    (["--set", "config.targets=null"], "at least one group"),
    (["--set", "replicas=0"], "replicas must be at least 1"),
    (["--set", "image.repository="], "image.repository is required"),
])
def test_chart_rejects_bad_values(helmrender: str, args: list[str], message: str) -> None:
    proc = render(helmrender, *args)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_renderer_rejects_unknown_template_function(helmrender: str,
                                                   tmp_path: pathlib.Path) -> None:
    """The renderer fails loudly, not silently, on a template error."""
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.0.1\n")
    (chart / "values.yaml").write_text("a: 1\n")
    (chart / "templates" / "x.yaml").write_text("v: {{ nosuchfunc .Values.a }}\n")
    proc = subprocess.run([helmrender, str(chart)], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "nosuchfunc" in proc.stderr
