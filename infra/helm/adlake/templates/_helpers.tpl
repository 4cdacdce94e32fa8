{{/* Names and labels shared by every manifest. */}}
{{- define "adlake.fullname" -}}
{{- printf "%s" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "adlake.labels" -}}
app.kubernetes.io/name: adlake
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "adlake.selector" -}}
app.kubernetes.io/name: adlake
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "adlake.image" -}}
{{- $tag := .Values.image.tag | toString -}}
{{- if eq $tag "latest" -}}{{- fail "image.tag must be a release tag or a digest, not latest" -}}{{- end -}}
{{- if hasPrefix "sha256:" $tag -}}
{{ .Values.image.repository }}@{{ $tag }}
{{- else -}}
{{ .Values.image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}

{{- define "adlake.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}{{ include "adlake.fullname" . }}{{- else -}}default{{- end -}}
{{- end -}}

{{/* The pod spec of one AdLake service: .root (the chart's context), .component, .command,
     .port, .probe (an httpGet path, or none for an exec probe in .execProbe), .resources,
     .writable (paths mounted as emptyDir volumes), .securityContext (over the chart's). */}}
{{- define "adlake.podSpec" -}}
{{- $root := .root -}}
serviceAccountName: {{ include "adlake.serviceAccountName" $root }}
automountServiceAccountToken: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
containers:
  - name: {{ .component }}
    image: {{ include "adlake.image" $root }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    command:
      {{- toYaml .command | nindent 6 }}
    ports:
      - name: {{ .component }}
        containerPort: {{ .port }}
        protocol: TCP
    envFrom:
      - configMapRef:
          name: {{ include "adlake.fullname" $root }}-env
      - secretRef:
          name: {{ $root.Values.existingSecret }}
    {{- with .env }}
    {{- /* over envFrom: what one service reads differently (the dashboard's read-only user) */}}
    env:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    {{- /* set, not merge: merge would not let a false override the chart's true */}}
    {{- $sc := deepCopy $root.Values.containerSecurityContext }}
    {{- range $k, $v := (.securityContext | default dict) }}{{ $_ := set $sc $k $v }}{{ end }}
    securityContext:
      {{- toYaml $sc | nindent 6 }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    {{- if .probe }}
    readinessProbe:
      httpGet: {path: {{ .probe }}, port: {{ .component }}}
      periodSeconds: 10
    livenessProbe:
      httpGet: {path: {{ .probe }}, port: {{ .component }}}
      periodSeconds: 20
      failureThreshold: 6
    {{- else }}
    readinessProbe:
      exec:
        command: {{ toJson .execProbe }}
      periodSeconds: 15
      timeoutSeconds: 10
    livenessProbe:
      exec:
        command: {{ toJson .execProbe }}
      periodSeconds: 30
      timeoutSeconds: 10
      failureThreshold: 6
    {{- end }}
    volumeMounts:
      {{- range $i, $path := .writable }}
      - name: writable-{{ $i }}
        mountPath: {{ $path }}
      {{- end }}
volumes:
  {{- range $i, $path := .writable }}
  - name: writable-{{ $i }}
    emptyDir: {}
  {{- end }}
{{- end -}}
