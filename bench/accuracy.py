#!/usr/bin/python3
"""RTT accuracy: what ping_exporter and fping report vs the same packets on the wire.

Each system in turn pings N loopback targets (127.200.0.1 and up; 127.0.0.0/8 only) once a second
in a network namespace of its own. An AF_PACKET socket on that namespace's `lo` records the kernel
timestamp of every echo request and reply of a sample of the targets; the wire RTT of a probe is
reply minus request. Each system reports its own RTT of the same probe: ping_exporter one debug
line per reply (`msg=reply ... seq=S rtt_ns=R`, matched by address and sequence), fping one line
per reply (`-l -D`, matched to the wire reply of that host just before the line's time). Every
condition runs quiet and again beside two CPU-bound busy loops (each in its own session, so the
scheduler's autogroups treat them as a neighbour's job would be treated).

Usage (as root): /usr/bin/python3 bench/accuracy.py [--targets 10000] [--duration 20]
    [--exporters stamps=build/ping_exporter,...] [--conditions quiet,loaded]
Python standard library and tests/lib (network namespaces).
"""

from __future__ import annotations

import argparse
import bisect
import collections
import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import run as bench  # noqa: E402  (bench/run.py: targets, systems, process handling)
from lib.netns import NetNs  # noqa: E402
from run import bpf_insn  # noqa: E402

ABOVE_S = 100e-6  # the share of RTTs reported above this is one of the issue's goals
WARMUP_S = 5.0


class EchoCapture(bench.LoCapture):
    """Kernel timestamps of echo requests to and replies from a sample of loopback targets.

    A classic BPF filter passes only ICMP echo requests whose destination, and echo replies whose
    source, is 127.x.y.z with z <= last_octet_max, so Python sees a few thousand packets a second.
    Started and stopped from one thread; the packets are read by a thread of its own.
    """

    def __init__(self, netns: Optional[NetNs], last_octet_max: int) -> None:
        self.requests: dict[tuple[str, int], float] = {}
        self.replies: dict[tuple[str, int], float] = {}
        # (time, sequence) of each host's replies, sorted once the capture stops
        self.replies_by_host: dict[str, list[tuple[float, int]]] = collections.defaultdict(list)
        # SOCK_DGRAM: offsets count from the IP header. A jump lands at pc + 1 + offset.
        super().__init__(netns, [
            bpf_insn(0x30, 0, 0, 9),  # 0: ldb [9]             protocol
            bpf_insn(0x15, 0, 13, 1),  # 1: jeq #1 (ICMP)       -> 2 : 15 drop
            bpf_insn(0xB1, 0, 0, 0),  # 2: ldxb 4*([0]&0xf)     IP header length
            bpf_insn(0x50, 0, 0, 0),  # 3: ldb [x+0]           ICMP type
            bpf_insn(0x15, 0, 4, 8),  # 4: jeq #8 (request)     -> 5 : 9
            bpf_insn(0x30, 0, 0, 16),  # 5: ldb [16]            destination, first octet
            bpf_insn(0x15, 0, 8, 127),  # 6: jeq #127            -> 7 : 15 drop
            bpf_insn(0x30, 0, 0, 19),  # 7: ldb [19]            destination, last octet
            bpf_insn(0x05, 0, 0, 4),  # 8: ja 13
            bpf_insn(0x15, 0, 5, 0),  # 9: jeq #0 (reply)       -> 10 : 15 drop
            bpf_insn(0x30, 0, 0, 12),  # 10: ldb [12]           source, first octet
            bpf_insn(0x15, 0, 3, 127),  # 11: jeq #127          -> 12 : 15 drop
            bpf_insn(0x30, 0, 0, 15),  # 12: ldb [15]           source, last octet
            bpf_insn(0x25, 1, 0, last_octet_max),  # 13: jgt #max  -> 15 drop : 14
            bpf_insn(0x06, 0, 0, 64),  # 14: accept the first 64 bytes
            bpf_insn(0x06, 0, 0, 0),  # 15: drop
        ])

    def handle(self, data: bytes, stamp: float) -> None:
        ihl = (data[0] & 0x0F) * 4
        if len(data) < ihl + 8:
            return
        seq = int.from_bytes(data[ihl + 6 : ihl + 8], "big")
        if data[ihl] == 8:
            self.requests.setdefault((socket.inet_ntoa(data[16:20]), seq), stamp)
        else:
            host = socket.inet_ntoa(data[12:16])
            self.replies.setdefault((host, seq), stamp)
            self.replies_by_host[host].append((stamp, seq))

    def stop(self) -> None:
        super().stop()
        for replies in self.replies_by_host.values():
            replies.sort()

    def wire_rtt(self, host: str, seq: int) -> Optional[float]:
        req = self.requests.get((host, seq))
        rep = self.replies.get((host, seq))
        return None if req is None or rep is None else rep - req

    def wire_rtt_before(self, host: str, at: float) -> Optional[float]:
        """Wire RTT of the host's last reply seen at or before `at` (within half a second)."""
        replies = self.replies_by_host.get(host)
        if not replies:
            return None
        i = bisect.bisect_right(replies, (at, 1 << 16)) - 1
        if i < 0 or at - replies[i][0] > 0.5:
            return None
        return self.wire_rtt(host, replies[i][1])


# --------------------------------------------------------------------------------------------
# What each system says it measured


REPLY_LINE = re.compile(r"msg=reply\b.*?\baddress=(\S+).*?\bseq=(\d+).*?\brtt_ns=(\d+)")
FPING_LINE = re.compile(r"^\[(\d+\.\d+)\] (\S+)\s+: \[\d+\], \d+ bytes, ([\d.]+) ms")


@dataclasses.dataclass
class Reported:
    rtts: list[float]  # every RTT the system reported in the window (seconds)
    paired: list[tuple[float, float]]  # (reported, wire) for the watched targets


def exporter_reports(stderr: Path, capture: EchoCapture, t0: float, t1: float,
                     watched: set[str]) -> Reported:
    """Debug `reply` lines; the window is told by the wire: a probe counts if its request was
    captured (the capture ran exactly over the window)."""
    out = Reported([], [])
    line_time = re.compile(r"\bts=(\S+)")
    with open(stderr, errors="replace") as f:
        for line in f:
            m = REPLY_LINE.search(line)
            if not m:
                continue
            host, seq, rtt = m.group(1), int(m.group(2)), int(m.group(3)) / 1e9
            if host in watched:
                wire = capture.wire_rtt(host, seq)
                if wire is not None:
                    out.rtts.append(rtt)
                    out.paired.append((rtt, wire))
                continue
            tm = line_time.search(line)
            if tm and t0 <= parse_ts(tm.group(1)) <= t1:
                out.rtts.append(rtt)
    return out


def parse_ts(text: str) -> float:
    with contextlib.suppress(ValueError):
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    return 0.0


def fping_reports(stdout_paths: list[Path], capture: EchoCapture, t0: float, t1: float,
                  watched: set[str]) -> Reported:
    out = Reported([], [])
    for path in stdout_paths:
        with open(path, errors="replace") as f:
            for line in f:
                m = FPING_LINE.match(line)
                if not m:
                    continue
                at, host, rtt = float(m.group(1)), m.group(2), float(m.group(3)) / 1e3
                if not t0 <= at <= t1:
                    continue
                out.rtts.append(rtt)
                if host in watched:
                    wire = capture.wire_rtt_before(host, at + 0.001)
                    if wire is not None:
                        out.paired.append((rtt, wire))
    return out


# --------------------------------------------------------------------------------------------
# Systems


class Exporter(bench.PingExporter):
    def __init__(self, label: str, targets: list[str], workdir: Path, binary: str,
                 workers: int) -> None:
        super().__init__(targets, workdir, binary, workers, own_netns=True)
        self.name = f"ping_exporter ({label})"

    def command(self) -> list[str]:
        return super().command() + ["--log.level=debug"]


class FpingEcho(bench.Fping):
    """fping printing every reply with its time (-l -D), sharded as in run.py."""

    def start(self) -> None:
        for k, shard in enumerate(self.shards):
            ns = NetNs(f"pe-acc-f{k}-")
            self.namespaces.append(ns.__enter__())
            cmd = ns.cmd([bench.FPING_BIN, "-l", "-D", "-p", "1000", "-i", "0", "-t", "500"])
            self.launch(cmd, f"fping-{k}", ("\n".join(shard) + "\n").encode())

    def stdout_paths(self) -> list[Path]:
        return [self.workdir / f"fping-{k}.stdout" for k in range(len(self.shards))]


# --------------------------------------------------------------------------------------------
# Load


@contextlib.contextmanager
def cpu_hogs(count: int):
    """`count` busy loops, each in a session (autogroup) of its own at niceness 0."""
    procs = [subprocess.Popen(["/bin/sh", "-c", "while :; do :; done"], start_new_session=True)
             for _ in range(count)]
    try:
        yield
    finally:
        for p in procs:
            bench.stop_process(p, signal.SIGKILL, 2.0)


# --------------------------------------------------------------------------------------------
# One run and the numbers


@dataclasses.dataclass
class Result:
    system: str
    condition: str
    reported: int = 0
    above_100us: Optional[float] = None  # share of reported RTTs above 100 µs
    paired: int = 0
    wire_above_100us: Optional[float] = None  # the same share on the wire (watched targets)
    err_p50_us: Optional[float] = None  # |reported - wire|
    err_p99_us: Optional[float] = None
    err_p999_us: Optional[float] = None
    err_max_us: Optional[float] = None
    bias_us: Optional[float] = None  # median of reported - wire
    wire_p50_us: Optional[float] = None
    wire_p99_us: Optional[float] = None
    reported_p99_us: Optional[float] = None
    drops: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)


def quantile(sorted_values: list[float], q: float) -> float:
    idx = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[idx]


def summarize(res: Result, rep: Reported) -> None:
    res.reported = len(rep.rtts)
    res.paired = len(rep.paired)
    if rep.rtts:
        res.above_100us = sum(1 for r in rep.rtts if r > ABOVE_S) / len(rep.rtts)
        res.reported_p99_us = quantile(sorted(rep.rtts), 0.99) * 1e6
    if rep.paired:
        errs = sorted(abs(r - w) for r, w in rep.paired)
        signed = sorted(r - w for r, w in rep.paired)
        wire = sorted(w for _, w in rep.paired)
        res.err_p50_us = quantile(errs, 0.5) * 1e6
        res.err_p99_us = quantile(errs, 0.99) * 1e6
        res.err_p999_us = quantile(errs, 0.999) * 1e6
        res.err_max_us = errs[-1] * 1e6
        res.bias_us = quantile(signed, 0.5) * 1e6
        res.wire_p50_us = quantile(wire, 0.5) * 1e6
        res.wire_p99_us = quantile(wire, 0.99) * 1e6
        res.wire_above_100us = sum(1 for w in wire if w > ABOVE_S) / len(wire)


def run_one(system: bench.System, condition: str, duration: float, octet_max: int,
            niceness: int) -> Result:
    res = Result(system.name, condition)
    sampled = {t for t in system.targets if int(t.rsplit(".", 1)[1]) <= octet_max}
    system.niceness = niceness
    try:
        system.start()
        if not system.wait_ready(time.monotonic() + WARMUP_S) and system.has_http:
            res.notes.append("not ready after the warm-up")
        time.sleep(WARMUP_S)
        if system.exited():
            res.notes.append(f"exited early ({system.exited()})")
            return res
        watched = system.capture_targets(sampled)
        capture = EchoCapture(system.capture_netns(), octet_max)
        capture.start()
        t0 = time.time()
        time.sleep(duration)
        t1 = time.time()
        capture.stop()
        res.drops = capture.drops
        time.sleep(1.0)  # the last replies' lines are written
    finally:
        system.stop()
    try:
        if isinstance(system, FpingEcho):
            rep = fping_reports(system.stdout_paths(), capture, t0, t1, watched)
        else:
            rep = exporter_reports(system.stderr_path, capture, t0, t1, watched)
    finally:
        system.cleanup()
    summarize(res, rep)
    return res


def fmt(v: Optional[float], spec: str) -> str:
    return "—" if v is None else format(v, spec)


def table(results: list[Result]) -> str:
    head = ["system", "load", "RTTs reported", "> 100 µs reported", "> 100 µs on the wire",
            "paired", "|error| p50 / p99 / p99.9 / max µs", "bias µs", "wire p50 / p99 µs",
            "capture drops", "note"]
    rows = [head, ["---"] * len(head)]
    for r in results:
        rows.append([
            r.system, r.condition, str(r.reported),
            fmt(None if r.above_100us is None else 100 * r.above_100us, ".3f") + " %",
            fmt(None if r.wire_above_100us is None else 100 * r.wire_above_100us, ".3f") + " %",
            str(r.paired),
            f"{fmt(r.err_p50_us, '.1f')} / {fmt(r.err_p99_us, '.1f')} / "
            f"{fmt(r.err_p999_us, '.1f')} / {fmt(r.err_max_us, '.0f')}",
            fmt(r.bias_us, ".1f"),
            f"{fmt(r.wire_p50_us, '.1f')} / {fmt(r.wire_p99_us, '.1f')}",
            str(r.drops), "; ".join(r.notes) or "ok",
        ])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=10000)
    ap.add_argument("--duration", type=float, default=20.0, help="capture window per run, s")
    ap.add_argument("--exporters", default=f"default={bench.DEFAULT_BIN}",
                    help="comma-separated label=binary pairs, each run as its own system")
    ap.add_argument("--no-fping", action="store_true")
    ap.add_argument("--conditions", default="quiet,loaded")
    ap.add_argument("--hogs", type=int, default=2, help="CPU-bound loops in the loaded runs")
    ap.add_argument("--sample", type=int, default=1000, help="about how many targets to watch")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--nice", type=int, default=0,
                    help="niceness of each system (0: the busy loops compete on equal terms)")
    ap.add_argument("--json", default=str(BENCH / "out" / "accuracy.json"))
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("run as root: raw ICMP sockets, AF_PACKET, network namespaces", file=sys.stderr)
        return 2
    exporters = [tuple(item.split("=", 1)) for item in args.exporters.split(",") if item]
    conditions = [c for c in args.conditions.split(",") if c]
    targets = bench.loopback_targets(args.targets)
    octet_max = bench.sample_last_octet_max(args.targets, args.sample)
    info = [
        f"date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {platform.node()}, {os.cpu_count()} cores, kernel {platform.release()}",
        f"targets: {args.targets}, one echo a second each; window {args.duration:.0f} s; "
        f"niceness {args.nice}; loaded = {args.hogs} busy loops",
        "load average at start: " + " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    ]
    for line in info:
        print(line, flush=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pe-acc-") as tmp:
        for condition in conditions:
            with cpu_hogs(args.hogs) if condition == "loaded" else contextlib.nullcontext():
                systems: list[bench.System] = []
                if not args.no_fping:
                    workdir = Path(tmp) / f"fping-{condition}"
                    workdir.mkdir()
                    systems.append(FpingEcho(targets, workdir))
                for label, binary in exporters:
                    workdir = Path(tmp) / f"pe-{label}-{condition}"
                    workdir.mkdir()
                    systems.append(Exporter(label, targets, workdir, binary, args.workers))
                for system in systems:
                    print(f"{system.name}, {condition} ...", file=sys.stderr, flush=True)
                    res = run_one(system, condition, args.duration, octet_max, args.nice)
                    print(f"  > 100 µs {fmt(res.above_100us, '.5f')}, |err| p99 "
                          f"{fmt(res.err_p99_us, '.1f')} µs, paired {res.paired}",
                          file=sys.stderr, flush=True)
                    results.append(res)
    print()
    print(table(results))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"info": info,
                                    "results": [dataclasses.asdict(r) for r in results]},
                                   indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
