"""Run ping_exporter under test, scrape it, and parse what it says.

The binary is $PING_EXPORTER_BIN (default /work/main/build/ping_exporter). It is started with a
temporary TOML config, listening on 127.0.0.1:0; the real port is read back from its
`msg=listening ... address=HOST:PORT` log line. When given a NetNs it runs inside it (and the
scrapes are made from inside it too).
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence, TypeVar

import pytest

from lib.netns import NetNs
from lib.process import terminate

DEFAULT_BIN: str = "/work/main/build/ping_exporter"
_NOBODY: str = "65534"
T = TypeVar("T")


def binary_path() -> str:
    return os.environ.get("PING_EXPORTER_BIN", DEFAULT_BIN)


def require_binary() -> str:
    """The exporter's path; skips the test when it has not been built."""
    path: str = binary_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"exporter binary {path} not built (set PING_EXPORTER_BIN)")
    return path


# -- polling ------------------------------------------------------------------------------------
def wait_until(predicate: Callable[[], T], timeout: float, *, interval: float = 0.05,
               message: str = "condition") -> T:
    """Call `predicate` until it returns something truthy or `timeout` seconds pass.

    Exceptions from the predicate count as "not yet"; on timeout the last value or exception is
    put into the AssertionError so the failure says what was seen.
    """
    deadline: float = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
            if last:
                return last
        except Exception as err:  # noqa: BLE001 - reported below
            last = err
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}; "
                                 f"last: {last!r}")
        time.sleep(interval)


# -- TOML config ---------------------------------------------------------------------------------
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        escaped: str = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(config: Mapping[str, Any]) -> str:
    """The small TOML subset the exporter's config uses: top-level keys, [defaults] table and
    [[targets]] array of tables (nested tables inline)."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, Sequence[Mapping[str, Any]]]] = []
    for key, value in config.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif (isinstance(value, (list, tuple)) and value
              and all(isinstance(v, Mapping) for v in value)):
            arrays.append((key, value))
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    for key, table in tables:
        lines += ["", f"[{key}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    for key, items in arrays:
        for item in items:
            lines += ["", f"[[{key}]]"] + [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def loopback_host(i: int, first_octet: int) -> str:
    """127.<first_octet + i / 65536>.<i / 256 % 256>.<i % 256>: distinct loopback hosts."""
    return f"127.{first_octet + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"


def many_hosts_config(hosts: Sequence[str], workers: int = 2) -> str:
    """One `[[targets]]` group "scale" of `hosts` (label bench="scale"), every 60 s with one echo,
    so even 100 000 targets send few packets: the config of the scale test and bench. Written
    line by line because to_toml would put every host on one line."""
    lines: list[str] = [f"workers = {workers}", "", "[defaults]", 'interval = "60s"', "count = 1",
                        'timeout = "1s"', "", "[[targets]]", 'name = "scale"',
                        'labels = { bench = "scale" }', "hosts = ["]
    lines += [f'  "{h}",' for h in hosts]
    lines.append("]")
    return "\n".join(lines) + "\n"


def rss_mib(pid: int) -> float:
    """VmRSS of a process, MiB."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise ValueError(f"no VmRSS for pid {pid}")


# -- metrics text format -------------------------------------------------------------------------
MetricKey = tuple[str, frozenset]

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _parse_value(text: str) -> float:
    lowered: str = text.lower()
    if lowered in ("+inf", "inf"):
        return math.inf
    if lowered == "-inf":
        return -math.inf
    if lowered == "nan":
        return math.nan
    return float(text)


class Metrics(dict):
    """One scrape: {(name, frozenset(label items)): value}, plus `types` {family: type}."""

    def __init__(self) -> None:
        super().__init__()
        self.types: dict[str, str] = {}

    def get_value(self, name: str, **labels: str) -> Optional[float]:
        """The value of the series with exactly these labels, or None."""
        return self.get((name, frozenset(labels.items())))

    def select(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        """Every series of `name` whose labels include `labels`."""
        want = set(labels.items())
        return [(dict(key[1]), value) for key, value in self.items()
                if key[0] == name and want <= key[1]]

    def one(self, name: str, **labels: str) -> float:
        """The single series of `name` matching `labels`; fails if there are 0 or several."""
        found = self.select(name, **labels)
        if len(found) != 1:
            raise AssertionError(f"expected one {name}{labels}, found {len(found)}: {found}")
        return found[0][1]

    def maybe(self, name: str, **labels: str) -> Optional[float]:
        found = self.select(name, **labels)
        if len(found) > 1:
            raise AssertionError(f"expected at most one {name}{labels}, found {found}")
        return found[0][1] if found else None

    def names(self) -> set[str]:
        return {key[0] for key in self}


def _sample_lines(text: str, names: Iterable[str]) -> Iterator[str]:
    """The sample lines of exactly these metric names, found with str.find: a 50 000-target
    scrape is 220 MB, and splitting all of it into lines would cost seconds and gigabytes."""
    text = "\n" + text
    for name in names:
        for prefix in ("\n" + name + "{", "\n" + name + " "):
            pos: int = text.find(prefix)
            while pos >= 0:
                end: int = text.find("\n", pos + 1)
                end = len(text) if end < 0 else end
                yield text[pos + 1:end]
                pos = text.find(prefix, end)


def parse_metrics(text: str, names: Optional[Iterable[str]] = None) -> Metrics:
    """Parse the Prometheus text exposition format (0.0.4); with `names`, only the samples of
    those metric names (no TYPE lines). Raises ValueError on bad lines."""
    out = Metrics()
    lines: Iterable[str] = text.splitlines() if names is None else _sample_lines(text, names)
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 4 and parts[1] == "TYPE":
                out.types[parts[2]] = parts[3].strip()
            continue
        match = _SAMPLE_RE.match(line)
        if match is None:
            raise ValueError(f"line {lineno}: not a sample: {line!r}")
        name, _, label_text, value_text = match.group(1), match.group(2), match.group(3), \
            match.group(4)
        labels: dict[str, str] = {}
        rest: str = label_text or ""
        while rest.strip():
            lm = _LABEL_RE.match(rest)
            if lm is None:
                raise ValueError(f"line {lineno}: bad labels {label_text!r}")
            labels[lm.group(1)] = _unescape(lm.group(2))
            rest = rest[lm.end():]
        key: MetricKey = (name, frozenset(labels.items()))
        if key in out:
            raise ValueError(f"line {lineno}: duplicate series {name}{labels}")
        out[key] = _parse_value(value_text)
    return out


# -- HTTP ----------------------------------------------------------------------------------------
@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


def http_get(address: str, path: str, *, netns: Optional[NetNs] = None,
             headers: Optional[dict[str, str]] = None, timeout: float = 5.0,
             method: str = "GET") -> HttpResponse:
    """One HTTP request to HOST:PORT, from inside `netns` when given."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    ctx = netns.entered() if netns is not None else contextlib.nullcontext()
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        with ctx:
            conn.connect()  # the socket belongs to the namespace it was created in
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body: bytes = resp.read()
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


@dataclass
class RawScrape:
    seconds: float  # from connect to the last byte
    size: int  # bytes of the body on the wire (after de-chunking, before gunzip)
    body: bytes  # decompressed
    gzip: bool  # the server answered with Content-Encoding: gzip


def raw_scrape(address: str, *, accept_gzip: bool = False, timeout: float = 30.0,
               accept: str = "") -> RawScrape:
    """GET /metrics from HOST:PORT over a plain socket, timed from connect to the last byte.

    Hand-rolled on purpose: http.client decodes a chunked 40 MB body line by line and then takes
    seconds where curl takes 0.1 s, which would measure Python, not the server. The body is
    de-chunked and decompressed after the clock stops. `accept`: an Accept header to send (the
    format to negotiate); none by default (text). Raises on a non-200 answer or timeout.
    """
    host, _, port = address.rpartition(":")
    accept_line: str = f"Accept: {accept}\r\n" if accept else ""
    request = (f"GET /metrics HTTP/1.1\r\nHost: {address}\r\n{accept_line}Accept-Encoding: "
               f"{'gzip' if accept_gzip else 'identity'}\r\nConnection: close\r\n\r\n").encode()
    deadline = time.monotonic() + timeout
    parts: list[bytes] = []
    t0 = time.monotonic()
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no complete answer within {timeout:.0f} s")
            sock.settimeout(left)
            data = sock.recv(1 << 20)
            if not data:
                break
            parts.append(data)
    elapsed = time.monotonic() - t0
    head, sep, body = b"".join(parts).partition(b"\r\n\r\n")
    if not sep:
        raise RuntimeError("no HTTP header")
    lines = head.split(b"\r\n")
    status = lines[0].split(b" ", 2)
    if len(status) < 2 or status[1] != b"200":
        raise RuntimeError(f"/metrics answered {lines[0][:60]!r}")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        key, _, value = line.partition(b":")
        headers[key.strip().lower()] = value.strip().lower()
    if headers.get(b"transfer-encoding") == b"chunked":
        body = _dechunk(body)
    encoded: bool = headers.get(b"content-encoding") == b"gzip"
    return RawScrape(elapsed, len(body), gzip.decompress(body) if encoded else body, encoded)


def _dechunk(data: bytes) -> bytes:
    out: list[bytes] = []
    i = 0
    while True:
        j = data.index(b"\r\n", i)
        size = int(data[i:j].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[j + 2:j + 2 + size])
        i = j + 2 + size + 2


# -- the process ---------------------------------------------------------------------------------
class Exporter:
    """One ping_exporter process. Context manager; `stop()` may also be called directly.

    Config is a dict (written as TOML) or raw TOML text. The process runs in `netns` if given,
    and as user nobody (setpriv) if `as_nobody`. stderr goes to a file; its text is appended to
    failures raised here. Not thread-safe.
    """

    def __init__(self, config: Mapping[str, Any] | str, *, netns: Optional[NetNs] = None,
                 as_nobody: bool = False, extra_args: Sequence[str] = (),
                 workdir: Optional[str] = None, start_timeout_s: float = 10.0) -> None:
        self.bin: str = require_binary()
        self.netns: Optional[NetNs] = netns
        self.as_nobody: bool = as_nobody
        self.extra_args: list[str] = list(extra_args)
        self.start_timeout_s: float = start_timeout_s
        self._own_dir: bool = workdir is None
        self.dir: str = workdir or tempfile.mkdtemp(prefix="pe-exporter-")
        os.chmod(self.dir, 0o755)  # readable by nobody
        self.config_path: str = os.path.join(self.dir, "config.toml")
        self.stderr_path: str = os.path.join(self.dir, "stderr.log")
        self.write_config(config)
        self.proc: Optional[subprocess.Popen] = None
        self.address: str = ""
        self.exit_code: Optional[int] = None

    def write_config(self, config: Mapping[str, Any] | str) -> None:
        text: str = config if isinstance(config, str) else to_toml(config)
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(self.config_path, 0o644)

    def argv(self) -> list[str]:
        # Defaults a test may override through extra_args (a flag given twice is an error). No
        # `source` label unless asked for: the tests name series by their exact label sets, and
        # the default (the host name) differs between machines.
        given: set[str] = {a.split("=", 1)[0] for a in self.extra_args}
        defaults: list[str] = []
        if "--web.listen-address" not in given:
            defaults.append("--web.listen-address=127.0.0.1:0")
        if "--source.name" not in given:
            defaults += ["--source.name", ""]
        argv: list[str] = [self.bin, f"--config.file={self.config_path}", *defaults,
                           *self.extra_args]
        if self.as_nobody:
            argv = ["setpriv", f"--reuid={_NOBODY}", f"--regid={_NOBODY}", "--clear-groups",
                    *argv]
        return argv

    def __enter__(self) -> "Exporter":
        self.start()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            # The test is failing inside the `with`: pytest shows captured stderr with it.
            sys.stderr.write(f"--- exporter ---\n{self.describe()}\n")
        self.close()

    def start(self) -> None:
        stderr = open(self.stderr_path, "wb")
        try:
            argv: list[str] = self.argv()
            if self.netns is not None:
                self.proc = self.netns.popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=stderr)
            else:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=stderr)
        finally:
            stderr.close()
        try:
            self.address = wait_until(self._listening_address, self.start_timeout_s,
                                      message="msg=listening with address= in the log")
        except BaseException as err:
            self.close()
            raise AssertionError(f"exporter did not start: {err}\n{self.describe()}") from None

    def _listening_address(self) -> str:
        for line in self.stderr_text().splitlines():
            if "msg=listening" in line:
                match = re.search(r'\baddress="?([^\s"]+)"?', line)
                if match:
                    return match.group(1)
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"exited with {self.proc.returncode} before listening")
        return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stderr_text(self) -> str:
        try:
            with open(self.stderr_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def describe(self) -> str:
        """Command line, exit status and stderr, for failure messages."""
        status: str = "running"
        if self.proc is not None and self.proc.poll() is not None:
            status = f"exit {self.proc.returncode}"
        tail: str = self.stderr_text()[-6000:]
        return f"$ {' '.join(self.argv())}\n[{status}] stderr:\n{tail}"

    def get(self, path: str, *, headers: Optional[dict[str, str]] = None,
            timeout: float = 5.0) -> HttpResponse:
        return http_get(self.address, path, netns=self.netns, headers=headers, timeout=timeout)

    def scrape_text(self, *, accept_gzip: bool = False) -> str:
        headers: dict[str, str] = {"Accept-Encoding": "gzip"} if accept_gzip else {}
        try:
            resp = self.get("/metrics", headers=headers)
        except OSError as err:
            raise AssertionError(f"scrape failed: {err}\n{self.describe()}") from None
        if resp.status != 200:
            raise AssertionError(f"/metrics answered {resp.status}\n{self.describe()}")
        body: bytes = resp.body
        if resp.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        return body.decode("utf-8")

    def metrics(self) -> Metrics:
        return parse_metrics(self.scrape_text())

    def wait_for(self, check: Callable[[Metrics], bool], timeout: float, *,
                 interval: float = 0.05, message: str = "metrics condition") -> Metrics:
        """Scrape until `check(scrape)` is true; returns that scrape. On timeout the failure
        carries the exporter's stderr."""

        def attempt() -> Optional[Metrics]:
            m = self.metrics()
            return m if check(m) else None

        try:
            return wait_until(attempt, timeout, interval=interval, message=message)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{self.describe()}") from None

    def threads(self) -> int:
        """Threads of the exporter process (/proc/PID/status)."""
        with open(f"/proc/{self.pid}/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        raise AssertionError("no Threads: line")

    def wait_rounds(self, target: str, rounds: int, timeout: float, **labels: str) -> Metrics:
        """Scrape until every series of `target` (further narrowed by `labels`) has shown
        `rounds` distinct ping_last_round_timestamp_seconds values; returns the last scrape."""
        seen: dict[frozenset, set[float]] = {}

        def enough() -> Optional[Metrics]:
            m = self.metrics()
            stamps = m.select("ping_last_round_timestamp_seconds", target=target, **labels)
            if not stamps:
                return None
            for lab, ts in stamps:
                if ts > 0:
                    seen.setdefault(frozenset(lab.items()), set()).add(ts)
            done = all(len(seen.get(frozenset(lab.items()), ())) >= rounds for lab, _ in stamps)
            return m if done else None

        return wait_until(enough, timeout, message=f"{rounds} rounds of {target}")

    def stop(self, timeout_s: float = 1.0) -> int:
        """SIGTERM and wait; fails if the exporter needs more than `timeout_s` to exit.
        Returns the exit status."""
        proc = self.proc
        if proc is None:
            return int(self.exit_code or 0)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
                self.exit_code = proc.returncode
                self.proc = None
                raise AssertionError(f"exporter ignored SIGTERM for {timeout_s} s (killed)\n"
                                     f"{self.stderr_text()[-3000:]}") from None
        self.exit_code = proc.returncode
        self.proc = None
        return int(self.exit_code)

    def close(self) -> None:
        """Stop without asserting (cleanup path) and remove the work dir."""
        proc = self.proc
        if proc is not None:
            terminate(proc)
            self.exit_code = proc.returncode
        self.proc = None
        if self._own_dir and os.environ.get("PE_KEEP_TMP") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)


def run_cli(args: Sequence[str], *, netns: Optional[NetNs] = None, timeout: float = 30.0,
            as_nobody: bool = False) -> subprocess.CompletedProcess:
    """Run the exporter binary to completion (e.g. `probe`, `--config.check`, `--version`)."""
    argv: list[str] = [require_binary(), *args]
    if as_nobody:
        argv = ["setpriv", f"--reuid={_NOBODY}", f"--regid={_NOBODY}", "--clear-groups", *argv]
    if netns is not None:
        argv = netns.cmd(argv)
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as err:  # run() has killed it; keep the message short
        shown: str = " ".join(argv[:12]) + (f" ... ({len(argv)} args)" if len(argv) > 12 else "")
        stderr: str = (err.stderr or b"").decode(errors="replace") if isinstance(
            err.stderr, bytes) else (err.stderr or "")
        raise AssertionError(f"{shown} did not finish in {timeout} s; stderr:\n"
                             f"{stderr[-3000:]}") from None


@contextlib.contextmanager
def temp_dir() -> Iterator[str]:
    """A world-readable temp dir, removed afterwards."""
    path: str = tempfile.mkdtemp(prefix="pe-test-")
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
