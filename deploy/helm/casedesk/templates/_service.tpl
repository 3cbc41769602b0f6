{{/*
The one template that renders a Casedesk service: its workload, Service, optional files ConfigMap
and shared data claim, and as configured HorizontalPodAutoscaler, PodDisruptionBudget and
NetworkPolicy. The workload is a StatefulSet with a claim per pod when its data volume is
persistent ReadWriteOnce, else a Deployment (on a shared ReadWriteMany claim or an emptyDir); a
service that must run a single pod is replaced, never surged (Recreate).
Context: dict "root" $ "name" <service name> "svc" <its values> "topology" <its topology entry>.
*/}}
{{- define "casedesk.service" -}}
{{- $fullName := include "casedesk.componentName" . -}}
{{- $persistence := .svc.persistence -}}
{{- $persistent := eq (include "casedesk.persistent" .) "true" -}}
{{- $perPodClaim := and $persistent (eq $persistence.accessMode "ReadWriteOnce") -}}
{{- $kind := ternary "StatefulSet" "Deployment" $perPodClaim -}}
{{- $singlePod := include "casedesk.singlePodReason" . -}}
{{- $files := merge (include "casedesk.generatedFiles" . | fromJson) .svc.files -}}
{{- $_ := set . "files" $files -}}
{{- if $files }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $fullName }}-files
  labels:
    {{- include "casedesk.componentLabels" . | nindent 4 }}
data:
  {{- toYaml $files | nindent 2 }}
{{- end }}
{{- if and $persistent (not $perPodClaim) }}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ $fullName }}-data
  labels:
    {{- include "casedesk.componentLabels" . | nindent 4 }}
  annotations:
    # Shared state outlives uninstalls, as the per-pod claims do; delete it deliberately.
    helm.sh/resource-policy: keep
spec:
  accessModes: [{{ $persistence.accessMode }}]
  {{- with $persistence.storageClass }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests:
      storage: {{ $persistence.size }}
{{- end }}
---
apiVersion: apps/v1
kind: {{ $kind }}
metadata:
  name: {{ $fullName }}
  labels:
    {{- include "casedesk.componentLabels" . | nindent 4 }}
spec:
  {{- if not .svc.autoscaling.enabled }}
  replicas: {{ .svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "casedesk.selectorLabels" . | nindent 6 }}
  {{- if eq $kind "StatefulSet" }}
  serviceName: {{ $fullName }}
  podManagementPolicy: Parallel
  updateStrategy:
    type: RollingUpdate
  persistentVolumeClaimRetentionPolicy:
    # Local state outlives scale-downs and uninstalls; delete the PVCs deliberately.
    whenDeleted: Retain
    whenScaled: Retain
  {{- else if $singlePod }}
  strategy:
    # Never two processes on one store, not even during an upgrade.
    type: Recreate
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "casedesk.componentLabels" . | nindent 8 }}
      {{- if or .svc.podAnnotations $files }}
      annotations:
        {{- with .svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- if $files }}
        # Roll the pods when their files change.
        checksum/files: {{ toYaml $files | sha256sum }}
        {{- end }}
      {{- end }}
    spec:
      {{- include "casedesk.podSpec" . | nindent 6 }}
  {{- if eq $kind "StatefulSet" }}
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "casedesk.selectorLabels" . | nindent 10 }}
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $persistence.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ $persistence.size }}
  {{- end }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $fullName }}
  labels:
    {{- include "casedesk.componentLabels" . | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "casedesk.selectorLabels" . | nindent 4 }}
  ports:
    - name: grpc
      port: {{ .svc.port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    # Plaintext, health service only (probes, helm test); the NetworkPolicy limits who reaches it.
    - name: health
      port: {{ .root.Values.healthPort }}
      targetPort: health
      protocol: TCP
      appProtocol: grpc
    # Plain HTTP, Prometheus' scrapes only (monitoring.yaml's ServiceMonitor), one per worker.
    {{- range include "casedesk.metricsPorts" . | fromJsonArray }}
    - name: {{ .name }}
      port: {{ int .port }}
      targetPort: {{ .name }}
      protocol: TCP
      appProtocol: http
    {{- end }}
{{- if eq .root.Values.tls.mode "certManager" }}
{{ include "casedesk.certificate" . }}
{{- end }}
{{- if .svc.autoscaling.enabled }}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ $fullName }}
  labels:
    {{- include "casedesk.componentLabels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: {{ $kind }}
    name: {{ $fullName }}
  minReplicas: {{ .svc.autoscaling.minReplicas }}
  maxReplicas: {{ .svc.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .svc.autoscaling.targetCPUUtilizationPercentage }}
    {{- with .svc.autoscaling.targetMemoryUtilizationPercentage }}
    - type: Resource
      resource:
        name: memory
        target:
          type: Utilization
          averageUtilization: {{ . }}
    {{- end }}
{{- end }}
{{- if .svc.pdb.enabled }}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ $fullName }}
  labels:
    {{- include "casedesk.componentLabels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "casedesk.selectorLabels" . | nindent 6 }}
  {{- if hasKey .svc.pdb "minAvailable" }}
  minAvailable: {{ .svc.pdb.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .svc.pdb.maxUnavailable | default 1 }}
  {{- end }}
{{- end }}
{{- if .root.Values.networkPolicy.enabled }}
{{ include "casedesk.networkPolicy" . }}
{{- end }}
{{- end -}}

{{/*
cert-manager Certificate of a service (tls.mode certManager): its identity as the URI SAN
spiffe://casedesk/<service>, the names of its Service as DNS SANs (callers such as intake verify
<fullname>-case), usable as server and client certificate, a new key at every renewal. The Secret
gets tls.crt, tls.key and ca.crt. Context: same as casedesk.service.
*/}}
{{- define "casedesk.certificate" -}}
{{- $tls := .root.Values.tls -}}
{{- $cm := $tls.certManager -}}
{{- $host := include "casedesk.componentName" . -}}
{{- $namespace := .root.Release.Namespace -}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ include "casedesk.tlsSecretName" . }}
  labels:
    {{- include "casedesk.componentLabels" . | nindent 4 }}
spec:
  secretName: {{ include "casedesk.tlsSecretName" . }}
  secretTemplate:
    labels:
      {{- include "casedesk.componentLabels" . | nindent 6 }}
  duration: {{ $cm.duration }}
  renewBefore: {{ $cm.renewBefore }}
  uris:
    - {{ printf "spiffe://casedesk/%s" .name }}
  dnsNames:
    - {{ $host }}
    - {{ printf "%s.%s" $host $namespace }}
    - {{ printf "%s.%s.svc" $host $namespace }}
    - {{ printf "%s.%s.svc.%s" $host $namespace $cm.clusterDomain }}
    {{- range (get $cm.extraDnsNames .name | default list) }}
    - {{ . }}
    {{- end }}
  usages:
    - digital signature
    - server auth
    - client auth
  privateKey:
    algorithm: ECDSA
    size: 256
    encoding: PKCS8
    rotationPolicy: Always
  issuerRef:
    name: {{ $cm.issuerRef.name }}
    kind: {{ $cm.issuerRef.kind }}
    group: {{ $cm.issuerRef.group }}
{{- end -}}
