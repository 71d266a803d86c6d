package auditdetectprocessor

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/otel/attribute"
)

// lookupRule flags a service whose type the allowed_types lookup does not allow.
const lookupRule = `name: Test Service Type Allowed
id: 0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0098
search: '` + "`kube_audit`" + ` objectRef.resource=services verb=create
  | lookup allowed_types type AS requestObject.spec.type OUTPUT allowed
  | search NOT allowed=true
  | rename user.username as user'
rba:
  message: service by $user$
  risk_objects: [{field: user, type: user, score: 20}]
`

// TestLookupsSetting: lookups is read from the configuration, and checked: a name a search cannot write, an empty
// path, a CSV that does not read (with its file and line), a lookup no rule names.
func TestLookupsSetting(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "svc.yml"), lookupRule)
	good := filepath.Join(dir, "tables", "types.csv")
	writeFile(t, good, "type,allowed\nClusterIP,true\n")
	bad := filepath.Join(dir, "tables", "bad.csv")
	writeFile(t, bad, "type,allowed\nClusterIP,true,x\n")

	cfg := createDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{"rules": []any{dir},
		"lookups": map[string]any{"allowed_types": good}}).Unmarshal(cfg))
	assert.Equal(t, map[string]string{"allowed_types": good}, cfg.Lookups)
	require.NoError(t, xconfmap.Validate(cfg))

	for _, tt := range []struct {
		lookups map[string]string
		err     string
	}{
		{map[string]string{"allowed types": good}, `lookups: "allowed types" is not a lookup name`},
		{map[string]string{"allowed_types": " "}, `lookups: "allowed_types": the CSV file's path is empty`},
		{map[string]string{"allowed_types": bad}, bad + `:2:16: 3 fields, where the header has 2`},
		{map[string]string{"allowed_types": good, "alowed_types": good}, `lookups: "alowed_types" is named by no loaded rule, so it would change nothing (did you mean "allowed_types"?)`},
		{nil, `undefined lookup "allowed_types"`},
	} {
		cfg.Lookups = tt.lookups
		err := xconfmap.Validate(cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.err)
	}
}

// TestReloadOnLookupChange: with reload_interval set, a changed CSV (the lookups setting's, or the one beside a
// lookup file among the rules) reloads the rules, as a changed rule file does.
func TestReloadOnLookupChange(t *testing.T) {
	for _, configured := range []bool{true, false} {
		t.Run(map[bool]string{true: "configured CSV", false: "CSV beside the lookup file"}[configured], func(t *testing.T) {
			dir := t.TempDir()
			rules := filepath.Join(dir, "rules")
			writeFile(t, filepath.Join(rules, "svc.yml"), lookupRule)
			cfg := createDefaultConfig()
			cfg.Rules = []string{rules}
			cfg.ReloadInterval = tick
			csv := filepath.Join(rules, "lookups", "allowed_types.csv")
			writeFile(t, filepath.Join(rules, "lookups", "allowed_types.yml"), "name: allowed_types\nlookup_type: csv\n")
			if configured {
				csv = filepath.Join(dir, "types.csv")
				writeFile(t, filepath.Join(rules, "lookups", "allowed_types.csv"), "type,allowed\n")
				cfg.Lookups = map[string]string{"allowed_types": csv}
			}
			writeFile(t, csv, "type,allowed\nClusterIP,true\n")
			s := startWithLogs(t, cfg)
			require.True(t, s.flags(t, nodePortCreate))
			require.False(t, s.flags(t, clusterIPCreate))

			writeFile(t, csv, "type,allowed\nNodePort,true\n")
			require.Eventually(t, func() bool { return s.flags(t, clusterIPCreate) }, waitFor, tick, "the new table never ran")
			assert.False(t, s.flags(t, nodePortCreate))
		})
	}
}

// TestReloadWhileLookupTableIsGone: a CSV file deleted while the rules run (a ConfigMap update caught half-way) is a
// reload that fails: it is reported and counted, the running rules keep their table, and the file's return to what
// runs ends the failure without a reload.
func TestReloadWhileLookupTableIsGone(t *testing.T) {
	rules := filepath.Join(t.TempDir(), "rules")
	writeFile(t, filepath.Join(rules, "svc.yml"), lookupRule)
	writeFile(t, filepath.Join(rules, "lookups", "allowed_types.yml"), "name: allowed_types\nlookup_type: csv\n")
	csv := filepath.Join(rules, "lookups", "allowed_types.csv")
	writeFile(t, csv, "type,allowed\nClusterIP,true\n")
	cfg := createDefaultConfig()
	cfg.Rules = []string{rules}
	cfg.ReloadInterval = tick
	s := startWithLogs(t, cfg)
	require.True(t, s.flags(t, nodePortCreate))

	reloads := func(result string) int64 {
		return sumAttr(s.tel, "otelcol_processor_auditdetect_reloads", attribute.String("result", result))
	}
	require.NoError(t, os.Remove(csv))
	require.Eventually(t, func() bool {
		return reloads("failure") == 1 && gauge(s.tel, "otelcol_processor_auditdetect_reload_failing") == 1
	}, waitFor, tick)
	failed := s.logs.FilterMessage("auditdetect rule reload failed; the previous rules keep running").All()
	require.Len(t, failed, 1)
	assert.Contains(t, failed[0].ContextMap()["error"], "allowed_types.csv")
	assert.True(t, s.flags(t, nodePortCreate), "the running rules keep their table")
	assert.False(t, s.flags(t, clusterIPCreate))

	replaceFile(t, csv, "type,allowed\nClusterIP,true\n")
	require.Eventually(t, func() bool { return gauge(s.tel, "otelcol_processor_auditdetect_reload_failing") == 0 }, waitFor, tick)
	assert.Equal(t, [2]int64{1, 0}, [2]int64{reloads("failure"), reloads("success")}, "back to what runs: nothing to reload")
}
