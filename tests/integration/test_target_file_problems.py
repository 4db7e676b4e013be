"""A target file that breaks at run time is logged once per change and listed on the status
page. Here the exporter runs as nobody and the file becomes one it cannot read: reported as
unreadable, with nothing of it quoted, however often it is read again."""

from __future__ import annotations

import os
import pathlib

from lib.exporter import Exporter, temp_dir, wait_until
from lib.netns import NetNs
from lib.status_page import parse_page

BAD = "target file unusable"


def _replace(path: pathlib.Path, text: str, mode: int) -> None:
    """Writes `path` whole with `mode`, the way editors do (a new file renamed over it)."""
    new = path.with_suffix(".new")
    new.write_text(text)
    os.chmod(new, mode)
    os.replace(new, path)


def test_unreadable_target_file_is_logged_once_without_a_quote(exporter_bin: str,
                                                               netns: NetNs) -> None:
    netns.sysctl("net.ipv4.ping_group_range", "0 2147483647")  # datagram ICMP for nobody
    with temp_dir() as d:  # a directory nobody may enter
        _check_unreadable_file(pathlib.Path(d) / "hosts.txt", netns)


def _check_unreadable_file(hosts: pathlib.Path, netns: NetNs) -> None:
    _replace(hosts, "127.0.0.2\n", 0o644)
    config = {"targets": [{"hosts": ["127.0.0.1"]}],
              "target_files": [{"name": "edge", "path": str(hosts)}]}
    with Exporter(config, netns=netns, as_nobody=True) as exp:
        # Root's secret now: nobody cannot read it. Replaced twice, read twice, logged once.
        _replace(hosts, "127.0.0.3 # secret\n", 0o600)
        wait_until(lambda: BAD in exp.stderr_text(), 10, message="the unreadable file logged")
        _replace(hosts, "127.0.0.4 # secret\n", 0o600)
        page = wait_until(lambda: parse_page(exp.get("/").text).problems.get("problem-files"),
                          10, message="the file on the status page")
        [row] = page
        assert row[0] == "edge" and "Permission denied" in row[1], row
        assert row[3] == "1", row  # its last good host is still probed

        _replace(hosts, "127.0.0.5\n", 0o644)
        wait_until(lambda: "target file usable again" in exp.stderr_text(), 10,
                   message="the file usable again")
        assert parse_page(exp.get("/").text).no_problems
        log = exp.stderr_text()
        assert exp.stop() == 0

    [bad] = [line for line in log.splitlines() if BAD in line]
    assert f'error="{hosts}: cannot read: Permission denied"' in bad, bad
    assert "secret" not in log and "text=" not in bad, bad
    assert sum("target file usable again" in line for line in log.splitlines()) == 1, log
