#!/usr/bin/python3
"""Side-by-side benchmark: ping_exporter vs fping vs smokeping_prober on loopback targets.

Each system in turn pings the same N addresses 127.200.B.C and up (127.0.0.0/8 only: everything
else is off limits) once a second, one echo per round. For each run the script measures, over a
steady window after a warm-up: CPU seconds per wall second and per probe (/proc/PID/stat), peak
RSS (VmHWM), threads, probes answered vs sent (each system's own counters), the send-time jitter
of the echo requests (captured from `lo` with an AF_PACKET socket) and, for the exporters, the
/metrics scrape time and size with and without gzip. A last step times one `ping_exporter probe`
round over 1000 dead hosts inside a network namespace created (and always deleted) here.

Usage (as root): /usr/bin/python3 bench/run.py [--sizes 1000,10000,50000] [--duration 20]
Python standard library and tests/lib (its metrics parser and network namespaces).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import ctypes
import dataclasses
import datetime
import functools
import json
import math
import os
import platform
import re
import resource
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from lib.exporter import RawScrape, parse_metrics, raw_scrape  # noqa: E402
from lib.netns import NetNs  # noqa: E402
from lib.tun_responder import read_stamped  # noqa: E402

DEFAULT_BIN = os.environ.get("PING_EXPORTER_BIN", str(REPO / "build" / "ping_exporter"))
SMOKEPING_BIN = "/usr/bin/prometheus-smokeping-prober"
FPING_BIN = "/usr/bin/fping"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PERIOD_S = 1.0  # every system sends one echo per target per second
GRACE_S = 15.0  # a run may last at most duration + GRACE_S, then it is killed
DEAD_ROUND_LIMIT_S = 30.0  # the dead-host round should take about 1.1 s
SLOW_JITTER_GAP_S = 1.5  # a per-target gap longer than this means a missed round on the wire
FIRST_OCTET2 = 200  # targets are 127.200.0.1 and up
FPING_SHARD = 5000  # targets per fping process: < 6 553 probes/s, see class Fping

# Linux constants the socket module does not export.
ETH_P_IP = 0x0800
SO_TIMESTAMPNS = 35
SO_ATTACH_FILTER = 26
SOL_PACKET = 263
PACKET_STATISTICS = 6


# --------------------------------------------------------------------------------------------
# Targets


def loopback_targets(n: int) -> list[str]:
    """N distinct addresses 127.A.B.C, A >= FIRST_OCTET2, C in 1..254 (never outside 127/8).

    The tests ping 127.0-3.x.y; the bench starts at 127.200 so that a test running at the same
    time on a shared machine does not land in the capture.
    """
    if n > (256 - FIRST_OCTET2) * 256 * 254:
        raise ValueError("too many targets for 127.200.0.0-127.255.255.255")
    out: list[str] = []
    for i in range(n):
        c = i % 254 + 1
        b = (i // 254) % 256
        a = FIRST_OCTET2 + i // (254 * 256)
        out.append(f"127.{a}.{b}.{c}")
    return out


def sample_last_octet_max(n: int, wanted: int) -> int:
    """Largest last octet to capture so that about `wanted` of the N targets are watched."""
    return max(1, min(254, math.ceil(wanted * 254 / max(n, 1))))


# --------------------------------------------------------------------------------------------
# Process accounting


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        raw = f.read()
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def host_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (all cores, everything but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user..steal minus idle, iowait
    return busy / CLK_TCK


def runqueue_wait_seconds(pid: int) -> float:
    """Time the process's threads spent runnable but not running (schedstat), in seconds."""
    total = 0
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
    return total / 1e9


def peak_rss_mib(pids: list[int]) -> Optional[float]:
    """Sum of the processes' VmHWM (peak resident set), MiB; None if one has gone."""
    try:
        return sum(int(proc_status(pid)["VmHWM"].split()[0]) for pid in pids) / 1024
    except (OSError, KeyError, ValueError, IndexError):
        return None


def count_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def proc_status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def raise_fd_limit() -> None:
    """preexec_fn: 50 000 sockets (smokeping) need far more than the default 1024 fds."""
    try:
        with open("/proc/sys/fs/nr_open") as f:
            limit = int(f.read())
    except OSError:
        limit = 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    except (ValueError, OSError):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def set_priority(niceness: int) -> None:
    """Niceness of this process and of its session's autogroup.

    With kernel.sched_autogroup_enabled (Debian's default) the scheduler first shares the CPU
    equally between sessions and applies nice only inside one, so a process's nice alone does
    nothing against a busy neighbour's build. Each system runs in its own session
    (start_new_session), whose autogroup gets the same nice.
    """
    os.setpriority(os.PRIO_PROCESS, 0, niceness)
    with contextlib.suppress(OSError):
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(niceness))


def child_setup(niceness: int) -> None:
    """preexec_fn (runs after setsid) of every system under test: more fds, same priority."""
    raise_fd_limit()
    set_priority(niceness)


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, wait_s: float = 5.0) -> None:
    """Signal the child's own process group, then kill it if it lingers. Only our children."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=wait_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Echo-request capture on lo


def bpf_insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


class LoCapture:
    """An AF_PACKET socket on a namespace's `lo` behind a classic BPF program, with kernel
    timestamps, read on a thread of its own: subclasses say which packets (`program`) and what to
    keep of each (`handle`). Started and stopped from one thread."""

    def __init__(self, netns: Optional[NetNs], program: list[bytes]) -> None:
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        with netns.entered() if netns is not None else contextlib.nullcontext():
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_IP))
        self._prog_buf = ctypes.create_string_buffer(b"".join(program))
        fprog = struct.pack("HL", len(program), ctypes.addressof(self._prog_buf))
        self._sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.bind(("lo", ETH_P_IP))
        self._sock.settimeout(0.2)
        self.drops = 0

    def handle(self, data: bytes, stamp: float) -> None:
        """One packet (from its IP header on, at most 64 bytes) and its kernel timestamp."""
        raise NotImplementedError

    def _drain_stats(self) -> None:
        # Reading PACKET_STATISTICS resets the kernel counters: the first read discards what
        # arrived before the window.
        raw = self._sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        _packets, drops = struct.unpack("II", raw)
        self.drops = drops

    def _loop(self) -> None:
        read_stamped(self._sock, self._stop, 64, self.handle)

    def start(self) -> None:
        # Empty the queue so packets sent before the window do not count.
        self._sock.setblocking(False)
        with contextlib.suppress(BlockingIOError, OSError):
            while True:
                self._sock.recv(64)
        self._sock.settimeout(0.2)
        self._drain_stats()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._drain_stats()
        self._sock.close()


class SendCapture(LoCapture):
    """Records kernel timestamps of ICMP echo requests to a sample of our loopback targets.

    A classic BPF filter keeps only IPv4 echo requests to 127.x.y.z with z <= last_octet_max, so
    Python sees a few thousand packets a second at most and does not steal CPU from the system
    under test. On lo each packet is seen once; its timestamp is taken when the sender hands it
    to the loopback device, i.e. the actual send time. Not thread-safe: start/stop from one thread.
    """

    def __init__(self, targets: set[str], last_octet_max: int,
                 netns: Optional[NetNs] = None) -> None:
        self._targets = targets
        self._sent: dict[str, list[float]] = {}
        self.echo_ids: collections.Counter[int] = collections.Counter()
        # SOCK_DGRAM: offsets are from the IP header. Drop = jump to the last instruction.
        super().__init__(netns, [
            bpf_insn(0x30, 0, 0, 9),  # ldb [9]           protocol
            bpf_insn(0x15, 0, 8, 1),  # jeq #1 (ICMP)     else drop
            bpf_insn(0x30, 0, 0, 16),  # ldb [16]          first octet of destination
            bpf_insn(0x15, 0, 6, 127),  # jeq #127          else drop
            bpf_insn(0x30, 0, 0, 19),  # ldb [19]          last octet of destination
            bpf_insn(0x25, 4, 0, last_octet_max),  # jgt #max  drop
            bpf_insn(0xB1, 0, 0, 0),  # ldxb 4*([0]&0xf)  IP header length
            bpf_insn(0x50, 0, 0, 0),  # ldb [x+0]         ICMP type
            bpf_insn(0x15, 0, 1, 8),  # jeq #8 (echo)     else drop
            bpf_insn(0x06, 0, 0, 64),  # ret #64          accept, 64 bytes are enough
            bpf_insn(0x06, 0, 0, 0),  # ret #0           drop
        ])

    def handle(self, data: bytes, stamp: float) -> None:
        dst = socket.inet_ntoa(data[16:20])
        if dst not in self._targets:
            return
        self._sent.setdefault(dst, []).append(stamp)
        ihl = (data[0] & 0x0F) * 4
        if len(data) >= ihl + 6:
            self.echo_ids[int.from_bytes(data[ihl + 4 : ihl + 6], "big")] += 1

    def stop(self) -> dict[str, list[float]]:  # type: ignore[override]
        super().stop()
        return self._sent


@dataclasses.dataclass
class WireStats:
    packets: int  # echo requests seen to the sampled targets
    sampled_targets: int
    targets_heard: int
    jitter_p50_ms: Optional[float]
    jitter_p99_ms: Optional[float]
    gaps: int  # successive sends more than SLOW_JITTER_GAP_S apart (missed rounds)
    intervals: int
    drops: int
    echo_ids: int  # distinct ICMP identifiers seen (a sanity check against foreign pingers)


def wire_stats(
    sent: dict[str, list[float]], sampled_targets: int, drops: int, echo_ids: int
) -> WireStats:
    jitters: list[float] = []
    gaps = 0
    packets = 0
    for times in sent.values():
        times.sort()
        packets += len(times)
        for a, b in zip(times, times[1:]):
            delta = b - a
            jitters.append(abs(delta - PERIOD_S))
            if delta > SLOW_JITTER_GAP_S:
                gaps += 1
    jitters.sort()
    return WireStats(
        packets=packets,
        sampled_targets=sampled_targets,
        targets_heard=len(sent),
        jitter_p50_ms=percentile(jitters, 0.50) * 1e3 if jitters else None,
        jitter_p99_ms=percentile(jitters, 0.99) * 1e3 if jitters else None,
        gaps=gaps,
        intervals=len(jitters),
        drops=drops,
        echo_ids=echo_ids,
    )


def percentile(sorted_values: list[float], q: float) -> float:
    idx = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[idx]


# --------------------------------------------------------------------------------------------
# HTTP


def sum_metrics(body: bytes, *names: str) -> list[float]:
    """For each name, the sum of its samples (with or without labels) in a text exposition."""
    m = parse_metrics(body.decode("utf-8", errors="replace"), names)
    return [sum(v for (n, _), v in m.items() if n == name) for name in names]


# --------------------------------------------------------------------------------------------
# Systems under test


@dataclasses.dataclass
class Counters:
    sent: float
    received: float
    late_rounds: Optional[float]
    at: float  # monotonic time of the scrape's midpoint


class System:
    """One program under test, run as one or more processes. Subclasses build the command line
    and read the counters. Not thread-safe."""

    name = "?"
    has_http = False

    def __init__(self, targets: list[str], workdir: Path) -> None:
        self.targets = targets
        self.workdir = workdir
        self.niceness = 0
        self.procs: list[subprocess.Popen] = []
        self.stderr_paths: list[Path] = []
        self.address: Optional[str] = None  # HOST:PORT of /metrics
        self.notes: list[str] = []

    @property
    def stderr_path(self) -> Path:
        return self.stderr_paths[0]

    def command(self) -> list[str]:
        raise NotImplementedError

    def launch(self, cmd: list[str], tag: str, stdin_data: Optional[bytes] = None) -> None:
        stdin_file = None
        if stdin_data is not None:
            stdin_path = self.workdir / f"{tag}.stdin"
            stdin_path.write_bytes(stdin_data)
            stdin_file = open(stdin_path, "rb")
        err_path = self.workdir / f"{tag}.stderr"
        try:
            with open(self.workdir / f"{tag}.stdout", "wb") as out, open(err_path, "wb") as err:
                self.procs.append(subprocess.Popen(
                    cmd,
                    stdin=stdin_file if stdin_file else subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=self.workdir,
                    start_new_session=True,
                    preexec_fn=functools.partial(child_setup, self.niceness),
                ))
        finally:
            if stdin_file:
                stdin_file.close()
        self.stderr_paths.append(err_path)

    def start(self) -> None:
        self.launch(self.command(), self.name)

    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def exited(self) -> Optional[str]:
        """None while every process runs, else what the first dead one said."""
        for proc, err in zip(self.procs, self.stderr_paths):
            if proc.poll() is not None:
                return f"{proc.returncode}: {last_line(err)}"
        return None

    def capture_netns(self) -> Optional[NetNs]:
        """Network namespace whose lo carries the probes (None: this one)."""
        return None

    def scrape(self, accept_gzip: bool, timeout: float) -> RawScrape:
        """GET /metrics from inside the namespace the system listens in."""
        assert self.address is not None
        ns = self.capture_netns()
        with ns.entered() if ns is not None else contextlib.nullcontext():
            return raw_scrape(self.address, accept_gzip=accept_gzip, timeout=timeout)

    def capture_targets(self, sampled: set[str]) -> set[str]:
        return sampled

    def wait_ready(self, deadline: float) -> bool:
        return True

    def counters(self, timeout: float) -> Optional[Counters]:
        return None

    def stop(self) -> None:
        for proc in self.procs:
            stop_process(proc)

    def cleanup(self) -> None:
        pass

    def final_counters(self) -> Optional[Counters]:
        """Counters only known after the processes ended (fping's summary)."""
        return None

    def progress_note(self) -> str:
        return ""


def last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


class PingExporter(System):
    name = "ping_exporter"
    has_http = True

    def __init__(self, targets: list[str], workdir: Path, binary: str, workers: int,
                 own_netns: bool) -> None:
        super().__init__(targets, workdir)
        self.binary = binary
        self.own_netns = own_netns
        self.namespace: Optional[NetNs] = None
        self.config_path = workdir / "ping_exporter.toml"
        hosts = ",\n".join(f'  "{t}"' for t in targets)
        self.config_path.write_text(
            f"workers = {workers}\n\n[defaults]\ninterval = \"1s\"\ncount = 1\n"
            f'timeout = "500ms"\n\n[[targets]]\nname = "bench"\nhosts = [\n{hosts}\n]\n'
        )

    def command(self) -> list[str]:
        return [
            self.binary,
            f"--config.file={self.config_path}",
            "--web.listen-address=127.0.0.1:0",
            "--icmp.socket=raw",
        ]

    def start(self) -> None:
        # Its own namespace, like each fping shard: every raw ICMP socket in a namespace sees
        # every ICMP packet there, so a neighbour's probes would inflate our cost.
        cmd = self.command()
        if self.own_netns:
            self.namespace = NetNs("pe-bench-e-").__enter__()
            cmd = self.namespace.cmd(cmd)
        self.launch(cmd, self.name)

    def capture_netns(self) -> Optional[NetNs]:
        return self.namespace

    def cleanup(self) -> None:
        if self.namespace is not None:
            self.namespace.close()
            self.namespace = None

    def wait_ready(self, deadline: float) -> bool:
        pattern = re.compile(r"msg=listening.*?address=(\S+:\d+)")
        while time.monotonic() < deadline:
            m = pattern.search(self.stderr_path.read_text(errors="replace"))
            if m:
                self.address = m.group(1)
                return True
            if self.exited():
                self.notes.append(f"exited ({self.exited()})")
                return False
            time.sleep(0.05)
        self.notes.append("no msg=listening line")
        return False

    def counters(self, timeout: float) -> Optional[Counters]:
        if self.address is None:
            return None
        t0 = time.monotonic()
        s = self.scrape(accept_gzip=False, timeout=timeout)
        sent, received, late = sum_metrics(s.body, "ping_packets_sent_total",
                                           "ping_packets_received_total",
                                           "ping_exporter_rounds_late_total")
        return Counters(sent=sent, received=received, late_rounds=late, at=t0 + s.seconds / 2)


class SmokepingProber(System):
    name = "smokeping_prober"
    has_http = True

    def __init__(self, targets: list[str], workdir: Path) -> None:
        super().__init__(targets, workdir)
        self.port = free_port()
        self.config_path = workdir / "smokeping_prober.yml"
        lines = ["---", "targets:", "- hosts:"]
        lines += [f"  - {t}" for t in targets]
        lines += ["  interval: 1s", "  network: ip4", "  protocol: icmp", ""]
        self.config_path.write_text("\n".join(lines))

    def command(self) -> list[str]:
        return [
            SMOKEPING_BIN,
            f"--config.file={self.config_path}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--ping.interval=1s",
            "--privileged",
        ]

    def wait_ready(self, deadline: float) -> bool:
        # It opens its HTTP port only after it has started every pinger (spread over one
        # interval); if it cannot, the port never opens within the run.
        while time.monotonic() < deadline:
            with socket.socket() as s:
                s.settimeout(0.5)
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    self.address = f"127.0.0.1:{self.port}"
                    return True
            if self.exited():
                self.notes.append(f"exited ({self.exited()})")
                return False
            time.sleep(0.2)
        return False

    def progress_note(self) -> str:
        started = self.stderr_path.read_text(errors="replace").count('msg="Starting prober"')
        return f"{started}/{len(self.targets)} pingers started"

    def counters(self, timeout: float) -> Optional[Counters]:
        if self.address is None and not self.wait_ready(time.monotonic() + 0.1):
            return None
        t0 = time.monotonic()
        s = self.scrape(accept_gzip=False, timeout=timeout)
        sent, received = sum_metrics(s.body, "smokeping_requests_total",
                                     "smokeping_response_duration_seconds_count")
        return Counters(sent=sent, received=received, late_rounds=None, at=t0 + s.seconds / 2)


class Fping(System):
    """fping 5.1 in loop mode, sharded.

    fping 5.1 reuses a sequence number only after 10 s and has 65 536 of them, so one process
    dies ("not enough sequence numbers available") above ~6 500 probes/s. The targets are split
    into shards of at most FPING_SHARD, one process each. Each shard runs in its own network
    namespace (its lo answers 127.0.0.0/8 like ours): fping installs no BPF filter, so in one
    namespace every shard's raw socket would also read every other shard's replies, and the
    floor would include that P-fold fan-out.
    """

    name = "fping"

    def __init__(self, targets: list[str], workdir: Path) -> None:
        super().__init__(targets, workdir)
        shards = max(1, math.ceil(len(targets) / FPING_SHARD))
        size = math.ceil(len(targets) / shards)
        self.shards = [targets[i : i + size] for i in range(0, len(targets), size)]
        self.namespaces: list[NetNs] = []

    def start(self) -> None:
        for k, shard in enumerate(self.shards):
            ns = NetNs(f"pe-bench-f{k}-")
            self.namespaces.append(ns.__enter__())
            # -Q 3600 instead of -q: fping 5.1 prints a line per reply with -q -l, which would
            # make it pay for every write; -Q prints only the summary at SIGINT.
            cmd = ns.cmd([FPING_BIN, "-l", "-Q", "3600", "-p", "1000", "-i", "0", "-t", "500"])
            self.launch(cmd, f"fping-{k}", ("\n".join(shard) + "\n").encode())

    def capture_netns(self) -> Optional[NetNs]:
        return self.namespaces[0]

    def capture_targets(self, sampled: set[str]) -> set[str]:
        return sampled & set(self.shards[0])

    def stop(self) -> None:
        for proc in self.procs:  # SIGINT makes fping print its summary
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
        for proc in self.procs:
            stop_process(proc, signal.SIGINT)

    def cleanup(self) -> None:
        for ns in self.namespaces:
            ns.close()
        self.namespaces = []

    def final_counters(self) -> Optional[Counters]:
        pattern = re.compile(r" : xmt/rcv/%loss = (\d+)/(\d+)/")
        sent = received = 0
        for path in self.stderr_paths:
            for m in pattern.finditer(path.read_text(errors="replace")):
                sent += int(m.group(1))
                received += int(m.group(2))
        if sent == 0:
            return None
        return Counters(sent, received, None, time.monotonic())

    def progress_note(self) -> str:
        if len(self.shards) == 1:
            return ""
        return f"{len(self.shards)} fping process(es), one netns each"


# --------------------------------------------------------------------------------------------
# One run


@dataclasses.dataclass
class Result:
    system: str
    n: int
    window_s: float = 0.0
    cpu_per_s: Optional[float] = None
    host_cpu_per_s: Optional[float] = None  # the whole machine: shows other load and softirq work
    runq_wait_ms_per_s: Optional[float] = None  # runnable but not running: the neighbours' toll
    fds: Optional[int] = None
    cpu_us_per_probe: Optional[float] = None
    probes_per_s: Optional[float] = None  # from the capture, scaled to all targets
    rss_probing_mib: Optional[float] = None  # VmHWM after the warm-up, before any scrape
    rss_peak_mib: Optional[float] = None  # VmHWM at the end, scrapes included
    threads: Optional[int] = None
    scrape_plain_ms: Optional[float] = None
    scrape_plain_mb: Optional[float] = None
    scrape_gzip_ms: Optional[float] = None
    scrape_gzip_mb: Optional[float] = None
    gzip_served: Optional[bool] = None
    sent: Optional[float] = None
    answered: Optional[float] = None
    answered_scope: str = ""
    late_rounds: Optional[float] = None
    wire: Optional[WireStats] = None
    kept_up: bool = True
    notes: list[str] = dataclasses.field(default_factory=list)
    loadavg_start: str = ""


def sleep_until(deadline: float) -> None:
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.5))


def run_system(
    system: System, n: int, duration: float, cores: int, sample: int, niceness: int
) -> Result:
    res = Result(system.name, n)
    res.loadavg_start = Path("/proc/loadavg").read_text().split(" ")[0]
    targets = system.targets
    octet_max = sample_last_octet_max(n, sample)
    sampled = {t for t in targets if int(t.rsplit(".", 1)[1]) <= octet_max}
    warmup = max(4.0, duration * 0.25)  # >= 3 rounds so histograms are filled

    t_start = time.monotonic()
    hard_deadline = t_start + duration + GRACE_S
    system.niceness = niceness
    try:
        system.start()
        if not system.wait_ready(t_start + warmup) and system.has_http:
            res.notes.append("/metrics not up after warm-up")
        sleep_until(t_start + warmup)
        if system.exited():
            res.notes.append(f"exited early ({system.exited()})")
            res.kept_up = False
            return res

        res.rss_probing_mib = peak_rss_mib(system.pids())
        before: Optional[Counters] = None
        if system.has_http:
            try:
                before = system.counters(timeout=max(1.0, hard_deadline - time.monotonic() - 5))
            except (OSError, RuntimeError) as e:
                res.notes.append(f"scrape failed: {e}")

        watched = system.capture_targets(sampled)
        capture = SendCapture(watched, octet_max, system.capture_netns())
        capture.start()
        pids = system.pids()
        cpu0, host0, t0 = sum(map(cpu_seconds, pids)), host_cpu_seconds(), time.monotonic()
        wait0 = sum(map(runqueue_wait_seconds, pids))
        threads_max = 0
        window_end = max(t_start + duration, t0 + 3.0)
        while time.monotonic() < window_end and not system.exited():
            threads = sum(int(proc_status(pid).get("Threads", "0")) for pid in pids)
            threads_max = max(threads_max, threads)
            time.sleep(min(1.0, max(0.0, window_end - time.monotonic())))
        if system.exited():
            res.notes.append(f"exited during the window ({system.exited()})")
            res.kept_up = False
            capture.stop()
            return res
        cpu1, host1, t1 = sum(map(cpu_seconds, pids)), host_cpu_seconds(), time.monotonic()
        wait1 = sum(map(runqueue_wait_seconds, pids))
        sent_times = capture.stop()
        statuses = [proc_status(pid) for pid in pids]
        res.threads = max(threads_max, sum(int(st["Threads"]) for st in statuses))
        res.window_s = t1 - t0
        res.cpu_per_s = (cpu1 - cpu0) / res.window_s
        res.host_cpu_per_s = (host1 - host0) / res.window_s
        res.runq_wait_ms_per_s = (wait1 - wait0) / res.window_s * 1e3
        res.fds = sum(count_fds(pid) for pid in pids)
        res.wire = wire_stats(sent_times, len(watched), capture.drops, len(capture.echo_ids))
        if res.wire.packets:
            probes = res.wire.packets * n / len(watched)
            res.probes_per_s = probes / res.window_s
            res.cpu_us_per_probe = (cpu1 - cpu0) / probes * 1e6

        if system.has_http:
            after: Optional[Counters] = None
            try:
                after = system.counters(timeout=max(1.0, hard_deadline - time.monotonic() - 3))
            except (OSError, RuntimeError) as e:
                res.notes.append(f"scrape failed: {e}")
            if before is not None and after is not None:
                res.sent = after.sent - before.sent
                res.answered = after.received - before.received
                res.answered_scope = f"{after.at - before.at:.0f} s window"
                if after.late_rounds is not None and before.late_rounds is not None:
                    res.late_rounds = after.late_rounds - before.late_rounds
            elif after is not None:
                res.sent, res.answered = after.sent, after.received
                res.answered_scope = "since start"
            time_scrapes(system, res, hard_deadline)
        res.rss_peak_mib = peak_rss_mib(pids)
    except (OSError, KeyError, ValueError) as e:  # a process vanished between two reads
        res.notes.append(f"measurement failed: {e} ({system.exited()})")
        res.kept_up = False
    finally:
        progress = system.progress_note()
        if progress:
            res.notes.append(progress if res.fds is None else f"{progress}, {res.fds} fds")
        system.stop()
        system.cleanup()

    final = system.final_counters()
    if final is not None:
        res.sent, res.answered = final.sent, final.received
        res.answered_scope = "whole run"
    judge(res, system, n, cores)
    return res


def time_scrapes(system: System, res: Result, hard_deadline: float) -> None:
    """Up to three scrapes each way, alternating, while the run's time budget lasts; medians."""
    if system.address is None:
        return
    plain: list[RawScrape] = []
    gz: list[RawScrape] = []
    for i in range(6):
        left = hard_deadline - time.monotonic() - 2
        if left < 1:
            res.notes.append("scrape budget exhausted")
            break
        use_gzip = i % 2 == 1
        try:
            s = system.scrape(accept_gzip=use_gzip, timeout=left)
        except (OSError, RuntimeError) as e:
            res.notes.append(f"{'gzip ' if use_gzip else ''}scrape failed: {e}")
            break
        s.body = b""  # keep memory low at 50 000 targets
        (gz if use_gzip else plain).append(s)
    if plain:
        res.scrape_plain_ms = statistics.median(s.seconds for s in plain) * 1e3
        res.scrape_plain_mb = plain[0].size / 1e6
    if gz:
        res.scrape_gzip_ms = statistics.median(s.seconds for s in gz) * 1e3
        res.scrape_gzip_mb = gz[0].size / 1e6
        res.gzip_served = all(s.gzip for s in gz)


def judge(res: Result, system: System, n: int, cores: int) -> None:
    """Marks a run that did not keep up with one round per second, and says why."""
    why: list[str] = []
    if res.cpu_per_s is not None and res.cpu_per_s >= 0.9 * cores:
        why.append("CPU pegged")
    if res.probes_per_s is not None and res.probes_per_s < 0.95 * n / PERIOD_S:
        why.append(f"sent {res.probes_per_s:.0f}/s of {n}/s")
    if res.sent and res.answered is not None and res.answered < 0.95 * res.sent:
        why.append("answered far below sent")
    if system.has_http and system.address is None:
        why.append("/metrics never came up")
    if res.wire is not None and res.wire.intervals and res.wire.gaps > 0.01 * res.wire.intervals:
        why.append("missed rounds on the wire")
    if why:
        res.kept_up = False
        res.notes.insert(0, "could not keep up: " + ", ".join(why))
    res.notes.extend(system.notes)


# --------------------------------------------------------------------------------------------
# Dead hosts in a namespace


def dead_hosts_round(binary: str, count: int = 1000) -> dict:
    """One `ping_exporter probe --count 2 --timeout 1s` round over 1000 silent 198.18/15 hosts.

    Runs inside a namespace created here (tests/lib NetNs): 198.18.0.1/15 on its lo makes the
    whole /15 local (no ARP, no neighbour table), and an nft input rule drops every echo request
    to it, so nothing answers and not a packet leaves the namespace. (This kernel has no dummy
    interfaces.) The namespace is always deleted.
    """
    addrs = [f"198.18.{1 + i // 250}.{1 + i % 250}" for i in range(count)]
    with NetNs("pe-bench-") as ns:
        ns.ip("addr", "add", "198.18.0.1/15", "dev", "lo")
        ns.drop_echo(["198.18.0.0/15"])
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                ns.cmd([binary, "probe", "--count", "2", "--timeout", "1s", *addrs]),
                capture_output=True, timeout=DEAD_ROUND_LIMIT_S, preexec_fn=raise_fd_limit,
            )
        except subprocess.TimeoutExpired as e:  # the child was killed by subprocess.run
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            out = (e.stdout or b"").decode(errors="replace").splitlines()
            return {
                "hosts": count, "wall_s": time.monotonic() - t0,
                "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
                "exit_code": None, "lines": len(out),
                "no_response_lines": sum(1 for line in out if line.endswith(" is No response")),
                "stderr_tail": f"killed after {DEAD_ROUND_LIMIT_S:.0f} s",
            }
        elapsed = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        lines = proc.stdout.decode(errors="replace").splitlines()
        no_response = sum(1 for line in lines if line.endswith(" is No response"))
        return {
            "hosts": count,
            "wall_s": elapsed,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "exit_code": proc.returncode,
            "no_response_lines": no_response,
            "lines": len(lines),
            "stderr_tail": proc.stderr.decode(errors="replace")[-300:],
        }


# --------------------------------------------------------------------------------------------
# Report


def fmt(v: Optional[float], spec: str, suffix: str = "") -> str:
    return "—" if v is None else f"{v:{spec}}{suffix}"


def table(results: list[Result]) -> str:
    head = [
        "system", "N", "CPU s/s (host)", "run-queue wait ms/s", "CPU µs/probe", "probes/s",
        "peak RSS MiB (probing / +scrapes)", "threads",
        "/metrics plain ms (MB)", "/metrics gzip ms (MB)", "answered/sent", "late rounds",
        "jitter p50/p99 ms", "missed (wire)", "note",
    ]
    rows = [head, ["---"] * len(head)]
    for r in results:
        plain = (
            f"{r.scrape_plain_ms:.0f} ({r.scrape_plain_mb:.1f})" if r.scrape_plain_ms is not None
            else "—"
        )
        gz = (
            f"{r.scrape_gzip_ms:.0f} ({r.scrape_gzip_mb:.2f})" if r.scrape_gzip_ms is not None
            else "—"
        )
        if r.gzip_served is False:
            gz += " not gzip!"
        if r.sent:
            share = 100 * r.answered / r.sent
            ans = f"{r.answered:.0f}/{r.sent:.0f} ({share:.1f}%, {r.answered_scope})"
        else:
            ans = "—"
        w = r.wire
        jit = (
            f"{w.jitter_p50_ms:.2f}/{w.jitter_p99_ms:.2f}" if w and w.jitter_p50_ms is not None
            else "—"
        )
        missed = f"{w.gaps}/{w.intervals}" if w and w.intervals else "—"
        note = "; ".join(r.notes) if r.notes else "ok"
        rows.append([
            r.system, str(r.n), f"{fmt(r.cpu_per_s, '.3f')} ({fmt(r.host_cpu_per_s, '.2f')})",
            fmt(r.runq_wait_ms_per_s, ".0f"),
            fmt(r.cpu_us_per_probe, ".1f"),
            fmt(r.probes_per_s, ".0f"),
            f"{fmt(r.rss_probing_mib, '.1f')} / {fmt(r.rss_peak_mib, '.1f')}",
            fmt(r.threads, "d"),
            plain, gz, ans, fmt(r.late_rounds, ".0f"), jit, missed, note,
        ])
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def find(results: list[Result], system: str, n: int) -> Optional[Result]:
    return next((r for r in results if r.system == system and r.n == n), None)


def check_targets(results: list[Result], workers: int, dead: Optional[dict]) -> list[str]:
    """The issue's goals, each PASS / MISS / n/a with the measured number."""
    out: list[str] = []

    def line(ok: Optional[bool], text: str) -> None:
        out.append(f"- {'n/a ' if ok is None else ('PASS' if ok else 'MISS')} {text}")

    pe10, fp10 = find(results, "ping_exporter", 10000), find(results, "fping", 10000)
    if pe10 and fp10 and pe10.cpu_us_per_probe and fp10.cpu_us_per_probe:
        ratio = pe10.cpu_us_per_probe / fp10.cpu_us_per_probe
        line(ratio <= 1.5, f"CPU/probe at 10 000: {pe10.cpu_us_per_probe:.1f} µs vs fping "
             f"{fp10.cpu_us_per_probe:.1f} µs = {ratio:.2f}× (goal ≤ 1.5×)")
    else:
        line(None, "CPU/probe at 10 000 vs fping (needs both runs at 10 000)")
    pe50 = find(results, "ping_exporter", 50000)
    if pe50 and pe50.cpu_per_s is not None and pe50.late_rounds is not None:
        ok = pe50.cpu_per_s < 1.0 and pe50.kept_up and pe50.late_rounds == 0
        line(ok, f"50 000 at 1 s: {pe50.cpu_per_s:.2f} CPU s/s, late rounds "
             f"{fmt(pe50.late_rounds, '.0f')}, wire gaps "
             f"{pe50.wire.gaps if pe50.wire else '—'} (goal: no missed rounds, < 1 core)")
    else:
        line(None, "50 000 at 1 s (needs the 50 000 run and its two counter scrapes)")
    if pe10 and pe10.scrape_plain_ms is not None and pe10.scrape_gzip_ms is not None:
        worst = max(pe10.scrape_plain_ms, pe10.scrape_gzip_ms)
        line(worst <= 250, f"/metrics at 10 000: plain {pe10.scrape_plain_ms:.0f} ms, gzip "
             f"{pe10.scrape_gzip_ms:.0f} ms (goal ≤ 250 ms)")
    else:
        line(None, "/metrics at 10 000 (needs the 10 000 run)")
    if pe10 and pe10.rss_peak_mib is not None:
        line(pe10.rss_peak_mib <= 40, f"peak RSS at 10 000: {pe10.rss_peak_mib:.1f} MiB with "
             f"scrapes, {fmt(pe10.rss_probing_mib, '.1f')} MiB probing only (goal ≤ 40 MiB)")
    pe_any = [r for r in results if r.system == "ping_exporter" and r.threads is not None]
    if pe_any:
        threads = sorted({r.threads for r in pe_any})
        # workers + CivetWeb's connection threads (--web.max-connections, default 512, parked
        # until a client connects) + request threads (--web.max-requests, default 8) + the
        # reloader + main, the status sampler, the engine's refresher, the resolver service and
        # CivetWeb's master; the same at every N.
        http = 512 + 8 + 1
        line(max(threads) <= workers + http + 5 and len(threads) == 1,
             f"threads: {threads} with workers={workers}, 512 connection and 8 request threads "
             "(goal: workers + HTTP + small constant, the same at every N)")
    if pe10 and pe10.wire and pe10.wire.jitter_p99_ms is not None:
        line(pe10.wire.jitter_p99_ms <= 5, f"send jitter p99 at 10 000: "
             f"{pe10.wire.jitter_p99_ms:.2f} ms (goal ≤ 5 ms)")
    if dead:
        line(dead["wall_s"] < 2.0 and dead["no_response_lines"] == dead["hosts"],
             f"probe round over {dead['hosts']} dead hosts: {dead['wall_s']:.2f} s wall, "
             f"{dead['cpu_s']:.2f} CPU s, {dead['no_response_lines']} 'No response' lines, "
             f"exit {dead['exit_code']} (expect ≈ 1.1 s)")
    return out


def machine_info(binary: str) -> list[str]:
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break

    def version(cmd: list[str]) -> str:
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=10)
            text = (p.stdout + p.stderr).decode(errors="replace").strip().splitlines()
            return text[0] if text else "?"
        except (OSError, subprocess.TimeoutExpired):
            return "not found"

    return [
        f"date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"machine: {platform.node()}, {os.cpu_count()} cores ({model}), kernel "
        f"{platform.release()}",
        f"ping_exporter: {binary} ({version([binary, '--version'])})",
        f"fping: {version([FPING_BIN, '--version'])}",
        f"smokeping_prober: {version([SMOKEPING_BIN, '--version'])}",
    ]


# --------------------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,50000", help="comma-separated target counts")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per system and size")
    ap.add_argument("--systems", default="fping,ping_exporter,smokeping_prober")
    ap.add_argument("--binary", default=DEFAULT_BIN, help="ping_exporter binary")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--sample", type=int, default=2000,
                    help="about how many targets the jitter capture watches")
    ap.add_argument("--no-dead-hosts", action="store_true", help="skip the namespace round")
    ap.add_argument("--exporter-in-root-netns", action="store_true",
                    help="run ping_exporter in this namespace instead of one of its own")
    ap.add_argument("--nice", type=int, default=-10,
                    help="niceness of every system under test and of this script (0: leave "
                         "alone); a shared machine's other load then disturbs all of them less")
    ap.add_argument("--json", default=str(REPO / "bench" / "out" / "results.json"),
                    help="also write the raw results here ('' to skip)")
    args = ap.parse_args(argv)

    if os.geteuid() != 0:
        print("run as root: the systems use raw ICMP sockets and the capture AF_PACKET",
              file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if args.duration < 8:
        print("--duration must be >= 8 s (warm-up plus a window)", file=sys.stderr)
        return 2
    budget = len(sizes) * len(systems) * (args.duration + GRACE_S) + 60
    if budget > 15 * 60:
        print(f"warning: worst case {budget / 60:.1f} min", file=sys.stderr)
    cores = os.cpu_count() or 1
    # Before any thread starts, so the capture thread inherits it.
    set_priority(args.nice)

    info = machine_info(args.binary) + [
        f"niceness of every system: {args.nice}; load average at start: "
        + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    ]
    for line in info:
        print(line, flush=True)
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="pe-bench-") as tmp:
        for n in sizes:
            targets = loopback_targets(n)
            for name in systems:
                workdir = Path(tmp) / f"{name}-{n}"
                workdir.mkdir()
                if name == "ping_exporter":
                    system: System = PingExporter(targets, workdir, args.binary, args.workers,
                                                  not args.exporter_in_root_netns)
                elif name == "smokeping_prober":
                    system = SmokepingProber(targets, workdir)
                elif name == "fping":
                    system = Fping(targets, workdir)
                else:
                    print(f"unknown system {name}", file=sys.stderr)
                    return 2
                print(f"running {name} with {n} targets ...", file=sys.stderr, flush=True)
                res = run_system(system, n, args.duration, cores, args.sample, args.nice)
                results.append(res)
                print(f"  {name} N={n}: cpu/s={fmt(res.cpu_per_s, '.3f')} "
                      f"µs/probe={fmt(res.cpu_us_per_probe, '.1f')} "
                      f"{'; '.join(res.notes)}", file=sys.stderr, flush=True)
                time.sleep(1.0)  # let the kernel settle between systems

    dead: Optional[dict] = None
    if not args.no_dead_hosts:
        print("dead-host round in a namespace ...", file=sys.stderr, flush=True)
        try:
            dead = dead_hosts_round(args.binary)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"dead-host round failed: {str(e)[:300]}", file=sys.stderr)

    print()
    print(table(results))
    print()
    if dead:
        print(f"dead hosts: {dead['hosts']} hosts, count 2, timeout 1s: {dead['wall_s']:.2f} s "
              f"wall, {dead['cpu_s']:.2f} CPU s, {dead['no_response_lines']}/{dead['lines']} "
              f"'No response', exit {dead['exit_code']}"
              + (f" ({dead['stderr_tail']})" if dead["exit_code"] is None else ""))
        print()
    print("issue goals:")
    for line in check_targets(results, args.workers, dead):
        print(line)

    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "info": info,
            "results": [dataclasses.asdict(r) for r in results],
            "dead_hosts": dead,
        }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
