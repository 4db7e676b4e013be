"""Native and classic RTT histograms in a real Prometheus: quantiles are accurate.

A TUN responder in a test namespace answers 198.19.0.5 after 5 ms and 198.19.0.50 after 50 ms.
The exporter runs there with `rtt_histogram = "both"` (the default) and `metrics = "full"` (for the
last round's min and max, the truth the quantiles are held to), scraped by two Debian
Prometheus 2.42 servers: one with --enable-feature=native-histograms (it negotiates protobuf and
keeps the native histogram), one without (it negotiates OpenMetrics text: classic buckets).
`histogram_quantile` over `rate(...)` must land within one bucket width of the true round-trip
time, for p50 and p95, in both. The shipped RTT recording rules (config/alerts.yml, and
alerts-mesh.yml over a second group named "mesh" pinging two more such hosts) and the dashboards'
RTT panels must give each host's RTT on both servers: they read the classic series or, where
Prometheus stores the native histogram instead, that one.
"""

from __future__ import annotations

import math
import os
import pathlib
import re
import sys
from typing import Callable, Iterator, NamedTuple

import pytest
import yaml

from lib.exporter import Exporter, require_binary, wait_until
from lib.netns import NetNs, require_netns_support
from lib.prometheus import PROMETHEUS_BIN, Prometheus
from lib.tun_responder import TunResponder

ECOSYSTEM_DIR = pathlib.Path(__file__).resolve().parents[1] / "ecosystem"
if str(ECOSYSTEM_DIR) not in sys.path:
    sys.path.insert(0, str(ECOSYSTEM_DIR))

import dashboard_queries  # noqa: E402
from stack import fast_rules  # noqa: E402

DELAYS_S: dict[str, float] = {"198.19.0.5": 0.005, "198.19.0.50": 0.050}
# The "mesh" group's peers, as slow (a host is in one group only).
MESH_DELAYS_S: dict[str, float] = {"198.19.0.105": 0.005, "198.19.0.150": 0.050}
SCHEMA_FACTOR: float = 2 ** (2 ** -3)  # schema 3, the default rtt_bucket_factor 1.1
CLASSIC_BOUNDS: list[float] = [0.0001, 0.00018, 0.00032, 0.00056, 0.001, 0.0018, 0.0032, 0.0056,
                               0.01, 0.018, 0.032, 0.056, 0.1, 0.18, 0.32, 0.56, 1, 1.8, 3.2,
                               5.6, 10]  # the default rtt_buckets
GROUP = "delayed"  # the per-target group; "mesh" pings MESH_DELAYS_S for the mesh rules
SELECTOR = f'group="{GROUP}"'
RULE_FILES: tuple[str, ...] = ("alerts.yml", "alerts-mesh.yml")
REPO = pathlib.Path(__file__).resolve().parents[2]


class Stack(NamedTuple):
    exporter: Exporter
    native: Prometheus
    classic: Prometheus


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_binary()
    require_netns_support()
    if not os.access(PROMETHEUS_BIN, os.X_OK):
        pytest.skip("prometheus (Debian package) not installed")
    behaviours = {host: {"delay_ms": s * 1000}
                  for host, s in (DELAYS_S | MESH_DELAYS_S).items()}
    with NetNs() as ns, TunResponder(ns, behaviours):
        config = {"defaults": {"interval": "500ms", "timeout": "200ms", "count": 4,
                               "spacing": "20ms", "metrics": "full"},
                  "targets": [{"name": GROUP, "hosts": list(DELAYS_S)},
                              {"name": "mesh", "hosts": list(MESH_DELAYS_S)}]}
        # The shipped rule files, every group evaluated at the servers' 1 s interval.
        rules_dir = tmp_path_factory.mktemp("rules")
        rules = [rules_dir / name for name in RULE_FILES]
        for path in rules:
            path.write_text(yaml.safe_dump(fast_rules(REPO, path.name)))
        with Exporter(config, netns=ns) as exp, \
                Prometheus([exp.address], netns=ns, rule_files=rules,
                           extra_args=["--enable-feature=native-histograms"]) as native, \
                Prometheus([exp.address], netns=ns, rule_files=rules) as classic:
            yield Stack(exp, native, classic)
            assert exp.stop() == 0


def _by_target(prom: Prometheus, expr: str, label: str = "target") -> dict[str, float]:
    return {dict(k)[label]: v for k, v in prom.query_values(expr).items()}


def _settled(prom: Prometheus, expr: str, label: str = "target",
             hosts: dict[str, float] = DELAYS_S) -> dict[str, float]:
    """`expr` by `label` once each of `hosts` has a finite value (enough samples in the
    window)."""

    def attempt() -> dict[str, float] | None:
        got = _by_target(prom, expr, label)
        ok = set(got) == set(hosts) and all(math.isfinite(v) for v in got.values())
        return got if ok else None

    return wait_until(attempt, 40, interval=1.0, message=f"{expr} for every target")


def _true_rtts(prom: Prometheus, window: str) -> dict[str, tuple[float, float]]:
    """(min, max) by target of every round's round-trip times in the last `window`, as `prom`
    holds them: every quantile over that window lies in it. The delay is fixed; what varies is
    the kernel's and the Python responder's time, a few hundred µs, and now and then some
    milliseconds when the machine is busy, so the range is taken over the quantile's own
    window rather than from the last round alone."""
    low = _by_target(prom, f'min_over_time(ping_round_rtt_seconds{{stat="min"}}[{window}])')
    high = _by_target(prom, f'max_over_time(ping_round_rtt_seconds{{stat="max"}}[{window}])')
    return {t: (low[t], high[t]) for t in DELAYS_S}


def _native_width(v: float) -> float:
    """Width of the native bucket holding v at schema 3: (f^(i-1), f^i]."""
    upper = SCHEMA_FACTOR ** math.ceil(math.log(v, SCHEMA_FACTOR))
    return upper - upper / SCHEMA_FACTOR


def _classic_width(v: float) -> float:
    bounds = [0.0] + CLASSIC_BOUNDS
    i = next(k for k in range(1, len(bounds)) if v <= bounds[k])
    return bounds[i] - bounds[i - 1]


@pytest.mark.time_limit(120)
@pytest.mark.parametrize("q", [0.5, 0.95])
def test_quantiles_within_one_bucket_of_the_truth(stack: Stack, q: float) -> None:
    native = _settled(stack.native,
                      f"histogram_quantile({q}, rate(ping_rtt_seconds{{{SELECTOR}}}[15s]))")
    native_truth = _true_rtts(stack.native, "15s")
    classic = _settled(stack.classic,
                       f"histogram_quantile({q}, rate(ping_rtt_seconds_bucket{{{SELECTOR}}}[15s]))")
    classic_truth = _true_rtts(stack.classic, "15s")
    for target, delay in DELAYS_S.items():
        for (low, high), got, width in ((native_truth[target], native, _native_width),
                                        (classic_truth[target], classic, _classic_width)):
            # The responder answers late now and then on a busy machine, rarely by 10 ms.
            assert delay <= low <= high < delay + 0.010, (target, low, high)
            # One bucket width of the range's ends: the bucket each end falls in.
            assert low - width(low) <= got[target] <= high + width(high), \
                (target, q, got, low, high)
        mid = sum(native_truth[target]) / 2
        n_width, c_width = _native_width(mid), _classic_width(mid)
        # The point of native buckets: at 5 ms and 50 ms they are ~9 % wide, classic ones 40 %.
        assert n_width < c_width / 3, (target, n_width, c_width)


@pytest.mark.time_limit(120)
def test_native_series_replace_the_buckets_and_averages_still_work(stack: Stack) -> None:
    # The native server holds one histogram series a target and no _bucket series at all.
    _settled(stack.native, f"histogram_count(rate(ping_rtt_seconds{{{SELECTOR}}}[15s]))")
    assert stack.native.query("ping_rtt_seconds_bucket") == []
    assert len(stack.classic.query(f"ping_rtt_seconds_bucket{{{SELECTOR}}}")) == \
        len(DELAYS_S) * (len(CLASSIC_BOUNDS) + 1)
    # Mean RTT: histogram_sum / histogram_count (native) and _sum / _count (classic). Each
    # lies between the delay and the top of its own server's highest filled bucket; the two
    # servers scrape at their own moments, so their 15 s windows hold different replies and
    # their means are not compared with each other.
    native_mean = _settled(stack.native,
                           f"histogram_sum(rate(ping_rtt_seconds{{{SELECTOR}}}[15s])) / "
                           f"histogram_count(rate(ping_rtt_seconds{{{SELECTOR}}}[15s]))")
    classic_mean = _settled(stack.classic, f"rate(ping_rtt_seconds_sum{{{SELECTOR}}}[15s]) / "
                                           f"rate(ping_rtt_seconds_count{{{SELECTOR}}}[15s])")
    for kind, prom, _ in _servers(stack):
        mean = native_mean if kind == "native" else classic_mean
        top = _top_of_filled_buckets(kind, prom, GROUP)
        for target, delay in DELAYS_S.items():
            assert delay <= mean[target] <= top[target], (kind, target, mean, top)


def _servers(stack: Stack) -> list[tuple[str, Prometheus, Callable[[float], float]]]:
    """Each server with the width of the bucket a value falls in, in what it stores."""
    return [("native", stack.native, _native_width), ("classic", stack.classic, _classic_width)]


def _top_of_filled_buckets(kind: str, prom: Prometheus, group: str,
                           window: str = "6m") -> dict[str, float]:
    """By target of `group`: the upper bound of the highest bucket that received a reply in
    the last `window`, in the histogram `prom` stores (the quantile 1 of its rate). No reply
    in the window is slower, so no mean over part of the window is higher. `window` is
    longer than the window of the value it bounds plus the time since that was computed."""
    series = (f'ping_rtt_seconds{{group="{group}"}}' if kind == "native"
              else f'ping_rtt_seconds_bucket{{group="{group}"}}')
    keep = "target" if kind == "native" else "target, le"
    return _by_target(prom, f"histogram_quantile(1, sum by ({keep}) (rate({series}[{window}])))")


@pytest.mark.time_limit(120)
def test_shipped_rtt_rules_give_the_mean_on_both_servers(stack: Stack) -> None:
    """target:ping_rtt_seconds:mean5m (PingHighLatency's input) and the mesh rules'
    source_destination:ping_mesh_rtt_seconds:mean (PingMeshLinkBad's dashboard), from the
    shipped files: each host's mean RTT whichever histogram Prometheus keeps. A mean lies
    between the responder's delay (no reply is faster) and the top of the highest bucket that
    got a reply in its window, read from the histogram the server stores; a rule that read
    the wrong series, counted one twice or mixed units falls outside. The two servers' windows
    start at different scrapes, so on a busy machine a late reply can be in one and not the
    other: their means are each held to their own histogram, not to each other."""
    for kind, prom, _ in _servers(stack):
        means = _settled(prom, "target:ping_rtt_seconds:mean5m")
        assert {dict(k)["group"] for k in prom.query_values("target:ping_rtt_seconds:mean5m")} \
            == {GROUP}, kind
        # No agent is scraped at these peer addresses: the destination is named by address.
        mesh = _settled(prom, "source_destination:ping_mesh_rtt_seconds:mean", "destination",
                        MESH_DELAYS_S)
        # Read after the rules were: the 6 m window holds every reply theirs did.
        tops = _top_of_filled_buckets(kind, prom, GROUP) | \
            _top_of_filled_buckets(kind, prom, "mesh")
        for name, values, delays in (("mean5m", means, DELAYS_S), ("mesh", mesh, MESH_DELAYS_S)):
            for host, delay in delays.items():
                assert delay <= values[host] <= tops[host], (kind, name, host, values[host],
                                                               tops[host])


def _dashboard_rtt_queries(host: str) -> list[tuple[str, str]]:
    """(where, PromQL) of every dashboard query of the ping_rtt_seconds histogram, as Grafana
    sends it with the group and `host` picked."""
    found: list[tuple[str, str]] = []
    for path in dashboard_queries.DASHBOARDS:
        dash = dashboard_queries.load(path)
        values = dashboard_queries.variable_values(
            dash, {"job": "$__all", "group": GROUP, "instance": "$__all", "target": host})
        for where, _, target in dashboard_queries.queries(dash):
            if re.search(r"\bping_rtt_seconds", target["expr"]):
                found.append((f"{path.name} {where}",
                              dashboard_queries.substitute(target["expr"], values)))
    return found


@pytest.mark.time_limit(180)
def test_dashboard_rtt_panels_on_both_servers(stack: Stack) -> None:
    """Every RTT panel query of the overview and target dashboards (quantiles, means) gives a
    value within one bucket of the host's true RTT, native and classic."""
    problems: list[str] = []
    ran = 0
    for kind, prom, width in _servers(stack):
        for host in DELAYS_S:
            queries = _dashboard_rtt_queries(host)
            assert len(queries) >= 8, queries
            for where, expr in queries:
                rows = wait_until(lambda: prom.query_values(expr) or None, 40, interval=1.0,
                                  message=f"{kind}: {where} for {host}")
                low, high = _true_rtts(prom, "5m")[host]
                # The round stats are scraped once a second, rounds run twice: a reply slower
                # than any scraped round's max still lies below the top of its bucket.
                top = max(high + width(high), _top_of_filled_buckets(kind, prom, GROUP)[host])
                ran += 1
                problems += [f"{kind} {where} {host}: {v} not in [{low}, {high}] +- a bucket\n"
                             f"    {expr}" for v in rows.values()
                             if not low - width(low) <= v <= top]
    assert ran >= 32
    assert problems == [], "\n".join(problems)
