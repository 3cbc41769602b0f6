{{/*
Who talks to whom and where each service keeps its state: the architecture of DESIGN.md and of the
services' READMEs, not configuration.
  calls:       called service -> variable receiving its host:port (also a NetworkPolicy rule)
  kafka:       consumes or produces Kafka topics (intake does neither: its effects reach Kafka
               through the case service's outbox)
  database:    variables selecting the service's store for each database.backend; with postgres the
               POSTGRES_* variables are added and PostgreSQL becomes reachable
  localState:  keeps durable state in its data volume (/var/lib/casedesk) whatever the backend
  sharedState: may run several pods once they share that state (intake: PostgreSQL through
               services.intake.databaseUrl, one master key, a ReadWriteMany volume)
  singlePod:   why the service can never run more than one pod
  calendar:    reads the production-calendar overrides (deadlines.calendarOverrides)
  consumerGroup: the variable naming its Kafka consumer group and the service's default for it
               (its settings.py); the topics Job grants the service's principal that group
  smtp/sms:    the notification gateways (notify's messages, intake's one-time codes)
  social:      posts replies to the social networks that are on (social.*): their tokens mounted as
               files, the CASEDESK_TELEGRAM_*, CASEDESK_VK_* and CASEDESK_SOCIAL_* variables, egress
               networkPolicy.social
  notifications: must reach citizens by at least one of them (notify; intake's codes are optional)
  staffTokens: verifies specialists' tokens (identity.staff, CASEDESK_OIDC_*)
  citizenTokens: verifies citizens' portal tokens (identity.citizens, CASEDESK_CITIZEN_OIDC_*)
  keyStore:    the key service: its keys and erasure journal in PostgreSQL (services.keys.storeUrl)
               or, without it, in a SQLite file of its data volume (_keys.tpl)
  keyClient:   fetches citizens' data keys from the key service, always with
               `calls: {keys: CASEDESK_KEY_SERVICE_ADDRESS}`: its key cache's bounds
               (services.keys.clientCache: CASEDESK_KEYS_CACHE_TTL_S, _CACHE_MAX; _keys.tpl
               casedesk.keys.clientEnv). Every client of the key service's access table is wired
               here, and only while it uses it: no other service reaches the key service's port
  indexKey:    derives citizens' subjects to seal under (a sealing keyClient): the index key
               mounted from services.keys.indexKey (CASEDESK_KEYS_INDEX_KEY_FILE), the key
               service's own. A service that only opens tokens (notify: they name their subject)
               never gets it
Context: root. Who calls the key service: intake with services.intake.sealPersonalData and the
case service with services.case.sealPersonalData (they seal, and open what they sealed), notify
whenever services.keys.enabled (it opens what the case service sealed, to send it: one switch
fewer to forget, and a notify without the key service dead-letters every sealed event). Each
sealing switch needs services.keys.enabled (casedesk.validateKeys).
*/}}
{{- define "casedesk.topology" -}}
{{- $keys := .Values.services.keys.enabled }}
intake:
  calls:
    case: CASEDESK_CASE_ADDRESS
    {{- if .Values.services.intake.sealPersonalData }}
    keys: CASEDESK_KEY_SERVICE_ADDRESS
    {{- end }}
  {{- if .Values.services.intake.sealPersonalData }}
  keyClient: true
  indexKey: true
  {{- end }}
  localState: true
  sharedState: true
  smtp: true
  sms: true
  staffTokens: true
  citizenTokens: true
case:
  kafka: true
  consumerGroup: {variable: CASEDESK_CASE_TIMELINE_GROUP, default: casedesk-case-timeline}
  staffTokens: true
  {{- if .Values.services.case.sealPersonalData }}
  calls: {keys: CASEDESK_KEY_SERVICE_ADDRESS}
  keyClient: true
  indexKey: true
  {{- end }}
  database:
    sqlite: {PERSISTENCE_MODULE: eventsourcing.sqlite, SQLITE_DBNAME: /var/lib/casedesk/case.sqlite}
    postgres: {PERSISTENCE_MODULE: eventsourcing.postgres}
sla:
  kafka: true
  consumerGroup: {variable: CASEDESK_SLA_CONSUMER_GROUP, default: casedesk-sla}
  localState: true
  calendar: true
  singlePod: its consumer assigns itself every partition and keeps the clocks in one SQLite file
escalation:
  kafka: true
  consumerGroup: {variable: CASEDESK_ESCALATION_CONSUMER_GROUP, default: casedesk-escalation}
  calls: {case: CASEDESK_CASE_ADDRESS}
  database:
    sqlite:
      CASEDESK_ESCALATION_STORE: sqlite
      CASEDESK_ESCALATION_SQLITE_PATH: /var/lib/casedesk/escalation.sqlite
    postgres: {CASEDESK_ESCALATION_STORE: postgres}
notify:
  kafka: true
  consumerGroup: {variable: CASEDESK_CONSUMER_GROUP, default: notify}
  localState: true
  smtp: true
  sms: true
  social: true
  notifications: true
  singlePod: its delivery store is a SQLite file of one process (a shared store is not built)
  {{- if $keys }}
  calls: {keys: CASEDESK_KEY_SERVICE_ADDRESS}
  keyClient: true
  {{- end }}
keys:
  keyStore: true
  staffTokens: true
{{- end -}}

{{/*
Why a service must run a single pod under the current values; empty when it may scale out. Such a
service gets replicas <= 1, no autoscaling and a Recreate strategy, so that an upgrade never runs
two processes on one store. Context: same as casedesk.service.
*/}}
{{- define "casedesk.singlePodReason" -}}
{{- if .topology.singlePod -}}
{{ .topology.singlePod }}
{{- else if and .topology.database (eq .root.Values.database.backend "sqlite") -}}
database.backend=sqlite keeps its store in a SQLite file of one pod; set database.backend=postgres to run more
{{- else if .topology.sharedState -}}
{{- $missing := list -}}
{{- if not .svc.databaseUrl.existingSecret -}}
{{- $missing = append $missing (printf "services.%s.databaseUrl (idempotency records on PostgreSQL)" .name) -}}
{{- end -}}
{{- if not .svc.masterKey.existingSecret -}}
{{- $missing = append $missing (printf "services.%s.masterKey (one key for every pod)" .name) -}}
{{- end -}}
{{- if not (and .svc.persistence.enabled (eq .svc.persistence.accessMode "ReadWriteMany")) -}}
{{- $missing = append $missing (printf "services.%s.persistence with accessMode ReadWriteMany (attachments shared by every pod)" .name) -}}
{{- end -}}
{{- with $missing -}}
several pods must share its state; set {{ join ", " . }}
{{- end -}}
{{- else if and .topology.keyStore (not .svc.storeUrl.existingSecret) -}}
without services.{{ .name }}.storeUrl its keys and erasure journal are a SQLite file of one pod; set services.{{ .name }}.storeUrl (PostgreSQL, shared by every pod) to run more
{{- end -}}
{{- end -}}

{{/* "true" when the service keeps durable state in its data volume; context as above. */}}
{{- define "casedesk.hasLocalState" -}}
{{- $sqliteKeys := and .topology.keyStore (not .svc.storeUrl.existingSecret) -}}
{{- if or .topology.localState (and .topology.database (eq .root.Values.database.backend "sqlite")) $sqliteKeys -}}
true
{{- end -}}
{{- end -}}

{{/* "true" when the service's data volume is a claim: persistence on and durable state to keep in it.
A service keeping none (case and escalation on PostgreSQL) works in an emptyDir whatever
persistence.enabled says, so the default (on) costs a claim only where it saves data. Context as
above. */}}
{{- define "casedesk.persistent" -}}
{{- if and .svc.persistence.enabled (include "casedesk.hasLocalState" .) -}}
true
{{- end -}}
{{- end -}}

{{/* "true" when the service connects to PostgreSQL; context as above. */}}
{{- define "casedesk.reachesPostgres" -}}
{{- $eventStore := and .topology.database (eq .root.Values.database.backend "postgres") -}}
{{- $ownDatabase := and .topology.sharedState .svc.databaseUrl.existingSecret -}}
{{- $keyStore := and .topology.keyStore .svc.storeUrl.existingSecret -}}
{{- if or $eventStore $ownDatabase $keyStore -}}
true
{{- end -}}
{{- end -}}

{{/*
Variables the chart derives from dedicated values, whether or not it renders them for a given
service: `env` and `secretEnv` may not set them, so every setting has one place in the values.
*/}}
{{- define "casedesk.ownedVariables" -}}
CASEDESK_GRPC_PORT: services.<name>.port
CASEDESK_LOG_LEVEL: logLevel
CASEDESK_SHUTDOWN_GRACE_S: services.<name>.shutdownGraceSeconds
CASEDESK_CASE_ADDRESS: services.case.port
CASEDESK_KAFKA_BOOTSTRAP_SERVERS: kafka.bootstrapServers
CASEDESK_KAFKA_SECURITY_PROTOCOL: kafka.securityProtocol
CASEDESK_KAFKA_SASL_MECHANISM: kafka.sasl.mechanism
CASEDESK_KAFKA_SASL_USERNAME: kafka.sasl.credentials.<name>
CASEDESK_KAFKA_SASL_PASSWORD: kafka.sasl.credentials.<name>
CASEDESK_KAFKA_SSL_CAFILE: kafka.tls
CASEDESK_OTLP_ENDPOINT: telemetry.otlpEndpoint
CASEDESK_OTLP_CA_FILE: telemetry.caSecret or telemetry.caConfigMap
CASEDESK_OTLP_CLIENT_AUTH: telemetry.clientAuth
CASEDESK_OTLP_INSECURE: telemetry.insecure
CASEDESK_GRPC_HEALTH_PORT: healthPort
CASEDESK_METRICS_PORT: monitoring.metricsPort
CASEDESK_WORKERS: services.<name>.workers
CASEDESK_WORKER_INDEX: services.<name>.workers
CASEDESK_GRPC_INSECURE_DEV: tls.mode
CASEDESK_TLS_CERT_FILE: tls.mode
CASEDESK_TLS_KEY_FILE: tls.mode
CASEDESK_TLS_CA_FILE: tls.mode
CASEDESK_TLS_CLIENT_AUTH: tls.intakeClientAuth
PERSISTENCE_MODULE: database.backend
SQLITE_DBNAME: database.backend
CASEDESK_ESCALATION_STORE: database.backend
CASEDESK_ESCALATION_SQLITE_PATH: database.backend
POSTGRES_HOST: database.postgres
POSTGRES_PORT: database.postgres
POSTGRES_DBNAME: database.postgres
POSTGRES_USER: database.postgres
POSTGRES_PASSWORD: database.postgres
CIPHER_TOPIC: services.case.eventCipher
CIPHER_KEY: services.case.eventCipher
CASEDESK_RELAY_PACE_S: services.case.relayPaceSeconds
CASEDESK_INDEX_PACE_S: services.case.indexPaceSeconds
CASEDESK_DATA_DIR: services.intake.persistence
CASEDESK_ATTACHMENTS_DIR: services.intake.persistence
CASEDESK_DATABASE_URL: services.intake.databaseUrl
CASEDESK_MASTER_KEY: services.intake.masterKey
CASEDESK_FRONTENDS: services.intake.frontends
CASEDESK_FRONTENDS_FILE: services.intake.frontends
CASEDESK_DEADLINE_POLICY_VERSION: deadlines.policyVersion
CASEDESK_SLA_POLICY_VERSION: deadlines.policyVersion
CASEDESK_SLA_CALENDAR_OVERRIDES: deadlines.calendarOverrides
CASEDESK_SLA_DB_PATH: services.sla.persistence
CASEDESK_STORE_PATH: services.notify.persistence
CASEDESK_PORTAL_BASE_URL: services.notify.portalBaseUrl
CASEDESK_SMTP_HOST: smtp
CASEDESK_SMTP_PORT: smtp
CASEDESK_SMTP_TLS: smtp
CASEDESK_SMTP_USERNAME: smtp
CASEDESK_SMTP_PASSWORD: smtp
CASEDESK_SMS_GATEWAY_URL: sms
CASEDESK_SMS_GATEWAY_TOKEN: sms
CASEDESK_TELEGRAM_TOKEN_FILE: social.telegram
CASEDESK_TELEGRAM_API_URL: social.telegram.apiUrl
CASEDESK_VK_TOKEN_FILE: social.vk
CASEDESK_VK_API_URL: social.vk.apiUrl
CASEDESK_VK_API_VERSION: social.vk.apiVersion
CASEDESK_SOCIAL_TIMEOUT_S: social.timeoutSeconds
CASEDESK_SOCIAL_MAX_IN_FLIGHT: social.maxInFlight
CASEDESK_SOCIAL_RATE_PER_S: social.ratePerSecond
CASEDESK_SOCIAL_BURST: social.burst
CASEDESK_REPLY_MERGE_WINDOW_S: services.notify.replyMergeWindowSeconds
CASEDESK_RECIPIENT_LIMIT: services.notify.recipientLimit
CASEDESK_RECIPIENT_WINDOW_S: services.notify.recipientWindowSeconds
CASEDESK_RECIPIENT_HOLD_MAX: services.notify.recipientHoldMax
CASEDESK_SMTP_DATA_TIMEOUT_S: services.notify.smtpDataTimeoutSeconds
CASEDESK_AUTO_CLOSE_AFTER: deadlines.autoCloseAfter
CASEDESK_OIDC_ISSUER: identity.staff.issuer
CASEDESK_OIDC_AUDIENCE: identity.staff.audience
CASEDESK_OIDC_JWKS_URL: identity.staff.jwksUrl
CASEDESK_OIDC_CA_FILE: identity.staff.caSecret or identity.staff.caConfigMap
CASEDESK_OIDC_LEEWAY_S: identity.staff.leewaySeconds
CASEDESK_CITIZEN_OIDC_ISSUER: identity.citizens.issuer
CASEDESK_CITIZEN_OIDC_AUDIENCE: identity.citizens.audience
CASEDESK_CITIZEN_OIDC_JWKS_URL: identity.citizens.jwksUrl
CASEDESK_CITIZEN_OIDC_CA_FILE: identity.citizens.caSecret or identity.citizens.caConfigMap
CASEDESK_CITIZEN_OIDC_LEEWAY_S: identity.citizens.leewaySeconds
CASEDESK_OPERATOR_ROLES: services.intake.operatorRoles
CASEDESK_INTAKE_ADDRESS: services.intake.port
CASEDESK_DESK_HTTP_PORT: desk.port
CASEDESK_DESK_PUBLIC_URL: desk.publicUrl
CASEDESK_DESK_CLIENT_ID: desk.clientId
CASEDESK_DESK_SESSION_IDLE_S: desk.sessionIdleSeconds
CASEDESK_DESK_LIVE_CHECK_S: desk.liveCheckSeconds
CASEDESK_DESK_CANNED_REPLIES_FILE: desk.cannedReplies
CASEDESK_INTAKE_TIMEOUT_S: desk.intakeTimeoutSeconds
CASEDESK_KEYS_KEK_PROVIDER: services.keys.kek.provider
CASEDESK_KEYS_KEK_LABEL: services.keys.kek.label
CASEDESK_KEYS_KEK_DIR: services.keys.kek.existingSecret
CASEDESK_KEYS_PKCS11_MODULE: services.keys.kek.pkcs11.module
CASEDESK_KEYS_PKCS11_TOKEN_LABEL: services.keys.kek.pkcs11.tokenLabel
CASEDESK_KEYS_PKCS11_PIN_FILE: services.keys.kek.pkcs11.pin
CASEDESK_KEYS_INDEX_KEY_FILE: services.keys.indexKey
CASEDESK_KEYS_STORE_URL: services.keys.storeUrl
CASEDESK_KEYS_ERASURE_POLL_S: services.keys.erasurePollSeconds
CASEDESK_KEYS_WATCH_BATCH: services.keys.watchBatch
CASEDESK_KEYS_CACHE_TTL_S: services.keys.clientCache.ttlSeconds
CASEDESK_KEYS_CACHE_MAX: services.keys.clientCache.maxEntries
CASEDESK_SEAL_PERSONAL_DATA: services.<name>.sealPersonalData (intake, case)
CASEDESK_KEY_SERVICE_ADDRESS: services.keys.port
{{- end -}}
