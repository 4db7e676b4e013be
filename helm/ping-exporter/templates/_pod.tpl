{{/* The pod template shared by the Deployment, DaemonSet and StatefulSet. */}}
{{- define "ping-exporter.podTemplate" -}}
{{- $kind := include "ping-exporter.kind" . }}
{{- $mesh := eq .Values.mode "mesh" }}
{{- if not (or .Values.icmp.netRaw .Values.icmp.pingGroupRange.enabled) }}
{{- fail "ping-exporter: set icmp.netRaw or icmp.pingGroupRange.enabled, or the exporter cannot open ICMP sockets" }}
{{- end -}}
metadata:
  labels:
    {{- include "ping-exporter.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "ping-exporter.configToml" . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "ping-exporter.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if and .Values.hostNetwork (eq $kind "DaemonSet") }}
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- with .Values.podSecurityContext }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- if .Values.icmp.pingGroupRange.enabled }}
    sysctls:
      - name: net.ipv4.ping_group_range
        value: {{ .Values.icmp.pingGroupRange.range | quote }}
    {{- end }}
  containers:
    - name: ping-exporter
      image: "{{ required "image.repository is required" .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}"
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      {{- if eq $kind "StatefulSet" }}
      # The shard index is the ordinal at the end of the pod name (name-0,
      # name-1, ...); a shell wrapper turns it into --shard=INDEX/COUNT.
      command:
        - /bin/sh
        - -c
        - exec {{ include "ping-exporter.binary" . }} --shard="${POD_NAME##*-}/{{ int .Values.replicas }}" "$@"
        - ping_exporter
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
      {{- end }}
      {{- if $mesh }}
      # The agent's identity: the node it runs on (the downward API).
      env:
        - name: NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
      {{- end }}
      args:
        - --config.file=/etc/ping-exporter/config.toml
        {{- if $mesh }}
        - --source.name=$(NODE_NAME)
        {{- else if .Values.sourceName }}
        - --source.name={{ .Values.sourceName }}
        {{- else }}
        # No source label: the default, the pod name, changes at every rollout.
        - --source.name
        - ""
        {{- end }}
        - --web.listen-address=:{{ int .Values.web.port }}
        - --web.telemetry-path={{ .Values.web.telemetryPath }}
        {{- if .Values.web.maxConnections }}
        - --web.max-connections={{ int .Values.web.maxConnections }}
        {{- else if $mesh }}
        - --web.max-connections=64
        {{- end }}
        - --log.level={{ .Values.log.level }}
        - --log.format={{ .Values.log.format }}
        - --icmp.socket={{ .Values.icmp.socket }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      ports:
        - name: http
          containerPort: {{ int .Values.web.port }}
          protocol: TCP
      livenessProbe:
        httpGet:
          path: /-/healthy
          port: http
        {{- toYaml .Values.livenessProbe | nindent 8 }}
      readinessProbe:
        httpGet:
          path: /-/ready
          port: http
        {{- toYaml .Values.readinessProbe | nindent 8 }}
      securityContext:
        runAsNonRoot: true
        readOnlyRootFilesystem: true
        # The image grants NET_RAW to the binary as a file capability, which
        # the kernel ignores under no_new_privs (allowPrivilegeEscalation: false).
        allowPrivilegeEscalation: {{ .Values.icmp.netRaw }}
        capabilities:
          drop: ["ALL"]
          {{- if .Values.icmp.netRaw }}
          add: ["NET_RAW"]
          {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/ping-exporter
          readOnly: true
  volumes:
    - name: config
      configMap:
        name: {{ include "ping-exporter.fullname" . }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with concat (ternary .Values.mesh.tolerations list $mesh) .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
