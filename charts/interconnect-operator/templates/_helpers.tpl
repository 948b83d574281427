{{/*
Naming and labels shared by every template.
*/}}

{{- define "interconnect-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: release-chart, unless the release name already contains the chart
name. Truncated to 63 characters because some fields are DNS labels.
*/}}
{{- define "interconnect-operator.fullname" -}}
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

{{- define "interconnect-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable for the lifetime of a release (immutable in a Deployment). */}}
{{- define "interconnect-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "interconnect-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The recommended app.kubernetes.io/* labels, plus commonLabels. */}}
{{- define "interconnect-operator.labels" -}}
helm.sh/chart: {{ include "interconnect-operator.chart" . }}
{{ include "interconnect-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: interconnect-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "interconnect-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "interconnect-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "interconnect-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/*
Leader election (a Lease, one replica acts) is on when asked for, and always
with more than one replica: two operators acting on the same link would both
call the providers (STYLE checklist 9).
*/}}
{{- define "interconnect-operator.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{- end }}
{{- end }}

{{- define "interconnect-operator.leaseName" -}}
{{- $base := default (include "interconnect-operator.fullname" .) .Values.leaderElection.name }}
{{- with (.Shard | default dict).name }}
{{- printf "%s-%s" $base . | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $base }}
{{- end }}
{{- end }}

{{/* A shard's Deployment (and PDB): the full name, with the shard's name when sharded. */}}
{{- define "interconnect-operator.deploymentName" -}}
{{- $base := include "interconnect-operator.fullname" . }}
{{- with (.Shard | default dict).name }}
{{- printf "%s-%s" $base . | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $base }}
{{- end }}
{{- end }}

{{/* The shard label of a sharded Deployment's pods (nothing without shards). */}}
{{- define "interconnect-operator.shardLabel" -}}
{{- with (.Shard | default dict).name }}
interconnect.io/shard: {{ . | quote }}
{{- end }}
{{- end }}

{{/* Namespace of the Grafana dashboard ConfigMap (a sidecar may watch only one). */}}
{{- define "interconnect-operator.dashboardNamespace" -}}
{{- default .Release.Namespace .Values.grafanaDashboard.namespace }}
{{- end }}
