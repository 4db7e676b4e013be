"""Reads the status page ("/") the way its tests look at it: the target rows and their graphs,
and the problems section."""

from __future__ import annotations

import html.parser


class PageParser(html.parser.HTMLParser):
    """Collects rows (class "target ...") with their cell texts and the <svg>s inside them, and
    the problems: rows of each problem table by its id, and whether "No problems" is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict] = []
        self._row: dict | None = None
        self._cell: list[str] | None = None
        self.svgs: int = 0
        self.scripts: int = 0
        self.problems: dict[str, list[list[str]]] = {}
        self.more: dict[str, int] = {}
        self.no_problems: bool = False
        self._table: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and (a.get("id") or "").startswith("problem-"):
            self._table = a["id"]
            self.problems[self._table] = []
        elif tag == "tr" and self._table is not None and a.get("class") == "problem":
            self._row = {"cells": []}
            self.problems[self._table].append(self._row["cells"])
        elif tag == "tr" and self._table is not None and a.get("class") == "more":
            self.more[self._table] = self.more.get(self._table, 0) + 1
        elif tag == "p" and a.get("id") == "no-problems":
            self.no_problems = True
        elif tag == "tr" and (a.get("class") or "").startswith("target "):
            self._row = {"state": a["class"].split()[1], "cells": [], "svgs": 0, "loss": 0,
                         "rtt": 0}
            self.rows.append(self._row)
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "svg":
            self.svgs += 1
            if self._row is not None:
                self._row["svgs"] += 1
        elif tag == "path" and self._row is not None:
            if a.get("class") in ("loss", "rtt"):
                self._row[a["class"]] += 1
        elif tag in ("script", "link", "img", "iframe"):
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_page(text: str) -> PageParser:
    """The page's rows and problems, from its HTML (as served or as a browser's DOM dump)."""
    parser = PageParser()
    parser.feed(text)
    parser.close()
    return parser
