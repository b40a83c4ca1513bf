{{- define "convsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "convsync.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "convsync.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "convsync.labels" -}}
app.kubernetes.io/name: {{ include "convsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "convsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "convsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "convsync.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{/* the pod both modes run: one container, config, store, secrets, a writable /tmp */}}
{{- /* service links would give the pod CONVSYNC_* variables (a Service named convsync-…), which convsync reads as configuration */}}
{{- define "convsync.podSpec" -}}
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: config
    configMap:
      name: {{ include "convsync.fullname" . }}
  - name: data
    {{- if .Values.persistence.enabled }}
    persistentVolumeClaim:
      claimName: {{ default (include "convsync.fullname" .) .Values.persistence.existingClaim }}
    {{- else }}
    emptyDir: {}
    {{- end }}
  - name: tmp
    emptyDir: {}
  {{- if .Values.existingSecret }}
  - name: secrets
    secret:
      secretName: {{ .Values.existingSecret }}
  {{- end }}
  {{- with .Values.extraVolumes }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{- define "convsync.volumeMounts" -}}
- name: config
  mountPath: /etc/convsync
  readOnly: true
- name: data
  mountPath: {{ .Values.persistence.mountPath }}
- name: tmp
  mountPath: /tmp
{{- if .Values.existingSecret }}
- name: secrets
  mountPath: {{ .Values.secretMountPath }}
  readOnly: true
{{- end }}
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- /* CONVSYNC_CONFIG: `kubectl exec … -- convsync approve N` (or status) finds the configuration without --config */}}
{{- define "convsync.env" -}}
- name: CONVSYNC_CONFIG
  value: /etc/convsync/convsync.yaml
- name: CONVSYNC_SERVER__PORT
  value: {{ .Values.containerPort | quote }}
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end -}}
