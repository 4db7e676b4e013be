"""The exporter against loopback only (127.0.0.0/8 and ::1, this host's own namespace).

Proves: many targets all up with nothing lost, a thread count that does not grow with targets,
output promtool accepts, config errors that point at line:column, --config.check, the `probe`
subcommand, the HTTP endpoints, and a prompt clean exit on SIGTERM.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from typing import Any

import pytest

from lib.exporter import Exporter, Metrics, parse_metrics, run_cli, temp_dir, wait_until

COUNT: int = 2
FAST: dict[str, Any] = {"interval": "500ms", "timeout": "200ms", "spacing": "50ms",
                        "metrics": "full",
                        "count": COUNT}


def _loopback_hosts(n: int, second_octet: int = 1) -> list[str]:
    """n distinct addresses in 127.<second_octet>.0.0/16 (local in every namespace)."""
    return [f"127.{second_octet}.{i // 250}.{i % 250 + 1}" for i in range(n)]


def _config(hosts: list[str], **top: Any) -> dict[str, Any]:
    return {**top, "defaults": dict(FAST), "targets": [{"name": "lo", "hosts": hosts,
                                                        "labels": {"site": "lab"}}]}


def _every_target_done(exporter: Exporter, n_series: int, rounds: int) -> Metrics:
    """Wait until `n_series` ping_up series exist and each has sent >= rounds*COUNT."""

    def done() -> Metrics | None:
        m = exporter.metrics()
        sent = m.select("ping_packets_sent_total")
        if len(m.select("ping_up")) == n_series and len(sent) == n_series and \
                all(v >= rounds * COUNT for _, v in sent):
            return m
        return None

    return wait_until(done, 20, interval=0.2, message=f"{n_series} targets x {rounds} rounds")


@pytest.mark.time_limit(60)
def test_200_loopback_targets_all_up_nothing_lost(exporter_bin: str) -> None:
    hosts: list[str] = _loopback_hosts(200) + ["::1"]
    with Exporter(_config(hosts, workers=2)) as exp:
        m = _every_target_done(exp, len(hosts), rounds=2)
        assert m.one("ping_exporter_targets") == len(hosts)
        assert m.one("ping_exporter_workers") == 2
        for host in hosts:
            labels = {"target": host, "address": host, "group": "lo", "site": "lab"}
            up = m.get_value("ping_up", **labels)
            assert up == 1, (host, m.select("ping_up", target=host), exp.describe())
            assert m.get_value("ping_status", status="alive", **labels) == 1
            assert m.get_value("ping_status", status="partial", **labels) == 0
            assert m.get_value("ping_status", status="no_response", **labels) == 0
            assert m.get_value("ping_round_packets_sent", **labels) == COUNT
            assert m.get_value("ping_round_packets_received", **labels) == COUNT
            assert m.get_value("ping_loss_ratio", **labels) == 0
            sent = m.get_value("ping_packets_sent_total", **labels)
            received = m.get_value("ping_packets_received_total", **labels)
            # A round may be in flight at scrape time: at most COUNT replies outstanding.
            assert sent is not None and received is not None
            assert 0 <= sent - received <= COUNT, (host, sent, received)
            assert m.get_value("ping_duplicate_replies_total", **labels) == 0
            assert m.get_value("ping_invalid_replies_total", **labels) == 0
            assert m.get_value("ping_late_replies_total", **labels) == 0
            rtt_count = m.get_value("ping_rtt_seconds_count", **labels)
            assert rtt_count is not None and rtt_count >= received
            avg = m.get_value("ping_round_rtt_seconds", stat="avg", **labels)
            assert avg is not None and 0 < avg < 0.05, (host, avg)
        assert exp.stop() == 0


@pytest.mark.time_limit(60)
def test_thread_count_is_bounded_and_independent_of_targets(exporter_bin: str) -> None:
    threads: dict[int, int] = {}
    for n in (10, 2000):
        # A small HTTP pool (512 threads by default), so its threads do not hide the rest.
        with Exporter(_config(_loopback_hosts(n, second_octet=2), workers=2),
                      extra_args=["--web.max-connections=8"]) as exp:
            _every_target_done(exp, n, rounds=1)
            counts = {exp.threads() for _ in range(3)}
            assert len(counts) == 1, f"thread count moving: {counts}"
            threads[n] = counts.pop()
            assert exp.stop() == 0
    assert threads[10] == threads[2000], threads
    # workers=2 plus HTTP and housekeeping threads; one per target would be thousands.
    assert threads[2000] <= 32, threads


@pytest.mark.time_limit(30)
def test_promtool_accepts_a_real_scrape_plain_and_gzip(exporter_bin: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool (Debian package prometheus) not installed")
    with Exporter(_config(["127.0.0.1", "::1"])) as exp:
        _every_target_done(exp, 2, rounds=1)
        text = exp.scrape_text()
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                               text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        resp = exp.get("/metrics", headers={"Accept-Encoding": "gzip"})
        assert resp.status == 200 and resp.headers.get("content-encoding") == "gzip"
        unzipped = parse_metrics(gzip.decompress(resp.body).decode())
        assert unzipped.names() == parse_metrics(text).names()
        m = parse_metrics(text)
        for family, kind in (("ping_up", "gauge"), ("ping_packets_sent_total", "counter"),
                             ("ping_rtt_seconds", "histogram")):
            declared = m.types.get(family) or m.types.get(family.removesuffix("_total"))
            assert declared == kind, (family, m.types)
        builds = m.select("ping_exporter_build_info")
        assert len(builds) == 1 and builds[0][1] == 1 and builds[0][0].get("version")
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes",
                     "process_open_fds", "process_start_time_seconds",
                     "ping_exporter_config_last_reload_successful"):
            assert name in m.names(), name
        assert exp.stop() == 0


def test_endpoints_answer(exporter_bin: str) -> None:
    with Exporter(_config(["127.0.0.1"])) as exp:
        for path in ("/-/healthy", "/"):
            assert exp.get(path).status == 200, path
        # Ready may wait for the first completed round (503 until then), not longer.
        wait_until(lambda: exp.get("/-/ready").status == 200, 5, message="/-/ready 200")
        assert exp.get("/no-such-page").status == 404
        assert exp.stop() == 0


# Line 4 holds an unterminated string; line 7 a value of the wrong type.
_SYNTAX_ERROR = 'workers = 1\n\n[defaults]\ninterval = "1s\ncount = 2\n'
_TYPE_ERROR = 'workers = 1\n\n[defaults]\ninterval = "1s"\ntimeout = "200ms"\n\ncount = "two"\n' \
              '\n[[targets]]\nhosts = ["127.0.0.1"]\n'


@pytest.mark.parametrize("text,line", [(_SYNTAX_ERROR, 4), (_TYPE_ERROR, 7)])
def test_malformed_config_fails_with_line_and_column(exporter_bin: str, text: str,
                                                     line: int) -> None:
    with temp_dir() as d:
        path = f"{d}/bad.toml"
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        for args in ([f"--config.file={path}", "--web.listen-address=127.0.0.1:0"],
                     [f"--config.file={path}", "--config.check"]):
            proc = run_cli(args, timeout=10)
            assert proc.returncode != 0, proc
            assert re.search(rf"(?<![\d.]){line}:\d+", proc.stderr), proc.stderr
            assert "bad.toml" in proc.stderr, proc.stderr


def test_config_check_exit_status(exporter_bin: str) -> None:
    with temp_dir() as d:
        good = f"{d}/good.toml"
        with open(good, "w", encoding="utf-8") as f:
            f.write('[defaults]\ninterval = "1s"\ntimeout = "500ms"\n\n'
                    '[[targets]]\nhosts = ["127.0.0.1", "::1"]\n')
        proc = run_cli([f"--config.file={good}", "--config.check"], timeout=10)
        assert proc.returncode == 0, proc
        # Valid TOML, invalid meaning: the timeout does not fit in the interval.
        bad = f"{d}/timeout.toml"
        with open(bad, "w", encoding="utf-8") as f:
            f.write('[defaults]\ninterval = "1s"\ntimeout = "2s"\n\n'
                    '[[targets]]\nhosts = ["127.0.0.1"]\n')
        proc = run_cli([f"--config.file={bad}", "--config.check"], timeout=10)
        assert proc.returncode == 1, proc
        assert "timeout" in proc.stderr, proc.stderr


def test_config_check_reads_target_files_and_web_config(exporter_bin: str) -> None:
    hash_ = "$2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG"
    with temp_dir() as d:
        with open(f"{d}/edge.txt", "w", encoding="utf-8") as f:
            f.write("127.0.0.1\n127.0.0.2\n")
        with open(f"{d}/sd.yml", "w", encoding="utf-8") as f:
            f.write("- targets: ['127.0.0.3:9100']\n  labels: {site: lab}\n")
        with open(f"{d}/web.yml", "w", encoding="utf-8") as f:
            f.write(f"basic_auth_users:\n  alice: '{hash_}'\n")
        config = f"{d}/pe.toml"
        with open(config, "w", encoding="utf-8") as f:
            f.write('[[targets]]\nhosts = ["::1"]\n\n'
                    '[[target_files]]\nname = "edge"\npath = "edge.txt"\n\n'
                    '[[target_files]]\npath = "sd.yml"\nformat = "file_sd"\n')
        check = [f"--config.file={config}", "--config.check", f"--web.config.file={d}/web.yml"]
        proc = run_cli(check, timeout=10)
        assert proc.returncode == 0, proc
        # It says what it checked.
        assert proc.stdout.splitlines() == [
            f"{config}: OK, 1 group(s), 1 target(s)",
            f"{d}/edge.txt: OK, target file edge, 2 target(s)",
            f"{d}/sd.yml: OK, target file file-2, 1 target(s)",
            f"{d}/web.yml: OK, web config, TLS off, 1 basic auth user(s)",
        ], proc.stdout

        # A broken target file: where, what and the offending text, exit 1.
        with open(f"{d}/edge.txt", "w", encoding="utf-8") as f:
            f.write("127.0.0.1\nnot a host!\n")
        proc = run_cli(check, timeout=10)
        assert proc.returncode == 1, proc
        assert f"{d}/edge.txt:2:1: " in proc.stderr and "not a host!" in proc.stderr, proc.stderr
        # A missing one too.
        os.remove(f"{d}/edge.txt")
        proc = run_cli(check, timeout=10)
        assert proc.returncode == 1, proc
        assert f"{d}/edge.txt: cannot read: No such file or directory" in proc.stderr, proc.stderr
        with open(f"{d}/edge.txt", "w", encoding="utf-8") as f:
            f.write("127.0.0.1\n")
        assert run_cli(check, timeout=10).returncode == 0

        # A broken web config (a password in plain text), exit 1 naming the file.
        with open(f"{d}/web.yml", "w", encoding="utf-8") as f:
            f.write("basic_auth_users:\n  alice: hunter2\n")
        proc = run_cli(check, timeout=10)
        assert proc.returncode == 1, proc
        assert f"{d}/web.yml" in proc.stderr and "hunter2" not in proc.stderr, proc.stderr


def test_version(exporter_bin: str) -> None:
    proc = run_cli(["--version"], timeout=10)
    assert proc.returncode == 0 and re.search(r"\d+\.\d+\.\d+", proc.stdout + proc.stderr), proc


@pytest.mark.time_limit(30)
def test_probe_subcommand_on_loopback(exporter_bin: str) -> None:
    proc = run_cli(["probe", "--count=2", "--timeout=500ms", "127.0.0.1", "::1", "127.3.0.9"],
                   timeout=20)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    assert sorted(lines) == sorted(f"Status from {h} is Alive"
                                   for h in ("127.0.0.1", "::1", "127.3.0.9")), proc
    assert proc.returncode == 0, proc
