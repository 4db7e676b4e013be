"""Network namespaces for tests: made by the test, torn down by the test, even when it fails.

Addresses used here come only from the benchmarking ranges 198.18.0.0/15 and 2001:2::/48, and
only inside namespaces created below. Nothing here touches the host's own network namespace
except creating and deleting the namespaces themselves.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from collections import Counter
from typing import Iterable, Iterator, Optional, Sequence

import pytest

from lib.process import Started, terminate

_CLONE_NEWNET: int = 0x40000000
_NETNS_DIR: str = "/run/netns"
_KILL_GRACE_S: float = 2.0


class NetnsUnavailable(RuntimeError):
    """This machine or user cannot create network namespaces."""


def _run(args: Sequence[str], *, check: bool = True, timeout: float = 30.0,
         input_text: Optional[str] = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(list(args), input=input_text, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(args)}\n"
                           f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def require_netns_support() -> None:
    """Skip the calling test (clearly) if namespaces cannot be made here."""
    if os.geteuid() != 0:
        pytest.skip("network-namespace tests need root (ip netns add, nft, /dev/net/tun)")
    name: str = f"pe-probe-{secrets.token_hex(4)}"
    proc = _run(["ip", "netns", "add", name], check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot create a network namespace: {proc.stderr.strip()}")
    _run(["ip", "netns", "del", name], check=False)


class NetNs(Started):
    """One uniquely named network namespace (`pe-<random>`) with lo up.

    Use as a context manager: leaving it kills every process started through `popen` and every
    other process still inside the namespace, then deletes the namespace. Not thread-safe.
    """

    def __init__(self, prefix: str = "pe-") -> None:
        self.name: str = f"{prefix}{secrets.token_hex(4)}"
        self._procs: list[subprocess.Popen] = []
        self._created: bool = False
        self._nft_ready: bool = False

    # -- lifetime -------------------------------------------------------------------------------
    def start(self) -> None:
        proc = _run(["ip", "netns", "add", self.name], check=False)
        if proc.returncode != 0:
            raise NetnsUnavailable(f"ip netns add {self.name}: {proc.stderr.strip()}")
        self._created = True
        self.ip("link", "set", "lo", "up")

    def close(self) -> None:
        for proc in reversed(self._procs):
            terminate(proc, _KILL_GRACE_S)
        self._procs.clear()
        if not self._created:
            return
        # Anything else still inside (children that escaped, stray pings) must not outlive us.
        for _ in range(3):
            pids: list[int] = self.pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        _run(["ip", "netns", "del", self.name], check=False)
        self._created = False

    def pids(self) -> list[int]:
        proc = _run(["ip", "netns", "pids", self.name], check=False)
        return [int(tok) for tok in proc.stdout.split() if tok.isdigit()]

    # -- running things inside ------------------------------------------------------------------
    def cmd(self, args: Sequence[str]) -> list[str]:
        """argv that runs `args` inside the namespace (ip netns exec execs, so the pid is the
        program's own)."""
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, args: Sequence[str], *, check: bool = True, timeout: float = 30.0,
            input_text: Optional[str] = None) -> subprocess.CompletedProcess:
        return _run(self.cmd(args), check=check, timeout=timeout, input_text=input_text)

    def popen(self, args: Sequence[str], **kwargs: object) -> subprocess.Popen:
        """Start a process inside; it is killed when the namespace is closed."""
        proc = subprocess.Popen(self.cmd(args), **kwargs)  # type: ignore[call-overload]
        self._procs.append(proc)
        return proc

    def ip(self, *args: str) -> str:
        return _run(["ip", "-n", self.name, *args]).stdout

    def sysctl(self, key: str, value: str | int) -> None:
        self.run(["sysctl", "-qw", f"{key}={value}"])

    @contextlib.contextmanager
    def entered(self) -> Iterator[None]:
        """Switch the calling thread into the namespace, e.g. to open sockets there (a socket
        stays in the namespace it was created in)."""
        libc = ctypes.CDLL(None, use_errno=True)
        own: int = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target: int = os.open(os.path.join(_NETNS_DIR, self.name), os.O_RDONLY)
        try:
            if libc.setns(target, _CLONE_NEWNET) != 0:
                err: int = ctypes.get_errno()
                raise OSError(err, f"setns({self.name}): {os.strerror(err)}")
            try:
                yield
            finally:
                if libc.setns(own, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    # Carrying on in the wrong namespace would poison every later test.
                    os.write(2, f"setns back failed: {os.strerror(err)}\n".encode())
                    os._exit(70)
        finally:
            os.close(target)
            os.close(own)

    def free_tcp_port(self) -> int:
        """A currently free port on 127.0.0.1 inside the namespace (for programs lacking port 0)."""
        with self.entered():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                return int(sock.getsockname()[1])

    # -- faults: nftables in the input hook ------------------------------------------------------
    def _ensure_nft(self) -> None:
        if self._nft_ready:
            return
        script: str = ("table inet pe_test {\n"
                       "  chain input { type filter hook input priority 0; policy accept; }\n"
                       "}\n")
        self.run(["nft", "-f", "-"], input_text=script)
        self._nft_ready = True

    def add_input_rule(self, rule: str) -> int:
        """Append a rule to the input chain; returns its handle for `delete_input_rule`."""
        self._ensure_nft()
        proc = self.run(["nft", "-e", "-a", "add", "rule", "inet", "pe_test", "input", rule])
        match = re.search(r"# handle (\d+)", proc.stdout)
        if match is None:
            raise RuntimeError(f"nft did not echo a handle for {rule!r}: {proc.stdout!r}")
        return int(match.group(1))

    def delete_input_rule(self, handle: int) -> None:
        self.run(["nft", "delete", "rule", "inet", "pe_test", "input", "handle", str(handle)])

    def drop_echo(self, addresses: Iterable[str]) -> "NftRules":
        """Make `addresses` (IPs or prefixes) dead: every echo request to them is dropped."""
        return self._echo_rules(addresses, "drop")

    def lossy_echo(self, addresses: Iterable[str], percent: int = 50) -> "NftRules":
        """Drop about `percent` % of echo requests to `addresses`, at random, each on its own."""
        if not 0 <= percent <= 100:
            raise ValueError(f"percent {percent} not in 0..100")
        return self._echo_rules(addresses, f"numgen random mod 100 < {percent} drop")

    def _echo_rules(self, addresses: Iterable[str], verdict: str) -> "NftRules":
        v4: list[str] = []
        v6: list[str] = []
        for addr in addresses:
            net = ipaddress.ip_network(addr, strict=False)
            (v4 if net.version == 4 else v6).append(str(net) if net.num_addresses > 1 else
                                                    str(net.network_address))
        handles: list[int] = []
        if v4:
            handles.append(self.add_input_rule(
                f"ip daddr {{ {', '.join(v4)} }} icmp type echo-request {verdict}"))
        if v6:
            handles.append(self.add_input_rule(
                f"ip6 daddr {{ {', '.join(v6)} }} icmpv6 type echo-request {verdict}"))
        return NftRules(self, handles)

    def ignore_all_echo(self, on: bool) -> None:
        """The kernel's own switch: answer no echo request at all (IPv4 and IPv6)."""
        self.sysctl("net.ipv4.icmp_echo_ignore_all", 1 if on else 0)
        self.sysctl("net.ipv6.icmp.echo_ignore_all", 1 if on else 0)


class NftRules:
    """Handles of rules added by NetNs; `remove()` deletes them (idempotent)."""

    def __init__(self, ns: NetNs, handles: list[int]) -> None:
        self._ns: NetNs = ns
        self._handles: list[int] = handles

    def remove(self) -> None:
        while self._handles:
            self._ns.delete_input_rule(self._handles.pop())

    def __enter__(self) -> "NftRules":
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _veth(a: NetNs, b: NetNs, dev_a: str, dev_b: str, addrs_a: tuple[str, str],
          addrs_b: tuple[str, str]) -> None:
    """A veth pair, `dev_a` in `a` and `dev_b` in `b`, each end with its (IPv4/len, IPv6/len)
    addresses, static neighbour entries for the other end, and up."""
    a.ip("link", "add", dev_a, "type", "veth", "peer", "name", dev_b, "netns", b.name)
    for ns, dev, (v4, v6) in ((a, dev_a, addrs_a), (b, dev_b, addrs_b)):
        ns.ip("addr", "add", v4, "dev", dev)
        ns.ip("-6", "addr", "add", v6, "dev", dev, "nodad")
    # Static neighbours: the first probe must not wait for ARP/ND (the first IPv6 neighbour
    # solicitation on a fresh veth is often lost, costing a one-second retransmit).
    mac_a: str = json.loads(a.ip("-j", "link", "show", dev_a))[0]["address"]
    mac_b: str = json.loads(b.ip("-j", "link", "show", dev_b))[0]["address"]
    for ns, dev, peer_addrs, mac in ((a, dev_a, addrs_b, mac_b), (b, dev_b, addrs_a, mac_a)):
        for addr in peer_addrs:
            ns.ip("neigh", "replace", addr.split("/")[0], "lladdr", mac, "dev", dev, "nud",
                  "permanent")
    a.ip("link", "set", dev_a, "up")
    b.ip("link", "set", dev_b, "up")


class _ClientAndPeer:
    """Two namespaces, `client` (where the prober runs) and `peer` (the targets), wired by the
    subclass's `_wire()`. The peer answers, with the kernel's own echo replies, every address of
    PEER_V4 and PEER_V6 (an AnyIP `local` route), so a test can ping thousands of distinct hosts
    without configuring each one. Context manager; not thread-safe."""

    PEER_V4: str = ""
    PEER_V6: str = ""

    def __init__(self, peer_prefix: str) -> None:
        self.client: NetNs = NetNs("pe-c-")
        self.peer: NetNs = NetNs(peer_prefix)

    def __enter__(self) -> "_ClientAndPeer":
        with contextlib.ExitStack() as stack:
            stack.enter_context(self.client)
            stack.enter_context(self.peer)
            for ns in (self.client, self.peer):
                # No duplicate-address detection: a tentative link-local address delays the
                # first neighbour solicitation by about a second, which would read as a slow
                # first RTT.
                ns.sysctl("net.ipv6.conf.default.accept_dad", 0)
                ns.sysctl("net.ipv6.conf.all.accept_dad", 0)
            self._wire()
            p = self.peer
            p.ip("route", "add", "local", self.PEER_V4, "dev", "lo")
            p.ip("-6", "route", "add", "local", self.PEER_V6, "dev", "lo")
            # The kernel rate-limits echo replies per destination by default (ratemask); lift
            # it so hundreds of probes per second from one client are all answered.
            p.sysctl("net.ipv4.icmp_ratelimit", 0)
            p.sysctl("net.ipv6.icmp.ratelimit", 0)
            stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.peer.close()

    def _wire(self) -> None:
        raise NotImplementedError


class TestNet(_ClientAndPeer):
    """`client` and `host` (the peer) joined by one veth pair; the client routes HOSTS_V4 and
    HOSTS_V6 over it. Dead and lossy hosts are made with nft rules in the host namespace."""

    __test__ = False  # not a pytest test class despite the name

    CLIENT_V4: str = "198.18.0.1"
    HOST_V4: str = "198.18.0.2"
    CLIENT_V6: str = "2001:2::1"
    HOST_V6: str = "2001:2::2"
    HOSTS_V4: str = "198.18.128.0/17"
    HOSTS_V6: str = "2001:2:0:100::/56"
    PEER_V4, PEER_V6 = HOSTS_V4, HOSTS_V6

    def __init__(self) -> None:
        super().__init__("pe-h-")
        self.host: NetNs = self.peer

    def __enter__(self) -> "TestNet":
        super().__enter__()
        return self

    def _wire(self) -> None:
        c, h = self.client, self.host
        _veth(c, h, "pe-c", "pe-h", (f"{self.CLIENT_V4}/24", f"{self.CLIENT_V6}/64"),
              (f"{self.HOST_V4}/24", f"{self.HOST_V6}/64"))
        c.ip("route", "add", self.HOSTS_V4, "via", self.HOST_V4)
        c.ip("-6", "route", "add", self.HOSTS_V6, "via", self.HOST_V6)

    def host_v4(self, index: int) -> str:
        """The index-th host address of HOSTS_V4 (1 .. 32767)."""
        net = ipaddress.ip_network(self.HOSTS_V4)
        if not 1 <= index < net.num_addresses - 1:
            raise ValueError(f"host index {index} out of range")
        return str(net.network_address + index)

    def host_v6(self, index: int) -> str:
        """The index-th host address of HOSTS_V6 (1 .. 65535)."""
        if not 1 <= index <= 0xFFFF:
            raise ValueError(f"host index {index} out of range")
        return str(ipaddress.ip_network(self.HOSTS_V6).network_address + index)


class TwoLinks(_ClientAndPeer):
    """`client` and `peer` joined by two veth pairs, LINK_A and LINK_B (the same names on the
    peer side, each in its own namespace). The peer answers every address of TARGETS; the
    client has no route to them until the test adds one (`route`)."""

    LINK_A: str = "pe-a"
    LINK_B: str = "pe-b"
    TARGETS: dict[int, str] = {4: "198.18.7.0/24", 6: "2001:2:0:700::/64"}
    PEER_V4, PEER_V6 = TARGETS[4], TARGETS[6]
    # link -> (client v4, peer v4, client v6, peer v6), each in a /24 or /64 of its own
    ADDRS: dict[str, tuple[str, str, str, str]] = {
        LINK_A: ("198.18.1.1", "198.18.1.2", "2001:2:0:a::1", "2001:2:0:a::2"),
        LINK_B: ("198.18.2.1", "198.18.2.2", "2001:2:0:b::1", "2001:2:0:b::2"),
    }

    def __init__(self) -> None:
        super().__init__("pe-p-")

    def __enter__(self) -> "TwoLinks":
        super().__enter__()
        return self

    def _wire(self) -> None:
        c, p = self.client, self.peer
        for ns in (c, p):
            # Replies to policy-routed or interface-bound requests arrive on a link that is not
            # the best route back to their source: strict reverse-path filtering would drop them.
            ns.sysctl("net.ipv4.conf.all.rp_filter", 0)
            ns.sysctl("net.ipv4.conf.default.rp_filter", 0)
        for link, (c4, p4, c6, p6) in self.ADDRS.items():
            _veth(c, p, link, link, (f"{c4}/24", f"{c6}/64"), (f"{p4}/24", f"{p6}/64"))

    def route(self, family: int, link: str, *extra: str) -> None:
        """Client route for TARGETS[family] via the peer's address on `link`; `extra` adds e.g.
        `metric N` or `table T`."""
        gateway: str = self.ADDRS[link][1 if family == 4 else 3]
        self.client.ip(f"-{family}", "route", "add", self.TARGETS[family], "via", gateway,
                       "dev", link, *extra)


class LinkCapture:
    """An AF_PACKET socket on one link of a namespace that counts the ICMP echo requests leaving
    through it and the echo replies arriving on it, per remote address. Owns its socket (close,
    or use as a context manager). Not thread-safe."""

    _MAX_FRAMES_PER_DRAIN: int = 100_000
    _ETH_P_ALL: int = 0x0003  # every protocol, for AF_PACKET

    def __init__(self, ns: NetNs, ifname: str) -> None:
        self.ifname: str = ifname
        self.requests_out: Counter[str] = Counter()
        self.replies_in: Counter[str] = Counter()
        with ns.entered():
            # Protocol 0 until bound: no frame of another link can slip in before bind().
            self._sock: socket.socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            self._sock.bind((ifname, self._ETH_P_ALL))  # Python puts it in network byte order
            self._sock.setblocking(False)
        except BaseException:
            self._sock.close()
            raise

    def __enter__(self) -> "LinkCapture":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._sock.close()

    def drain(self) -> None:
        """Count every frame queued so far."""
        for _ in range(self._MAX_FRAMES_PER_DRAIN):
            try:
                frame, addr = self._sock.recvfrom(65535)
            except BlockingIOError:
                return
            self._count(frame, int(addr[2]))

    def _count(self, frame: bytes, pkttype: int) -> None:
        parsed = _parse_echo(frame)
        if parsed is None:
            return
        kind, src, dst = parsed
        if kind == "request" and pkttype == socket.PACKET_OUTGOING:
            self.requests_out[dst] += 1
        elif kind == "reply" and pkttype != socket.PACKET_OUTGOING:
            self.replies_in[src] += 1


def _parse_echo(frame: bytes) -> Optional[tuple[str, str, str]]:
    """("request" | "reply", source, destination) of an Ethernet frame carrying an ICMP or
    ICMPv6 echo message, else None."""
    if len(frame) < 14:
        return None
    ethertype: int = int.from_bytes(frame[12:14], "big")
    ip: bytes = frame[14:]
    if ethertype == 0x0800 and len(ip) >= 20 and ip[9] == 1:
        ihl: int = (ip[0] & 0x0F) * 4
        if len(ip) <= ihl:
            return None
        kinds: dict[int, str] = {8: "request", 0: "reply"}
        kind = kinds.get(ip[ihl])
        src, dst = socket.inet_ntop(socket.AF_INET, ip[12:16]), \
            socket.inet_ntop(socket.AF_INET, ip[16:20])
    elif ethertype == 0x86DD and len(ip) > 40 and ip[6] == 58:  # no extension headers here
        kind = {128: "request", 129: "reply"}.get(ip[40])
        src, dst = socket.inet_ntop(socket.AF_INET6, ip[8:24]), \
            socket.inet_ntop(socket.AF_INET6, ip[24:40])
    else:
        return None
    return (kind, src, dst) if kind is not None else None
