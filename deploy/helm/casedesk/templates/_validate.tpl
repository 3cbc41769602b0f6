{{/*
Rules that span several values (the schema checks each value on its own). Each failure names the
values to change.
*/}}
{{- define "casedesk.validate" -}}
{{- $values := .Values -}}
{{- $services := $values.services -}}
{{- if and $values.kafka.tls.caSecret (not (has $values.kafka.securityProtocol (list "SSL" "SASL_SSL"))) }}
{{- fail (printf "kafka.tls.caSecret is set but kafka.securityProtocol is %s: use SSL or SASL_SSL" $values.kafka.securityProtocol) }}
{{- end }}
{{- $topology := include "casedesk.topology" . | fromYaml -}}
{{- range $name, $entry := $topology }}
{{- $svc := index $services $name }}
{{- if $svc.enabled }}
{{- if and $entry.database (eq $values.database.backend "sqlite") (or (gt (int $svc.replicas) 1) $svc.autoscaling.enabled) }}
{{- fail (printf "database.backend=sqlite keeps services.%s's state in one pod's file: run it with replicas: 1 and no autoscaling, or use database.backend=postgres" $name) }}
{{- end }}
{{- range $callee, $_ := ($entry.calls | default dict) }}
{{- if not (index $services $callee).enabled }}
{{- fail (printf "services.%s calls services.%s, which is disabled" $name $callee) }}
{{- end }}
{{- end }}
{{- if and $entry.smtp (not $values.smtp.host) }}
{{- fail (printf "smtp.host is required while services.%s is enabled" $name) }}
{{- end }}
{{- if and $entry.sms (not $values.sms.gatewayUrl) }}
{{- fail (printf "sms.gatewayUrl is required while services.%s is enabled" $name) }}
{{- end }}
{{- if and $svc.autoscaling.enabled (gt (int $svc.autoscaling.minReplicas) (int $svc.autoscaling.maxReplicas)) }}
{{- fail (printf "services.%s.autoscaling.minReplicas is greater than maxReplicas" $name) }}
{{- end }}
{{- if and (hasKey $svc.pdb "minAvailable") (hasKey $svc.pdb "maxUnavailable") }}
{{- fail (printf "services.%s.pdb: set either minAvailable or maxUnavailable, not both" $name) }}
{{- end }}
{{- $replicas := ternary $svc.autoscaling.minReplicas $svc.replicas $svc.autoscaling.enabled }}
{{- if and $svc.pdb.enabled (hasKey $svc.pdb "minAvailable") (not (kindIs "string" $svc.pdb.minAvailable)) (ge (int $svc.pdb.minAvailable) (int $replicas)) }}
{{- fail (printf "services.%s.pdb.minAvailable (%d) would block every node drain with %d replica(s): lower it or add replicas" $name (int $svc.pdb.minAvailable) (int $replicas)) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
