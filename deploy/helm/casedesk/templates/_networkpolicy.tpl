{{/*
NetworkPolicy of one service: deny by default, then allow exactly the paths of DESIGN.md.
Ingress on the gRPC port: intake from `networkPolicy.intakeFrom` (any source when empty); every
other service only from the services that call it (the key service: notify whenever it is
enabled, intake and the case service while they seal: topology `calls`), the key service also from
`networkPolicy.keysFrom` (the privacy officers' tools; none when empty). The desk, when enabled,
also reaches the services it calls (case, intake: casedesk.desk.calls); its own policy is in
_desk.tpl. On the plaintext health port (health service only): the `helm test` pod and
`networkPolicy.healthFrom`; the kubelet's probes come from the node, which common CNIs always
admit. On the metrics port (/metrics, plain HTTP): Prometheus, as `networkPolicy.metricsFrom`
names it (any source when empty).
Egress: DNS for all; Kafka for the services that use it (not intake, not keys); the called
services; PostgreSQL for the services connected to it; the HSM (`networkPolicy.hsm`) for the key
service with kek.provider pkcs11; the configured SMTP relay and SMS gateway for notify and intake
(one-time codes); the social networks' APIs for notify while a network is on; the identity
providers for case, intake and keys (key sets); the OpenTelemetry collector when configured.
Context: same as casedesk.service.
*/}}
{{- define "casedesk.networkPolicy" -}}
{{- $root := .root -}}
{{- $np := $root.Values.networkPolicy -}}
{{- $topology := include "casedesk.topology" $root | fromYaml -}}
{{- $callers := list -}}
{{- range $caller, $entry := $topology }}
{{- if and (hasKey ($entry.calls | default dict) $.name) (index $root.Values.services $caller).enabled }}
{{- $callers = append $callers $caller }}
{{- end }}
{{- end -}}
{{- $callees := keys (.topology.calls | default dict) -}}
{{- $extraCallers := ternary $np.keysFrom (list) (eq .name "keys") -}}
{{- $fromDesk := and $root.Values.desk.enabled (hasKey (include "casedesk.desk.calls" . | fromYaml) .name) -}}
{{- if and $fromDesk (ne .name "intake") }}
{{- $callers = append $callers "desk" }}
{{- end -}}
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
    {{- if eq .name "intake" }}
    - ports:
        - port: grpc
          protocol: TCP
      {{- with $np.intakeFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- if $fromDesk }}
    # The desk opens attachments (AttachmentVaultService), whatever intakeFrom admits.
    - ports:
        - port: grpc
          protocol: TCP
      from:
        - podSelector:
            matchLabels:
              {{- include "casedesk.selectorLabels" (dict "root" $root "name" "desk") | nindent 14 }}
    {{- end }}
    {{- else if or $callers $extraCallers }}
    - ports:
        - port: grpc
          protocol: TCP
      from:
        {{- range $callers }}
        - podSelector:
            matchLabels:
              {{- include "casedesk.selectorLabels" (dict "root" $root "name" .) | nindent 14 }}
        {{- end }}
        {{- with $extraCallers }}
        # The privacy officers' tools (networkPolicy.keysFrom).
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- end }}
    - ports:
        - port: health
          protocol: TCP
      from:
        - podSelector:
            matchLabels:
              {{- include "casedesk.selectorLabels" (dict "root" $root "name" "health-check") | nindent 14 }}
        {{- with $np.healthFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    - ports:
        {{- range include "casedesk.metricsPorts" . | fromJsonArray }}
        - port: {{ .name }}
          protocol: TCP
        {{- end }}
      {{- with $np.metricsFrom }}
      from:
        {{- toYaml . | nindent 8 }}
      {{- end }}
  egress:
    {{- include "casedesk.egressRule" $np.dns | nindent 4 }}
    {{- if .topology.kafka }}
    {{- include "casedesk.egressRule" $np.kafka | nindent 4 }}
    {{- end }}
    {{- range $callee := $callees | sortAlpha }}
    - to:
        - podSelector:
            matchLabels:
              {{- include "casedesk.selectorLabels" (dict "root" $root "name" $callee) | nindent 14 }}
      ports:
        - port: {{ (index $root.Values.services $callee).port }}
          protocol: TCP
    {{- end }}
    {{- if and .topology.keyStore (include "casedesk.keys.pkcs11" .) }}
    {{- include "casedesk.egressRule" $np.hsm | nindent 4 }}
    {{- end }}
    {{- if include "casedesk.reachesPostgres" . }}
    {{- include "casedesk.egressRule" (dict "to" $np.postgres.to "ports" (list (dict "port" $root.Values.database.postgres.port "protocol" "TCP"))) | nindent 4 }}
    {{- end }}
    {{- if and .topology.smtp $root.Values.smtp.host }}
    {{- include "casedesk.egressRule" (dict "to" $np.smtp.to "ports" (list (dict "port" $root.Values.smtp.port "protocol" "TCP"))) | nindent 4 }}
    {{- end }}
    {{- if and .topology.sms $root.Values.sms.gatewayUrl }}
    {{- include "casedesk.egressRule" $np.smsGateway | nindent 4 }}
    {{- end }}
    {{- if and .topology.social (include "casedesk.socialOn" $root) }}
    {{- include "casedesk.egressRule" $np.social | nindent 4 }}
    {{- end }}
    {{- if or .topology.staffTokens .topology.citizenTokens }}
    {{- include "casedesk.egressRule" $np.identityProvider | nindent 4 }}
    {{- end }}
    {{- if $root.Values.telemetry.otlpEndpoint }}
    {{- include "casedesk.egressRule" $np.otlp | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* One egress rule from {to: [peers], ports: [ports]}; no peers means any address. */}}
{{- define "casedesk.egressRule" -}}
- ports:
    {{- toYaml .ports | nindent 4 }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
