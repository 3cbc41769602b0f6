{{/*
Environment of a service container: casedesk_runtime settings (CASEDESK_*), eventsourcing's own
variables for the event store, and credentials only as secretKeyRef.
Context: same as casedesk.service.
*/}}
{{- define "casedesk.serviceEnv" -}}
{{- $managed := include "casedesk.managedEnv" . -}}
{{- $managedNames := list -}}
{{- range fromYamlArray $managed }}{{ $managedNames = append $managedNames .name }}{{ end -}}
{{ $managed }}
{{- range $name, $value := .svc.env }}
{{- if has $name $managedNames }}
{{- fail (printf "services.%s.env.%s is set by the chart from its own values; change those instead" $.name $name) }}
{{- end }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range $name, $ref := .svc.secretEnv }}
{{- if or (has $name $managedNames) (hasKey $.svc.env $name) }}
{{- fail (printf "services.%s.secretEnv.%s is already set by the chart or by services.%s.env" $.name $name $.name) }}
{{- end }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secret }}
      key: {{ $ref.key }}
{{- end }}
{{- end -}}

{{/* The variables the chart derives from its values; same context. */}}
{{- define "casedesk.managedEnv" -}}
{{- $values := .root.Values -}}
- name: CASEDESK_SERVICE_NAME
  value: {{ .name | quote }}
- name: CASEDESK_GRPC_HOST
  value: "0.0.0.0"
- name: CASEDESK_GRPC_PORT
  value: {{ .svc.port | quote }}
- name: CASEDESK_LOG_LEVEL
  value: {{ .svc.logLevel | default $values.logLevel | quote }}
{{ include "casedesk.kafkaEnv" .root }}
{{- with $values.telemetry.otlpEndpoint }}
- name: CASEDESK_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=casedesk,service.version=%s,k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME)" (include "casedesk.imageTag" .) | quote }}
{{- range $callee, $variable := .topology.calls }}
- name: {{ $variable }}
  value: {{ include "casedesk.address" (dict "root" $.root "name" $callee) | quote }}
{{- end }}
{{- with .topology.database }}
{{- range $variable, $value := index . $values.database.backend }}
- name: {{ $variable }}
  value: {{ $value | quote }}
{{- end }}
{{- if eq $values.database.backend "postgres" }}
{{ include "casedesk.postgresEnv" $.root }}
{{- end }}
{{- end }}
{{- if .topology.smtp }}
{{ include "casedesk.smtpEnv" .root }}
{{- end }}
{{- if .topology.sms }}
{{ include "casedesk.smsEnv" .root }}
{{- end }}
{{- end -}}

{{/* eventsourcing's POSTGRES_* variables, also read by escalation's store. */}}
{{- define "casedesk.postgresEnv" -}}
{{- $pg := .Values.database.postgres -}}
- name: POSTGRES_HOST
  value: {{ $pg.host | quote }}
- name: POSTGRES_PORT
  value: {{ $pg.port | quote }}
- name: POSTGRES_DBNAME
  value: {{ $pg.dbname | quote }}
- name: POSTGRES_USER
{{- if $pg.usernameKey }}
  valueFrom:
    secretKeyRef:
      name: {{ $pg.existingSecret }}
      key: {{ $pg.usernameKey }}
{{- else }}
  value: {{ $pg.user | quote }}
{{- end }}
- name: POSTGRES_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $pg.existingSecret }}
      key: {{ $pg.passwordKey }}
{{- end -}}

{{- define "casedesk.smtpEnv" -}}
{{- $smtp := .Values.smtp -}}
- name: CASEDESK_SMTP_HOST
  value: {{ $smtp.host | quote }}
- name: CASEDESK_SMTP_PORT
  value: {{ $smtp.port | quote }}
- name: CASEDESK_SMTP_TLS
  value: {{ $smtp.tls | quote }}
{{- if $smtp.existingSecret }}
- name: CASEDESK_SMTP_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $smtp.existingSecret }}
      key: {{ $smtp.usernameKey }}
- name: CASEDESK_SMTP_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $smtp.existingSecret }}
      key: {{ $smtp.passwordKey }}
{{- end }}
{{- end -}}

{{- define "casedesk.smsEnv" -}}
{{- $sms := .Values.sms -}}
- name: CASEDESK_SMS_GATEWAY_URL
  value: {{ $sms.gatewayUrl | quote }}
{{- if $sms.existingSecret }}
- name: CASEDESK_SMS_GATEWAY_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $sms.existingSecret }}
      key: {{ $sms.tokenKey }}
{{- end }}
{{- end -}}
