"""The offline renderer itself: the Helm behaviour the chart relies on, on a small chart made
here, so a renderer bug cannot hide behind the real chart's checks."""

from __future__ import annotations

import pathlib
import subprocess

import pytest
import yaml

TEMPLATES: dict[str, str] = {
    "_helpers.tpl": '{{- define "t.labels" -}}\napp: {{ .Chart.Name }}\n'
                    'release: {{ .Release.Name }}\n{{- end }}\n',
    "a.yaml": """kind: A
name: {{ .Release.Name }}-{{ .Chart.Name }}
namespace: {{ .Release.Namespace }}
appVersion: {{ .Chart.AppVersion | quote }}
template: {{ .Template.Name }}
labels:
  {{- include "t.labels" . | nindent 2 }}
merged:
  {{- toYaml .Values.nested | nindent 2 }}
list: {{ toJson .Values.list }}
typed: {{ printf "%T %T %T" .Values.n .Values.b .Values.s }}
tpl: {{ tpl .Values.greeting . }}
file: {{ .Files.Get "files/data.txt" | trim | quote }}
missing: "{{ .Values.nosuch }}"
hasMonitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}
kubeMinor: {{ .Capabilities.KubeVersion.Minor | quote }}
parsed: {{ (fromYaml "x: 3").x }}
""",
    "b.yaml": "{{- if .Values.enableB }}\nkind: B\n{{- end }}\n",
    "c.yaml": "kind: C\nneed: {{ required \"need.value is required\" .Values.need.value }}\n",
}
VALUES = """nested:
  keep: 1
  replace: old
  drop: gone
list: [1, 2]
n: 1
b: false
s: text
greeting: "hello {{ .Release.Name }}"
enableB: false
need:
  value: here
"""


@pytest.fixture
def chart(tmp_path: pathlib.Path) -> pathlib.Path:
    root = tmp_path / "chart"
    (root / "templates").mkdir(parents=True)
    (root / "files").mkdir()
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 1.2.3\n"
                                     "appVersion: \"4.5\"\n")
    (root / "values.yaml").write_text(VALUES)
    (root / "files" / "data.txt").write_text("from a file\n")
    for name, text in TEMPLATES.items():
        (root / "templates" / name).write_text(text)
    return root


def run(helmrender: str, chart: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([helmrender, *args, str(chart)], capture_output=True, text=True,
                          timeout=60)


def test_renders_like_helm_template(helmrender: str, chart: pathlib.Path,
                                    tmp_path: pathlib.Path) -> None:
    override = tmp_path / "override.yaml"
    override.write_text("nested:\n  replace: new\n  added: [x]\n")
    proc = run(helmrender, chart, "--name", "rel", "--namespace", "ns", "-f", str(override),
               "--set", "nested.drop=null,list[3]=7,n=2,b=true", "--set-string", "s=5",
               "--api-versions", "monitoring.coreos.com/v1", "--kube-version", "1.27.4")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("---\n# Source: demo/templates/a.yaml\n")
    objects = list(yaml.safe_load_all(proc.stdout))
    assert [o["kind"] for o in objects] == ["A", "C"]  # b.yaml renders empty; partials never
    a = objects[0]
    assert a["name"] == "rel-demo" and a["namespace"] == "ns"
    assert a["appVersion"] == "4.5"
    assert a["template"] == "demo/templates/a.yaml"
    assert a["labels"] == {"app": "demo", "release": "rel"}
    # values.yaml, then -f (deep merge), then --set (null deletes).
    assert a["merged"] == {"keep": 1, "replace": "new", "added": ["x"]}
    assert a["list"] == [1, 2, None, 7]
    assert a["typed"] == "int64 bool string"
    assert a["tpl"] == "hello rel"
    assert a["file"] == "from a file"
    assert a["missing"] == ""
    assert a["hasMonitoring"] is True
    assert a["kubeMinor"] == "27"
    assert a["parsed"] == 3


def test_capabilities_default_lacks_crds(helmrender: str, chart: pathlib.Path) -> None:
    proc = run(helmrender, chart)
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load_all(proc.stdout).__next__()["hasMonitoring"] is False


def test_required_fails_with_its_message(helmrender: str, chart: pathlib.Path) -> None:
    proc = run(helmrender, chart, "--set", "need.value=null")
    assert proc.returncode == 1
    assert "need.value is required" in proc.stderr


def test_bad_arguments(helmrender: str, chart: pathlib.Path) -> None:
    assert run(helmrender, chart, "--set", "novalue").returncode != 0
    assert subprocess.run([helmrender], capture_output=True, timeout=30).returncode == 2
