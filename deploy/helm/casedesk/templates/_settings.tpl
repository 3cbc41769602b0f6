{{/*
Each service's own settings, as its settings.py and README name them: where its local state lives
in the data volume (/var/lib/casedesk), and the values only it reads. Everything common (gRPC,
logs, Kafka, telemetry, the event store, the gateways) is in _env.tpl.
Context: same as casedesk.service.
*/}}

{{/* Mounted under /etc/casedesk/files when deadlines.calendarOverrides is set (sla). */}}
{{- define "casedesk.calendarOverridesFile" -}}calendar-overrides.toml{{- end -}}

{{/* Files the chart adds to a service's `files` ConfigMap, as a JSON object (keeps the content
byte for byte). */}}
{{- define "casedesk.generatedFiles" -}}
{{- $files := dict -}}
{{- $overrides := .root.Values.deadlines.calendarOverrides -}}
{{- if and .topology.calendar $overrides -}}
{{- $_ := set $files (include "casedesk.calendarOverridesFile" .) $overrides -}}
{{- end -}}
{{- toJson $files -}}
{{- end -}}

{{/*
intake: idempotency records (SQLite in the data volume unless databaseUrl names PostgreSQL),
encrypted attachments and the citizens' wrapped data keys (always in the data volume), the master
key that wraps them, the frontends allowed to call it, and the staff roles that may act for
citizens. Its token verification (identity.*) and code senders (smtp, sms) are in _env.tpl.
*/}}
{{- define "casedesk.settings.intake" -}}
- name: CASEDESK_DATA_DIR
  value: /var/lib/casedesk
- name: CASEDESK_ATTACHMENTS_DIR
  value: /var/lib/casedesk/attachments
- name: CASEDESK_DEADLINE_POLICY_VERSION
  value: {{ .root.Values.deadlines.policyVersion | quote }}
{{- if .svc.databaseUrl.existingSecret }}
{{ include "casedesk.secretVariable" (dict "name" "CASEDESK_DATABASE_URL" "ref" .svc.databaseUrl) }}
{{- end }}
{{- if .svc.masterKey.existingSecret }}
{{ include "casedesk.secretVariable" (dict "name" "CASEDESK_MASTER_KEY" "ref" .svc.masterKey) }}
{{- end }}
{{- with .svc.frontends.entries }}
{{- /* Token hashes only: a leaked hash does not let anyone call intake. */}}
- name: CASEDESK_FRONTENDS
  value: {{ toJson . | quote }}
{{- end }}
{{- if include "casedesk.frontendsSource" . }}
- name: CASEDESK_FRONTENDS_FILE
  value: {{ printf "/etc/casedesk/frontends/%s" .svc.frontends.key | quote }}
{{- end }}
- name: CASEDESK_OPERATOR_ROLES
  value: {{ toJson .svc.operatorRoles | quote }}
{{- end -}}

{{/* case: the event store is in _env.tpl (database.*); optionally encrypted at rest; how often
the outbox relay and the case index step under load. */}}
{{- define "casedesk.settings.case" -}}
- name: CASEDESK_RELAY_PACE_S
  value: {{ .svc.relayPaceSeconds | quote }}
- name: CASEDESK_INDEX_PACE_S
  value: {{ .svc.indexPaceSeconds | quote }}
- name: CASEDESK_AUTO_CLOSE_AFTER
  value: {{ .root.Values.deadlines.autoCloseAfter | quote }}
{{- if .svc.eventCipher.existingSecret }}
- name: CIPHER_TOPIC
  value: "eventsourcing.cipher:AESCipher"
{{ include "casedesk.secretVariable" (dict "name" "CIPHER_KEY" "ref" .svc.eventCipher) }}
{{- end }}
{{- end -}}

{{/* sla: clocks, offsets and outbox in one SQLite file; the policy new clocks start under. */}}
{{- define "casedesk.settings.sla" -}}
- name: CASEDESK_SLA_DB_PATH
  value: /var/lib/casedesk/sla.sqlite3
- name: CASEDESK_SLA_POLICY_VERSION
  value: {{ .root.Values.deadlines.policyVersion | quote }}
{{- if .root.Values.deadlines.calendarOverrides }}
- name: CASEDESK_SLA_CALENDAR_OVERRIDES
  value: {{ printf "/etc/casedesk/files/%s" (include "casedesk.calendarOverridesFile" .) | quote }}
{{- end }}
{{- end -}}

{{/* escalation: its store follows database.backend (topology); nothing else of its own. */}}
{{- define "casedesk.settings.escalation" -}}
{{- end -}}

{{/* notify: offsets, case cards, deliveries and journal outbox in one SQLite file. */}}
{{- define "casedesk.settings.notify" -}}
- name: CASEDESK_STORE_PATH
  value: /var/lib/casedesk/notify.sqlite3
- name: CASEDESK_PORTAL_BASE_URL
  value: {{ .svc.portalBaseUrl | quote }}
- name: CASEDESK_DEADLINE_POLICY_VERSION
  value: {{ .root.Values.deadlines.policyVersion | quote }}
- name: CASEDESK_AUTO_CLOSE_AFTER
  value: {{ .root.Values.deadlines.autoCloseAfter | quote }}
{{- end -}}

{{/* Where intake's frontends file comes from: "secret", "configMap" or empty. */}}
{{- define "casedesk.frontendsSource" -}}
{{- with .svc.frontends -}}
{{- if .existingSecret }}secret{{ else if .existingConfigMap }}configMap{{ end -}}
{{- end -}}
{{- end -}}
