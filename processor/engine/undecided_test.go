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
	e, whole, dropped := compileWhole(t, rules)
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
	ne := verb("create")
	ne.Op = rule.OpNe
	admin := rule.Compare{Field: rule.Field{Name: "user.username"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "admin"}}
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
		// `\*` is the value *, which the index reads as any verb (Any): the rule is a candidate of every event.
		{rule.And{verb(`\*`)}, 1},
		{rule.And{rule.Compare{Field: pods.Field, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: `\*`}}}, 1},
		// Only = is decided: != create holds of no event the index makes a candidate.
		{rule.And{verb("create"), ne}, 1},
		// Only verb and resource are decided, whatever values another field shares with them.
		{rule.And{verb("admin"), admin}, 1},
		{rule.And{manyVerbs, manyResources}, 2},
		// The glob's escapes are read as the index reads them: `cr\eate` is create.
		{rule.And{verb(`cr\eate`), pods}, 0},
	} {
		if got := undecided(tc.filter, requiredOps(tc.filter)); len(got) != tc.kept {
			t.Errorf("%#v: kept %#v, want %d conjuncts", tc.filter, got, tc.kept)
		}
	}
	// What leaving those out would do: each of these rules matches no event here.
	for _, f := range []rule.Expr{
		rule.And{verb(`\*`)},
		rule.And{rule.Compare{Field: pods.Field, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: `\*`}}},
		rule.And{verb("create"), ne},
		rule.And{verb("admin"), admin},
	} {
		e, err := Compile([]*rule.Rule{{ID: "r", Name: "r", Filter: f}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, body := range []string{`{"verb":"create","objectRef":{"resource":"pods"}}`,
			`{"verb":"admin","user":{"username":"bob"}}`} {
			if ms, err := e.Match([]byte(body)); err != nil || len(ms) > 0 {
				t.Errorf("%#v on %s: matched %d, %v", f, body, len(ms), err)
			}
		}
	}
}

// An event the index found malformed while reading its verb and resource is refused before any rule's state counts
// it. A rule whose filter the index decides whole has no term left to read the body and fail on: without the check
// the window counted the event that Evaluate then refused.
func TestMalformedEventCountsInNoWindow(t *testing.T) {
	// pods makes the index read the resource of a create (a resource decides its candidates).
	pods := &rule.Rule{ID: "pods", Name: "pods", Filter: rule.And{eq("verb", "create"), eq("objectRef.resource", "pods")}}
	counts := func(id string, f rule.Expr) *rule.Rule {
		return &rule.Rule{ID: id, Name: id, Filter: f, Pipeline: []rule.Stage{
			rule.Stats{Aggs: []rule.Aggregate{countOnly}}, rule.Where{Cond: cmp("count", rule.OpGe, "2")}}}
	}
	e, err := Compile([]*rule.Rule{pods, counts("decided", eq("verb", "create")),
		counts("negated", rule.Not{X: eq("user.username", "nobody")})}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(`{"verb":"create","objectRef":{"resource":"pods",},"stageTimestamp":"2026-05-04T10:00:00Z"}`)
	if _, err := e.Evaluate(bad); err == nil {
		t.Fatalf("%s: no error", bad)
	}
	for _, w := range e.WindowStats() {
		if w.Keys != 0 {
			t.Errorf("%s: %d groups after the malformed event, want none", w.Rule.Name, w.Keys)
		}
	}
}

// The index and the filters read one event alike, however it is written: rules on verb and resource whose values are
// globs with escapes, empty, outside ASCII (dotted I, long s, Kelvin sign, sigmas), not UTF-8 or U+FFFD, numbers and
// words JSON has; events whose verb and resource are those as strings (escaped or not), numbers, booleans, null,
// objects or arrays, under keys written with escapes, twice, dotted at the top level, compact or not, after the
// API server's head or not. A rule matches exactly when it is a candidate and its whole filter holds, read after
// the index as in Evaluate (the parser taught by the events before) and on a fresh parser alike.
func TestIndexDecidedOnHostileEvents(t *testing.T) {
	rnd := rand.New(rand.NewSource(5))
	texts := []string{"create", `cr\eate`, `\*`, `a\\b`, `x\`, "", "5", "true", "null", "\u0130", "i", "\xff", "\ufffd",
		"\u212aill", "kill", "\u017fecret", "secret", strings.Repeat("ab", 200), "\xe2\x84", "\u03a3", "\u03c2"}
	values := []string{`"create"`, `"\u0063reate"`, `"CREATE"`, `5`, `5.0`, `true`, `null`, `{"a":"create"}`, `["create"]`,
		"\"\xff\"", "\"\xfe\"", `"\ufffd"`, "\"\ufffd\"", "\"\u212aILL\"", "\"\u0130\"", `"\ud800"`, `"\u0130"`, `"i"`, `"I"`, `"\u0131"`, `"KILL"`, `"\u212aill"`,
		`"SECRET"`, `"\u017fecret"`, `"*"`, `"a\\b"`, `"ab"`, `"x\\"`, `"x"`, `""`, `"` + strings.Repeat("AB", 200) + `"`,
		"\"\xe2\x84\"", "\"\xe2\x84X\"", `"\u03a3"`, `"\u03c3"`, `"\u03c2"`}
	pick := func(vs []string) string { return vs[rnd.Intn(len(vs))] }
	cmp := func(field string) rule.Compare {
		c := rule.Compare{Field: rule.Field{Name: field}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: pick(texts)}}
		if rnd.Intn(4) == 0 {
			c.Op = rule.OpNe
		}
		return c
	}
	term := func() rule.Expr {
		field := []string{"verb", "objectRef.resource", "user.username"}[rnd.Intn(3)]
		if rnd.Intn(2) == 0 {
			return cmp(field)
		}
		var or rule.Or
		for range 1 + rnd.Intn(3) {
			or = append(or, cmp(field))
		}
		return or
	}
	var rules []*rule.Rule
	index := map[*rule.Rule]int{}
	for i := range 150 {
		var f rule.And
		for range 1 + rnd.Intn(3) {
			f = append(f, term())
		}
		rules = append(rules, &rule.Rule{ID: fmt.Sprint(i), Name: fmt.Sprint(i), Filter: f})
		index[rules[i]] = i
	}
	e, whole, dropped := compileWhole(t, rules)
	ev := e.Evaluator()
	defer ev.Close()
	var taught event.Parser
	verbKeys := []string{`"verb"`, `"v\u0065rb"`, `"verb" `}
	const head = `"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/"`
	matched := 0
	for range 3000 {
		var parts []string
		for range rnd.Intn(3) {
			parts = append(parts, pick(verbKeys)+`:`+pick(values))
		}
		if rnd.Intn(8) > 0 {
			res := `"resource":` + pick(values)
			if rnd.Intn(4) == 0 {
				res += `,"res\u006furce":` + pick(values)
			}
			parts = append(parts, `"objectRef":{`+res+`}`)
		}
		if rnd.Intn(6) == 0 {
			parts = append(parts, `"objectRef.resource":`+pick(values))
		}
		parts = append(parts, `"user":{"username":`+pick(values)+`}`)
		rnd.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
		if rnd.Intn(3) == 0 {
			parts = append([]string{head}, parts...)
		}
		sep := []string{",", ", "}[rnd.Intn(2)]
		body := []byte(`{` + strings.Join(parts, sep) + `}`)
		res, err := ev.Evaluate(body)
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		got := make([]bool, len(rules))
		for _, m := range res.Matches {
			got[index[m.Rule]] = true
		}
		v, err := taught.Open(body)
		if err != nil {
			t.Fatal(err)
		}
		c := &evalCtx{}
		c.begin()
		cands := make([]bool, len(rules))
		for _, i := range e.index.candidates(c, v) {
			cands[i] = true
		}
		var fresh event.Parser
		fv, err := fresh.Open(body)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rules {
			after := whole[i].eval(&evalCtx{}, source{view: v})
			alone := whole[i].eval(&evalCtx{}, source{view: fv})
			if want := cands[i] && after; got[i] != want || after != alone {
				t.Fatalf("rule %#v on %q: matched %v, candidate %v, whole filter %v after the index, %v on a fresh parser",
					r.Filter, body, got[i], cands[i], after, alone)
			}
			if got[i] {
				matched++
			}
		}
	}
	if dropped < 80 || matched < 1000 {
		t.Fatalf("%d conjuncts left out of %d rules, %d matches: too few to say anything", dropped, len(rules), matched)
	}
}

// compileWhole compiles rules into one engine, and each rule's whole filter on its own (nothing left out); dropped
// counts the conjuncts the engine leaves to the index.
func compileWhole(t *testing.T, rules []*rule.Rule) (e *Engine, whole []node, dropped int) {
	t.Helper()
	e, err := Compile(rules, Options{})
	if err != nil {
		t.Fatal(err)
	}
	whole = make([]node, len(rules))
	for i, r := range rules {
		if whole[i], err = compileExpr(r.Filter, nil); err != nil {
			t.Fatal(err)
		}
		dropped += len(conjuncts(r.Filter)) - len(undecided(r.Filter, requiredOps(r.Filter)))
	}
	return e, whole, dropped
}
