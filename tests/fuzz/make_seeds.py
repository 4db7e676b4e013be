#!/usr/bin/python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/ (checked in).

Run it again after changing the packet format or the example configs:
    /usr/bin/python3 tests/fuzz/make_seeds.py
It rewrites only the files it names (seed-*), so hand-added seeds stay.
Packets use only benchmarking (198.18.0.0/15, 2001:2::/48) and loopback addresses.
"""

import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CORPUS = HERE / "corpus"

MASK64 = (1 << 64) - 1
COOKIE_MAGIC = 0x50455850
COOKIE_SIZE = 32

# First byte of an icmp fuzz input: bit 0 = IPv6, bit 1 = IPv4 header present.
V4_DGRAM, V6, V4_RAW, V6_FLAG = 0, 1, 2, 3


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def cookie(slot, seq, worker, send_ns, token) -> bytes:
    # Same layout and check word as exporter/icmp/packet.cpp WriteCookie().
    mix = token ^ (slot << 16) ^ seq ^ (worker << 48) ^ ((send_ns * 0x9E3779B97F4A7C15) & MASK64)
    mix &= MASK64
    check = (mix ^ (mix >> 32)) & 0xFFFFFFFF
    return struct.pack("!IIHHQQI", COOKIE_MAGIC, slot, seq, worker, send_ns, token, check)


def payload(seq, size=56, slot=3, worker=1) -> bytes:
    fill = bytes((0xA5 ^ (i * 7)) & 0xFF for i in range(COOKIE_SIZE, size))
    return cookie(slot, seq, worker, 1_700_000_000_123_456_789, 0x0123456789ABCDEF) + fill


def icmp(type_, code, rest: bytes, v4=True) -> bytes:
    body = struct.pack("!BBH", type_, code, 0) + rest
    if not v4:
        return body  # the kernel fills the ICMPv6 checksum
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def echo(type_, ident, seq, data: bytes, v4=True) -> bytes:
    return icmp(type_, 0, struct.pack("!HH", ident, seq) + data, v4)


def ipv4(src, dst, body: bytes, ttl=64, options=b"") -> bytes:
    ihl = (20 + len(options)) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(body), 0x1234,
                      0x4000, ttl, 1, 0, bytes(src), bytes(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + body


def ipv6(src, dst, body: bytes, hop=64) -> bytes:
    return struct.pack("!IHBB16s16s", 0x60000000, len(body), 58, hop, bytes(src), bytes(dst)) + body


LO4 = [127, 0, 0, 1]
BENCH4 = [198, 18, 0, 1]
BENCH6 = [0x20, 0x01, 0x00, 0x02] + [0] * 11 + [1]
LO6 = [0] * 15 + [1]


def icmp_seeds():
    reply4 = echo(0, 0x1234, 7, payload(7))
    reply6 = echo(129, 0x1234, 7, payload(7), v4=False)
    request4 = echo(8, 0x1234, 7, payload(7))
    request6 = echo(128, 0x1234, 7, payload(7), v4=False)
    corrupt = bytearray(echo(0, 0x1234, 8, payload(8)))
    corrupt[8 + 40] ^= 0x01
    quoted4 = ipv4(LO4, BENCH4, request4)
    quoted6 = ipv6(LO6, BENCH6, request6)
    return {
        "seed-v4-dgram-echo-reply": bytes([V4_DGRAM]) + reply4,
        "seed-v4-raw-echo-reply": bytes([V4_RAW]) + ipv4(BENCH4, LO4, reply4, ttl=57),
        "seed-v4-raw-echo-reply-ip-options": bytes([V4_RAW])
        + ipv4(BENCH4, LO4, reply4, options=b"\x01\x01\x01\x00"),
        "seed-v4-raw-echo-reply-trailing-bytes": bytes([V4_RAW])
        + ipv4(BENCH4, LO4, reply4) + b"\xff" * 6,
        "seed-v4-dgram-echo-reply-min-payload": bytes([V4_DGRAM])
        + echo(0, 1, 65535, payload(65535, size=32)),
        "seed-v4-dgram-echo-reply-corrupt-payload": bytes([V4_DGRAM]) + bytes(corrupt),
        "seed-v4-dgram-echo-request": bytes([V4_DGRAM]) + request4,
        "seed-v4-raw-host-unreachable": bytes([V4_RAW])
        + ipv4(LO4, LO4, icmp(3, 1, b"\0\0\0\0" + quoted4)),
        "seed-v4-raw-admin-prohibited": bytes([V4_RAW])
        + ipv4(LO4, LO4, icmp(3, 13, b"\0\0\0\0" + quoted4)),
        "seed-v4-raw-ttl-exceeded-short-quote": bytes([V4_RAW])
        + ipv4(LO4, LO4, icmp(11, 0, b"\0\0\0\0" + quoted4[:28])),
        "seed-v4-dgram-net-unreachable": bytes([V4_DGRAM]) + icmp(3, 0, b"\0\0\0\0" + quoted4),
        "seed-v4-raw-not-icmp": bytes([V4_RAW]) + ipv4(LO4, LO4, reply4)[:9] + b"\x11"
        + ipv4(LO4, LO4, reply4)[10:],
        "seed-v4-raw-truncated": bytes([V4_RAW]) + ipv4(BENCH4, LO4, reply4)[:24],
        "seed-v6-echo-reply": bytes([V6]) + reply6,
        "seed-v6-echo-reply-flag": bytes([V6_FLAG]) + reply6,
        "seed-v6-echo-request": bytes([V6]) + request6,
        "seed-v6-addr-unreachable": bytes([V6]) + icmp(1, 3, b"\0\0\0\0" + quoted6, v4=False),
        "seed-v6-prohibited": bytes([V6]) + icmp(1, 1, b"\0\0\0\0" + quoted6, v4=False),
        "seed-v6-hop-limit-exceeded": bytes([V6]) + icmp(3, 0, b"\0\0\0\0" + quoted6, v4=False),
        "seed-v6-packet-too-big": bytes([V6])
        + icmp(2, 0, struct.pack("!I", 1280) + quoted6, v4=False),
        "seed-empty": bytes([V4_DGRAM]),
    }


EMBEDDED_DEFAULT = """[defaults]
interval = "1s"
timeout = "500ms"
spacing = "100ms"
count = 2

[[targets]]
name = "loopback"
hosts = ["127.0.0.1", "::1"]
"""

GROUPS_TOML = """workers = 2
rtt_buckets = [0.0005, 0.001, 0.01]
[defaults]
interval = "2s"
timeout = "500ms"
spacing = "100ms"
count = 3
payload_size = 64
ttl = 64
tos = 0
dont_fragment = true
source_address = "127.0.0.1"
[[targets]]
name = "v4"
hosts = ["127.0.0.1", "198.18.0.1", "localhost"]
family = "ip4"
labels = { site = "lab", rack = "r1" }
interval = "1m30s"
[[targets]]
hosts = ["::1", "2001:2::1"]
family = "ip6"
count = 1
timeout = "1.5s"
"""


TARGET_FILES_TOML = """[defaults]
resolve_interval = "1m"
[[target_files]]
name = "from-lines"
path = "hosts.txt"
labels = { source = "file" }
[[target_files]]
path = "/etc/ping_exporter/../sd/targets.json"
format = "file_sd"
family = "ip6"
all_addresses = true
count = 1
"""


def config_seeds():
    seeds = {"seed-embedded-default.toml": EMBEDDED_DEFAULT.encode(),
             "seed-groups.toml": GROUPS_TOML.encode(),
             "seed-target-files.toml": TARGET_FILES_TOML.encode()}
    seeds["seed-example-ping_exporter.toml"] = (ROOT / "config/ping_exporter.toml").read_bytes()
    for f in sorted((ROOT / "tests/unit/config/testdata").glob("*.toml")):
        seeds["seed-unit-" + f.name] = f.read_bytes()
    return seeds


# Plain names resolve inside $PE_FUZZ_WEB_DIR, where tools/fuzz.sh writes a throwaway
# CA, server certificate and key (ca.pem, cert.pem, key.pem).
WEB_TLS = """tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
  client_ca_file: ca.pem
  client_auth_type: RequireAndVerifyClientCert
  client_allowed_sans: ["client-one", "client-two"]
  min_version: TLS12
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: true
http_server_config:
  http2: true
  headers:
    Strict-Transport-Security: max-age=31536000
    X-XSS-Protection: "1; mode=block"
basic_auth_users:
  alice: $2y$10$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG
"""

WEB_TLS_SIMPLE = """tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
"""

WEB_TLS_INLINE = """tls_server_config:
  cert: |
    -----BEGIN CERTIFICATE-----
    bm90IGEgY2VydGlmaWNhdGU=
    -----END CERTIFICATE-----
  key: |
    -----BEGIN PRIVATE KEY-----
    bm90IGEga2V5
    -----END PRIVATE KEY-----
  client_auth_type: RequestClientCert
"""

WEB_ANCHORS = """basic_auth_users: &users
  alice: &h $2b$12$X0h1gDsPszWURQaxFh.zoubFi6DXncSjhoQNJgRrnGs7EsimhC7zG
  bob: *h
http_server_config:
  {headers: {X-Frame-Options: deny, Content-Security-Policy: "default-src 'self'"}}
"""


def web_seeds():
    seeds = {
        "seed-tls-full.yml": WEB_TLS.encode(),
        "seed-tls-simple.yml": WEB_TLS_SIMPLE.encode(),
        "seed-tls-inline.yml": WEB_TLS_INLINE.encode(),
        "seed-anchors-flow.yml": WEB_ANCHORS.encode(),
    }
    for f in sorted((ROOT / "tests/unit/http/testdata").glob("*.yml")):
        seeds["seed-unit-" + f.name] = f.read_bytes()
    return seeds


def duration_seeds():
    texts = ["1s", "250ms", "1m30s", "2h", "1.5s", "100us", "10\u00b5s", "3d", "0s", "42ns",
             "1h2m3s4ms5us6ns", "0.000000001s", "1.0000000001s", "9223372036s", "106751d",
             "2562047h47m16s854ms775us807ns", ".5s", "5.m", "1x", "-1s", ""]
    return {f"seed-{i:02d}": t.encode() for i, t in enumerate(texts)}


def probe_query_seeds():
    # First byte: 0 = a /probe query string, 1 = a --probe.allow list.
    queries = ["target=127.0.0.1", "target=localhost&count=3&timeout=500ms&family=ip4",
               "target=%3A%3A1&family=ip6", "module=icmp&target=host.lab.test.",
               "target=Host.LAB.Test&count=10&timeout=5s", "target=198.18.0.1&count=0",
               "target=2001%3a2%3A%3A5&timeout=6s", "target=a&target=b", "target=bad%zz",
               "count=3", "target=%5B%3A%3A1%5D", "target=lab.test", "target=10.0.0.0x&family=any",
               "&&target=127.1.2.3&&timeout=1.5s&family=ip6", "target=two+words"]
    lists = ["127.0.0.0/8,::1,localhost,*.lab.test", "198.18.0.0/15, 2001:2::/48", "", " , ",
             "127.0.0.1/33", "*.", "LOCALHOST.", "::ffff:127.0.0.1/104", "[::1]/128",
             "127.0.0.1/08", "*.Lab.Test.,host_name-1"]
    seeds = {f"seed-query-{i:02d}": b"\x00" + q.encode() for i, q in enumerate(queries)}
    seeds.update({f"seed-allow-{i:02d}": b"\x01" + a.encode() for i, a in enumerate(lists)})
    return seeds


def targets_seeds():
    # First byte: 0 = a config, 1 = a lines file, 2 = file_sd JSON, 3 = file_sd YAML.
    mode = {".toml": 0, ".txt": 1, ".json": 2, ".yml": 3}
    seeds = {"seed-config-groups": b"\x00" + GROUPS_TOML.encode(),
             "seed-config-example": b"\x00" + (ROOT / "config/ping_exporter.toml").read_bytes(),
             "seed-json-escapes": b"\x02" + '[{"targets": ["::1", "localhost:80"], "labels": '
             '{"quote": "a\\"b", "backslash": "c\\\\d", "utf8": "caf\u00e9 \u20ac"}}]'.encode(),
             "seed-yaml-quoted": b"\x03" + b'- targets: ["[::1]:9100", Host.Test.]\n'
             b'  labels: {q: "a\\"b\\\\c", plain: 1, "__meta_x": y}\n'}
    for f in sorted((ROOT / "tests/unit/targets/testdata").iterdir()):
        if f.suffix in mode:
            seeds[f"seed-unit-{f.name}"] = bytes([mode[f.suffix]]) + f.read_bytes()
    # Bit 7: filler rows first, with label texts of 800 + 8 x bits 2-6 bytes.
    long_value = "v" * 960
    for k, m in [(0, 1), (7, 2), (19, 3), (31, 0)]:
        body = {1: b"127.0.0.1\nlocalhost\n",
                2: ('[{"targets": ["::1"], "labels": {"long": "%s"}}]' % long_value).encode(),
                3: ("- targets: [127.0.0.1]\n  labels: {long: %s}\n" % long_value).encode(),
                0: ('[[targets]]\nhosts = ["127.0.0.1"]\nlabels = { long = "%s" }\n'
                    % long_value).encode()}[m]
        seeds[f"seed-filler-{k:02d}-mode-{m}"] = bytes([0x80 | (k << 2) | m]) + body
    return seeds


def main():
    for target, seeds in [("icmp", icmp_seeds()), ("config", config_seeds()),
                          ("web_config", web_seeds()), ("duration", duration_seeds()),
                          ("probe_query", probe_query_seeds()), ("targets", targets_seeds())]:
        out = CORPUS / target
        out.mkdir(parents=True, exist_ok=True)
        for name, data in seeds.items():
            (out / name).write_bytes(data)
        print(f"{target}: {len(seeds)} seeds in {out}")


if __name__ == "__main__":
    main()
