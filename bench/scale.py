#!/usr/bin/env python3
"""Targets at scale: start time, reload time (1 % of targets changed) and RSS per target count.

Run by hand, as root (raw ICMP sockets):

    /usr/bin/python3 bench/scale.py --binary build-bench/ping_exporter --sizes 10000,50000,100000

For each size N it writes the scale test's config (tests/lib/exporter.py many_hosts_config) of N
loopback literals (127.200.0.0 upwards; interval 60 s, count 1, so few packets are sent, all to
127/8), starts the exporter on 127.0.0.1:0 and times process start -> the `msg=listening` log
line; then `--reloads` times changes a different 1 % of the hosts, sends SIGHUP and times it ->
the `msg="configuration reloaded"` line. VmRSS is read `--settle` seconds after the start and
after the last reload; bytes per target is the slope of a least-squares line through (N, RSS).
Python 3 standard library and tests/lib.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from lib.exporter import loopback_host, many_hosts_config, rss_mib  # noqa: E402


def write_config(path: str, hosts: list[str], workers: int) -> None:
    """Replace the config at `path` in one rename, as a config tool would."""
    tmp = path + ".new"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(many_hosts_config(hosts, workers))
    os.rename(tmp, path)


class LogWatcher:
    """Reads the exporter's stderr on a thread (100 000 "target up" lines must not block it)
    and lets the caller wait for the next line containing a text."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self._lines: list[tuple[float, str]] = []
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            with self._cv:
                self._lines.append((time.monotonic(), raw.decode(errors="replace")))
                self._cv.notify_all()
        with self._cv:
            self._lines.append((time.monotonic(), "<eof>"))
            self._cv.notify_all()

    def mark(self) -> int:
        with self._cv:
            return len(self._lines)

    def wait(self, text: str, since: int, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for when, line in self._lines[since:]:
                    if text in line:
                        return when
                    if line == "<eof>" or "reload refused" in line:
                        raise RuntimeError(f"exporter: {line.strip()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no {text!r} within {timeout} s")
                self._cv.wait(left)


def run_size(binary: str, n: int, reloads: int, workers: int, settle: float,
             extra: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="pe-scale-") as tmp:
        cfg = os.path.join(tmp, "scale.toml")
        hosts = [loopback_host(i, 200) for i in range(n)]
        write_config(cfg, hosts, workers)
        t0 = time.monotonic()
        proc = subprocess.Popen([binary, f"--config.file={cfg}", "--web.listen-address=127.0.0.1:0",
                                 *extra], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            log = LogWatcher(proc)
            start = log.wait("msg=listening", 0, 120) - t0
            time.sleep(settle)
            rss_start = rss_mib(proc.pid)
            times = []
            changed = max(1, n // 100)
            for k in range(reloads):
                for i in range(k * changed, (k + 1) * changed):
                    hosts[i] = loopback_host(i, 220 + k)
                write_config(cfg, hosts, workers)
                mark = log.mark()
                t1 = time.monotonic()
                proc.send_signal(signal.SIGHUP)
                times.append(log.wait('msg="configuration reloaded"', mark, 120) - t1)
            time.sleep(settle)
            rss_reloaded = rss_mib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return {"n": n, "start": start, "reloads": times, "rss_start": rss_start,
            "rss_reloaded": rss_reloaded}


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares bytes per target through (targets, MiB)."""
    if len(points) < 2:
        return float("nan")
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    num = sum((x - mx) * (y - my) for x, y in points)
    den = sum((x - mx) ** 2 for x, _ in points)
    return num / den * 1024 * 1024 if den else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.environ.get("PING_EXPORTER_BIN", "build/ping_exporter"))
    ap.add_argument("--sizes", default="10000,50000,100000")
    ap.add_argument("--reloads", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--settle", type=float, default=2.0,
                    help="seconds to wait before reading VmRSS")
    ap.add_argument("--extra", action="append", default=[],
                    help="extra exporter flag (repeatable)")
    args = ap.parse_args()
    results = [run_size(args.binary, int(s), args.reloads, args.workers, args.settle, args.extra)
               for s in args.sizes.split(",")]
    print(f"binary: {args.binary}")
    print("| targets | start → listening s | reloads (1 % changed) s | RSS after start MiB "
          "| RSS after reloads MiB |")
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        reloads = ", ".join(f"{t:.2f}" for t in r["reloads"])
        print(f"| {r['n']} | {r['start']:.2f} | {reloads} | {r['rss_start']:.1f} "
              f"| {r['rss_reloaded']:.1f} |")
    print(f"bytes/target (slope): after start "
          f"{slope([(r['n'], r['rss_start']) for r in results]):.0f}, after reloads "
          f"{slope([(r['n'], r['rss_reloaded']) for r in results]):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
