package spl

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/internal/corpus"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// corpusDir finds the shared ESCU corpus (../shared/corpus/escu beside the module), or skips the test visibly.
func corpusDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(corpus.Dir(t), "escu")
}

type corpusFile struct {
	Name       string `yaml:"name"`
	Search     string `yaml:"search"`
	Definition string `yaml:"definition"`
}

func readCorpus(t *testing.T, pattern string) map[string]corpusFile {
	t.Helper()
	files, err := filepath.Glob(pattern)
	require.NoError(t, err)
	out := map[string]corpusFile{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var c corpusFile
		require.NoError(t, yaml.Unmarshal(data, &c), f)
		out[f] = c
	}
	return out
}

// corpusMacros returns the allow-list macros of the corpus. kube_audit keeps its default (match all): the corpus
// definition, source="kubernetes", names a Splunk metadata field that audit events do not carry.
func corpusMacros(t *testing.T, dir string) Macros {
	m := Macros{}
	for _, c := range readCorpus(t, filepath.Join(dir, "macros", "*.yml")) {
		if c.Name != "kube_audit" {
			m[c.Name] = c.Definition
		}
	}
	return m
}

func TestCorpusCompiles(t *testing.T) {
	dir := corpusDir(t)
	macros := corpusMacros(t, dir)
	v4 := readCorpus(t, filepath.Join(dir, "v4", "*.yml"))
	v5 := readCorpus(t, filepath.Join(dir, "v5", "*.yml"))
	require.Len(t, v4, 15)
	require.Len(t, v5, 2)
	for _, set := range []map[string]corpusFile{v4, v5} {
		for _, file := range slices.Sorted(maps.Keys(set)) {
			c := set[file]
			t.Run(filepath.Base(filepath.Dir(file))+"/"+filepath.Base(file), func(t *testing.T) {
				filter, pipeline, err := Compile(c.Search, macros)
				require.NoError(t, err)
				assert.NotEqual(t, rule.True{}, filter, "every corpus search filters events")
				require.NotEmpty(t, pipeline)
				// Every corpus search ends in stats (or where after stats) and a rename to src_ip/user.
				last, ok := pipeline[len(pipeline)-1].(rule.Rename)
				require.True(t, ok, "last stage is %T", pipeline[len(pipeline)-1])
				assert.Contains(t, last.Pairs, rule.RenamePair{From: "sourceIPs{}", To: "src_ip"})
			})
		}
	}
}

// TestCorpusGenerationsAgree checks that the v4 (one line) and v5 (`|-` block) forms of the same detections compile
// to the same rule.
func TestCorpusGenerationsAgree(t *testing.T) {
	dir := corpusDir(t)
	for _, name := range []string{"kubernetes_node_port_creation.yml", "kubernetes_pod_with_host_network_attachment.yml"} {
		t.Run(name, func(t *testing.T) {
			v4 := readCorpus(t, filepath.Join(dir, "v4", name))[filepath.Join(dir, "v4", name)]
			v5 := readCorpus(t, filepath.Join(dir, "v5", name))[filepath.Join(dir, "v5", name)]
			require.NotEqual(t, v4.Search, v5.Search)
			f4, p4, err := Compile(v4.Search, nil)
			require.NoError(t, err)
			f5, p5, err := Compile(v5.Search, nil)
			require.NoError(t, err)
			assert.Equal(t, f4, f5)
			assert.Equal(t, p4, p5)
		})
	}
}

func TestCorpusNodePort(t *testing.T) {
	dir := corpusDir(t)
	file := filepath.Join(dir, "v5", "kubernetes_node_port_creation.yml")
	c := readCorpus(t, file)[file]
	filter, pipeline, err := Compile(c.Search, nil)
	require.NoError(t, err)
	assert.Equal(t, rule.And{
		eq("objectRef.resource", "services"),
		eq("verb", "create"),
		eq("requestObject.spec.type", "NodePort"),
	}, filter)
	assert.Equal(t, []rule.Stage{
		rule.FillNull{Value: "0"},
		rule.Stats{
			Aggs: []rule.Aggregate{{Func: "count"}, {Func: "values", Field: "user.groups{}", As: "user_groups"}},
			By: []string{"kind", "objectRef.name", "objectRef.namespace", "objectRef.resource", "requestObject.kind",
				"requestObject.spec.type", "responseStatus.code", "sourceIPs{}", "stage", "user.username", "userAgent", "verb"},
		},
		rule.Rename{Pairs: []rule.RenamePair{{From: "sourceIPs{}", To: "src_ip"}, {From: "user.username", To: "user"}}},
	}, pipeline)
}

func TestCorpusPrivilegedPod(t *testing.T) {
	dir := corpusDir(t)
	file := filepath.Join(dir, "v4", "kubernetes_create_or_update_privileged_pod.yml")
	c := readCorpus(t, file)[file]
	require.Contains(t, c.Search, `*\"privileged\":true*`, "the corpus text carries the backslash escapes")
	filter, pipeline, err := Compile(c.Search, nil)
	require.NoError(t, err)
	const annotation = "requestObject.metadata.annotations.kubectl.kubernetes.io/last-applied-configuration"
	assert.Equal(t, rule.And{
		eq("objectRef.resource", "pods"),
		rule.Or{eq("verb", "create"), eq("verb", "update")},
		eq(annotation, `*"privileged":true*`),
	}, filter)
	require.Len(t, pipeline, 3)
	stats := pipeline[1].(rule.Stats)
	assert.Equal(t, annotation, stats.By[len(stats.By)-1])
}

func TestCorpusScanningWhere(t *testing.T) {
	dir := corpusDir(t)
	file := filepath.Join(dir, "v4", "kubernetes_access_scanning.yml")
	c := readCorpus(t, file)[file]
	filter, pipeline, err := Compile(c.Search, nil)
	require.NoError(t, err)
	assert.Equal(t, rule.And{eq("user.groups{}", "system:unauthenticated"), eq("responseStatus.code", "403")}, filter)
	require.Len(t, pipeline, 4)
	assert.Equal(t, rule.IPLocation{Field: "sourceIPs{}"}, pipeline[0])
	stats := pipeline[1].(rule.Stats)
	assert.Equal(t, []string{"sourceIPs{}", "Country", "City"}, stats.By)
	assert.Contains(t, stats.Aggs, rule.Aggregate{Func: "values", Field: "user.groups{}", As: "user.groups{}"})
	assert.Equal(t, rule.Where{Cond: cmp("count", rule.OpGt, "5", true)}, pipeline[2])
}

func TestCorpusAllowListMacro(t *testing.T) {
	dir := corpusDir(t)
	macros := corpusMacros(t, dir)
	file := filepath.Join(dir, "v4", "kubernetes_suspicious_image_pulling.yml")
	c := readCorpus(t, file)[file]
	filter, pipeline, err := Compile(c.Search, macros)
	require.NoError(t, err)
	assert.Equal(t, eq("requestObject.message", "Pulling image*"), filter)
	assert.Equal(t, rule.Search{Cond: not(rule.Or{eq("objectRef.name", "*splunk*"), eq("objectRef.name", "*falco*")})}, pipeline[0])

	// Without the allow-list macro the search does not load.
	_, _, err = Compile(c.Search, nil)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "undefined macro `kube_allowed_images` (load its macro file with the rules, as security_content's "+
		"macros/ folder, or define it in the macros setting)", e.Reason)
	assert.Equal(t, 1, e.Line)
	assert.Equal(t, strings.Index(c.Search, "`kube_allowed_images`")+1, e.Column)
}
