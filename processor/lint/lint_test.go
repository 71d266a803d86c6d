package lint

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func eq(field, text string) rule.Compare {
	return rule.Compare{Field: rule.Field{Name: field}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: text}}
}

func TestCheck(t *testing.T) {
	exact := eq("stage", "responsecomplete")
	exact.Value.CaseSensitive = true
	number := eq("responseStatus.code", "403")
	number.Value.Kind = rule.Number
	pods := eq("objectRef.resource", "pods")
	exactVerb := eq("verb", "li\u017ft")
	exactVerb.Value.CaseSensitive = true
	ne := eq("stage", "ResponseCompleted")
	ne.Op = rule.OpNe
	longName := rule.ValueCompare{Left: rule.Call{Func: "length", Args: []rule.Value{rule.FieldValue{Field: rule.Field{Name: "user.name"}}}},
		Op: rule.OpGt, Right: rule.Constant{Text: "3"}}
	tests := []struct {
		name   string
		filter rule.Expr
		terms  []string
		never  bool
	}{
		{"a typo in stage", rule.And{eq("verb", "create"), eq("stage", "ResponseCompleted")}, []string{"stage=ResponseCompleted"}, true},
		{"stage in another case (SPL compares case-insensitively)", eq("stage", "responsecomplete"), nil, false},
		{"stage in another case, compared case-sensitively (KQL)", exact, []string{"stage=responsecomplete"}, true},
		{"a stage glob that fits one value", eq("stage", "Response*"), nil, false},
		{"a stage glob that fits none", eq("stage", "Response*ing"), []string{"stage=Response*ing"}, true},
		{"level given a stage's value", eq("level", "ResponseComplete"), []string{"level=ResponseComplete"}, true},
		{"a dead alternative", rule.And{eq("objectRef.resource", "cronjobs"), rule.Or{eq("verb", "create"), eq("verb", "replace")}},
			[]string{"verb=replace"}, false},
		{"every alternative dead", rule.And{pods, rule.Or{eq("verb", "escalate"), eq("verb", "bind")}}, []string{"verb=escalate", "verb=bind"}, true},
		{"a non-resource request's verb is any HTTP method", rule.Or{eq("verb", "trace"), eq("verb", "replace")}, nil, false},
		{"a resource request's proxy and empty verbs", rule.And{pods, rule.Or{eq("verb", "proxy"), eq("verb", "")}}, nil, false},
		{"objectRef needed under OR does not close the verbs", rule.Or{pods, eq("verb", "replace")}, nil, false},
		{"NOT of a dead term is always true", rule.And{pods, eq("verb", "create"), rule.Not{X: eq("verb", "replace")}}, []string{"verb=replace"}, false},
		{"NOT of NOT", rule.And{rule.Exists{Field: rule.Field{Name: "objectRef.subresource"}}, rule.Not{X: rule.Not{X: eq("verb", "replace")}}},
			[]string{"verb=replace"}, true},
		{"the long s and the Kelvin sign fold to ASCII", rule.And{pods, eq("verb", "li\u017ft"), eq("stage", "Requeſt*"),
			eq("level", "\u212aind")}, []string{"level=\u212aind"}, true},
		{"... but not case-sensitively", rule.And{pods, exactVerb}, []string{"verb=li\u017ft"}, true},
		{"a code compared with a word", rule.And{eq("responseStatus.code", "ALLOW"), rule.Or{eq("requestURI", "*/bin/sh*")}},
			[]string{"responseStatus.code=ALLOW"}, true},
		{"a code glob of digits", eq("responseStatus.code", "4??"), nil, false},
		{"a code glob with an escaped digit", eq("responseStatus.code", `40\3`), nil, false},
		{"a code as a number", number, nil, false},
		{"!= is not checked", ne, nil, false},
		{"a field outside the schema", eq("objectRef.resource", "pod"), nil, false},
		{"an escaped wildcard is literal", rule.And{pods, eq("verb", `get\*`)}, []string{`verb=get\*`}, true},
		{"a member the user has not", eq("user.name", "alice"), []string{"user.name=alice"}, true},
		{"keys are case-sensitive", eq("objectRef.Resource", "pods"), []string{"objectRef.Resource=pods"}, true},
		{"a top-level member the event has not", rule.Exists{Field: rule.Field{Name: "hostPath"}}, []string{"hostPath=*"}, true},
		{"NOT of an absent member", rule.Not{X: rule.Exists{Field: rule.Field{Name: "capabilities"}}}, []string{"capabilities=*"}, false},
		{"below a string", eq("verb.name", "x"), []string{"verb.name=x"}, true},
		{"below a list of strings", eq("sourceIPs{}.ip", "x"), []string{"sourceIPs{}.ip=x"}, true},
		{"open objects", rule.And{eq("user.extra.authentication.kubernetes.io/pod-name{}", "web-*"),
			eq("annotations.authorization.k8s.io/decision", "forbid"), eq("requestObject.spec.hostPID", "true"),
			eq("responseStatus.details.causes{}.reason", "FieldValueInvalid"), eq("impersonatedUser.groups{}", "system:masters"),
			eq("sourceIPs{}", "10.*"), rule.Exists{Field: rule.Field{Name: "user.groups", AnyArray: true}}}, nil, false},
		// A comparison of computed values (SPL's `where len(user.name) > 3`) is not read: unknown, never a finding,
		// under NOT neither (null there is false too, which is not "never true" of the whole).
		{"a computed comparison is unknown", rule.And{pods, longName}, nil, false},
		{"NOT of a computed comparison is unknown", rule.And{pods, rule.Not{X: longName}}, nil, false},
		{"a computed comparison beside a dead term", rule.And{longName, eq("verb", "replace"), pods}, []string{"verb=replace"}, true},
		{"a Compare on an absent member names its operator", rule.Compare{Field: rule.Field{Name: "objectRef.namepsace"}, Op: rule.OpNe,
			Value: rule.Pattern{Kind: rule.Glob, Text: "kube-system"}}, []string{"objectRef.namepsace!=kube-system"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Check(&rule.Rule{Filter: tt.filter})
			var terms []string
			for _, f := range res.Findings {
				terms = append(terms, f.Term)
				if f.Reason == "" {
					t.Errorf("%s: no reason", f.Term)
				}
			}
			if strings.Join(terms, " ") != strings.Join(tt.terms, " ") {
				t.Errorf("terms %q, want %q", terms, tt.terms)
			}
			if res.NeverMatches != tt.never {
				t.Errorf("NeverMatches = %v, want %v", res.NeverMatches, tt.never)
			}
		})
	}
	if res := Check(&rule.Rule{}); res.NeverMatches || len(res.Findings) > 0 {
		t.Errorf("a rule with no filter: %+v", res)
	}
	// The search and where stages before any stage that changes the fields read the event too; later ones do not.
	where := eq("stage", "ResponseCompleted")
	res0 := Check(&rule.Rule{Filter: eq("verb", "get"), Pipeline: []rule.Stage{rule.Search{Cond: eq("verb", "get")}, rule.Where{Cond: where}}})
	if !res0.NeverMatches || len(res0.Because) != 1 || res0.Because[0].Term != "stage=ResponseCompleted" {
		t.Errorf("a where stage right after the filter: %+v", res0)
	}
	res0 = Check(&rule.Rule{Filter: eq("verb", "get"), Pipeline: []rule.Stage{rule.Rename{Pairs: []rule.RenamePair{{From: "stage", To: "s"}}},
		rule.Where{Cond: eq("user.name", "x")}}})
	if res0.NeverMatches || len(res0.Findings) > 0 {
		t.Errorf("a where stage after a rename reads rows, not the event: %+v", res0)
	}
	if Conditions(&rule.Rule{}) != nil {
		t.Error("conditions of a rule with no filter and no stages")
	}

	// A filter false by construction has no term to blame: not reported.
	if res := Check(&rule.Rule{Filter: rule.Or{}}); res.NeverMatches {
		t.Errorf("an empty Or: %+v", res)
	}
	// Because holds the terms that decide, not a dead alternative beside them.
	res := Check(&rule.Rule{Filter: rule.And{eq("objectRef.resource", "pods"), rule.Or{eq("verb", "create"), eq("verb", "replace")},
		eq("stage", "ResponseCompleted")}})
	if len(res.Findings) != 2 || len(res.Because) != 1 || res.Because[0].Term != "stage=ResponseCompleted" {
		t.Errorf("findings %v, because %v; want two findings, because stage=ResponseCompleted", res.Findings, res.Because)
	}
	// Under NOT, a term that is never true is an exclusion that never applies.
	res = Check(&rule.Rule{Filter: rule.And{eq("objectRef.resource", "secrets"), eq("verb", "get"),
		rule.Not{X: eq("user.name", "system:admin")}, rule.Not{X: rule.Not{X: rule.Or{eq("verb", "list"), eq("verb", "replace")}}}}})
	if res.NeverMatches || len(res.Findings) != 2 || len(res.NeverExcludes) != 1 || res.NeverExcludes[0].Term != "user.name=system:admin" {
		t.Errorf("an exclusion that never applies: %+v", res)
	}
	res = Check(&rule.Rule{Filter: rule.Not{X: rule.Or{eq("verb", "get"), rule.Not{X: eq("level", "Everything")}}}})
	if !res.NeverMatches || len(res.Because) != 1 || res.Because[0].Term != "level=Everything" {
		t.Errorf("NOT of an always-true OR: %+v", res)
	}
}

// TestGlobMatchAgreesWithRegexp compares globMatch with the regular expression the glob stands for, on random
// patterns and strings over a small alphabet (so that they meet), both cases.
func TestGlobMatchAgreesWithRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(alphabet string, n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for i := 0; i < 200000; i++ {
		glob := pick(`ab*?\A`, rng.IntN(8))
		s := pick("abAB*", rng.IntN(8))
		cs := i%2 == 0
		var re strings.Builder
		if !cs {
			re.WriteString("(?i)")
		}
		re.WriteString(`^`)
		for j := 0; j < len(glob); j++ {
			switch c := glob[j]; c {
			case '*':
				re.WriteString(`.*`)
			case '?':
				re.WriteString(`.`)
			case '\\':
				if j+1 < len(glob) {
					j++
					c = glob[j]
				}
				re.WriteString(regexp.QuoteMeta(string(c)))
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString(`$`)
		want := regexp.MustCompile(re.String()).MatchString(s)
		if got := globMatch(glob, s, cs); got != want {
			t.Fatalf("globMatch(%q, %q, %v) = %v, regexp %s says %v", glob, s, cs, got, re.String(), want)
		}
	}
}

// A pattern of many stars against a value that fails late: quadratic at worst, not exponential.
func TestGlobMatchManyStars(t *testing.T) {
	glob := strings.Repeat("*a", 2000) + "b"
	if globMatch(glob, strings.Repeat("a", 4000), false) {
		t.Fatal("matched a string without b")
	}
}

// TestGroupByFieldsNoEventHas: a stats that drops rows without a group field never makes a group when the field it
// copies (or, for an alias, every field it copies) is one no audit event has; ES|QL's null groups still fire.
func TestGroupByFieldsNoEventHas(t *testing.T) {
	copyOf := func(path string) rule.Value { return rule.FieldValue{Field: rule.Field{Name: path, AnyArray: true}} }
	stats := func(null bool) rule.Stats {
		return rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"g"}, Windowed: true, NullGroups: null}
	}
	for _, tc := range []struct {
		name  string
		value rule.Value
		null  bool
		never bool
	}{
		{"a field no event has", copyOf("user.name"), false, true},
		{"a field events have", copyOf("user.username"), false, false},
		{"an alias of which every field is absent", rule.Case{Whens: []rule.When{{Cond: rule.True{}, Then: copyOf("src.ip")}, {Cond: rule.True{}, Then: copyOf("source.ip")}}}, false, true},
		{"an alias of which one field is present", rule.Case{Whens: []rule.When{{Cond: rule.True{}, Then: copyOf("src.ip")}, {Cond: rule.True{}, Then: copyOf("sourceIPs")}}}, false, false},
		{"a null group still fires", copyOf("user.name"), true, false},
		{"a computed column is not judged", rule.Call{Func: "to_lower", Args: []rule.Value{copyOf("user.name")}}, false, false},
	} {
		r := &rule.Rule{ID: "r", Name: "r", Pipeline: []rule.Stage{rule.Eval{To: "g", Value: tc.value}, stats(tc.null)}}
		if got := Check(r).NeverMatches; got != tc.never {
			t.Errorf("%s: never matches %v, want %v", tc.name, got, tc.never)
		}
	}
}

// A sequence never completes when one of its steps can never match, or joins on a field no event has, though its
// filter (any step) can pass.
func TestSequenceSteps(t *testing.T) {
	ok, never := eq("verb", "create"), eq("stage", "ResponseCompleted")
	by := []rule.Field{{Name: "user.username"}}
	seq := func(second rule.Expr, key []rule.Field) *rule.Rule {
		return &rule.Rule{Filter: rule.Or{ok, second}, Pipeline: []rule.Stage{rule.Sequence{
			Steps: []rule.SequenceStep{{Cond: ok, By: key}, {Cond: second, By: key}}}}}
	}
	if res := Check(seq(ok, by)); res.NeverMatches {
		t.Errorf("a sequence that can complete: %+v", res)
	}
	if res := Check(seq(never, by)); !res.NeverMatches {
		t.Errorf("a step that never matches: %+v", res)
	}
	if res := Check(seq(ok, []rule.Field{{Name: "user.nme"}})); !res.NeverMatches || !strings.Contains(fmt.Sprint(res.Because), "joins on user.nme") {
		t.Errorf("a key no event has: %+v", res)
	}
}
