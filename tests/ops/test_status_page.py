"""The status page "/" in a real browser: headless Chromium renders it from an exporter running
in its own namespace (so one loopback target can be made dead and one lossy), the DOM must hold
one row and one <svg> graph per target, and the screenshot must show something. Its problems
section lists a broken target file, a refused reload and a name that does not resolve, and
says "No problems" once they are fixed."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from typing import Iterator

import pytest

from lib.exporter import Exporter, http_get, wait_until
from lib.netns import NetNs, require_netns_support
from lib.status_page import parse_page
from ops_helpers import loopback_config

TARGETS: list[str] = ["127.0.0.1", "::1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
DEAD: str = "127.0.0.4"
LOSSY: str = "127.0.0.3"
CHROMIUM_FLAGS: list[str] = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture
def status_exporter() -> Iterator[tuple[NetNs, Exporter]]:
    require_netns_support()
    with NetNs("pe-ops-") as ns:
        with ns.drop_echo([DEAD]), ns.lossy_echo([LOSSY], 50):
            with Exporter(loopback_config(TARGETS), netns=ns,
                          extra_args=["--status.sample-interval=1s"]) as exp:
                yield ns, exp


def chromium(ns: NetNs, args: list[str], workdir: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary is not None
    argv = ns.cmd([binary, *CHROMIUM_FLAGS, f"--user-data-dir={workdir}/profile", *args])
    return subprocess.run(argv, capture_output=True, timeout=60, check=False,
                          env={**os.environ, "HOME": workdir})


@pytest.mark.slow
@pytest.mark.time_limit(150)
def test_status_page_in_headless_chromium(status_exporter: tuple[NetNs, Exporter]) -> None:
    if shutil.which("chromium") is None:
        pytest.skip("chromium not installed")
    ns, exp = status_exporter

    # A few closed graph points first: every live target shows an RTT line and the dead one
    # loss bars (one point a second with the hidden test flag).
    def graphs_ready() -> bool:
        page = parse_page(exp.get("/").text)
        by_name = {r["cells"][0]: r for r in page.rows}
        live_ok = all(by_name[t]["rtt"] == 1 for t in TARGETS if t != DEAD)
        return live_ok and by_name[DEAD]["loss"] == 1 and by_name[DEAD]["state"] == "no_response"

    wait_until(graphs_ready, 20, interval=0.2, message="RTT lines and loss bars on the page")

    raw = parse_page(exp.get("/").text)
    assert raw.scripts == 0, "no scripts or external assets"
    with tempfile.TemporaryDirectory(prefix="pe-chromium-") as work:
        dom = chromium(ns, ["--dump-dom", f"http://{exp.address}/"], work)
        assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
        page = parse_page(dom.stdout.decode("utf-8"))
        # One row and one graph per target, as the browser built the DOM.
        assert len(page.rows) == len(TARGETS), page.rows
        assert sorted(r["cells"][0] for r in page.rows) == sorted(TARGETS)
        assert page.svgs == len(TARGETS)
        assert all(r["svgs"] == 1 for r in page.rows)
        states = {r["cells"][0]: r["state"] for r in page.rows}
        assert states[DEAD] == "no_response"
        assert states["127.0.0.1"] == "alive" and states["::1"] == "alive"
        dead_row = next(r for r in page.rows if r["cells"][0] == DEAD)
        assert dead_row["cells"][5] == "100%"  # loss column
        assert re.fullmatch(r"\d+s ago", dead_row["cells"][3]), dead_row["cells"]  # since
        # A dead and a lossy host are the targets' business, not the exporter's problems.
        assert page.no_problems and page.problems == {}, page.problems

        shot = os.path.join(work, "out.png")
        res = chromium(ns, [f"--screenshot={shot}", "--window-size=1200,800",
                            f"http://{exp.address}/"], work)
        assert res.returncode == 0, res.stderr.decode(errors="replace")[-2000:]
        assert os.path.getsize(shot) > 5 * 1024
        with open(shot, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        keep = os.environ.get("PE_STATUS_SCREENSHOT")
        if keep:
            shutil.copyfile(shot, keep)


def test_status_page_answers_get_only() -> None:
    with Exporter(loopback_config(["localhost"]), extra_args=["--status.sample-interval=1s"]) as exp:
        resp = exp.get("/")
        assert resp.status == 200
        assert resp.headers["content-type"].startswith("text/html")
        page = parse_page(resp.text)
        assert [r["cells"][0] for r in page.rows] == ["localhost"]
        head = http_get(exp.address, "/", method="HEAD")
        assert head.status == 200 and head.body == b""
        for method in ("POST", "PUT", "DELETE"):
            resp = http_get(exp.address, "/", method=method)
            assert resp.status == 405, method
            assert resp.headers.get("allow") == "GET, HEAD"
        assert exp.get("/nope").status == 404


@pytest.mark.slow
@pytest.mark.time_limit(120)
def test_status_page_lists_problems_until_they_are_fixed(tmp_path) -> None:
    if shutil.which("chromium") is None:
        pytest.skip("chromium not installed")
    require_netns_support()
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.0.2\n127.0.0.3\n")
    os.chmod(tmp_path, 0o755)
    config = loopback_config(["127.0.0.1", "nothing.invalid"])
    config["target_files"] = [{"name": "edge", "path": str(hosts)}]
    with NetNs("pe-ops-") as ns, Exporter(config, netns=ns) as exp:
        # Broken at run time (replaced whole, as editors do), and a reload refused.
        (tmp_path / "new.txt").write_text("127.0.0.2\nnot <a> host\n")
        os.replace(tmp_path / "new.txt", hosts)
        with open(exp.config_path, "a", encoding="utf-8") as f:
            f.write("interval = \n")
        exp.proc.send_signal(signal.SIGHUP)

        def all_listed() -> bool:
            page = parse_page(exp.get("/").text)
            return all(page.problems.get(t) for t in ("problem-files", "problem-reload",
                                                      "problem-names"))

        wait_until(all_listed, 15, interval=0.2, message="three kinds of problem on the page")
        with tempfile.TemporaryDirectory(prefix="pe-chromium-") as work:
            dom = chromium(ns, ["--dump-dom", f"http://{exp.address}/"], work)
        assert dom.returncode == 0, dom.stderr.decode(errors="replace")[-2000:]
        page = parse_page(dom.stdout.decode("utf-8"))
        assert not page.no_problems
        [file_row] = page.problems["problem-files"]
        assert file_row[0] == "edge"
        # Where, what and the offending text (as text: the browser made no <a> of it).
        assert f"{hosts}:2:1: " in file_row[1] and "not <a> host" in file_row[1], file_row
        assert re.fullmatch(r"\d+s ago", file_row[2]) and file_row[3] == "2", file_row
        [reload_row] = page.problems["problem-reload"]
        assert re.fullmatch(r"\d+s ago", reload_row[0]), reload_row
        assert reload_row[1].startswith(f"{exp.config_path}:"), reload_row
        [name_row] = page.problems["problem-names"]
        assert name_row[0] == "nothing.invalid" and name_row[1], name_row
        assert re.fullmatch(r"\d+s ago", name_row[2]), name_row
        assert sorted(r["cells"][0] for r in page.rows) == \
            ["127.0.0.1", "127.0.0.2", "127.0.0.3", "nothing.invalid"]

        # Fixed: a good file, a good config without the name, reloaded.
        hosts.write_text("127.0.0.2\n")
        exp.write_config(loopback_config(["127.0.0.1"]) | {"target_files": config["target_files"]})
        exp.proc.send_signal(signal.SIGHUP)
        page = wait_until(lambda: (p := parse_page(exp.get("/").text)).no_problems and p, 10,
                          interval=0.2, message="No problems after the fixes")
        assert page.problems == {}, page.problems
        assert sorted(r["cells"][0] for r in page.rows) == ["127.0.0.1", "127.0.0.2"]
