"""A flapping host: the TUN responder answers two requests, drops two, and so on, so with two
echoes per round the host is up in one round and down in the next. Every completed round must
show its own state: no transition may be lost or delayed by a round."""

from __future__ import annotations

import time

import pytest

from lib.exporter import Exporter
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
                lab = {"target": h, "address": h}
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
