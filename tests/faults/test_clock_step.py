"""The wall clock steps (+1 h, back, then -1 h) while the monotonic clock runs on.

Linux time namespaces cannot offset CLOCK_REALTIME, and stepping the machine's clock would
disturb everything else on it, so the step is made for the exporter alone: an LD_PRELOAD shim
(wallclock_shim.c, compiled here with `cc -shared -fPIC`) adds an offset, read from a file the
test rewrites, to CLOCK_REALTIME, gettimeofday(), time() and to the kernel receive timestamps
(SCM_TIMESTAMPNS) that recvmsg/recvmmsg return: the process sees one consistent wall clock that
jumps, as after `date -s`.

Expected: rounds stay on their steady-clock schedule (packets sent at the configured rate, no
round late or lost, every request answered), RTTs stay loopback-sized (no huge or negative
values in the round stats or the histogram), ping_last_round_timestamp_seconds follows the
stepped wall clock, and /metrics is served throughout.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from typing import Any, Iterator

import pytest

from lib.exporter import Exporter, Metrics
from lib.netns import NetNs

HOUR_NS: int = 3600 * 10**9
INTERVAL_S: float = 0.5
COUNT: int = 2
CONFIG: dict[str, Any] = {
    "workers": 2,
    "defaults": {"interval": "500ms", "timeout": "200ms", "spacing": "20ms", "count": COUNT,
                 "metrics": "full"},
    "targets": [{"hosts": ["127.0.0.1", "127.0.0.2", "::1"]}],
}
TARGETS: list[str] = CONFIG["targets"][0]["hosts"]
# (name, wall-clock offset after the step): +1 h, a -1 h step back to true time, another
# -1 h step to an hour behind.
PHASES: list[tuple[str, int]] = [("steady", 0), ("plus_1h", HOUR_NS), ("back_-1h", 0),
                                 ("minus_1h", -HOUR_NS)]
PHASE_S: float = 4.0
RTT_LIMIT_S: float = 1.0
SHIM_SOURCE: str = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wallclock_shim.c")


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the wall-clock shim")
    out = tmp_path_factory.mktemp("shim") / "wallclock_shim.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", str(out),
                    SHIM_SOURCE, "-ldl"], check=True, capture_output=True, timeout=60)
    os.chmod(out, 0o755)
    os.chmod(out.parent, 0o755)
    return str(out)


class SteppedClockExporter(Exporter):
    """The exporter with the wall-clock shim preloaded; `step(offset_ns)` moves its clock."""

    def __init__(self, *args: Any, shim: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shim: str = shim
        self.offset_path: str = os.path.join(self.dir, "wall_offset_ns")
        self.step(0)

    def argv(self) -> list[str]:
        return ["env", f"LD_PRELOAD={self.shim}", f"PE_WALL_OFFSET_FILE={self.offset_path}",
                *super().argv()]

    def step(self, offset_ns: int) -> None:
        tmp = self.offset_path + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{offset_ns}\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.offset_path)  # the shim never reads half a number


def _rtt_problems(m: Metrics) -> list[str]:
    """Round RTT stats outside [0, RTT_LIMIT_S), or non-finite."""
    bad = []
    for lab, v in m.select("ping_round_rtt_seconds"):
        if not (math.isfinite(v) and 0 <= v < RTT_LIMIT_S):
            bad.append(f"{lab['target']} {lab['stat']}={v}")
    return bad


def _bucket_at_least(m: Metrics, target: str, bound: float) -> tuple[float, float]:
    """(le, cumulative count) of the smallest histogram bucket whose le >= bound."""
    buckets = sorted((float(lab["le"]), v) for lab, v in
                     m.select("ping_rtt_seconds_bucket", target=target))
    for le, v in buckets:
        if le >= bound:
            return le, v
    raise AssertionError(f"no bucket >= {bound} for {target}: {buckets}")


def _sampled(exp: SteppedClockExporter, seconds: float) -> Iterator[Metrics]:
    """Scrapes every 0.25 s for `seconds` (an observation window, bounded in count)."""
    end = time.monotonic() + seconds
    for _ in range(int(seconds / 0.25) + 2):
        yield exp.metrics()
        if time.monotonic() >= end:
            return
        time.sleep(0.25)


@pytest.mark.time_limit(90)
def test_wall_clock_steps_change_nothing_but_timestamps(exporter_bin: str, netns: NetNs,
                                                       shim: str, capsys) -> None:
    with SteppedClockExporter(CONFIG, netns=netns, shim=shim) as exp:
        exp.wait_for(lambda m: all(m.maybe("ping_up", target=t) == 1 for t in TARGETS), 10,
                     message="first rounds")
        prev, prev_t = exp.metrics(), time.monotonic()
        report = []
        for name, offset in PHASES:
            exp.step(offset)
            # The stepped clock shows in the round timestamps (this also proves the shim works).
            def stamped(m: Metrics) -> bool:
                want = time.time() + offset / 1e9
                stamps = [v for _, v in m.select("ping_last_round_timestamp_seconds")]
                return len(stamps) == len(TARGETS) and all(
                    want - 2 * INTERVAL_S - 1 <= s <= want + 1 for s in stamps)

            exp.wait_for(stamped, 5, interval=0.1, message=f"{name}: timestamps follow the step")
            rtt_bad: list[str] = []
            for m in _sampled(exp, PHASE_S):
                rtt_bad += _rtt_problems(m)
            end, end_t = exp.metrics(), time.monotonic()
            elapsed = end_t - prev_t

            def delta(metric: str, **labels: str) -> float:
                return end.one(metric, **labels) - prev.one(metric, **labels)

            late = delta("ping_exporter_rounds_late_total")
            line = {"phase": name, "elapsed_s": round(elapsed, 2), "rounds_late": late}
            for t in TARGETS:
                sent, received = (delta("ping_packets_sent_total", target=t),
                                  delta("ping_packets_received_total", target=t))
                count = delta("ping_rtt_seconds_count", target=t)
                rtt_sum = delta("ping_rtt_seconds_sum", target=t)
                le, in_bucket = _bucket_at_least(end, t, RTT_LIMIT_S)
                in_bucket -= _bucket_at_least(prev, t, RTT_LIMIT_S)[1]
                expected = COUNT * elapsed / INTERVAL_S
                line[t] = {"sent": sent, "received": received, "expected": round(expected, 1),
                           "rtt_avg_ms": round(1000 * rtt_sum / count, 3) if count else None,
                           "max_ms": round(1000 * end.one("ping_round_rtt_seconds", target=t,
                                                          stat="max"), 3)}
                # On schedule: the steady-clock rate, within a round either way.
                assert abs(sent - expected) <= 2 * COUNT, (name, t, sent, expected)
                # Nothing lost: every request answered (the round in flight may lag).
                assert sent - COUNT <= received <= sent + COUNT, (name, t, sent, received)
                # Every reply's RTT landed below RTT_LIMIT_S, and none below zero.
                assert in_bucket == count and count >= received - COUNT, (name, t, le,
                                                                          in_bucket, count)
                # A reply's RTT computed as negative is clamped to 0: a loopback RTT is never
                # exactly 0 ns, so an all-zero sum means the clocks were mixed up.
                assert 0 < rtt_sum < RTT_LIMIT_S * count, (name, t, rtt_sum, count)
            assert not rtt_bad, (name, rtt_bad[:6])
            # A schedule on the wall clock would skip or rush 7200 slots per target at a 1 h
            # step; a loaded 2-core machine may delay one round past the 25 ms tolerance.
            assert late <= 2, (name, late)
            assert exp.proc is not None and exp.proc.poll() is None, exp.describe()
            report.append(line)
            prev, prev_t = end, end_t
        assert exp.get("/-/healthy").status == 200
        assert exp.stop() == 0
    with capsys.disabled():
        print("\nCLOCK_STEP")
        for line in report:
            print(f"  {line}")
