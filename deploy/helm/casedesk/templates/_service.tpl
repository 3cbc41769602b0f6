{{/*
The one template that renders a Casedesk service: its workload (a Deployment, or a StatefulSet
when its local state is persistent), Service, optional files ConfigMap, and as configured
HorizontalPodAutoscaler, PodDisruptionBudget and NetworkPolicy.
Context: dict "root" $ "name" <service name> "svc" <its values> "topology" <its topology entry>.
*/}}
{{- define "casedesk.service" -}}
{{- $fullName := include "casedesk.componentName" . -}}
{{- $kind := ternary "StatefulSet" "Deployment" .svc.persistence.enabled -}}
{{- if .svc.files }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $fullName }}-files
  labels:
    {{- include "casedesk.componentLabels" . | nindent 4 }}
data:
  {{- toYaml .svc.files | nindent 2 }}
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
      {{- if or .svc.podAnnotations .svc.files }}
      annotations:
        {{- with .svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
        {{- if .svc.files }}
        # Roll the pods when their files change.
        checksum/files: {{ toYaml .svc.files | sha256sum }}
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
        {{- with .svc.persistence.storageClass }}
        storageClassName: {{ . }}
        {{- end }}
        resources:
          requests:
            storage: {{ .svc.persistence.size }}
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
