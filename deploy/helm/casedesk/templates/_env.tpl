{{/*
Environment of a service container: casedesk_runtime settings (CASEDESK_*), eventsourcing's own
variables for the event store, the service's own settings (_settings.tpl), then the extra `env`
and `secretEnv` of its values. Credentials only ever come as secretKeyRef.
Context: same as casedesk.service; the desk's adds "managedEnv", the template of the variables
the chart derives for it (casedesk.desk.managedEnv) in place of casedesk.managedEnv.
*/}}
{{- define "casedesk.serviceEnv" -}}
{{- $managed := include (get . "managedEnv" | default "casedesk.managedEnv") . -}}
{{- $managedNames := list -}}
{{- range fromYamlArray $managed }}{{ $managedNames = append $managedNames .name }}{{ end -}}
{{- $owned := include "casedesk.ownedVariables" . | fromYaml -}}
{{ $managed }}
{{- range $name, $value := .svc.env }}
{{- include "casedesk.refuseManaged" (dict "field" (printf "services.%s.env.%s" $.name $name) "name" $name "service" $.name "owned" $owned "managed" $managedNames) }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- range $name, $ref := .svc.secretEnv }}
{{- include "casedesk.refuseManaged" (dict "field" (printf "services.%s.secretEnv.%s" $.name $name) "name" $name "service" $.name "owned" $owned "managed" $managedNames) }}
{{- if hasKey $.svc.env $name }}
{{- fail (printf "services.%s.secretEnv.%s is also set in services.%s.env: keep one" $.name $name $.name) }}
{{- end }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secret }}
      key: {{ $ref.key }}
{{- end }}
{{- end -}}

{{/* Fails when an extra variable would override one the chart sets; context: dict field, name,
service, owned (variable -> value path), managed (names rendered for this service, e.g. the
fixed CASEDESK_SERVICE_NAME and CASEDESK_GRPC_HOST). */}}
{{- define "casedesk.refuseManaged" -}}
{{- if hasKey .owned .name }}
{{- fail (printf "%s is set by the chart from %s: change that value instead" .field (replace "<name>" .service (index .owned .name))) }}
{{- end }}
{{- if has .name .managed }}
{{- fail (printf "%s is set by the chart: remove it" .field) }}
{{- end }}
{{- end -}}

{{/* The variables the chart derives from its values; same context as casedesk.serviceEnv. */}}
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
- name: CASEDESK_SHUTDOWN_GRACE_S
  value: {{ .svc.shutdownGraceSeconds | quote }}
- name: CASEDESK_METRICS_PORT
  value: {{ $values.monitoring.metricsPort | quote }}
{{- if hasKey .svc "workers" }}
- name: CASEDESK_WORKERS
  value: {{ .svc.workers | quote }}
{{- end }}
{{ include "casedesk.tlsEnv" . }}
{{- if .topology.kafka }}
{{ include "casedesk.kafkaEnv" (dict "root" .root "principal" .name) }}
{{- end }}
{{- if $values.telemetry.otlpEndpoint }}
{{ include "casedesk.otlpEnv" .root }}
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
{{- if .topology.keyClient }}
{{ include "casedesk.keys.clientEnv" . }}
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
{{- if and .topology.smtp $values.smtp.host }}
{{ include "casedesk.smtpEnv" .root }}
{{- end }}
{{- if and .topology.sms $values.sms.gatewayUrl }}
{{ include "casedesk.smsEnv" .root }}
{{- end }}
{{- if and .topology.social (include "casedesk.socialOn" .root) }}
{{ include "casedesk.socialEnv" .root }}
{{- end }}
{{- if .topology.staffTokens }}
{{ include "casedesk.oidcEnv" (dict "prefix" "CASEDESK_OIDC_" "kind" "staff" "provider" $values.identity.staff) }}
{{- end }}
{{- if .topology.citizenTokens }}
{{ include "casedesk.oidcEnv" (dict "prefix" "CASEDESK_CITIZEN_OIDC_" "kind" "citizens" "provider" $values.identity.citizens) }}
{{- end }}
{{- with include (printf "casedesk.settings.%s" .name) . }}
{{ . }}
{{- end }}
{{- end -}}

{{/* Export to the collector: TLS unless telemetry.insecure, checked against the configured CA
bundle (else the image's system CAs), with the service's own certificate when clientAuth. */}}
{{- define "casedesk.otlpEnv" -}}
{{- $telemetry := .Values.telemetry -}}
- name: CASEDESK_OTLP_ENDPOINT
  value: {{ $telemetry.otlpEndpoint | quote }}
{{- if include "casedesk.caSource" $telemetry }}
- name: CASEDESK_OTLP_CA_FILE
  value: {{ printf "%s/%s" (include "casedesk.otlpCaDir" .) $telemetry.caKey | quote }}
{{- end }}
{{- if $telemetry.clientAuth }}
- name: CASEDESK_OTLP_CLIENT_AUTH
  value: "true"
{{- end }}
{{- if $telemetry.insecure }}
- name: CASEDESK_OTLP_INSECURE
  value: "true"
{{- end }}
{{- end -}}

{{/* Verification of people's tokens (casedesk_runtime.oidc): one identity provider, its CA
bundle mounted at casedesk.oidcCaDir. Context: dict prefix, kind (staff or citizens), provider
(identity.<kind>). */}}
{{- define "casedesk.oidcEnv" -}}
{{- $provider := .provider -}}
- name: {{ .prefix }}ISSUER
  value: {{ $provider.issuer | quote }}
- name: {{ .prefix }}AUDIENCE
  value: {{ $provider.audience | quote }}
{{- with $provider.jwksUrl }}
- name: {{ $.prefix }}JWKS_URL
  value: {{ . | quote }}
{{- end }}
{{- if include "casedesk.caSource" $provider }}
- name: {{ .prefix }}CA_FILE
  value: {{ printf "%s/%s" (include "casedesk.oidcCaDir" .kind) $provider.caKey | quote }}
{{- end }}
- name: {{ .prefix }}LEEWAY_S
  value: {{ $provider.leewaySeconds | quote }}
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

{{/* notify's e-mail gateway; rendered only when smtp.host is set (no host: e-mail off). */}}
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

{{/* notify's SMS gateway; rendered only when sms.gatewayUrl is set (no URL: SMS off). */}}
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

{{/* notify's social connectors, rendered only while a network is on (social.<network>.existingSecret):
for each network on, the file its token is mounted at (casedesk.socialTokenDir; never the token
itself) and its API, then the limits every connector applies. Context: root. */}}
{{- define "casedesk.socialEnv" -}}
{{- $social := .Values.social -}}
{{- range $network := include "casedesk.socialNetworks" . | fromJsonArray }}
{{- $config := index $social $network }}
- name: {{ printf "CASEDESK_%s_TOKEN_FILE" (upper $network) }}
  value: {{ printf "%s/%s" (include "casedesk.socialTokenDir" $network) $config.tokenKey | quote }}
- name: {{ printf "CASEDESK_%s_API_URL" (upper $network) }}
  value: {{ $config.apiUrl | quote }}
{{- if hasKey $config "apiVersion" }}
- name: {{ printf "CASEDESK_%s_API_VERSION" (upper $network) }}
  value: {{ $config.apiVersion | quote }}
{{- end }}
{{- end }}
- name: CASEDESK_SOCIAL_TIMEOUT_S
  value: {{ $social.timeoutSeconds | quote }}
- name: CASEDESK_SOCIAL_MAX_IN_FLIGHT
  value: {{ int64 $social.maxInFlight | quote }}
- name: CASEDESK_SOCIAL_RATE_PER_S
  value: {{ $social.ratePerSecond | quote }}
- name: CASEDESK_SOCIAL_BURST
  value: {{ int64 $social.burst | quote }}
{{- end -}}

{{/* One variable from a key of an existing Secret; context: dict name, ref ({existingSecret, key}). */}}
{{- define "casedesk.secretVariable" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .ref.existingSecret }}
      key: {{ .ref.key }}
{{- end -}}
