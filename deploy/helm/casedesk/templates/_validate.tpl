{{/*
Rules that span several values (the schema checks each value on its own). Each failure names the
values to change.
*/}}
{{- define "casedesk.validate" -}}
{{- $values := .Values -}}
{{- $services := $values.services -}}
{{- include "casedesk.validateKafka" . }}
{{- include "casedesk.validateTelemetry" . }}
{{- include "casedesk.validateIdentity" . }}
{{- include "casedesk.validateDesk" . }}
{{- include "casedesk.validateSocial" . }}
{{- include "casedesk.validateKeys" . }}
{{- include "casedesk.validateCalendarOverrides" $values.deadlines }}
{{- if eq (int $values.healthPort) (int $values.monitoring.metricsPort) }}
{{- fail (printf "healthPort and monitoring.metricsPort are both %d: the health listener and /metrics need a port each" (int $values.healthPort)) }}
{{- end }}
{{- $topology := include "casedesk.topology" . | fromYaml -}}
{{- range $name, $entry := $topology }}
{{- $svc := index $services $name }}
{{- if $svc.enabled }}
{{- $ctx := dict "root" $ "name" $name "svc" $svc "topology" $entry }}
{{- if or (gt (int $svc.replicas) 1) $svc.autoscaling.enabled }}
{{- with include "casedesk.singlePodReason" $ctx }}
{{- fail (printf "services.%s must run a single pod (replicas: 0 or 1, autoscaling off): %s" $name .) }}
{{- end }}
{{- end }}
{{- range $callee, $_ := ($entry.calls | default dict) }}
{{- if not (index $services $callee).enabled }}
{{- fail (printf "services.%s calls services.%s, which is disabled" $name $callee) }}
{{- end }}
{{- end }}
{{- if and $entry.notifications (not (or $values.smtp.host $values.sms.gatewayUrl)) }}
{{- fail (printf "services.%s has no way to reach citizens: set smtp.host and/or sms.gatewayUrl" $name) }}
{{- end }}
{{- if and (hasKey $svc "portalBaseUrl") (not $svc.portalBaseUrl) }}
{{- fail (printf "services.%s.portalBaseUrl is required: every message links to <portalBaseUrl>/<case number>" $name) }}
{{- end }}
{{- if hasKey $svc "frontends" }}
{{- include "casedesk.validateFrontends" $ctx }}
{{- end }}
{{- if and (hasKey $svc "masterKey") $svc.persistence.enabled (not $svc.masterKey.existingSecret) }}
{{- fail (printf "services.%s.masterKey is required with persistence: without it the key that wraps citizens' data keys is a file in the same volume as the encrypted attachments" $name) }}
{{- end }}
{{- range $file, $_ := (include "casedesk.generatedFiles" $ctx | fromJson) }}
{{- if hasKey $svc.files $file }}
{{- fail (printf "services.%s.files.%s is the chart's own file (from deadlines.calendarOverrides): remove it" $name $file) }}
{{- end }}
{{- end }}
{{- if eq (int $svc.port) (int $values.healthPort) }}
{{- fail (printf "services.%s.port and healthPort are both %d: the plaintext health listener needs a port of its own" $name (int $svc.port)) }}
{{- end }}
{{- if eq (int $svc.port) (int $values.monitoring.metricsPort) }}
{{- fail (printf "services.%s.port and monitoring.metricsPort are both %d: /metrics needs a port of its own" $name (int $svc.port)) }}
{{- end }}
{{- include "casedesk.validateWorkers" $ctx }}
{{- $termination := float64 ($svc.terminationGracePeriodSeconds | default 30) }}
{{- if ge (mulf 2 $svc.shutdownGraceSeconds) $termination }}
{{- fail (printf "services.%s.shutdownGraceSeconds (%v) must be less than half of terminationGracePeriodSeconds (%v): in-flight calls, then the service's own drain, each take up to that long before the kubelet kills the process" $name $svc.shutdownGraceSeconds $termination) }}
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

{{/* intake's frontends: at least one, from one file source, each token hash once. Context as
casedesk.service. */}}
{{- define "casedesk.validateFrontends" -}}
{{- $frontends := .svc.frontends -}}
{{- if and $frontends.existingSecret $frontends.existingConfigMap }}
{{- fail (printf "services.%s.frontends: set existingSecret or existingConfigMap, not both" .name) }}
{{- end }}
{{- if not (or $frontends.entries (include "casedesk.frontendsSource" .)) }}
{{- fail (printf "services.%s.frontends: configure at least one frontend (entries, or a TOML file of [[frontend]] tables in existingSecret or existingConfigMap), otherwise every call is UNAUTHENTICATED" .name) }}
{{- end }}
{{- $seen := dict -}}
{{- range $entry := $frontends.entries }}
{{- with get $seen $entry.token_sha256 }}
{{- fail (printf "services.%s.frontends.entries: %s and %s have the same token_sha256; every frontend needs its own token" $.name . $entry.name) }}
{{- end }}
{{- $_ := set $seen $entry.token_sha256 $entry.name -}}
{{- end }}
{{- end -}}

{{/* The social networks that are on (social.*): a token of its own for each (a bot's token is no
community's), and, under network policies, egress to the port of each API the connectors call, which
would otherwise fail only at the first reply, as a timeout. Context: root. */}}
{{- define "casedesk.validateSocial" -}}
{{- $social := .Values.social -}}
{{- $networks := include "casedesk.socialNetworks" . | fromJsonArray -}}
{{- with $social }}
{{- if and .telegram.existingSecret (eq .telegram.existingSecret .vk.existingSecret) (eq .telegram.tokenKey .vk.tokenKey) }}
{{- fail (printf "social.telegram and social.vk both read key %q of Secret %s: the bot's token and the VK community's are different tokens; give each its own tokenKey (or Secret)" .telegram.tokenKey .telegram.existingSecret) }}
{{- end }}
{{- end }}
{{- $np := .Values.networkPolicy -}}
{{- if and $np.enabled $networks .Values.services.notify.enabled }}
{{- range $network := $networks }}
{{- $url := (index $social $network).apiUrl }}
{{- $host := (urlParse $url).host }}
{{- $port := 443 }}
{{- if regexMatch ":[0-9]+$" $host }}
{{- $port = atoi (regexFind "[0-9]+$" $host) }}
{{- end }}
{{- $open := false }}
{{- range $np.social.ports }}
{{- if and (or (not .protocol) (eq .protocol "TCP")) (ge $port (int .port)) (le $port (int (.endPort | default .port))) }}
{{- $open = true }}
{{- end }}
{{- end }}
{{- if not $open }}
{{- fail (printf "social.%s.apiUrl %s is on port %d, which networkPolicy.social.ports does not open: add {port: %d, protocol: TCP} there" $network $url $port $port) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* deadlines.calendarOverrides must be the TOML file sla reads; context: .Values.deadlines. */}}
{{- define "casedesk.validateCalendarOverrides" -}}
{{- with .calendarOverrides }}
{{- $parsed := fromToml . }}
{{- if hasKey $parsed "Error" }}
{{- fail (printf "deadlines.calendarOverrides is not valid TOML: %s" $parsed.Error) }}
{{- end }}
{{- range $key, $_ := $parsed }}
{{- if not (has $key (list "holidays" "working_days" "shortened_days")) }}
{{- fail (printf "deadlines.calendarOverrides: unknown key %q (the file lists holidays, working_days and shortened_days)" $key) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The transport to the collector must be unambiguous, as the runtime demands it (a plaintext
http:// endpoint only with telemetry.insecure); context: root. */}}
{{- define "casedesk.validateTelemetry" -}}
{{- with .Values.telemetry }}
{{- if and .caSecret .caConfigMap }}
{{- fail "telemetry: set caSecret or caConfigMap, not both" }}
{{- end }}
{{- if .insecure }}
{{- if hasPrefix "https://" .otlpEndpoint }}
{{- fail "telemetry.otlpEndpoint is https:// but telemetry.insecure is true: choose one" }}
{{- end }}
{{- if or (include "casedesk.caSource" .) .clientAuth }}
{{- fail "telemetry.insecure is true (plaintext): telemetry.caSecret, caConfigMap and clientAuth would not be used; remove them or insecure" }}
{{- end }}
{{- else if hasPrefix "http://" .otlpEndpoint }}
{{- fail "telemetry.otlpEndpoint is http:// (plaintext): use https://host:port or host:port for TLS to the collector (with telemetry.caSecret or caConfigMap for a private CA), or set telemetry.insecure=true" }}
{{- end }}
{{- if and .clientAuth (eq $.Values.tls.mode "insecureDev") }}
{{- fail "telemetry.clientAuth presents each service's certificate, and tls.mode=insecureDev mounts none" }}
{{- end }}
{{- end }}
{{- end -}}

{{/* People's identity providers: each one a verifying service uses needs its issuer, over HTTPS
unless the development switch says otherwise (a key set fetched in plaintext can be replaced on
the way, and with it every token's signature). Context: root. */}}
{{- define "casedesk.validateIdentity" -}}
{{- $identity := .Values.identity -}}
{{- $topology := include "casedesk.topology" . | fromYaml -}}
{{- range $kind, $what := dict "staff" "the specialists' access tokens, e.g. https://sso.example.gov/realms/casedesk" "citizens" "the portal's citizen tokens, e.g. https://esia.example.gov/realms/portal" }}
{{- $provider := index $identity $kind }}
{{- $users := list }}
{{- range $name, $entry := $topology }}
{{- if and (index $entry (printf "%sTokens" (ternary "staff" "citizen" (eq $kind "staff")))) (index $.Values.services $name).enabled }}
{{- $users = append $users (printf "services.%s" $name) }}
{{- end }}
{{- end }}
{{- if and (eq $kind "staff") $.Values.desk.enabled }}
{{- $users = append $users "desk" }}
{{- end }}
{{- if and $provider.caSecret $provider.caConfigMap }}
{{- fail (printf "identity.%s: set caSecret or caConfigMap, not both" $kind) }}
{{- end }}
{{- if and $users (not $provider.issuer) }}
{{- fail (printf "identity.%s.issuer is required while %s %s enabled: the `iss` of %s (the organisation's OpenID Connect provider; the chart deploys none)" $kind (join " and " $users) (ternary "is" "are" (eq (len $users) 1)) $what) }}
{{- end }}
{{- if not $identity.allowInsecureIssuer }}
{{- range $field := list "issuer" "jwksUrl" }}
{{- if hasPrefix "http://" (index $provider $field) }}
{{- fail (printf "identity.%s.%s is http:// (plaintext): the signing keys could be substituted on the way; use https:// (with identity.%s.caSecret or caConfigMap for a private CA), or for development only set identity.allowInsecureIssuer=true" $kind $field $kind) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Several worker processes in a pod (services.<s>.workers): a store they can share, and a
/metrics port for each (monitoring.metricsPort + index) clear of the pod's other ports. Context as
casedesk.service. */}}
{{- define "casedesk.validateWorkers" -}}
{{- $values := .root.Values -}}
{{- $workers := int (include "casedesk.workers" .) -}}
{{- if gt $workers 1 }}
{{- if and .topology.database (eq $values.database.backend "sqlite") }}
{{- fail (printf "services.%s.workers is %d: several worker processes need database.backend=postgres (on sqlite the store is a file of one process)" .name $workers) }}
{{- end }}
{{- $first := int $values.monitoring.metricsPort }}
{{- $last := add $first (sub $workers 1) }}
{{- if gt $last 65535 }}
{{- fail (printf "services.%s.workers is %d: their /metrics ports %d-%d go past 65535; lower monitoring.metricsPort" .name $workers $first $last) }}
{{- end }}
{{- range $port, $value := dict (toString .svc.port) (printf "services.%s.port" .name) (toString $values.healthPort) "healthPort" }}
{{- if and (ge (atoi $port) $first) (le (atoi $port) $last) }}
{{- fail (printf "services.%s.workers is %d: their /metrics ports %d-%d take %s (%s); move monitoring.metricsPort" $.name $workers $first $last $value $port) }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
