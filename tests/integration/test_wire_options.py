"""Per-group packet options, checked on the wire: the TUN responder logs the TTL / hop limit,
TOS / traffic class, length, DF bit and source of every echo request it sees, and each group's
requests must carry exactly what its config asked for (and the kernel defaults where it asked
for nothing)."""

from __future__ import annotations

import pytest

from lib.exporter import Exporter, wait_until
from lib.netns import NetNs
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
