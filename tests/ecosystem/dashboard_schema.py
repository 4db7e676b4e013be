"""A small JSON-schema-like validator, and the schema of what Grafana needs from a dashboard.

Schemas are dicts: {"type": "object"|"array"|"string"|"integer"|"number"|"boolean"|"null" or a
list of those, "required": [...], "properties": {...}, "items": schema, "enum": [...],
"const": value, "pattern": regex, "minimum": n, "maximum": n, "minItems": n, "minLength": n}.
`validate` returns a list of "path: problem" strings (empty when valid). On top of the schema,
`dashboard_problems` checks what a schema cannot say: unique panel ids and refIds, panels that
overlap on the 24-column grid, variables used but not defined, datasource references.
"""

from __future__ import annotations

import re
from typing import Any, Iterator

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "boolean": (bool,),
    "integer": (int,), "number": (int, float), "null": (type(None),),
}


def _is_type(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False  # bool is an int subclass in Python, never a JSON number
    return isinstance(value, _TYPES[name])


def validate(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way `value` breaks `schema`, as "path: problem" strings."""
    problems: list[str] = []
    wanted = schema.get("type")
    if wanted is not None:
        names = wanted if isinstance(wanted, list) else [wanted]
        if not any(_is_type(value, n) for n in names):
            return [f"{path}: expected {'|'.join(names)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: expected {schema['const']!r}, got {value!r}")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            problems.append(f"{path}: {value!r} does not match /{schema['pattern']}/")
        if len(value) < schema.get("minLength", 0):
            problems.append(f"{path}: shorter than {schema['minLength']}")
    if _is_type(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: {value} > maximum {schema['maximum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                problems.append(f"{path}: missing required {key!r}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                problems += validate(value[key], sub, f"{path}.{key}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            problems.append(f"{path}: fewer than {schema['minItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                problems += validate(item, schema["items"], f"{path}[{i}]")
    return problems


# The datasource every query goes through: the `datasource` template variable.
DATASOURCE_REF: dict[str, Any] = {
    "type": "object", "required": ["type", "uid"],
    "properties": {"type": {"const": "prometheus"}, "uid": {"const": "${datasource}"}},
}

GRID_POS: dict[str, Any] = {
    "type": "object", "required": ["x", "y", "w", "h"],
    "properties": {
        "x": {"type": "integer", "minimum": 0, "maximum": 23},
        "y": {"type": "integer", "minimum": 0},
        "w": {"type": "integer", "minimum": 1, "maximum": 24},
        "h": {"type": "integer", "minimum": 1, "maximum": 100},
    },
}

QUERY_TARGET: dict[str, Any] = {
    "type": "object", "required": ["refId", "expr", "datasource"],
    "properties": {
        "refId": {"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_-]*$"},
        "expr": {"type": "string", "minLength": 1},
        "legendFormat": {"type": "string"},
        "datasource": DATASOURCE_REF,
        "instant": {"type": "boolean"},
        "range": {"type": "boolean"},
        "format": {"enum": ["time_series", "table", "heatmap"]},
        "interval": {"type": "string"},
    },
}

# Panel types this project uses that ship with Grafana 9/10 (no plugins needed).
PANEL_TYPES: list[str] = ["row", "stat", "timeseries", "state-timeline", "status-history",
                          "bargauge", "gauge", "table", "text", "heatmap"]

PANEL: dict[str, Any] = {
    "type": "object", "required": ["id", "type", "title", "gridPos"],
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "type": {"enum": PANEL_TYPES},
        "title": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "gridPos": GRID_POS,
        "datasource": DATASOURCE_REF,
        "targets": {"type": "array", "items": QUERY_TARGET},
        "fieldConfig": {
            "type": "object", "required": ["defaults", "overrides"],
            "properties": {"defaults": {"type": "object"},
                           "overrides": {"type": "array", "items": {
                               "type": "object", "required": ["matcher", "properties"]}}},
        },
        "options": {"type": "object"},
        "panels": {"type": "array"},
        "collapsed": {"type": "boolean"},
        "transformations": {"type": "array", "items": {"type": "object", "required": ["id"]}},
    },
}

VARIABLE: dict[str, Any] = {
    "type": "object", "required": ["name", "type"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
        "type": {"enum": ["datasource", "query", "custom", "constant", "interval", "textbox",
                          "adhoc"]},
        "label": {"type": "string"},
        "multi": {"type": "boolean"},
        "includeAll": {"type": "boolean"},
        "allValue": {"type": ["string", "null"]},
        "refresh": {"enum": [0, 1, 2]},
        "hide": {"enum": [0, 1, 2]},
    },
}

DASHBOARD: dict[str, Any] = {
    "type": "object",
    "required": ["title", "uid", "schemaVersion", "panels", "templating", "time", "tags",
                 "editable", "refresh", "annotations"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        # Grafana uids: at most 40 characters of [A-Za-z0-9_-].
        "uid": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,40}$"},
        "id": {"type": "null"},  # exported for import: Grafana assigns the id
        "schemaVersion": {"type": "integer", "minimum": 36, "maximum": 39},
        "version": {"type": "integer"},
        "editable": {"type": "boolean"},
        "graphTooltip": {"enum": [0, 1, 2]},
        "refresh": {"type": ["string", "boolean"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "time": {"type": "object", "required": ["from", "to"],
                 "properties": {"from": {"type": "string"}, "to": {"type": "string"}}},
        "timezone": {"type": "string"},
        "panels": {"type": "array", "minItems": 1, "items": PANEL},
        "templating": {"type": "object", "required": ["list"],
                       "properties": {"list": {"type": "array", "items": VARIABLE}}},
        "annotations": {"type": "object", "required": ["list"],
                        "properties": {"list": {"type": "array"}}},
        "links": {"type": "array", "items": {"type": "object", "required": ["title", "type"]}},
    },
}


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Top-level panels and those nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        for nested in panel.get("panels", []) or []:
            yield nested


# Built-in variables Grafana fills in itself.
BUILTIN_VARIABLES: frozenset[str] = frozenset({
    "__interval", "__interval_ms", "__rate_interval", "__range", "__range_s", "__range_ms",
    "__from", "__to", "__dashboard", "__org", "__user", "__name", "__url_time_range",
    "__field", "__series", "__value", "__data", "__all_variables", "timeFilter",
})
VARIABLE_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[.:][^}]*)?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
                         r"|\[\[([A-Za-z_][A-Za-z0-9_]*)(?::[^\]]*)?\]\]")


def variables_used(text: str) -> set[str]:
    return {next(g for g in m.groups() if g) for m in VARIABLE_RE.finditer(text)}


def variable_query(variable: dict[str, Any]) -> str:
    query = variable.get("query", "")
    return query.get("query", "") if isinstance(query, dict) else str(query)


def dashboard_problems(dashboard: dict[str, Any]) -> list[str]:
    """Schema problems plus the cross-field checks Grafana relies on."""
    problems = validate(dashboard, DASHBOARD)
    if problems:
        return problems
    variables = dashboard["templating"]["list"]
    names = [v["name"] for v in variables]
    if len(names) != len(set(names)):
        problems.append(f"templating: duplicate variable names {names}")
    by_name = {v["name"]: v for v in variables}
    ds = by_name.get("datasource")
    if ds is None or ds["type"] != "datasource" or ds.get("query") != "prometheus":
        problems.append("templating: needs variable 'datasource' of type datasource, "
                        "query prometheus")
    for name in ("job", "target"):
        var = by_name.get(name)
        if var is None or var["type"] != "query" or not variable_query(var).startswith(
                "label_values("):
            problems.append(f"templating: needs query variable {name!r} using label_values()")
        elif var.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            problems.append(f"templating.{name}: datasource must be ${{datasource}}")
    defined = set(names) | BUILTIN_VARIABLES
    for var in variables:
        for used in variables_used(variable_query(var)) - defined:
            problems.append(f"templating.{var['name']}: uses undefined variable ${used}")

    ids: dict[int, str] = {}
    cells: dict[tuple[int, int], str] = {}
    for panel in all_panels(dashboard):
        where = f"panel {panel['id']} {panel['title']!r}"
        if panel["id"] in ids:
            problems.append(f"{where}: id also used by {ids[panel['id']]}")
        ids[panel["id"]] = where
        grid = panel["gridPos"]
        if grid["x"] + grid["w"] > 24:
            problems.append(f"{where}: gridPos x+w = {grid['x'] + grid['w']} > 24")
        for x in range(grid["x"], min(grid["x"] + grid["w"], 24)):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                if (x, y) in cells:
                    problems.append(f"{where}: overlaps {cells[(x, y)]} at ({x},{y})")
                    break
                cells[(x, y)] = where
            else:
                continue
            break
        if panel["type"] == "row":
            continue
        if "datasource" not in panel:
            problems.append(f"{where}: no datasource")
        targets = panel.get("targets", [])
        if not targets and panel["type"] != "text":
            problems.append(f"{where}: no queries")
        ref_ids = [t["refId"] for t in targets]
        if len(ref_ids) != len(set(ref_ids)):
            problems.append(f"{where}: duplicate refIds {ref_ids}")
        for target in targets:
            for used in variables_used(target["expr"]) - defined:
                problems.append(f"{where} {target['refId']}: uses undefined variable ${used}")
    return problems
