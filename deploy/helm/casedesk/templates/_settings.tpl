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
With sealPersonalData, new attachments and its records of a citizen are sealed with his data key
from the key service (its address, index key and cache come with topology `calls`, `keyClient`
and `indexKey`). Off: no variable of it, intake's default (off).
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
{{- if .svc.sealPersonalData }}
- name: CASEDESK_SEAL_PERSONAL_DATA
  value: "true"
{{- end }}
{{- end -}}

{{/* case: the event store is in _env.tpl (database.*); optionally encrypted at rest; how often
the outbox relay and the case index step under load; citizens' personal data sealed with the key
service's keys (sealPersonalData; its address, index key and cache come with topology `calls`,
`keyClient` and `indexKey`). Off: no variable of it, the service's default (off). */}}
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
{{- if .svc.sealPersonalData }}
- name: CASEDESK_SEAL_PERSONAL_DATA
  value: "true"
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

{{/* notify: offsets, case cards, deliveries and journal outbox in one SQLite file; the notice
policy (the reply window, the per-recipient limit) and the SMTP end-of-data timeout, explicit with
notify's own defaults. Integers go through int64: a number from a values file is a float to the
template, and a large one would print as 1e+06, which an int setting refuses. Its gateways,
social connectors and, with services.keys.enabled, the key service it opens sealed fields with
(topology `calls`, `keyClient`) are in _env.tpl. */}}
{{- define "casedesk.settings.notify" -}}
- name: CASEDESK_STORE_PATH
  value: /var/lib/casedesk/notify.sqlite3
- name: CASEDESK_PORTAL_BASE_URL
  value: {{ .svc.portalBaseUrl | quote }}
- name: CASEDESK_DEADLINE_POLICY_VERSION
  value: {{ .root.Values.deadlines.policyVersion | quote }}
- name: CASEDESK_AUTO_CLOSE_AFTER
  value: {{ .root.Values.deadlines.autoCloseAfter | quote }}
- name: CASEDESK_REPLY_MERGE_WINDOW_S
  value: {{ .svc.replyMergeWindowSeconds | quote }}
- name: CASEDESK_RECIPIENT_LIMIT
  value: {{ int64 .svc.recipientLimit | quote }}
- name: CASEDESK_RECIPIENT_WINDOW_S
  value: {{ .svc.recipientWindowSeconds | quote }}
- name: CASEDESK_RECIPIENT_HOLD_MAX
  value: {{ int64 .svc.recipientHoldMax | quote }}
{{- if .root.Values.smtp.host }}
- name: CASEDESK_SMTP_DATA_TIMEOUT_S
  value: {{ .svc.smtpDataTimeoutSeconds | quote }}
{{- end }}
{{- end -}}

{{/* The social networks that are on (social.<network>.existingSecret set), as a JSON list;
context: root. */}}
{{- define "casedesk.socialNetworks" -}}
{{- $on := list -}}
{{- range $network := list "telegram" "vk" -}}
{{- if (index $.Values.social $network).existingSecret -}}
{{- $on = append $on $network -}}
{{- end -}}
{{- end -}}
{{- toJson $on -}}
{{- end -}}

{{/* "true" while at least one social network is on; context: root. */}}
{{- define "casedesk.socialOn" -}}
{{- if include "casedesk.socialNetworks" . | fromJsonArray }}true{{ end -}}
{{- end -}}

{{/* Where a network's token file is mounted (a directory holding only the token's key); context:
the network's name. */}}
{{- define "casedesk.socialTokenDir" -}}/etc/casedesk/social/{{ . }}{{- end -}}

{{/* Where intake's frontends file comes from: "secret", "configMap" or empty. */}}
{{- define "casedesk.frontendsSource" -}}
{{- with .svc.frontends -}}
{{- if .existingSecret }}secret{{ else if .existingConfigMap }}configMap{{ end -}}
{{- end -}}
{{- end -}}
