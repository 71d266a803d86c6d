package engine

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Random rule sets drawn from a small pool of terms, so that rules test the same terms and terms that differ only in
// case-sensitivity, operator, AnyArray or Leaves, or are tests of a field's existence of another kind: compiled together (terms shared) each rule answers as it does
// compiled alone, event after event with one evaluation state (an answer never outlives its event), and on rows
// (a search stage reads the row, not the answer kept for the event).
func TestSharedTermsAnswerAsAlone(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	pool := []rule.Expr{
		rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "create"}},
		rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "create", CaseSensitive: true}},
		rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpNe, Value: rule.Pattern{Kind: rule.Glob, Text: "create"}},
		rule.Compare{Field: rule.Field{Name: "user.groups{}"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "system:masters"}},
		rule.Compare{Field: rule.Field{Name: "user.groups"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "system:masters"}},
		rule.Compare{Field: rule.Field{Name: "user.groups", AnyArray: true}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "system:masters"}},
		rule.Compare{Field: rule.Field{Name: "user", Leaves: true}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "system:masters"}},
		rule.Compare{Field: rule.Field{Name: "user.username"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "admin*"}},
		rule.Compare{Field: rule.Field{Name: "user.username"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.String, Text: "admin*"}},
		rule.Compare{Field: rule.Field{Name: "user.username"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Regex, Text: "^ad"}},
		rule.Or{
			rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "create"}},
			rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "patch"}},
		},
		rule.Or{
			rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "create", CaseSensitive: true}},
			rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "patch", CaseSensitive: true}},
		},
		rule.Or{
			rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "create"}},
			rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "update"}},
		},
		rule.Compare{Field: rule.Field{Name: "responseStatus.code"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Number, Text: "403"}},
		rule.Compare{Field: rule.Field{Name: "responseStatus.code"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "40?"}},
		rule.Compare{Field: rule.Field{Name: "requestObject.spec.hostPID"}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: "true"}},
		rule.Exists{Field: rule.Field{Name: "responseStatus"}},
		rule.Exists{Field: rule.Field{Name: "responseStatus"}, AnyValue: true},
		rule.Exists{Field: rule.Field{Name: "responseStatus"}, Under: true},
		rule.Exists{Field: rule.Field{Name: "requestObject.spec.hostPID"}, AnyValue: true, NotNull: true},
		rule.Exists{Field: rule.Field{Name: "user.groups"}},
		rule.Exists{Field: rule.Field{Name: "user.groups"}, AnyValue: true},
		// The same names with Leaves (an object's leaves are values) and AnyArray (an array's elements are).
		rule.Exists{Field: rule.Field{Name: "responseStatus", Leaves: true}},
		rule.Exists{Field: rule.Field{Name: "user.groups", AnyArray: true}},
	}
	var expr func(depth int) rule.Expr
	expr = func(depth int) rule.Expr {
		k := rnd.Intn(10)
		if depth > 2 {
			k = 0
		}
		switch {
		case k < 6:
			return pool[rnd.Intn(len(pool))]
		case k < 8:
			return rule.And{expr(depth + 1), expr(depth + 1)}
		case k < 9:
			return rule.Or{expr(depth + 1), expr(depth + 1)}
		}
		return rule.Not{X: expr(depth + 1)}
	}
	pick := func(vs ...string) string { return vs[rnd.Intn(len(vs))] }
	randomEvent := func() string {
		var parts []string
		if rnd.Intn(8) > 0 {
			parts = append(parts, `"verb":"`+pick("create", "CREATE", "patch", "Patch", "update", "get")+`"`)
		}
		user := []string{`"username":"` + pick("admin", "ADMIN-x", "system:anonymous", "ad", `admin\u002a`, "admin*") + `"`}
		if rnd.Intn(3) > 0 {
			user = append(user, `"groups":[`+pick(`"system:masters"`, `"System:Masters"`, `"x","system:masters"`, `"a"`, ``)+`]`)
		} else if rnd.Intn(2) == 0 {
			user = append(user, `"groups":"system:masters"`)
		}
		parts = append(parts, `"user":{`+strings.Join(user, ",")+`}`)
		if rnd.Intn(4) > 0 {
			parts = append(parts, `"responseStatus":`+pick(`{"code":403}`, `{"code":404}`, `{"code":200}`, `{"code":"403"}`, `{}`, `null`))
		}
		if rnd.Intn(3) == 0 {
			parts = append(parts, `"requestObject":{"spec":{"hostPID":`+pick("true", "false", `"TRUE"`, "null")+`}}`)
		}
		return `{` + strings.Join(parts, ",") + `}`
	}

	var p event.Parser
	shared, checked := 0, 0
	for round := range 300 {
		rules := make([]*rule.Rule, 2+rnd.Intn(6))
		for i := range rules {
			rules[i] = &rule.Rule{Name: fmt.Sprintf("r%d", i), Filter: expr(0)}
		}
		fs := &fields{refs: map[rule.Field]*fieldRef{}, shared: sharedTerms(rules)}
		together := make([]node, len(rules))
		alone := make([]node, len(rules))
		for i, r := range rules {
			var err error
			if together[i], err = compileFilter(r.Filter, nil, fs, nil); err != nil {
				t.Fatal(err)
			}
			if alone[i], err = compileFilter(r.Filter, nil, &fields{refs: map[rule.Field]*fieldRef{}}, nil); err != nil {
				t.Fatal(err)
			}
		}
		shared += len(fs.shared)
		c := &evalCtx{}
		for range 20 {
			body := randomEvent()
			v, err := p.Open([]byte(body))
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			c.begin()
			r := &row{}
			for _, f := range []string{"verb", "user.username", "responseStatus.code"} {
				r.fields = append(r.fields, RowField{Name: f, Values: []string{pick("create", "patch", "admin-1", "403", "x")}})
			}
			for i := range rules {
				// Twice over the event, so that the second reads the answers the first kept; then on the row.
				for pass := range 2 {
					if got, want := together[i].eval(c, source{view: v}), alone[i].eval(&evalCtx{}, source{view: v}); got != want {
						t.Fatalf("round %d, %s pass %d: %#v on %s: got %v, alone %v", round, rules[i].Name, pass,
							rules[i].Filter, body, got, want)
					}
				}
				if got, want := together[i].eval(c, source{row: r}), alone[i].eval(&evalCtx{}, source{row: r}); got != want {
					t.Fatalf("round %d, %s: %#v on row %v: got %v, alone %v", round, rules[i].Name, rules[i].Filter,
						r.fields, got, want)
				}
				checked++
			}
		}
	}
	if shared < 300 || checked < 10000 {
		t.Fatalf("%d shared terms in 300 rule sets, %d answers checked: too few to say anything", shared, checked)
	}
}

// Terms are shared only between equal comparisons: a case-sensitive value, another operator, AnyArray or Leaves,
// or another list is another term; and a term one rule tests alone is not shared.
func TestSharedTermKeys(t *testing.T) {
	eq := func(f rule.Field, text string, cs bool) rule.Compare {
		return rule.Compare{Field: f, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: text, CaseSensitive: cs}}
	}
	verb := rule.Field{Name: "verb"}
	base := eq(verb, "create", false)
	ne := base
	ne.Op = rule.OpNe
	str := base
	str.Value.Kind = rule.String
	for _, other := range []rule.Expr{
		eq(verb, "create", true), ne, str, eq(rule.Field{Name: "verb", AnyArray: true}, "create", false),
		eq(rule.Field{Name: "verb", Leaves: true}, "create", false), eq(verb, "Create", false),
		rule.Or{base, eq(verb, "patch", false)},
	} {
		k1, ok1 := termKey(base)
		k2, ok2 := termKey(other)
		if !ok1 || !ok2 || k1 == k2 {
			t.Errorf("%#v and %#v: keys %q (%v) and %q (%v)", base, other, k1, ok1, k2, ok2)
		}
	}
	list := rule.Or{base, eq(verb, "patch", false)}
	rules := []*rule.Rule{
		{Filter: rule.And{base, list, eq(verb, "once", false)}},
		{Filter: rule.Not{X: rule.And{base, rule.Or{base, eq(verb, "patch", false)}}}},
	}
	slots := sharedTerms(rules)
	k, _ := termKey(base)
	kl, _ := termKey(list)
	ko, _ := termKey(eq(verb, "once", false))
	if _, ok := slots[k]; !ok {
		t.Errorf("verb=create, in both rules, not shared: %v", slots)
	}
	if _, ok := slots[kl]; !ok {
		t.Errorf("the list, in both rules, not shared: %v", slots)
	}
	// verb=patch is in both lists: counted, though a list compiled as one lookup never reads its slot.
	if _, ok := slots[ko]; ok || len(slots) != 3 {
		t.Errorf("shared %v: want the three terms both rules test", slots)
	}
	exists := []rule.Expr{rule.Exists{Field: verb}, rule.Exists{Field: verb, AnyValue: true},
		rule.Exists{Field: verb, AnyValue: true, NotNull: true}, rule.Exists{Field: verb, Under: true},
		rule.Exists{Field: rule.Field{Name: "verb", AnyArray: true}}, rule.Exists{Field: rule.Field{Name: "verb", Leaves: true}}}
	for i, a := range exists {
		for _, b := range exists[i+1:] {
			if ka, _ := termKey(a); ka == func() string { k, _ := termKey(b); return k }() {
				t.Errorf("%#v and %#v share the key %q", a, b, ka)
			}
		}
	}
	if _, ok := termKey(rule.Or{base, rule.Exists{Field: verb}}); ok {
		t.Error("an Or with an Exists has a key: only lists of comparisons are shared")
	}
}
