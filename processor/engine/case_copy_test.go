package engine

import (
	"slices"
	"testing"
)

// TestCaseBranchOfAFieldIsItsValue: an eval whose case takes a branch that is an event field (ES|QL's mapping of
// user_agent.original) gives the field's values, read from the event even when a later eval changes the field; a
// case with no true branch and no else gives null.
func TestCaseBranchOfAFieldIsItsValue(t *testing.T) {
	e, err := compileSPL(t, `verb=get | eval ua=case(isnotnull(userAgent), userAgent), none=case(verb="list", userAgent)
		| eval userAgent="changed" | table ua none userAgent`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := e.Match([]byte(`{"verb":"get","userAgent":"kubectl/v1.31 (linux/amd64)"}`))
	if err != nil || len(ms) != 1 || len(ms[0].Rows) != 1 {
		t.Fatalf("%+v, %v", ms, err)
	}
	r := ms[0].Rows[0]
	if got := r.Values("ua"); !slices.Equal(got, []string{"kubectl/v1.31 (linux/amd64)"}) {
		t.Errorf("ua = %q", got)
	}
	if got := r.Values("none"); got != nil {
		t.Errorf("none = %q, want null", got)
	}
	if got := r.Values("userAgent"); !slices.Equal(got, []string{"changed"}) {
		t.Errorf("userAgent = %q", got)
	}
}
