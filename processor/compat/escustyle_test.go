package compat

import (
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rba"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The end-to-end tests of detections a user writes in ESCU's style (table_test.go, time_test.go, bin_test.go): the
// YAML file loaded as the processor loads rule files, the real engine, and the one writer of risk records.

// loadDetections writes each detection (file name → YAML) into a fresh directory and loads it, after paths (macro
// files).
func loadDetections(t *testing.T, files map[string]string, paths ...string) []*rule.Rule {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := loader.Load(loader.Options{Paths: append(paths, dir)})
	if err != nil {
		t.Fatalf("loading ESCU-style detections: %v", err)
	}
	return res.Rules
}

// compileRules compiles rules with the default options.
func compileRules(t *testing.T, rules []*rule.Rule) *engine.Engine {
	t.Helper()
	e, err := engine.Compile(rules, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// riskRecords writes the risk records of r, which must be want of them, as the processor writes them.
func riskRecords(t *testing.T, r engine.Result, want int) []plog.LogRecord {
	t.Helper()
	logs := plog.NewLogRecordSlice()
	src := logs.AppendEmpty()
	if n, _ := rba.NewWriter(rba.Config{}).AppendRiskRecords(logs, src, r); n != want {
		t.Fatalf("%d risk records, want %d", n, want)
	}
	out := make([]plog.LogRecord, 0, want)
	for i := 1; i < logs.Len(); i++ {
		out = append(out, logs.At(i))
	}
	return out
}
