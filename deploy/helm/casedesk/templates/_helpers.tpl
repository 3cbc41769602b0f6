{{/*
Names, labels and the pieces shared by the services, the topic hook and the test pod.
*/}}

{{- define "casedesk.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one service's objects; 50 + "-escalation" stays within DNS label limits. */}}
{{- define "casedesk.componentName" -}}
{{- printf "%s-%s" (include "casedesk.fullname" .root) .name -}}
{{- end -}}

{{- define "casedesk.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: casedesk
{{- end -}}

{{/* Selector labels of one component; context: dict root, name. */}}
{{- define "casedesk.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "casedesk.componentLabels" -}}
{{ include "casedesk.labels" .root }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "casedesk.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "casedesk.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Image reference of a service (or of the desk); context: dict root, name, optionally svc (its
values, when they are not under services, as the desk's). */}}
{{- define "casedesk.image" -}}
{{- $svc := .svc | default (index .root.Values.services .name) -}}
{{- $repository := $svc.image.repository -}}
{{- with .root.Values.image.registry }}{{ $repository = printf "%s/%s" . $repository }}{{ end -}}
{{- if $svc.image.digest -}}
{{- printf "%s@%s" $repository $svc.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (include "casedesk.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/* The version a service runs: its own tag, the release-wide tag or appVersion. */}}
{{- define "casedesk.imageTag" -}}
{{- $svc := .svc | default (index .root.Values.services .name) -}}
{{- $tag := $svc.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- if eq (lower $tag) "latest" }}{{ fail "image tags must be immutable: 'latest' is not allowed" }}{{ end -}}
{{- $tag -}}
{{- end -}}

{{/* Worker processes in each pod of a service (services.<s>.workers; 1 for services without the
value); context: dict root, name. */}}
{{- define "casedesk.workers" -}}
{{- $svc := index .root.Values.services .name -}}
{{- int ($svc.workers | default 1) -}}
{{- end -}}

{{/* The /metrics ports of a service's pod, one per worker process (casedesk_runtime.workers: worker
i serves on monitoring.metricsPort + i), as a JSON list of {name, port}: `metrics`, then
`metrics-1`, `metrics-2`, ... Context: dict root, name. */}}
{{- define "casedesk.metricsPorts" -}}
{{- $first := int .root.Values.monitoring.metricsPort -}}
{{- $ports := list -}}
{{- range $index := until (int (include "casedesk.workers" .)) -}}
{{- $name := ternary "metrics" (printf "metrics-%d" $index) (eq $index 0) -}}
{{- $ports = append $ports (dict "name" $name "port" (add $first $index)) -}}
{{- end -}}
{{- toJson $ports -}}
{{- end -}}

{{/* gRPC address of a service inside the cluster; context: dict root, name. */}}
{{- define "casedesk.address" -}}
{{- $svc := index .root.Values.services .name -}}
{{- printf "%s:%d" (include "casedesk.componentName" .) (int $svc.port) -}}
{{- end -}}

{{/* Where a service's certificate, key and CA bundle are mounted (a directory: no subPath, so a
rotated Secret reaches the files and the runtime reloads them). */}}
{{- define "casedesk.tlsDir" -}}/etc/casedesk/tls{{- end -}}

{{/* The Secret holding a service's tls.crt, tls.key and ca.crt; context: dict root, name. */}}
{{- define "casedesk.tlsSecretName" -}}
{{- $tls := .root.Values.tls -}}
{{- if eq $tls.mode "certManager" -}}
{{- printf "%s-tls" (include "casedesk.componentName" .) -}}
{{- else -}}
{{- get $tls.secretNames .name | default (printf "%s-tls" (include "casedesk.componentName" .)) -}}
{{- end -}}
{{- end -}}

{{/* gRPC security of a service (runtime settings): the TLS files, or the development flag, and
the plaintext health-only listener the probes use. Context: same as casedesk.service. */}}
{{- define "casedesk.tlsEnv" -}}
{{- $tls := .root.Values.tls -}}
- name: CASEDESK_GRPC_HEALTH_PORT
  value: {{ .root.Values.healthPort | quote }}
{{- if eq $tls.mode "insecureDev" }}
- name: CASEDESK_GRPC_INSECURE_DEV
  value: "true"
{{- else }}
- name: CASEDESK_TLS_CERT_FILE
  value: {{ printf "%s/tls.crt" (include "casedesk.tlsDir" .) | quote }}
- name: CASEDESK_TLS_KEY_FILE
  value: {{ printf "%s/tls.key" (include "casedesk.tlsDir" .) | quote }}
- name: CASEDESK_TLS_CA_FILE
  value: {{ printf "%s/ca.crt" (include "casedesk.tlsDir" .) | quote }}
{{- if eq .name "intake" }}
- name: CASEDESK_TLS_CLIENT_AUTH
  value: {{ $tls.intakeClientAuth | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "casedesk.otlpCaDir" -}}/etc/casedesk/otlp-ca{{- end -}}

{{/* Where the CA bundle of an identity provider is mounted; context: its kind (staff or
citizens). */}}
{{- define "casedesk.oidcCaDir" -}}/etc/casedesk/oidc-{{ . }}-ca{{- end -}}

{{/* The identity providers whose CA bundle a service mounts, as a JSON list of kinds: those it
verifies tokens of and that have a bundle configured. Context: same as casedesk.service. */}}
{{- define "casedesk.oidcCaKinds" -}}
{{- $kinds := list -}}
{{- range $kind, $flag := dict "staff" "staffTokens" "citizens" "citizenTokens" -}}
{{- if and (index $.topology $flag) (include "casedesk.caSource" (index $.root.Values.identity $kind)) -}}
{{- $kinds = append $kinds $kind -}}
{{- end -}}
{{- end -}}
{{- toJson $kinds -}}
{{- end -}}

{{/* Where a CA bundle ({caSecret, caConfigMap, caKey}) comes from: "secret", "configMap" or
empty (the image's system CAs). */}}
{{- define "casedesk.caSource" -}}
{{- if .caSecret }}secret{{ else if .caConfigMap }}configMap{{ end -}}
{{- end -}}

{{/* "true" when the services mount the collector's CA bundle: export on, bundle configured. */}}
{{- define "casedesk.otlpCaMounted" -}}
{{- with .Values.telemetry }}
{{- if and .otlpEndpoint (include "casedesk.caSource" .) }}true{{ end -}}
{{- end }}
{{- end -}}

{{/* A volume holding only the CA bundle; context: dict name (the volume's), ca ({caSecret,
caConfigMap, caKey}). Nothing when the bundle is the image's. */}}
{{- define "casedesk.caVolume" -}}
{{- with include "casedesk.caSource" .ca -}}
- name: {{ $.name }}
  {{- if eq . "secret" }}
  secret:
    secretName: {{ $.ca.caSecret }}
  {{- else }}
  configMap:
    name: {{ $.ca.caConfigMap }}
  {{- end }}
    items:
      - key: {{ $.ca.caKey }}
        path: {{ $.ca.caKey }}
{{- end }}
{{- end -}}

{{/* Hardened security contexts; not configurable on purpose. */}}
{{- define "casedesk.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "casedesk.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Volumes every pod gets: a writable /tmp and, with TLS to Kafka, the CA bundle. */}}
{{- define "casedesk.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with include "casedesk.caVolume" (dict "name" "kafka-ca" "ca" .Values.kafka.tls) }}
{{ . }}
{{- end }}
{{- end -}}

{{- define "casedesk.commonVolumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if include "casedesk.caSource" .Values.kafka.tls }}
- name: kafka-ca
  mountPath: {{ include "casedesk.kafkaCaDir" . }}
  readOnly: true
{{- end }}
{{- end -}}
