"""Faults: the exporter meets a taken port, failing sends, ICMP errors, replayed and forged
replies, clients that hang up or never read, a full disk under its log, a storm of SIGHUPs, and
broken configs pushed over HTTP; it must say what happened, keep probing and serving, and never
count a packet it did not get.

Everything runs in namespaces the tests create (198.18.0.0/15, 2001:2::/48 inside them, and
their own loopback), except the taken-port test, which runs on the host's loopback only.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import struct
import time
from typing import Any, Iterator, Optional, Sequence

import pytest

from lib.exporter import (Exporter, Metrics, http_get, require_binary, run_cli, to_toml,
                          wait_until)
from lib.netns import NetNs, TestNet, require_netns_support

from faults.fault_responder import FaultResponder

COUNT: int = 2
ROUNDS: int = 4
FAST: dict[str, Any] = {"interval": "500ms", "timeout": "200ms", "spacing": "50ms",
                        "metrics": "full",
                        "count": COUNT}
REASONS: tuple[str, ...] = ("network_unreachable", "host_unreachable", "prohibited",
                            "ttl_exceeded", "no_buffer", "permission", "message_too_long",
                            "resolve", "other")
# --web.request-timeout default: CivetWeb's per-request I/O timeout (http/server.h).
HTTP_REQUEST_TIMEOUT_S: float = 5.0
HTTP_THREADS: int = 8  # --web.max-requests default

PAGE: int = os.sysconf("SC_PAGE_SIZE")
N_LOOPBACK: int = 2000
LOOPBACK: list[str] = [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(N_LOOPBACK)]


# -- helpers ---------------------------------------------------------------------------------------
def _v4(n: int) -> str:
    return f"198.19.0.{n}"


def _v6(n: int) -> str:
    return f"2001:2:0:1::{n}"


def _errors(m: Metrics, target: str) -> dict[str, float]:
    """ping_send_errors_total of one target by reason (zeros left out)."""
    return {lab["reason"]: v for lab, v in m.select("ping_send_errors_total", target=target)
            if v}


def _value(m: Metrics, name: str, target: str, **labels: str) -> float:
    v = m.maybe(name, target=target, **labels)
    assert v is not None, f"no {name} for {target} {labels}"
    return v


def _wait_rounds(exp: Exporter, targets: Sequence[str], rounds: int, timeout: float) -> Metrics:
    """Scrape until every target has sent `rounds` rounds' worth of requests."""

    def enough(m: Metrics) -> bool:
        sent = {lab["target"]: v for lab, v in m.select("ping_packets_sent_total")}
        missing = [t for t in targets if sent.get(t, 0) < rounds * COUNT]
        assert not missing, f"not yet {rounds} rounds: {missing[:4]} (sent {sent})"
        return True

    return exp.wait_for(enough, timeout, interval=0.2, message=f"{rounds} rounds everywhere")


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _connect(ns: NetNs, address: str, rcvbuf: Optional[int] = None) -> socket.socket:
    host, _, port = address.rpartition(":")
    with ns.entered():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect((host, int(port)))
    return sock


def _timed_scrape(exp: Exporter, timeout: float) -> tuple[float, int, int]:
    """Seconds one plain /metrics takes, its status and size."""
    started = time.monotonic()
    resp = exp.get("/metrics", timeout=timeout)
    return time.monotonic() - started, resp.status, len(resp.body)


@pytest.fixture(scope="module")
def loopback2000() -> Iterator[tuple[NetNs, Exporter]]:
    """2000 loopback targets at 1 s in a namespace of their own; shared by the HTTP and SIGHUP
    tests, which each take their own baselines."""
    require_binary()
    require_netns_support()
    config = {"workers": 2, "defaults": {"interval": "1s", "timeout": "500ms", "count": COUNT,
                                        "metrics": "full"},
              "targets": [{"hosts": LOOPBACK}]}
    with NetNs() as ns, Exporter(config, netns=ns) as exp:
        exp.wait_for(lambda m: len(m.select("ping_up")) == N_LOOPBACK, 15, interval=0.5,
                     message="all 2000 targets reported")
        yield ns, exp
        assert exp.stop() == 0


# -- a taken port ----------------------------------------------------------------------------------
@pytest.mark.time_limit(30)
def test_port_in_use_fails_fast_naming_the_address(exporter_bin: str, tmp_path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(to_toml({"targets": [{"hosts": ["127.0.0.1"]}]}))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        started = time.monotonic()
        proc = run_cli([f"--config.file={config}", f"--web.listen-address={address}"],
                       timeout=20)
        took = time.monotonic() - started
    assert proc.returncode != 0, proc.stderr
    assert took < 5, f"took {took:.1f} s to give up"
    assert address in proc.stderr, proc.stderr
    assert "in use" in proc.stderr.lower(), proc.stderr


# -- sends that fail locally -----------------------------------------------------------------------
def _refuse_in_output(ns: NetNs, *, reject: Sequence[str], drop: Sequence[str] = ()) -> None:
    """nft output-hook rules: echo requests to `reject` (one IPv4, one IPv6 address) are
    rejected with admin-prohibited, those to `drop` (the same shape) dropped."""
    rules = [f"ip daddr {reject[0]} icmp type echo-request reject with icmp type admin-prohibited",
             f"ip6 daddr {reject[1]} icmpv6 type echo-request "
             "reject with icmpv6 type admin-prohibited"]
    if drop:
        rules += [f"ip daddr {drop[0]} icmp type echo-request drop",
                  f"ip6 daddr {drop[1]} icmpv6 type echo-request drop"]
    ns.run(["nft", "-f", "-"], input_text=(
        "table inet pe_out {\n  chain output {\n"
        "    type filter hook output priority 0; policy accept;\n"
        + "".join(f"    {rule}\n" for rule in rules) + "  }\n}\n"))


@pytest.mark.parametrize("socket_kind", ["raw", "dgram"])
@pytest.mark.time_limit(60)
def test_local_send_errors_are_counted_by_reason(exporter_bin: str, testnet: TestNet,
                                                 socket_kind: str) -> None:
    """An nft output rule rejecting (admin-prohibited) or dropping our echo requests, and
    destinations without a route: no reply is ever counted, the reason shows per target."""
    net = testnet
    live = [net.host_v4(12), net.host_v6(12)]
    reject = [net.host_v4(10), net.host_v6(10)]
    drop = [net.host_v4(11), net.host_v6(11)]
    no_route = ["198.19.255.1", "2001:2:0:ff::1"]  # in the test ranges; the client routes neither
    _refuse_in_output(net.client, reject=reject, drop=drop)
    dgram = socket_kind == "dgram"
    if dgram:
        net.client.sysctl("net.ipv4.ping_group_range", "0 2147483647")
    targets = live + reject + drop + no_route
    config = {"workers": 2, "defaults": FAST, "targets": [{"hosts": targets}]}
    with Exporter(config, netns=net.client, as_nobody=dgram,
                  extra_args=[f"--icmp.socket={socket_kind}"]) as exp:
        m = _wait_rounds(exp, targets, ROUNDS, 20)
        seen = {t: _errors(m, t) for t in targets}
        print(f"send errors with {socket_kind} sockets: {seen}")
        for t in live:
            assert _value(m, "ping_up", t) == 1 and not seen[t], (t, seen[t])
        for t in reject + drop + no_route:
            sent = _value(m, "ping_packets_sent_total", t)
            assert _value(m, "ping_packets_received_total", t) == 0, t
            assert _value(m, "ping_up", t) == 0, t
            assert _value(m, "ping_status", t, status="no_response") == 1, t
            assert _value(m, "ping_invalid_replies_total", t) == 0, t
            errors = seen[t]
            if t in no_route:
                # sendmsg fails with ENETUNREACH for every request (errors are counted at
                # send, sent_total when the round completes: errors may run one round ahead).
                assert errors.get("network_unreachable", 0) >= sent, (t, errors, sent)
            elif t in drop and (not dgram or ":" not in t):
                # nft drop in the output hook: sendmsg fails with EPERM.
                assert errors.get("permission", 0) >= sent, (t, errors, sent)
            elif t in reject:
                # The reject fails sendmsg with EPERM (not reported for IPv6 datagram sockets,
                # see README) and answers with an ICMP error quoting the request (raw sockets
                # read it, datagram ones get it through IP_RECVERR). Each lost request is
                # counted once: as "permission" when the send failed, else as "prohibited".
                once = errors.get("permission", 0) + errors.get("prohibited", 0)
                assert sent - COUNT <= once <= sent + COUNT, (t, errors, sent)
                assert sum(errors.values()) == once, (t, errors, sent)
            # IPv6 datagram sockets never learn of the drop: the kernel does not pass the EPERM
            # on (see README); all that can be checked is that nothing is received.
        # Still serving, and stops cleanly.
        assert exp.get("/-/healthy").status == 200
        assert exp.stop() == 0


@pytest.mark.parametrize("socket_kind", ["raw", "dgram"])
@pytest.mark.time_limit(60)
def test_an_icmp_error_never_fails_another_targets_send(exporter_bin: str, netns: NetNs,
                                                        socket_kind: str) -> None:
    """An ICMP error leaves a pending error on the socket that received it, and the kernel
    hands that error to whichever send comes next. With one worker and 1000 loopback targets
    in a namespace, every grid step's sendmmsg() carries several targets, so requests follow
    the rejected ones in the same batch: none of them may fail or be counted as an error."""
    live = [f"127.0.{i // 250 + 1}.{i % 250 + 1}" for i in range(1000)]
    rejected = [f"127.0.9.{i}" for i in range(1, 6)]
    netns.run(["nft", "-f", "-"], input_text=(
        "table ip pe_out {\n"
        "  chain output {\n"
        "    type filter hook output priority 0; policy accept;\n"
        "    ip daddr 127.0.9.0/24 icmp type echo-request reject with icmp type admin-prohibited\n"
        "  }\n"
        "}\n"))
    dgram = socket_kind == "dgram"
    if dgram:
        netns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
    config = {"workers": 1, "defaults": {"interval": "500ms", "timeout": "200ms", "count": 1,
                                        "metrics": "full"},
              "targets": [{"hosts": live + rejected}]}
    with Exporter(config, netns=netns, as_nobody=dgram,
                  extra_args=[f"--icmp.socket={socket_kind}"]) as exp:
        def rounds_done(m: Metrics) -> bool:
            sent = {lab["target"]: v for lab, v in m.select("ping_packets_sent_total")}
            assert all(sent.get(t, 0) >= 6 for t in live + rejected), "not 6 rounds yet"
            return True

        m = exp.wait_for(rounds_done, 30, interval=0.3, message="6 rounds everywhere")
        innocent = {t: _errors(m, t) for t in live if _errors(m, t)}
        lost = {t: (_value(m, "ping_packets_sent_total", t),
                    _value(m, "ping_packets_received_total", t)) for t in live
                if _value(m, "ping_packets_received_total", t) <
                _value(m, "ping_packets_sent_total", t)}
        blamed = {t: _errors(m, t) for t in rejected}
        print(f"{socket_kind}: rejected targets' errors {blamed}; live targets with errors: "
              f"{len(innocent)}, with lost requests: {len(lost)}")
        assert not innocent, f"live targets blamed for another's ICMP error: {innocent}"
        assert not lost, f"live targets lost requests: {dict(list(lost.items())[:5])}"
        for t in rejected:
            sent = _value(m, "ping_packets_sent_total", t)
            assert _value(m, "ping_packets_received_total", t) == 0, t
            assert sent - 1 <= sum(blamed[t].values()) <= sent + 1, (t, blamed[t], sent)
        assert exp.stop() == 0


# -- ICMP errors from the network ------------------------------------------------------------------
ERROR_HOSTS: dict[int, tuple[str, dict]] = {
    10: ("control", {}),
    11: ("host_unreachable", {"icmp_error": "host_unreachable"}),
    12: ("ttl_exceeded", {"icmp_error": "ttl_exceeded"}),
    13: ("network_unreachable", {"icmp_error": "net_unreachable"}),
    14: ("prohibited", {"icmp_error": "prohibited"}),
    15: ("short_quote", {"icmp_error": "host_unreachable", "quote": "min"}),
}


@pytest.mark.parametrize("socket_kind", ["raw", "dgram"])
@pytest.mark.time_limit(60)
def test_icmp_errors_quoting_our_requests(exporter_bin: str, netns: NetNs,
                                          socket_kind: str) -> None:
    """A router answering each request with a destination-unreachable or time-exceeded that
    quotes it: counted under that reason for that target, never as a reply."""
    faults = {}
    for n, (_, spec) in ERROR_HOSTS.items():
        faults[_v4(n)] = spec
        faults[_v6(n)] = spec
    targets = list(faults)
    dgram = socket_kind == "dgram"
    with FaultResponder(netns, faults):
        if dgram:
            netns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        config = {"workers": 2, "defaults": FAST, "targets": [{"hosts": targets}]}
        with Exporter(config, netns=netns, as_nobody=dgram,
                      extra_args=[f"--icmp.socket={socket_kind}"]) as exp:
            m = _wait_rounds(exp, targets, ROUNDS, 20)
            seen = {t: _errors(m, t) for t in targets}
            print(f"ICMP errors with {socket_kind} sockets: {seen}")
            for t in targets:  # a reason is exported once it happened to the target, never at 0
                assert all(v > 0 and lab["reason"] in REASONS
                           for lab, v in m.select("ping_send_errors_total", target=t)), t
            for n, (reason, _) in ERROR_HOSTS.items():
                for t in (_v4(n), _v6(n)):
                    sent = _value(m, "ping_packets_sent_total", t)
                    if reason == "control":
                        assert _value(m, "ping_up", t) == 1 and not seen[t], (t, seen[t])
                        continue
                    assert _value(m, "ping_packets_received_total", t) == 0, t
                    assert _value(m, "ping_up", t) == 0, t
                    assert _value(m, "ping_invalid_replies_total", t) == 0, t
                    assert _value(m, "ping_late_replies_total", t) == 0, t
                    if reason == "short_quote":
                        # Only 8 bytes of the request quoted (RFC 792's minimum): no cookie, so
                        # nothing proves it was ours; it may count nowhere, but never as a reply.
                        continue
                    assert set(seen[t]) == {reason}, (t, seen[t])
                    # One error per request; the round in flight may lag.
                    assert sent - COUNT <= seen[t][reason] <= sent + COUNT, (t, seen[t], sent)
            assert exp.stop() == 0


# -- one failed request, one count -----------------------------------------------------------------
@pytest.mark.time_limit(60)
def test_rejected_request_is_counted_once(exporter_bin: str, testnet: TestNet) -> None:
    """nft `reject` in the output hook, raw sockets: each refused request is one failure, so
    the send errors over all reasons never exceed the requests sent."""
    net = testnet
    reject = [net.host_v4(10), net.host_v6(10)]
    _refuse_in_output(net.client, reject=reject)
    config = {"workers": 2, "defaults": FAST, "targets": [{"hosts": reject}]}
    with Exporter(config, netns=net.client, extra_args=["--icmp.socket=raw"]) as exp:
        m = _wait_rounds(exp, reject, ROUNDS, 20)
        assert exp.stop() == 0
    for t in reject:
        sent = _value(m, "ping_packets_sent_total", t)
        errors = _errors(m, t)
        print(f"reject {t}: sent={sent} errors={errors}")
        assert _value(m, "ping_packets_received_total", t) == 0, t
        assert errors, (t, "the reject was not seen at all")
        # Errors are counted as they happen, sent_total when the round completes: the round in
        # flight may be counted in errors and not yet in sent.
        assert sum(errors.values()) <= sent + COUNT, (t, errors, sent)


@pytest.mark.parametrize("socket_kind", [
    pytest.param("raw"),
    pytest.param("dgram"),
])
@pytest.mark.time_limit(60)
def test_error_quoting_only_the_echo_header_is_attributed(exporter_bin: str, netns: NetNs,
                                                          socket_kind: str) -> None:
    """RFC 792 asks routers to quote only the IP header and 8 bytes of the datagram: our echo
    header, no cookie. Identifier, sequence and the quoted destination still name the request,
    so the error should count against its target, once per request."""
    hosts = [_v4(15), _v6(15)]
    control = [_v4(10), _v6(10)]
    faults = {t: {"icmp_error": "host_unreachable", "quote": "min"} for t in hosts}
    faults.update({t: {} for t in control})
    dgram = socket_kind == "dgram"
    with FaultResponder(netns, faults):
        if dgram:
            netns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        config = {"workers": 2, "defaults": FAST, "targets": [{"hosts": hosts + control}]}
        with Exporter(config, netns=netns, as_nobody=dgram,
                      extra_args=[f"--icmp.socket={socket_kind}"]) as exp:
            m = _wait_rounds(exp, hosts + control, ROUNDS, 20)
            assert exp.stop() == 0
    for t in control:
        assert _value(m, "ping_up", t) == 1 and not _errors(m, t), (t, _errors(m, t))
    seen = {t: (_value(m, "ping_packets_sent_total", t), _errors(m, t)) for t in hosts}
    print(f"short quote with {socket_kind} sockets (sent, errors): {seen}")
    for t in hosts:
        sent, errors = seen[t]
        assert _value(m, "ping_packets_received_total", t) == 0, t
        assert set(errors) == {"host_unreachable"}, (t, errors)
        assert sent - COUNT <= errors["host_unreachable"] <= sent + COUNT, (t, errors, sent)


# -- replayed and forged replies -------------------------------------------------------------------
SPOOF_HOSTS: dict[int, tuple[str, dict]] = {
    10: ("control", {}),
    20: ("replay_previous_round", {"replay_lag": COUNT}),
    21: ("replay_older_round", {"replay_lag": 3 * COUNT}),
    22: ("replay_and_answer", {"replay_lag": COUNT, "answer": True}),
    23: ("forged_token", {"forge": "token"}),
    24: ("forged_slot", {"forge": "slot"}),
    25: ("from_other_target", {"src": "26"}),
    26: ("other_target", {}),
}


@pytest.mark.parametrize("socket_kind", ["raw", "dgram"])
@pytest.mark.time_limit(60)
def test_replayed_and_forged_replies_are_never_received(exporter_bin: str, netns: NetNs,
                                                        socket_kind: str, tmp_path) -> None:
    """test_misbehaving_hosts covers corrupt payloads, wrong id/sequence/checksum and a
    non-target source. Here: bit-exact replays of earlier rounds' replies, cookies re-signed
    with a foreign token or another target's slot, and replies from another target's address."""
    faults: dict[str, dict] = {}
    for fam, addr in (("4", _v4), ("6", _v6)):
        for n, (_, spec) in SPOOF_HOSTS.items():
            spec = dict(spec)
            if "src" in spec:
                spec["src"] = addr(int(spec["src"]))
            faults[addr(n)] = spec
    targets = list(faults)
    dgram = socket_kind == "dgram"
    log_path = str(tmp_path / "requests.jsonl")
    with FaultResponder(netns, faults, log_path=log_path) as responder:
        if dgram:
            netns.sysctl("net.ipv4.ping_group_range", "0 2147483647")
        config = {"workers": 2, "defaults": FAST, "targets": [{"hosts": targets}]}
        with Exporter(config, netns=netns, as_nobody=dgram,
                      extra_args=[f"--icmp.socket={socket_kind}"]) as exp:
            m = _wait_rounds(exp, targets, ROUNDS + 1, 20)
            events = responder.events()
            assert exp.stop() == 0

    forged = [e for e in events if "cookie_understood" in e]
    assert forged and all(e["cookie_understood"] for e in forged), \
        "the responder no longer understands the cookie format: the forgery test proves nothing"
    replayed = {e["dst"] for e in events if e.get("replayed")}

    def v(name: str, t: str) -> float:
        return _value(m, name, t)

    for t in targets:
        # Nothing anywhere is received that was not sent.
        assert v("ping_packets_received_total", t) <= v("ping_packets_sent_total", t), t
    for fam in (_v4, _v6):
        for n, (kind, _) in SPOOF_HOSTS.items():
            t = fam(n)
            sent, received = v("ping_packets_sent_total", t), v("ping_packets_received_total", t)
            late, dup, invalid = (v("ping_late_replies_total", t),
                                  v("ping_duplicate_replies_total", t),
                                  v("ping_invalid_replies_total", t))
            got = (kind, t, sent, received, late, dup, invalid)
            if kind in ("control", "other_target"):
                # Answers everything; the replies spoofed from its address changed nothing.
                assert v("ping_up", t) == 1 and sent - received <= COUNT, got
            elif kind == "replay_and_answer":
                # Every request answered once, plus a copy of the previous round's reply:
                # exactly the real replies count, the copies are duplicates.
                assert t in replayed, got
                assert v("ping_up", t) == 1 and sent - received <= COUNT, got
                assert dup >= ROUNDS * COUNT - 2 * COUNT, got
            else:
                assert received == 0 and v("ping_up", t) == 0, got
                assert v("ping_rtt_seconds_count", t) == 0, got
                if kind == "replay_previous_round":
                    assert t in replayed and late >= (ROUNDS - 1) * COUNT, got
                elif kind == "replay_older_round":
                    assert t in replayed and late + invalid >= (ROUNDS - 3) * COUNT, got
                elif kind in ("forged_token", "from_other_target"):
                    assert invalid >= sent - COUNT, got


@pytest.mark.time_limit(60)
def test_replay_after_sequence_wrap_is_never_received(exporter_bin: str, netns: NetNs,
                                                      tmp_path) -> None:
    """The echo sequence is 16 bits: after 65536 requests to a target the numbers come round
    again. A reply recorded in the first cycle and replayed when its sequence number is reused
    carries a genuine cookie for a long-gone request; it must not count as received. 64 echoes
    every 10 ms make the wrap take ~10 s."""
    host, control = _v4(30), _v4(31)
    log_path = str(tmp_path / "requests.jsonl")
    wrap: int = 65536 + 20 * 64
    with FaultResponder(netns, {host: {"replay_wrap": True}, control: {}},
                        log_path=log_path) as responder:
        config = {"workers": 1,
                  "defaults": {"interval": "10ms", "timeout": "8ms", "spacing": "20us",
                               "count": 64},
                  "targets": [{"hosts": [host, control]}]}
        with Exporter(config, netns=netns) as exp:
            m = exp.wait_for(
                lambda m: (m.maybe("ping_packets_sent_total", target=host) or 0) >= wrap
                and (m.maybe("ping_packets_sent_total", target=control) or 0) >= wrap,
                40, interval=0.5, message=f"{wrap} requests per target")
            replays = [e for e in responder.events() if e.get("replayed")]
            assert exp.stop() == 0
    got = {k: m.maybe(k, target=host) for k in ("ping_packets_sent_total",
                                                "ping_packets_received_total",
                                                "ping_late_replies_total",
                                                "ping_invalid_replies_total")}
    # The responder kept up well enough (else replays arrive late and prove nothing) and
    # replayed after the wrap.
    assert m.one("ping_packets_received_total", target=control) >= 0.5 * m.one(
        "ping_packets_sent_total", target=control), "the responder could not keep up"
    assert replays, "no replay was sent"
    assert got["ping_packets_received_total"] == 0, got


# -- HTTP clients that misbehave -------------------------------------------------------------------
@pytest.mark.time_limit(60)
def test_client_hangups_mid_scrape(loopback2000: tuple[NetNs, Exporter]) -> None:
    ns, exp = loopback2000
    fds0, threads0 = _fds(exp.pid), exp.threads()
    for i in range(50):
        sock = _connect(ns, exp.address)
        gzip_hdr = "Accept-Encoding: gzip\r\n" if i % 2 else ""
        sock.sendall(f"GET /metrics HTTP/1.1\r\nHost: x\r\n{gzip_hdr}\r\n".encode())
        assert sock.recv(64), f"hang-up #{i}: nothing received"
        if i % 4 < 2:  # reset (RST) half of them, close (FIN) the rest
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    assert exp.proc is not None and exp.proc.poll() is None, exp.describe()
    took, status, size = _timed_scrape(exp, 10)
    assert status == 200 and size > 1_000_000 and took < 5, (took, status, size)
    assert wait_until(lambda: _fds(exp.pid) == fds0, 10, message=f"fds back to {fds0}")
    assert exp.threads() == threads0


def _hold_slow_clients(ns: NetNs, exp: Exporter, n: int,
                       stack: contextlib.ExitStack) -> list[socket.socket]:
    """n clients that ask for the plain 8 MB /metrics and never read it."""
    socks = []
    for _ in range(n):
        sock = stack.enter_context(_connect(ns, exp.address, rcvbuf=4096))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        socks.append(sock)
    return socks


@pytest.mark.time_limit(60)
def test_slow_clients_below_the_pool_size(loopback2000: tuple[NetNs, Exporter]) -> None:
    """Fewer non-reading clients than HTTP threads: the other scrapes go on at once."""
    ns, exp = loopback2000
    fds0 = _fds(exp.pid)
    with contextlib.ExitStack() as stack:
        _hold_slow_clients(ns, exp, HTTP_THREADS - 1, stack)
        wait_until(lambda: _fds(exp.pid) >= fds0 + HTTP_THREADS - 1, 5,
                   message="slow clients accepted")
        for _ in range(3):
            took, status, _ = _timed_scrape(exp, 10)
            assert status == 200 and took < 3, took
    assert exp.proc is not None and exp.proc.poll() is None
    wait_until(lambda: _fds(exp.pid) == fds0, HTTP_REQUEST_TIMEOUT_S + 5,
               message=f"fds back to {fds0}")


@pytest.mark.time_limit(90)
def test_slow_clients_beyond_the_pool_size(loopback2000: tuple[NetNs, Exporter],
                                           capsys: pytest.CaptureFixture) -> None:
    """20 non-reading clients hold all 8 HTTP threads until the 5 s request timeout drops
    them, 8 at a time: a scrape queued behind them waits up to ceil(21/8) timeouts. Documented
    here (README), and bounded: it is answered, and the exporter is well afterwards."""
    ns, exp = loopback2000
    fds0, threads0 = _fds(exp.pid), exp.threads()
    slow = 20
    with contextlib.ExitStack() as stack:
        _hold_slow_clients(ns, exp, slow, stack)
        wait_until(lambda: _fds(exp.pid) >= fds0 + slow, 5, message="slow clients accepted")
        bound = math.ceil((slow + 1) / HTTP_THREADS) * HTTP_REQUEST_TIMEOUT_S + 5
        took, status, _ = _timed_scrape(exp, bound + 5)
        with capsys.disabled():
            print(f"\nFAULTS slow_clients={slow} http_threads={HTTP_THREADS} "
                  f"scrape_behind_them_s={took:.1f}", flush=True)
        assert status == 200 and took <= bound, (took, bound)
    took, status, _ = _timed_scrape(exp, 10)
    assert status == 200 and took < 3, took
    wait_until(lambda: _fds(exp.pid) == fds0, HTTP_REQUEST_TIMEOUT_S + 5,
               message=f"fds back to {fds0}")
    assert exp.threads() == threads0


# -- signals ---------------------------------------------------------------------------------------
@pytest.mark.time_limit(60)
def test_sighup_storm(loopback2000: tuple[NetNs, Exporter]) -> None:
    """50 SIGHUPs in a burst (same config): still serving, every counter intact, nothing lost,
    threads and fds as before."""
    ns, exp = loopback2000
    before = exp.metrics()
    fds0, threads0 = _fds(exp.pid), exp.threads()
    ts0 = before.one("ping_exporter_config_last_reload_success_timestamp_seconds")
    rounds0 = before.one("ping_exporter_rounds_total")
    for _ in range(50):
        os.kill(exp.pid, signal.SIGHUP)
    assert exp.proc is not None and exp.proc.poll() is None, exp.describe()

    def settled(m: Metrics) -> bool:
        return (m.one("ping_exporter_config_last_reload_successful") == 1
                and m.one("ping_exporter_config_last_reload_success_timestamp_seconds") > ts0
                and m.one("ping_exporter_rounds_total") >= rounds0 + 2 * N_LOOPBACK)

    after = exp.wait_for(settled, 30, interval=0.5, message="reloads done, rounds going on")
    assert "configuration reloaded" in exp.stderr_text()
    assert len(after.select("ping_up")) == N_LOOPBACK
    went_back = [(key, value, after.get(key)) for key, value in before.items()
                 if before.types.get(key[0]) == "counter" and after.get(key, -1) < value]
    assert not went_back, went_back[:5]
    sent = sum(v for _, v in after.select("ping_packets_sent_total"))
    received = sum(v for _, v in after.select("ping_packets_received_total"))
    assert sent > 0 and received == sent, (sent, received)
    assert all(v == 1 for _, v in after.select("ping_up"))
    assert wait_until(lambda: exp.threads() == threads0, 10, message="threads settle")
    assert wait_until(lambda: _fds(exp.pid) == fds0, 10, message="fds settle")


# -- broken configs over HTTP ----------------------------------------------------------------------
@pytest.mark.parametrize("broken", [
    pytest.param('[[targets]\nhosts = ["127.0.0.1"]\n', id="toml-syntax"),
    pytest.param('workers = "two"\n[[targets]]\nhosts = ["127.0.0.1"]\n', id="wrong-type"),
    pytest.param('[defaults]\ninterval = "1s"\ntimeout = "2s"\n[[targets]]\n'
                 'hosts = ["127.0.0.1"]\n', id="timeout-over-interval"),
])
@pytest.mark.time_limit(30)
def test_invalid_config_by_post_reload_keeps_running(exporter_bin: str, netns: NetNs,
                                                     broken: str) -> None:
    config = {"defaults": FAST, "targets": [{"hosts": ["127.0.0.1"]}]}
    with Exporter(config, netns=netns, extra_args=["--web.enable-lifecycle"]) as exp:
        _wait_rounds(exp, ["127.0.0.1"], 1, 10)
        exp.write_config(broken)
        try:
            resp = http_get(exp.address, "/-/reload", netns=netns, method="POST", timeout=10)
        except OSError as err:
            raise AssertionError(f"POST /-/reload of a broken config: {err!r}; "
                                 f"{exp.describe()}") from None
        assert resp.status == 500, resp.text
        assert exp.proc is not None and exp.proc.poll() is None, exp.describe()
        m = exp.metrics()
        assert m.one("ping_exporter_config_last_reload_successful") == 0
        assert m.one("ping_up", target="127.0.0.1") == 1
        exp.write_config(config)
        assert http_get(exp.address, "/-/reload", netns=netns, method="POST").status == 200
        assert exp.metrics().one("ping_exporter_config_last_reload_successful") == 1
        assert exp.stop() == 0


# -- a full disk under the log ---------------------------------------------------------------------
class TmpfsLogExporter(Exporter):
    """The exporter with stderr on a 64 KiB tmpfs mounted in a private mount namespace (unshare
    -m), so filling that disk touches nothing else. The test reads and fills it through
    /proc/PID/root."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mnt: str = os.path.join(self.dir, "tiny")
        os.mkdir(self.mnt)

    def argv(self) -> list[str]:
        script = ('mount -t tmpfs -o size=64k pe-tiny "$0" && exec "$@" 2>"$0/stderr.log"')
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", script, self.mnt,
                *super().argv()]

    def inside(self, name: str) -> str:
        return f"/proc/{self.pid}/root{self.mnt}/{name}"

    def stderr_text(self) -> str:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(OSError):
                with open(self.inside("stderr.log"), encoding="utf-8", errors="replace") as f:
                    return f.read()
        return super().stderr_text()

    def fill(self) -> None:
        """Fill the tmpfs to the last byte."""
        with open(self.inside("filler"), "wb", buffering=0) as f:
            with contextlib.suppress(OSError):
                for _ in range(1024):
                    f.write(b"\0" * 4096)
        with pytest.raises(OSError):
            with open(self.inside("filler"), "ab", buffering=0) as f:
                f.write(b"\0" * 4096)

    def unfill(self) -> None:
        os.unlink(self.inside("filler"))


class DevFullExporter(Exporter):
    """The exporter with stderr on /dev/full (every write fails with ENOSPC) on a port chosen
    beforehand, since its "listening" line cannot be read."""

    def __init__(self, *args: Any, port: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.port: int = port

    def argv(self) -> list[str]:
        inner = [a if not a.startswith("--web.listen-address=") else
                 f"--web.listen-address=127.0.0.1:{self.port}" for a in super().argv()]
        return ["sh", "-c", 'exec "$@" 2>/dev/full', "sh", *inner]

    def _listening_address(self) -> str:
        address = f"127.0.0.1:{self.port}"
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"exited with {self.proc.returncode}")
        with contextlib.suppress(OSError):
            if http_get(address, "/-/healthy", netns=self.netns, timeout=1).status == 200:
                return address
        return ""


def _keeps_probing_and_serving(exp: Exporter, requests: int) -> None:
    """`requests` scrapes (each logs a debug line) while rounds go on and targets stay up."""
    rounds0 = exp.metrics().one("ping_exporter_rounds_total")
    for _ in range(requests):
        resp = exp.get("/metrics")
        assert resp.status == 200
    exp.wait_for(lambda m: m.one("ping_exporter_rounds_total") >= rounds0 + 4
                 and m.one("ping_up", target="127.0.0.1") == 1, 10,
                 message="rounds going on")
    assert exp.proc is not None and exp.proc.poll() is None, exp.describe()


@pytest.mark.time_limit(60)
def test_log_to_a_full_tmpfs(exporter_bin: str, netns: NetNs) -> None:
    config = {"defaults": FAST, "targets": [{"hosts": ["127.0.0.1", "127.0.0.2"]}]}
    requests: int = 2 * PAGE // 64  # a debug line per request, each longer than 64 bytes
    with TmpfsLogExporter(config, netns=netns, extra_args=["--log.level=debug"]) as exp:
        exp.fill()
        # tmpfs counts whole pages: the log may still fill the page it ends in, no more.
        size_full = os.path.getsize(exp.inside("stderr.log"))
        cap = -(-size_full // PAGE) * PAGE
        lines_full = exp.stderr_text().count("\n")
        with netns.drop_echo(["127.0.0.2"]):  # a target going down logs at info too
            _keeps_probing_and_serving(exp, requests)
            exp.wait_for(lambda m: m.one("ping_up", target="127.0.0.2") == 0, 10,
                         message="127.0.0.2 down")
        size_while_full = os.path.getsize(exp.inside("stderr.log"))
        logged = exp.stderr_text().count("\n") - lines_full
        # Writes did fail (more than a page of debug lines was due), and the disk stayed full.
        assert size_while_full <= cap and logged < requests, (size_full, size_while_full,
                                                                logged)
        # Room again: logging resumes (a failed write must not silence the stream for good).
        exp.unfill()
        _keeps_probing_and_serving(exp, 5)
        tail = exp.stderr_text()[size_while_full:]
        assert "http request" in tail, tail[-500:]
        assert exp.stop() == 0


@pytest.mark.time_limit(60)
def test_log_to_dev_full(exporter_bin: str, netns: NetNs) -> None:
    config = {"defaults": FAST, "targets": [{"hosts": ["127.0.0.1"]}]}
    with DevFullExporter(config, netns=netns, port=netns.free_tcp_port(),
                         extra_args=["--log.level=debug"]) as exp:
        _keeps_probing_and_serving(exp, 30)
        assert exp.stop() == 0
