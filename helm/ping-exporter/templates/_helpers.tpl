{{/* Chart name, overridable. */}}
{{- define "ping-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release-chart unless the release already contains it. */}}
{{- define "ping-exporter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ping-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "ping-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ping-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ping-exporter.labels" -}}
helm.sh/chart: {{ include "ping-exporter.chart" . }}
{{ include "ping-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ping-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ping-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The exporter binary inside the image. */}}
{{- define "ping-exporter.binary" -}}/usr/local/bin/ping_exporter{{- end }}

{{/*
One TOML value: strings, numbers and booleans as JSON literals (valid TOML),
lists of those as arrays, maps as inline tables.
*/}}
{{- define "ping-exporter.tomlValue" -}}
{{- if kindIs "map" . -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}
{{- $pairs = append $pairs (printf "%s = %s" (toJson $k) (include "ping-exporter.tomlValue" $v)) -}}
{{- end -}}
{{ printf "{ %s }" (join ", " $pairs) | replace "{  }" "{}" }}
{{- else if kindIs "invalid" . -}}
{{- fail "ping-exporter: null is not a TOML value" -}}
{{- else -}}
{{ toJson . }}
{{- end -}}
{{- end }}

{{/* The exporter's config file, rendered from .Values.config. */}}
{{- define "ping-exporter.configToml" -}}
{{- $c := .Values.config -}}
# Rendered by the ping-exporter Helm chart from .Values.config.
workers = {{ int $c.workers }}
{{- with $c.rtt_buckets }}
rtt_buckets = {{ toJson . }}
{{- end }}
group_label = {{ ne $c.group_label false }}
[defaults]
{{- range $k, $v := $c.defaults }}
{{ $k }} = {{ include "ping-exporter.tomlValue" $v }}
{{- end }}
{{- if not $c.targets }}
{{- fail "ping-exporter: config.targets needs at least one group" }}
{{- end }}
{{- range $i, $g := $c.targets }}
[[targets]]
{{- if not $g.hosts }}
{{- fail (printf "ping-exporter: config.targets[%d].hosts is empty" $i) }}
{{- end }}
{{- range $k, $v := $g }}
{{- if or (ne $k "labels") $v }}
{{ $k }} = {{ include "ping-exporter.tomlValue" $v }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
