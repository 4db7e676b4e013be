"""A live exporter scraped by a real Prometheus, configured from config/prometheus*.yml.

The scrape jobs are taken from the checked-in files and only re-pointed: the exporter's
address (it listens on 127.0.0.1:0), 1 s intervals, absolute paths. So a broken job in
those files breaks the tests that use this stack.
"""

from __future__ import annotations

import copy
import pathlib
import shutil
import tempfile
import time
from typing import Any, Optional

import yaml

from lib.exporter import Exporter, wait_until
from lib.process import Started
from lib.prometheus import Prometheus

# What the exporter pings: loopback only, fast rounds so a 30 s window fills quickly; every
# family of the metrics contract, which the dashboards and rules draw from.
EXPORTER_CONFIG: dict[str, Any] = {
    "defaults": {"interval": "500ms", "timeout": "300ms", "spacing": "50ms", "count": 2,
                 "metrics": "full"},
    "targets": [{"name": "loopback", "hosts": ["127.0.0.1", "::1"]}],
}
TARGETS: tuple[str, ...] = ("127.0.0.1", "::1")


class PrometheusServer(Prometheus):
    """Debian's prometheus on a free 127.0.0.1 port with a temp storage dir, started from a
    given config file (lib/prometheus.py). Context manager; `close()` stops it and removes the
    dir."""

    def __init__(self, config_file: pathlib.Path, *, extra_args: tuple[str, ...] = ()) -> None:
        super().__init__(config_file=str(config_file), extra_args=extra_args)
        self.config_file: pathlib.Path = config_file


def _job(config_file: pathlib.Path, name: str) -> dict[str, Any]:
    config = yaml.safe_load(config_file.read_text())
    for job in config["scrape_configs"]:
        if job["job_name"] == name:
            return copy.deepcopy(job)
    raise AssertionError(f"{config_file} has no scrape job {name!r}")


def fast_rules(repo: pathlib.Path, name: str = "alerts.yml") -> dict[str, Any]:
    """config/<name> with per-group `interval`s removed, so every group is evaluated at the
    stack's 1 s global interval instead of once a minute."""
    rules = yaml.safe_load((repo / "config" / name).read_text())
    for group in rules["groups"]:
        group.pop("interval", None)
    return rules


def stack_config(repo: pathlib.Path, exporter_address: str, rules_file: pathlib.Path
                 ) -> dict[str, Any]:
    """The Prometheus config of the stack: the `ping_exporter` job of prometheus.yml and the
    `ping_probe` job of prometheus-probe.yml, both aimed at `exporter_address`."""
    config_dir = repo / "config"
    metrics_job = _job(config_dir / "prometheus.yml", "ping_exporter")
    for static in metrics_job["static_configs"]:
        static["targets"] = [exporter_address]
    probe_job = _job(config_dir / "prometheus-probe.yml", "ping_probe")
    address_rules = [r for r in probe_job["relabel_configs"]
                     if r.get("target_label") == "__address__"]
    if len(address_rules) != 1:
        raise AssertionError("ping_probe must have exactly one relabel rule setting __address__")
    address_rules[0]["replacement"] = exporter_address
    for sd in probe_job.get("file_sd_configs", []):
        sd["files"] = [str(config_dir / f) for f in sd["files"]]
    for job in (metrics_job, probe_job):
        job["scrape_interval"] = "1s"
        job["scrape_timeout"] = "1s"
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_file)],
        "scrape_configs": [metrics_job, probe_job],
    }


class Stack(Started):
    """Exporter + Prometheus. Context manager (lib/process.py Started). `wait_for_window()`
    returns once 30 s of data exist."""

    def __init__(self, repo: pathlib.Path) -> None:
        self.repo = repo
        self.exporter: Optional[Exporter] = None
        self.prometheus: Optional[PrometheusServer] = None
        self.dir = tempfile.mkdtemp(prefix="pe-eco-stack-")
        self.started = 0.0

    def start(self) -> None:
        self.exporter = Exporter(EXPORTER_CONFIG)
        self.exporter.start()
        rules_file = pathlib.Path(self.dir) / "alerts.yml"
        rules_file.write_text(yaml.safe_dump(fast_rules(self.repo)))
        config_file = pathlib.Path(self.dir) / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(
            stack_config(self.repo, self.exporter.address, rules_file)))
        self.prometheus = PrometheusServer(config_file)
        self.prometheus.start()
        self.started = time.monotonic()

    def wait_for_window(self, seconds: int = 30, timeout_s: float = 75.0) -> None:
        """Until each target has `seconds`+ of ping_up samples in the ping_exporter job and a
        counter rate over 30 s exists; a Prometheus with 1 s scrapes needs about `seconds`."""
        assert self.prometheus is not None
        prom = self.prometheus
        expr = (f'min(count_over_time(ping_up{{job="ping_exporter"}}[{seconds + 5}s])) >= {seconds}'
                f' and on() count(ping_up{{job="ping_exporter"}}) == {len(TARGETS)}')

        def ready() -> bool:
            return bool(prom.query(expr))

        try:
            wait_until(ready, timeout_s, interval=0.5, message=f"{seconds}s of ping_up samples")
        except AssertionError as err:
            details = self.exporter.describe() if self.exporter else ""
            raise AssertionError(f"{err}\nprometheus log:\n{prom.log()}\n{details}") from None

    def close(self) -> None:
        if self.prometheus is not None:
            self.prometheus.close()
        if self.exporter is not None:
            self.exporter.close()
        shutil.rmtree(self.dir, ignore_errors=True)
