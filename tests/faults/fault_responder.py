#!/usr/bin/python3
"""A TUN device that answers echo requests with faults the shared responder (lib/tun_responder.py)
does not make: ICMP errors quoting the request, replays of earlier replies, and replies whose
cookie was re-signed with a forged field.

Run inside a network namespace the test created (it adds routes there); it reuses the shared
responder's TUN, parsing and reply-building code. Faults per destination address (JSON object,
"default" for every other address; {} answers correctly at once):

    icmp_error   "net_unreachable" | "host_unreachable" | "prohibited" | "ttl_exceeded": answer
                 every request with this ICMP error instead of a reply, sent from --router
    quote        "full" (default: as much of the request as fits in 576 / 1280 bytes, as Linux
                 routers do) or "min" (IP header + 8 bytes, the RFC 792 minimum: no cookie)
    replay_lag   N > 0: with every request, re-send the reply built for the request N requests
                 earlier to this address (an old round's reply, bit for bit)
    answer       also answer the request itself (default: true unless icmp_error, replay_lag or
                 replay_wrap is set)
    forge        "token" | "slot": answer with the cookie's token or target slot changed and its
                 check field recomputed, so the cookie is well formed but not ours / not this
                 target's
    src          answer from this address instead of the one pinged
    replay_wrap  true: never answer; remember the first reply built for each sequence number and
                 send it when that sequence number comes round again (after 65536 requests)

Prints "READY <dev>" when routed; logs one JSON line per request with --log. Exits on SIGTERM,
stdin EOF, or --max-lifetime.
"""

from __future__ import annotations

import collections
import dataclasses
import ipaddress
import json
import os
import struct
import sys
import time
from typing import Any, Optional, TextIO

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lib.tun_responder import (Behaviour, EchoRequest, PacketHandler,  # noqa: E402
                               ResponderProcess, build_reply, ip_packet, parse_echo_request,
                               responder_arguments, serve)

_MASK64: int = (1 << 64) - 1
_COOKIE_MAGIC: int = 0x50455850
# (IPv4 type, code), (IPv6 type, code)
_ERRORS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "net_unreachable": ((3, 0), (1, 0)),
    "host_unreachable": ((3, 1), (1, 3)),
    "prohibited": ((3, 13), (1, 1)),
    "ttl_exceeded": ((11, 0), (3, 0)),
}
_KNOWN_KEYS: set[str] = {"icmp_error", "quote", "replay_lag", "answer", "forge", "src",
                         "replay_wrap"}


def _cookie_check(slot: int, seq: int, worker: int, send_time: int, token: int) -> int:
    """The exporter's cookie check word (exporter/icmp/packet.cpp WriteCookie)."""
    mix: int = (token ^ (slot << 16) ^ seq ^ (worker << 48)
                ^ ((send_time * 0x9E3779B97F4A7C15) & _MASK64)) & _MASK64
    return (mix ^ (mix >> 32)) & 0xFFFFFFFF


def forge_cookie(payload: bytes, field: str) -> tuple[bytes, bool]:
    """The payload with the cookie's `field` changed and its check recomputed, and whether the
    original cookie verified under our understanding of the format (if not, the forgery proves
    nothing and the test must say so)."""
    if len(payload) < 32:
        return payload, False
    magic, slot, seq, worker, send_time, token, check = struct.unpack("!IIHHQQI", payload[:32])
    understood: bool = (magic == _COOKIE_MAGIC
                        and _cookie_check(slot, seq, worker, send_time, token) == check)
    if field == "token":
        token ^= 0x0123456789ABCDEF
    elif field == "slot":
        slot ^= 1
    else:
        raise ValueError(f"cannot forge {field!r}")
    cookie: bytes = struct.pack("!IIHHQQI", magic, slot, seq, worker, send_time, token,
                                _cookie_check(slot, seq, worker, send_time, token))
    return cookie + payload[32:], understood


def build_icmp_error(req: EchoRequest, packet: bytes, kind: str, router: str,
                     quote: str) -> bytes:
    """An ICMP(v6) error from `router` to the prober, quoting `packet` (the request as sent)."""
    (t4, c4), (t6, c6) = _ERRORS[kind]
    if req.version == 4:
        ihl: int = (packet[0] & 0x0F) * 4
        quoted: bytes = packet[:ihl + 8] if quote == "min" else packet[:576 - 28]
        return ip_packet(4, router, req.src, struct.pack("!BBHI", t4, c4, 0, 0) + quoted)
    quoted = packet[:48] if quote == "min" else packet[:1280 - 48]
    return ip_packet(6, router, req.src, struct.pack("!BBHI", t6, c6, 0, 0) + quoted)


@dataclasses.dataclass
class Fault:
    icmp_error: str = ""
    quote: str = "full"
    replay_lag: int = 0
    answer: Optional[bool] = None
    forge: str = ""
    src: str = ""
    replay_wrap: bool = False

    @staticmethod
    def from_dict(raw: dict[str, Any]) -> "Fault":
        unknown = set(raw) - _KNOWN_KEYS
        if unknown:
            raise ValueError(f"unknown fault keys {sorted(unknown)}")
        f = Fault(**raw)
        if f.icmp_error and f.icmp_error not in _ERRORS:
            raise ValueError(f"unknown icmp_error {f.icmp_error!r}")
        if f.quote not in ("full", "min") or f.replay_lag < 0 or f.forge not in ("", "token",
                                                                                   "slot"):
            raise ValueError(f"bad fault {raw}")
        if f.answer is None:
            f.answer = not (f.icmp_error or f.replay_lag or f.replay_wrap)
        return f


class Responder(PacketHandler):
    """One TUN fd, answered synchronously. Single-threaded."""

    def __init__(self, fd: int, faults: dict[str, Fault], default: Fault,
                 routers: dict[int, str], log: Optional[TextIO]) -> None:
        self.fd: int = fd
        self.faults: dict[str, Fault] = faults
        self.default: Fault = default
        self.routers: dict[int, str] = routers
        self.log: Optional[TextIO] = log
        self.count: dict[str, int] = {}
        self.history: dict[str, collections.deque] = {}
        self.by_seq: dict[str, dict[int, bytes]] = {}

    def _send(self, packet: bytes) -> None:
        try:
            os.write(self.fd, packet)
        except OSError as err:
            print(f"fault_responder: write failed: {err}", file=sys.stderr)

    def handle(self, packet: bytes, now: float) -> None:
        req = parse_echo_request(packet)
        if req is None:
            return
        f: Fault = self.faults.get(req.dst, self.default)
        nth: int = self.count.get(req.dst, 0)
        self.count[req.dst] = nth + 1
        event: dict[str, Any] = {"t": time.time(), "dst": req.dst, "id": req.ident, "seq": req.seq,
                                 "nth": nth}
        src_req: EchoRequest = req
        if f.forge:
            payload, understood = forge_cookie(req.payload, f.forge)
            src_req = dataclasses.replace(req, payload=payload)
            event["cookie_understood"] = understood
        reply: bytes = build_reply(src_req, Behaviour(src=f.src or None))
        if f.icmp_error:
            self._send(build_icmp_error(req, packet, f.icmp_error, self.routers[req.version],
                                        f.quote))
            event["icmp_error"] = f.icmp_error
        if f.replay_lag:
            old = self.history.setdefault(req.dst, collections.deque(maxlen=f.replay_lag))
            if len(old) == f.replay_lag:
                self._send(old[0])
                event["replayed"] = True
            old.append(reply)
        if f.replay_wrap:
            seen = self.by_seq.setdefault(req.dst, {})
            if req.seq in seen:
                self._send(seen[req.seq])
                event["replayed"] = True
            else:
                seen[req.seq] = reply
        if f.answer:
            self._send(reply)
            event["answered"] = True
        # Wrap runs send thousands of requests a second: log only some of their replays.
        if self.log is not None and (not f.replay_wrap or (event.get("replayed")
                                                           and nth % 256 == 0)):
            self.log.write(json.dumps(event) + "\n")
            self.log.flush()


def main(argv: Optional[list[str]] = None) -> int:
    ap = responder_arguments(__doc__.split("\n\n")[0], "pe-ftun0")
    ap.add_argument("--router", action="append", default=[],
                    help="source address of ICMP errors (one per family)")
    ap.add_argument("--faults-json", default="{}")
    args = ap.parse_args(argv)

    raw: dict[str, Any] = json.loads(args.faults_json)
    default = Fault.from_dict(raw.pop("default", {}))
    faults = {str(ipaddress.ip_address(a)): Fault.from_dict(spec) for a, spec in raw.items()}
    routers = {ipaddress.ip_address(a).version: a for a in args.router}
    return serve(args, lambda fd, log: Responder(fd, faults, default, routers, log))


class FaultResponder(ResponderProcess):
    """Starts this file inside `ns` (test side) and stops it on exit. Context manager; not
    thread-safe. Routes the shared responder's prefixes (198.19.0.0/24, 2001:2:0:1::/64) into
    its device; errors come from V4_ROUTER / V6_ROUTER."""

    name = "fault_responder"
    script = __file__
    V4_ROUTER: str = "198.19.0.253"
    V6_ROUTER: str = "2001:2:0:1::fffd"

    def __init__(self, ns: Any, faults: dict[str, dict], *, log_path: Optional[str] = None,
                 max_lifetime_s: float = 120.0) -> None:
        super().__init__(ns, dev="pe-ftun0", routes=(self.V4_PREFIX, self.V6_PREFIX),
                         local=(self.V4_LOCAL, self.V6_LOCAL), max_lifetime_s=max_lifetime_s,
                         log_path=log_path)
        self._faults: dict[str, dict] = faults

    def extra_argv(self) -> list[str]:
        return ["--faults-json", json.dumps(self._faults),
                "--router", self.V4_ROUTER, "--router", self.V6_ROUTER]

    def __enter__(self) -> "FaultResponder":
        super().__enter__()
        return self


if __name__ == "__main__":
    sys.exit(main())
