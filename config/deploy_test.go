// Package config_test checks the deployment files under config/ without a collector binary: the collector configs
// are wired consistently and name only components the distribution holds (builder-config.yaml), their auditdetect
// sections load through the real factory, the Helm values override merges into the chart's rendered agent config
// as the chart merges it, and the Dockerfile starts the binary the Makefile builds for the image's platform
// (makefile_test.go: the Makefile keeps one binary per platform). `make test-binary` then validates the same files
// with the built distribution (the merged Helm config is written where AUDITDETECT_HELM_MERGED says).
package config_test

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
)

func readYAML(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(b, &m), name)
	return m
}

// get walks keys through nested maps; nil when a key is missing.
func get(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

func mapAt(t *testing.T, m any, keys ...string) map[string]any {
	t.Helper()
	v, ok := get(m, keys...).(map[string]any)
	require.True(t, ok, "%s is not a map", strings.Join(keys, "."))
	return v
}

func strs(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// mergeChart merges src over dst as the chart merges agent.config over its rendered config: templates/
// configmap-agent.yaml is `.Values.agent.config | mustMergeOverwrite $defaultConfig`, sprig's merge over mergo with
// WithOverride: maps merge key by key, every other value (lists included) replaces, and a null is written as null.
// Helm itself drops a null a user sets only for a key of the chart's values.yaml (chartutil's coalescing walks the
// chart's keys), and agent.config is {} there: a null under it reaches the merge, which writes it into the config.
// (REFERENCE §4 and the chart's values.yaml say a null removes the key; a render with helm v3.22.0 of a chart with
// that template wrote the null instead. The model takes the render's reading, the cautious one: the override sets no
// null, which TestHelmValues checks, so the answer does not matter to it.)
func mergeChart(dst, src map[string]any) map[string]any {
	out := make(map[string]any, len(dst))
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		sm, srcIsMap := v.(map[string]any)
		dm, dstIsMap := out[k].(map[string]any)
		switch {
		case srcIsMap && dstIsMap:
			out[k] = mergeChart(dm, sm)
		case srcIsMap:
			out[k] = mergeChart(map[string]any{}, sm) // a copy
		default:
			out[k] = v
		}
	}
	return out
}

func TestMergeChart(t *testing.T) {
	tests := []struct {
		name          string
		dst, src, out map[string]any
	}{
		{name: "maps merge", dst: map[string]any{"a": map[string]any{"x": 1}}, src: map[string]any{"a": map[string]any{"y": 2}},
			out: map[string]any{"a": map[string]any{"x": 1, "y": 2}}},
		{name: "lists are replaced whole", dst: map[string]any{"p": []any{"a", "b", "c"}}, src: map[string]any{"p": []any{"b"}},
			out: map[string]any{"p": []any{"b"}}},
		{name: "a null is written, not removed", dst: map[string]any{"a": map[string]any{"x": 1, "y": 2}}, src: map[string]any{"a": map[string]any{"x": nil}},
			out: map[string]any{"a": map[string]any{"x": nil, "y": 2}}},
		{name: "a null on a missing key is written", dst: map[string]any{}, src: map[string]any{"n": nil}, out: map[string]any{"n": nil}},
		{name: "a new map keeps its nulls", dst: map[string]any{}, src: map[string]any{"a": map[string]any{"x": nil, "y": 1}},
			out: map[string]any{"a": map[string]any{"x": nil, "y": 1}}},
		{name: "a scalar replaces a map", dst: map[string]any{"a": map[string]any{"x": 1}}, src: map[string]any{"a": "s"},
			out: map[string]any{"a": "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := mergeChart(map[string]any{}, tt.dst)
			assert.Equal(t, tt.out, mergeChart(tt.dst, tt.src))
			assert.Equal(t, before, tt.dst, "dst is not modified")
		})
	}
}

// renderExtraFileLogs does what the chart does with logsCollection.extraFileLogs: each entry becomes a filelog
// receiver with the chart's checkpoint storage, feeding the logs/host pipeline.
func renderExtraFileLogs(cfg map[string]any, extra map[string]any) map[string]any {
	receivers := map[string]any{}
	var names []string
	for name, v := range extra {
		r := mergeChart(map[string]any{}, v.(map[string]any))
		r["storage"] = "file_storage"
		receivers[name] = r
		names = append(names, name)
	}
	sort.Strings(names)
	host := map[string]any{
		"receivers":  toAny(names),
		"processors": []any{"memory_limiter", "batch", "resource"},
		"exporters":  []any{"splunk_hec/platform_logs"},
	}
	return mergeChart(cfg, map[string]any{
		"receivers": receivers,
		"service":   map[string]any{"pipelines": map[string]any{"logs/host": host}},
	})
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// helmMerged renders the chart's logs-only agent config with the override's extra file logs and merges the
// override's agent.config over it, as the chart does. It returns the chart's rendered config, the override's values
// and the merged config.
func helmMerged(t *testing.T) (rendered, values, merged map[string]any) {
	t.Helper()
	rendered = readYAML(t, filepath.Join("..", "testdata", "helm", "chart-0.145.0-agent-relay-logs-only.yaml"))
	values = readYAML(t, filepath.Join("helm", "values-auditdetect.yaml"))

	// The model of the chart's extraFileLogs rendering reproduces the reference: rendering the reference values'
	// extra file log again over the rendered config changes nothing.
	refValues := readYAML(t, filepath.Join("..", "testdata", "helm", "chart-0.145.0-values-logs-only.yaml"))
	refExtra := mapAt(t, refValues, "logsCollection", "extraFileLogs")
	require.Equal(t, rendered, renderExtraFileLogs(rendered, refExtra))

	// The chart as it renders without the reference's extra file log, then with the override's.
	base := mergeChart(rendered, map[string]any{})
	receivers := mergeChart(mapAt(t, rendered, "receivers"), map[string]any{})
	for name := range refExtra {
		delete(receivers, name)
	}
	base["receivers"] = receivers
	extra := mapAt(t, values, "logsCollection", "extraFileLogs")
	merged = mergeChart(renderExtraFileLogs(base, extra), mapAt(t, values, "agent", "config"))
	return rendered, values, merged
}

func TestHelmValues(t *testing.T) {
	rendered, values, merged := helmMerged(t)
	extra := mapAt(t, values, "logsCollection", "extraFileLogs")
	if out := os.Getenv("AUDITDETECT_HELM_MERGED"); out != "" {
		b, err := yaml.Marshal(merged)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(out), 0o755))
		require.NoError(t, os.WriteFile(out, b, 0o644))
	}

	assert.Equal(t, []string{"memory_limiter", "auditdetect", "batch", "resource"}, strs(get(merged, "service", "pipelines", "logs/host", "processors")))
	assert.Equal(t, []string{"filelog/audit-log"}, strs(get(merged, "service", "pipelines", "logs/host", "receivers")))
	// A null cannot remove anything the chart declares (mergeChart): the override sets none, and the distribution
	// holds every component the chart's own config names.
	assert.Empty(t, nulls(mapAt(t, values, "agent", "config"), "agent.config"))
	assert.Equal(t, get(rendered, "receivers", "prometheus/agent"), get(merged, "receivers", "prometheus/agent"))
	// Everything else is the chart's.
	assert.Equal(t, get(rendered, "service", "pipelines", "logs"), get(merged, "service", "pipelines", "logs"))
	assert.Equal(t, get(rendered, "exporters"), get(merged, "exporters"))
	assert.Equal(t, get(rendered, "extensions"), get(merged, "extensions"))

	checkWiring(t, merged)
	assert.Empty(t, unknownComponents(t, merged))
	assert.Empty(t, unknownComponents(t, rendered), "the chart's own agent config names only components of the distribution")
	// The cluster receiver Deployment runs image.otelcol with receivers (k8s_cluster, k8s_events) the distribution
	// does not hold: it is turned off.
	assert.Equal(t, false, get(values, "clusterReceiver", "enabled"))
	// The chart's memory_limiter reads SPLUNK_MEMORY_LIMIT_MIB, which its DaemonSet does not set (only
	// SPLUNK_MEMORY_TOTAL_MIB, from which the Splunk distribution's launcher derives it): the override does.
	assert.Equal(t, "${SPLUNK_MEMORY_LIMIT_MIB}", get(merged, "processors", "memory_limiter", "limit_mib"))
	env := podEnv(t, values)
	require.Contains(t, env, "SPLUNK_MEMORY_LIMIT_MIB")
	if out := os.Getenv("AUDITDETECT_HELM_ENV"); out != "" {
		var lines []string
		for k, v := range env {
			lines = append(lines, k+"="+v)
		}
		sort.Strings(lines)
		require.NoError(t, os.WriteFile(out, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	}
	checkAuditdetect(t, mapAt(t, merged, "processors", "auditdetect"))

	assert.Equal(t, "ghcr.io/auditdetect/otelcol-auditdetect", get(values, "image", "otelcol", "repository"))
	assert.NotEmpty(t, get(values, "image", "otelcol", "tag"))
	assert.EqualValues(t, 0, get(values, "agent", "securityContext", "runAsUser"), "the audit log is 0600 root")
	// The audit log is inside a directory the agent mounts from the host, under the same path.
	include := strs(get(extra, "filelog/audit-log", "include"))[0]
	var mounted bool
	for _, m := range get(values, "agent", "extraVolumeMounts").([]any) {
		mp := m.(map[string]any)["mountPath"].(string)
		for _, v := range get(values, "agent", "extraVolumes").([]any) {
			vm := v.(map[string]any)
			if vm["name"] == m.(map[string]any)["name"] && get(vm, "hostPath", "path") == mp && strings.HasPrefix(include, mp+"/") {
				mounted = true
			}
		}
	}
	assert.True(t, mounted, "%s is not mounted from the host", include)
	assert.Equal(t, "kubernetes", get(extra, "filelog/audit-log", "resource", "com.splunk.source"), "ESCU's kube_audit macro: source=\"kubernetes\"")
	assert.Equal(t, "/var/log/kubernetes/audit/audit.log", include, "the path config/standalone.yaml defaults to")

	// The collector's own metrics are reachable from outside: the chart's reader listened on localhost inside a
	// hostNetwork pod (prometheus/agent, which scraped it, is in no pipeline of a logs-only install). The override
	// keeps the chart's reader, bound to the pod's address (the chart's DaemonSet sets K8S_POD_IP), and annotates
	// the pod for scraping on its port.
	readers, ok := get(merged, "service", "telemetry", "metrics", "readers").([]any)
	require.True(t, ok, "service.telemetry.metrics.readers")
	require.Len(t, readers, 1)
	prom := mapAt(t, readers[0], "pull", "exporter", "prometheus")
	assert.Equal(t, "${env:K8S_POD_IP}", prom["host"], "not localhost: nothing outside the pod's network namespace could scrape it")
	chartReaders := get(rendered, "service", "telemetry", "metrics", "readers").([]any)
	require.Len(t, chartReaders, 1)
	chartProm := mergeChart(mapAt(t, chartReaders[0], "pull", "exporter", "prometheus"), map[string]any{"host": nil})
	assert.Equal(t, chartProm, mergeChart(prom, map[string]any{"host": nil}), "otherwise the chart's reader (names as docs/operations.md lists them)")
	assert.Equal(t, get(rendered, "service", "telemetry", "resource"), get(merged, "service", "telemetry", "resource"))
	ann := mapAt(t, values, "agent", "podAnnotations")
	assert.Equal(t, "true", ann["prometheus.io/scrape"])
	assert.Equal(t, fmt.Sprint(prom["port"]), ann["prometheus.io/port"])
	assert.Equal(t, "/metrics", ann["prometheus.io/path"])
}

// nulls lists the keys under m set to null, by path.
func nulls(m map[string]any, path string) []string {
	var out []string
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			out = append(out, path+"."+k)
		case map[string]any:
			out = append(out, nulls(v, path+"."+k)...)
		}
	}
	return out
}

// podEnv is the environment of the chart's agent container (templates/daemonset.yaml), with placeholders for what
// the pod's fields and secret give, and the override's agent.extraEnvs.
func podEnv(t *testing.T, values map[string]any) map[string]string {
	t.Helper()
	env := map[string]string{
		"SPLUNK_MEMORY_TOTAL_MIB": "500", "K8S_NODE_NAME": "node-1", "K8S_NODE_IP": "127.0.0.1", "K8S_POD_IP": "127.0.0.1",
		"K8S_POD_NAME": "agent-0", "K8S_POD_UID": "00000000-0000-0000-0000-000000000001", "K8S_NAMESPACE": "default",
		"SPLUNK_PLATFORM_HEC_TOKEN": "00000000-0000-0000-0000-000000000000",
	}
	extra, _ := get(values, "agent", "extraEnvs").([]any)
	for _, e := range extra {
		name, _ := get(e, "name").(string)
		value, ok := get(e, "value").(string)
		require.True(t, name != "" && ok, "agent.extraEnvs entry %v: a name and a string value", e)
		env[name] = value
	}
	return env
}

// collectorConfigs returns every collector configuration shipped under config/ (a file with service.pipelines), by
// name, and the Helm agent config as the chart merges it.
func collectorConfigs(t *testing.T) map[string]map[string]any {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yaml", filepath.Join("sources", "*.yaml"), filepath.Join("scale-out", "*.yaml")} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	out := map[string]map[string]any{}
	for _, f := range files {
		if cfg := readYAML(t, f); get(cfg, "service", "pipelines") != nil {
			out[f] = cfg
		}
	}
	_, _, merged := helmMerged(t)
	out["helm/values-auditdetect.yaml (merged)"] = merged
	return out
}

// TestEveryAuditdetectSection: every auditdetect processor of every shipped collector config loads through the real
// factory, its rules, macros and rule_overrides (throttle fields against the rules' result fields) included.
func TestEveryAuditdetectSection(t *testing.T) {
	n := 0
	for name, cfg := range collectorConfigs(t) {
		procs, _ := cfg["processors"].(map[string]any)
		for id, section := range procs {
			if typ, _, _ := strings.Cut(id, "/"); typ == "auditdetect" {
				t.Run(name+"/"+id, func(t *testing.T) {
					s, _ := withEnvDefaults(section).(map[string]any)
					checkAuditdetect(t, s)
				})
				n++
			}
		}
	}
	assert.GreaterOrEqual(t, n, 10, "auditdetect sections checked")
}

var envRef = regexp.MustCompile(`\$\{env:[A-Za-z_][A-Za-z0-9_]*(?::-([^}]*))?\}`)

// withEnvDefaults resolves ${env:NAME:-default} references in the strings of v to their defaults (to "" without
// one), as the collector would with the variables unset.
func withEnvDefaults(v any) any {
	switch v := v.(type) {
	case string:
		return envRef.ReplaceAllString(v, "$1")
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = withEnvDefaults(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = withEnvDefaults(x)
		}
		return out
	}
	return v
}

// auditLogReader is a filelog receiver of a shipped config that feeds an auditdetect processor.
type auditLogReader struct {
	where   string // config, pipeline and receiver
	cfg     *filelogreceiver.FileLogConfig
	maxBody int // the largest max_body_bytes of the pipeline's auditdetect processors
}

// auditLogReaders returns every filelog receiver of the shipped configs, the merged Helm agent included, that feeds
// an auditdetect processor.
func auditLogReaders(t *testing.T) []auditLogReader {
	var out []auditLogReader
	for name, cfg := range collectorConfigs(t) {
		for pname, p := range mapAt(t, cfg, "service", "pipelines") {
			maxBody := 0
			procs, _ := get(p, "processors").([]any)
			for _, id := range procs {
				if typ, _, _ := strings.Cut(id.(string), "/"); typ == "auditdetect" {
					section, _ := get(cfg, "processors", id.(string)).(map[string]any)
					maxBody = max(maxBody, auditdetectConfig(t, section).MaxBodyBytes)
				}
			}
			if maxBody == 0 {
				continue
			}
			for _, id := range get(p, "receivers").([]any) {
				if typ, _, _ := strings.Cut(id.(string), "/"); typ != "filelog" {
					continue
				}
				section, _ := get(cfg, "receivers", id.(string)).(map[string]any)
				fl := filelogreceiver.NewFactory().CreateDefaultConfig()
				require.NoError(t, confmap.NewFromStringMap(section).Unmarshal(fl), "%s: %s", name, id)
				out = append(out, auditLogReader{where: fmt.Sprintf("%s: pipeline %s: receiver %s", name, pname, id),
					cfg: fl.(*filelogreceiver.FileLogConfig), maxBody: maxBody})
			}
		}
	}
	// standalone, splunk, demo, sources/filelog, scale-out/agent and the Helm agent.
	require.Len(t, out, 6, "filelog receivers feeding auditdetect")
	return out
}

// TestFilelogReadsWholeEvents: every filelog receiver that feeds an auditdetect processor reads lines at least as
// long as the processor's max_body_bytes. filelog cuts a longer line into pieces (max_log_size, default 1 MiB),
// which the processor counts unparsed and never evaluates: an audit event padded past max_log_size (a privileged
// pod spec with a large annotation) would escape every rule.
func TestFilelogReadsWholeEvents(t *testing.T) {
	for _, r := range auditLogReaders(t) {
		size := int(r.cfg.InputConfig.MaxLogSize)
		assert.GreaterOrEqual(t, size, r.maxBody, "%s: max_log_size %d is below the max_body_bytes of its auditdetect (%d)",
			r.where, size, r.maxBody)
	}
}

// TestFilelogPassesLinesUndecoded: every filelog receiver that feeds an auditdetect processor reads with
// `encoding: utf-8-raw`. filelog's default decoder replaces invalid UTF-8 in every line, a third of a whole
// collector's CPU (docs/performance.md, the throughput test); what the rare invalid bytes do without it is in
// docs/operations.md, "Deployment".
func TestFilelogPassesLinesUndecoded(t *testing.T) {
	for _, r := range auditLogReaders(t) {
		enc := strings.ToLower(r.cfg.InputConfig.Encoding)
		assert.Contains(t, []string{"utf-8-raw", "utf8-raw"}, enc, "%s: encoding %q", r.where, r.cfg.InputConfig.Encoding)
	}
}

func TestCollectorConfigs(t *testing.T) {
	for _, name := range []string{"standalone.yaml", "splunk.yaml"} {
		t.Run(name, func(t *testing.T) {
			cfg := readYAML(t, name)
			checkWiring(t, cfg)
			assert.Empty(t, unknownComponents(t, cfg))
			checkAuditdetect(t, mapAt(t, cfg, "processors", "auditdetect"))
		})
	}
	// splunk.yaml splits the streams on the index the processor writes on risk records.
	cfg := readYAML(t, "splunk.yaml")
	risk := get(cfg, "processors", "auditdetect", "risk_index").(string)
	assert.Equal(t, []string{`attributes["com.splunk.index"] == "` + risk + `"`}, strs(get(cfg, "processors", "filter/audit_only", "logs", "log_record")))
	assert.Equal(t, []string{`attributes["com.splunk.index"] != "` + risk + `"`}, strs(get(cfg, "processors", "filter/risk_only", "logs", "log_record")))
	assert.Equal(t, []string{"splunk_hec/risk"}, strs(get(cfg, "service", "pipelines", "logs/risk", "exporters")))
	assert.Equal(t, []string{"splunk_hec/audit"}, strs(get(cfg, "service", "pipelines", "logs/audit", "exporters")))
}

// checkWiring checks that every component a pipeline or the service names is defined, and every connector is used
// as both an exporter and a receiver.
func checkWiring(t *testing.T, cfg map[string]any) {
	t.Helper()
	defined := func(kind, name string) bool {
		m, _ := cfg[kind].(map[string]any)
		_, ok := m[name]
		return ok
	}
	for _, ext := range strs(get(cfg, "service", "extensions")) {
		assert.True(t, defined("extensions", ext), "extension %s", ext)
	}
	asReceiver, asExporter := map[string]bool{}, map[string]bool{}
	for name, p := range mapAt(t, cfg, "service", "pipelines") {
		for _, kind := range []string{"receivers", "processors", "exporters"} {
			list, ok := get(p, kind).([]any)
			if kind != "processors" {
				require.True(t, ok && len(list) > 0, "pipeline %s has no %s", name, kind)
			}
			for _, c := range list {
				c := c.(string)
				switch {
				case kind == "receivers" && defined("connectors", c):
					asReceiver[c] = true
				case kind == "exporters" && defined("connectors", c):
					asExporter[c] = true
				default:
					assert.True(t, defined(kind, c), "pipeline %s: %s %s is not defined", name, kind, c)
				}
			}
		}
	}
	for c := range asReceiver {
		assert.True(t, asExporter[c], "connector %s receives from no pipeline", c)
	}
	// A component's storage (filelog's offsets, an exporter's queue, auditdetect's state) must be an extension the
	// service runs: `validate` does not check it, start-up fails on it.
	running := map[string]bool{}
	for _, ext := range strs(get(cfg, "service", "extensions")) {
		running[ext] = true
	}
	for _, kind := range []string{"receivers", "processors", "exporters"} {
		comps, _ := cfg[kind].(map[string]any)
		for name, c := range comps {
			for _, st := range []any{get(c, "storage"), get(c, "sending_queue", "storage")} {
				if id, ok := st.(string); ok {
					assert.True(t, running[id], "%s %s: storage %s is not among the service's extensions", kind, name, id)
				}
			}
		}
	}
}

// distributionTypes reads the component types built into the distribution from builder-config.yaml: the last
// element of each module (or import) path without its kind suffix (filelogreceiver → filelog). Types are compared
// without underscores (splunk_hec → splunkhec).
func distributionTypes(t *testing.T) map[string]bool {
	t.Helper()
	type component struct {
		GoMod  string `yaml:"gomod"`
		Import string `yaml:"import"`
	}
	var bc struct {
		Receivers  []component `yaml:"receivers"`
		Processors []component `yaml:"processors"`
		Exporters  []component `yaml:"exporters"`
		Extensions []component `yaml:"extensions"`
		Connectors []component `yaml:"connectors"`
	}
	b, err := os.ReadFile(filepath.Join("..", "builder-config.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &bc))
	types := map[string]bool{}
	suffix := regexp.MustCompile(`(receiver|processor|exporter|extension|connector)$`)
	for _, list := range [][]component{bc.Receivers, bc.Processors, bc.Exporters, bc.Extensions, bc.Connectors} {
		for _, c := range list {
			p := c.Import
			if p == "" {
				p = strings.Fields(c.GoMod)[0]
			}
			types[suffix.ReplaceAllString(path.Base(p), "")] = true
		}
	}
	require.True(t, types["auditdetect"] && types["filelog"] && types["splunkhec"], "read the builder config: %v", types)
	return types
}

// unknownComponents lists the components the config defines whose type the distribution lacks; a collector refuses
// such a config at start-up (`unknown type`).
func unknownComponents(t *testing.T, cfg map[string]any) []string {
	t.Helper()
	types := distributionTypes(t)
	var out []string
	for _, kind := range []string{"receivers", "processors", "exporters", "extensions", "connectors"} {
		m, _ := cfg[kind].(map[string]any)
		for id := range m {
			typ, _, _ := strings.Cut(id, "/")
			if !types[strings.ReplaceAll(typ, "_", "")] {
				out = append(out, kind+" "+id)
			}
		}
	}
	sort.Strings(out)
	return out
}

// checkAuditdetect loads an auditdetect section through the real factory, as the collector does.
func checkAuditdetect(t *testing.T, section map[string]any) {
	t.Helper()
	require.NoError(t, xconfmap.Validate(auditdetectConfig(t, section)))
}

// auditdetectConfig unmarshals an auditdetect section over the factory's defaults.
func auditdetectConfig(t *testing.T, section map[string]any) *auditdetectprocessor.Config {
	t.Helper()
	cfg := auditdetectprocessor.NewFactory().CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(section).Unmarshal(cfg))
	return cfg.(*auditdetectprocessor.Config)
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("docker", "Dockerfile"))
	require.NoError(t, err)
	dockerfile := string(b)
	mk, err := os.ReadFile(filepath.Join("..", "Makefile"))
	require.NoError(t, err)

	// The binary the Makefile builds for a platform: PLATFORM_BINARY = bin/$(1)/$(DIST_NAME), $(1) being
	// <GOOS>_<GOARCH>, DIST_NAME := <name>. The image's is linux_<the image's architecture>.
	dist := regexp.MustCompile(`(?m)^DIST_NAME := (\S+)$`).FindStringSubmatch(string(mk))
	require.NotNil(t, dist, "DIST_NAME in the Makefile")
	binaryRule := regexp.MustCompile(`(?m)^PLATFORM_BINARY = (\S+)$`).FindStringSubmatch(string(mk))
	require.NotNil(t, binaryRule, "PLATFORM_BINARY in the Makefile")
	platformBinary := func(platform string) string {
		return strings.NewReplacer("$(1)", platform, "$(DIST_NAME)", dist[1]).Replace(binaryRule[1])
	}
	binary := platformBinary("linux_${TARGETARCH}")
	var bc struct {
		Dist struct {
			Name string `yaml:"name"`
		} `yaml:"dist"`
	}
	bcb, err := os.ReadFile(filepath.Join("..", "builder-config.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(bcb, &bc))
	assert.Equal(t, bc.Dist.Name, dist[1], "the Makefile and builder-config.yaml name the same binary")

	copyBin := regexp.MustCompile(`(?m)^COPY ` + regexp.QuoteMeta(binary) + ` (\S+)$`).FindStringSubmatch(dockerfile)
	require.NotNil(t, copyBin, "the Dockerfile copies %s", binary)
	// A stage sees TARGETARCH (set by BuildKit: the image's architecture) only once it declares it.
	stages := regexp.MustCompile(`(?m)^FROM `).FindAllStringIndex(dockerfile, -1)
	require.NotEmpty(t, stages)
	lastStage := dockerfile[stages[len(stages)-1][0]:]
	assert.Regexp(t, `(?m)^ARG TARGETARCH\n(?:.*\n)*COPY `+regexp.QuoteMeta(binary), lastStage, "ARG TARGETARCH before the COPY, in the image's stage")
	// The chart's agent container runs `command: [/otelcol, --config=/conf/relay.yaml]`, and its migrate-checkpoint
	// init container `command: [/migratecheckpoint]` from the same image (templates/daemonset.yaml).
	assert.Equal(t, "/otelcol", copyBin[1], "the chart runs the collector as /otelcol")
	entry := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]$`).FindStringSubmatch(dockerfile)
	require.NotNil(t, entry, "ENTRYPOINT in exec form, the binary alone")
	assert.Equal(t, copyBin[1], entry[1], "the entrypoint is the copied binary")
	stage := regexp.MustCompile(`(?m)^FROM (\S+) AS (\S+)$`).FindStringSubmatch(dockerfile)
	require.NotNil(t, stage, "a stage of the Splunk distribution's image")
	assert.Regexp(t, `^quay\.io/signalfx/splunk-otel-collector:\d+\.\d+\.\d+$`, stage[1], "pinned")
	assert.Regexp(t, `(?m)^COPY --from=`+regexp.QuoteMeta(stage[2])+` /migratecheckpoint /migratecheckpoint$`, dockerfile,
		"the chart's init container finds /migratecheckpoint")

	copyCfg := regexp.MustCompile(`(?m)^COPY (\S+) (\S+)$`).FindAllStringSubmatch(dockerfile, -1)
	cmd := regexp.MustCompile(`(?m)^CMD \["--config=([^"]+)"\]$`).FindStringSubmatch(dockerfile)
	require.NotNil(t, cmd)
	var cfgSrc string
	for _, c := range copyCfg {
		if c[2] == cmd[1] {
			cfgSrc = c[1]
		}
	}
	require.NotEmpty(t, cfgSrc, "the default --config is copied into the image")
	_, err = os.Stat(filepath.Join("..", cfgSrc))
	assert.NoError(t, err)

	// The build context is the repository root, cut down to what the image copies.
	ignore, err := os.ReadFile(filepath.Join("docker", "Dockerfile.dockerignore"))
	require.NoError(t, err)
	lines := strings.Split(string(ignore), "\n")
	assert.Contains(t, lines, "*")
	kept := func(file string) bool {
		for _, l := range lines {
			if ok, _ := path.Match(strings.TrimPrefix(l, "!"), file); ok && strings.HasPrefix(l, "!") {
				return true
			}
		}
		return false
	}
	for _, src := range []string{platformBinary("linux_amd64"), platformBinary("linux_arm64"), cfgSrc} {
		assert.True(t, kept(src), "%s is excluded from the build context", src)
	}
	// Only the image's platforms: a binary for the build machine (a Mac's) stays out.
	for _, src := range []string{platformBinary("darwin_arm64"), "bin/" + dist[1]} {
		assert.False(t, kept(src), "%s is in the build context", src)
	}
}
