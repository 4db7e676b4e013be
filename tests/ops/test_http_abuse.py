"""The HTTP front door under abuse: 250 connections that never send a byte plus 50 that trickle
a request head at 1 byte/s, each opened again as soon as the server drops it, against the real
binary with its default flags. Every scrape of /metrics meanwhile must complete within 1 s, and
RSS must stay bounded (no growth per dropped connection). Loopback only; the abuse is bounded
in sockets (300) and in time (the test's)."""

from __future__ import annotations

import os
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import pytest

from lib.exporter import Exporter, raw_scrape, rss_mib, wait_until
from ops_helpers import LOOPBACK_CONFIG, split_address

IDLE: int = 250
TRICKLING: int = 50
REQUEST_TIMEOUT_S: float = 5.0  # --web.request-timeout default: how long the server holds one
SCRAPE_LIMIT_S: float = 1.0
# A head that is never finished: the server gives up on it after REQUEST_TIMEOUT_S.
TRICKLE_HEAD: bytes = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 200


@dataclass
class _Conn:
    sock: socket.socket
    trickle: bool
    next_send: float = 0.0
    sent: int = 0


@dataclass
class Abuse:
    """Keeps `idle` silent and `trickling` slow connections open to `address` on its own
    thread until stop(); a connection the server closes is replaced at once. At most
    idle + trickling sockets exist at a time."""
    address: str
    idle: int
    trickling: int
    reopened: int = 0  # connections the server dropped (and we opened again)
    error: Optional[BaseException] = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: Optional[threading.Thread] = None

    def __enter__(self) -> "Abuse":
        self._thread = threading.Thread(target=self._run, name="abuse", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=10)
        assert not self._thread.is_alive(), "abuse thread did not stop"

    def _open(self, sel: selectors.BaseSelector, trickle: bool, rng: random.Random) -> None:
        # Non-blocking: a server whose accept queue is full leaves the connect pending (the
        # kernel retries the SYN) without stalling the other connections; a refused one reads
        # as EOF below and is opened again.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(split_address(self.address))
        # Trickling clients start spread over the first second, as independent clients would.
        conn = _Conn(sock, trickle, time.monotonic() + rng.random())
        sel.register(sock, selectors.EVENT_READ, conn)

    def _run(self) -> None:
        rng = random.Random(14)
        sel = selectors.DefaultSelector()
        try:
            for i in range(self.idle + self.trickling):
                self._open(sel, i >= self.idle, rng)
            while not self._stop.is_set():
                for key, _ in sel.select(timeout=0.05):
                    conn: _Conn = key.data
                    try:
                        data = conn.sock.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if data:
                        continue  # an error answer (400/408); the close follows
                    sel.unregister(conn.sock)
                    conn.sock.close()
                    self.reopened += 1
                    self._open(sel, conn.trickle, rng)
                now = time.monotonic()
                for key in list(sel.get_map().values()):
                    conn = key.data
                    if conn.trickle and now >= conn.next_send and conn.sent < len(TRICKLE_HEAD):
                        try:
                            conn.sock.send(TRICKLE_HEAD[conn.sent:conn.sent + 1])
                            conn.sent += 1
                        except OSError:
                            pass  # dropped: seen as EOF above
                        conn.next_send += 1.0
        except BaseException as err:  # noqa: BLE001 - reported by the test
            self.error = err
        finally:
            for key in list(sel.get_map().values()):
                key.data.sock.close()
            sel.close()


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.slow
@pytest.mark.time_limit(90)
def test_scrapes_stay_fast_under_idle_and_trickling_connections(
        capsys: pytest.CaptureFixture) -> None:
    with Exporter(LOOPBACK_CONFIG) as exp:
        fds0 = _fds(exp.pid)  # before any connection, so none of ours is counted in it
        raw_scrape(exp.address, timeout=10)
        rss0 = rss_mib(exp.pid)
        scrapes: list[float] = []
        rss: list[float] = []
        with Abuse(exp.address, IDLE, TRICKLING) as abuse:
            wait_until(lambda: _fds(exp.pid) >= fds0 + IDLE + TRICKLING, 10,
                       message=f"{IDLE + TRICKLING} abusive connections accepted")
            # Scrape for longer than the server holds a connection, so the load seen includes
            # connections dropped by the request timeout and opened again.
            until = time.monotonic() + 2 * REQUEST_TIMEOUT_S + 1
            while time.monotonic() < until and len(scrapes) < 40:
                scrapes.append(raw_scrape(exp.address, timeout=30).seconds)
                rss.append(rss_mib(exp.pid))
                time.sleep(0.5)  # pacing, as a scraper would
            held = _fds(exp.pid) - fds0
        assert abuse.error is None, abuse.error
        with capsys.disabled():
            print(f"\nHTTP_ABUSE idle={IDLE} trickling={TRICKLING} held_connections={held} "
                  f"dropped_and_reopened={abuse.reopened} scrapes={len(scrapes)} "
                  f"scrape_s max={max(scrapes):.3f} "
                  f"median={sorted(scrapes)[len(scrapes) // 2]:.3f} "
                  f"rss_mib before={rss0:.1f} max={max(rss):.1f} last={rss[-1]:.1f}", flush=True)
        assert max(scrapes) <= SCRAPE_LIMIT_S, scrapes
        # The load was real: the server still held most abusive connections at the end, and
        # dropped the trickling ones (at least) once their head timed out.
        assert held >= (IDLE + TRICKLING) * 3 // 4, held
        assert abuse.reopened >= TRICKLING, abuse.reopened
        # Bounded memory: a thread's buffers for each connection held, nothing kept per
        # connection dropped (the second half of the run is no higher than the first).
        assert max(rss) - rss0 < 48, (rss0, rss)
        half = len(rss) // 2
        assert max(rss[half:]) <= max(rss[:half]) + 4, rss
        # Once the abuse stops, every connection is let go.
        wait_until(lambda: _fds(exp.pid) <= fds0, REQUEST_TIMEOUT_S + 3,
                   message=f"fds back to {fds0}")
        assert exp.get("/-/healthy").status == 200
