{{/*
Kafka: the connection of each principal (a service, or admin for the topics Job), the topics Job's
steps, and the rules that keep a secured broker's credentials complete.
*/}}

{{/* "true" when Kafka clients authenticate with SASL (SASL_SSL, SASL_PLAINTEXT); context: root. */}}
{{- define "casedesk.kafkaSasl" -}}
{{- if hasPrefix "SASL_" .Values.kafka.securityProtocol }}true{{ end -}}
{{- end -}}

{{/* "true" when the topics Job grants the services' ACLs: asked for, and principals to grant to. */}}
{{- define "casedesk.manageKafkaAcls" -}}
{{- if and .Values.kafka.acls.manage (include "casedesk.kafkaSasl" .) }}true{{ end -}}
{{- end -}}

{{/* "true" when the topics Job runs at all (topics, ACLs or both). */}}
{{- define "casedesk.topicsJob" -}}
{{- if or .Values.kafka.topics.provision (include "casedesk.manageKafkaAcls" .) }}true{{ end -}}
{{- end -}}

{{/* Kafka connection variables of one principal: a service, or admin for the topics Job. With SASL
the user name and password come from that principal's Secret (kafka.sasl.credentials.<principal>,
checked by casedesk.validate). Context: dict root, principal. */}}
{{- define "casedesk.kafkaEnv" -}}
{{- $kafka := .root.Values.kafka -}}
- name: CASEDESK_KAFKA_BOOTSTRAP_SERVERS
  value: {{ required "kafka.bootstrapServers is required (host:port[,host:port...])" $kafka.bootstrapServers | quote }}
- name: CASEDESK_KAFKA_SECURITY_PROTOCOL
  value: {{ $kafka.securityProtocol | quote }}
{{- if include "casedesk.kafkaSasl" .root }}
{{- $credentials := index $kafka.sasl.credentials .principal }}
- name: CASEDESK_KAFKA_SASL_MECHANISM
  value: {{ $kafka.sasl.mechanism | quote }}
- name: CASEDESK_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef:
      name: {{ $credentials.secretName }}
      key: {{ $credentials.usernameKey }}
- name: CASEDESK_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $credentials.secretName }}
      key: {{ $credentials.passwordKey }}
{{- end }}
{{- if include "casedesk.caSource" $kafka.tls }}
- name: CASEDESK_KAFKA_SSL_CAFILE
  value: {{ printf "%s/%s" (include "casedesk.kafkaCaDir" .) $kafka.tls.caKey | quote }}
{{- end }}
{{- end -}}

{{/* Where the brokers' CA bundle is mounted (kafka.tls). */}}
{{- define "casedesk.kafkaCaDir" -}}/etc/casedesk/kafka-ca{{- end -}}

{{/* The Kafka consumer group of a service, as the service will use it: its `env` override, else
its settings' default (topology). Context: dict root, name, entry (its topology entry). */}}
{{- define "casedesk.consumerGroup" -}}
{{- $svc := index .root.Values.services .name -}}
{{- get $svc.env .entry.consumerGroup.variable | default .entry.consumerGroup.default -}}
{{- end -}}

{{/* The grants of every service principal, as a YAML list of arguments: the topic prefix (the
chart keeps the standard topic names) and each consumer's group. Context: root. */}}
{{- define "casedesk.kafkaAccessCommand" -}}
{{- $topology := include "casedesk.topology" . | fromYaml -}}
- python
- -m
- casedesk_runtime.kafka_access
- --topic-prefix
- ""
{{- range $name, $entry := $topology }}
{{- if $entry.consumerGroup }}
- --group
- {{ printf "%s=%s" $name (include "casedesk.consumerGroup" (dict "root" $ "name" $name "entry" $entry)) | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* One container of the topics Job; context: dict root, step ({name, command}). It runs the case
image as the admin principal. */}}
{{- define "casedesk.kafkaJobContainer" -}}
{{- $root := .root -}}
- name: {{ .step.name }}
  image: {{ include "casedesk.image" (dict "root" $root "name" "case") | quote }}
  imagePullPolicy: {{ $root.Values.image.pullPolicy }}
  command:
    {{- toYaml .step.command | nindent 4 }}
  env:
    - name: CASEDESK_SERVICE_NAME
      value: {{ printf "kafka-%s" .step.name | quote }}
    - name: CASEDESK_LOG_LEVEL
      value: {{ $root.Values.logLevel | quote }}
    {{- include "casedesk.kafkaEnv" (dict "root" $root "principal" "admin") | nindent 4 }}
  resources:
    requests: {cpu: 50m, memory: 128Mi}
    limits: {memory: 256Mi}
  securityContext:
    {{- include "casedesk.containerSecurityContext" $root | nindent 4 }}
  volumeMounts:
    {{- include "casedesk.commonVolumeMounts" $root | nindent 4 }}
{{- end -}}

{{/* Kafka values that only make sense together; context: root. */}}
{{- define "casedesk.validateKafka" -}}
{{- $kafka := .Values.kafka -}}
{{- with $kafka.tls }}
{{- if and .caSecret .caConfigMap }}
{{- fail "kafka.tls: set caSecret or caConfigMap, not both" }}
{{- end }}
{{- if and (include "casedesk.caSource" .) (not (has $kafka.securityProtocol (list "SSL" "SASL_SSL"))) }}
{{- fail (printf "kafka.tls.%s is set but kafka.securityProtocol is %s: use SSL or SASL_SSL" (ternary "caSecret" "caConfigMap" (not (empty .caSecret))) $kafka.securityProtocol) }}
{{- end }}
{{- end }}
{{- if include "casedesk.kafkaSasl" . }}
{{- $principals := list -}}
{{- $topology := include "casedesk.topology" . | fromYaml -}}
{{- range $name, $entry := $topology }}
{{- if and $entry.kafka (index $.Values.services $name).enabled }}
{{- $principals = append $principals $name }}
{{- end }}
{{- end }}
{{- if include "casedesk.topicsJob" . }}
{{- $principals = append $principals "admin" }}
{{- end }}
{{- range $principals }}
{{- if not (index $kafka.sasl.credentials .).secretName }}
{{- fail (printf "kafka.sasl.credentials.%s.secretName is required with kafka.securityProtocol=%s: the existing Secret holding the %s principal's user name (key %s) and password (key %s)%s" . $kafka.securityProtocol . (index $kafka.sasl.credentials .).usernameKey (index $kafka.sasl.credentials .).passwordKey (ternary "; admin is the topics Job's, which creates topics and grants ACLs (or set kafka.topics.provision and kafka.acls.manage to false)" "" (eq . "admin"))) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
