{{/* Names and labels (https://helm.sh/docs/chart_best_practices/labels/). */}}
{{- define "streamvane.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-streamvane" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "streamvane.selectorLabels" -}}
app.kubernetes.io/name: streamvane
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "streamvane.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "streamvane.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: streamvane
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "streamvane.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "streamvane.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "streamvane.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The settings file: .Values.settings plus the kafka block (security included). */}}
{{- define "streamvane.settings" -}}
{{- $kafka := dict "bootstrap_servers" .Values.kafka.bootstrapServers "replication_factor" .Values.kafka.replicationFactor "partitions" .Values.kafka.partitions "security" .Values.kafka.security -}}
{{- toYaml (merge (dict "kafka" $kafka) (deepCopy .Values.settings)) -}}
{{- end -}}

{{/* Pods roll when their settings or profiles change. */}}
{{- define "streamvane.podAnnotations" -}}
checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
{{- with .root.Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "streamvane.env" -}}
- name: STREAMVANE_SETTINGS_FILE
  value: /etc/streamvane/settings.yaml
- name: STREAMVANE_PROFILES_DIR
  value: /etc/streamvane/profiles
- name: STREAMVANE_DATA_DIR
  value: /var/lib/streamvane
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef: {name: {{ .secretName }}, key: {{ .key }}}
{{- end }}
{{- end -}}

{{- define "streamvane.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}

{{- define "streamvane.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end -}}

{{/* Settings, profiles, a writable /tmp (the root filesystem is read-only) and every secret
     file: Kubernetes Secrets and CSI secrets-store volumes, read-only under /etc/streamvane/secrets. */}}
{{- define "streamvane.volumeMounts" -}}
- {name: config, mountPath: /etc/streamvane/settings.yaml, subPath: settings.yaml, readOnly: true}
- {name: profiles, mountPath: /etc/streamvane/profiles, readOnly: true}
- {name: tmp, mountPath: /tmp}
{{- range .Values.secretFiles }}
- {name: {{ printf "secret-%s" .name }}, mountPath: {{ printf "/etc/streamvane/secrets/%s" .name }}, readOnly: true}
{{- end }}
{{- range .Values.csiSecrets }}
- {name: {{ printf "csi-%s" .name }}, mountPath: {{ printf "/etc/streamvane/secrets/%s" .name }}, readOnly: true}
{{- end }}
{{- end -}}

{{- define "streamvane.volumes" -}}
- name: config
  configMap: {name: {{ include "streamvane.fullname" . }}-settings}
- name: profiles
  configMap: {name: {{ include "streamvane.fullname" . }}-profiles}
- name: tmp
  emptyDir: {sizeLimit: 256Mi}
{{- range .Values.secretFiles }}
- name: {{ printf "secret-%s" .name }}
  secret:
    secretName: {{ .secretName }}
    defaultMode: 0440
    {{- with .items }}
    items:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
{{- range .Values.csiSecrets }}
- name: {{ printf "csi-%s" .name }}
  csi:
    driver: secrets-store.csi.k8s.io
    readOnly: true
    volumeAttributes: {secretProviderClass: {{ .secretProviderClass }}}
{{- end }}
{{- end -}}
