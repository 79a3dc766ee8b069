{{- define "memory-gateway.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "memory-gateway.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "memory-gateway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "memory-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "memory-gateway.selector" -}}
app.kubernetes.io/name: {{ include "memory-gateway.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Marks the Services that expose a metrics port, which the ServiceMonitor selects. */}}
{{- define "memory-gateway.metricsLabel" -}}
memory-gateway/metrics: "true"
{{- end -}}

{{- define "memory-gateway.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "memory-gateway.secretName" -}}
{{- if .Values.secrets.existingSecret -}}
{{ .Values.secrets.existingSecret }}
{{- else -}}
{{ include "memory-gateway.fullname" . }}
{{- end -}}
{{- end -}}

{{/* Environment shared by serve, worker and migrate: secrets as files, policies as files, plain settings. */}}
{{- define "memory-gateway.env" -}}
- name: DATABASE_URL_FILE
  value: /etc/memory-gateway/secrets/database-url
- name: API_KEYS_FILE
  value: /etc/memory-gateway/secrets/api-keys.json
{{- if .Values.secrets.openvikingApiKey }}
- name: OPENVIKING_API_KEY_FILE
  value: /etc/memory-gateway/secrets/openviking-api-key
{{- end }}
{{- if .Values.secrets.evermemosApiKey }}
- name: EVERMEMOS_API_KEY_FILE
  value: /etc/memory-gateway/secrets/evermemos-api-key
{{- end }}
{{- if .Values.secrets.backendIdKey }}
- name: BACKEND_ID_KEY_FILE
  value: /etc/memory-gateway/secrets/backend-id-key
{{- end }}
{{- if .Values.policies.feedbackAutoAccept }}
- name: FEEDBACK_AUTO_ACCEPT_FILE
  value: /etc/memory-gateway/policies/feedback-auto-accept.json
{{- end }}
{{- if .Values.policies.retention }}
- name: RETENTION_POLICY_FILE
  value: /etc/memory-gateway/policies/retention.json
{{- end }}
- name: LOG_FORMAT
  value: json
- name: LIMITS_SCOPE
  value: {{ .Values.limits.scope | quote }}
- name: SHUTDOWN_TIMEOUT
  value: "{{ .Values.shutdown.timeoutSeconds }}s"
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}

{{- define "memory-gateway.volumeMounts" -}}
- name: secrets
  mountPath: /etc/memory-gateway/secrets
  readOnly: true
{{- if or .Values.policies.feedbackAutoAccept .Values.policies.retention }}
- name: policies
  mountPath: /etc/memory-gateway/policies
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "memory-gateway.volumes" -}}
- name: secrets
  secret:
    secretName: {{ include "memory-gateway.secretName" . }}
{{- if or .Values.policies.feedbackAutoAccept .Values.policies.retention }}
- name: policies
  configMap:
    name: {{ include "memory-gateway.fullname" . }}-policies
{{- end }}
- name: tmp
  emptyDir: {}
{{- end -}}

{{/*
The migration, as the first container of every serve and worker pod: it
reads the chart's Secret, an ordinary resource, which no pre-install hook
could (hooks run before ordinary resources exist). It has no probes, so a
long migration is not cut short the way the serve container's startup probe
would cut it; concurrent pods wait for each other on the migration lock, and
a failing migration keeps the new pods from starting while the old ones
serve. Arguments: root (the chart context) and resources.
*/}}
{{- define "memory-gateway.migrateInitContainers" -}}
{{- if .root.Values.migration.enabled -}}
initContainers:
  - name: migrate
    image: {{ include "memory-gateway.image" .root }}
    imagePullPolicy: {{ .root.Values.image.pullPolicy }}
    args: ["migrate"]
    env:
      {{- include "memory-gateway.env" .root | nindent 6 }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      {{- toYaml .root.Values.securityContext | nindent 6 }}
    volumeMounts:
      {{- include "memory-gateway.volumeMounts" .root | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* Seconds after a pod's stop signal that the process's own shutdown may take, beyond SHUTDOWN_TIMEOUT: closing the database and flushing logs. */}}
{{- define "memory-gateway.shutdownMarginSeconds" -}}10{{- end -}}

{{/*
terminationGracePeriodSeconds of a pod: its preStop sleep (preStop, 0 for
none), then SHUTDOWN_TIMEOUT, then a margin; Kubernetes kills the pod only
after all of it. Arguments: root and preStop.
*/}}
{{- define "memory-gateway.terminationGracePeriodSeconds" -}}
{{- add .preStop .root.Values.shutdown.timeoutSeconds (include "memory-gateway.shutdownMarginSeconds" .root) -}}
{{- end -}}
