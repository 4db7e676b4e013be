"""The PromQL of the Grafana dashboards as Grafana would send it: every panel query, with the
dashboard's variables substituted the way Grafana's Prometheus data source does. Shared by the
dashboard tests here and the e2e tests that run the queries against lossy and dead hosts."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any, Iterator

import dashboard_schema

DASHBOARD_DIR = pathlib.Path(__file__).resolve().parents[2] / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))

# What Grafana puts in for its built-in variables when the tests run the queries.
BUILTINS: dict[str, str] = {
    "__rate_interval": "30s", "__interval": "15s", "__interval_ms": "15000",
    "__range": "1m", "__range_s": "60", "__range_ms": "60000",
}


def load(path: pathlib.Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def queries(dash: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for panel in dashboard_schema.all_panels(dash):
        for target in panel.get("targets", []):
            yield f"{panel['title']} [{target['refId']}]", panel, target


def grafana_escape(value: str, variable: dict[str, Any]) -> str:
    """How Grafana's Prometheus data source interpolates one value into a query: regex-escaped
    (for use inside =~) when the variable is multi-value or has "All", else only quotes."""
    if variable.get("multi") or variable.get("includeAll"):
        value = value.replace("\\", "\\\\\\")
        return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), value)
    return value.replace("\\", "\\\\\\\\").replace("'", "\\\\'")


def substitute(text: str, values: dict[str, str]) -> str:
    def repl(match: re.Match) -> str:
        name = next(g for g in match.groups() if g)
        if name not in values:
            raise AssertionError(f"no test value for variable ${name} in {text!r}")
        return values[name]

    return dashboard_schema.VARIABLE_RE.sub(repl, text)


def variable_values(dash: dict[str, Any], choice: dict[str, str]) -> dict[str, str]:
    """Variable -> text to substitute. `choice` maps a variable to a concrete value, or to
    "$__all" for its All option."""
    values = dict(BUILTINS)
    for var in dash["templating"]["list"]:
        name = var["name"]
        if name == "datasource":
            values[name] = "prometheus"
            continue
        if var["type"] == "adhoc":
            continue  # Grafana adds ad hoc filters to every query itself; none are set here
        picked = choice[name]
        if picked == "$__all":
            assert var.get("includeAll"), f"{name} has no All option"
            values[name] = var.get("allValue") or ".*"
        else:
            values[name] = grafana_escape(picked, var)
    return values
