{{/*
Names, labels and the paths shared by the workload, the ConfigMap and the Secrets. The container image (see the
repository's Dockerfile) runs in /app, reads /app/config/application.yml over /app/application.yml and keeps its state
in /app/data.
*/}}

{{- define "onion-relay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "onion-relay.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "onion-relay.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "onion-relay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "onion-relay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "onion-relay.labels" -}}
helm.sh/chart: {{ include "onion-relay.chart" . }}
{{ include "onion-relay.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "onion-relay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "onion-relay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "onion-relay.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* Where the image keeps state: a volume in the Dockerfile, an emptyDir or a PVC here. */}}
{{- define "onion-relay.stateDir" -}}/app/data{{- end }}

{{/* Spring Boot reads ./config/application.yml over ./application.yml: the ConfigMap goes there. */}}
{{- define "onion-relay.configDir" -}}/app/config{{- end }}

{{- define "onion-relay.credentialsDir" -}}/etc/onion-relay/credentials{{- end }}

{{- define "onion-relay.apiTokensDir" -}}/etc/onion-relay/api-tokens{{- end }}

{{/* The key-encryption key of the shared store, mounted from store.postgres.existingSecret. */}}
{{- define "onion-relay.storeKeyDir" -}}/etc/onion-relay/store{{- end }}

{{- define "onion-relay.fleet" -}}
{{- if eq .Values.store.type "postgres" }}true{{ end }}
{{- end }}

{{/*
The workload kind: .Values.kind when set; else a StatefulSet for a fleet (each pod keeps, on its own volume, the
snapshot of the shared store it needs to start while the database is away) and a Deployment for the file store.
*/}}
{{- define "onion-relay.kind" -}}
{{- if .Values.kind }}{{ .Values.kind }}{{ else if include "onion-relay.fleet" . }}StatefulSet{{ else }}Deployment{{ end }}
{{- end }}

{{/* Non-empty when more than one pod may run: several replicas or autoscaling. */}}
{{- define "onion-relay.replicated" -}}
{{- if or .Values.autoscaling.enabled (gt (int .Values.replicaCount) 1) }}true{{ end }}
{{- end }}

{{/*
The claim a Deployment mounts as its state directory: the existing one, or the chart's own; empty for an emptyDir
(persistence off, or several pods, which one ReadWriteOnce claim cannot serve). A StatefulSet has volumeClaimTemplates.
*/}}
{{- define "onion-relay.deploymentClaim" -}}
{{- if and (eq (include "onion-relay.kind" .) "Deployment") .Values.persistence.enabled (not (include "onion-relay.replicated" .)) }}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "onion-relay.fullname" .)) }}
{{- end }}
{{- end }}

{{/*
Refuses values that would run a broken service: several pods on the file store with a writable API (each pod would
keep different relays, and a call through the Service would reach one of them), or a shared store without its
database or its Secret.
*/}}
{{- define "onion-relay.validate" -}}
{{- $replicated := include "onion-relay.replicated" . }}
{{- if and $replicated (eq .Values.store.type "file") (not .Values.api.readOnly) }}
{{- fail (printf "%s with store.type file: every pod would keep its own relays and credentials, and API calls through the Service would reach one pod at random. Set store.type: postgres (store.postgres.url, store.postgres.existingSecret) for a fleet sharing one state, or api.readOnly: true to serve only the declared relays" (ternary "autoscaling" (printf "replicaCount %d" (int .Values.replicaCount)) .Values.autoscaling.enabled)) }}
{{- end }}
{{- if lt (int .Values.terminationGracePeriodSeconds) (add (int .Values.shutdown.drainTimeoutSeconds) 10 | int) }}
{{- fail (printf "terminationGracePeriodSeconds %d does not fit shutdown.drainTimeoutSeconds %d: Kubernetes would kill the pod while its tunnels drain. Set it to at least %d (the drain plus 10 s for the rest of the shutdown)" (int .Values.terminationGracePeriodSeconds) (int .Values.shutdown.drainTimeoutSeconds) (add (int .Values.shutdown.drainTimeoutSeconds) 10 | int)) }}
{{- end }}
{{- if eq .Values.store.type "postgres" }}
{{- if not .Values.store.postgres.url }}
{{- fail "store.type postgres needs store.postgres.url (jdbc:postgresql://<host>:<port>/<database>)" }}
{{- end }}
{{- if not .Values.store.postgres.existingSecret }}
{{- fail (printf "store.type postgres needs store.postgres.existingSecret: a Secret with the database password (key %s) and the key-encryption key (key %s, 32 random bytes), e.g. kubectl create secret generic onion-store --from-literal=%s=... --from-file=%s=<(head -c 32 /dev/urandom)" .Values.store.postgres.passwordKey .Values.store.postgres.encryptionKeyKey .Values.store.postgres.passwordKey .Values.store.postgres.encryptionKeyKey) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "onion-relay.apiTokensSecret" -}}
{{- .Values.apiTokens.existingSecret | default (printf "%s-api-tokens" (include "onion-relay.fullname" .)) }}
{{- end }}

{{/* The Secret a credential is mounted from: its existingSecret, or the one this chart makes from its PEM values. */}}
{{- define "onion-relay.credentialSecret" -}}
{{- $root := index . 0 }}{{- $name := index . 1 }}{{- $credential := index . 2 }}
{{- if $credential.existingSecret }}
{{- $credential.existingSecret }}
{{- else }}
{{- printf "%s-credential-%s" (include "onion-relay.fullname" $root) ($name | lower | replace "_" "-" | replace "." "-") | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Key in the credential's Secret that holds the certificate chain. */}}
{{- define "onion-relay.certificateKey" -}}
{{- if .existingSecret }}{{ .certificateKey | default "tls.crt" }}{{ else }}tls.crt{{ end }}
{{- end }}

{{/* Key in the credential's Secret that holds the private key; empty for a trust credential. */}}
{{- define "onion-relay.privateKeyKey" -}}
{{- if .existingSecret }}
{{- if hasKey . "privateKeyKey" }}{{ .privateKeyKey }}{{ else }}tls.key{{ end }}
{{- else if .privateKey }}tls.key
{{- end }}
{{- end }}

{{/*
Every port the pod serves, as a list of {name, port, component}: API, management, one per declared relay and one per
port of the pool for relays created over the API. Fails on a clash, since two listeners cannot share a port.
*/}}
{{- define "onion-relay.ports" -}}
{{- $ports := list (dict "name" "api" "port" (int .Values.ports.api) "component" "api") (dict "name" "management" "port" (int .Values.ports.management) "component" "management") }}
{{- range $i, $relay := .Values.relays }}
{{- if not (and $relay.listen $relay.listen.port) }}
{{- fail (printf "relays[%d] (%s): listen.port is required, since the Service must name the port" $i ($relay.name | default "?")) }}
{{- end }}
{{- $ports = append $ports (dict "name" (printf "relay-%d" (int $relay.listen.port)) "port" (int $relay.listen.port) "component" "relay") }}
{{- end }}
{{- range $offset := until (int .Values.relayPortPool.size) }}
{{- $port := add (int $.Values.relayPortPool.start) $offset }}
{{- $ports = append $ports (dict "name" (printf "pool-%d" (int $port)) "port" (int $port) "component" "pool") }}
{{- end }}
{{- $seen := dict }}
{{- range $ports }}
{{- $key := toString .port }}
{{- if hasKey $seen $key }}
{{- fail (printf "port %s is used twice (%s and %s): api, management, declared relays and the relay port pool need distinct ports" $key (get $seen $key) .name) }}
{{- end }}
{{- $_ := set $seen $key .name }}
{{- end }}
{{- toYaml (dict "ports" $ports) }}
{{- end }}

{{/* The application.yml this release runs with, as a dict (rendered by the ConfigMap). */}}
{{- define "onion-relay.applicationConfig" -}}
{{- $onion := dict "state-dir" (include "onion-relay.stateDir" .) }}
{{- $tokens := list }}
{{- range .Values.apiTokens.tokens }}
{{- $tokens = append $tokens (dict "name" .name "scope" .scope "file" (printf "%s/%s" (include "onion-relay.apiTokensDir" $) (.key | default .name))) }}
{{- end }}
{{- if $tokens }}
{{- $_ := set $onion "api" (dict "tokens" $tokens) }}
{{- end }}
{{- $policy := dict "listen-hosts" .Values.policy.listenHosts "target-hosts" .Values.policy.targetHosts "allow-insecure-verify" .Values.policy.allowInsecureVerify }}
{{- $listenPorts := .Values.policy.listenPorts }}
{{- if not $listenPorts }}
{{- $listenPorts = list }}
{{- range .Values.relays }}
{{- $listenPorts = append $listenPorts (toString (int .listen.port)) }}
{{- end }}
{{- if gt (int .Values.relayPortPool.size) 0 }}
{{- $listenPorts = append $listenPorts (printf "%d-%d" (int .Values.relayPortPool.start) (int (add .Values.relayPortPool.start .Values.relayPortPool.size -1))) }}
{{- end }}
{{- end }}
{{- if $listenPorts }}
{{- $_ := set $policy "listen-ports" $listenPorts }}
{{- end }}
{{- with .Values.policy.targetPorts }}
{{- $_ := set $policy "target-ports" . }}
{{- end }}
{{- with .Values.policy.deniedTargets }}
{{- $_ := set $policy "denied-targets" . }}
{{- end }}
{{- $_ := set $onion "policy" $policy }}
{{- $limits := dict }}
{{- range $key, $value := .Values.limits }}
{{- $_ := set $limits (kebabcase $key) $value }}
{{- end }}
{{- if $limits }}
{{- $_ = set $onion "limits" $limits }}
{{- end }}
{{- $_ = set $onion "tls" (dict "provider" .Values.tls.provider "profile" .Values.tls.profile) }}
{{- $_ = set $onion "engine" (dict "transport" .Values.engine.transport "worker-threads" .Values.engine.workerThreads) }}
{{- $_ = set $onion "credential-reload" (dict "interval" .Values.credentialReload.interval) }}
{{- $_ = set $onion "shutdown" (dict "drain-timeout" (printf "%ds" (int .Values.shutdown.drainTimeoutSeconds))) }}
{{- if .Values.api.readOnly }}
{{- $api := get $onion "api" | default dict }}
{{- $_ = set $api "read-only" true }}
{{- $_ = set $onion "api" $api }}
{{- end }}
{{- $store := dict "type" .Values.store.type }}
{{- if eq .Values.store.type "postgres" }}
{{- $_ = set $store "encryption-key-file" (printf "%s/encryption-key" (include "onion-relay.storeKeyDir" .)) }}
{{- $previous := list }}
{{- range $index, $key := .Values.store.postgres.previousEncryptionKeyKeys }}
{{- $previous = append $previous (printf "%s/previous-encryption-key-%d" (include "onion-relay.storeKeyDir" $) $index) }}
{{- end }}
{{- if $previous }}
{{- $_ = set $store "previous-encryption-key-files" $previous }}
{{- end }}
{{- /* instance-name and advertise-url come from the pod (workload env): its name and its IP. */}}
{{- $_ = set $onion "fleet" (dict "lease" .Values.fleet.lease) }}
{{- end }}
{{- $_ = set $onion "store" $store }}
{{- $credentials := dict }}
{{- range $name, $credential := .Values.credentials }}
{{- $files := dict "certificate-file" (printf "%s/%s/%s" (include "onion-relay.credentialsDir" $) $name (include "onion-relay.certificateKey" $credential)) }}
{{- $keyKey := include "onion-relay.privateKeyKey" $credential }}
{{- if $keyKey }}
{{- $_ := set $files "private-key-file" (printf "%s/%s/%s" (include "onion-relay.credentialsDir" $) $name $keyKey) }}
{{- end }}
{{- $_ := set $credentials $name $files }}
{{- end }}
{{- if $credentials }}
{{- $_ = set $onion "credentials" $credentials }}
{{- end }}
{{- $relays := list }}
{{- range .Values.relays }}
{{- $relay := deepCopy . }}
{{- $listen := deepCopy $relay.listen }}
{{- if not $listen.host }}
{{- $_ := set $listen "host" $.Values.relayDefaults.listenHost }}
{{- end }}
{{- $_ := set $relay "listen" $listen }}
{{- $relays = append $relays $relay }}
{{- end }}
{{- if $relays }}
{{- $_ = set $onion "relays" $relays }}
{{- end }}
{{- $config := dict "server" (dict "port" (int .Values.ports.api)) "management" (dict "server" (dict "port" (int .Values.ports.management) "address" "0.0.0.0")) "onion" $onion }}
{{- if eq .Values.store.type "postgres" }}
{{- /* The password comes from the Secret as SPRING_DATASOURCE_PASSWORD (workload env), never from the ConfigMap. */}}
{{- $_ = set $config "spring" (dict "datasource" (dict "url" .Values.store.postgres.url "username" .Values.store.postgres.username)) }}
{{- end }}
{{- toYaml (mergeOverwrite $config (deepCopy .Values.extraConfig)) }}
{{- end }}
