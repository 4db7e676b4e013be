"""Per-group packet options, checked on the wire: the TUN responder logs the TTL / hop limit,
TOS / traffic class, length, DF bit and source of every echo request it sees, and each group's
requests must carry exactly what its config asked for (and the kernel defaults where it asked
for nothing). `interface` and `fwmark` show in the path instead: AF_PACKET captures on two links
tell which one a group's requests left by."""

from __future__ import annotations

import contextlib
import json
import socket
from collections import Counter
from typing import Iterator, Optional

import pytest

from lib.exporter import Exporter, wait_until
from lib.netns import NetNs, require_netns_support
from lib.tun_responder import TunResponder

SOURCE_V4: str = "198.18.5.5"  # an extra local address, so source_address has a visible effect
TUNED_V4: str = "198.19.0.40"
TUNED_V6: str = "2001:2:0:1::40"
PLAIN_V4: str = "198.19.0.41"


@pytest.mark.time_limit(60)
def test_group_options_reach_the_wire(exporter_bin: str, netns: NetNs, tmp_path) -> None:
    netns.run(["ip", "addr", "add", f"{SOURCE_V4}/32", "dev", "lo"])
    log_path = str(tmp_path / "requests.jsonl")
    config = {
        "defaults": {"interval": "300ms", "timeout": "100ms", "spacing": "20ms", "count": 2},
        "targets": [
            {"name": "tuned4", "hosts": [TUNED_V4], "ttl": 7, "tos": 32, "payload_size": 100,
             "dont_fragment": True, "source_address": SOURCE_V4},
            {"name": "tuned6", "hosts": [TUNED_V6], "ttl": 9, "tos": 64, "payload_size": 200,
             "dont_fragment": True},
            {"name": "plain", "hosts": [PLAIN_V4]},
        ],
    }
    with TunResponder(netns, {}, log_path=log_path) as responder, \
            Exporter(config, netns=netns) as exp:
        for host in (TUNED_V4, TUNED_V6, PLAIN_V4):
            exp.wait_rounds(host, 2, timeout=10)
        m = exp.metrics()
        for host in (TUNED_V4, TUNED_V6, PLAIN_V4):
            # Replies to requests with these options still validate.
            assert m.one("ping_up", target=host) == 1, host
        events = wait_until(lambda: [e for e in responder.events()] or None, 5)

    def seen(dst: str) -> list[dict]:
        mine = [e for e in events if e["dst"] == dst]
        assert len(mine) >= 4, (dst, len(mine))
        return mine

    for e in seen(TUNED_V4):
        assert (e["ttl"], e["tos"], e["ip_len"], e["df"], e["src"]) == \
            (7, 32, 20 + 8 + 100, True, SOURCE_V4), e
    for e in seen(TUNED_V6):
        assert (e["ttl"], e["tos"], e["ip_len"]) == (9, 64, 40 + 8 + 200), e
    for e in seen(PLAIN_V4):
        # Kernel defaults: TTL 64, TOS 0, 56-byte payload, DF clear (dont_fragment = false),
        # source picked by the route (the TUN device's own address).
        assert (e["ttl"], e["tos"], e["ip_len"], e["df"], e["src"]) == \
            (64, 0, 20 + 8 + 56, False, TunResponder.V4_LOCAL), e


# -- interface (SO_BINDTODEVICE) and fwmark (SO_MARK): which link the requests leave by ------------
#
# A client namespace (runs the exporter) and a peer namespace (answers the targets with the
# kernel's own echo replies, AnyIP `local` routes) joined by two veth pairs, link A and link B.
# The client's main table prefers link A for the target prefix; an AF_PACKET socket on each
# client-side link counts the echo requests that leave through it, per destination. Replies come
# back over the link the request took (the peer answers the client address of that link through
# its connected route), so every target must also be up.

LINK_A: str = "pe-a"
LINK_B: str = "pe-b"
MARK: int = 0x2A
MARK_TABLE: int = 100
TARGETS: dict[int, str] = {4: "198.18.7.0/24", 6: "2001:2:0:700::/64"}
# Per family: the option's target and a control routed by the same route entries.
OPTED: dict[int, str] = {4: "198.18.7.10", 6: "2001:2:0:700::10"}
CONTROL: dict[int, str] = {4: "198.18.7.11", 6: "2001:2:0:700::11"}
ROUNDS: int = 3
COUNT: int = 2
_ETH_P_ALL: int = 0x0003  # every protocol, for AF_PACKET


class LinkCapture:
    """An AF_PACKET socket on one link of a namespace that counts the ICMP echo requests leaving
    through it and the echo replies arriving on it, per remote address. Owns its socket (close,
    or use as a context manager). Not thread-safe."""

    _MAX_FRAMES_PER_DRAIN: int = 100_000

    def __init__(self, ns: NetNs, ifname: str) -> None:
        self.ifname: str = ifname
        self.requests_out: Counter[str] = Counter()
        self.replies_in: Counter[str] = Counter()
        with ns.entered():
            # Protocol 0 until bound: no frame of another link can slip in before bind().
            self._sock: socket.socket = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            self._sock.bind((ifname, _ETH_P_ALL))  # Python puts it in network byte order
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


class TwoLinks:
    """`client` and `peer` namespaces joined by two veth pairs, LINK_A and LINK_B (the same names
    on the peer side, each in its own namespace). The peer answers every address of TARGETS;
    the client has no route to them until the test adds one (`route`). Context manager."""

    # link -> (client v4, peer v4, client v6, peer v6), each in a /24 or /64 of its own
    ADDRS: dict[str, tuple[str, str, str, str]] = {
        LINK_A: ("198.18.1.1", "198.18.1.2", "2001:2:0:a::1", "2001:2:0:a::2"),
        LINK_B: ("198.18.2.1", "198.18.2.2", "2001:2:0:b::1", "2001:2:0:b::2"),
    }

    def __init__(self) -> None:
        self.client: NetNs = NetNs("pe-c-")
        self.peer: NetNs = NetNs("pe-p-")

    def __enter__(self) -> "TwoLinks":
        with contextlib.ExitStack() as stack:
            stack.enter_context(self.client)
            stack.enter_context(self.peer)
            self._wire()
            stack.pop_all()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.client.close()
        finally:
            self.peer.close()

    def _wire(self) -> None:
        c, p = self.client, self.peer
        for ns in (c, p):
            ns.sysctl("net.ipv6.conf.default.accept_dad", 0)
            ns.sysctl("net.ipv6.conf.all.accept_dad", 0)
            # Replies to policy-routed or interface-bound requests arrive on a link that is not
            # the best route back to their source: strict reverse-path filtering would drop them.
            ns.sysctl("net.ipv4.conf.all.rp_filter", 0)
            ns.sysctl("net.ipv4.conf.default.rp_filter", 0)
        for link, (c4, p4, c6, p6) in self.ADDRS.items():
            c.ip("link", "add", link, "type", "veth", "peer", "name", link, "netns", p.name)
            c.ip("addr", "add", f"{c4}/24", "dev", link)
            p.ip("addr", "add", f"{p4}/24", "dev", link)
            c.ip("-6", "addr", "add", f"{c6}/64", "dev", link, "nodad")
            p.ip("-6", "addr", "add", f"{p6}/64", "dev", link, "nodad")
            mac_c: str = json.loads(c.ip("-j", "link", "show", link))[0]["address"]
            mac_p: str = json.loads(p.ip("-j", "link", "show", link))[0]["address"]
            # Static neighbours: no ARP / ND delay or loss before the first request.
            for ns, addrs, mac in ((c, (p4, p6), mac_p), (p, (c4, c6), mac_c)):
                for addr in addrs:
                    ns.ip("neigh", "replace", addr, "lladdr", mac, "dev", link, "nud",
                          "permanent")
            c.ip("link", "set", link, "up")
            p.ip("link", "set", link, "up")
        p.ip("route", "add", "local", TARGETS[4], "dev", "lo")
        p.ip("-6", "route", "add", "local", TARGETS[6], "dev", "lo")
        p.sysctl("net.ipv4.icmp_ratelimit", 0)
        p.sysctl("net.ipv6.icmp.ratelimit", 0)

    def route(self, family: int, link: str, *extra: str) -> None:
        """Client route for TARGETS[family] via the peer's address on `link`; `extra` adds e.g.
        `metric N` or `table T`."""
        gateway: str = self.ADDRS[link][1 if family == 4 else 3]
        self.client.ip(f"-{family}", "route", "add", TARGETS[family], "via", gateway, "dev", link,
                       *extra)


@pytest.fixture
def two_links() -> Iterator[TwoLinks]:
    require_netns_support()
    with TwoLinks() as net:
        yield net


def _requests_by_link(net: TwoLinks, config: dict, family: int) -> dict[str, Counter[str]]:
    """Run the exporter in the client with `config` for ROUNDS rounds of OPTED and CONTROL,
    checking both are up; returns the echo requests each client link carried, per destination.
    """
    hosts: tuple[str, str] = (OPTED[family], CONTROL[family])
    with contextlib.ExitStack() as stack:
        caps: dict[str, LinkCapture] = {
            link: stack.enter_context(LinkCapture(net.client, link)) for link in (LINK_A, LINK_B)}
        exp: Exporter = stack.enter_context(Exporter(config, netns=net.client))
        for host in hosts:
            exp.wait_rounds(host, ROUNDS, timeout=10)
        m = exp.metrics()
        for host in hosts:
            assert m.one("ping_up", target=host) == 1, (host, exp.describe())

        def all_seen() -> bool:
            for cap in caps.values():
                cap.drain()
            # Every request of the finished rounds was sent before its round ended, so it has
            # passed the tap; allow a moment for the frames to be read.
            return all(sum(c.requests_out[h] for c in caps.values()) >= ROUNDS * COUNT
                       for h in hosts)

        wait_until(all_seen, 5, message=f"{ROUNDS * COUNT} requests to each of {hosts}")
        for link, cap in caps.items():
            print(f"[{family=}] {link}: requests out {dict(cap.requests_out)}, "
                  f"replies in {dict(cap.replies_in)}")
        return {link: cap.requests_out for link, cap in caps.items()}


def _assert_took(seen: dict[str, Counter[str]], host: str, link: str, other: str) -> None:
    assert seen[link][host] >= ROUNDS * COUNT and seen[other][host] == 0, \
        f"requests to {host} should all leave by {link}: {link} {seen[link][host]}, " \
        f"{other} {seen[other][host]} (all: {seen})"


def _config(opted_group: dict, family: int) -> dict:
    return {
        "defaults": {"interval": "300ms", "timeout": "100ms", "spacing": "20ms", "count": COUNT},
        "targets": [
            {"name": "opted", "hosts": [OPTED[family]], **opted_group},
            {"name": "control", "hosts": [CONTROL[family]]},
        ],
    }


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("family", [4, 6])
def test_interface_option_picks_the_link(exporter_bin: str, two_links: TwoLinks,
                                         family: int) -> None:
    """Both links route the targets, A with the better metric: a group bound to B (SO_BINDTODEVICE)
    sends through B; the control group, bound to nothing, follows the routing table to A."""
    two_links.route(family, LINK_A, "metric", "10")
    two_links.route(family, LINK_B, "metric", "20")
    seen = _requests_by_link(two_links, _config({"interface": LINK_B}, family), family)
    _assert_took(seen, OPTED[family], LINK_B, LINK_A)
    _assert_took(seen, CONTROL[family], LINK_A, LINK_B)


@pytest.mark.time_limit(60)
@pytest.mark.parametrize("family", [4, 6])
def test_fwmark_option_picks_the_route(exporter_bin: str, two_links: TwoLinks,
                                       family: int) -> None:
    """The main table routes the targets via A only; `ip rule fwmark MARK lookup MARK_TABLE` sends
    marked packets to a table routing them via B. The group with `fwmark = MARK` (SO_MARK) must
    send through B, the control group through A."""
    two_links.route(family, LINK_A)
    two_links.route(family, LINK_B, "table", str(MARK_TABLE))
    two_links.client.ip(f"-{family}", "rule", "add", "fwmark", str(MARK), "lookup",
                        str(MARK_TABLE), "priority", "100")
    seen = _requests_by_link(two_links, _config({"fwmark": MARK}, family), family)
    _assert_took(seen, OPTED[family], LINK_B, LINK_A)
    _assert_took(seen, CONTROL[family], LINK_A, LINK_B)
