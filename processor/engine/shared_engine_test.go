package engine

import (
	"bytes"
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The whole engine with shared terms against the same rules compiled without them, and against each rule compiled
// alone: the built-in pack and the corpus rules, over the generated mix, the pack's and the corpus's events and
// hostile variants of them (escaped, reordered, duplicate and dotted keys, values in another case, bodies cut
// short). Each engine evaluates them in one series with one Evaluator, so that an answer kept for one event that
// outlived it would show; stateful rules (windows, new_terms) see the same series in each, and so do the
// prefilters' counts (no corpus rule is a sequence: TestSharedTermsInSequenceSteps).
func TestSharedTermsEvaluateAsUnshared(t *testing.T) {
	rules := allRules(t)
	if n := len(sharedTerms(rules)); n < 10 {
		t.Fatalf("%d terms shared among %d rules: too few for the comparison to say anything", n, len(rules))
	}
	opts := Options{GeoIP: refGeo{}}
	counted := opts
	counted.CountPrefilters = true
	shared, err := Compile(rules, counted)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := compile(rules, counted, false)
	if err != nil {
		t.Fatal(err)
	}
	alone := make([]*Engine, len(rules))
	for i, r := range rules {
		if alone[i], err = Compile([]*rule.Rule{r}, opts); err != nil {
			t.Fatal(err)
		}
	}
	// whole: bodies that are JSON; all: them and bodies cut short (which the engine may read without noticing).
	var whole, all [][]byte
	for i, body := range testBodies(t, 200) {
		vs := variants(t, body)
		for _, name := range []string{"as written", "reordered", "escaped", "duplicates", "dotted"} {
			whole = append(whole, vs[name])
		}
		whole = append(whole, otherCase(body, i))
		all = append(all, whole[len(whole)-6:]...)
		for _, n := range []int{len(body) / 3, len(body) * 2 / 3, len(body) - 1} {
			all = append(all, body[:n])
		}
	}

	// With and without shared terms, body after body, the bodies cut short among the others: the same results,
	// errors included (an evaluation stops at the first filter that reads past the cut).
	evS, evP := shared.Evaluator(), plain.Evaluator()
	defer evS.Close()
	defer evP.Close()
	matched, failed, gated := 0, 0, 0
	for bi, body := range all {
		got, gotErr := evS.Evaluate(body)
		want, wantErr := evP.Evaluate(body)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, want) {
			t.Fatalf("body %d: shared terms give %v, %v; unshared %v, %v\n%.600s", bi, matchNames(got), gotErr,
				matchNames(want), wantErr, body)
		}
		if gotErr != nil {
			failed++
		}
		matched += len(got.Matches)
	}

	// Each rule alone, on the whole bodies (a body cut short stops an evaluation before the later rules, whose
	// windows then do not count it, where alone they would): the same rows as the rule set's.
	together, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	evT := together.Evaluator()
	defer evT.Close()
	evA := make([]Evaluator, len(alone))
	for i, e := range alone {
		evA[i] = e.Evaluator()
		defer evA[i].Close()
	}
	for bi, body := range whole {
		got, err := evT.Evaluate(body)
		if err != nil {
			t.Fatalf("body %d: %v\n%.600s", bi, err, body)
		}
		for i := range alone {
			res, err := evA[i].Evaluate(body)
			var rows, aloneRows []Row
			if k := slices.IndexFunc(got.Matches, func(m Match) bool { return m.Rule == rules[i] }); k >= 0 {
				rows = got.Matches[k].Rows
			}
			if len(res.Matches) > 0 {
				aloneRows = res.Matches[0].Rows
			}
			if err != nil || !reflect.DeepEqual(rows, aloneRows) {
				t.Fatalf("body %d, rule %s: together %v, alone %v, %v\n%.600s", bi, rules[i].Name, rows, aloneRows,
					err, body)
			}
		}
	}
	for _, r := range rules {
		got, ok := shared.Prefilter(r)
		want, _ := plain.Prefilter(r)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("rule %s: prefilter counts %d/%d/%d with shared terms, %d/%d/%d without", r.Name, got.Reached,
				got.Passed, got.Held, want.Reached, want.Passed, want.Held)
		}
		if ok && got.Reached > 0 {
			gated++
		}
	}
	if got, want := shared.CloseAll(), plain.CloseAll(); !reflect.DeepEqual(got, want) {
		t.Fatalf("windows answered at their close: shared terms %v, unshared %v", got, want)
	}
	if matched < 100 || failed == 0 || failed == len(all) || gated == 0 {
		t.Fatalf("%d bodies, %d matches, %d errors, %d prefilters reached: the comparison proves too little",
			len(all), matched, failed, gated)
	}
	t.Logf("%d rules, %d bodies: %d matches and %d errors alike with and without shared terms, and alone",
		len(rules), len(all), matched, failed)
}

func matchNames(res Result) []string {
	var out []string
	for _, m := range res.Matches {
		out = append(out, fmt.Sprintf("%s(%d rows)", m.Rule.Name, len(m.Rows)))
	}
	return out
}

// otherCase returns body with the ASCII letters of every other string value in another case (all upper, or each
// letter flipped, by seed): keys and escapes are left as written, so that case-insensitive terms still match and
// case-sensitive ones may not.
func otherCase(body []byte, seed int) []byte {
	out := slices.Clone(body)
	type level struct{ object, key bool } // key: the next string of the object is a key
	var stack []level
	values := 0
	for i := 0; i < len(out); i++ {
		switch out[i] {
		case '{':
			stack = append(stack, level{object: true, key: true})
		case '[':
			stack = append(stack, level{})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].key = true
			}
		case '"':
			isKey := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].key
			if isKey {
				stack[len(stack)-1].key = false
			}
			change := !isKey && values%2 == seed%2
			if !isKey {
				values++
			}
			if end := bytes.IndexByte(out[i+1:], '"'); end >= 0 {
				if _, ok := parseTime(out[i+1 : i+1+end]); ok {
					change = false // an event without a time of its own is evaluated at time.Now()
				}
			}
			for i++; i < len(out) && out[i] != '"'; i++ {
				if out[i] == '\\' {
					i++ // \uXXXX's hex digits read the same in either case; \n's letter does not
					continue
				}
				if c := out[i]; change && ('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') &&
					(seed%4 < 2 || 'a' <= c && c <= 'z') {
					out[i] = c ^ 0x20
				}
			}
		}
	}
	return out
}

// An answer a shared term keeps is for its evaluation only, also once the evaluation number wraps round: the
// answer kept in the first evaluation numbered 1 is not read in the next one.
func TestSharedAnswersForgottenAtWrap(t *testing.T) {
	// Not verb or objectRef.resource: the index decides those, and they are left out of the filters.
	term := rule.Compare{Field: rule.Field{Name: "stage"}, Op: rule.OpEq,
		Value: rule.Pattern{Kind: rule.Glob, Text: "ResponseComplete"}}
	rules := []*rule.Rule{{Filter: term}, {Filter: rule.And{term, rule.Exists{Field: rule.Field{Name: "user"}}}}}
	fs := &fields{refs: map[rule.Field]*fieldRef{}, shared: sharedTerms(rules)}
	n, err := compileFilter(term, nil, fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := n.(sharedNode); !ok {
		t.Fatalf("%T: the term both rules test is not shared", n)
	}
	var p event.Parser
	c := &evalCtx{}
	for k, tc := range []struct {
		body string
		want bool
	}{{`{"stage":"ResponseComplete"}`, true}, {`{"stage":"ResponseStarted"}`, false},
		{`{"stage":"RESPONSECOMPLETE"}`, true}} {
		if k > 0 {
			c.gen = ^uint32(0) // the last number before the wrap: begin starts again from 1
		}
		c.begin()
		v, err := p.Open([]byte(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		if got := n.eval(c, source{view: v}); got != tc.want || c.gen != 1 {
			t.Fatalf("%s, evaluation %d: %v, want %v", tc.body, c.gen, got, tc.want)
		}
	}
}

// The backslash answer (prefilter.go) is for its evaluation only, also once the evaluation number wraps round: a
// stale "no backslash" would skip the search for escaped literals, and the gate would turn away an event whose
// value is spelled with \u escapes.
func TestBackslashForgottenAtWrap(t *testing.T) {
	c := &evalCtx{}
	c.begin()
	if c.backslash([]byte(`{"verb":"create"}`)) {
		t.Fatal("a body without a backslash holds one")
	}
	c.gen = ^uint32(0)
	c.begin()
	if !c.backslash([]byte(`{"verb":"cr\u0065ate"}`)) {
		t.Fatal("after the wrap, the first evaluation's answer is read for another body")
	}
}

// A sequence's steps are compiled with the shared terms and read the event through the evaluation's memo: random
// sequences whose steps and until test the terms other rules' filters test, with those rules before and after them,
// answer with shared terms as without, event after event (no corpus rule is a sequence).
func TestSharedTermsInSequenceSteps(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	cs := func(c rule.Compare) rule.Compare { c.Value.CaseSensitive = true; return c }
	pool := []rule.Expr{
		eq("verb", "update"), eq("verb", "create"), cs(eq("verb", "create")), cmp("verb", rule.OpNe, "get"),
		eq("objectRef.resource", "roles"), eq("objectRef.resource", "deployments"), eq("user.username", "adm*"),
		rule.Or{eq("verb", "create"), eq("verb", "update")},
		rule.Or{eq("objectRef.resource", "roles"), eq("objectRef.resource", "rolebindings")},
	}
	term := func() rule.Expr {
		switch k := rnd.Intn(6); {
		case k == 0:
			return rule.Not{X: pool[rnd.Intn(len(pool))]}
		case k == 1:
			return rule.And{pool[rnd.Intn(len(pool))], pool[rnd.Intn(len(pool))]}
		}
		return pool[rnd.Intn(len(pool))]
	}
	pick := func(vs ...string) string { return vs[rnd.Intn(len(vs))] }
	by := []rule.Field{{Name: "user.username"}}
	sharedSteps, completed := 0, 0
	for round := range 60 {
		var rules []*rule.Rule
		for i := range 2 + rnd.Intn(4) {
			r := &rule.Rule{ID: fmt.Sprintf("f%d", i), Name: fmt.Sprintf("f%d", i), Filter: term()}
			if rnd.Intn(2) == 0 {
				seq := rule.Sequence{MaxSpan: time.Minute}
				for range 2 + rnd.Intn(2) {
					seq.Steps = append(seq.Steps, rule.SequenceStep{Cond: term(), By: by})
				}
				if rnd.Intn(3) == 0 {
					seq.Until = rule.SequenceStep{Cond: term(), By: by}
				}
				if rnd.Intn(2) == 0 {
					r.Filter = nil
				}
				r.ID, r.Name, r.Pipeline = fmt.Sprintf("s%d", i), fmt.Sprintf("s%d", i), []rule.Stage{seq}
			}
			rules = append(rules, r)
		}
		slots := sharedTerms(rules)
		for _, r := range rules {
			if len(r.Pipeline) > 0 {
				seq := r.Pipeline[0].(rule.Sequence)
				for _, st := range append(seq.Steps, seq.Until) {
					for _, x := range append(conjuncts(st.Cond), st.Cond) {
						if k, ok := termKey(x); ok {
							if _, ok := slots[k]; ok {
								sharedSteps++
							}
						}
					}
				}
			}
		}
		shared, err := Compile(rules, Options{})
		if err != nil {
			t.Fatal(err)
		}
		plain, err := compile(rules, Options{}, false)
		if err != nil {
			t.Fatal(err)
		}
		evS, evP := shared.Evaluator(), plain.Evaluator()
		for i := range 40 {
			verb := pick("update", "create", "Create", "get", "patch")
			body := seqEvent(fmt.Sprintf("e%d", i), pick("adm", "Admin", "bob", ""), verb,
				pick("roles", "Roles", "rolebindings", "deployments", "pods"), i)
			got, gotErr := evS.Evaluate([]byte(body))
			want, wantErr := evP.Evaluate([]byte(body))
			if gotErr != nil || wantErr != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d, %s: shared terms give %v %q, %v; unshared %v %q, %v", round, body, matchNames(got),
					sequencesOf(got.Matches), gotErr, matchNames(want), sequencesOf(want.Matches), wantErr)
			}
			if sequencesOf(got.Matches) != "" {
				completed++
			}
		}
		evS.Close()
		evP.Close()
	}
	if sharedSteps < 30 || completed < 50 {
		t.Fatalf("%d shared terms in sequence steps, %d events completing a sequence: too few to say anything",
			sharedSteps, completed)
	}
	t.Logf("%d shared terms in sequence steps, %d events completing a sequence", sharedSteps, completed)
}
