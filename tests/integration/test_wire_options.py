"""Per-group packet options, checked on the wire: the TUN responder logs the TTL / hop limit,
TOS / traffic class, length, DF bit and source of every echo request it sees, and each group's
requests must carry exactly what its config asked for (and the kernel defaults where it asked
for nothing). `interface` and `fwmark` show in the path instead: AF_PACKET captures on two links
tell which one a group's requests left by."""

from __future__ import annotations

import contextlib
from collections import Counter
from typing import Iterator

import pytest

from lib.exporter import Exporter, wait_until
from lib.netns import LinkCapture, NetNs, TwoLinks, require_netns_support
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
        "defaults": {"interval": "300ms", "timeout": "100ms", "spacing": "20ms", "count": 2,
                     "metrics": "full"},
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

LINK_A: str = TwoLinks.LINK_A
LINK_B: str = TwoLinks.LINK_B
MARK: int = 0x2A
MARK_TABLE: int = 100
# Per family: the option's target and a control routed by the same route entries.
OPTED: dict[int, str] = {4: "198.18.7.10", 6: "2001:2:0:700::10"}
CONTROL: dict[int, str] = {4: "198.18.7.11", 6: "2001:2:0:700::11"}
ROUNDS: int = 3
COUNT: int = 2


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
        "defaults": {"interval": "300ms", "timeout": "100ms", "spacing": "20ms", "count": COUNT,
                     "metrics": "full"},
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
