{{/* SPDX-License-Identifier: Apache-2.0 */}}
{{/* Names: RELEASE-memagent (the agent) and RELEASE-memschedd, under Kubernetes' 63 characters. */}}
{{- define "memagent.agentName" -}}
{{- printf "%s-memagentd" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "memagent.schedName" -}}
{{- printf "%s-memschedd" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "memagent.labels" -}}
app.kubernetes.io/part-of: memagent
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "memagent.agentSelector" -}}
app.kubernetes.io/name: memagentd
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "memagent.schedSelector" -}}
app.kubernetes.io/name: memschedd
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "memagent.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* memschedd's base URL inside the cluster (the agents' schedulerUrl). */}}
{{- define "memagent.schedUrl" -}}
{{- printf "%s://%s.%s.svc:%d" (ternary "https" "http" .Values.scheduler.tls.enabled) (include "memagent.schedName" .) .Release.Namespace (int .Values.scheduler.port) -}}
{{- end -}}

{{/* Refuses the combinations memschedd would refuse at start, at render time. */}}
{{- define "memagent.check" -}}
{{- if and (gt (int .Values.scheduler.replicas) 1) (not .Values.scheduler.etcd.endpoints) -}}
{{- fail "scheduler.replicas > 1 needs scheduler.etcd.endpoints: with SQLite only one memschedd may plan and migrate" -}}
{{- end -}}
{{- if .Values.scheduler.tls.enabled -}}
{{- $_ := required "scheduler.tls.enabled needs scheduler.tls.secretName (tls.crt, tls.key, ca.crt)" .Values.scheduler.tls.secretName -}}
{{- end -}}
{{- if and .Values.agent.token.secretName (not (and .Values.scheduler.tls.enabled .Values.scheduler.tokens.secretName)) -}}
{{- fail "agent.token.secretName needs scheduler.tls.enabled (tokens never cross the network in clear) and scheduler.tokens.secretName (the tokens memschedd accepts)" -}}
{{- end -}}
{{- if and .Values.scheduler.tokens.secretName (not .Values.scheduler.tls.enabled) -}}
{{- fail "scheduler.tokens.secretName needs scheduler.tls.enabled: memschedd refuses tokens over plain HTTP off loopback" -}}
{{- end -}}
{{- if and .Values.scheduler.extender.bind (not .Values.scheduler.enabled) -}}
{{- fail "scheduler.extender.bind needs scheduler.enabled" -}}
{{- end -}}
{{- end -}}
