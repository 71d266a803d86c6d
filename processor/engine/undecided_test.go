package engine

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The conjuncts the operation index decides are left out of a rule's compiled filter; that is sound when each of
// them holds of every event the rule is a candidate of. Random rules on verb and resource (lists, case-sensitive
// values, wildcards, AnyArray, pairs of verb and resource in an Or, other terms), all in one engine, on events whose
// verb and resource are spelled in other cases, escaped, outside ASCII (the Kelvin sign), written twice, in an array
// or missing: a rule matches exactly when it is a candidate and its whole filter, compiled with nothing left out,
// holds.
func TestIndexDecidedConjunctsHold(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	verbs := []string{"create", "patch", "kill", "get"}
	resources := []string{"pods", "secrets", "kelvins", "nodes"}
	cmp := func(field string, values []string) rule.Expr {
		pick := values[rnd.Intn(len(values))]
		f := rule.Field{Name: field}
		v := rule.Pattern{Kind: rule.Glob, Text: pick}
		switch rnd.Intn(12) {
		case 0:
			v.CaseSensitive = true
		case 1:
			v.Text = pick[:2] + "*"
		case 2:
			f.AnyArray = true
		case 3:
			v.Kind = rule.String
		}
		return rule.Compare{Field: f, Op: rule.OpEq, Value: v}
	}
	term := func(field string, values []string) rule.Expr {
		if rnd.Intn(2) == 0 {
			return cmp(field, values)
		}
		var or rule.Or
		for range 1 + rnd.Intn(3) {
			or = append(or, cmp(field, values))
		}
		return or
	}
	other := func() rule.Expr {
		return rule.Compare{Field: rule.Field{Name: "user.username"}, Op: rule.OpEq,
			Value: rule.Pattern{Kind: rule.Glob, Text: []string{"admin", "*"}[rnd.Intn(2)]}}
	}
	var rules []*rule.Rule
	for i := range 60 {
		var f rule.And
		switch rnd.Intn(4) {
		case 0:
			f = rule.And{term("verb", verbs), term("objectRef.resource", resources)}
		case 1:
			f = rule.And{term("verb", verbs)}
		case 2:
			f = rule.And{term("objectRef.resource", resources), other()}
		default:
			f = rule.And{rule.Or{rule.And{cmp("verb", verbs), cmp("objectRef.resource", resources)},
				rule.And{cmp("verb", verbs), cmp("objectRef.resource", resources)}}, term("verb", verbs)}
		}
		if rnd.Intn(2) == 0 {
			f = append(f, other())
		}
		rules = append(rules, &rule.Rule{ID: fmt.Sprint(i), Name: fmt.Sprint(i), Filter: f})
	}
	e, err := Compile(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	whole := make([]node, len(rules))
	dropped := 0
	for i, r := range rules {
		if whole[i], err = compileExpr(r.Filter, nil); err != nil {
			t.Fatal(err)
		}
		dropped += len(conjuncts(r.Filter)) - len(undecided(r.Filter, requiredOps(r.Filter)))
	}
	spell := func(s string) string {
		switch rnd.Intn(6) {
		case 0:
			return strings.ToUpper(s)
		case 1:
			return strings.ReplaceAll(s, "k", "\u212a") // the Kelvin sign folds to k
		case 2:
			return `\u00` + fmt.Sprintf("%x", s[0]) + s[1:]
		case 3:
			return strings.Title(s) //nolint:staticcheck // ASCII words
		}
		return s
	}
	value := func(values []string) string {
		switch rnd.Intn(8) {
		case 0:
			return `["` + spell(values[rnd.Intn(len(values))]) + `"]`
		case 1:
			return `"` + spell(values[rnd.Intn(len(values))]) + `","` + "verbOrResource" + `":"x"`
		}
		return `"` + spell(values[rnd.Intn(len(values))]) + `"`
	}
	ev := e.Evaluator()
	defer ev.Close()
	var p event.Parser
	checked, matched := 0, 0
	for range 4000 {
		var parts []string
		if rnd.Intn(8) > 0 {
			parts = append(parts, `"verb":`+value(verbs))
		}
		if rnd.Intn(6) == 0 {
			parts = append(parts, `"verb":`+value(verbs)) // twice
		}
		res := `"resource":` + value(resources)
		if rnd.Intn(6) == 0 {
			res += `,"resource":` + value(resources)
		}
		if rnd.Intn(8) > 0 {
			parts = append(parts, `"objectRef":{`+res+`}`)
		}
		parts = append(parts, `"user":{"username":"`+spell("admin")+`"}`)
		body := []byte(`{` + strings.Join(parts, ",") + `}`)
		cands := map[string]bool{}
		if err := ev.Candidates(body, func(r *rule.Rule) { cands[r.ID] = true }); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		got := map[string]bool{}
		res2, err := ev.Evaluate(body)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		for _, m := range res2.Matches {
			got[m.Rule.ID] = true
		}
		v, err := p.Open(body)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rules {
			want := cands[r.ID] && whole[i].eval(&evalCtx{}, source{view: v})
			if got[r.ID] != want {
				t.Fatalf("rule %#v on %s: matched %v, want %v (candidate %v)", r.Filter, body, got[r.ID], want, cands[r.ID])
			}
			checked++
			if want {
				matched++
			}
		}
	}
	if dropped < 40 || matched < 2000 {
		t.Fatalf("%d conjuncts left out of 60 rules, %d matches of %d answers: too few to say anything", dropped, matched, checked)
	}
}

// Only a conjunct the index decides for every operation of the rule is left out: a case-sensitive or wildcard
// value, an AnyArray field, an Or over two fields, or a rule with an operation on any verb keeps it.
func TestUndecidedKeeps(t *testing.T) {
	verb := func(text string) rule.Compare {
		return rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: text}}
	}
	cs := verb("create")
	cs.Value.CaseSensitive = true
	anyArray := verb("create")
	anyArray.Field.AnyArray = true
	str := rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.String, Text: `a\b`}}
	// More operations than maxOpsPerRule: the rule is on every operation, and the index decides nothing.
	var manyVerbs, manyResources rule.Or
	for i := range 20 {
		manyVerbs = append(manyVerbs, verb(fmt.Sprint("v", i)))
		manyResources = append(manyResources, rule.Compare{Field: rule.Field{Name: "objectRef.resource"}, Op: rule.OpEq,
			Value: rule.Pattern{Kind: rule.Glob, Text: fmt.Sprint("r", i)}})
	}
	pods := rule.Compare{Field: rule.Field{Name: "objectRef.resource"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "pods"}}
	for _, tc := range []struct {
		filter rule.Expr
		kept   int
	}{
		{rule.And{verb("create"), pods}, 0},
		{rule.And{rule.Or{verb("create"), verb("Patch")}, pods}, 0},
		{rule.And{cs, pods}, 1},
		{rule.And{verb("cr*"), pods}, 1},
		{rule.And{anyArray, pods}, 1},
		{rule.And{rule.Or{verb("create"), pods}}, 1},
		{rule.And{rule.Or{rule.And{verb("create"), pods}, verb("get")}, verb("create")}, 1},
		{rule.And{verb("create"), rule.Not{X: pods}}, 1},
		// A String value is the text itself: `a\b` is not the glob `a\b` (ab), which the index reads.
		{rule.And{verb("ab"), str}, 1},
		{rule.And{manyVerbs, manyResources}, 2},
	} {
		if got := undecided(tc.filter, requiredOps(tc.filter)); len(got) != tc.kept {
			t.Errorf("%#v: kept %#v, want %d conjuncts", tc.filter, got, tc.kept)
		}
	}
}
