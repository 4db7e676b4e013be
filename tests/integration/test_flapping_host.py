"""A flapping host: the TUN responder answers two requests, drops two, and so on, so with two
echoes per round the host is up in one round and down in the next. Every completed round must
show its own state: no transition may be lost or delayed by a round; the log folds the changes
but always ends with the state the host settled in."""

from __future__ import annotations

import datetime
import re
import signal
import time
from typing import Optional

import pytest

from lib.exporter import Exporter, wait_until
from lib.netns import NetNs
from lib.tun_responder import TunResponder

COUNT: int = 2
INTERVAL_S: float = 0.3
ROUNDS_TO_WATCH: int = 12
HOSTS = ["198.19.0.30", "2001:2:0:1::30"]


@pytest.mark.time_limit(60)
def test_every_transition_shows_on_the_next_round(exporter_bin: str, netns: NetNs,
                                                  tmp_path) -> None:
    behaviours = {h: {"pattern": "1" * COUNT + "0" * COUNT} for h in HOSTS}
    log_path = str(tmp_path / "requests.jsonl")
    config = {"defaults": {"interval": "300ms", "timeout": "100ms", "spacing": "20ms",
                           "metrics": "full",
                           "count": COUNT},
              "targets": [{"hosts": HOSTS}]}
    with TunResponder(netns, behaviours, log_path=log_path) as responder, \
            Exporter(config, netns=netns) as exp:
        # host -> {round completion timestamp: (ping_up, received, alive, no_response)}
        rounds: dict[str, dict[float, tuple[float, ...]]] = {h: {} for h in HOSTS}
        deadline = time.monotonic() + ROUNDS_TO_WATCH * INTERVAL_S + 10
        while min(len(r) for r in rounds.values()) < ROUNDS_TO_WATCH:
            assert time.monotonic() < deadline, {h: len(r) for h, r in rounds.items()}
            m = exp.metrics()
            for h in HOSTS:
                lab = {"target": h, "address": h, "group": "group-1"}
                ts = m.get_value("ping_last_round_timestamp_seconds", **lab)
                if not ts:
                    continue
                state = (m.get_value("ping_up", **lab),
                         m.get_value("ping_round_packets_received", **lab),
                         m.get_value("ping_status", status="alive", **lab),
                         m.get_value("ping_status", status="no_response", **lab))
                seen = rounds[h].setdefault(ts, state)
                # A completed round's values never change after the fact.
                assert seen == state, (h, ts, seen, state)
            time.sleep(INTERVAL_S / 10)
        requests = responder.events()
        assert exp.stop() == 0

    for h in HOSTS:
        stamps = sorted(rounds[h])
        # The poller saw consecutive rounds (no round skipped between two observations).
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        assert all(0.5 * INTERVAL_S <= g <= 1.5 * INTERVAL_S for g in gaps), (h, gaps)
        ups = [rounds[h][ts][0] for ts in stamps]
        assert all(u != v for u, v in zip(ups, ups[1:])), (h, ups)
        for ts in stamps:
            up, received, alive, no_response = rounds[h][ts]
            # The requests of this round: sent shortly before it completed (a little slack after
            # ts in case the exporter stamps the round when it starts).
            mine = [e for e in requests
                    if e["dst"] == h and ts - 0.8 * INTERVAL_S < e["t"] <= ts + 0.1 * INTERVAL_S]
            assert len(mine) == COUNT, (h, ts, mine)
            answered = sum(1 for e in mine if e["answered"])
            assert received == answered, (h, ts, received, mine)
            assert up == float(answered > 0) and alive == float(answered == COUNT)
            assert no_response == float(answered == 0)


def _state_lines(log: str, host: str) -> list[dict[str, str]]:
    """The "target up"/"target down" lines of `host` in a logfmt log, as field dicts."""
    lines = []
    for line in log.splitlines():
        if "msg=\"target " not in line or f" target={host} " not in line:
            continue
        fields = dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line))
        lines.append({k: v.strip('"') for k, v in fields.items()})
    return lines


@pytest.mark.time_limit(60)
def test_flapping_logs_end_with_the_latest_state_and_reloads_do_not_relog(
        exporter_bin: str, netns: NetNs) -> None:
    flapping, dead, steady = "198.19.0.40", "198.19.0.41", "198.19.0.42"
    behaviours = {flapping: {"pattern": "1100"}, dead: {"drop": True}, steady: {}}

    def config(count: int) -> dict:
        # A generous timeout: a late reply on a loaded machine would add a change of its own.
        return {"defaults": {"interval": "300ms", "timeout": "200ms", "spacing": "20ms",
                             "count": count, "metrics": "full"},
                "targets": [{"hosts": [flapping, dead, steady]}]}

    with TunResponder(netns, behaviours), Exporter(config(2), netns=netns) as exp:
        # Two echoes a round: up, down, up, down... one line, then changes are folded.
        wait_until(lambda: len(_state_lines(exp.stderr_text(), flapping)) >= 1, 10,
                   message="the flapping host's first down logged")
        exp.wait_rounds(flapping, 6, 10, address=flapping, group="group-1")
        # Four echoes a round take a whole "1100" cycle: partial, i.e. up, every round. The
        # reload keeps the targets (same names and addresses) and what was logged about them.
        exp.write_config(config(4))
        exp.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in exp.stderr_text(), 5,
                   message="reload done")
        # The window of the first line closes 10 s after it: the final "up" gets its line.
        def final_up() -> Optional[dict[str, str]]:
            last = _state_lines(exp.stderr_text(), flapping)[-1]
            return last if last["to"] == "partial" else None

        last = wait_until(final_up, 15, interval=0.2, message="the flapping host's final up")
        m = exp.metrics()
        log = exp.stderr_text()
        assert exp.stop() == 0

    lab = {"target": flapping, "address": flapping, "group": "group-1"}
    assert m.one("ping_up", **lab) == 1 and m.one("ping_status", status="partial", **lab) == 1
    assert last["msg"] == "target up" and last["from"] == "no_response", last
    assert int(last["suppressed_changes"]) >= 1, last
    flaps = _state_lines(log, flapping)
    assert flaps[0]["msg"] == "target down", flaps
    # Changes every 300 ms for a few seconds, then none: a line at most every 10 s.
    stamps = [datetime.datetime.fromisoformat(f["ts"].replace("Z", "+00:00")) for f in flaps]
    assert 2 <= len(flaps) <= 3, flaps
    assert all((b - a).total_seconds() > 9.9 for a, b in zip(stamps, stamps[1:])), flaps
    # Down from the first round, logged once: the reload did not repeat it as from=unknown.
    assert [(d["msg"], d["from"]) for d in _state_lines(log, dead)] == \
        [("target down", "unknown")], _state_lines(log, dead)
    assert _state_lines(log, steady) == [], log
