package loader

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestOutputFieldsAfterProjection: table and fields narrow the known result fields; a table of names makes the
// fields of whole-event rows known; a wildcard or a removal leaves them open.
func TestOutputFieldsAfterProjection(t *testing.T) {
	stats := rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"user.username", "sourceIPs{}"}}
	rename := rule.Rename{Pairs: []rule.RenamePair{{From: "user.username", To: "user"}, {From: "sourceIPs{}", To: "src"}}}
	for _, tt := range []struct {
		name     string
		pipeline []rule.Stage
		want     []string
		known    bool
	}{
		{"table after stats, in its order", []rule.Stage{stats, rename, rule.Project{Fields: []string{"count", "user", "absent"}, Ordered: true}},
			[]string{"count", "user"}, true},
		{"fields keeps the order", []rule.Stage{stats, rename, rule.Project{Fields: []string{"count", "user", "_*"}}},
			[]string{"user", "count"}, true},
		{"fields minus wildcard", []rule.Stage{stats, rename, rule.Project{Fields: []string{"u*"}, Remove: true}},
			[]string{"src", "count"}, true},
		{"eval after table", []rule.Stage{stats, rule.Project{Fields: []string{"count"}, Ordered: true}, rule.Eval{To: "x", Value: rule.Constant{Text: "1"}}},
			[]string{"count", "x"}, true},
		{"table of names on whole events", []rule.Stage{
			rule.Rename{Pairs: []rule.RenamePair{{From: "user.username", To: "user"}}},
			rule.Eval{To: "n", Value: rule.Constant{Text: "1"}},
			rule.Project{Fields: []string{"user", "user.username", "verb", "n"}, Ordered: true}},
			[]string{"user", "verb", "n"}, true},
		{"wildcard table on whole events", []rule.Stage{rule.Project{Fields: []string{"user*"}, Ordered: true}}, nil, false},
		{"fields on whole events keeps internal fields", []rule.Stage{rule.Project{Fields: []string{"user", "_*"}}}, nil, false},
		{"fields minus on whole events", []rule.Stage{rule.Project{Fields: []string{"_raw"}, Remove: true}}, nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := OutputFields(&rule.Rule{Pipeline: tt.pipeline})
			assert.Equal(t, tt.known, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestProjectionFeedsOwnObjectsCheck: a risk or threat object field that table or fields takes away is one the
// results never hold: left out with a warning, and a detection left with no risk object fails to load; on whole
// events too, where `fields -` names the field.
func TestProjectionFeedsOwnObjectsCheck(t *testing.T) {
	const search = "verb=create | stats count by user.username sourceIPs{} | rename user.username as user, sourceIPs{} as src_ip | table user count"
	dir := layout(t, map[string]string{
		"threat.yml": `name: Threat Projected
id: t
search: ` + search + `
rba:
  message: created by $user$ from $src_ip$
  risk_objects:
  - field: user
    type: user
    score: 10
  threat_objects:
  - field: src_ip
    type: ip_address
`,
	})
	core, logs := observer.New(zapcore.WarnLevel)
	res, err := Load(Options{Paths: []string{dir}, Logger: zap.New(core)})
	require.NoError(t, err)
	require.Len(t, res.Rules, 1)
	assert.Empty(t, res.Rules[0].Risk.Threats, "the threat object table took away is left out")
	warned := logs.FilterMessageSnippet("threat object field is not among its results").All()
	require.Len(t, warned, 1)
	assert.Equal(t, "src_ip", warned[0].ContextMap()["field"])

	broken := layout(t, map[string]string{
		"risk.yml":  detection("r", "Risk Projected", "verb=create | stats count by user.username | rename user.username as user | fields - user"),
		"event.yml": detection("e", "Event Projected", "verb=create | rename user.username as user | fields - user, _raw"),
		"table.yml": detection("w", "Event Table", "verb=create | rename user.username as user | table verb objectRef.*"),
		"ok.yml":    detection("k", "Event Kept", "verb=create | rename user.username as user | table _time user* | fields - _raw"),
	})
	_, err = Load(Options{Paths: []string{broken}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `rule "Risk Projected": no risk object field (user) is a field of the search's results (they have: count)`)
	assert.Contains(t, err.Error(), `rule "Event Projected": no risk object field (user) is a field of the search's results (they have: the event's fields but user, _raw)`)
	assert.Contains(t, err.Error(), `rule "Event Table": no risk object field (user) is a field of the search's results (they have: the event's fields matching verb objectRef.*)`)
	assert.NotContains(t, err.Error(), "Event Kept")

	// rule_overrides are checked against the same fields.
	ok := layout(t, map[string]string{"ok.yml": detection("k", "Event Kept", "verb=create | rename user.username as user | table user verb")})
	_, err = Load(Options{Paths: []string{ok}, Overrides: map[string]Override{"k": {ThreatObjects: []rule.ThreatObject{{Field: "sourceIPs{}", Type: "ip_address"}}}}})
	require.EqualError(t, err, `rule_overrides "k": threat_objects[].field "sourceIPs{}": rule "Event Kept" has no such result field (its results have: user, verb)`)
}
