package engine

import (
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// unfused puts back, in every rule of e, the evals that fuseCopies put together into a copiesStage.
func unfused(e *Engine) {
	for _, cr := range e.rules {
		var pre []stageExec
		for _, s := range cr.pre {
			if cs, ok := s.(copiesStage); ok {
				for _, ev := range cs.evals {
					pre = append(pre, ev)
				}
				continue
			}
			pre = append(pre, s)
		}
		cr.pre = pre
	}
}

// TestCopiesSetWhatTheEvalsSet runs pipelines with runs of copies and constants through an engine as compiled and
// through one whose runs are evals again, and compares every row: the fused run must set what the evals set, in the
// same order, on the event's own row and on rows that are not fresh (after a rename or a projection).
func TestCopiesSetWhatTheEvalsSet(t *testing.T) {
	searches := []struct {
		search string
		fused  bool
	}{
		// A run with a target set twice and a copy of a column (d=a), which ends the run; a call (not fused).
		{`* | eval a=verb | eval b="x" | eval a='user.username' | eval c=null() | eval d=a | eval e='sourceIPs{}'`, true},
		{`* | eval x=verb | eval verb=userAgent | eval y="1" | eval z='responseStatus.code'`, true},
		// Runs after a filter, after a case, and after a call, as ES|QL rules write them.
		{`* | eval a=verb | eval b="x" | where a="get" | eval c=userAgent | eval d=case(isnotnull(userAgent), userAgent)` +
			` | eval e="y" | eval f=verb | eval b=userAgent`, true},
		{`* | eval t=lower(verb) | eval a=verb | eval g='user.groups{}' | eval k="c" | stats count values(g) as gs by a k`, true},
		// After a rename or a projection the row's fields are not known: not fused.
		{`* | rename verb as v | eval a=v | eval b=verb | eval c="k"`, false},
		{`* | fields verb user.username | eval a=verb | eval b=userAgent | eval c="k"`, false},
	}
	events := []string{
		`{"verb":"get","userAgent":"kubectl/v1","user":{"username":"alice","groups":["a","b"]},"sourceIPs":["10.0.0.1","10.0.0.2"],"responseStatus":{"code":200}}`,
		`{"verb":"list","user":{"username":"bob"},"responseStatus":{"code":403}}`,
		`{"verb":"get","verb":"watch","userAgent":"","user":{"groups":[]}}`,
		`{}`,
	}
	for _, tc := range searches {
		fused, plain := compiledBothWays(t, tc.search)
		if hasCopies(fused) != tc.fused {
			t.Fatalf("%s: fused %v, want %v", tc.search, !tc.fused, tc.fused)
		}
		rows := 0
		for _, body := range events {
			rows += sameRows(t, tc.search, fused, plain, body)
		}
		if rows == 0 {
			t.Errorf("%s: no row to compare", tc.search)
		}
	}
}

// TestCopiesOnAnotherRow: a row that has not the fields the run was planned for runs the evals one by one.
func TestCopiesOnAnotherRow(t *testing.T) {
	e, err := compileSPL(t, `* | eval a=verb | eval b="x"`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	cs, ok := e.rules[0].pre[0].(copiesStage)
	if !ok {
		t.Fatalf("stage %T, want a copiesStage", e.rules[0].pre[0])
	}
	st := e.states.get()
	defer e.states.put(st)
	view, err := st.parser.Open([]byte(`{"verb":"get"}`))
	if err != nil {
		t.Fatal(err)
	}
	r := &row{ev: view, fields: []RowField{{Name: "a", Values: []string{"old"}}}}
	cs.run(&st.ctx, []*row{r})
	if a, _ := r.get("a"); len(r.fields) != 2 || !reflect.DeepEqual(a, []string{"get"}) {
		t.Errorf("fields %+v, want a set again to the verb and b added", r.fields)
	}
}

// compiledBothWays compiles search as it is and again with its runs put back as evals.
func compiledBothWays(t *testing.T, search string) (fused, plain *Engine) {
	t.Helper()
	fused, err := compileSPL(t, search, Options{})
	if err != nil {
		t.Fatalf("%s: %v", search, err)
	}
	if plain, err = compileSPL(t, search, Options{}); err != nil {
		t.Fatal(err)
	}
	unfused(plain)
	return fused, plain
}

// sameRows runs body through both engines, reports where their matches' rows differ, and returns how many rows were
// compared.
func sameRows(t *testing.T, label string, fused, plain *Engine, body string) int {
	t.Helper()
	got, err := fused.Match([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want, err := plain.Match([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(matchedFields(got), matchedFields(want)) {
		t.Errorf("%s on %s:\n fused %+v\n evals %+v", label, body, matchedFields(got), matchedFields(want))
	}
	return len(matchedFields(want))
}

func hasCopies(e *Engine) bool {
	for _, cr := range e.rules {
		for _, s := range cr.pre {
			if _, ok := s.(copiesStage); ok {
				return true
			}
		}
	}
	return false
}

func matchedFields(ms []Match) [][]RowField {
	var out [][]RowField
	for _, m := range ms {
		for _, r := range m.Rows {
			out = append(out, r.Fields)
		}
	}
	return out
}

// TestFuseCopiesKeepsStatefulStagePlaces: saved state names a new_terms or sequence stage by its place in the
// pipeline, so a pipeline with one is not fused; without it, runs on either side of a filter are, and a rename ends
// what is known of the row's fields.
func TestFuseCopiesKeepsStatefulStagePlaces(t *testing.T) {
	copyOf := func(to string) evalStage {
		return evalStage{to: to, v: fieldValue{newFieldRef(rule.Field{Name: "verb"})}}
	}
	nt := &newTermsStage{}
	if got := fuseCopies([]stageExec{copyOf("a"), copyOf("b"), nt, copyOf("c"), copyOf("d")}); len(got) != 5 || got[2] != nt {
		t.Errorf("with a new_terms stage: %d stages %T, want the 5 as they were", len(got), got)
	}
	got := fuseCopies([]stageExec{copyOf("a"), copyOf("b"), filterStage{}, copyOf("c"), copyOf("d"), renameStage{},
		copyOf("e"), copyOf("f")})
	if len(got) != 6 {
		t.Fatalf("got %d stages %T, want a run, the filter, a run, the rename and two evals", len(got), got)
	}
	if cs, ok := got[2].(copiesStage); !ok || cs.base != 2 || len(cs.fields) != 2 || cs.fields[0].Name != "c" {
		t.Errorf("the run after the filter: %+v, want c and d added to the 2 fields before", got[2])
	}
}

// TestCopiesRandomPipelines (from the review of ef4a106): random pipelines of copies (of event fields, of columns, of themselves),
// constants, nulls, computed evals and filters, each compiled as is and unfused, compared row for row.
func TestCopiesRandomPipelines(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	cols := []string{"a", "b", "c", "verb", "userAgent"}
	srcs := []string{"verb", "userAgent", "'user.username'", "'sourceIPs{}'", "nosuch", "a", "b", "c", "'user.groups{}'"}
	events := []string{
		`{"verb":"get","userAgent":"kubectl/v1","user":{"username":"alice","groups":["a","b"]},"sourceIPs":["10.0.0.1","10.0.0.2"]}`,
		`{"verb":"list","user":{"username":"bob"}}`,
		`{"verb":"get","verb":"watch","userAgent":"","user":{"groups":[]}}`,
		`{}`,
	}
	fusedN, rows, based := 0, 0, 0
	for n := range 3000 {
		var st []string
		for range 2 + rnd.Intn(9) {
			to := cols[rnd.Intn(len(cols))]
			src := srcs[rnd.Intn(len(srcs))]
			switch k := rnd.Intn(10); {
			case k < 4:
				st = append(st, fmt.Sprintf("eval %s=%s", to, src))
			case k < 6:
				st = append(st, fmt.Sprintf(`eval %s="k%d"`, to, rnd.Intn(3)))
			case k == 6:
				st = append(st, fmt.Sprintf("eval %s=null()", to))
			case k == 7:
				st = append(st, fmt.Sprintf("eval %s=case(isnotnull(%s), %s)", to, src, src))
			case k == 8:
				st = append(st, fmt.Sprintf("eval %s=lower(%s)", to, src))
			default:
				st = append(st, fmt.Sprintf(`where isnull(%s) OR %s!="zz"`, src, src))
			}
		}
		if rnd.Intn(4) == 0 {
			st = append(st, "stats count values(a) as as by verb")
		}
		search := "* | " + strings.Join(st, " | ")
		fused, plain := compiledBothWays(t, search)
		if hasCopies(fused) {
			fusedN++
		}
		for _, s := range fused.rules[0].pre {
			if cs, ok := s.(copiesStage); ok && cs.base > 0 {
				based++
			}
		}
		for _, body := range events {
			rows += sameRows(t, fmt.Sprintf("#%d %s", n, search), fused, plain, body)
		}
	}
	t.Logf("%d of 3000 pipelines fused, %d runs after other fields, %d rows compared", fusedN, based, rows)
	if fusedN == 0 || based == 0 || rows == 0 {
		t.Errorf("%d pipelines fused, %d runs after other fields, %d rows: the pipelines test nothing", fusedN, based, rows)
	}
}
