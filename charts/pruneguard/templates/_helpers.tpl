{{/* The chart name, or nameOverride. */}}
{{- define "pruneguard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Name of the operator's objects. The release "pruneguard" gives "pruneguard-operator", the names
of manifests/install/, so both ways of installing produce the same cluster.
*/}}
{{- define "pruneguard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "pruneguard.name" . -}}
{{- $prefix := ternary .Release.Name (printf "%s-%s" .Release.Name $name) (contains $name .Release.Name) -}}
{{- printf "%s-operator" ($prefix | trunc 54 | trimSuffix "-") -}}
{{- end -}}
{{- end -}}

{{- define "pruneguard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pruneguard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{- define "pruneguard.labels" -}}
{{ include "pruneguard.selectorLabels" . }}
app.kubernetes.io/part-of: pruneguard
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "pruneguard.serviceAccountName" -}}
{{- default (include "pruneguard.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "pruneguard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "pruneguard.evaluatorImage" -}}
{{- default (include "pruneguard.image" .) .Values.evaluator.image -}}
{{- end -}}

{{- define "pruneguard.leaseNamespace" -}}
{{- default .Release.Namespace .Values.leaderElection.leaseNamespace -}}
{{- end -}}

{{/* "pruneguard" for the release "pruneguard", as in manifests/install/; "x-pruneguard" for "x". */}}
{{- define "pruneguard.admissionPolicyName" -}}
{{- printf "%s-author-permissions" (include "pruneguard.fullname" . | trimSuffix "-operator") | trunc 63 | trimSuffix "-" -}}
{{- end -}}
