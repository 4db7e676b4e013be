"""Least privilege against the real binary: --runas.user drops root and keeps only CAP_NET_RAW
(every thread), probing and SIGHUP reloads still work; an unprivileged start without any usable
ICMP socket fails with a hint; datagram ICMP as nobody works with no capability at all."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from lib.exporter import Exporter, binary_path, parse_metrics, require_binary, temp_dir, to_toml
from lib.netns import NetNs, require_netns_support
from ops_helpers import CAP_NET_RAW_MASK, loopback_config, proc_status, tasks

NOBODY: int = 65534


def require_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root")


def caps(status: dict[str, str], key: str) -> int:
    return int(status[key], 16)


@pytest.mark.tsan
def test_runas_nobody_keeps_only_net_raw_and_still_probes_and_reloads() -> None:
    require_root()
    config = loopback_config(["127.0.0.1", "::1"])
    with Exporter(config, extra_args=["--runas.user=nobody"]) as exp:
        assert "dropped privileges" in exp.stderr_text()
        # Every thread, not only the main one: capabilities are per thread in Linux.
        threads = tasks(exp.pid)
        assert len(threads) > 2, threads
        for tid in threads:
            st = proc_status(exp.pid, tid)
            assert st["Uid"].split() == [str(NOBODY)] * 4, (tid, st["Uid"])
            assert st["Gid"].split() == [str(NOBODY)] * 4, (tid, st["Gid"])
            assert st["Groups"] == "", (tid, st["Groups"])
            assert caps(st, "CapEff") == CAP_NET_RAW_MASK, (tid, st["CapEff"])
            assert caps(st, "CapPrm") == CAP_NET_RAW_MASK, (tid, st["CapPrm"])
            assert caps(st, "CapBnd") == CAP_NET_RAW_MASK, (tid, st["CapBnd"])
            assert caps(st, "CapInh") == 0 and caps(st, "CapAmb") == 0
            assert st["NoNewPrivs"] == "1"
        exp.wait_for(lambda m: m.maybe("ping_up", target="127.0.0.1") == 1
                     and m.maybe("ping_up", target="::1") == 1, 10,
                     message="both loopback targets up after the drop")

        # /probe opens new raw sockets from an HTTP thread.
        resp = exp.get("/probe?target=127.0.0.1&count=2", timeout=10)
        assert resp.status == 200, resp.text
        assert parse_metrics(resp.text).one("probe_success") == 1

        # A reload builds a new worker pool, i.e. new raw sockets, as nobody.
        before = exp.metrics().one("ping_exporter_config_last_reload_success_timestamp_seconds")
        exp.write_config(loopback_config(["127.0.0.1", "::1", "127.0.0.5"]))
        os.kill(exp.pid, signal.SIGHUP)
        m = exp.wait_for(
            lambda m: m.one("ping_exporter_config_last_reload_success_timestamp_seconds") > before
            and m.maybe("ping_up", target="127.0.0.5") == 1, 10,
            message="the reloaded target probed")
        assert m.one("ping_exporter_config_last_reload_successful") == 1
        assert "reload refused" not in exp.stderr_text()
        assert caps(proc_status(exp.pid), "CapEff") == CAP_NET_RAW_MASK
        # Marked tsan: a ThreadSanitizer build reports races here (and stops the exporter).
        assert "ThreadSanitizer" not in exp.stderr_text(), exp.stderr_text()[-4000:]


def test_runas_with_datagram_sockets_keeps_no_capability() -> None:
    require_root()
    require_netns_support()
    with NetNs("pe-ops-") as ns:
        ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        with Exporter(loopback_config(), netns=ns,
                      extra_args=["--runas.user=nobody", "--icmp.socket=dgram"]) as exp:
            st = proc_status(exp.pid)
            assert st["Uid"].split() == [str(NOBODY)] * 4
            assert caps(st, "CapEff") == 0 and caps(st, "CapPrm") == 0
            exp.wait_for(lambda m: m.maybe("ping_up", target="127.0.0.1") == 1
                         and m.maybe("ping_up", target="::1") == 1, 10,
                         message="loopback up over datagram ICMP")


def test_runas_unknown_user_fails_clearly() -> None:
    require_binary()
    with temp_dir() as d:
        path = os.path.join(d, "c.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(to_toml(loopback_config()))
        proc = subprocess.run([binary_path(), f"--config.file={path}",
                               "--web.listen-address=127.0.0.1:0",
                               "--runas.user=no-such-user-pe"],
                              capture_output=True, text=True, timeout=20, check=False)
    assert proc.returncode != 0
    assert "no such user" in proc.stderr


@pytest.mark.parametrize("socket_kind", ["raw", "auto"])
def test_unprivileged_start_without_icmp_sockets_prints_hint(socket_kind: str) -> None:
    """As nobody with no capability, and ping_group_range closed (the default here), neither
    socket kind can be opened: exit non-zero with the hint, instead of running blind."""
    require_root()
    require_binary()
    with open("/proc/sys/net/ipv4/ping_group_range", encoding="utf-8") as f:
        low, high = (int(x) for x in f.read().split())
    if low <= NOBODY <= high:
        pytest.skip("ping_group_range lets nobody open datagram ICMP sockets on this host")
    with temp_dir() as d:
        path = os.path.join(d, "c.toml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(to_toml(loopback_config()))
        os.chmod(path, 0o644)
        proc = subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
             binary_path(), f"--config.file={path}", "--web.listen-address=127.0.0.1:0",
             f"--icmp.socket={socket_kind}"],
            capture_output=True, text=True, timeout=20, check=False)
    assert proc.returncode != 0, proc.stderr
    assert "cannot start probing" in proc.stderr
    assert "cap_net_raw" in proc.stderr and "ping_group_range" in proc.stderr
    assert "msg=listening" not in proc.stderr


def test_datagram_as_nobody_needs_no_capability() -> None:
    """setpriv nobody (no capability at all) in a namespace whose ping_group_range admits it:
    auto picks datagram ICMP and both families work."""
    require_netns_support()
    with NetNs("pe-ops-") as ns:
        ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        with Exporter(loopback_config(), netns=ns, as_nobody=True) as exp:
            st = proc_status(exp.pid)
            assert st["Uid"].split() == [str(NOBODY)] * 4
            assert caps(st, "CapEff") == 0 and caps(st, "CapPrm") == 0
            assert "datagram" in exp.stderr_text()
            exp.wait_for(lambda m: m.maybe("ping_up", target="127.0.0.1") == 1
                         and m.maybe("ping_up", target="::1") == 1, 10,
                         message="loopback up over datagram ICMP")
            resp = exp.get("/probe?target=::1", timeout=10)
            assert resp.status == 200 and parse_metrics(resp.text).one("probe_success") == 1
