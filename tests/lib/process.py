"""Owning child processes and other started things, for the tests and the benches.

Python standard library only.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from typing import TypeVar

S = TypeVar("S", bound="Started")


def terminate(proc: subprocess.Popen, grace_s: float = 2.0) -> None:
    """SIGTERM `proc`, wait up to `grace_s` for it, then SIGKILL and reap it. Nothing if it has
    already exited."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=5.0)


class Started:
    """Base of an owner of something started (processes, namespaces, temp dirs). As a context
    manager it calls `start()` and, on leaving, `close()`; `close()` also runs when `start()`
    fails half-way, so it must cope with a partial start and be idempotent. Not thread-safe."""

    def start(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: S) -> S:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
