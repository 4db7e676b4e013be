"""Targets at scale: 100 000 loopback targets start, reload with 1 % changed, and are all counted.

Speed goals live in bench/scale.py (run by hand): a loaded CI machine must not fail this test, so
it asserts only correctness and prints the figures (start, reload, RSS). The interval is 60 s
and every target is a 127/8 literal, so few packets are sent and all of them stay on `lo`.
"""

from __future__ import annotations

import signal
import time

import pytest

from lib.exporter import (Exporter, loopback_host, many_hosts_config, parse_metrics, raw_scrape,
                          rss_mib, wait_until)

TARGETS: int = 100_000
CHANGED: int = TARGETS // 100  # 1 % per reload
RELOADS: int = 2


def scrape_value(address: str, name: str) -> float:
    """The one sample of an unlabelled metric, from a whole (tens of MB) /metrics body."""
    body: bytes = raw_scrape(address, timeout=30.0).body
    return parse_metrics(body.decode("utf-8"), [name]).one(name)


@pytest.mark.slow
@pytest.mark.time_limit(120)
def test_hundred_thousand_targets_start_and_reload() -> None:
    hosts = [loopback_host(i, 40) for i in range(TARGETS)]
    exporter = Exporter(many_hosts_config(hosts), start_timeout_s=60.0)
    t0 = time.monotonic()
    with exporter:  # starts it and waits for msg=listening
        started = time.monotonic() - t0
        assert scrape_value(exporter.address, "ping_exporter_targets") == TARGETS
        assert f"targets={TARGETS}" in exporter.stderr_text()
        figures = [f"start->listening {started:.2f} s, RSS {rss_mib(exporter.pid):.0f} MiB"]

        for k in range(RELOADS):
            # A different 1 % each time, moved to addresses no other target uses.
            for i in range(k * CHANGED, (k + 1) * CHANGED):
                hosts[i] = loopback_host(i, 60 + k)
            exporter.write_config(many_hosts_config(hosts))
            before = exporter.stderr_text().count('msg="configuration reloaded"')
            t1 = time.monotonic()
            exporter.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: exporter.stderr_text().count('msg="configuration reloaded"') > before
                       or "reload refused" in exporter.stderr_text(), 60.0,
                       interval=0.02, message="the reload's log line")
            reloaded = time.monotonic() - t1
            assert "reload refused" not in exporter.stderr_text()
            assert exporter.proc.poll() is None
            assert scrape_value(exporter.address, "ping_exporter_targets") == TARGETS
            assert scrape_value(exporter.address,
                                "ping_exporter_config_last_reload_successful") == 1
            figures.append(f"reload {k + 1} ({CHANGED} changed) {reloaded:.2f} s, "
                           f"RSS {rss_mib(exporter.pid):.0f} MiB")

        # The changed hosts are probed under their new addresses: their series exist once a
        # round of theirs completes; not awaited here (rounds are 60 s apart), only the count.
        assert exporter.stop(timeout_s=10.0) == 0
    print(f"\n[ scale ] {TARGETS} targets: " + "; ".join(figures))
