{{/*
The key service (services/keys, services.keys): the one holder of citizens' data keys and of the
erasure journal. Its settings are casedesk_keys.KeysSettings' CASEDESK_KEYS_* and its own
CASEDESK_KEYS_ERASURE_POLL_S and _WATCH_BATCH (services/keys/README.md "Settings"); what is secret
reaches it as files from existing Secrets, each mounted read-only, readable by the service's group
only: the KEK versions (secret-file), the token's PIN (pkcs11), the index key. The store URL is a
variable from its Secret: the service reads no file for it. Rendered through casedesk.service like
every service (topology `keyStore`). Context of each template: same as casedesk.service.
*/}}

{{/* Where the Secret holding the KEK versions is mounted whole (CASEDESK_KEYS_KEK_DIR). */}}
{{- define "casedesk.keys.kekDir" -}}/etc/casedesk/kek{{- end -}}

{{/* Where the token's PIN is mounted (CASEDESK_KEYS_PKCS11_PIN_FILE is <dir>/<pin.key>). */}}
{{- define "casedesk.keys.pinDir" -}}/etc/casedesk/hsm-pin{{- end -}}

{{/* Where the index key is mounted (CASEDESK_KEYS_INDEX_KEY_FILE is <dir>/<indexKey.key>). */}}
{{- define "casedesk.keys.indexKeyDir" -}}/etc/casedesk/keys-index{{- end -}}

{{/* The SQLite key store in the data volume, without storeUrl. */}}
{{- define "casedesk.keys.sqlitePath" -}}/var/lib/casedesk/keys.sqlite3{{- end -}}

{{/* "true" with kek.provider pkcs11. */}}
{{- define "casedesk.keys.pkcs11" -}}
{{- if eq .svc.kek.provider "pkcs11" }}true{{ end -}}
{{- end -}}

{{- define "casedesk.settings.keys" -}}
{{- $kek := .svc.kek -}}
- name: CASEDESK_KEYS_KEK_PROVIDER
  value: {{ $kek.provider | quote }}
- name: CASEDESK_KEYS_KEK_LABEL
  value: {{ $kek.label | quote }}
{{- if include "casedesk.keys.pkcs11" . }}
- name: CASEDESK_KEYS_PKCS11_MODULE
  value: {{ $kek.pkcs11.module | quote }}
- name: CASEDESK_KEYS_PKCS11_TOKEN_LABEL
  value: {{ $kek.pkcs11.tokenLabel | quote }}
- name: CASEDESK_KEYS_PKCS11_PIN_FILE
  value: {{ printf "%s/%s" (include "casedesk.keys.pinDir" .) $kek.pkcs11.pin.key | quote }}
{{- else }}
- name: CASEDESK_KEYS_KEK_DIR
  value: {{ include "casedesk.keys.kekDir" . | quote }}
{{- end }}
- name: CASEDESK_KEYS_INDEX_KEY_FILE
  value: {{ printf "%s/%s" (include "casedesk.keys.indexKeyDir" .) .svc.indexKey.key | quote }}
{{- if .svc.storeUrl.existingSecret }}
{{ include "casedesk.secretVariable" (dict "name" "CASEDESK_KEYS_STORE_URL" "ref" .svc.storeUrl) }}
{{- else }}
- name: CASEDESK_KEYS_STORE_URL
  value: {{ include "casedesk.keys.sqlitePath" . | quote }}
{{- end }}
- name: CASEDESK_KEYS_ERASURE_POLL_S
  value: {{ .svc.erasurePollSeconds | quote }}
- name: CASEDESK_KEYS_WATCH_BATCH
  value: {{ int64 .svc.watchBatch | quote }}
{{- end -}}

{{- define "casedesk.keys.volumeMounts" -}}
{{- if include "casedesk.keys.pkcs11" . }}
- name: hsm-pin
  mountPath: {{ include "casedesk.keys.pinDir" . }}
  readOnly: true
{{- if .svc.kek.pkcs11.moduleVolume }}
# The HSM's client: its PKCS#11 library (kek.pkcs11.module) and configuration.
- name: hsm-client
  mountPath: {{ .svc.kek.pkcs11.mountPath }}
  readOnly: true
{{- end }}
{{- else }}
# The whole Secret as a directory (never subPath): a KEK version added to it (<label>.v<N+1>)
# reaches the pod without a restart.
- name: kek
  mountPath: {{ include "casedesk.keys.kekDir" . }}
  readOnly: true
{{- end }}
- name: keys-index
  mountPath: {{ include "casedesk.keys.indexKeyDir" . }}
  readOnly: true
{{- end -}}

{{- define "casedesk.keys.volumes" -}}
{{- $kek := .svc.kek -}}
{{- if include "casedesk.keys.pkcs11" . }}
- name: hsm-pin
  secret:
    secretName: {{ $kek.pkcs11.pin.existingSecret }}
    # Only the PIN's key, readable by the service's group (fsGroup) only.
    defaultMode: 0440
    items:
      - key: {{ $kek.pkcs11.pin.key }}
        path: {{ $kek.pkcs11.pin.key }}
{{- with $kek.pkcs11.moduleVolume }}
- name: hsm-client
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- else }}
- name: kek
  secret:
    secretName: {{ $kek.existingSecret }}
    defaultMode: 0440
{{- end }}
{{ include "casedesk.keys.indexKeyVolume" .svc.indexKey }}
{{- end -}}

{{/* The index key's volume: only its key of the Secret, readable by the service's group
(fsGroup) only. Context: services.keys.indexKey. */}}
{{- define "casedesk.keys.indexKeyVolume" -}}
- name: keys-index
  secret:
    secretName: {{ .existingSecret }}
    defaultMode: 0440
    items:
      - key: {{ .key }}
        path: {{ .key }}
{{- end -}}

{{/*
A client of the key service (topology `keyClient`: notify whenever services.keys.enabled, intake and
the case service while they seal). Its address variable comes with `calls` (casedesk.managedEnv),
its certificate (spiffe://casedesk/<name>) with tls.* as for every call it makes; here what it
reads of casedesk_keys.KeysSettings (notify: its settings' fields of the same names): its key
cache's bounds (services.keys.clientCache, one setting for every client: the TTL bounds how long a
replica cut off from the erasure feed keeps using an erased citizen's key), and for a service
that derives subjects (topology `indexKey`: the sealing ones) the index key, mounted from the same
Secret as the key service's (services.keys.indexKey: subjects derived in the client and in the
key service must be the same). Context: same as casedesk.service.
*/}}
{{- define "casedesk.keys.clientEnv" -}}
{{- $keys := .root.Values.services.keys -}}
{{- if .topology.indexKey }}
- name: CASEDESK_KEYS_INDEX_KEY_FILE
  value: {{ printf "%s/%s" (include "casedesk.keys.indexKeyDir" .) $keys.indexKey.key | quote }}
{{- end }}
- name: CASEDESK_KEYS_CACHE_TTL_S
  value: {{ $keys.clientCache.ttlSeconds | quote }}
- name: CASEDESK_KEYS_CACHE_MAX
  value: {{ int64 $keys.clientCache.maxEntries | quote }}
{{- end -}}

{{/* The index key's mount and volume in a service deriving subjects (topology `indexKey`). */}}
{{- define "casedesk.keys.clientVolumeMounts" -}}
- name: keys-index
  mountPath: {{ include "casedesk.keys.indexKeyDir" . }}
  readOnly: true
{{- end -}}

{{- define "casedesk.keys.clientVolumes" -}}
{{ include "casedesk.keys.indexKeyVolume" .root.Values.services.keys.indexKey }}
{{- end -}}

{{/* The values the key service cannot start without (it would exit 2 naming the variable: the
chart says so at install instead), and the key service a sealing service (intake, case) needs.
More than one pod without storeUrl is refused by casedesk.singlePodReason. Context: root. */}}
{{- define "casedesk.validateKeys" -}}
{{- $svc := .Values.services.keys -}}
{{- $sealers := dict
  "intake" "intake seals citizens' attachments and its records of them"
  "case" "the case service seals citizens' personal data in the events" -}}
{{- range $name, $what := $sealers }}
{{- $sealer := index $.Values.services $name }}
{{- if and $sealer.enabled $sealer.sealPersonalData (not $svc.enabled) }}
{{- fail (printf "services.%s.sealPersonalData is true but services.keys.enabled is false: %s with their data keys from the key service; enable services.keys (its Secrets first: deploy/README.md \"The key service\") or set services.%s.sealPersonalData=false" $name $what $name) }}
{{- end }}
{{- end }}
{{- if $svc.enabled }}
{{- $kek := $svc.kek }}
{{- if eq $kek.provider "secret-file" }}
{{- if not $kek.existingSecret }}
{{- fail (printf "services.keys.kek.existingSecret is required with kek.provider secret-file: the Secret whose keys are the KEK versions %s.v1, %s.v2, ... (base64 of 32 random bytes each), mounted at %s" $kek.label $kek.label (include "casedesk.keys.kekDir" .)) }}
{{- end }}
{{- if $kek.pkcs11.moduleVolume }}
{{- fail "services.keys.kek.pkcs11.moduleVolume is set but kek.provider is secret-file: set kek.provider pkcs11 or remove it" }}
{{- end }}
{{- else }}
{{- if not $kek.pkcs11.module }}
{{- fail "services.keys.kek.pkcs11.module is required with kek.provider pkcs11: the path of the HSM's PKCS#11 library in the pod, e.g. /opt/hsm/lib/libCryptoki2_64.so (mounted with kek.pkcs11.moduleVolume)" }}
{{- end }}
{{- if not $kek.pkcs11.pin.existingSecret }}
{{- fail "services.keys.kek.pkcs11.pin.existingSecret is required with kek.provider pkcs11: the Secret holding the token's user PIN (key kek.pkcs11.pin.key)" }}
{{- end }}
{{- if $kek.existingSecret }}
{{- fail "services.keys.kek.existingSecret is set but kek.provider is pkcs11, whose KEK stays in the HSM: remove it, or set kek.provider secret-file" }}
{{- end }}
{{- end }}
{{- if not $svc.indexKey.existingSecret }}
{{- fail "services.keys.indexKey.existingSecret is required: the Secret holding the index key (base64 of 32 random bytes) from which citizens' subjects are derived; never change it once set" }}
{{- end }}
{{- end }}
{{- end -}}
