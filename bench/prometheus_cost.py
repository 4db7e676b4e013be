#!/usr/bin/env python3
"""What the exporter costs Prometheus: a real Prometheus scraping N loopback targets.

Run by hand, as root (raw ICMP sockets, network namespaces), about 4 minutes a mode:

    PING_EXPORTER_BIN=$PWD/build/ping_exporter /usr/bin/python3 bench/prometheus_cost.py \\
        --targets 10000 --duration 180 --scrape-100k

Each mode runs in a fresh network namespace (`pe-cost-<random>`, lo only): the exporter pings N
addresses 127.200.0.1 upwards there (never outside 127.0.0.0/8), and Debian's Prometheus 2.42,
started inside the same namespace, scrapes it every 5 s for `--duration` seconds. Modes:

- classic-text: `rtt_histogram = "classic"`, `metrics = "full"` (every family of DESIGN.md's
  metrics contract, as before issue 15); Prometheus without feature flags, which negotiates
  OpenMetrics text.
- native-protobuf: the exporter's defaults (`rtt_histogram = "both"`, `metrics = "default"`);
  Prometheus with --enable-feature=native-histograms, which negotiates protobuf and keeps the
  native histogram.
- default-text (optional): the defaults scraped by a Prometheus without the flag.
- minimal-protobuf (optional): `metrics = "minimal"`, native, protobuf.
- before (optional, with --before-bin): another build, e.g. of the commit before issue 15
  (every family, classic buckets, nine send-error series at zero, text only), with its defaults.

Measured per mode: samples per scrape (`scrape_samples_scraped`), head series
(/api/v1/status/tsdb), Prometheus RSS at the end and its peak (VmRSS, VmHWM), Prometheus CPU over
the run (utime+stime per wall second, from /proc), the mean and largest scrape duration
(`scrape_duration_seconds`), and the body of one scrape with Prometheus's own Accept header, plain
and gzipped. `--scrape-100k` then times protobuf scrapes (gzip) of 100 000 targets. Last, the
series per target of smokeping_prober (Debian's 0.6.1) on 20 targets, for comparison.
Python 3 standard library and tests/lib.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from lib.exporter import Exporter, http_get, raw_scrape, wait_until  # noqa: E402
from lib.netns import NetNs  # noqa: E402
from lib.process import terminate  # noqa: E402
from lib.prometheus import Prometheus  # noqa: E402
from run import cpu_seconds, loopback_targets  # noqa: E402  (bench/run.py)

SCRAPE_INTERVAL_S = 5
SMOKEPING_BIN = "/usr/bin/prometheus-smokeping-prober"
# The Accept headers Debian's Prometheus 2.42 sends (captured), without and with
# --enable-feature=native-histograms.
ACCEPT_TEXT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
               "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
ACCEPT_PROTOBUF = ("application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
                   "encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,"
                   "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
                   "q=0.5,*/*;q=0.1")
MODES: dict[str, dict[str, Any]] = {
    "classic-text": {"options": {"rtt_histogram": "classic", "metrics": "full"}, "flags": [],
                     "accept": ACCEPT_TEXT},
    "native-protobuf": {"options": {}, "flags": ["--enable-feature=native-histograms"],
                        "accept": ACCEPT_PROTOBUF},
    "default-text": {"options": {}, "flags": [], "accept": ACCEPT_TEXT},
    "minimal-protobuf": {"options": {"metrics": "minimal"},
                         "flags": ["--enable-feature=native-histograms"], "accept": ACCEPT_PROTOBUF},
    "before": {"options": {}, "flags": [], "accept": ACCEPT_TEXT},
}


def config_text(hosts: list[str], options: dict[str, str], interval: str, count: int) -> str:
    lines = ["workers = 2", "", "[defaults]", f'interval = "{interval}"', f"count = {count}",
             'timeout = "1s"']
    lines += [f'{k} = "{v}"' for k, v in options.items()]
    lines += ["", "[[targets]]", 'name = "bench"', "hosts = ["]
    lines += [f'  "{h}",' for h in hosts]
    lines.append("]")
    return "\n".join(lines) + "\n"


def status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rounds_done(exp: Exporter) -> float:
    """ping_exporter_rounds_total: a count in every profile (the per-target families are not)."""
    return exp.metrics().one("ping_exporter_rounds_total")


def api(prom: Prometheus, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
    """GET /api/v1/<path> with a minute's patience: a Prometheus holding half a million series on
    a busy machine can take longer than the test helper's 10 s."""
    query = "?" + urllib.parse.urlencode(params) if params else ""
    resp = http_get(prom.address, f"/api/v1/{path}{query}", netns=prom.netns, timeout=60)
    body: dict[str, Any] = json.loads(resp.body)
    if resp.status != 200 or body.get("status") != "success":
        raise RuntimeError(f"{path} {params}: {resp.status} {body}")
    return body["data"]


def one(prom: Prometheus, expr: str) -> float:
    """The value of a one-element instant query (NaN when it has none)."""
    result = api(prom, "query", [("query", expr)])["result"]
    return float(result[0]["value"][1]) if result else float("nan")


def run_mode(name: str, n: int, duration_s: float, interval: str,
             before_bin: Optional[str]) -> dict[str, Any]:
    mode = MODES[name]
    hosts = loopback_targets(n)
    out: dict[str, Any] = {"mode": name, "targets": n}
    with NetNs("pe-cost-") as ns:
        config = config_text(hosts, mode["options"], interval, 2)
        exporter = Exporter(config, netns=ns, start_timeout_s=60)
        if name == "before":
            if not before_bin:
                raise SystemExit("mode 'before' needs --before-bin")
            exporter.bin = before_bin
        with exporter as exp:
            # Every target through one round, so each scrape holds every series.
            wait_until(lambda: rounds_done(exp) >= n, 120, interval=1.0,
                       message=f"{n} rounds")
            with Prometheus([exp.address], netns=ns, scrape_interval_s=SCRAPE_INTERVAL_S,
                            extra_args=mode["flags"]) as prom:
                assert prom.proc is not None
                pid = prom.proc.pid
                t0, cpu0, exp_cpu0 = time.monotonic(), cpu_seconds(pid), cpu_seconds(exp.pid)
                peak_rss = 0
                while time.monotonic() - t0 < duration_s:
                    time.sleep(min(5.0, max(0.0, duration_s - (time.monotonic() - t0))))
                    peak_rss = max(peak_rss, status_kib(pid, "VmRSS"))
                elapsed = time.monotonic() - t0
                out["prom_cpu"] = (cpu_seconds(pid) - cpu0) / elapsed
                out["exporter_cpu"] = (cpu_seconds(exp.pid) - exp_cpu0) / elapsed
                out["prom_rss_mib"] = status_kib(pid, "VmRSS") / 1024
                out["prom_peak_rss_mib"] = max(peak_rss, status_kib(pid, "VmHWM")) / 1024
                out["samples"] = one(prom, "scrape_samples_scraped")
                window = f"{int(duration_s)}s"
                out["scrape_s_mean"] = one(prom,
                                           f"avg_over_time(scrape_duration_seconds[{window}])")
                out["scrape_s_max"] = one(prom, f"max_over_time(scrape_duration_seconds[{window}])")
                out["scrapes"] = one(prom, f"count_over_time(up[{window}])")
                out["head_series"] = api(prom, "status/tsdb", [])["headStats"]["numSeries"]
                if "native" in name:
                    # The histogram arrived as one native series per target, not as buckets.
                    out["rtt_series"] = one(prom, "count(ping_rtt_seconds)")
                    out["bucket_series"] = one(prom, "count(ping_rtt_seconds_bucket) or vector(0)")
                else:
                    out["bucket_series"] = one(prom, "count(ping_rtt_seconds_bucket)")
            with ns.entered():
                plain = raw_scrape(exp.address, accept=mode["accept"], timeout=60)
                zipped = raw_scrape(exp.address, accept=mode["accept"], accept_gzip=True,
                                    timeout=60)
            out["body_mb"] = plain.size / 1e6
            out["gzip_mb"] = zipped.size / 1e6
    out["samples_per_target"] = out["samples"] / n
    return out


def scrape_100k(n: int, repeats: int) -> dict[str, Any]:
    """Protobuf scrapes (gzip, as Prometheus asks) of n targets with the default options."""
    hosts = loopback_targets(n)
    with NetNs("pe-cost-") as ns:
        # A round every 20 s, one request: few packets, every target through a round soon.
        with Exporter(config_text(hosts, {}, "20s", 1), netns=ns, start_timeout_s=120) as exp:
            wait_until(lambda: rounds_done(exp) >= n, 180, interval=1.0, message=f"{n} rounds")
            times, sizes, raw = [], [], []
            with ns.entered():
                for _ in range(repeats):
                    s = raw_scrape(exp.address, accept=ACCEPT_PROTOBUF, accept_gzip=True,
                                   timeout=120)
                    times.append(s.seconds)
                    sizes.append(s.size)
                    raw.append(len(s.body))
                text = raw_scrape(exp.address, accept_gzip=True, timeout=120)
    return {"targets": n, "seconds": sorted(times), "median_s": statistics.median(times),
            "gzip_mb": statistics.median(sizes) / 1e6, "body_mb": statistics.median(raw) / 1e6,
            "text_s": text.seconds, "text_gzip_mb": text.size / 1e6}


def smokeping_series_per_target(n: int = 20) -> Optional[float]:
    """Samples per target of smokeping_prober's /metrics (those with a host label)."""
    if not os.access(SMOKEPING_BIN, os.X_OK):
        return None
    hosts = loopback_targets(n)
    with NetNs("pe-cost-") as ns, tempfile.TemporaryDirectory() as d:
        cfg = Path(d) / "smokeping.yml"
        cfg.write_text("---\ntargets:\n- hosts:\n" + "".join(f"  - {h}\n" for h in hosts) +
                       "  interval: 1s\n  network: ip4\n  protocol: icmp\n")
        port = ns.free_tcp_port()
        proc = ns.popen([SMOKEPING_BIN, f"--config.file={cfg}",
                         f"--web.listen-address=127.0.0.1:{port}", "--privileged"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            def scraped() -> Optional[bytes]:
                with ns.entered():
                    try:
                        body = raw_scrape(f"127.0.0.1:{port}", timeout=5).body
                    except OSError:
                        return None
                return body if b"smokeping_response_duration_seconds_count{" in body else None

            body = wait_until(scraped, 30, interval=0.5, message="smokeping_prober /metrics")
        finally:
            terminate(proc)
    samples = [ln for ln in body.decode().splitlines()
               if ln and not ln.startswith("#") and 'host="' in ln]
    return len(samples) / n


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        ("samples per scrape", lambda r: f"{r['samples']:,.0f}"),
        ("samples per target", lambda r: f"{r['samples_per_target']:.1f}"),
        ("head series", lambda r: f"{r['head_series']:,}"),
        ("Prometheus RSS at end (peak), MiB",
         lambda r: f"{r['prom_rss_mib']:,.0f} ({r['prom_peak_rss_mib']:,.0f})"),
        ("Prometheus CPU, cores", lambda r: f"{r['prom_cpu']:.3f}"),
        ("scrape duration mean / max, s",
         lambda r: f"{r['scrape_s_mean']:.3f} / {r['scrape_s_max']:.3f}"),
        ("scrape body plain / gzip, MB", lambda r: f"{r['body_mb']:.1f} / {r['gzip_mb']:.2f}"),
        ("exporter CPU, cores", lambda r: f"{r['exporter_cpu']:.3f}"),
    ]
    head = "| | " + " | ".join(r["mode"] for r in results) + " |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(r) for r in results) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--duration", type=float, default=180.0, help="seconds Prometheus scrapes")
    ap.add_argument("--interval", default="5s", help="the exporter's round interval")
    ap.add_argument("--modes", default="classic-text,native-protobuf",
                    help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--scrape-100k", action="store_true", help="time protobuf scrapes at 100 000")
    ap.add_argument("--before-bin", help="the exporter binary of mode 'before'")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (raw ICMP sockets, network namespaces)", file=sys.stderr)
        return 2
    print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, kernel "
          f"{platform.release()}, {os.cpu_count()} cores, load before: {os.getloadavg()}")
    results = []
    for name in args.modes.split(","):
        results.append(run_mode(name, args.targets, args.duration, args.interval,
                                args.before_bin))
        print(results[-1], flush=True)
    print(table(results))
    by_mode = {r["mode"]: r for r in results}
    for base in ("classic-text", "before"):
        if base in by_mode and "native-protobuf" in by_mode:
            c, p = by_mode[base], by_mode["native-protobuf"]
            print(f"native-protobuf/{base}: RSS {p['prom_rss_mib'] / c['prom_rss_mib']:.2f} "
                  f"(goal <= 0.33), CPU {p['prom_cpu'] / c['prom_cpu']:.2f} (goal <= 0.5), "
                  f"samples per target {p['samples_per_target']:.1f} (goal <= 12)")
    if args.scrape_100k:
        print("100k protobuf scrape:", scrape_100k(100000, 3), flush=True)
    print("smokeping_prober samples per target:", smokeping_series_per_target())
    print(f"load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
