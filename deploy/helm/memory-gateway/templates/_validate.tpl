{{/*
Refusals at render time, for values that would install something that
cannot work. Included once, by the serve Deployment, which every release has.
*/}}
{{- define "memory-gateway.validate" -}}
{{- if not (or .Values.worker.enabled .Values.serve.runWorker) -}}
{{- fail "nothing would run the worker, so the outbox would never drain and no webhook would be sent: set worker.enabled=true (a worker Deployment) or serve.runWorker=true (the API pods run it)" -}}
{{- end -}}
{{- if hasKey .Values.env "LIMITS_SCOPE" -}}
{{- fail "set limits.scope, not env.LIMITS_SCOPE" -}}
{{- end -}}
{{- if hasKey .Values.env "SHUTDOWN_TIMEOUT" -}}
{{- fail "set shutdown.timeoutSeconds, not env.SHUTDOWN_TIMEOUT: the pods' grace period is derived from it" -}}
{{- end -}}
{{- end -}}
