{{/*
The specialists' desk (values `desk`): an HTTP application, not a gRPC service, so it has its own
objects (desk.yaml) and pod, built from the services' pieces: the same image naming, hardened
security contexts, TLS Secret or cert-manager Certificate (its client certificate, identity
spiffe://casedesk/desk), staff identity provider settings and extra env checks.
*/}}

{{/* The services the desk calls (gRPC, mutual TLS as `desk`) and the variable receiving each
address: the case service for every page and command, intake's AttachmentVaultService for
attachments. Also their NetworkPolicies' ingress rule for the desk. */}}
{{- define "casedesk.desk.calls" -}}
case: CASEDESK_CASE_ADDRESS
intake: CASEDESK_INTAKE_ADDRESS
{{- end -}}

{{/* Where the canned replies file is mounted (desk.cannedReplies). */}}
{{- define "casedesk.desk.cannedRepliesFile" -}}canned-replies.toml{{- end -}}

{{/* The variables the chart derives for the desk (services/desk/README.md, Settings); context:
the desk's (desk.yaml: shaped like a service's, casedesk.service). */}}
{{- define "casedesk.desk.managedEnv" -}}
{{- $values := .root.Values -}}
{{- $desk := .svc -}}
- name: CASEDESK_SERVICE_NAME
  value: "desk"
- name: CASEDESK_LOG_LEVEL
  value: {{ $desk.logLevel | default $values.logLevel | quote }}
- name: CASEDESK_DESK_HTTP_HOST
  value: "0.0.0.0"
- name: CASEDESK_DESK_HTTP_PORT
  value: {{ $desk.port | quote }}
- name: CASEDESK_DESK_PUBLIC_URL
  value: {{ $desk.publicUrl | quote }}
- name: CASEDESK_DESK_CLIENT_ID
  value: {{ $desk.clientId | quote }}
- name: CASEDESK_DESK_SESSION_IDLE_S
  value: {{ $desk.sessionIdleSeconds | quote }}
- name: CASEDESK_DESK_LIVE_CHECK_S
  value: {{ $desk.liveCheckSeconds | quote }}
# /metrics on its own port, on every interface like the HTTP listener (CASEDESK_METRICS_HOST
# unset: the desk's HTTP host), as every service serves it.
- name: CASEDESK_METRICS_PORT
  value: {{ $values.monitoring.metricsPort | quote }}
{{- if $desk.cannedReplies }}
- name: CASEDESK_DESK_CANNED_REPLIES_FILE
  value: {{ printf "/etc/casedesk/files/%s" (include "casedesk.desk.cannedRepliesFile" .) | quote }}
{{- end }}
{{- range $callee, $variable := include "casedesk.desk.calls" . | fromYaml }}
- name: {{ $variable }}
  value: {{ include "casedesk.address" (dict "root" $.root "name" $callee) | quote }}
{{- end }}
- name: CASEDESK_CASE_SERVICE_TIMEOUT_S
  value: {{ $desk.caseServiceTimeoutSeconds | quote }}
- name: CASEDESK_INTAKE_TIMEOUT_S
  value: {{ $desk.intakeTimeoutSeconds | quote }}
{{- if eq $values.tls.mode "insecureDev" }}
- name: CASEDESK_GRPC_INSECURE_DEV
  value: "true"
{{- else }}
- name: CASEDESK_TLS_CERT_FILE
  value: {{ printf "%s/tls.crt" (include "casedesk.tlsDir" .) | quote }}
- name: CASEDESK_TLS_KEY_FILE
  value: {{ printf "%s/tls.key" (include "casedesk.tlsDir" .) | quote }}
- name: CASEDESK_TLS_CA_FILE
  value: {{ printf "%s/ca.crt" (include "casedesk.tlsDir" .) | quote }}
{{- end }}
{{ include "casedesk.oidcEnv" (dict "prefix" "CASEDESK_OIDC_" "kind" "staff" "provider" $values.identity.staff) }}
{{- if $values.telemetry.otlpEndpoint }}
{{ include "casedesk.otlpEnv" .root }}
{{- end }}
{{- end -}}

{{/* The desk's pod: one container serving HTTP, probed on /healthz, and Prometheus' /metrics on
the port named `metrics` (monitoring.metricsPort); hardened like the services'; it keeps nothing on
disk (sessions are in memory), so only /tmp is writable. Context: the desk's. */}}
{{- define "casedesk.desk.podSpec" -}}
{{- $values := .root.Values -}}
serviceAccountName: {{ include "casedesk.serviceAccountName" .root }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ .svc.terminationGracePeriodSeconds }}
securityContext:
  {{- include "casedesk.podSecurityContext" . | nindent 2 }}
{{- with $values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: desk
    image: {{ include "casedesk.image" . | quote }}
    imagePullPolicy: {{ $values.image.pullPolicy }}
    ports:
      - name: http
        containerPort: {{ .svc.port }}
        protocol: TCP
      # Plain HTTP, scraped by Prometheus (networkPolicy.metricsFrom): one process, one port.
      - name: metrics
        containerPort: {{ $values.monitoring.metricsPort }}
        protocol: TCP
    env:
      {{- include "casedesk.serviceEnv" . | nindent 6 }}
    startupProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 2
      failureThreshold: 30
    readinessProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 5
      timeoutSeconds: 2
      failureThreshold: 2
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 10
      timeoutSeconds: 3
      failureThreshold: 3
    resources:
      {{- toYaml .svc.resources | nindent 6 }}
    securityContext:
      {{- include "casedesk.containerSecurityContext" . | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      {{- if ne $values.tls.mode "insecureDev" }}
      # The whole Secret as a directory (never subPath): the desk's channels pick up a rotated
      # certificate without a restart (casedesk_runtime.grpc_client).
      - name: tls
        mountPath: {{ include "casedesk.tlsDir" . }}
        readOnly: true
      {{- end }}
      {{- if include "casedesk.otlpCaMounted" .root }}
      - name: otlp-ca
        mountPath: {{ include "casedesk.otlpCaDir" . }}
        readOnly: true
      {{- end }}
      {{- range include "casedesk.oidcCaKinds" . | fromJsonArray }}
      - name: oidc-{{ . }}-ca
        mountPath: {{ include "casedesk.oidcCaDir" . }}
        readOnly: true
      {{- end }}
      {{- if .svc.cannedReplies }}
      - name: files
        mountPath: /etc/casedesk/files
        readOnly: true
      {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 64Mi
  {{- if ne $values.tls.mode "insecureDev" }}
  - name: tls
    secret:
      secretName: {{ include "casedesk.tlsSecretName" . }}
      # Readable by the desk's group (fsGroup) only: the private key is in it.
      defaultMode: 0440
  {{- end }}
  {{- if include "casedesk.otlpCaMounted" .root }}
  {{- include "casedesk.caVolume" (dict "name" "otlp-ca" "ca" $values.telemetry) | nindent 2 }}
  {{- end }}
  {{- range include "casedesk.oidcCaKinds" . | fromJsonArray }}
  {{- include "casedesk.caVolume" (dict "name" (printf "oidc-%s-ca" .) "ca" (index $values.identity .)) | nindent 2 }}
  {{- end }}
  {{- if .svc.cannedReplies }}
  - name: files
    configMap:
      name: {{ include "casedesk.componentName" . }}-files
  {{- end }}
{{- end -}}

{{/* The desk's NetworkPolicy: browsers (through the ingress controller, networkPolicy.deskFrom)
to its HTTP port, Prometheus (networkPolicy.metricsFrom, as for the services) to its metrics
port; out to DNS, the case service's and intake's gRPC ports, the staff's identity
provider (discovery, key set, token endpoint) and, with telemetry.otlpEndpoint, the collector.
Context: the desk's. */}}
{{- define "casedesk.desk.networkPolicy" -}}
{{- $root := .root -}}
{{- $np := $root.Values.networkPolicy -}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "casedesk.componentName" . }}
  labels:
    {{- include "casedesk.componentLabels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "casedesk.selectorLabels" . | nindent 6 }}
  policyTypes: [Ingress, Egress]
  ingress:
    - ports:
        - port: http
          protocol: TCP
      {{- with $np.deskFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    - ports:
        - port: metrics
          protocol: TCP
      {{- with $np.metricsFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  egress:
    {{- include "casedesk.egressRule" $np.dns | nindent 4 }}
    {{- range $callee, $_ := include "casedesk.desk.calls" . | fromYaml }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "casedesk.selectorLabels" (dict "root" $root "name" $callee) | nindent 14 }}
      ports:
        - port: {{ (index $root.Values.services $callee).port }}
          protocol: TCP
    {{- end }}
    {{- include "casedesk.egressRule" $np.identityProvider | nindent 4 }}
    {{- if $root.Values.telemetry.otlpEndpoint }}
    {{- include "casedesk.egressRule" $np.otlp | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* The desk's values that only make sense together; context: root. */}}
{{- define "casedesk.validateDesk" -}}
{{- $desk := .Values.desk -}}
{{- if $desk.enabled }}
{{- if eq (int $desk.port) (int .Values.monitoring.metricsPort) }}
{{- fail (printf "desk.port and monitoring.metricsPort are both %d: /metrics needs a port of its own" (int $desk.port)) }}
{{- end }}
{{- if not $desk.publicUrl }}
{{- fail "desk.publicUrl is required while the desk is enabled: the address browsers reach it at, e.g. https://desk.casedesk.example.gov (the sign-in redirects to <publicUrl>/auth/callback)" }}
{{- end }}
{{- if and (hasPrefix "http://" $desk.publicUrl) (not $desk.allowInsecurePublicUrl) }}
{{- fail "desk.publicUrl is http://: the session cookie would travel in clear; use https:// (TLS at the Ingress, desk.ingress.tlsSecretName), or for development only set desk.allowInsecurePublicUrl=true" }}
{{- end }}
{{- range $callee, $_ := include "casedesk.desk.calls" . | fromYaml }}
{{- if not (index $.Values.services $callee).enabled }}
{{- fail (printf "the desk calls services.%s, which is disabled" $callee) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
