{{/*
Shared pieces of the Grace chart. Every per-service template ranges over .Values.services and calls these with
a context built by "grace.ctx": (dict "root" $ "name" <service> "svc" <its values>).
*/}}

{{/* fullname: the release name when it contains the chart name, else <release>-<chart>. */}}
{{- define "grace.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of a service's objects: <fullname>-<service>. */}}
{{- define "grace.serviceName" -}}
{{- printf "%s-%s" (include "grace.fullname" .root) .name -}}
{{- end -}}

{{/* The image tag (never empty). */}}
{{- define "grace.tag" -}}
{{- $svcImage := .svc.image | default dict -}}
{{- $svcImage.tag | default .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- end -}}

{{- define "grace.image" -}}
{{- $svcImage := .svc.image | default dict -}}
{{- $repository := $svcImage.repository | default (printf "%s/%s" .root.Values.image.repositoryPrefix .name) -}}
{{- if .root.Values.image.registry -}}
{{- $repository = printf "%s/%s" (.root.Values.image.registry | trimSuffix "/") $repository -}}
{{- end -}}
{{- printf "%s:%s" $repository (include "grace.tag" .) -}}
{{- end -}}

{{/* Component: the gateway serves users, the others are workers; migrate Jobs are "migrate". */}}
{{- define "grace.component" -}}
{{- if eq .name "chat-gateway" }}gateway{{ else }}worker{{ end -}}
{{- end -}}

{{/* Labels that select a service's pods (immutable in a Deployment). */}}
{{- define "grace.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component | default (include "grace.component" .) }}
{{- end -}}

{{/* Every object's labels. Call with (dict "root" $ "name" <name> "component" <component> ["svc" ...]). */}}
{{- define "grace.labels" -}}
{{ include "grace.selectorLabels" . }}
app.kubernetes.io/part-of: grace
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ include "grace.tag" (merge (dict "svc" (.svc | default dict)) .) | quote }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The labels every pod of the release carries (the default-deny policy selects them). */}}
{{- define "grace.releaseSelector" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: grace
{{- end -}}

{{/* An environment variable's value as a quoted string (numbers through JSON, so 1000000 is not 1e+06). */}}
{{- define "grace.envValue" -}}
{{- if kindIs "string" . -}}{{ . | quote }}{{- else -}}{{ . | toJson | quote }}{{- end -}}
{{- end -}}

{{/* The JetStream stream of a contract subject (packages/contracts/src/streams.ts; the test keeps them equal). */}}
{{- define "grace.stream" -}}
{{- $s := . -}}
{{- if hasPrefix "GRACE_" $s -}}{{ $s }}
{{- else if eq $s "error.reported" -}}GRACE_REPORTS
{{- else if or (eq $s "error.captured") (hasPrefix "security." $s) (hasPrefix "alert." $s) -}}GRACE_ERRORS
{{- else if hasPrefix "incident." $s -}}GRACE_INCIDENTS
{{- else if or (hasPrefix "action." $s) (hasPrefix "approval." $s) (hasPrefix "contract." $s) -}}GRACE_ACTIONS
{{- else if hasPrefix "playbook." $s -}}GRACE_LEARNING
{{- else -}}{{ fail (printf "no JetStream stream captures subject %q" $s) }}
{{- end -}}
{{- end -}}

{{/* The pod security context every Grace pod runs with (uid 1000, as the image). */}}
{{- define "grace.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "grace.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Whether a service is scaled by KEDA (then it gets no HPA and no fixed replicas). */}}
{{- define "grace.kedaScaled" -}}
{{- if and .root.Values.keda.enabled .svc.keda.enabled .svc.consumers -}}true{{- end -}}
{{- end -}}

{{- define "grace.hpaScaled" -}}
{{- if and .svc.autoscaling.enabled (not (include "grace.kedaScaled" .)) -}}true{{- end -}}
{{- end -}}

{{/* Egress rules every Grace pod needs: DNS, NATS, PostgreSQL. Call with the root context. */}}
{{- define "grace.baseEgress" -}}
- to: {{ .Values.networkPolicy.dns.peers | toJson }}
  ports:
    - { protocol: UDP, port: 53 }
    - { protocol: TCP, port: 53 }
- ports:
    - { protocol: TCP, port: {{ .Values.nats.port }} }
  {{- with .Values.nats.networkPolicyPeers }}
  to: {{ toJson . }}
  {{- end }}
- ports:
    - { protocol: TCP, port: {{ .Values.postgres.port }} }
  {{- with .Values.postgres.networkPolicyPeers }}
  to: {{ toJson . }}
  {{- end }}
{{- end -}}
