package engine

import (
	"testing"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Under CountPrefilters, Engine.Prefilter tells what a rule's literal prefilter searches for and how many events
// reached it, passed it and then held the terms it guards; a rule without one has none, and the counts stay zero
// without the option.
func TestPrefilterCounts(t *testing.T) {
	img := &rule.Rule{ID: "img", Name: "img", Filter: rule.And{eq("verb", "create"), eq("requestObject.message", "Pulling image*")}}
	head := &rule.Rule{ID: "head", Name: "head", Filter: eq("verb", "create")}
	bodies := []string{
		`{"verb":"get","objectRef":{"resource":"events"}}`,                                                             // turned away before the search
		`{"verb":"create","objectRef":{"resource":"events"},"requestObject":{"message":"Pulled"}}`,                     // the search turns it away
		`{"verb":"create","objectRef":{"resource":"events"},"requestObject":{"note":"pulling image x","message":"x"}}`, // passes, does not hold
		`{"verb":"create","objectRef":{"resource":"events"},"requestObject":{"message":"Pulling image x"}}`,            // holds
		`{"verb":"create","objectRef":{"resource":"events"},"requestObject":{"message":"PULLING IMAGE y"}}`,            // holds
	}
	for _, counting := range []bool{true, false} {
		e, err := Compile([]*rule.Rule{img, head}, Options{CountPrefilters: counting})
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range bodies {
			if _, err := e.Evaluate([]byte(b)); err != nil {
				t.Fatal(err)
			}
		}
		p, ok := e.Prefilter(img)
		if !ok {
			t.Fatal("no prefilter for a rule reading requestObject.message")
		}
		want := Prefilter{Reached: 4, Passed: 3, Held: 2}
		if !counting {
			want = Prefilter{}
		}
		if p.Reached != want.Reached || p.Passed != want.Passed || p.Held != want.Held {
			t.Errorf("counting %v: reached %d, passed %d, held %d; want %d, %d, %d", counting, p.Reached, p.Passed,
				p.Held, want.Reached, want.Passed, want.Held)
		}
		var lits []Literal
		for _, cl := range p.Clauses {
			if len(cl) != 1 {
				t.Errorf("clause %v: want one literal", cl)
			}
			lits = append(lits, cl...)
		}
		if len(lits) != 2 || lits[0] != (Literal{"pulling image", true}) || lits[1] != (Literal{`message"`, false}) {
			t.Errorf("clauses %v, want pulling image (any case), then message\"", p.Clauses)
		}
		if _, ok := e.Prefilter(head); ok {
			t.Error("a rule reading only the head has a prefilter")
		}
	}
}
