#!/usr/bin/python3
"""Answer ICMP and ICMPv6 echo requests on a TUN device, misbehaving on purpose.

Run it inside a network namespace the test created (it adds routes there):

    ip netns exec NS /usr/bin/python3 tun_responder.py --dev pe-tun0 \\
        --route 198.19.0.0/24 --route 2001:2:0:1::/64 --behaviour behaviours.json

Every echo request the kernel routes into the device is answered by this program, according to
the behaviour chosen for its destination address. The behaviour file (JSON) maps addresses to
behaviours, with an optional "default" for every other address:

    {"default": {}, "198.19.0.10": {"delay_ms": 50}, "2001:2:0:1::11": {"dup": 2}}

Behaviour keys (all optional; an empty object means "answer correctly at once"):
    delay_ms     float  send the reply this long after the request (larger than the prober's
                        timeout makes a late reply)
    delay_cycle_ms list of floats: extra delay of this address's requests in turn, cycling
                        ([10, 30]: RTTs alternate 10 and 30 ms, a jitter of 20 ms per step;
                        [60, 0] with requests 20 ms apart: the second reply overtakes the first)
    dup          int    send this many extra copies of each reply (duplicates)
    dup_gap_ms   float  spacing between the copies (default 1)
    corrupt      bool   invert every payload byte (checksum still valid, so it reaches the prober)
    bad_checksum bool   send the reply with a wrong ICMP checksum
    wrong_id     bool   reply with a different echo identifier
    wrong_seq    bool   reply with a different sequence number
    src          str    reply from this source address instead of the one pinged
    ttl          int    IPv4 TTL / IPv6 hop limit of the reply (default 64)
    drop         bool   never answer
    pattern      str    answer or drop by a cycle over this address's requests: "10" answers every
                        other request, "1100" answers two then drops two ("1" answers, "0" drops)

It exits on SIGTERM/SIGINT, on EOF of stdin when stdin is a pipe (so it dies with its parent),
or after --max-lifetime seconds. It prints "READY <dev>" on stdout once the device is up and
routed, and, with --log, one JSON line per request it saw.
"""

from __future__ import annotations

import argparse
import fcntl
import heapq
import ipaddress
import json
import os
import select
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Sequence, TextIO

# Run as a script, this file's folder is on sys.path but not tests/, where `lib` lives.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lib.process import terminate  # noqa: E402

if TYPE_CHECKING:
    from lib.netns import NetNs as NetNsLike

_TUNSETIFF: int = 0x400454CA
_IFF_TUN: int = 0x0001
_IFF_NO_PI: int = 0x1000
_ICMP_ECHO_REQUEST: int = 8
_ICMP_ECHO_REPLY: int = 0
_ICMP6_ECHO_REQUEST: int = 128
_ICMP6_ECHO_REPLY: int = 129
_PROTO_ICMP: int = 1
_PROTO_ICMPV6: int = 58


class _Stop(Exception):
    """SIGTERM/SIGINT arrived."""


@dataclass
class Behaviour:
    """How to answer one destination address."""

    delay_ms: float = 0.0
    delay_cycle_ms: list[float] = field(default_factory=list)
    dup: int = 0
    dup_gap_ms: float = 1.0
    corrupt: bool = False
    bad_checksum: bool = False
    wrong_id: bool = False
    wrong_seq: bool = False
    src: Optional[str] = None
    ttl: int = 64
    drop: bool = False
    pattern: str = ""

    @staticmethod
    def from_dict(raw: dict) -> "Behaviour":
        known = set(Behaviour.__dataclass_fields__)
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown behaviour keys {sorted(unknown)}")
        b = Behaviour(**raw)
        if b.pattern and set(b.pattern) - {"0", "1"}:
            raise ValueError(f"pattern {b.pattern!r} may hold only 0 and 1")
        if (not 0 <= b.ttl <= 255 or b.dup < 0 or b.delay_ms < 0
                or any(d < 0 for d in b.delay_cycle_ms)):
            raise ValueError(f"bad behaviour {raw}")
        return b


def checksum(data: bytes) -> int:
    """RFC 1071 Internet checksum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def _icmp_message(msg_type: int, ident: int, seq: int, payload: bytes) -> bytes:
    return struct.pack("!BBHHH", msg_type, 0, 0, ident, seq) + payload


def _with_checksum(message: bytes, csum: int) -> bytes:
    return message[:2] + struct.pack("!H", csum) + message[4:]


@dataclass
class EchoRequest:
    version: int
    src: str
    dst: str
    ident: int
    seq: int
    payload: bytes


def parse_echo_request(packet: bytes) -> Optional[EchoRequest]:
    """The echo request in a raw IP packet, or None for anything else (MLD, RS, fragments...)."""
    if not packet:
        return None
    version: int = packet[0] >> 4
    if version == 4 and len(packet) >= 28:
        ihl: int = (packet[0] & 0x0F) * 4
        frag: int = struct.unpack("!H", packet[6:8])[0]
        if packet[9] != _PROTO_ICMP or frag & 0x3FFF or len(packet) < ihl + 8:
            return None
        total_len: int = struct.unpack("!H", packet[2:4])[0]
        icmp: bytes = packet[ihl:total_len]
        if icmp[0] != _ICMP_ECHO_REQUEST or checksum(icmp) != 0:
            return None
        ident, seq = struct.unpack("!HH", icmp[4:8])
        return EchoRequest(4, str(ipaddress.IPv4Address(packet[12:16])),
                           str(ipaddress.IPv4Address(packet[16:20])), ident, seq, icmp[8:])
    if version == 6 and len(packet) >= 48:
        payload_len: int = struct.unpack("!H", packet[4:6])[0]
        if packet[6] != _PROTO_ICMPV6:
            return None
        icmp = packet[40:40 + payload_len]
        if len(icmp) < 8 or icmp[0] != _ICMP6_ECHO_REQUEST:
            return None
        ident, seq = struct.unpack("!HH", icmp[4:8])
        return EchoRequest(6, str(ipaddress.IPv6Address(packet[8:24])),
                           str(ipaddress.IPv6Address(packet[24:40])), ident, seq, icmp[8:])
    return None


def wire_fields(packet: bytes) -> dict[str, int | bool]:
    """What the sender chose for a request, as seen on the wire: TTL / hop limit, TOS / traffic
    class, the IP packet's length and (IPv4) the don't-fragment bit."""
    if packet[0] >> 4 == 4:
        flags: int = struct.unpack("!H", packet[6:8])[0]
        return {"ttl": packet[8], "tos": packet[1], "ip_len": struct.unpack("!H", packet[2:4])[0],
                "df": bool(flags & 0x4000)}
    tclass: int = ((packet[0] & 0x0F) << 4) | (packet[1] >> 4)
    return {"ttl": packet[7], "tos": tclass, "ip_len": 40 + struct.unpack("!H", packet[4:6])[0]}


def ip_packet(version: int, src: str, dst: str, message: bytes, *, ttl: int = 64,
              checksum_xor: int = 0) -> bytes:
    """An IPv4 or IPv6 packet from `src` to `dst` carrying the ICMP(v6) `message`, whose
    checksum field (zero on entry) is filled in here, xored with `checksum_xor` to break it on
    purpose."""
    if version == 4:
        msg: bytes = _with_checksum(message, checksum(message) ^ checksum_xor)
        header: bytes = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(msg),
                                    int.from_bytes(os.urandom(2), "big"), 0, ttl, _PROTO_ICMP, 0,
                                    ipaddress.IPv4Address(src).packed,
                                    ipaddress.IPv4Address(dst).packed)
        header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        return header + msg
    src_b: bytes = ipaddress.IPv6Address(src).packed
    dst_b: bytes = ipaddress.IPv6Address(dst).packed
    pseudo: bytes = src_b + dst_b + struct.pack("!I3xB", len(message), _PROTO_ICMPV6)
    msg = _with_checksum(message, checksum(pseudo + message) ^ checksum_xor)
    return struct.pack("!IHBB16s16s", 6 << 28, len(msg), _PROTO_ICMPV6, ttl, src_b,
                       dst_b) + msg


def build_reply(req: EchoRequest, b: Behaviour) -> bytes:
    """The full IP packet answering `req` as behaviour `b` says."""
    ident: int = req.ident ^ 0x5A5A if b.wrong_id else req.ident
    seq: int = (req.seq + 1000) & 0xFFFF if b.wrong_seq else req.seq
    payload: bytes = bytes(x ^ 0xFF for x in req.payload) if b.corrupt else req.payload
    reply_type: int = _ICMP_ECHO_REPLY if req.version == 4 else _ICMP6_ECHO_REPLY
    return ip_packet(req.version, b.src if b.src else req.dst, req.src,
                     _icmp_message(reply_type, ident, seq, payload), ttl=b.ttl,
                     checksum_xor=0x00FF if b.bad_checksum else 0)


class PacketHandler:
    """What `serve` drives: `handle` each packet read from the TUN device, `flush_due` whatever
    is due, and sleep at most `next_timeout`. This base answers nothing later than at once."""

    def handle(self, packet: bytes, now: float) -> None:
        raise NotImplementedError

    def flush_due(self, now: float) -> None:
        pass

    def next_timeout(self, now: float, deadline: float) -> float:
        return max(0.0, deadline - now)


@dataclass
class Responder(PacketHandler):
    """Answers by `Behaviour`: one TUN fd, a heap of replies due later. Single-threaded."""

    fd: int
    behaviours: dict[str, Behaviour]
    default: Behaviour
    log: Optional[TextIO]
    counters: dict[str, int] = field(default_factory=dict)
    due: list[tuple[float, int, bytes]] = field(default_factory=list)
    serial: int = 0

    def behaviour_for(self, dst: str) -> Behaviour:
        return self.behaviours.get(dst, self.default)

    def handle(self, packet: bytes, now: float) -> None:
        req = parse_echo_request(packet)
        if req is None:
            return
        b: Behaviour = self.behaviour_for(req.dst)
        nth: int = self.counters.get(req.dst, 0)
        self.counters[req.dst] = nth + 1
        answer: bool = not b.drop and (not b.pattern or b.pattern[nth % len(b.pattern)] == "1")
        copies: int = 1 + b.dup if answer else 0
        if answer:
            reply: bytes = build_reply(req, b)
            delay_ms: float = b.delay_ms
            if b.delay_cycle_ms:
                delay_ms += b.delay_cycle_ms[nth % len(b.delay_cycle_ms)]
            for i in range(copies):
                self.serial += 1
                at: float = now + delay_ms / 1000.0 + i * b.dup_gap_ms / 1000.0
                heapq.heappush(self.due, (at, self.serial, reply))
        if self.log is not None:
            self.log.write(json.dumps({"t": time.time(), "src": req.src, "dst": req.dst,
                                       "id": req.ident, "seq": req.seq, "nth": nth,
                                       "answered": answer, "copies": copies,
                                       **wire_fields(packet)}) + "\n")
            self.log.flush()

    def flush_due(self, now: float) -> None:
        while self.due and self.due[0][0] <= now:
            _, _, reply = heapq.heappop(self.due)
            try:
                os.write(self.fd, reply)
            except OSError as err:  # e.g. device going down at exit: nothing to do but note it
                print(f"tun_responder: write failed: {err}", file=sys.stderr)

    def next_timeout(self, now: float, deadline: float) -> float:
        nearest: float = min(deadline, self.due[0][0]) if self.due else deadline
        return max(0.0, nearest - now)


def open_tun(name: str) -> int:
    fd: int = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    try:
        ifr: bytes = struct.pack("16sH22x", name.encode(), _IFF_TUN | _IFF_NO_PI)
        fcntl.ioctl(fd, _TUNSETIFF, ifr)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=10)


def route_into(dev: str, local: Sequence[str], routes: Sequence[str]) -> None:
    """Bring TUN device `dev` up, give it the `local` addresses (at most one per family) and
    route each prefix of `routes` into it, with that family's local address as the source."""
    _ip("link", "set", "dev", dev, "up")
    local_by_family: dict[int, str] = {}
    for addr in local:
        ip = ipaddress.ip_address(addr)
        local_by_family[ip.version] = str(ip)
        if ip.version == 6:
            _ip("-6", "addr", "add", f"{ip}/128", "dev", dev, "nodad")
        else:
            _ip("-4", "addr", "add", f"{ip}/32", "dev", dev)
    for prefix in routes:
        net = ipaddress.ip_network(prefix, strict=False)
        src: list[str] = (["src", local_by_family[net.version]]
                          if net.version in local_by_family else [])
        _ip(f"-{net.version}", "route", "add", str(net), "dev", dev, *src)


def load_behaviours(path: Optional[str], inline: Optional[str]) -> tuple[Behaviour,
                                                                         dict[str, Behaviour]]:
    raw: dict = {}
    if path:
        with open(path, encoding="utf-8") as f:
            raw.update(json.load(f))
    if inline:
        raw.update(json.loads(inline))
    default = Behaviour.from_dict(raw.pop("default", {}))
    table: dict[str, Behaviour] = {}
    for addr, spec in raw.items():
        table[str(ipaddress.ip_address(addr))] = Behaviour.from_dict(spec)
    return default, table


def _watch_stdin() -> bool:
    mode: int = os.fstat(0).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def responder_arguments(description: str, dev: str) -> argparse.ArgumentParser:
    """The options `serve` reads, for a responder script's own parser to extend."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--dev", default=dev, help="TUN device name")
    ap.add_argument("--route", action="append", default=[],
                    help="prefix to route into the device (repeatable)")
    ap.add_argument("--local", action="append", default=[],
                    help="address to own on the device and use as the routes' source, so the "
                         "prober has a source address even with no other interface (repeatable)")
    ap.add_argument("--max-lifetime", type=float, default=300.0, help="seconds before exiting")
    ap.add_argument("--realtime", action="store_true",
                    help="run with SCHED_FIFO so injected delays stay precise on a busy machine")
    ap.add_argument("--log", help="append one JSON line per echo request seen to this file")
    return ap


def serve(args: argparse.Namespace,
          make_handler: Callable[[int, Optional[TextIO]], PacketHandler]) -> int:
    """Open and route the TUN device of `args` (from `responder_arguments`), print
    "READY <dev>", and feed every packet to the handler `make_handler(fd, log)` builds, until
    SIGTERM/SIGINT, EOF on a piped stdin, or --max-lifetime. Returns the exit status."""
    if args.realtime:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except OSError as err:  # not fatal: the delays are merely less precise
            print(f"{os.path.basename(sys.argv[0])}: SCHED_FIFO refused: {err}", file=sys.stderr)

    def on_signal(signum: int, frame: object) -> None:
        # Raise rather than set a flag: select() is restarted after a handler that returns.
        raise _Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    fd: int = open_tun(args.dev)
    log: Optional[TextIO] = open(args.log, "a", encoding="utf-8") if args.log else None
    try:
        route_into(args.dev, args.local, args.route)
        os.set_blocking(fd, False)
        handler: PacketHandler = make_handler(fd, log)
        watch_stdin: bool = _watch_stdin()
        print(f"READY {args.dev}", flush=True)
        deadline: float = time.monotonic() + args.max_lifetime
        while True:
            now: float = time.monotonic()
            if now >= deadline:
                break
            rlist: list[int] = [fd, 0] if watch_stdin else [fd]
            readable, _, _ = select.select(rlist, [], [], handler.next_timeout(now, deadline))
            if 0 in readable and not os.read(0, 4096):
                break  # parent went away
            if fd in readable:
                for _ in range(256):  # bounded drain per wake-up
                    try:
                        packet: bytes = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    handler.handle(packet, time.monotonic())
            handler.flush_due(time.monotonic())
    except _Stop:
        pass
    finally:
        os.close(fd)  # the device and its routes vanish with the fd
        if log is not None:
            log.close()
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    ap = responder_arguments(__doc__.split("\n\n")[0], "pe-tun0")
    ap.add_argument("--behaviour", help="JSON file: address -> behaviour")
    ap.add_argument("--behaviour-json", help="the same, inline")
    args = ap.parse_args(argv)
    default, table = load_behaviours(args.behaviour, args.behaviour_json)
    return serve(args, lambda fd, log: Responder(fd, table, default, log))


class ResponderProcess:
    """A responder script run as a subprocess inside a namespace (test side). Context manager:
    starts it, waits for its "READY" line, and stops it (SIGTERM, then kill) on exit. It routes
    V4_PREFIX and V6_PREFIX into its device and owns V4_LOCAL / V6_LOCAL there (never
    answered). Subclasses name their `script` and add its own options in `extra_argv()`.
    Not thread-safe."""

    name: str = "responder"
    script: str = ""
    V4_PREFIX: str = "198.19.0.0/24"
    V6_PREFIX: str = "2001:2:0:1::/64"
    V4_LOCAL: str = "198.19.0.254"
    V6_LOCAL: str = "2001:2:0:1::fffe"

    def __init__(self, ns: "NetNsLike", *, dev: str, routes: tuple[str, ...],
                 local: tuple[str, ...], max_lifetime_s: float, log_path: Optional[str],
                 realtime: bool = False) -> None:
        self._ns = ns
        self.log_path: Optional[str] = log_path
        self._proc: Optional[subprocess.Popen] = None
        self._dev: str = dev
        self._routes: tuple[str, ...] = routes
        self._local: tuple[str, ...] = local
        self._max_lifetime_s: float = max_lifetime_s
        self._realtime: bool = realtime

    def extra_argv(self) -> list[str]:
        raise NotImplementedError

    def argv(self) -> list[str]:
        argv: list[str] = [sys.executable if os.path.isabs(sys.executable) else "/usr/bin/python3",
                           os.path.abspath(self.script), "--dev", self._dev,
                           "--max-lifetime", str(self._max_lifetime_s)]
        for route in self._routes:
            argv += ["--route", route]
        for addr in self._local:
            argv += ["--local", addr]
        if self.log_path:
            argv += ["--log", self.log_path]
        if self._realtime:
            argv += ["--realtime"]
        return argv + self.extra_argv()

    def __enter__(self) -> "ResponderProcess":
        argv: list[str] = self.argv()
        # rp_filter would drop replies (and errors) whose source is not routed back via the TUN.
        self._ns.sysctl("net.ipv4.conf.all.rp_filter", 0)
        self._ns.sysctl("net.ipv4.conf.default.rp_filter", 0)
        self._proc = self._ns.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self._proc.stdout], [], [], 10.0)
        line: str = self._proc.stdout.readline() if ready else ""
        if not line.startswith("READY"):
            self.stop()
            err: str = self._proc.stderr.read() if self._proc.stderr else ""
            raise RuntimeError(f"{self.name} did not become ready: {line!r} {err}")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> int:
        """Stop the responder; returns its exit status."""
        proc = self._proc
        if proc is None:
            return 0
        terminate(proc, grace_s=3.0)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return int(proc.returncode)

    def events(self) -> list[dict]:
        """The requests logged so far (needs log_path)."""
        if not self.log_path or not os.path.exists(self.log_path):
            return []
        with open(self.log_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


class TunResponder(ResponderProcess):
    """Runs this file as a subprocess inside a namespace (test side). Context manager: starts the
    responder, waits for READY, and stops it (SIGTERM, then kill) on exit. Not thread-safe.

    `behaviours` maps an address (or "default") to a behaviour dict as described in the module
    docstring. `log_path`, if given, receives one JSON line per echo request seen.
    """

    name = "tun_responder"
    script = __file__

    def __init__(self, ns: "NetNsLike", behaviours: dict[str, dict], *, dev: str = "pe-tun0",
                 routes: tuple[str, ...] = (ResponderProcess.V4_PREFIX,
                                            ResponderProcess.V6_PREFIX),
                 local: tuple[str, ...] = (ResponderProcess.V4_LOCAL, ResponderProcess.V6_LOCAL),
                 max_lifetime_s: float = 300.0, log_path: Optional[str] = None) -> None:
        super().__init__(ns, dev=dev, routes=routes, local=local, max_lifetime_s=max_lifetime_s,
                         log_path=log_path, realtime=os.geteuid() == 0)
        self._behaviours: dict[str, dict] = behaviours

    def extra_argv(self) -> list[str]:
        return ["--behaviour-json", json.dumps(self._behaviours)]

    def __enter__(self) -> "TunResponder":
        super().__enter__()
        return self


def read_stamped(sock: socket.socket, stop: threading.Event, size: int,
                 handle: Callable[[bytes, float], None]) -> None:
    """Reads packets (their first `size` bytes) from a socket with SO_TIMESTAMPNS and a timeout
    until `stop` is set or the socket closes, handing each to `handle` with its kernel timestamp
    (the time now if it came without one)."""
    while not stop.is_set():
        try:
            packet, anc, _flags, _addr = sock.recvmsg(size, 64)
        except socket.timeout:
            continue
        except OSError:
            return
        stamp: Optional[float] = None
        for level, kind, blob in anc:
            if level == socket.SOL_SOCKET and kind == EchoWire.SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", blob[:16])
                stamp = sec + nsec / 1e9
        handle(packet, time.time() if stamp is None else stamp)


class EchoWire:
    """The kernel's timestamps of the echo requests and replies crossing a responder's TUN
    device, from an AF_PACKET socket in its namespace (test side): what the prober's RTTs are
    checked against, whatever the responder's own timing was. Context manager (the device must
    exist); packets are read on a thread of its own. `rtt` may be called while it runs."""

    _ETH_P_ALL: int = 0x0003
    SO_TIMESTAMPNS: int = 35

    def __init__(self, ns: "NetNsLike", dev: str = "pe-tun0") -> None:
        self._ns = ns
        self._dev: str = dev
        self._sock: Optional[socket.socket] = None
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, int], float] = {}  # (destination, seq) -> stamp
        self._replies: dict[tuple[str, int], float] = {}  # (source, seq) -> first stamp

    def __enter__(self) -> "EchoWire":
        with self._ns.entered():
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM,
                                       socket.htons(self._ETH_P_ALL))
        self._sock.setsockopt(socket.SOL_SOCKET, self.SO_TIMESTAMPNS, 1)
        self._sock.bind((self._dev, self._ETH_P_ALL))
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    def _loop(self) -> None:
        assert self._sock is not None
        read_stamped(self._sock, self._stop, 128, self._handle)

    def _handle(self, packet: bytes, stamp: float) -> None:
        echo = self._echo(packet)
        if echo is None:
            return
        is_request, address, seq = echo
        with self._lock:
            table = self._requests if is_request else self._replies
            table.setdefault((address, seq), stamp)

    @staticmethod
    def _echo(packet: bytes) -> Optional[tuple[bool, str, int]]:
        """(is_request, the far end's address, sequence) of an echo request or reply."""
        if len(packet) >= 28 and packet[0] >> 4 == 4 and packet[9] == _PROTO_ICMP:
            icmp: bytes = packet[(packet[0] & 0x0F) * 4:]
            far: bytes = packet[16:20] if icmp[:1] == bytes([_ICMP_ECHO_REQUEST]) else packet[12:16]
            kinds = (_ICMP_ECHO_REQUEST, _ICMP_ECHO_REPLY)
            address = str(ipaddress.IPv4Address(far))
        elif len(packet) >= 48 and packet[0] >> 4 == 6 and packet[6] == _PROTO_ICMPV6:
            icmp = packet[40:]
            far = packet[24:40] if icmp[:1] == bytes([_ICMP6_ECHO_REQUEST]) else packet[8:24]
            kinds = (_ICMP6_ECHO_REQUEST, _ICMP6_ECHO_REPLY)
            address = str(ipaddress.IPv6Address(far))
        else:
            return None
        if len(icmp) < 8 or icmp[0] not in kinds:
            return None
        return icmp[0] == kinds[0], address, struct.unpack("!H", icmp[6:8])[0]

    def rtt(self, address: str, seq: int) -> Optional[float]:
        """Reply stamp minus request stamp of request `seq` to `address`, once both were seen."""
        with self._lock:
            sent = self._requests.get((address, seq))
            answered = self._replies.get((address, seq))
        return None if sent is None or answered is None else answered - sent


if __name__ == "__main__":
    sys.exit(main())
