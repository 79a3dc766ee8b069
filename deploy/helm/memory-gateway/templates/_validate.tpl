{{/*
Refusals at render time, for values that would install something that
cannot work. Included once, by the serve Deployment, which every release has.
*/}}
{{- define "memory-gateway.validate" -}}
{{- if hasKey .Values.env "SHUTDOWN_TIMEOUT" -}}
{{- fail "set shutdown.timeoutSeconds, not env.SHUTDOWN_TIMEOUT: the pods' grace period is derived from it" -}}
{{- end -}}
{{- end -}}
