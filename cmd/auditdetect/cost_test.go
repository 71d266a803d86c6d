package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var sampleLog = filepath.Join("..", "..", "testdata", "audit", "sample-audit.log")

// sampleOps reads the operations of the sample log independently of the engine: verb and objectRef.resource of
// each line, decoded with encoding/json.
func sampleOps(t *testing.T) (ops []struct{ verb, resource string }) {
	t.Helper()
	f, err := os.Open(sampleLog)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var ev struct {
			Verb      string `json:"verb"`
			ObjectRef struct {
				Resource string `json:"resource"`
			} `json:"objectRef"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue // the sample's one truncated line
		}
		ops = append(ops, struct{ verb, resource string }{ev.Verb, ev.ObjectRef.Resource})
	}
	require.NoError(t, sc.Err())
	return ops
}

func TestCostReport(t *testing.T) {
	var stdout, stderr bytes.Buffer
	exit := run([]string{"cost", "-events", sampleLog, "-passes", "2", "-format", "json"}, &stdout, &stderr)
	require.Equal(t, exitOK, exit, stderr.String())
	var rep costReport
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rep))

	ops := sampleOps(t)
	assert.Equal(t, len(ops), rep.Events, "every whole line of the sample log is one event")
	assert.Equal(t, 1, rep.Unreadable, "the sample's truncated line")
	assert.Equal(t, 2, rep.Passes)
	assert.Positive(t, rep.EmptyNS)
	assert.Greater(t, rep.AllNS, rep.EmptyNS, "the built-in pack costs more than reading the verb")

	builtinRules, err := load(nil, &ruleFlags{onRuleError: "fail"}, &stderr)
	require.NoError(t, err)
	require.Len(t, rep.Rules, len(builtinRules))
	seen := map[string]bool{}
	for i, r := range rep.Rules {
		assert.False(t, seen[r.ID], "rule %s listed twice", r.ID)
		seen[r.ID] = true
		assert.Equal(t, r.AloneNS-rep.EmptyNS, r.AddedNS, r.Name)
		if i > 0 {
			assert.LessOrEqual(t, r.AddedNS, rep.Rules[i-1].AddedNS, "costliest first")
		}
	}
	byName := func(name string) ruleCost {
		i := slices.IndexFunc(rep.Rules, func(r ruleCost) bool { return r.Name == name })
		require.GreaterOrEqual(t, i, 0, name)
		return rep.Rules[i]
	}

	// A rule on every operation is evaluated on every event; one keyed on services writes on the events of those.
	anonymous := byName("Kubernetes Anonymous Request Allowed")
	assert.Equal(t, []string{"any-any"}, anonymous.Operations)
	assert.Equal(t, rep.Events, anonymous.Evaluated)
	nodePort := byName("Kubernetes NodePort Service Exposed")
	wantEvaluated := 0
	for _, op := range ops {
		if op.resource == "services" && slices.Contains(nodePort.Operations, op.verb+"-services") {
			wantEvaluated++
		}
	}
	assert.Positive(t, wantEvaluated)
	assert.Equal(t, wantEvaluated, nodePort.Evaluated)
	// The sample's README lists one NodePort service (line 33) and one pod in `default` (line 36).
	assert.Equal(t, 1, nodePort.Matched)
	assert.Equal(t, 1, byName("Kubernetes Pod Created in Default or System Namespace").Matched)
}

func TestCostMarkdownAndErrors(t *testing.T) {
	dir := t.TempDir()
	noise := filepath.Join(dir, "noise.log")
	require.NoError(t, os.WriteFile(noise, []byte("not json\n{\"a\":1}\n"), 0o600))
	sample, err := os.ReadFile(sampleLog)
	require.NoError(t, err)
	mixed := filepath.Join(dir, "mixed.log")
	require.NoError(t, os.WriteFile(mixed, append([]byte("a line of another log\n\n"), sample...), 0o600))

	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		stderr string
	}{
		{name: "markdown, generated events", args: []string{"cost", "-passes", "1"}, exit: exitOK,
			stdout: []string{"# Rule cost", "generated events", "| empty (reads each event's verb) |", "| all 26 rules |",
				"| Kubernetes NodePort Service Exposed | escu | create-services, patch-services, update-services |",
				"every operation"}},
		{name: "lines without audit events are counted", args: []string{"cost", "-passes", "1", "-events", mixed}, exit: exitOK,
			stdout: []string{"67 events", "(lines without a readable audit event, left out: 2)"}},
		{name: "limit", args: []string{"cost", "-passes", "1", "-limit", "10", "-events", sampleLog}, exit: exitOK,
			stdout: []string{", 10 events,"}},
		{name: "no events", args: []string{"cost", "-events", noise}, exit: exitUsage, stderr: "no audit events in " + noise},
		{name: "missing file", args: []string{"cost", "-events", filepath.Join(dir, "missing.log")}, exit: exitUsage, stderr: "missing.log"},
		{name: "bad passes", args: []string{"cost", "-passes", "0"}, exit: exitUsage, stderr: "must be positive"},
		{name: "bad format", args: []string{"cost", "-format", "xml"}, exit: exitUsage, stderr: `"xml"`},
		{name: "bad on-rule-error", args: []string{"cost", "-on-rule-error", "ignore"}, exit: exitUsage, stderr: `"ignore" is not fail or skip`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			assert.Equal(t, tc.exit, run(tc.args, &stdout, &stderr), stderr.String())
			for _, s := range tc.stdout {
				assert.Contains(t, stdout.String(), s)
			}
			if tc.stderr != "" {
				assert.Contains(t, stderr.String(), tc.stderr)
			}
			if tc.exit != exitOK {
				assert.Empty(t, strings.TrimSpace(stdout.String()))
			}
		})
	}
}
