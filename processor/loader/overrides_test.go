package loader

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func TestOutputFields(t *testing.T) {
	count := rule.Aggregate{Func: "count"}
	groups := rule.Aggregate{Func: "values", Field: "user.groups{}", As: "user_groups"}
	for _, tt := range []struct {
		name     string
		pipeline []rule.Stage
		want     []string
		known    bool
	}{
		{name: "no pipeline: whole events", known: false},
		{name: "no stats: whole events", pipeline: []rule.Stage{rule.Rename{Pairs: []rule.RenamePair{{From: "a", To: "b"}}}}},
		{
			name: "stats then rename",
			pipeline: []rule.Stage{
				rule.FillNull{Value: "0"},
				rule.Stats{Aggs: []rule.Aggregate{count, groups}, By: []string{"sourceIPs{}", "user.username", "verb"}},
				rule.Rename{Pairs: []rule.RenamePair{{From: "sourceIPs{}", To: "src_ip"}, {From: "user.username", To: "user"}, {From: "absent", To: "x"}}},
				rule.Where{Cond: rule.Compare{Field: rule.Field{Name: "count"}, Op: rule.OpGt, Value: rule.Pattern{Text: "5"}}},
			},
			want: []string{"src_ip", "user", "verb", "count", "user_groups"}, known: true,
		},
		{
			name: "a rename onto an existing field replaces it",
			pipeline: []rule.Stage{
				rule.Stats{Aggs: []rule.Aggregate{count}, By: []string{"a", "b"}},
				rule.Rename{Pairs: []rule.RenamePair{{From: "a", To: "b"}}},
			},
			want: []string{"b", "count"}, known: true,
		},
		{
			name: "stages after stats that add fields",
			pipeline: []rule.Stage{
				rule.Stats{Aggs: []rule.Aggregate{{Func: "dc", Field: "verb"}}, By: []string{"src"}},
				rule.IPLocation{Field: "src", Prefix: "geo_"},
				rule.FillNull{Value: "0", Fields: []string{"note"}},
				rule.Copy{From: "src", To: "src_ip"},
				rule.Copy{From: "absent", To: "never"},
			},
			want: []string{"src", "dc(verb)", "geo_City", "geo_Country", "geo_Region", "geo_lat", "geo_lon", "note", "src_ip"}, known: true,
		},
		{
			name: "the last stats decides",
			pipeline: []rule.Stage{
				rule.Stats{Aggs: []rule.Aggregate{count}, By: []string{"a"}},
				rule.Stats{Aggs: []rule.Aggregate{{Func: "count", As: "n"}}, By: []string{"count"}},
			},
			want: []string{"count", "n"}, known: true,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := OutputFields(&rule.Rule{Pipeline: tt.pipeline})
			assert.Equal(t, tt.known, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

// statsDetection is an ESCU detection whose results are known: stats, then user.username renamed to user.
func statsDetection(id, name, riskField, threatField string) string {
	return `name: ` + name + `
id: ` + id + `
search: |-
  verb=create
  | stats count by user.username sourceIPs{}
  | rename user.username as user, sourceIPs{} as src_ip
rba:
  message: created by $user$
  risk_objects:
  - field: ` + riskField + `
    type: user
    score: 10
  threat_objects:
  - field: ` + threatField + `
    type: ip_address
`
}

// TestOverrideFieldsMustExist: an override naming a field that a rule's known results never hold fails, naming the
// rule, the field and the fields there are; a rule whose results are whole events takes any field.
func TestOverrideFieldsMustExist(t *testing.T) {
	dir := layout(t, map[string]string{
		"stats.yml": statsDetection("s-1", "Stats Rule", "user", "src_ip"),
		"event.yml": detection("e-1", "Event Rule", "verb=create"),
	})
	load := func(o map[string]Override) (*Result, error) {
		return Load(Options{Paths: []string{dir}, Overrides: o})
	}

	_, err := load(map[string]Override{"Stats Rule": {RiskObjects: []rule.RiskObject{{Field: "usr", Type: "user"}}}})
	require.EqualError(t, err, `rule_overrides "Stats Rule": risk_objects[].field "usr": rule "Stats Rule" has no such result field (its results have: user, src_ip, count)`)

	_, err = load(map[string]Override{"s-1": {ThreatObjects: []rule.ThreatObject{{Field: "sourceIPs{}", Type: "ip_address"}}}})
	require.EqualError(t, err, `rule_overrides "s-1": threat_objects[].field "sourceIPs{}": rule "Stats Rule" has no such result field (its results have: user, src_ip, count)`)

	res, err := load(map[string]Override{
		"Stats Rule": {RiskObjects: []rule.RiskObject{{Field: "src_ip", Type: "system"}}},
		"Event Rule": {RiskObjects: []rule.RiskObject{{Field: "objectRef.namespace", Type: "other"}}},
	})
	require.NoError(t, err)
	for _, r := range res.Rules {
		assert.Len(t, r.Risk.Objects, 1)
		assert.Equal(t, map[string]string{"Stats Rule": "src_ip", "Event Rule": "objectRef.namespace"}[r.Name], r.Risk.Objects[0].Field)
	}
}

func TestOverrideThreatTypes(t *testing.T) {
	dir := layout(t, map[string]string{"event.yml": detection("e-1", "Event Rule", "verb=create")})
	_, err := Load(Options{Paths: []string{dir}, Overrides: map[string]Override{
		"e-1": {ThreatObjects: []rule.ThreatObject{{Field: "sourceIPs{}", Type: "ip"}}},
	}})
	require.ErrorContains(t, err, `rule_overrides "e-1": threat object type "ip" is not one of ESCU's (contentctl): certificate_common_name, `)
	for _, typ := range ThreatObjectTypes {
		_, err := Load(Options{Paths: []string{dir}, Overrides: map[string]Override{
			"e-1": {ThreatObjects: []rule.ThreatObject{{Field: "sourceIPs{}", Type: typ}}},
		}})
		assert.NoError(t, err, typ)
	}
	assert.Len(t, ThreatObjectTypes, 26, "contentctl/objects/rba.py ThreatObjectType")
}

// TestOwnObjectsMustExist: an ESCU detection's risk or threat object that is not among its results is left out, as
// Splunk ES would write no risk event for it; one left with no risk object fails at load with its file, line and name
// (or is skipped), unless rule_overrides replaces the broken part. Only the version that runs is checked.
func TestOwnObjectsMustExist(t *testing.T) {
	dir := layout(t, map[string]string{
		"a_good.yml":       statsDetection("g", "Good", "user", "src_ip"),
		"b_bad_risk.yml":   statsDetection("r", "Bad Risk", "user.username", "src_ip"),
		"c_bad_threat.yml": statsDetection("t", "Bad Threat", "user", "sourceIPs{}"),
	})
	_, err := Load(Options{Paths: []string{dir}})
	require.Error(t, err)
	var e *rule.Error
	require.True(t, errors.As(err, &e))
	assert.Contains(t, err.Error(), filepath.Join(dir, "b_bad_risk.yml")+`:4: rule "Bad Risk": no risk object field (user.username) is a field of the search's results (they have: user, src_ip, count): the rule would never write a risk record`)
	assert.NotContains(t, err.Error(), "Bad Threat")

	res, err := Load(Options{Paths: []string{dir}, SkipErrors: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"Good", "Bad Threat"}, names(res.Rules))
	assert.Len(t, res.Skipped, 1)
	assert.Empty(t, res.Rules[1].Risk.Threats, "the threat object no result holds is left out")
	assert.Len(t, res.Rules[1].Risk.Objects, 1, "its risk object stays")

	// An older version beside the one that runs is not checked: it is superseded, not refused.
	old := layout(t, map[string]string{
		"new.yml": statsDetection("v", "Versioned", "user", "src_ip") + "version: 2\n",
		"old.yml": statsDetection("v", "Versioned", "user.username", "src_ip") + "version: 1\n",
	})
	res, err = Load(Options{Paths: []string{old}})
	require.NoError(t, err)
	assert.Len(t, res.Superseded, 1)

	// A newer version that cannot write a risk record is reported; under skip the version it superseded runs.
	broken := layout(t, map[string]string{
		"new.yml": statsDetection("v", "Versioned", "user.username", "src_ip") + "version: 2\n",
		"old.yml": statsDetection("v", "Versioned", "user", "src_ip") + "version: 1\n",
	})
	_, err = Load(Options{Paths: []string{broken}})
	require.ErrorContains(t, err, "no risk object field (user.username)")
	res, err = Load(Options{Paths: []string{broken}, SkipErrors: true})
	require.NoError(t, err)
	require.Len(t, res.Rules, 1)
	assert.Equal(t, 1, res.Rules[0].Version, "the older version runs")
	assert.Empty(t, res.Superseded)
	assert.Len(t, res.Skipped, 1)

	res, err = Load(Options{Paths: []string{dir}, Overrides: map[string]Override{
		"Bad Risk":   {RiskObjects: []rule.RiskObject{{Field: "user", Type: "user"}}},
		"Bad Threat": {ThreatObjects: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}}},
	}})
	require.NoError(t, err, "an override mends the part it replaces")
	assert.Equal(t, []string{"Good", "Bad Risk", "Bad Threat"}, names(res.Rules))
}

// TestConfiguredMacroMustBeReferenced: a macro in the processor's `macros:` that no detection references, directly or
// through another macro, fails the load with its name (a misspelling would otherwise drop an exception silently).
func TestConfiguredMacroMustBeReferenced(t *testing.T) {
	dir := layout(t, map[string]string{
		"rule.yml":          detection("r", "R", "`kube_audit` verb=get | search NOT `allow` | `r_filter`"),
		"macros/allow.yml":  macro("allow", "`kube_allowed_users` OR `is_robot(bot)`"),
		"macros/robot.yml":  "name: is_robot\ndefinition: 'user=$x$'\narguments: [x]\ndescription: test\n",
		"macros/users.yml":  macro("kube_allowed_users", "user=root"),
		"macros/unused.yml": macro("unused_in_file", "user=x"), // macro files may hold anything
	})
	load := func(m map[string]string) error {
		_, err := Load(Options{Paths: []string{dir}, Macros: m})
		return err
	}
	require.NoError(t, load(map[string]string{
		"kube_audit":         "verb=*",     // referenced by the rule
		"r_filter":           "search *",   // its filter macro, never defined in a file
		"kube_allowed_users": "user=admin", // referenced through allow
		"is_robot(1)":        "user=$x$",   // with arguments
	}))

	err := load(map[string]string{"kube_allowed_user": "user=admin", "kube_audit": "*"})
	require.EqualError(t, err, `macros: "kube_allowed_user" is referenced by no loaded rule, so it would change nothing (did you mean "kube_allowed_users"?)`)

	err = load(map[string]string{"r_filtre": "search *", "zzz": "x=1"})
	require.ErrorContains(t, err, `macros: "r_filtre" is referenced by no loaded rule, so it would change nothing (did you mean "r_filter"?)`)
	require.ErrorContains(t, err, `macros: "zzz" is referenced by no loaded rule, so it would change nothing`)

	// A rule that fails to load still names its macros, even when its YAML cannot be read; under on_rule_error:
	// skip an unreferenced macro is logged, not refused, as a rule_overrides key naming no rule is (the rule it was
	// for may be the one skipped).
	broken := layout(t, map[string]string{
		"rule.yml": detection("b", "Broken", "verb=get | search NOT `allow_b` | lookup x"),
		"bad.yml":  "name: Bad\nsearch: 'verb=get | search NOT `allow_d`\n  [unclosed\n",
	})
	_, err = Load(Options{Paths: []string{broken}, Macros: map[string]string{"allow_b": "user=a", "allow_d": "user=a"}})
	require.Error(t, err)
	require.NotContains(t, err.Error(), "referenced by no loaded rule")
	_, err = Load(Options{Paths: []string{broken}, SkipErrors: true, Macros: map[string]string{"allow_b": "user=a", "allow_d": "user=a", "allow_c": "user=a"}})
	require.NoError(t, err)

	// Backticks in an SPL comment are not macro references.
	commented := layout(t, map[string]string{"rule.yml": detection("c", "C", "verb=get ```don't use ` here``` | search NOT `allow_x` | `c_filter`")})
	require.NoError(t, func() error {
		_, err := Load(Options{Paths: []string{commented}, Macros: map[string]string{"allow_x": "user=a"}})
		return err
	}())

	// A filter macro is suggested for another only when it is a near spelling: another detection's exception hook
	// is not what was meant.
	_, err = Load(Options{Paths: []string{dir}, Macros: map[string]string{"kube_audit": "*", "x_filtr": "search *", "kubernetes_node_port_creation_filter": "search *"}})
	require.ErrorContains(t, err, `"kubernetes_node_port_creation_filter" is referenced by no loaded rule, so it would change nothing`)
	require.NotContains(t, err.Error(), `"kubernetes_node_port_creation_filter" is referenced by no loaded rule, so it would change nothing (did you mean`)
}

// TestNoRiskObjectIsSaid: an ESCU detection that names no risk object loads (it can still enrich records), with a
// warning that its risk records carry none; an override that gives it one silences the warning.
func TestNoRiskObjectIsSaid(t *testing.T) {
	dir := layout(t, map[string]string{"none.yml": `name: No Risk
id: nr
search: verb=create
rba:
  message: a create
  risk_objects: []
`})
	core, logs := observer.New(zapcore.WarnLevel)
	res, err := Load(Options{Paths: []string{dir}, Logger: zap.New(core)})
	require.NoError(t, err)
	require.Len(t, res.Rules, 1)
	warned := logs.FilterMessageSnippet("names no risk object").All()
	require.Len(t, warned, 1)
	assert.Equal(t, "No Risk", warned[0].ContextMap()["rule"])

	core, logs = observer.New(zapcore.WarnLevel)
	_, err = Load(Options{Paths: []string{dir}, Logger: zap.New(core), Overrides: map[string]Override{
		"nr": {RiskObjects: []rule.RiskObject{{Field: "user.username", Type: "user", Score: 5}}}}})
	require.NoError(t, err)
	assert.Empty(t, logs.FilterMessageSnippet("names no risk object").All())
}

// TestNoMessageIsSaid: an ESCU detection without a risk message loads with a warning (its risk records say only its
// search name and risk object); one with a message is not said.
func TestNoMessageIsSaid(t *testing.T) {
	dir := layout(t, map[string]string{
		"none.yml": `name: No Message
id: nm
search: verb=create
rba:
  risk_objects:
  - field: user.username
    type: user
    score: 5
`,
		"with.yml": detection("w", "With Message", "verb=get"),
	})
	core, logs := observer.New(zapcore.WarnLevel)
	res, err := Load(Options{Paths: []string{dir}, Logger: zap.New(core)})
	require.NoError(t, err)
	require.Len(t, res.Rules, 2)
	warned := logs.FilterMessageSnippet("has no risk message").All()
	require.Len(t, warned, 1)
	assert.Equal(t, "No Message", warned[0].ContextMap()["rule"])
}
