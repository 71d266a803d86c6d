package engine

import (
	"bytes"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// FuzzRestoreState: saved state is read back from a file that a crash, a full disk or a hand can damage. Whatever
// the bytes, restoring them returns an error or restores something, and the engine then evaluates events without
// panicking.
func FuzzRestoreState(f *testing.F) {
	rules := func() []*rule.Rule {
		values := rule.Aggregate{Func: "values", Field: "s", As: "seen"}
		extremes := []rule.Aggregate{{Func: "min", Field: "n", As: "lo"}, {Func: "latest", Field: "s", As: "last"}}
		return []*rule.Rule{windowRule(cmp("count", rule.OpGt, "2"), append([]rule.Aggregate{countOnly, values}, extremes...)...),
			newTermsRule(time.Hour), roleThenWorkload(time.Hour)}
	}
	// The sequence's first step (a partial is saved), and its second (restored partials must complete, or not, safely).
	events := [][]byte{ev("203.0.113.9", 1, `"auditID":"a1","s":"x","n":3`), ev("203.0.113.9", 2, `"auditID":"a2","s":"y","n":-1`),
		[]byte(termEvent("alice", 0, "10.0.0.1")), []byte(seqEvent("r1", "mallory", "update", "roles", 0))}
	seed, err := Compile(rules(), Options{})
	if err != nil {
		f.Fatal(err)
	}
	for _, body := range events {
		if _, err := seed.Match(body); err != nil {
			f.Fatal(err)
		}
	}
	var saved bytes.Buffer
	if err := seed.SaveState(&saved); err != nil {
		f.Fatal(err)
	}
	f.Add(saved.Bytes())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Compile(rules(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.RestoreState(bytes.NewReader(data)); err != nil {
			return
		}
		for _, body := range append(events, ev("203.0.113.9", 3, `"auditID":"a3","s":"z","n":7`),
			[]byte(seqEvent("w1", "mallory", "create", "deployments", 1))) {
			if _, err := e.Match(body); err != nil {
				t.Fatal(err)
			}
		}
		var again bytes.Buffer
		if err := e.SaveState(&again); err != nil {
			t.Fatal(err)
		}
	})
}
