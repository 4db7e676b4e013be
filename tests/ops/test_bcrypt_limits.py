"""bcrypt in --web.config.file: a hash whose cost is outside 4..16 is refused at start with a
message naming the file, the user, the cost and the range (never the hash), and SIGTERM stops
the exporter within 1 s even while a slow (cost 16, about 10 s) check of a password runs."""

from __future__ import annotations

import concurrent.futures
import os
import time

import bcrypt
import pytest

from lib.exporter import Exporter, http_get, run_cli, wait_until
from ops_helpers import LOOPBACK_CONFIG


def _hash(cost: int) -> str:
    # A real hash at the cheapest cost, then given another cost: the salt stays valid, so
    # checking it costs 2^cost rounds, and no password matches it.
    cheap = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
    return f"{cheap[:4]}{cost:02d}{cheap[6:]}"


def _web_config(tmp_path, cost: int) -> tuple[str, str]:
    hashed = _hash(cost)
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n  prometheus: {hashed}\n", encoding="utf-8")
    return str(path), hashed


@pytest.mark.parametrize("cost", [3, 17, 31])
def test_cost_outside_the_range_is_refused_at_start(exporter_bin: str, tmp_path,
                                                    cost: int) -> None:
    path, hashed = _web_config(tmp_path, cost)
    proc = run_cli([f"--web.config.file={path}", "--web.listen-address=127.0.0.1:0"], timeout=20)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert path in out and 'user "prometheus"' in out, out
    assert f"has cost {cost}, outside the allowed 4..16" in out, out
    assert hashed[7:] not in out, out  # neither salt nor digest


def _bcrypt_threads(pid: int) -> int:
    names = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm", encoding="utf-8") as f:
                names.append(f.read().strip())
        except FileNotFoundError:
            pass  # the thread ended meanwhile
    return names.count("bcrypt")


@pytest.mark.time_limit(60)
def test_sigterm_during_a_slow_check_exits_within_a_second(tmp_path, monkeypatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    # A ThreadSanitizer build sleeps 1 s at exit while another thread (the abandoned check)
    # still runs, to catch races at exit; that second is not the exporter's.
    monkeypatch.setenv("TSAN_OPTIONS", os.environ.get("TSAN_OPTIONS", "") + ":atexit_sleep_ms=0")
    path, _ = _web_config(tmp_path, 16)
    with Exporter(LOOPBACK_CONFIG, extra_args=[f"--web.config.file={path}"]) as exp:
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            # "prometheus:wrong" in base64: a check the exporter must compute, ~10 s at cost 16.
            pending = pool.submit(http_get, exp.address, "/metrics", timeout=30,
                                  headers={"Authorization": "Basic cHJvbWV0aGV1czp3cm9uZw=="})
            wait_until(lambda: _bcrypt_threads(exp.pid) == 1, 10, message="a bcrypt check running")
            started = time.monotonic()
            assert exp.stop(timeout_s=1.0) == 0  # fails if it takes longer
            took = time.monotonic() - started
            try:
                status = pending.result(timeout=5).status
            except OSError:
                status = None  # the connection closed without an answer: also fine
        with capsys.disabled():
            print(f"\nBCRYPT cost=16 sigterm_to_exit_s={took:.3f} client_status={status}",
                  flush=True)
        assert status in (401, None), status
