"""The lifecycle endpoint as Prometheus has it: POST /-/reload reloads only with
--web.enable-lifecycle (otherwise 403 "Lifecycle API is not enabled.", as Prometheus 2.42
answers), POST only, and a request whose Origin is another site is refused; SIGHUP always
reloads. And whatever triggered a reload, the threads it starts (the probers) run at the
process's own priority, not at the HTTP threads' lower one."""

from __future__ import annotations

import os
import signal
from typing import Optional

from lib.exporter import Exporter, http_get
from ops_helpers import loopback_config, thread_priorities

REQUEST_THREADS: int = 8  # --web.max-requests default

def _post(exp: Exporter, path: str = "/-/reload", *, method: str = "POST",
          origin: Optional[str] = None):
    headers = {"Content-Length": "0"}
    if origin is not None:
        headers["Origin"] = origin
    return http_get(exp.address, path, method=method, headers=headers, timeout=30)


def _reloads(exp: Exporter) -> int:
    return exp.stderr_text().count('msg="configuration reloaded"')


def test_reload_over_http_is_off_by_default_and_sighup_still_works() -> None:
    with Exporter(loopback_config()) as exp:
        refused = _post(exp)
        assert refused.status == 403, refused.text
        assert refused.text == "Lifecycle API is not enabled.\n"
        assert _reloads(exp) == 0
        get = http_get(exp.address, "/-/reload")
        assert get.status == 405 and get.headers.get("allow") == "POST", get.headers
        exp.write_config(loopback_config(["127.0.0.1", "127.0.0.2"]))
        os.kill(exp.pid, signal.SIGHUP)
        exp.wait_for(lambda m: m.maybe("ping_up", target="127.0.0.2") == 1, 10,
                     message="the target SIGHUP added, probed")
        assert _reloads(exp) == 1
        assert exp.metrics().one("ping_exporter_config_last_reload_successful") == 1


def test_enabled_reload_is_post_only_and_same_origin_only() -> None:
    with Exporter(loopback_config(), extra_args=["--web.enable-lifecycle"]) as exp:
        for method in ("PUT", "DELETE"):
            resp = _post(exp, method=method)
            assert resp.status == 405 and resp.headers.get("allow") == "POST", (method, resp)
        # A page elsewhere making the visitor's browser POST: refused, nothing reloaded.
        for origin in ("http://evil.example", "null", f"https://{exp.address}"):
            resp = _post(exp, origin=origin)
            assert resp.status == 403, (origin, resp.status)
            assert resp.text == "cross-origin request refused\n"
        assert _post(exp, "/metrics", method="GET", origin="http://evil.example").status == 403
        assert _reloads(exp) == 0
        # The exporter's own origin (its status page, say) and plain clients are served.
        assert _post(exp, origin=f"http://{exp.address}").status == 200
        resp = _post(exp)
        assert resp.status == 200 and resp.text == "reloaded\n", resp.text
        assert _reloads(exp) == 2


def _assert_probers_keep_their_priority(exp: Exporter, connections: int, when: str) -> None:
    """Every thread but the HTTP ones and the status sampler runs at the main thread's nice
    value and SCHED_OTHER. Threads inherit their creator's priority and name, so probers
    started from an HTTP thread would show up as extra civetweb-worker or http-request
    threads, lowered."""
    threads = thread_priorities(exp.pid)
    base = os.getpriority(os.PRIO_PROCESS, exp.pid)  # the main thread's
    http = min(base + 5, 19), os.SCHED_BATCH
    sampler = min(base + 10, 19), os.SCHED_BATCH
    assert threads.get("civetweb-worker") == [http] * connections, (when, threads)
    assert threads.get("civetweb-master") == [http], (when, threads)
    assert threads.get("http-request") == [http] * REQUEST_THREADS, (when, threads)
    ours = threads.get("ping_exporter", [])
    # main, the engine's refresher, the reloader and 2 probers at least
    assert ours.count((base, os.SCHED_OTHER)) >= 5, (when, threads)
    assert all(t in ((base, os.SCHED_OTHER), sampler) for t in ours), (when, threads)
    assert ours.count(sampler) <= 1, (when, threads)
    assert set(threads) == {"civetweb-worker", "civetweb-master", "http-request",
                            "ping_exporter"}, threads


def test_probers_keep_their_priority_after_http_and_sighup_reloads() -> None:
    connections = 8
    config = loopback_config(["127.0.0.1"])
    config["workers"] = 2
    with Exporter(config, extra_args=["--web.enable-lifecycle",
                                      f"--web.max-connections={connections}"]) as exp:
        exp.wait_for(lambda m: m.maybe("ping_up", target="127.0.0.1") == 1, 10,
                     message="first round")
        _assert_probers_keep_their_priority(exp, connections, "at start")
        threads0 = exp.threads()
        # A changed target list, so the reload starts a new pool of probers.
        exp.write_config({**config, "targets": [{"name": "a", "hosts": ["127.0.0.2"]}]})
        assert _post(exp).status == 200
        exp.wait_for(lambda m: m.maybe("ping_up", target="127.0.0.2") == 1, 10,
                     message="the HTTP reload's probers at work")
        _assert_probers_keep_their_priority(exp, connections, "after POST /-/reload")
        assert exp.threads() == threads0
        exp.write_config({**config, "targets": [{"name": "b", "hosts": ["127.0.0.3"]}]})
        os.kill(exp.pid, signal.SIGHUP)
        exp.wait_for(lambda m: m.maybe("ping_up", target="127.0.0.3") == 1, 10,
                     message="the SIGHUP reload's probers at work")
        _assert_probers_keep_their_priority(exp, connections, "after SIGHUP")
        assert exp.threads() == threads0
