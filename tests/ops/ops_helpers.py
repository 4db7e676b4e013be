"""Helpers shared by the operations tests (tests/ops): raw HTTP, /proc status, small configs."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Optional, Sequence

LOOPBACK_CONFIG: dict = {
    "workers": 1,
    "defaults": {"interval": "500ms", "timeout": "200ms", "spacing": "20ms", "count": 2},
    "targets": [{"name": "loopback", "hosts": ["127.0.0.1", "::1"]}],
}

CAP_NET_RAW_MASK: int = 1 << 13


def loopback_config(hosts: Sequence[str] = ("127.0.0.1", "::1")) -> dict:
    """LOOPBACK_CONFIG with other (loopback) hosts."""
    config = dict(LOOPBACK_CONFIG)
    config["targets"] = [{"name": "loopback", "hosts": list(hosts)}]
    return config


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass
class RawResponse:
    status: Optional[int]  # None: no status line (the server closed or sent garbage)
    data: bytes
    closed: bool  # the server closed the connection (EOF seen) within the timeout

    def __repr__(self) -> str:
        return f"RawResponse(status={self.status}, closed={self.closed}, data={self.data[:160]!r})"


def raw_request(address: str, payload: bytes, *, timeout: float = 3.0,
                half_close: bool = False) -> RawResponse:
    """Send raw bytes to the exporter and read until it closes or `timeout` passes.

    `half_close` shuts down our sending side after the payload (a truncated request then
    reaches EOF at the server). Only the first response's status line is parsed.
    """
    host, port = split_address(address)
    data = b""
    closed = False
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(payload)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            closed = True  # the server hung up on the oversized request already
        deadline = time.monotonic() + timeout
        while not closed and time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            data += chunk
            if _complete(data):
                break
    return RawResponse(_status(data), data, closed)


def _status(data: bytes) -> Optional[int]:
    line = data.split(b"\r\n", 1)[0]
    parts = line.split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def _complete(data: bytes) -> bool:
    """A full response with a Content-Length body has arrived."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(body) >= int(value.strip())
    return False


def proc_status(pid: int, task: Optional[int] = None) -> dict[str, str]:
    """/proc/PID/status (or one thread's) as {key: value}."""
    path = f"/proc/{pid}/status" if task is None else f"/proc/{pid}/task/{task}/status"
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def tasks(pid: int) -> list[int]:
    return sorted(int(t) for t in os.listdir(f"/proc/{pid}/task"))


def thread_priorities(pid: int) -> dict[str, list[tuple[int, int]]]:
    """(nice, policy) of every thread of `pid`, by thread name."""
    out: dict[str, list[tuple[int, int]]] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm", encoding="utf-8") as f:
            name = f.read().strip()
        with open(f"/proc/{pid}/task/{tid}/stat", encoding="utf-8") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # Fields 19 and 41 of stat: nice and scheduling policy.
        out.setdefault(name, []).append((int(fields[16]), int(fields[38])))
    return out
