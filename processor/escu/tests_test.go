package escu

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

const testRuleHead = "name: T\nid: t-1\nsearch: '`kube_audit` verb=create'\n"

func TestParseTests(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    []rule.Test
		wantErr string
	}{
		{
			name: "no tests",
			yaml: testRuleHead,
		},
		{
			name: "escu attack data by URL and by local path",
			yaml: testRuleHead + `tests:
- name: True Positive Test
  attack_data:
  - data: https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/x/y.json
    sourcetype: _json
    source: kubernetes
  - data: data/local.json
`,
			want: []rule.Test{{
				Name: "True Positive Test", Line: 5, Match: true,
				Data: []string{"https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/x/y.json", "data/local.json"},
			}},
		},
		{
			name: "escu manual test is skipped, unnamed test gets its index",
			yaml: testRuleHead + "tests:\n- manual_test: needs a live cluster\n  attack_data: [{data: a.json}]\n",
			want: []rule.Test{{Name: "tests[0]", Line: 5, Match: true, Data: []string{"a.json"}, Skip: "manual test: needs a live cluster"}},
		},
		{
			name: "escu tests of an unexpected shape are left out",
			yaml: testRuleHead + "tests: [plain string, {attack_data: 3}]\n",
		},
		{
			name: "inline events as mapping and as JSON string, with match_at and geoip",
			yaml: testRuleHead + `auditdetect_tests:
- name: sixth refusal fires
  match_at: 2
  risk_object: 198.51.100.7
  geoip: {198.51.100.7: {country: Netherlands, city: Amsterdam}}
  events:
  - {verb: create, objectRef: {resource: pods}}
  - '{"verb":"create","objectRef":{"resource":"pods"}}'
`,
			want: []rule.Test{{
				Name: "sixth refusal fires", Line: 5, Match: true, MatchAt: []int{2}, RiskObject: "198.51.100.7",
				GeoIP: map[string]rule.TestLocation{"198.51.100.7": {Country: "Netherlands", City: "Amsterdam"}},
				Events: [][]byte{
					[]byte(`{"objectRef":{"resource":"pods"},"verb":"create"}`),
					[]byte(`{"verb":"create","objectRef":{"resource":"pods"}}`),
				},
			}},
		},
		{
			name: "file cases take the file as name",
			yaml: testRuleHead + "auditdetect_tests:\n- {file: testdata/nomatch.json, match: false, note: near miss}\n",
			want: []rule.Test{{Name: "testdata/nomatch.json", Line: 5, Data: []string{"testdata/nomatch.json"}, Note: "near miss"}},
		},
		{
			name:    "misspelt key",
			yaml:    testRuleHead + "auditdetect_tests:\n- {file: a.json, match_At: 1}\n",
			wantErr: `x.yml:5:18: rule "T": test case 1: unknown key "match_At"`,
		},
		{
			name:    "no expectation",
			yaml:    testRuleHead + "auditdetect_tests:\n- file: a.json\n",
			wantErr: "test case 1: say what the rule must do",
		},
		{
			name:    "no events",
			yaml:    testRuleHead + "auditdetect_tests:\n- match: true\n",
			wantErr: "test case 1: no events",
		},
		{
			name:    "event that is not a JSON object",
			yaml:    testRuleHead + "auditdetect_tests:\n- match: true\n  events: ['[1,2]']\n",
			wantErr: "x.yml:6:12: rule \"T\": test case 1: event 1: not a JSON object",
		},
		{
			name:    "match false with match_at",
			yaml:    testRuleHead + "auditdetect_tests:\n- {match: false, match_at: 1, events: [{verb: get}]}\n",
			wantErr: "match: false contradicts match_at",
		},
		{
			name:    "match_at from zero",
			yaml:    testRuleHead + "auditdetect_tests:\n- {match_at: [0], events: [{verb: get}]}\n",
			wantErr: "match_at 0: events are numbered from 1",
		},
		{
			name:    "geoip key that is not an address",
			yaml:    testRuleHead + "auditdetect_tests:\n- {match: true, events: [{verb: get}], geoip: {nowhere: {country: X}}}\n",
			wantErr: `geoip: "nowhere" is not an IP address`,
		},
		{
			name:    "not a list",
			yaml:    testRuleHead + "auditdetect_tests: {match: true}\n",
			wantErr: "auditdetect_tests must be a list",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse("x.yml", []byte(tt.yaml), spl.DefaultMacros(), nil)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, r.Tests)
		})
	}
}

// The built-in pack's cases.yaml files use the auditdetect_tests schema, so the rule-test runner reads them too.
func TestParseTestCasesReadsPackCases(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "builtin", "testdata", "*", "cases.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		cases, err := ParseTestCases(f, data)
		require.NoError(t, err, f)
		require.NotEmpty(t, cases, f)
		for _, c := range cases {
			assert.Len(t, c.Data, 1, "%s: %s", f, c.Name)
		}
	}
	cases, err := ParseTestCases("empty.yaml", nil)
	require.NoError(t, err)
	assert.Empty(t, cases)
	_, err = ParseTestCases("bad.yaml", []byte("- {file: a.json, match: maybe}\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "bad.yaml:1")
}
