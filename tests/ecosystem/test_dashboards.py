"""Grafana dashboards: structure (dashboard_schema) and every PromQL expression run against a
real Prometheus that scraped a running exporter."""

from __future__ import annotations

import copy
import pathlib
import re
from typing import Any, Iterator

import pytest

import dashboard_schema
import stack
from dashboard_queries import (ALL_DASHBOARDS, DASHBOARD_DIR, DASHBOARDS, MESH_DASHBOARD, load,
                               queries, substitute,
                               variable_values)

# Expressions allowed to return no data on a healthy loopback, with the reason. Empty on
# purpose: "count of down targets" and "send errors" use `or vector(0)` to return 0 instead.
EXPECTED_EMPTY: dict[str, str] = {}


def test_expected_dashboards_exist() -> None:
    names = {p.name for p in ALL_DASHBOARDS}
    assert {"ping-overview.json", "ping-target.json", "ping-mesh.json"} <= names


# -- structure -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ALL_DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_structure(path: pathlib.Path) -> None:
    problems = dashboard_schema.dashboard_problems(load(path))
    assert problems == []


def test_dashboard_uids_are_unique() -> None:
    uids = [load(p)["uid"] for p in ALL_DASHBOARDS]
    assert len(uids) == len(set(uids)), uids


def test_overview_has_the_promised_panels() -> None:
    dash = load(DASHBOARD_DIR / "ping-overview.json")
    panels = [p for p in dashboard_schema.all_panels(dash) if p["type"] != "row"]
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in panels}
    types = {p["title"]: p["type"] for p in panels}
    # Up/down grid of all targets, as state tiles and as a state timeline.
    assert any(types[t] == "state-timeline" and "ping_up" in e for t, e in exprs.items())
    assert any(types[t] == "stat" and re.fullmatch(r"ping_up\{[^}]*\}", e) for t, e in exprs.items())
    assert any("ping_up" in e and "== 0" in e and "or vector(0)" in e for e in exprs.values())
    assert any("topk(" in e and "ping_loss_ratio" in e for e in exprs.values())
    assert any("topk(" in e and "ping_rtt_seconds_sum" in e for e in exprs.values())
    for health in ("ping_exporter_rounds_late_total", "ping_exporter_config_last_reload_successful",
                   "process_resident_memory_bytes", 'up{job=~"$job", instance=~"$instance"}'):
        assert any(health in e for e in exprs.values()), health


def test_target_dashboard_is_smokeping_style() -> None:
    dash = load(DASHBOARD_DIR / "ping-target.json")
    panels = [p for p in dashboard_schema.all_panels(dash) if p["type"] != "row"]
    smoke = [p for p in panels if sum("histogram_quantile(" in t["expr"] and
                                      "ping_rtt_seconds_bucket" in t["expr"]
                                      for t in p["targets"]) >= 3]
    assert smoke, "a panel with RTT quantile bands from ping_rtt_seconds"
    panel = smoke[0]
    overrides = panel["fieldConfig"]["overrides"]
    assert any(prop["id"] == "custom.fillBelowTo" for o in overrides for prop in o["properties"])
    loss_refs = {t["refId"] for t in panel["targets"] if "ping_loss_ratio" in t["expr"]}
    assert loss_refs, "loss overlay in the smokeping panel"
    right_axis = [o for o in overrides
                  if {"id": "custom.axisPlacement", "value": "right"} in o["properties"]]
    assert right_axis, "loss on a second (right) axis"
    assert any('stat=~"min|avg|max"' in t["expr"] for p in panels for t in p["targets"])


def test_mesh_dashboard_has_the_promised_panels() -> None:
    """A source x destination matrix of loss and of RTT, the worst pairs, and the nodes seen
    down by how many peers, all from the mesh recording rules, narrowed by source and
    destination."""
    dash = load(MESH_DASHBOARD)
    panels = [p for p in dashboard_schema.all_panels(dash) if p["type"] != "row"]
    exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in panels}
    matrices = {p["title"]: exprs[p["title"]] for p in panels if p["type"] == "table" and
                any(t["id"] == "groupingToMatrix" and t["options"]["rowField"] == "source" and
                    t["options"]["columnField"] == "destination"
                    for t in p.get("transformations", []))}
    assert any("ping_mesh_loss_ratio" in e for e in matrices.values()), matrices
    assert any("ping_mesh_rtt_seconds" in e for e in matrices.values()), matrices
    assert any("topk(" in e and "ping_mesh_loss_ratio" in e for e in exprs.values())
    assert any("topk(" in e and "ping_mesh_rtt_seconds" in e for e in exprs.values())
    assert any("destination:ping_mesh_peers_losing:count" in e for e in exprs.values())
    rules = (DASHBOARD_DIR.parent / "config" / "alerts-mesh.yml").read_text()
    for where, _, target in queries(dash):
        for name in re.findall(r"[a-z_]+:ping_mesh_[a-z_]+:[a-z]+", target["expr"]):
            assert f"record: {name}" in rules, f"{where}: {name} is not a mesh recording rule"
        if "ping_mesh_" in target["expr"] and "agent_address" not in target["expr"]:
            assert 'destination=~"$destination"' in target["expr"], where


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_series_are_selectable_by_group_instance_and_any_label(path: pathlib.Path) -> None:
    """Variables for group and instance narrow every query, and an ad hoc filter offers every
    other label (the groups' static labels, whatever their names)."""
    dash = load(path)
    by_name = {v["name"]: v for v in dash["templating"]["list"]}
    for name in ("group", "instance"):
        assert dashboard_schema.variable_query(by_name[name]).startswith("label_values("), name
        assert by_name[name].get("includeAll") and by_name[name].get("allValue") == ".*", name
    assert by_name["filters"]["type"] == "adhoc"
    assert by_name["filters"]["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    for where, _, target in queries(dash):
        for selector in re.findall(r"\b(?:ping|up|process)[a-z_]*\{[^}]*\}", target["expr"]):
            assert 'instance=~"$instance"' in selector, f"{where}: {selector}"
            if selector.startswith("ping_") and not selector.startswith("ping_exporter_"):
                assert 'group=~"$group"' in selector, f"{where}: {selector}"


@pytest.mark.parametrize("path", ALL_DASHBOARDS, ids=lambda p: p.name)
def test_latency_queries_cannot_be_nan(path: pathlib.Path) -> None:
    """Round statistics exist only for rounds that got replies: averages over time and
    aggregations come from the ping_rtt_seconds histogram, which counts every reply, and a
    quantile of a window without replies (NaN) is dropped by `>= 0`."""
    for where, _, target in queries(load(path)):
        expr = target["expr"]
        assert not re.search(r"[a-z_]+\((?:[^(),]*,\s*)?ping_round_rtt_seconds", expr), \
            f"{where}: {expr}"
        if "histogram_quantile(" in expr:
            assert expr.endswith(") >= 0"), f"{where}: {expr}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_rtt_queries_read_classic_and_native_histograms(path: pathlib.Path) -> None:
    """A Prometheus with --enable-feature=native-histograms stores ping_rtt_seconds as one
    native series, without _sum/_count/_bucket: each query of the classic histogram falls back
    to the native one (both are run on real servers in e2e/test_native_histograms.py)."""
    for where, _, target in queries(load(path)):
        expr = target["expr"]
        if re.search(r"ping_rtt_seconds_(?:sum|count|bucket)\{", expr):
            assert " or " in expr and "rate(ping_rtt_seconds{" in expr, f"{where}: {expr}"


# The validator must catch what Grafana would reject: each mutation is one such mistake.
def _mutations() -> Iterator[tuple[str, Any]]:
    def drop_gridpos(d: dict) -> None:
        del d["panels"][1]["gridPos"]

    def duplicate_id(d: dict) -> None:
        d["panels"][2]["id"] = d["panels"][1]["id"]

    def wrong_datasource(d: dict) -> None:
        d["panels"][1]["targets"][0]["datasource"] = {"type": "prometheus", "uid": "prom-1"}

    def overlap(d: dict) -> None:
        d["panels"][2]["gridPos"] = dict(d["panels"][1]["gridPos"])

    def too_wide(d: dict) -> None:
        d["panels"][1]["gridPos"]["x"] = 20
        d["panels"][1]["gridPos"]["w"] = 8

    def undefined_variable(d: dict) -> None:
        d["panels"][1]["targets"][0]["expr"] += ' + on() vector($nosuch)'

    def no_datasource_variable(d: dict) -> None:
        d["templating"]["list"] = [v for v in d["templating"]["list"] if v["name"] != "datasource"]

    def old_schema(d: dict) -> None:
        d["schemaVersion"] = 16

    def bool_as_integer(d: dict) -> None:
        d["panels"][1]["id"] = True

    def duplicate_ref_id(d: dict) -> None:
        panel = next(p for p in d["panels"] if len(p.get("targets", [])) >= 2)
        panel["targets"][1]["refId"] = panel["targets"][0]["refId"]

    for fn in (drop_gridpos, duplicate_id, wrong_datasource, overlap, too_wide,
               undefined_variable, no_datasource_variable, old_schema, bool_as_integer,
               duplicate_ref_id):
        yield fn.__name__, fn


@pytest.mark.parametrize("name,mutate", list(_mutations()), ids=[n for n, _ in _mutations()])
def test_validator_rejects_broken_dashboards(name: str, mutate: Any) -> None:
    for path in ALL_DASHBOARDS:
        broken = copy.deepcopy(load(path))
        mutate(broken)
        assert dashboard_schema.dashboard_problems(broken), f"{name} not caught in {path.name}"


# -- PromQL against a live Prometheus ------------------------------------------------------------
# Variable choices each dashboard's queries are run with: All where offered, and concrete
# targets of both families, group and instance ("@exporter": the live exporter's address).
CHOICES: dict[str, list[dict[str, str]]] = {
    "ping-overview.json": [{"job": "$__all", "group": "$__all", "instance": "$__all",
                            "target": "$__all"},
                           {"job": "ping_exporter", "group": "loopback", "instance": "@exporter",
                            "target": "127.0.0.1"}],
    "ping-target.json": [{"job": "ping_exporter", "group": "loopback", "instance": "@exporter",
                          "target": "127.0.0.1"},
                         {"job": "$__all", "group": "$__all", "instance": "$__all",
                          "target": "::1"}],
}


def concrete(choice: dict[str, str], running: stack.Stack) -> dict[str, str]:
    assert running.exporter is not None
    return {k: running.exporter.address if v == "@exporter" else v for k, v in choice.items()}


@pytest.fixture(scope="module")
def loaded_stack(live_stack: stack.Stack) -> stack.Stack:
    live_stack.wait_for_window(seconds=10)
    return live_stack


LEGEND_LABEL_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_expression_returns_data(path: pathlib.Path, loaded_stack: stack.Stack) -> None:
    dash = load(path)
    prom = loaded_stack.prometheus
    assert prom is not None
    failures: list[str] = []
    ran = 0
    for choice in CHOICES[path.name]:
        values = variable_values(dash, concrete(choice, loaded_stack))
        for where, panel, target in queries(dash):
            expr = substitute(target["expr"], values)
            status, body = prom.api("query", [("query", expr)])
            ran += 1
            if status != 200 or body.get("status") != "success":
                failures.append(f"{where} {choice}: HTTP {status} {body.get('error', body)}\n"
                                f"    {expr}")
                continue
            result = body["data"]["result"]
            if not result and target["expr"] not in EXPECTED_EMPTY:
                failures.append(f"{where} {choice}: no data\n    {expr}")
                continue
            # Labels a legend shows must exist on the series (else the legend is blank).
            labels: set[str] = set()
            for series in result:
                labels |= set(series.get("metric", {}))
            for wanted in LEGEND_LABEL_RE.findall(target.get("legendFormat", "")):
                if wanted not in labels and "or vector(0)" not in target["expr"]:
                    failures.append(f"{where} {choice}: legend uses {{{{{wanted}}}}} but the "
                                    f"result has only labels {sorted(labels)}")
    assert ran >= 10
    assert not failures, "\n".join(failures)


def _label_values(prom: stack.PrometheusServer, query: str) -> set[str]:
    """Grafana's label_values(selector, label) / label_values(label) for Prometheus."""
    match = re.fullmatch(r"label_values\((?:(.+),\s*)?([A-Za-z_][A-Za-z0-9_]*)\)", query.strip())
    assert match, f"unsupported variable query {query!r}"
    selector, label = match.group(1), match.group(2)
    params = [("match[]", selector)] if selector else []
    status, body = prom.api(f"label/{label}/values", params)
    assert status == 200 and body.get("status") == "success", f"{query}: {status} {body}"
    return set(body["data"])


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_template_variables_list_the_targets(path: pathlib.Path,
                                            loaded_stack: stack.Stack) -> None:
    dash = load(path)
    prom = loaded_stack.prometheus
    assert prom is not None
    by_name = {v["name"]: v for v in dash["templating"]["list"]}
    # ping_probe (the /probe job) is covered by test_prometheus_config; only /metrics here.
    assert loaded_stack.exporter is not None
    expected = {"job": {"ping_exporter"}, "target": set(stack.TARGETS), "group": {"loopback"},
                "instance": {loaded_stack.exporter.address}}
    for choice in CHOICES[path.name]:
        values = variable_values(dash, concrete(choice, loaded_stack))
        for name, want in expected.items():
            query = substitute(dashboard_schema.variable_query(by_name[name]), values)
            got = _label_values(prom, query)
            assert want <= got, f"{name}: {query} gave {sorted(got)}"
