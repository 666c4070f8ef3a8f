{{- define "streamvane.name" -}}{{ .Release.Name }}-streamvane{{- end -}}
{{- define "streamvane.env" -}}
- name: STREAMVANE_SETTINGS_FILE
  value: /etc/streamvane/settings.yaml
- name: STREAMVANE_PROFILES_DIR
  value: /etc/streamvane/profiles
- name: STREAMVANE_KAFKA__BOOTSTRAP_SERVERS
  value: {{ .Values.kafka.bootstrapServers | quote }}
- name: STREAMVANE_KAFKA__REPLICATION_FACTOR
  value: {{ .Values.kafka.replicationFactor | quote }}
- name: STREAMVANE_KAFKA__PARTITIONS
  value: {{ .Values.kafka.partitions | quote }}
- name: STREAMVANE_DATA_DIR
  value: /var/lib/streamvane
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef: {name: {{ .secretName }}, key: {{ .key }}}
{{- end }}
{{- end -}}
