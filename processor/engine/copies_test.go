package engine

import (
	"reflect"
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
	searches := []string{
		// A run with a target set twice, a null constant, and a copy of a column (d=a), which ends the run.
		`* | eval a=verb | eval b="x" | eval a='user.username' | eval c=null() | eval d=a | eval e='sourceIPs{}'`,
		`* | eval x=verb | eval verb=userAgent | eval y="1" | eval z='responseStatus.code'`,
		// Runs on rows that are not fresh: a rename hides verb, a projection keeps fields.
		`* | rename verb as v | eval a=v | eval b=verb | eval c="k"`,
		`* | fields verb user.username | eval a=verb | eval b=userAgent | eval c="k"`,
		// A filter between two runs; a case between copies (not fused).
		`* | eval a=verb | eval b="x" | where a="get" | eval c=userAgent | eval d=case(isnotnull(userAgent), userAgent) | eval e="y" | eval f=verb`,
		// Columns read by a per-event stats.
		`* | eval a=verb | eval g='user.groups{}' | eval k="c" | stats count values(g) as gs by a k`,
	}
	events := []string{
		`{"verb":"get","userAgent":"kubectl/v1","user":{"username":"alice","groups":["a","b"]},"sourceIPs":["10.0.0.1","10.0.0.2"],"responseStatus":{"code":200}}`,
		`{"verb":"list","user":{"username":"bob"},"responseStatus":{"code":403}}`,
		`{"verb":"get","verb":"watch","userAgent":"","user":{"groups":[]}}`,
		`{}`,
	}
	for _, search := range searches {
		fused, err := compileSPL(t, search, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !hasCopies(fused) {
			t.Fatalf("%s: no run fused", search)
		}
		plain, err := compileSPL(t, search, Options{})
		if err != nil {
			t.Fatal(err)
		}
		unfused(plain)
		rows := 0
		for _, body := range events {
			got, err := fused.Match([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			want, err := plain.Match([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(matchedFields(got), matchedFields(want)) {
				t.Errorf("%s on %s:\n fused %+v\n evals %+v", search, body, matchedFields(got), matchedFields(want))
			}
			rows += len(matchedFields(want))
		}
		if rows == 0 {
			t.Errorf("%s: no row to compare", search)
		}
	}
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
// pipeline, so no run before one is fused.
func TestFuseCopiesKeepsStatefulStagePlaces(t *testing.T) {
	copyOf := func(to string) evalStage {
		return evalStage{to: to, v: fieldValue{newFieldRef(rule.Field{Name: "verb"})}}
	}
	nt := &newTermsStage{}
	got := fuseCopies([]stageExec{copyOf("a"), copyOf("b"), nt, copyOf("c"), copyOf("d")})
	if len(got) != 4 || got[2] != nt {
		t.Fatalf("got %d stages %T, want the new_terms stage third of four", len(got), got)
	}
	if cs, ok := got[3].(copiesStage); !ok || len(cs.evals) != 2 {
		t.Errorf("the run after the new_terms stage: %T, want a copiesStage of 2", got[3])
	}
}
