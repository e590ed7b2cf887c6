{{/* The chart's name, at most 63 characters (a DNS label). */}}
{{- define "flameshot-node.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: "<release>" when it already holds the chart's name. */}}
{{- define "flameshot-node.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "flameshot-node.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flameshot-node.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "flameshot-node.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "flameshot-node.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "flameshot-node.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "flameshot-node.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding FLAMESHOT_HTTP_TOKEN; empty when there is none. */}}
{{- define "flameshot-node.tokenSecret" -}}
{{- if .Values.httpToken.existingSecret -}}
{{- .Values.httpToken.existingSecret -}}
{{- else if .Values.httpToken.create -}}
{{- printf "%s-token" (include "flameshot-node.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/*
The agent's FLAMESHOT_* settings from .Values.config, as env entries. A
value of "" (or an empty list or map) leaves the variable unset, so the
agent's own default applies. Checks the schema cannot express fail here.
*/}}
{{- define "flameshot-node.configEnv" -}}
{{- $c := .Values.config -}}
{{- if gt (int $c.maxJobsPerContainer) (int $c.maxConcurrentJobs) -}}
{{- fail (printf "config.maxJobsPerContainer (%v) is more than config.maxConcurrentJobs (%v): it could never be reached" $c.maxJobsPerContainer $c.maxConcurrentJobs) -}}
{{- end -}}
{{- if gt (int $c.maxProfileMb) (int $c.spoolMaxMb) -}}
{{- fail (printf "config.maxProfileMb (%v) is more than config.spoolMaxMb (%v): no profile that large could be kept" $c.maxProfileMb $c.spoolMaxMb) -}}
{{- end -}}
{{- if and (not (include "flameshot-node.tokenSecret" .)) (not $c.httpInsecure) -}}
{{- fail "no HTTP token: set httpToken.create=true or httpToken.existingSecret, or config.httpInsecure=true to serve the API unauthenticated on the Pod's address" -}}
{{- end -}}
{{- $u := $c.hprofUpload -}}
{{- if and $u.enabled (or (not $u.provider) (not $u.endpoint) (not $u.bucket) (not $u.existingSecret)) -}}
{{- fail "config.hprofUpload.enabled needs provider, endpoint, bucket and existingSecret (the keys accessKeyId, accessKeySecret)" -}}
{{- end -}}
{{- $tags := list -}}
{{- range $k, $v := $c.tags -}}
{{- $tags = append $tags (printf "%s:%v" $k $v) -}}
{{- end -}}
{{- $vars := dict
  "FLAMESHOT_MODE" $c.mode
  "FLAMESHOT_DATAKIT_ADDR" $c.datakitAddr
  "FLAMESHOT_LOCAL_KEEP" $c.localKeep
  "FLAMESHOT_UI_MAX_KB" (int64 $c.uiMaxKb)
  "FLAMESHOT_PROFILING_PATH" $c.profilingPath
  "FLAMESHOT_MONITOR_INTERVAL" $c.monitorInterval
  "FLAMESHOT_LOG_LEVEL" $c.logLevel
  "FLAMESHOT_AUTO_PROFILING" $c.autoProfiling
  "FLAMESHOT_AUTO_PROFILING_DURATION" $c.autoProfilingDuration
  "FLAMESHOT_OOM_HPROF_ENABLED" $c.oomHprofEnabled
  "FLAMESHOT_OOM_HPROF_MATCH_WINDOW" $c.oomHprofMatchWindow
  "FLAMESHOT_JCMD_SNAPSHOT_ENABLED" $c.jcmdSnapshotEnabled
  "FLAMESHOT_JCMD_TIMEOUT" $c.jcmdTimeout
  "FLAMESHOT_ATTACH_PREWARM" $c.attachPrewarm
  "FLAMESHOT_PROFILING_ENABLED" $c.profilingEnabled
  "FLAMESHOT_HEAP_DUMP_ENABLED" $c.heapDumpEnabled
  "FLAMESHOT_HEAP_DUMP_TIMEOUT" $c.heapDumpTimeout
  "FLAMESHOT_HEAP_DUMP_COOLDOWN" $c.heapDumpCooldown
  "FLAMESHOT_HEAP_DUMP_PATH_TEMPLATE" $c.heapDumpPathTemplate
  "FLAMESHOT_HPROF_UPLOAD_ENABLED" $u.enabled
  "FLAMESHOT_HPROF_UPLOAD_PROVIDER" $u.provider
  "FLAMESHOT_HPROF_UPLOAD_ENDPOINT" $u.endpoint
  "FLAMESHOT_HPROF_UPLOAD_REGION" $u.region
  "FLAMESHOT_HPROF_UPLOAD_BUCKET" $u.bucket
  "FLAMESHOT_HPROF_UPLOAD_PATH_TEMPLATE" $u.pathTemplate
  "FLAMESHOT_HPROF_DOWNLOAD_URL_TEMPLATE" $u.downloadUrlTemplate
  "FLAMESHOT_HPROF_UPLOAD_TIMEOUT" $u.timeout
  "FLAMESHOT_HPROF_UPLOAD_S3_PATH_STYLE" $u.s3PathStyle
  "FLAMESHOT_HTTP_LOCAL_PORT" (int64 $c.httpPort)
  "FLAMESHOT_HTTP_INSECURE" $c.httpInsecure
  "FLAMESHOT_SERVICE" $c.service
  "FLAMESHOT_TAGS" (join "," (sortAlpha $tags))
  "FLAMESHOT_PROCESSES" (ternary ($c.processes | toJson) "" (gt (len $c.processes) 0))
  "FLAMESHOT_NAMESPACES" (join "," $c.namespaces)
  "FLAMESHOT_EXCLUDE_NAMESPACES" (join "," $c.excludeNamespaces)
  "FLAMESHOT_KUBE_API" $c.kubeApi
  "FLAMESHOT_KUBE_SA_DIR" $c.kubeSaDir
  "FLAMESHOT_ASYNC_PROFILER_PATH" $c.asyncProfilerPath
  "FLAMESHOT_BPF" $c.bpf
  "FLAMESHOT_BPF_RING_KB" (int64 $c.bpfRingKb)
  "FLAMESHOT_EVIDENCE_LEAD" $c.evidenceLead
  "FLAMESHOT_MAX_CONCURRENT_JOBS" (int64 $c.maxConcurrentJobs)
  "FLAMESHOT_MAX_JOBS_PER_CONTAINER" (int64 $c.maxJobsPerContainer)
  "FLAMESHOT_MAX_QUEUED_PER_CONTAINER" (int64 $c.maxQueuedPerContainer)
  "FLAMESHOT_SPOOL_MAX_MB" (int64 $c.spoolMaxMb)
  "FLAMESHOT_MAX_PROFILE_MB" (int64 $c.maxProfileMb)
-}}
{{- range $name := keys $vars | sortAlpha }}
{{- $v := index $vars $name }}
{{- if ne (toString $v) "" }}
- name: {{ $name }}
  value: {{ toString $v | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Why the agent holds each capability it may be granted: the code path that
needs it. Rendered beside each added capability in the DaemonSet.
*/}}
{{- define "flameshot-node.capabilityUses" -}}
BPF: load and attach the BPF programs (src/events/bpf_events.c); SYS_ADMIN covers it
PERFMON: attach the tracing programs (src/events/bpf_events.c); SYS_ADMIN covers it
SYS_ADMIN: setns into a JVM's mount namespace (src/capture/nsexec.c); join the host's cgroup namespace (src/events/cgroup.c); load the BPF programs, libbpf listing the kernel's BTF objects, mount tracefs (src/events/bpf_events.c)
SYS_PTRACE: open /proc/<pid>/root, cwd and ns/* of other users' processes (src/capture/jvm.c, hprof.c; src/events/cgroup.c for pid 1's cgroup namespace)
DAC_READ_SEARCH: read /proc/<pid>/environ (mode 0400) of other users' JVMs for JAVA_TOOL_OPTIONS (src/capture/jvm.c, jvmopts.c, src/policy/oomwatch.c)
SYS_CHROOT: setns into a mount namespace and chroot into the container's root (src/capture/nsexec.c)
SETUID: act as the JVM's user, setresuid (src/capture/nsexec.c)
SETGID: act as the JVM's group, setgroups and setresgid (src/capture/nsexec.c)
KILL: SIGKILL of a capture step that timed out, running as the JVM's user (src/capture/nsexec.c)
SYS_RESOURCE: raise RLIMIT_MEMLOCK for BPF maps on kernels before 5.11 (libbpf, from src/events/bpf_events.c)
NET_ADMIN: subscribe to the kernel's process connector on kernels before 6.6, for the /proc poller (src/events/proc_connector.c), in the host network (http.hostNetwork=true)
{{- end -}}
