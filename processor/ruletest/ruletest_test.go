package ruletest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The rule of the table test: a NodePort service, risk on the user.
const nodePortRule = `name: Test NodePort
id: 0b6f9a43-0000-4000-8000-000000000001
search: '` + "`kube_audit`" + ` objectRef.resource=services verb=create requestObject.spec.type=NodePort
  | rename user.username as user, sourceIPs{} as src_ip'
rba:
  message: NodePort by $user$
  risk_objects: [{field: user, type: user, score: 20}]
  threat_objects: [{field: src_ip, type: ip_address}]
`

// A windowed rule: more than two 403s from one address.
const scanRule = `name: Test Scan
id: 0b6f9a43-0000-4000-8000-000000000002
search: '` + "`kube_audit`" + ` responseStatus.code=403 | stats count by sourceIPs{} | where count > 2 | rename sourceIPs{} as src_ip'
rba:
  message: scan from $src_ip$
  risk_objects: [{field: src_ip, type: system, score: 30}]
`

// A rule whose risk object field is never set: it matches but writes no risk event.
const noRiskFieldRule = `name: Test No Risk Field
id: 0b6f9a43-0000-4000-8000-000000000003
search: '` + "`kube_audit`" + ` verb=delete'
rba:
  message: deleted
  risk_objects: [{field: nobody, type: user, score: 5}]
`

// A rule with iplocation: a read located in a country.
const geoRule = `name: Test Geo
id: 0b6f9a43-0000-4000-8000-000000000004
search: '` + "`kube_audit`" + ` verb=get | iplocation sourceIPs{} | search Country=* | rename user.username as user'
rba:
  message: read from $Country$
  risk_objects: [{field: user, type: user, score: 5}]
`

const (
	nodePortEvent  = `{"verb":"create","objectRef":{"resource":"services"},"user":{"username":"mallory"},"sourceIPs":["203.0.113.7"],"requestObject":{"spec":{"type":"NodePort"}}}`
	clusterIPEvent = `{"verb":"create","objectRef":{"resource":"services"},"user":{"username":"mallory"},"sourceIPs":["203.0.113.7"],"requestObject":{"spec":{"type":"ClusterIP"}}}`
	refusal        = `{"verb":"get","objectRef":{"resource":"secrets"},"sourceIPs":["198.51.100.9"],"responseStatus":{"code":403},"stageTimestamp":"2026-12-01T10:00:0%dZ"}`
)

func refusals(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Replace(refusal, "%d", string(rune('0'+i)), 1) + "\n")
	}
	return b.String()
}

// writeFiles writes files (name → content) under a new temp dir and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	}
	return dir
}

func load(t *testing.T, paths ...string) []*rule.Rule {
	t.Helper()
	res, err := loader.Load(loader.Options{Paths: paths, Builtin: builtin.FS})
	require.NoError(t, err)
	return res.Rules
}

type outcome struct {
	status Status
	detail string // a substring of Result.Detail
	events int
}

func TestRun(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		// casesDir is a folder under the temp dir used as Options.CasesDir; dataDir likewise for Options.DataDir.
		casesDir, dataDir string
		want              []outcome
		untested          []string
	}{
		{
			name: "inline events: match, near miss, match_at and risk object",
			files: map[string]string{"rules/np.yml": nodePortRule + `auditdetect_tests:
- {name: creates NodePort, match: true, risk_object: mallory, events: ['` + nodePortEvent + `']}
- {name: ClusterIP, match: false, events: ['` + clusterIPEvent + `']}
- {name: second of two, match_at: 2, events: ['` + clusterIPEvent + `', '` + nodePortEvent + `']}
`},
			want: []outcome{{status: Pass, events: 1}, {status: Pass, events: 1}, {status: Pass, events: 2}},
		},
		{
			name: "failed expectations are reported with what happened",
			files: map[string]string{"rules/np.yml": nodePortRule + `auditdetect_tests:
- {match: false, note: should be quiet, events: ['` + nodePortEvent + `']}
- {match: true, events: ['` + clusterIPEvent + `']}
- {match_at: 1, events: ['` + clusterIPEvent + `', '` + nodePortEvent + `']}
- {match: true, risk_object: alice, events: ['` + nodePortEvent + `']}
`},
			want: []outcome{
				{status: Fail, events: 1, detail: "matched on events 1, want no match (should be quiet)"},
				{status: Fail, events: 1, detail: "matched no event, want a match"},
				{status: Fail, events: 2, detail: "matched on events 2, want 1"},
				{status: Fail, events: 1, detail: `risk object user = ["mallory"], want "alice"`},
			},
		},
		{
			name: "a match that would write no risk event fails",
			files: map[string]string{"rules/del.yml": noRiskFieldRule + `auditdetect_tests:
- {match: true, events: [{verb: delete}]}
`},
			want: []outcome{{status: Fail, events: 1, detail: "risk object field nobody is empty"}},
		},
		{
			name: "event files relative to the rule, JSON lines for a windowed rule",
			files: map[string]string{
				"rules/scan.yml": scanRule + `auditdetect_tests:
- {file: events/three.jsonl, match_at: 3, risk_object: 198.51.100.9}
- {file: [events/two.jsonl], match: false}
`,
				"rules/events/three.jsonl": refusals(3),
				"rules/events/two.jsonl":   refusals(2),
			},
			want: []outcome{{status: Pass, events: 3}, {status: Pass, events: 2}},
		},
		{
			name: "escu attack data: URL skipped offline, local copy in the data dir runs, local path runs",
			files: map[string]string{
				"rules/np.yml": nodePortRule + `tests:
- name: True Positive Test
  attack_data: [{data: 'https://media.example/datasets/T1204/np/kube_audit_np.json', sourcetype: _json}]
- name: Local
  attack_data: [{data: local/np.json}]
`,
				"rules/local/np.json": "{\n  \"verb\": \"create\",\n  \"objectRef\": {\"resource\": \"services\"},\n  \"user\": {\"username\": \"eve\"},\n  \"requestObject\": {\"spec\": {\"type\": \"NodePort\"}}\n}\n",
			},
			want: []outcome{{status: Skip, detail: "is a URL and this run is offline"}, {status: Pass, events: 1}},
		},
		{
			name: "a URL found in the data dir runs",
			files: map[string]string{
				"rules/np.yml":               nodePortRule + "tests:\n- attack_data: [{data: 'https://media.example/x/kube_audit_np.json'}]\n",
				"attack/kube_audit_np.json":  "[" + clusterIPEvent + "," + nodePortEvent + "]",
				"attack/unrelated-file.json": "{}",
			},
			dataDir: "attack",
			want:    []outcome{{status: Pass, events: 2}},
		},
		{
			name:  "manual test skipped",
			files: map[string]string{"rules/np.yml": nodePortRule + "tests:\n- {name: by hand, manual_test: needs EKS, attack_data: [{data: a.json}]}\n"},
			want:  []outcome{{status: Skip, detail: "manual test: needs EKS"}},
		},
		{
			name: "missing file and a line that is not JSON fail",
			files: map[string]string{
				"rules/np.yml":    nodePortRule + "auditdetect_tests:\n- {file: nope.json, match: true}\n- {file: bad.jsonl, match: true}\n",
				"rules/bad.jsonl": nodePortEvent + "\n{not json\n",
			},
			want: []outcome{{status: Fail, detail: "no such file"}, {status: Fail, detail: "bad.jsonl:2: not a JSON event"}},
		},
		{
			name: "geoip fixture places an address; without it the rule stays quiet",
			files: map[string]string{"rules/geo.yml": geoRule + `auditdetect_tests:
- match: true
  geoip: {203.0.113.45: {country: Netherlands, city: Amsterdam}}
  events: [{verb: get, user: {username: bob}, sourceIPs: [203.0.113.45]}]
- {match: false, events: [{verb: get, user: {username: bob}, sourceIPs: [203.0.113.45]}]}
`},
			want: []outcome{{status: Pass, events: 1}, {status: Pass, events: 1}},
		},
		{
			name: "side-car cases by file stem; a folder with no rule fails; a rule without tests is listed",
			files: map[string]string{
				"rules/np.yml":                  nodePortRule,
				"rules/scan.yml":                scanRule,
				"cases/np/cases.yaml":           "- {file: match.json, match: true, risk_object: mallory, also: [x]}\n",
				"cases/np/match.json":           nodePortEvent,
				"cases/renamed_rule/cases.yaml": "- {file: a.json, match: true}\n",
				"cases/np/unrelated-notes.txt":  "not read",
				"cases/not-a-folder-cases.yaml": "ignored",
			},
			casesDir: "cases",
			want:     []outcome{{status: Fail, detail: "no loaded rule comes from a file named renamed_rule.yml"}, {status: Pass, events: 1}},
			untested: []string{"Test Scan"},
		},
		{
			name: "side-car cases for a file of several Sigma rules fail, naming them",
			files: map[string]string{
				"rules/two.yml": "title: One\nlogsource: {product: kubernetes, service: audit}\ndetection: {sel: {verb: get}, condition: sel}\n" +
					"---\ntitle: Two\nlogsource: {product: kubernetes, service: audit}\ndetection: {sel: {verb: list}, condition: sel}\n",
				"cases/two/cases.yaml": "- {file: a.json, match: true}\n",
			},
			casesDir: "cases",
			want:     []outcome{{status: Fail, detail: "the file two holds several rules (One, Two)"}},
			untested: []string{"One", "Two"},
		},
		{
			name: "a broken side-car file fails the rule's tests",
			files: map[string]string{
				"rules/np.yml":        nodePortRule,
				"cases/np/cases.yaml": "- {file: match.json, matches: true}\n",
			},
			casesDir: "cases",
			want:     []outcome{{status: Fail, detail: `unknown key "matches"`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			opts := Options{}
			if tt.casesDir != "" {
				opts.CasesDir = filepath.Join(dir, tt.casesDir)
			}
			if tt.dataDir != "" {
				opts.DataDir = filepath.Join(dir, tt.dataDir)
			}
			rep := Run(load(t, filepath.Join(dir, "rules")), opts)
			require.Len(t, rep.Results, len(tt.want), "%+v", rep.Results)
			for i, w := range tt.want {
				got := rep.Results[i]
				assert.Equal(t, w.status, got.Status, "result %d: %+v", i, got)
				assert.Contains(t, got.Detail, w.detail, "result %d", i)
				assert.Equal(t, w.events, got.Events, "result %d events", i)
				assert.NotEmpty(t, got.Source, "result %d source", i)
			}
			assert.Equal(t, tt.untested, rep.Untested)
		})
	}
}

// TestBuiltinPack runs the built-in pack's side-car cases the way `make rule-test` does: every case passes, none is
// skipped, and every rule of the pack is tested.
func TestBuiltinPack(t *testing.T) {
	rules := load(t, loader.Builtin)
	rep := Run(rules, Options{CasesDir: filepath.Join("..", "builtin", "testdata")})
	passed, failed, skipped := rep.Counts()
	for _, r := range rep.Results {
		if r.Status != Pass {
			t.Errorf("%s %s / %s (%s): %s", r.Status, r.Rule, r.Test, r.Source, r.Detail)
		}
	}
	assert.Zero(t, failed)
	assert.Zero(t, skipped)
	assert.Empty(t, rep.Untested, "every built-in rule has test cases")
	// At least a match and a near miss per rule.
	assert.GreaterOrEqual(t, passed, 2*len(rules))
}

func TestWriteTable(t *testing.T) {
	rep := &Report{
		Results: []Result{
			{Rule: "R1", Test: "t1", Source: "r1.yml:9", Status: Pass, Events: 1},
			{Rule: "R1", Test: "t2", Source: "r1.yml:12", Status: Fail, Events: 2, Detail: "matched no event,\n want a match"},
			{Test: "cases", Source: "cases/x/cases.yaml", Status: Fail, Detail: "no rule"},
			{Rule: "R2", Test: "tp", Source: "r2.yml:30", Status: Skip, Detail: "offline"},
		},
		Untested: []string{"R3"},
	}
	var b bytes.Buffer
	require.NoError(t, WriteTable(&b, rep))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 7)
	assert.Regexp(t, `^RESULT\s+RULE\s+TEST\s+EVENTS\s+SOURCE\s+DETAIL$`, lines[0])
	assert.Regexp(t, `^FAIL\s+R1\s+t2\s+2\s+r1\.yml:12\s+matched no event, want a match$`, lines[2], "detail on one line")
	assert.Regexp(t, `^FAIL\s+-\s+cases\s+0\s+cases/x/cases\.yaml\s+no rule$`, lines[3])
	assert.Equal(t, "no tests: R3", lines[5])
	for _, l := range lines {
		assert.Equal(t, strings.TrimRight(l, " "), l, "no trailing blanks")
	}
	assert.Equal(t, "rule tests: 1 passed, 2 failed, 1 skipped; 1 rules without tests", lines[6])
	assert.True(t, rep.Failed())
	assert.False(t, (&Report{Results: rep.Results[:1]}).Failed())
}
