{{/*
The alert and recording rules, from .Values.prometheusRule.rules and .availability.
config/alerts.yml and config/alerts-slo.yml are these templates rendered with the default
values (tests/ecosystem/rules_render.py writes them, a test keeps them equal), so rules for
plain Prometheus and for the Prometheus Operator come from one source.
Both defines give a list of rule groups; text between backquotes is Prometheus's own
template syntax, passed through as it is.
*/}}
{{- define "ping-exporter.rules" -}}
{{- $r := .Values.prometheusRule.rules -}}
{{- $w := $r.rateWindow -}}
{{- $mean := printf "target:ping_rtt_seconds:mean%s" $w -}}
{{- /* The mesh group's series are left to the mesh rules: a dead node pages once. */ -}}
{{- $notMesh := printf "group!=%q" .Values.mesh.group -}}
- name: ping_exporter.recording
  interval: {{ $r.recordingInterval }}
  rules:
    # Mean RTT of the replies that came back within the window, from the histogram. A number
    # for any target that answered at all, however lossy; absent for one that did not. The
    # classic histogram's _sum/_count, or the native histogram where Prometheus stores that
    # instead (--enable-feature=native-histograms scrapes protobuf and keeps no _sum/_count).
    - record: {{ $mean }}
      expr: |
        rate(ping_rtt_seconds_sum{ {{- $notMesh -}} }[{{ $w }}])
          / (rate(ping_rtt_seconds_count{ {{- $notMesh -}} }[{{ $w }}]) > 0)
        or
        histogram_sum(rate(ping_rtt_seconds{ {{- $notMesh -}} }[{{ $w }}]))
          / (histogram_count(rate(ping_rtt_seconds{ {{- $notMesh -}} }[{{ $w }}])) > 0)
- name: ping_exporter.targets
  rules:
    - alert: PingHostDown
      # ping_up is 0 after a round with no valid reply; "for" asks for a run of such rounds so
      # one lost round does not page. A name that does not resolve (address "") is left to
      # PingExporterResolveErrors. The mesh group is left to PingMeshNodeDown.
      expr: ping_up{address!="",{{ $notMesh }}} == 0
      for: {{ $r.hostDown.for }}
      labels:
        severity: {{ $r.hostDown.severity }}
      annotations:
        summary: {{`"{{ $labels.target }} does not answer pings"`}}
        description: >-
          No echo reply from {{`{{ $labels.target }}`}} (address {{`{{ $labels.address }}`}},
          job {{`{{ $labels.job }}`}}) in any round for more than {{ $r.hostDown.for }}.
    - alert: PingPacketLoss
      # From the packet counters, so every round counts whatever the scrape interval. A host
      # down for all of PingHostDown's "for" is left to PingHostDown: a dead host pages once.
      expr: |
        (
          1 - rate(ping_packets_received_total{ {{- $notMesh -}} }[{{ $w }}])
                / rate(ping_packets_sent_total{ {{- $notMesh -}} }[{{ $w }}])
            > {{ $r.packetLoss.threshold }}
        )
        unless
        max_over_time(ping_up[{{ $r.hostDown.for }}]) == 0
      for: {{ $r.packetLoss.for }}
      labels:
        severity: {{ $r.packetLoss.severity }}
      annotations:
        summary: {{`"{{ $labels.target }} loses {{ $value | humanizePercentage }} of pings"`}}
        description: >-
          {{`{{ $labels.target }}`}} (address {{`{{ $labels.address }}`}}) has lost more than
          {{`{{`}} {{ $r.packetLoss.threshold }} {{`| humanizePercentage }}`}} of its echo
          requests over {{ $w }}, for {{ $r.packetLoss.for }}.
    - alert: PingHighLatency
      # Well above its own usual: the mean RTT of the replies is more than `factor` times its
      # median over the baseline window, and above an absolute floor so sub-millisecond LAN
      # jitter does not page. Lost packets do not hide it: only replies are averaged.
      expr: |
        {{ $mean }}
          > {{ $r.highLatency.factor }} * quantile_over_time(0.5, {{ $mean }}[{{ $r.highLatency.baseline }}])
        and
        {{ $mean }} > {{ $r.highLatency.floorSeconds }}
      for: {{ $r.highLatency.for }}
      labels:
        severity: {{ $r.highLatency.severity }}
      annotations:
        summary: {{`"{{ $labels.target }} round-trip time is {{ $value | humanizeDuration }}"`}}
        description: >-
          The mean RTT over {{ $w }} to {{`{{ $labels.target }}`}} (address
          {{`{{ $labels.address }}`}}) is more than {{ $r.highLatency.factor }} times its median
          of the last {{ $r.highLatency.baseline }} and above
          {{`{{`}} {{ $r.highLatency.floorSeconds }} {{`| humanizeDuration }}`}}, for
          {{ $r.highLatency.for }}.
- name: ping_exporter.exporter
  rules:
    - alert: PingExporterDown
      expr: up{job=~".*ping.*"} == 0 or absent(up{job=~".*ping.*"})
      for: {{ $r.exporterDown.for }}
      labels:
        severity: {{ $r.exporterDown.severity }}
      annotations:
        summary: {{`"ping_exporter {{ $labels.instance }} cannot be scraped"`}}
        description: >-
          Prometheus has not scraped ping_exporter (job {{`{{ $labels.job }}`}}, instance
          {{`{{ $labels.instance }}`}}) for {{ $r.exporterDown.for }}, or no such job exists: no
          ping results are being collected.
    - alert: PingExporterConfigReloadFailed
      expr: ping_exporter_config_last_reload_successful == 0
      for: {{ $r.configReloadFailed.for }}
      labels:
        severity: {{ $r.configReloadFailed.severity }}
      annotations:
        summary: {{`"ping_exporter {{ $labels.instance }} failed to reload its config"`}}
        description: >-
          The last configuration reload of {{`{{ $labels.instance }}`}} failed; it keeps probing
          with the previous configuration. Run ping_exporter --config.check on the file.
    - alert: PingExporterTargetFileFailing
      # The file's last good content stays in use, so nothing else shows it.
      expr: ping_exporter_target_file_ok == 0
      for: {{ $r.targetFileFailing.for }}
      labels:
        severity: {{ $r.targetFileFailing.severity }}
      annotations:
        summary: {{`"ping_exporter {{ $labels.instance }} cannot use target file {{ $labels.path }}"`}}
        description: >-
          The target file {{`{{ $labels.path }}`}} ({{`{{ $labels.file }}`}}) of
          {{`{{ $labels.instance }}`}} has been unreadable or invalid for
          {{ $r.targetFileFailing.for }}; its last good content is still probed. The status page
          and the log say why.
    - alert: PingExporterResolveErrors
      # One alert per exporter, not per name: a DNS outage fails every name at once. The window
      # must be longer than the targets' resolve_interval.
      expr: count by (job, instance) (increase(ping_resolve_errors_total[{{ $r.resolveErrors.window }}]) > 0)
      for: {{ $r.resolveErrors.for }}
      labels:
        severity: {{ $r.resolveErrors.severity }}
      annotations:
        summary: {{`"ping_exporter {{ $labels.instance }} cannot resolve {{ $value }} target names"`}}
        description: >-
          {{`{{ $value }}`}} host names of {{`{{ $labels.instance }}`}} failed to resolve within
          {{ $r.resolveErrors.window }}, for {{ $r.resolveErrors.for }}: those targets are not
          probed at their current address. ping_resolve_errors_total names them.
    - alert: PingExporterRoundsStale
      # The age of the newest round at the last scrape, so an exporter that cannot be scraped
      # is left to PingExporterDown instead of paging once per target.
      expr: |
        count by (job, instance) (
          timestamp(ping_last_round_timestamp_seconds) - ping_last_round_timestamp_seconds
            > {{ $r.roundsStale.maxAgeSeconds }}
        )
      for: {{ $r.roundsStale.for }}
      labels:
        severity: {{ $r.roundsStale.severity }}
      annotations:
        summary: {{`"ping_exporter {{ $labels.instance }}: no recent round for {{ $value }} targets"`}}
        description: >-
          {{`{{ $value }}`}} targets of {{`{{ $labels.instance }}`}} completed no round in the
          last {{`{{`}} {{ $r.roundsStale.maxAgeSeconds }} {{`| humanizeDuration }}`}}, for
          {{ $r.roundsStale.for }}: their probes are stuck (or the clocks of Prometheus and the
          exporter disagree).
    - alert: PingExporterRoundsLate
      expr: rate(ping_exporter_rounds_late_total[{{ $w }}]) > 0
      for: {{ $r.roundsLate.for }}
      labels:
        severity: {{ $r.roundsLate.severity }}
      annotations:
        summary: {{`"ping_exporter {{ $labels.instance }} starts rounds late"`}}
        description: >-
          {{`{{ $labels.instance }}`}} has started {{`{{ printf "%.3f" $value }}`}} rounds per
          second later than scheduled for {{ $r.roundsLate.for }}: it is overloaded (too many
          targets per worker, or too short intervals). Add workers or shards.
{{- end }}

{{/*
Multi-window, multi-burn-rate alerts on availability (echo replies received over requests
sent) against an objective, as in the Google SRE workbook ("Alerting on SLOs").
*/}}
{{- define "ping-exporter.availabilityRules" -}}
{{- $a := .Values.prometheusRule.availability -}}
{{- $r := .Values.prometheusRule.rules -}}
{{- $notMesh := printf "group!=%q" .Values.mesh.group -}}
{{- $windows := list -}}
{{- range $speed := list $a.page $a.ticket }}
{{- range $speed.windows }}
{{- $windows = append (append $windows .long) .short -}}
{{- end }}
{{- end -}}
- name: ping_exporter.availability.recording
  interval: {{ $r.recordingInterval }}
  rules:
    {{- range $windows | uniq }}
    - record: target:ping_loss_ratio:rate{{ . }}
      expr: |
        1 - rate(ping_packets_received_total{ {{- $notMesh -}} }[{{ . }}])
              / rate(ping_packets_sent_total{ {{- $notMesh -}} }[{{ . }}])
    {{- end }}
- name: ping_exporter.availability
  rules:
    {{- range $name, $speed := dict "PingAvailabilityBudgetBurnFast" $a.page "PingAvailabilityBudgetBurnSlow" $a.ticket }}
    - alert: {{ $name }}
      # Both windows of a pair burn the error budget faster than `factor` times the rate that
      # would spend it exactly; a dead host is left to PingHostDown.
      expr: |
        (
          {{- range $i, $pair := $speed.windows }}
          {{- if $i }}
          or
          {{- end }}
          (
            target:ping_loss_ratio:rate{{ $pair.long }} > {{ $pair.factor }} * (1 - {{ $a.objective }})
            and
            target:ping_loss_ratio:rate{{ $pair.short }} > {{ $pair.factor }} * (1 - {{ $a.objective }})
          )
          {{- end }}
        )
        unless
        max_over_time(ping_up[{{ $r.hostDown.for }}]) == 0
      for: {{ $speed.for }}
      labels:
        severity: {{ $speed.severity }}
      annotations:
        summary: >-
          {{`{{ $labels.target }} burns its error budget ({{ $value | humanizePercentage }} loss)`}}
        description: >-
          {{`{{ $labels.target }}`}} (address {{`{{ $labels.address }}`}}) loses echo replies
          fast enough to spend the error budget of a {{ $a.objective }} availability objective
          early ({{ range $i, $pair := $speed.windows }}{{ if $i }}, or {{ end }}{{ $pair.factor }}x over {{ $pair.long }} and {{ $pair.short }}{{ end }}),
          for {{ $speed.for }}.
    {{- end }}
{{- end }}

{{/*
Mesh mode (mode: mesh): every agent pings every other one and labels its series with
`source` = its node; a destination is a peer address, named by the node whose agent Prometheus
scrapes at that address (the `instance` of its own series). A node is down when most of its
peers lose it; a link is bad when one pair loses while both its ends are seen by most others.
*/}}
{{- define "ping-exporter.meshRules" -}}
{{- $m := .Values.prometheusRule.mesh -}}
{{- $w := $m.rateWindow -}}
{{- $sel := printf "group=%q" .Values.mesh.group -}}
{{- $loss := printf "1 - sum by (source, address) (rate(ping_packets_received_total{%s}[%s]))\n  / sum by (source, address) (rate(ping_packets_sent_total{%s}[%s]) > 0)" $sel $w $sel $w -}}
{{- /* RTT from the classic histogram, or from the native one where Prometheus stores that. */ -}}
{{- $rtt := printf "sum by (source, address) (rate(ping_rtt_seconds_sum{%s}[%s]))\n  / sum by (source, address) (rate(ping_rtt_seconds_count{%s}[%s]) > 0)\nor\nsum by (source, address) (histogram_sum(rate(ping_rtt_seconds{%s}[%s])))\n  / sum by (source, address) (\n      histogram_count(rate(ping_rtt_seconds{%s}[%s])) > 0\n    )" $sel $w $sel $w $sel $w $sel $w -}}
- name: ping_exporter.mesh.recording
  interval: {{ $m.recordingInterval }}
  rules:
    # Each agent's own address: where Prometheus scrapes it, which is where its peers ping it
    # (pod or node IP).
    - record: source:ping_mesh_agent_address:scraped
      expr: |
        max by (source, address) (
          label_replace(
            group by (source, instance) (ping_packets_sent_total{ {{- $sel -}} }),
            "address", "$1", "instance", "\\[?([^\\]]*?)\\]?:[0-9]+"
          )
        )
    # Names destinations by their node: remembered for {{ $m.agentMemory }} after the agent was
    # last scraped, so a node that dies whole (agent included) keeps its name; one node per
    # address.
    - record: source:ping_mesh_agent_address:info
      expr: |
        source:ping_mesh_agent_address:scraped
        or on (address)
        topk by (address) (
          1, max_over_time(source:ping_mesh_agent_address:scraped[{{ $m.agentMemory }}])
        )
    {{- range $record, $expr := dict "source_destination:ping_mesh_loss_ratio:rate" $loss "source_destination:ping_mesh_rtt_seconds:mean" $rtt }}
    # Per source -> destination over {{ $w }}; `destination` is the peer's node, or its address
    # while no agent is scraped there.
    - record: {{ $record }}
      expr: |
        (
          {{- $expr | nindent 10 }}
        ) * on (address) group_left (destination)
          label_replace(
            source:ping_mesh_agent_address:info, "destination", "$1", "source", "(.*)"
          )
        or on (source, address)
        label_replace(
          {{- $expr | nindent 10 }},
          "destination", "$1", "address", "(.*)"
        )
    {{- end }}
    # How many peers measure each destination, how many lose more than {{ $m.lossThreshold }} of
    # the echoes to it, and the share of those.
    - record: destination:ping_mesh_peers:count
      expr: count by (address, destination) (source_destination:ping_mesh_loss_ratio:rate)
    - record: destination:ping_mesh_peers_losing:count
      expr: |
        sum by (address, destination) (
          source_destination:ping_mesh_loss_ratio:rate > bool {{ $m.lossThreshold }}
        )
    - record: destination:ping_mesh_peers_losing:ratio
      expr: destination:ping_mesh_peers_losing:count / destination:ping_mesh_peers:count
- name: ping_exporter.mesh
  rules:
    - alert: PingMeshNodeDown
      # Most peers lose it: the node (or its agent's network) is down, not one path to it.
      expr: |
        destination:ping_mesh_peers_losing:ratio > {{ $m.nodeDown.peerRatio }}
        and on (address, destination)
        destination:ping_mesh_peers:count >= {{ $m.nodeDown.minPeers }}
      for: {{ $m.nodeDown.for }}
      labels:
        severity: {{ $m.nodeDown.severity }}
      annotations:
        summary: >-
          {{`node {{ $labels.destination }} is unreachable from {{ $value | humanizePercentage }}
          of its peers`}}
        description: >-
          More than {{`{{`}} {{ $m.nodeDown.peerRatio }} {{`| humanizePercentage }}`}} of the mesh
          agents pinging {{`{{ $labels.destination }}`}} (address {{`{{ $labels.address }}`}}) lose
          more than {{`{{`}} {{ $m.lossThreshold }} {{`| humanizePercentage }}`}} of their echo
          requests over {{ $w }}, for {{ $m.nodeDown.for }}. Its links are left to this alert.
    - alert: PingMeshLinkBad
      # One pair loses while both of its ends are seen by most other peers: the path between
      # the two is broken, not a node.
      expr: |
        source_destination:ping_mesh_loss_ratio:rate > {{ $m.lossThreshold }}
        and on (address)
          destination:ping_mesh_peers_losing:ratio <= {{ $m.nodeDown.peerRatio }}
        and on (source)
          label_replace(
            destination:ping_mesh_peers_losing:ratio <= {{ $m.nodeDown.peerRatio }},
            "source", "$1", "destination", "(.*)"
          )
      for: {{ $m.linkBad.for }}
      labels:
        severity: {{ $m.linkBad.severity }}
      annotations:
        summary: >-
          {{`link {{ $labels.source }} -> {{ $labels.destination }} loses
          {{ $value | humanizePercentage }} of pings`}}
        description: >-
          {{`{{ $labels.source }}`}} loses {{`{{ $value | humanizePercentage }}`}} of its echo
          requests to {{`{{ $labels.destination }}`}} (address {{`{{ $labels.address }}`}}) over
          {{ $w }}, while most other peers reach both nodes, for {{ $m.linkBad.for }}.
{{- end }}
