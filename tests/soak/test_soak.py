"""Soak: one exporter with 2000 loopback targets at 1 s, hammered for SOAK_SECONDS (default 60;
600 by hand) by 20 concurrent scrapers, reloaded every ~3 s (invalid and valid configs in turn,
by POST /-/reload and by SIGHUP), while a few targets flap under an nft drop rule toggled every
few seconds.

The exporter runs inside a network namespace the test creates, so the flapping rule (input hook
of that namespace) touches nothing else. Asserted: the process never dies, every scrape is
answered completely within SCRAPE_BOUND_S, counters of targets that stay never go backwards,
reloads take effect (valid) or are refused with the old config kept (invalid) as the reload
gauge says, flapping targets are seen going down and up, the loopback targets that never flap
lose nothing, and RSS, fds and threads stay flat after warm-up. A `SOAK SUMMARY` line with the
figures is printed whatever the outcome.

The scrapers are processes, not threads: parsing 8 MB of text holds Python's GIL, so 20 threads
would mostly measure the test's own queueing rather than the exporter's answer time.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import re
import signal
import socket
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from lib.exporter import Exporter, to_toml
from lib.netns import NetNs, NftRules

SOAK_SECONDS: float = float(os.environ.get("SOAK_SECONDS", "60"))
SCRAPERS: int = 20
SCRAPER_NICE: int = 10
# Every scrape (8 MB of text for 2000 targets) must be answered completely within this.
SCRAPE_BOUND_S: float = float(os.environ.get("SOAK_SCRAPE_BOUND_S", "10"))
# Each scraper compares every counter with its previous compared scrape every Nth scrape
# (parsing costs the client ~50 ms); every scrape is checked for completeness.
COMPARE_EVERY: int = 3
RELOAD_EVERY_S: float = 3.0
RELOAD_SEEN_S: float = 30.0
FLAP_EVERY_S: float = 4.0
# RSS may grow this much between the end of warm-up and the end of the run.
RSS_GROWTH_LIMIT_BYTES: int = 16 * 1024 * 1024
# Connections the scrapers may hold open at a sampling instant, on top of the quiescent fds.
FD_SLACK: int = SCRAPERS + 4

N_STABLE: int = 1975
N_FLAP: int = 5
N_CHURN: int = 20  # 1 % of 2000: replaced by every valid reload, never reused
N_TARGETS: int = N_STABLE + N_FLAP + N_CHURN
STABLE: list[str] = [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(N_STABLE)]
FLAP: list[str] = [f"127.2.0.{i + 1}" for i in range(N_FLAP)]

# Counter series compared scrape to scrape (the histogram's buckets are covered by _count).
_COUNTER_RE = re.compile(
    rb"^((?:ping_(?:packets_sent_total|packets_received_total|rtt_seconds_count|"
    rb"rtt_seconds_sum|duplicate_replies_total|late_replies_total|invalid_replies_total|"
    rb"send_errors_total)\{[^}]*\})|ping_exporter_\w+_total|process_cpu_seconds_total) (\S+)$",
    re.M)
_SENT_RE = re.compile(rb'^ping_packets_sent_total\{[^}]*\btarget="([^"]+)"[^}]*\} (\S+)$', re.M)
_RECEIVED_RE = re.compile(rb'^ping_packets_received_total\{[^}]*\btarget="([^"]+)"[^}]*\} (\S+)$',
                          re.M)
_UP_RE = re.compile(rb'^ping_up\{[^}]*\btarget="([^"]+)"[^}]*\} (\S+)$', re.M)


def _churn(generation: int) -> list[str]:
    assert 0 <= generation < 256 * 12, generation
    return [f"127.3.{generation // 12}.{(generation % 12) * N_CHURN + j + 1}"
            for j in range(N_CHURN)]


def _config(generation: int) -> dict[str, Any]:
    return {"workers": 2,
            "defaults": {"interval": "1s", "timeout": "500ms", "count": 2, "spacing": "100ms"},
            "targets": [{"name": "stable", "hosts": STABLE, "labels": {"role": "stable"}},
                        {"name": "flap", "hosts": FLAP, "labels": {"role": "flap"}},
                        {"name": "churn", "hosts": _churn(generation),
                         "labels": {"role": "churn"}}]}


def _invalid_config(kind: int, generation: int) -> str:
    if kind % 2 == 0:  # not TOML at all
        return to_toml(_config(generation)) + '\n[[targets]\nhosts = ["127.4.0.1"]\n'
    cfg = _config(generation)
    cfg["targets"][2]["timeout"] = "2s"  # valid TOML, but timeout >= interval
    return to_toml(cfg)


def _family(body: bytes, name: str) -> bytes:
    """The lines of one metric family (the exporter writes each family as one block), so the
    main process need not run regexes over all 8 MB."""
    start: int = body.find(b"\n# TYPE " + name.encode() + b" ")
    if start < 0:
        return b""
    end: int = body.find(b"\n# HELP ", start + 1)
    return body[start:end if end >= 0 else len(body)]


def _gauge(body: bytes, name: str) -> Optional[float]:
    match = re.search(rb"^" + re.escape(name.encode()) + rb" (\S+)$", _family(body, name), re.M)
    return float(match.group(1)) if match else None


def _by_target(regex: re.Pattern, body: bytes) -> dict[str, float]:
    return {t.decode(): float(v) for t, v in regex.findall(body)}


def _sent(body: bytes) -> dict[str, float]:
    return _by_target(_SENT_RE, _family(body, "ping_packets_sent_total"))


# -- a lean HTTP client: http.client decodes chunks in Python, ~0.1 s of CPU per 8 MB -----------
class HttpClient:
    """Plain HTTP/1.1 requests (Connection: close) from inside a namespace, read into one reused
    buffer so an 8 MB answer costs as few copies as possible. Not thread-safe."""

    def __init__(self, ns: NetNs, address: str) -> None:
        self.ns: NetNs = ns
        self.address: str = address
        self.buf: bytearray = bytearray(16 << 20)
        self.answer_s: float = 0.0

    def request(self, path: str, *, method: str = "GET", gzip_ok: bool = False,
                timeout: float = SCRAPE_BOUND_S + 5) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body (gzip decoded when the answer is gzip). `self.answer_s` is
        then the time from connecting to the last byte, without the decoding after it."""
        started: float = time.monotonic()
        host, _, port = self.address.rpartition(":")
        with self.ns.entered():
            sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        try:
            extra: str = "Accept-Encoding: gzip\r\n" if gzip_ok else ""
            sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: {self.address}\r\n{extra}"
                         f"Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
            n: int = self._read_all(sock)
        finally:
            sock.close()
        self.answer_s = time.monotonic() - started
        buf: bytearray = self.buf
        end: int = buf.find(b"\r\n\r\n", 0, n)
        if end < 0:
            raise AssertionError(f"no complete HTTP header in {n} bytes: {bytes(buf[:200])!r}")
        lines = buf[:end].decode("latin-1").split("\r\n")
        status: int = int(lines[0].split()[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body: bytes = self._dechunk(end + 4, n)
        else:
            body = bytes(buf[end + 4:n])
            want: int = int(headers.get("content-length", len(body)))
            if len(body) != want:
                raise AssertionError(f"body {len(body)} bytes, Content-Length {want}")
        if headers.get("content-encoding") == "gzip":
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        return status, headers, body

    def _read_all(self, sock: socket.socket) -> int:
        n: int = 0
        while True:
            if n == len(self.buf):
                self.buf.extend(bytes(len(self.buf)))
            with memoryview(self.buf) as view:
                got: int = sock.recv_into(view[n:])
            if got == 0:
                return n
            n += got

    def _dechunk(self, pos: int, n: int) -> bytes:
        buf: bytearray = self.buf
        with memoryview(buf) as view:
            pieces: list[memoryview] = []
            while True:
                eol: int = buf.find(b"\r\n", pos, n)
                if eol < 0:
                    raise AssertionError(f"chunked body cut short at byte {pos} of {n}")
                size: int = int(bytes(buf[pos:eol]).split(b";")[0], 16)
                if size == 0:
                    out: bytes = b"".join(pieces)
                    for piece in pieces:
                        piece.release()
                    return out
                start: int = eol + 2
                if start + size + 2 > n:
                    raise AssertionError(f"chunk of {size} bytes cut short at byte {pos}")
                pieces.append(view[start:start + size])
                pos = start + size + 2


def _scrape(client: HttpClient, use_gzip: bool) -> tuple[bytes, float]:
    """One complete /metrics body and the seconds the exporter took to answer it in full (the
    client's decoding afterwards not included); raises on any failure."""
    status, headers, body = client.request("/metrics", gzip_ok=use_gzip)
    latency: float = client.answer_s
    if status != 200:
        raise AssertionError(f"/metrics answered {status}")
    if use_gzip and headers.get("content-encoding") != "gzip":
        raise AssertionError(f"asked for gzip, got {headers.get('content-encoding')!r}")
    return body, latency


def _check_whole(body: bytes) -> None:
    """Cheap completeness check: the process families (written last) are there and the number
    of targets is plausible (churn targets appear one round after a reload)."""
    if b"\nprocess_open_fds " not in body or not body.endswith(b"\n"):
        raise AssertionError(f"truncated scrape ({len(body)} bytes), ends {body[-80:]!r}")
    n: int = body.count(b"\nping_packets_sent_total{")
    if not N_STABLE + N_FLAP <= n <= N_TARGETS:
        raise AssertionError(f"{n} targets in the scrape, want {N_STABLE + N_FLAP}..{N_TARGETS}")


_TARGET_RE = re.compile(rb'\btarget="([^"]+)"')


def _sent_from_counters(counters: dict[bytes, bytes]) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in counters.items():
        if key.startswith(b"ping_packets_sent_total{"):
            match = _TARGET_RE.search(key)
            if match:
                out[match.group(1).decode()] = float(value)
    return out


def _check_unchanged_present(sent: dict[str, float]) -> None:
    missing = [t for t in STABLE + FLAP if t not in sent]
    if missing:
        raise AssertionError(f"{len(missing)} unchanged targets missing, e.g. {missing[:3]}")


# -- scraper processes ---------------------------------------------------------------------------
def _scraper_main(index: int, ns: NetNs, address: str, stop_at: float, stop: Any,
                  failures: Any, results: Any) -> None:
    """Runs in a forked child: scrape in a loop until `stop_at` (CLOCK_MONOTONIC is system-wide)
    or `stop`, then put one result dict on `results`."""
    out: dict[str, Any] = {"index": index, "scrapes": 0, "compared": 0, "latencies": [],
                           "errors": [], "regressions": []}
    # The exporter and the main process (reloads, flapping, sampling) come first; the scrapers'
    # own parsing must not starve them on a small machine.
    os.nice(SCRAPER_NICE)
    client = HttpClient(ns, address)
    previous: dict[bytes, bytes] = {}
    n: int = 0
    try:
        while not stop.is_set() and time.monotonic() < stop_at:
            use_gzip: bool = (n + index) % 2 == 0
            compare: bool = n % COMPARE_EVERY == 0
            n += 1
            try:
                body, latency = _scrape(client, use_gzip)
                out["latencies"].append(latency)
                if latency > SCRAPE_BOUND_S:
                    raise AssertionError(f"scrape took {latency:.2f} s (bound {SCRAPE_BOUND_S} s)")
                _check_whole(body)
                current: dict[bytes, bytes] = dict(_COUNTER_RE.findall(body)) if compare else {}
                if compare:
                    _check_unchanged_present(_sent_from_counters(current))
            except Exception as err:  # noqa: BLE001 - every failure is a finding; stop here
                out["errors"].append(f"scraper {index} (gzip={use_gzip}): {err!r}")
                with failures.get_lock():
                    failures.value += 1
                break
            out["scrapes"] += 1
            if not compare:
                continue
            # Series in both scrapes belong to targets that stayed (churned ones never return).
            for key, value in current.items():
                before: Optional[bytes] = previous.get(key)
                if before is None:
                    continue
                out["compared"] += 1
                if value != before and float(value) < float(before):
                    if len(out["regressions"]) < 20:
                        out["regressions"].append(
                            f"{key.decode()}: {before.decode()} -> {value.decode()}")
            if out["regressions"]:
                with failures.get_lock():
                    failures.value += 1
                break
            previous = current
    finally:
        results.put(out)


class Scrapers:
    """SCRAPERS forked processes; `finish()` stops them, collects their results and reaps them
    (killing any that hang)."""

    def __init__(self, ns: NetNs, address: str, stop_at: float) -> None:
        ctx = multiprocessing.get_context("fork")
        self.stop = ctx.Event()
        self.failures = ctx.Value("i", 0)
        self.results = ctx.Queue()
        self.procs = [ctx.Process(target=_scraper_main, name=f"scraper-{i}", daemon=True,
                                  args=(i, ns, address, stop_at, self.stop, self.failures,
                                        self.results))
                      for i in range(SCRAPERS)]
        for p in self.procs:
            p.start()

    def finish(self, timeout: float) -> tuple[list[dict[str, Any]], list[str]]:
        self.stop.set()
        deadline: float = time.monotonic() + timeout
        out: list[dict[str, Any]] = []
        while len(out) < len(self.procs) and time.monotonic() < deadline:
            try:
                out.append(self.results.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                break
        hung: list[str] = []
        for p in self.procs:
            p.join(timeout=max(0.1, deadline - time.monotonic()))
            if p.is_alive():
                hung.append(p.name)
                p.kill()
                p.join(timeout=5)
        return out, hung


# -- the exporter's resources --------------------------------------------------------------------
@dataclass
class Sample:
    at: float
    rss: int
    fds: int
    threads: int


def _sample(pid: int) -> Sample:
    rss: int = 0
    threads: int = 0
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return Sample(time.monotonic(), rss, len(os.listdir(f"/proc/{pid}/fd")), threads)


def _process_cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_fds(pid: int, want: int, timeout: float) -> int:
    deadline: float = time.monotonic() + timeout
    while True:
        fds: int = len(os.listdir(f"/proc/{pid}/fd"))
        if fds == want or time.monotonic() >= deadline:
            return fds
        time.sleep(0.1)


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- the main process's side: reloads, flapping, observation --------------------------------------
@dataclass
class Chaos:
    """Reloads (alternating invalid and valid, by POST and by SIGHUP), each checked in the next
    scrapes, and the flapping rule; also the main process's own scrapes."""

    exp: Exporter
    ns: NetNs
    generation: int = 0
    reloads: int = 0
    reloads_valid: int = 0
    max_reload_s: float = 0.0
    flap_rules: Optional[NftRules] = None
    flap_toggles: int = 0
    flap_seen: dict[str, list[float]] = field(default_factory=lambda: {h: [] for h in FLAP})
    last_success_ts: float = 0.0
    latencies: list[float] = field(default_factory=list)
    client: Optional[HttpClient] = None
    # One entry per reload: (what, seconds to trigger it, seconds until seen, scrapes needed).
    log: list[tuple[str, float, float, int]] = field(default_factory=list)

    def http(self) -> HttpClient:
        if self.client is None:
            self.client = HttpClient(self.ns, self.exp.address)
        return self.client

    def observe(self, whole: bool = True) -> bytes:
        body, latency = _scrape(self.http(), use_gzip=True)
        self.latencies.append(latency)
        assert latency <= SCRAPE_BOUND_S, f"main process: scrape took {latency:.2f} s"
        if whole:
            _check_whole(body)
            _check_unchanged_present(_sent(body))
        up = _by_target(_UP_RE, _family(body, "ping_up"))
        for host in FLAP:
            seen = self.flap_seen[host]
            if host in up and (not seen or seen[-1] != up[host]):
                seen.append(up[host])
        return body

    def toggle_flap(self) -> None:
        if self.flap_rules is None:
            self.flap_rules = self.ns.drop_echo(FLAP)
        else:
            self.flap_rules.remove()
            self.flap_rules = None
        self.flap_toggles += 1

    def stop_flapping(self) -> None:
        if self.flap_rules is not None:
            self.flap_rules.remove()
            self.flap_rules = None

    def reload(self) -> None:
        valid: bool = self.reloads % 2 == 1  # start with an invalid one: the gauge is 1 now
        by_signal: bool = self.reloads % 4 >= 2
        old: set[str] = set(_churn(self.generation))
        if valid:
            self.generation += 1
            self.exp.write_config(_config(self.generation))
        else:
            self.exp.write_config(_invalid_config(self.reloads // 2, self.generation))
        self.reloads += 1
        what: str = (f"reload #{self.reloads} ({'valid' if valid else 'invalid'}, "
                     f"{'SIGHUP' if by_signal else 'POST /-/reload'})")
        started: float = time.monotonic()
        scrapes: int = 0
        if by_signal:
            os.kill(self.exp.pid, signal.SIGHUP)
        else:
            try:
                status, _, body = self.http().request("/-/reload", method="POST", timeout=30)
            except OSError as err:
                raise AssertionError(f"{what}: {err!r}\n{self.exp.describe()}") from None
            want: int = 200 if valid else 500
            assert status == want, f"{what}: HTTP {status} {body[:300]!r}"
        triggered: float = time.monotonic() - started
        new: set[str] = set(_churn(self.generation))
        # Generous: under 20 scrapers each check is a full scrape of several seconds.
        deadline: float = started + RELOAD_SEEN_S
        while True:
            assert self.exp.proc is not None and self.exp.proc.poll() is None, \
                f"exporter died after {what}\n{self.exp.describe()}"
            body = self.observe()
            scrapes += 1
            ok = _gauge(body, "ping_exporter_config_last_reload_successful")
            success_ts = _gauge(body, "ping_exporter_config_last_reload_success_timestamp_seconds")
            churn_sent = {t: v for t, v in _sent(body).items()
                          if t.startswith("127.3.")}
            if valid:
                # The new config runs: gauge 1 with a fresh timestamp, the new churn targets
                # have completed a round (a target is exported once it has), the replaced ones
                # are gone.
                done = (ok == 1 and success_ts is not None and success_ts > self.last_success_ts
                        and set(churn_sent) == new)
            else:
                # Refused: gauge 0, and the running config (same churn targets) is kept.
                done = ok == 0 and set(churn_sent) == old
            if done:
                if valid and success_ts is not None:
                    self.last_success_ts = success_ts
                self.reloads_valid += int(valid)
                break
            assert time.monotonic() < deadline, (
                f"{what} not seen within {RELOAD_SEEN_S} s: ok={ok} success_ts={success_ts} "
                f"churn={sorted(churn_sent)[:3]}")
        took: float = time.monotonic() - started
        self.max_reload_s = max(self.max_reload_s, took)
        self.log.append((("V" if valid else "I") + ("H" if by_signal else "P"),
                         round(triggered, 2), round(took, 2), scrapes))


def _totals(body: bytes, hosts: list[str]) -> tuple[float, float]:
    sent = _sent(body)
    received = _by_target(_RECEIVED_RE, _family(body, "ping_packets_received_total"))
    return sum(sent[h] for h in hosts), sum(received[h] for h in hosts)


@pytest.mark.slow
@pytest.mark.time_limit(int(SOAK_SECONDS) + 180)
def test_soak(exporter_bin: str, netns: NetNs, capsys: pytest.CaptureFixture) -> None:
    samples: list[Sample] = []
    summary: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    hung: list[str] = []
    main_error: Optional[BaseException] = None
    # --web.enable-lifecycle: half of the reloads are POST /-/reload.
    with Exporter(_config(0), netns=netns, start_timeout_s=20,
                  extra_args=["--web.enable-lifecycle"]) as exp:
        chaos = Chaos(exp, netns)
        # Warm: every target has completed a round before the load starts.
        deadline: float = time.monotonic() + 20
        while True:
            sent = _sent(chaos.observe(whole=False))
            if len(sent) == N_TARGETS and all(v > 0 for v in sent.values()):
                break
            assert time.monotonic() < deadline, f"only {len(sent)} targets completed a round"
            time.sleep(0.2)
        quiet: Sample = _sample(exp.pid)
        cpu_start: tuple[float, float] = (_process_cpu_s(exp.pid), time.monotonic())
        base_sent, base_received = _totals(chaos.observe(), STABLE)

        start: float = time.monotonic()
        stop_at: float = start + SOAK_SECONDS
        warmup_end: float = start + max(10.0, SOAK_SECONDS * 0.25)
        scrapers = Scrapers(netns, exp.address, stop_at)
        try:
            next_reload: float = start + RELOAD_EVERY_S
            next_flap: float = start + FLAP_EVERY_S / 2
            while time.monotonic() < stop_at and scrapers.failures.value == 0:
                assert exp.proc is not None and exp.proc.poll() is None, "exporter died"
                now: float = time.monotonic()
                if now >= next_flap:
                    chaos.toggle_flap()
                    next_flap = now + FLAP_EVERY_S
                if now >= next_reload and now + 10 < stop_at:
                    chaos.reload()
                    next_reload = time.monotonic() + RELOAD_EVERY_S
                else:
                    chaos.observe()
                samples.append(_sample(exp.pid))
                pause: float = min(next_flap, next_reload, stop_at) - time.monotonic()
                time.sleep(max(0.0, min(pause, 1.0)))
        except BaseException as err:  # noqa: BLE001 - reported after the summary
            main_error = err
        finally:
            results, hung = scrapers.finish(timeout=SCRAPE_BOUND_S + 20)
            chaos.stop_flapping()

        alive: bool = exp.proc is not None and exp.proc.poll() is None
        latencies: list[float] = [x for r in results for x in r["latencies"]] + chaos.latencies
        errors: list[str] = [e for r in results for e in r["errors"]]
        regressions: list[str] = [e for r in results for e in r["regressions"]]
        after = [s for s in samples if s.at >= warmup_end]
        rss_warm: int = after[0].rss if after else quiet.rss
        rss_growth: int = (max(s.rss for s in after) - rss_warm) if after else 0
        summary = {
            "seconds": SOAK_SECONDS,
            "scrapes": sum(r["scrapes"] for r in results) + len(chaos.latencies),
            "series_compared": sum(r["compared"] for r in results),
            "reloads": chaos.reloads, "valid_reloads": chaos.reloads_valid,
            "flap_toggles": chaos.flap_toggles,
            "median_scrape_s": round(_percentile(latencies, 0.5), 3),
            "p99_scrape_s": round(_percentile(latencies, 0.99), 3),
            "max_scrape_s": round(max(latencies, default=0.0), 3),
            "max_reload_s": round(chaos.max_reload_s, 3),
            "rss_start_mib": round(quiet.rss / 2**20, 1),
            "rss_warm_mib": round(rss_warm / 2**20, 1),
            "rss_end_mib": round((samples[-1].rss if samples else quiet.rss) / 2**20, 1),
            "rss_growth_after_warmup_mib": round(rss_growth / 2**20, 1),
            "fds_start": quiet.fds, "fds_max": max((s.fds for s in samples), default=quiet.fds),
            "threads_start": quiet.threads,
            "threads_seen": sorted({s.threads for s in samples}),
        }
        if alive:
            summary["exporter_cpu_s_per_s"] = round(
                (_process_cpu_s(exp.pid) - cpu_start[0]) / (time.monotonic() - cpu_start[1]), 2)
            # Quiescent again: the scrapers' connections are closed, so are their fds.
            summary["fds_end"] = _wait_fds(exp.pid, quiet.fds, 5.0)
            sent_total, received_total = _totals(chaos.observe(), STABLE)
            summary["stable_sent"] = int(sent_total - base_sent)
            summary["stable_lost"] = int((sent_total - base_sent)
                                         - (received_total - base_received))
        with capsys.disabled():
            print("\nSOAK SUMMARY " + " ".join(f"{k}={v}" for k, v in summary.items()),
                  flush=True)
            # The slowest reloads: (V)alid/(I)nvalid by SIGHUP (H) or POST (P), seconds to
            # trigger, seconds until seen, scrapes needed.
            slowest = sorted(chaos.log, key=lambda r: -r[2])[:5]
            print("SOAK SLOWEST RELOADS " + " ".join(f"{w}:{a}/{b}/{n}" for w, a, b, n in slowest),
                  flush=True)

        assert alive, f"exporter died ({main_error!r})\n{exp.describe()}"
        if main_error is not None:
            raise main_error
        assert not hung, f"scrapers never finished: {hung}"
        assert len(results) == SCRAPERS, f"only {len(results)} scrapers reported"
        assert not errors, "\n".join(errors)
        assert not regressions, "counters went backwards:\n" + "\n".join(regressions)
        assert summary["scrapes"] >= SCRAPERS, summary
        # Each reload is checked in full scrapes, so how many fit depends on the machine.
        assert chaos.reloads >= 2 or SOAK_SECONDS < 30, chaos.reloads
        assert summary["threads_seen"] == [quiet.threads], summary
        assert summary["fds_max"] <= quiet.fds + FD_SLACK, summary
        assert summary["fds_end"] == quiet.fds, summary
        assert rss_growth <= RSS_GROWTH_LIMIT_BYTES, summary
        if chaos.flap_toggles >= 6:
            for host, seen in chaos.flap_seen.items():
                downs = sum(1 for a, b in zip(seen, seen[1:]) if a == 1 and b == 0)
                ups = sum(1 for a, b in zip(seen, seen[1:]) if a == 0 and b == 1)
                assert downs >= 2 and ups >= 2, (host, seen)
        # Loopback answers everything: nothing may be lost on the targets that never flap.
        assert summary["stable_sent"] > 0 and summary["stable_lost"] == 0, summary
        assert exp.stop() == 0
