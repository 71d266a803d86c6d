package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
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
			rows, gated := gateDiff(t, tc.rule, events)
			if gated != tc.gated {
				t.Errorf("gate built: %v, want %v", gated, tc.gated)
			}
			if rows == 0 {
				t.Error("the rule never fired: the case tests nothing")
			}
		})
	}
}

// TestStateGateAgreesWithRowsSPL is the same comparison on windowed SPL searches: renames (chains, swaps, onto
// and from by-fields), fillnull, eval, search, numbers written in several ways, and two aggregates of one name.
func TestStateGateAgreesWithRowsSPL(t *testing.T) {
	var events [][]byte
	for i := 0; i < 200; i++ {
		events = append(events, ev(fmt.Sprintf("10.0.0.%d", i%5), float64(i)*0.7,
			fmt.Sprintf(`"user":{"username":"u%d"},"requestURI":"/p%d","userAgent":"ua%d","n":%d`, i%4+i/50, i%7, i%3, i)))
	}
	queries := []string{
		`stats count by sourceIPs{} | where count > 5 | rename count as n | where n>=10`,
		`stats count by sourceIPs{} | rename count as n | where n > 5`,
		`stats count by sourceIPs{} | rename sourceIPs{} as count | where count > 5`,
		`stats count dc(user.username) as u by sourceIPs{} | rename count as u | where u > 5`,
		`stats count dc(user.username) as u by sourceIPs{} | rename u as count | where count > 3`,
		`stats count dc(user.username) as u by sourceIPs{} | rename count as x, u as count, x as u | where count > 3 AND u > 7`,
		`stats count values(user.username) as count by sourceIPs{} | where count > 5`,
		`stats dc(user.username) as count values(userAgent) as count by sourceIPs{} | where count > 2`,
		`stats count by sourceIPs{} | fillnull value=100 count | where count > 5`,
		`stats count by sourceIPs{} | rename count as n | fillnull value=100 count | where count > 5`,
		`stats count by sourceIPs{} | eval count=100 | where count > 5`,
		`stats count by sourceIPs{} | search count>5`,
		`stats count by sourceIPs{} | where NOT count <= 5`,
		`stats count by sourceIPs{} | where count > 5 OR like('sourceIPs{}', "10.0.0.3")`,
		`stats count by sourceIPs{} | where NOT (count <= 5 AND like('sourceIPs{}', "10.0.0.3"))`,
		`stats count by sourceIPs{} | where count > "5"`,
		`stats count by sourceIPs{} | where count > 1e400`,
		`stats count by sourceIPs{} | where count > 5.5`,
		`stats count by sourceIPs{} | where 5 < count`,
		`stats count(user.username) as c by sourceIPs{} | where c > 5`,
		`stats dc(requestURI) by sourceIPs{} | where 'dc(requestURI)' >= 4`,
		`stats count max(n) as m by sourceIPs{} | where count > 3 AND m > 20`,
		`stats count by sourceIPs{} | rename count as a | rename a as b | rename b as c | where c > 5`,
		`stats count dc(user.username) by sourceIPs{} | rename count as "dc(user.username)" | where 'dc(user.username)' > 5`,
		`stats count by sourceIPs{} | where count > 15 OR (count > 3 AND 'sourceIPs{}'="10.0.0.3")`,
		`stats count by sourceIPs{} | search count>5*`,
		`stats count by sourceIPs{} | where count > 5 | fillnull value=0 | where count > 8`,
		`stats count values(user.username) as u by sourceIPs{} | rename count as u, u as count | where count > 5`,
		`stats count by sourceIPs{} | fillnull value=7 n | rename n as count | where count > 5`,
	}
	gated := 0
	for _, q := range queries {
		t.Run(q, func(t *testing.T) {
			filter, pipeline, err := spl.Compile("responseStatus.code=403 | "+q, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, g := gateDiff(t, &rule.Rule{ID: "w", Name: "w", Filter: filter, Pipeline: pipeline}, events); g {
				gated++
			}
		})
	}
	if gated < len(queries)/2 {
		t.Errorf("only %d of %d searches have a gate: the comparison tests little", gated, len(queries))
	}
}

// gateDiff plays the events on r compiled twice, with its gate and building every row, wants the same rows, and
// returns how many there were and whether r has a gate.
func gateDiff(t *testing.T, r *rule.Rule, events [][]byte) (rows int, gated bool) {
	t.Helper()
	withGate, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if withGate.rules[0].window == nil {
		t.Fatal("no window")
	}
	plain, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain.rules[0].window.gate = nil
	want, got := rowsOf(t, plain, events), rowsOf(t, withGate, events)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with the gate:\n%s\nbuilding every row:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return len(want), withGate.rules[0].window.gate != nil
}

// Two aggregates of one name (SPL `stats count values(user.username) as count`): the row holds the last, and the
// gate must not read the count ("u1" > "10" as strings holds from the first event).
func TestStateGateSharedOutputName(t *testing.T) {
	r := windowRule(cmp("n", rule.OpGt, "10"),
		rule.Aggregate{Func: "count", As: "n"},
		rule.Aggregate{Func: "values", Field: "user.username", As: "n"})
	var events [][]byte
	for i := 0; i < 5; i++ {
		events = append(events, ev("10.0.0.1", float64(i), `"user":{"username":"u1"}`))
	}
	if rows, gated := gateDiff(t, r, events); rows != 1 || gated {
		t.Errorf("%d rows, gate %v; want the first event's row and no gate", rows, gated)
	}
}

// TestWindowFeedsNewTermsAfterItFired: a new_terms after the window remembers every row that reaches it, so a window
// that has answered still builds its rows: the term, seen at :50, is not new at 1:10.
func TestWindowFeedsNewTermsAfterItFired(t *testing.T) {
	r := windowRule(cmp("count", rule.OpGt, "1"), countOnly)
	r.Pipeline = append(r.Pipeline, rule.NewTerms{Fields: []rule.Field{{Name: "sourceIPs{}"}}, History: time.Hour})
	events := [][]byte{
		ev("10.0.0.1", 0, ""), ev("10.0.0.1", 5, ""), // count 2: fires, a new term
		ev("10.0.0.1", 50, ""),                         // count 3: the term seen again
		ev("10.0.0.1", 61, ""), ev("10.0.0.1", 70, ""), // the next window, count 2 at 1:10: seen 20 minutes ago
	}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("1: %v", []RowField{
		{Name: "sourceIPs{}", Values: []string{"10.0.0.1"}},
		{Name: "count", Values: []string{"2"}, Numeric: true},
		{Name: NewTermsField, Values: []string{"10.0.0.1"}}})}
	if got := rowsOf(t, e, events); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
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
