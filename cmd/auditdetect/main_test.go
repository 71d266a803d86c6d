package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// failingRule's second test fails unless the filter macro excepts user b.
const failingRule = `name: Reads
id: 7f000000-0000-4000-8000-000000000001
search: '` + "`kube_audit`" + ` verb=get | rename user.username as user | ` + "`reads_filter`" + `'
rba:
  message: read by $user$
  risk_objects: [{field: user, type: user, score: 5}]
auditdetect_tests:
- {name: read by a, match: true, events: [{verb: get, user: {username: a}}]}
- {name: read by b is excepted, match: false, events: [{verb: get, user: {username: b}}]}
- {name: a delete, match: true, events: [{verb: delete, user: {username: a}}]}
`

func TestRun(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "wrong.yml")
	require.NoError(t, os.WriteFile(bad, []byte(failingRule), 0o600))
	packCases := filepath.Join("..", "..", "processor", "builtin", "testdata")
	// A folder with a rule that does not load and one the engine refuses (a windowed count that can stop holding):
	// both are named in one run.
	twoFaults := filepath.Join(dir, "two-faults")
	require.NoError(t, os.MkdirAll(twoFaults, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(twoFaults, "a_broken.yml"), []byte("name: Broken\nsearch: verb=get | dedup x\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(twoFaults, "b_refused.yml"), []byte("name: Refused\nid: 7f000000-0000-4000-8000-000000000009\n"+
		"search: verb=get | stats dc(requestURI) as n by user.username | where n > 20000\n"+
		"rba:\n  message: few\n  risk_objects: [{field: user.username, type: user, score: 5}]\n"), 0o600))
	excl := filepath.Join(dir, "exclusion.yml")
	require.NoError(t, os.WriteFile(excl, []byte("name: Exclusion\nid: 7f000000-0000-4000-8000-000000000003\n"+
		"search: objectRef.resource=secrets verb=get NOT user.name=admin\n"+
		"rba:\n  message: a read\n  risk_objects: [{field: user.username, type: user, score: 5}]\n"), 0o600))
	deprecated := filepath.Join(dir, "old.yml")
	require.NoError(t, os.WriteFile(deprecated, []byte("name: Old\nid: 7f000000-0000-4000-8000-000000000004\nstatus: deprecated\n"+
		"search: objectRef.resource=secrets verb=get\n"+
		"rba:\n  message: a read\n  risk_objects: [{field: user.username, type: user, score: 5}]\n"), 0o600))
	never := filepath.Join(dir, "never.yml")
	require.NoError(t, os.WriteFile(never, []byte(`name: Never
id: 7f000000-0000-4000-8000-000000000002
search: objectRef.resource=pods verb IN (create, replace) stage=ResponseCompleted
rba:
  message: a create
  risk_objects: [{field: user.username, type: user, score: 5}]
auditdetect_tests:
- {name: a create, match: true, events: [{verb: create, stage: ResponseComplete, user: {username: a}}]}
`), 0o600))

	esql := filepath.Join(dir, "esql.toml")
	require.NoError(t, os.WriteFile(esql, []byte("[rule]\nname = \"Burst\"\ntype = \"esql\"\nlanguage = \"esql\"\n"+
		"query = \"from logs-kubernetes.audit_logs-* | limit 10\"\n"), 0o600))

	broken := filepath.Join(dir, "broken.yml")
	require.NoError(t, os.WriteFile(broken, []byte("name: x\nsearch: verb=get |\n"), 0o600))

	tests := []struct {
		name     string
		args     []string
		exit     int
		stdout   []string // substrings
		stderr   []string
		jsonOut  bool
		noStdout bool
		// notStdout and notStderr are substrings stdout and stderr must not hold.
		notStdout, notStderr []string
	}{
		{name: "no command", args: nil, exit: exitUsage, stderr: []string{"usage:"}, noStdout: true},
		{name: "help", args: []string{"help"}, exit: exitOK, stdout: []string{"auditdetect rule-test"}},
		{name: "unknown command", args: []string{"check"}, exit: exitUsage, stderr: []string{`unknown command "check"`}},
		{
			name: "coverage of the built-in pack in Markdown", args: []string{"coverage"}, exit: exitOK,
			stdout: []string{"# Coverage catalog", "| services | core |", "Kubernetes NodePort Service Exposed"},
		},
		{name: "coverage as JSON", args: []string{"coverage", "-format", "json", "builtin"}, exit: exitOK, jsonOut: true},
		{name: "coverage: bad format", args: []string{"coverage", "-format", "xml"}, exit: exitUsage, stderr: []string{`"xml"`}},
		{name: "coverage: rules that do not load", args: []string{"coverage", filepath.Join(dir, "missing")}, exit: exitUsage, stderr: []string{"missing"}},
		{name: "coverage: every fault at once", args: []string{"coverage", twoFaults}, exit: exitUsage,
			stderr: []string{"a_broken.yml:2", `unsupported command "dedup"`, "b_refused.yml", "at most 10000 distinct values"}},
		{
			name: "rule-test of the built-in pack with its cases passes", args: []string{"rule-test", "-cases", packCases, "builtin"},
			exit: exitOK, stdout: []string{"PASS", "0 failed, 0 skipped; 0 rules without tests"},
		},
		{
			name: "rule-test with a failing test exits 1", args: []string{"rule-test", bad}, exit: exitFailed,
			stdout: []string{"FAIL", "matched on events 1, want no match", "matched no event, want a match", "1 passed, 2 failed"},
		},
		{
			name: "a macro from the command line changes the result", args: []string{"rule-test", "-macro", "reads_filter=search NOT user=b", bad},
			exit: exitFailed, stdout: []string{"2 passed, 1 failed"},
		},
		{name: "rule-test: bad macro flag", args: []string{"rule-test", "-macro", "nodefinition"}, exit: exitUsage, stderr: []string{"name=definition"}},
		{name: "rule-test: bad window", args: []string{"rule-test", "-window", "0s"}, exit: exitUsage, stderr: []string{"must be positive"}},
		{
			name: "-disable leaves a rule out", args: []string{"coverage", "-disable", "Kubernetes NodePort Service Exposed", "builtin"},
			exit: exitOK, stdout: []string{"Kubernetes DaemonSet Created"}, notStdout: []string{"Kubernetes NodePort Service Exposed"},
			stderr: []string{"coverage: disabled: Kubernetes NodePort Service Exposed"},
		},
		{
			name: "-disable by id", args: []string{"rule-test", "-disable", "7f000000-0000-4000-8000-000000000001", "-disable", "Kubernetes CronJob Created", bad, "builtin"},
			// Reads held the only tests: none ran, which is not a pass.
			exit: exitUsage, stderr: []string{"rule-test: disabled: Reads", "rule-test: disabled: Kubernetes CronJob Created", "no rule test ran"}, notStdout: []string{"FAIL"},
		},
		{name: "-disable of a rule not loaded", args: []string{"scan", "-events", "-", "-disable", "Nope"}, exit: exitUsage, stderr: []string{`-disable: no loaded rule has the id or name "Nope"`}},
		{
			name: "-disable of a misspelt rule says the one meant", args: []string{"scan", "-events", "-", "-disable", "Kubernetes Nodeport Service Exposed"},
			exit: exitUsage, stderr: []string{`(did you mean "Kubernetes NodePort Service Exposed"?)`},
		},
		{
			name: "-disable by the search name of -escu-app", args: []string{"coverage", "-escu-app", "ACME", "-disable", "ACME - Reads - Rule", bad, "builtin"},
			exit: exitOK, stderr: []string{"coverage: disabled: Reads"},
		},
		{
			name: "a rule that can never match is named", args: []string{"rule-test", never}, exit: exitFailed,
			stderr:    []string{`rule-test: rule "Never" (` + never + `:3) can never match: ` + "`stage=ResponseCompleted` is never true"},
			notStderr: []string{"verb=replace"},
		},
		{
			name: "-disable of a rule that did not load, under skip", args: []string{"coverage", "-on-rule-error", "skip", "-disable", "Nope", "builtin"},
			exit: exitOK, stderr: []string{`coverage: ignored: -disable: no loaded rule has the id or name "Nope"`}, stdout: []string{"# Coverage catalog"},
		},
		{
			name: "an exclusion that never applies is named", args: []string{"coverage", excl}, exit: exitOK,
			stderr: []string{`coverage: rule "Exclusion" (` + excl + `:3) has an exclusion that never applies (it matches more than written): ` +
				"`user.name=admin` is never true"},
		},
		{
			name: "a deprecated rule is named", args: []string{"coverage", deprecated}, exit: exitOK,
			stderr: []string{`coverage: rule "Old" (` + deprecated + `:4) is deprecated upstream`},
			stdout: []string{"Old (deprecated upstream)"},
		},
		{
			// The loader's reason names the collector's setting; the tool says its own flag for it.
			name: "a rule that advises on_rule_error: skip is followed by the flag", args: []string{"scan", "-events", "-", esql}, exit: exitUsage,
			stderr: []string{`(load it in Elastic, or skip it with on_rule_error: skip)` + "\n" +
				"scan: here on_rule_error: skip is the flag -on-rule-error skip (auditdetect scan -on-rule-error skip [flags] [RULES...])\n"},
		},
		{name: "a rule error that advises nothing has no hint", args: []string{"coverage", broken}, exit: exitUsage,
			stderr: []string{"broken.yml:2"}, notStderr: []string{"-on-rule-error skip"}},
		{name: "-disable of every rule", args: []string{"rule-test", "-disable", "Reads", bad}, exit: exitUsage, stderr: []string{"-disable names every rule loaded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			exit := run(tt.args, &stdout, &stderr)
			assert.Equal(t, tt.exit, exit, "stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			for _, s := range tt.stdout {
				assert.Contains(t, stdout.String(), s)
			}
			for _, s := range tt.stderr {
				assert.Contains(t, stderr.String(), s)
			}
			if tt.jsonOut {
				var v struct {
					Summary struct{ Rules int } `json:"summary"`
				}
				require.NoError(t, json.Unmarshal(stdout.Bytes(), &v))
				assert.Positive(t, v.Summary.Rules)
			}
			for _, s := range tt.notStdout {
				assert.NotContains(t, stdout.String(), s)
			}
			for _, s := range tt.notStderr {
				assert.NotContains(t, stderr.String(), s)
			}
			if tt.noStdout {
				assert.Empty(t, stdout.String())
			}
		})
	}
}
