{{- define "tsetcd-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tsetcd-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tsetcd-operator.labels" -}}
app.kubernetes.io/name: {{ include "tsetcd-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tsetcd-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tsetcd-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tsetcd-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tsetcd-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The member selector of etcd's mixin alerts (the mixin's own etcd_selector config, applied by
replacing its default in the rendered rules). Default: the PodMonitor's job when that is on,
because the operator's ServiceMonitor job (its Service's name) also matches the mixin's
job=~".*etcd.*" and its up series would count as etcd members; else the mixin's default.
*/}}
{{- define "tsetcd-operator.etcdMixinSelector" -}}
{{- if .Values.monitoring.etcdMixin.selector -}}
{{- .Values.monitoring.etcdMixin.selector -}}
{{- else if .Values.monitoring.podMonitor.enabled -}}
{{- printf "job=\"%s/%s-members\"" .Release.Namespace (include "tsetcd-operator.fullname" .) -}}
{{- else -}}
job=~".*etcd.*"
{{- end -}}
{{- end -}}
