package coverage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/escu"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// testRules compiles one rule per search, with IDs r1, r2, ...
func testEngine(t *testing.T, searches ...string) *engine.Engine {
	t.Helper()
	var rules []*rule.Rule
	for i, s := range searches {
		y := fmt.Sprintf("name: Rule %d\nid: r%d\nsearch: '`kube_audit` %s'\n", i+1, i+1, s)
		r, err := escu.Parse(fmt.Sprintf("rules/r%d.yml", i+1), []byte(y), spl.DefaultMacros(), nil)
		require.NoError(t, err)
		rules = append(rules, r)
	}
	e, err := engine.Compile(rules, engine.Options{})
	require.NoError(t, err)
	return e
}

func op(c *Catalog, name string) *Operation {
	for i := range c.Operations {
		if c.Operations[i].Name == name {
			return &c.Operations[i]
		}
	}
	return nil
}

func TestBuild(t *testing.T) {
	c := Build(testEngine(t,
		"objectRef.resource=services verb IN (create, update, patch) requestObject.spec.type=NodePort", // r1
		"objectRef.resource=pods",                // r2: any verb on pods
		"verb=delete",                            // r3: delete of any resource
		"responseStatus.code=403",                // r4: every operation
		"objectRef.resource=widgets verb=create", // r5: a custom resource
	))

	assert.Equal(t, []string{"create-services", "patch-services", "update-services"}, c.Rules[0].Operations)
	assert.Equal(t, []string{"any-pods"}, c.Rules[1].Operations)
	assert.Equal(t, []string{"delete-any"}, c.Rules[2].Operations)
	assert.Equal(t, []string{"any-any"}, c.Rules[3].Operations)

	tests := []struct {
		op          string
		rules       []string
		evaluatedBy []string
		builtin     bool
		group       string
	}{
		{op: "create-services", rules: []string{"r1"}, evaluatedBy: []string{"r1", "r4"}, builtin: true, group: "core"},
		{op: "delete-services", rules: []string{}, evaluatedBy: []string{"r3", "r4"}, builtin: true, group: "core"},
		{op: "get-services", rules: []string{}, evaluatedBy: []string{"r4"}, builtin: true, group: "core"},
		{op: "get-pods", rules: []string{}, evaluatedBy: []string{"r2", "r4"}, builtin: true, group: "core"},
		{op: "any-pods", rules: []string{"r2"}, evaluatedBy: []string{"r2", "r4"}, builtin: true, group: "core"},
		{op: "delete-pods", rules: []string{}, evaluatedBy: []string{"r2", "r3", "r4"}, builtin: true, group: "core"},
		{op: "create-bindings", rules: []string{}, evaluatedBy: []string{"r4"}, builtin: true, group: "core"},
		{op: "create-widgets", rules: []string{"r5"}, evaluatedBy: []string{"r4", "r5"}},
		{op: "delete-any", rules: []string{"r3"}, evaluatedBy: []string{"r3", "r4"}},
		{op: "any-any", rules: []string{"r4"}, evaluatedBy: []string{"r4"}},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			o := op(c, tt.op)
			require.NotNil(t, o)
			assert.Equal(t, tt.rules, o.Rules)
			assert.Equal(t, tt.evaluatedBy, o.EvaluatedBy)
			assert.Equal(t, tt.builtin, o.Builtin)
			assert.Equal(t, tt.group, o.Group)
		})
	}
	assert.Nil(t, op(c, "get-bindings"), "bindings are create-only")
	assert.Nil(t, op(c, "get-any"), "no rule keys on get alone")

	builtinOps := 0
	for _, r := range BuiltinResources {
		builtinOps += len(r.Verbs)
	}
	assert.Equal(t, Summary{
		Rules: 5, RulesOnEveryOperation: 1, RulesOnEveryResource: 1,
		KeyedOperations: 5, KeyedResources: 3, // create/update/patch-services, any-pods, create-widgets
		BuiltinOperations: builtinOps,
		BuiltinCovered:    3 + 8, // services × 3, every verb of pods
	}, c.Summary)
	assert.Equal(t, fmt.Sprintf("3 rules keyed on 5 operations of 3 resources, 1 on every resource, 1 on every operation; "+
		"11 of %d Kubernetes built-in operations have a rule keyed on their resource", builtinOps), c.Line())

	// Built-in resources come first, then others, then the any-resource buckets; verbs in REST order, any last.
	last := len(c.Operations) - 1
	assert.Equal(t, "delete-any", c.Operations[last-1].Name)
	assert.Equal(t, "any-any", c.Operations[last].Name)
}

func TestWriteMarkdown(t *testing.T) {
	c := Build(testEngine(t, "objectRef.resource=services verb=create", "objectRef.resource=services", "verb=delete"))
	var b bytes.Buffer
	require.NoError(t, c.WriteMarkdown(&b))
	md := b.String()
	assert.Contains(t, md, "| 1 | Rule 1 | r1 | rules/r1.yml | create-services |\n")
	// services: create by rule 1, the any-verb bucket by rule 2, no deletecollection verb (empty cell).
	assert.Contains(t, md, "| services | core | 1 | · | · | · | · | · | · |  | 2 |\n")
	assert.Contains(t, md, "| bindings | core | · |  |  |  |  |  |  |  | · |\n")
	assert.Contains(t, md, "| any |  |  |  |  |  |  |  | 3 |  |  |\n")
	assert.Equal(t, `a\|b c`, Cell("a|b\nc"), "cells escape pipes and newlines")
	for _, line := range strings.Split(strings.TrimSpace(md), "\n") {
		if strings.HasPrefix(line, "| ") {
			assert.True(t, strings.HasSuffix(line, "|"), "table line %q", line)
		}
	}
}

// Terms that are never true (package lint) are listed per rule, with whether the rule can still match.
func TestNeverTrueTerms(t *testing.T) {
	c := Build(testEngine(t, "objectRef.resource=pods verb=create", "verb=create stage=ResponseCompleted",
		"objectRef.resource=cronjobs verb IN (create, replace)", `objectRef.resource=pods stage="Response|Completed"`,
		"objectRef.resource=secrets NOT user.name=admin"))
	assert.Empty(t, c.Rules[0].NeverTrue)
	assert.True(t, c.Rules[1].NeverMatches)
	require.Len(t, c.Rules[1].NeverTrue, 1)
	assert.Contains(t, c.Rules[1].NeverTrue[0], "`stage=ResponseCompleted` is never true")
	assert.False(t, c.Rules[2].NeverMatches)
	require.Len(t, c.Rules[2].NeverTrue, 1)
	assert.Equal(t, 2, c.Summary.RulesNeverMatching)
	assert.Equal(t, []string{"stage=ResponseCompleted"}, c.Rules[1].NeverMatchesBecause, "terms as written, for tools")
	assert.Equal(t, []string{"user.name=admin"}, c.Rules[4].NeverExcludes)
	var b bytes.Buffer
	require.NoError(t, c.WriteMarkdown(&b))
	assert.Contains(t, b.String(), "## Terms that are never true")
	assert.Contains(t, b.String(), "| 2 | Rule 2 | `stage=ResponseCompleted` is never true: stage is one of RequestReceived, "+
		"ResponseStarted, ResponseComplete, Panic | **the rule can never match**, because of `stage=ResponseCompleted` |\n")
	assert.Contains(t, b.String(), "| 3 | Rule 3 | `verb=replace` is never true")
	assert.Contains(t, b.String(), "**the rule can never match**, because of `stage=Response\\|Completed` |\n", "cells are escaped")
	assert.Contains(t, b.String(), "| 5 | Rule 5 | `user.name=admin` is never true: user has no member \"name\" (its members: "+
		"username, uid, groups, extra) | **an exclusion never applies** (NOT `user.name=admin`): the rule matches more than written |\n")
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "| ") && strings.Contains(line, "never true") {
			assert.Equal(t, 5, strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"), "four cells: %s", line)
		}
	}
	b.Reset()
	require.NoError(t, c.WriteJSON(&b))
	assert.Contains(t, b.String(), `"never_matches": true`)
	assert.Contains(t, b.String(), `"rules_never_matching": 2`)

	// The upstream status: in JSON, and marked in the rules table when deprecated.
	e := testEngine(t, "objectRef.resource=pods verb=create")
	e.Rules()[0].Status = "deprecated"
	old := Build(e)
	assert.Equal(t, "deprecated", old.Rules[0].Status)
	b.Reset()
	require.NoError(t, old.WriteMarkdown(&b))
	assert.Contains(t, b.String(), "| 1 | Rule 1 (deprecated upstream) | r1 |")
	b.Reset()
	require.NoError(t, old.WriteJSON(&b))
	assert.Contains(t, b.String(), `"status": "deprecated"`)

	clean := Build(testEngine(t, "objectRef.resource=pods verb=create"))
	b.Reset()
	require.NoError(t, clean.WriteMarkdown(&b))
	assert.NotContains(t, b.String(), "never true", "no section when there is nothing to say")
}

func TestWriteJSON(t *testing.T) {
	c := Build(testEngine(t, "objectRef.resource=secrets verb=get"))
	var b bytes.Buffer
	require.NoError(t, c.WriteJSON(&b))
	var back Catalog
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	assert.Equal(t, *c, back)
	assert.Contains(t, b.String(), `"name": "get-secrets"`)
	assert.Contains(t, b.String(), `"evaluated_by": []`, "empty lists are [] for tools, not null")
}

// The built-in pack: every rule is keyed on something, and the catalog lists the operations its README names.
func TestBuiltinPack(t *testing.T) {
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	require.NoError(t, err)
	e, err := engine.Compile(res.Rules, engine.Options{GeoIP: noGeo{}})
	require.NoError(t, err)
	c := Build(e)
	assert.Equal(t, len(res.Rules), c.Summary.Rules)
	for _, r := range c.Rules {
		assert.Empty(t, r.NeverTrue, "the pack's rule %q has a term that is never true", r.Name)
	}
	np := op(c, "create-services")
	require.NotNil(t, np)
	assert.Contains(t, np.Rules, idOf(t, res.Rules, "Kubernetes NodePort Service Exposed"))
	assert.Positive(t, c.Summary.BuiltinCovered)
	assert.Less(t, c.Summary.BuiltinCovered, c.Summary.BuiltinOperations, "most operations have no rule")
}

func idOf(t *testing.T, rules []*rule.Rule, name string) string {
	for _, r := range rules {
		if strings.EqualFold(r.Name, name) {
			return r.ID
		}
	}
	t.Fatalf("no rule %q", name)
	return ""
}

type noGeo struct{}

func (noGeo) Lookup(netip.Addr) (engine.Location, bool) { return engine.Location{}, false }
