"""A real Prometheus server (Debian's `prometheus`) scraping the exporter, for e2e tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse
from typing import Any, Optional, Sequence

import yaml

from lib.exporter import http_get, wait_until
from lib.netns import NetNs
from lib.process import Started, terminate

PROMETHEUS_BIN: str = os.environ.get("PROMETHEUS_BIN", shutil.which("prometheus") or
                                     "/usr/bin/prometheus")


class Prometheus(Started):
    """One Prometheus process with its own temp dir, scraping `targets` (HOST:PORT) every
    `scrape_interval_s` and evaluating `rule_files` at that interval, or configured by
    `config_file` when given (then `targets`, `scrape_interval_s`, `job` and `rule_files` are
    unused). Runs inside `netns` when given (the exporter's namespace, so it can reach
    127.0.0.1 there); `extra_args` go on its command line. Context manager; not thread-safe.
    """

    def __init__(self, targets: Sequence[str] = (), *, netns: Optional[NetNs] = None,
                 scrape_interval_s: int = 1, job: str = "ping",
                 config_file: Optional[str] = None, rule_files: Sequence[str] = (),
                 extra_args: Sequence[str] = ()) -> None:
        if not os.access(PROMETHEUS_BIN, os.X_OK):
            raise RuntimeError(f"{PROMETHEUS_BIN} missing (Debian package prometheus)")
        self.netns: Optional[NetNs] = netns
        self.extra_args: list[str] = list(extra_args)
        self.dir: str = tempfile.mkdtemp(prefix="pe-prometheus-")
        self.log_path: str = os.path.join(self.dir, "prometheus.log")
        self.address: str = ""
        self.proc: Optional[subprocess.Popen] = None
        if config_file is not None:
            self.config_path: str = str(config_file)
            return
        self.config_path = os.path.join(self.dir, "prometheus.yml")
        interval: str = f"{scrape_interval_s}s"
        config: dict[str, Any] = {
            "global": {"scrape_interval": interval, "evaluation_interval": interval,
                       "scrape_timeout": interval},
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": list(targets)}]}],
        }
        if rule_files:
            config["rule_files"] = [str(f) for f in rule_files]
        with open(self.config_path, "w", encoding="utf-8") as f:
            yaml.safe_dump(config, f)

    def start(self, ready_timeout_s: float = 30.0) -> None:
        if self.netns is not None:
            port: int = self.netns.free_tcp_port()
        else:
            import socket
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                port = int(sock.getsockname()[1])
        self.address = f"127.0.0.1:{port}"
        argv: list[str] = [PROMETHEUS_BIN, f"--config.file={self.config_path}",
                           f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
                           f"--web.listen-address={self.address}",
                           "--web.enable-lifecycle", "--log.level=warn", *self.extra_args]
        log = open(self.log_path, "wb")
        try:
            if self.netns is not None:
                self.proc = self.netns.popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=log, cwd=self.dir)
            else:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=log, cwd=self.dir)
        finally:
            log.close()

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited {self.proc.returncode}: {self.log()}")
            return http_get(self.address, "/-/ready", netns=self.netns, timeout=2).status == 200

        wait_until(ready, ready_timeout_s, interval=0.2, message="prometheus /-/ready")

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-4000:]
        except FileNotFoundError:
            return ""

    def api(self, path: str, params: Optional[list[tuple[str, str]]] = None
            ) -> tuple[int, dict[str, Any]]:
        """GET /api/v1/<path>; returns (HTTP status, decoded JSON body; a body that is not
        JSON comes back as {"status": "not-json", "raw": ...})."""
        query: str = "?" + urllib.parse.urlencode(params) if params else ""
        resp = http_get(self.address, f"/api/v1/{path}{query}", netns=self.netns, timeout=10)
        try:
            body: dict[str, Any] = json.loads(resp.body)
        except ValueError:
            body = {"status": "not-json", "raw": resp.text[:500]}
        return resp.status, body

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; returns data.result (vector elements: {"metric": {...}, "value":
        [ts, "v"]}). Fails on any API error."""
        status, body = self.api("query", [("query", expr)])
        if status != 200 or body.get("status") != "success":
            raise AssertionError(f"query {expr!r} failed: {status} {body}")
        result = body["data"]["result"]
        return list(result) if isinstance(result, list) else [result]

    def query_values(self, expr: str) -> dict[frozenset, float]:
        """Instant query as {frozenset(labels): value}."""
        return {frozenset(r["metric"].items()): float(r["value"][1]) for r in self.query(expr)}

    def targets_health(self) -> list[str]:
        resp = http_get(self.address, "/api/v1/targets", netns=self.netns, timeout=10)
        body = json.loads(resp.body)
        return [t.get("health", "") for t in body["data"]["activeTargets"]]

    def close(self) -> None:
        if self.proc is not None:
            terminate(self.proc, grace_s=10.0)
        self.proc = None
        if os.environ.get("PE_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)
