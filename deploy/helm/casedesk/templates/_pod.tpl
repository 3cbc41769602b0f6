{{/*
Pod spec of a service. The container runs as the image's non-root user on a read-only root file
system; it writes only to /tmp and to its working directory /var/lib/casedesk (the "data" volume:
a claim per pod, a shared claim or an emptyDir, see casedesk.service), where each service keeps
its local durable state. Context: same as casedesk.service, with "files" (the files ConfigMap's
content) added by it.
*/}}
{{- define "casedesk.podSpec" -}}
{{- $values := .root.Values -}}
serviceAccountName: {{ include "casedesk.serviceAccountName" .root }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ .svc.terminationGracePeriodSeconds | default 30 }}
securityContext:
  {{- include "casedesk.podSecurityContext" . | nindent 2 }}
{{- with $values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.svc.priorityClassName | default $values.priorityClassName) }}
priorityClassName: {{ . }}
{{- end }}
{{- with (.svc.nodeSelector | default $values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.svc.tolerations | default $values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.svc.affinity | default $values.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $values.spreadAcrossNodes }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "casedesk.selectorLabels" . | nindent 8 }}
{{- end }}
containers:
  - name: {{ .name }}
    image: {{ include "casedesk.image" . | quote }}
    imagePullPolicy: {{ $values.image.pullPolicy }}
    workingDir: /var/lib/casedesk
    ports:
      - name: grpc
        containerPort: {{ .svc.port }}
        protocol: TCP
      - name: health
        containerPort: {{ $values.healthPort }}
        protocol: TCP
      # Prometheus' /metrics, plain HTTP (CASEDESK_METRICS_PORT), one per worker process;
      # networkPolicy.metricsFrom.
      {{- range include "casedesk.metricsPorts" . | fromJsonArray }}
      - name: {{ .name }}
        containerPort: {{ int .port }}
        protocol: TCP
      {{- end }}
    env:
      {{- include "casedesk.serviceEnv" . | nindent 6 }}
    # Native gRPC probes against the standard health service (overall status ""), which turns
    # NOT_SERVING as soon as a shutdown starts, so endpoints drain before the server stops. They
    # cannot speak TLS: they use the plaintext health-only listener (healthPort), which reports the
    # same statuses as the TLS port.
    startupProbe:
      grpc:
        port: {{ $values.healthPort }}
      periodSeconds: 2
      failureThreshold: 30
    readinessProbe:
      grpc:
        port: {{ $values.healthPort }}
      periodSeconds: 5
      timeoutSeconds: 2
      failureThreshold: 2
    livenessProbe:
      grpc:
        port: {{ $values.healthPort }}
      periodSeconds: 10
      timeoutSeconds: 3
      failureThreshold: 3
    resources:
      {{- toYaml .svc.resources | nindent 6 }}
    securityContext:
      {{- include "casedesk.containerSecurityContext" . | nindent 6 }}
    volumeMounts:
      {{- include "casedesk.commonVolumeMounts" .root | nindent 6 }}
      - name: data
        mountPath: /var/lib/casedesk
      {{- if ne $values.tls.mode "insecureDev" }}
      # The whole Secret as a directory (never subPath): a rotated Secret replaces the files in
      # place and the service reloads them without a restart.
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
      {{- if .files }}
      - name: files
        mountPath: /etc/casedesk/files
        readOnly: true
      {{- end }}
      {{- if include "casedesk.frontendsSource" . }}
      - name: frontends
        mountPath: /etc/casedesk/frontends
        readOnly: true
      {{- end }}
      {{- if .topology.social }}
      {{- range include "casedesk.socialNetworks" .root | fromJsonArray }}
      # A social network's token as a file (CASEDESK_<NETWORK>_TOKEN_FILE), never a variable: the
      # environment shows in `kubectl describe` and in crash reports.
      - name: social-{{ . }}
        mountPath: {{ include "casedesk.socialTokenDir" . }}
        readOnly: true
      {{- end }}
      {{- end }}
      {{- if .topology.keyStore }}
      {{- include "casedesk.keys.volumeMounts" . | nindent 6 }}
      {{- end }}
      {{- if .topology.indexKey }}
      # The index key (CASEDESK_KEYS_INDEX_KEY_FILE), the key service's: subjects are derived here.
      {{- include "casedesk.keys.clientVolumeMounts" . | nindent 6 }}
      {{- end }}
volumes:
  {{- include "casedesk.commonVolumes" .root | nindent 2 }}
  {{- if not (include "casedesk.persistent" .) }}
  - name: data
    emptyDir:
      sizeLimit: {{ .svc.persistence.size }}
  {{- else if eq .svc.persistence.accessMode "ReadWriteMany" }}
  - name: data
    persistentVolumeClaim:
      claimName: {{ include "casedesk.componentName" . }}-data
  {{- end }}
  {{- if ne $values.tls.mode "insecureDev" }}
  - name: tls
    secret:
      secretName: {{ include "casedesk.tlsSecretName" . }}
      # Readable by the service's group (fsGroup) only: the private key is in it.
      defaultMode: 0440
  {{- end }}
  {{- if include "casedesk.otlpCaMounted" .root }}
  {{- include "casedesk.caVolume" (dict "name" "otlp-ca" "ca" $values.telemetry) | nindent 2 }}
  {{- end }}
  {{- range include "casedesk.oidcCaKinds" . | fromJsonArray }}
  {{- include "casedesk.caVolume" (dict "name" (printf "oidc-%s-ca" .) "ca" (index $values.identity .)) | nindent 2 }}
  {{- end }}
  {{- if .files }}
  - name: files
    configMap:
      name: {{ include "casedesk.componentName" . }}-files
  {{- end }}
  {{- with include "casedesk.frontendsSource" . }}
  {{- $frontends := $.svc.frontends }}
  - name: frontends
    {{- if eq . "secret" }}
    secret:
      secretName: {{ $frontends.existingSecret }}
    {{- else }}
    configMap:
      name: {{ $frontends.existingConfigMap }}
    {{- end }}
      items:
        - key: {{ $frontends.key }}
          path: {{ $frontends.key }}
  {{- end }}
  {{- if .topology.social }}
  {{- range $network := include "casedesk.socialNetworks" .root | fromJsonArray }}
  {{- $config := index $values.social $network }}
  - name: social-{{ $network }}
    secret:
      secretName: {{ $config.existingSecret }}
      # Only the token's key, readable by the service's group (fsGroup) only.
      defaultMode: 0440
      items:
        - key: {{ $config.tokenKey }}
          path: {{ $config.tokenKey }}
  {{- end }}
  {{- end }}
  {{- if .topology.keyStore }}
  {{- include "casedesk.keys.volumes" . | nindent 2 }}
  {{- end }}
  {{- if .topology.indexKey }}
  {{- include "casedesk.keys.clientVolumes" . | nindent 2 }}
  {{- end }}
{{- end -}}
