package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestStateGateAgreesWithRows runs windowed rules twice over the same events, once with the gate that reads their
// conditions on the window state and once building every row as before, and wants the same answers: the gate may
// only skip rows whose conditions are false.
func TestStateGateAgreesWithRows(t *testing.T) {
	dcUser := rule.Aggregate{Func: "dc", Field: "user.username"}
	countUser := rule.Aggregate{Func: "count", Field: "user.username", As: "with_user"}
	gt := func(f, n string) rule.Expr { return cmp(f, rule.OpGt, n) }
	cases := []struct {
		name  string
		rule  *rule.Rule
		gated bool
	}{
		{"count > 3", windowRule(gt("count", "3"), countOnly), true},
		{"count >= 3 AND dc > 1", windowRule(rule.And{cmp("count", rule.OpGe, "3"), gt("dc(user.username)", "1")},
			countOnly, dcUser), true},
		{"count > 4 OR dc >= 2", windowRule(rule.Or{gt("count", "4"), cmp("dc(user.username)", rule.OpGe, "2")},
			countOnly, dcUser), true},
		{"NOT count <= 3", windowRule(rule.Not{X: cmp("count", rule.OpLe, "3")}, countOnly), true},
		{"count(user) > 2", windowRule(gt("with_user", "2"), countOnly, countUser), true},
		{"count > 2.5 AND a by-field", windowRule(rule.And{gt("count", "2.5"), eq("sourceIPs{}", "10.0.0.1")}, countOnly), true},
		{"count > 2 OR a by-field", windowRule(rule.Or{gt("count", "2"), eq("sourceIPs{}", "10.0.0.2")}, countOnly), true},
		{"renamed", func() *rule.Rule {
			r := windowRule(gt("hits", "2"), countOnly)
			r.Pipeline = []rule.Stage{r.Pipeline[0], rule.Rename{Pairs: []rule.RenamePair{{From: "count", To: "hits"}}},
				r.Pipeline[1]}
			return r
		}(), true},
		{"renamed over", func() *rule.Rule {
			// sourceIPs{} renamed to count: count is no longer the aggregate, and the gate must not read it as one.
			// "10.0.0.1" > "1" as strings from the first event, when the aggregate count is 1.
			r := windowRule(gt("count", "1"), countOnly)
			r.Pipeline = []rule.Stage{r.Pipeline[0], rule.Rename{Pairs: []rule.RenamePair{{From: "sourceIPs{}", To: "count"}}},
				r.Pipeline[1]}
			return r
		}(), false},
		{"no count or dc", windowRule(eq("values(verb)", "get"), rule.Aggregate{Func: "values", Field: "verb"}), false},
	}
	var events [][]byte
	for i := 0; i < 120; i++ {
		// Four addresses, users coming back, over two hourly windows.
		events = append(events, ev(fmt.Sprintf("10.0.0.%d", i%4), float64(i), fmt.Sprintf(`"user":{"username":"u%d"}`, i%3+i/40)))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gated, err := Compile([]*rule.Rule{tc.rule}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := gated.rules[0].window.gate != nil; got != tc.gated {
				t.Fatalf("gate built: %v, want %v", got, tc.gated)
			}
			plain, err := Compile([]*rule.Rule{tc.rule}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			plain.rules[0].window.gate = nil
			want, got := rowsOf(t, plain, events), rowsOf(t, gated, events)
			if len(want) == 0 {
				t.Fatal("the rule never fired: the case tests nothing")
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("with the gate:\n%s\nbuilding every row:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// rowsOf plays the events and returns every result row, with the index of the event that made it.
func rowsOf(t *testing.T, e *Engine, events [][]byte) []string {
	t.Helper()
	var out []string
	eachRow(t, e, events, func(i int, r Row) { out = append(out, fmt.Sprintf("%d: %v", i, r.Fields)) })
	return out
}

// TestStateGateSkipsRowsShortOfTheThreshold: the gate of `count > 3` knows the condition false on the first three
// events of a group and true on the fourth.
func TestStateGateSkipsRowsShortOfTheThreshold(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpGt, "3"), countOnly)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := e.rules[0].window.gate
	for n, want := range []bool{false, false, false, false, true, true} {
		if got := g.holds(&windowState{count: int64(n), aggs: make([]aggState, 1)}); got != want {
			t.Errorf("count %d: holds %v, want %v", n, got, want)
		}
	}
}
