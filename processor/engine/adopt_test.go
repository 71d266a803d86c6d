package engine

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestAdoptStateKeepsUnchangedRules: after a reload, a window that was open keeps counting, a new_terms history
// keeps what it saw, and an event delivered again is still counted once; a rule whose definition changed starts
// empty.
func TestAdoptStateKeepsUnchangedRules(t *testing.T) {
	// Fresh rule values each time, as a reload parses the files again.
	rules := func(threshold string) []*rule.Rule {
		return []*rule.Rule{windowRule(cmp("count", rule.OpGt, threshold), countOnly), newTermsRule(time.Hour)}
	}
	first, err := Compile(rules("2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fired := play(t, first, [][]byte{ev("203.0.113.9", 1, `"auditID":"a1"`), ev("203.0.113.9", 2, `"auditID":"a2"`)}); len(fired) != 0 {
		t.Fatalf("two events fired %v", fired)
	}
	if got := newTermsOf(t, first, termEvent("alice", 0, "10.0.0.1")); got != "alice,10.0.0.1" {
		t.Fatalf("first sighting: %q", got)
	}

	reloaded, err := Compile(rules("2"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if kept := reloaded.AdoptState(first); !reflect.DeepEqual(kept, []string{"w", "nt"}) {
		t.Errorf("kept %v, want both rules", kept)
	}
	// a2 again (a retried batch) counts nothing; the third event makes three in the window.
	if fired := play(t, reloaded, [][]byte{ev("203.0.113.9", 2, `"auditID":"a2"`), ev("203.0.113.9", 3, `"auditID":"a3"`)}); !reflect.DeepEqual(fired, []string{"1:3"}) {
		t.Errorf("after the reload fired %v, want the third event with count 3", fired)
	}
	if got := newTermsOf(t, reloaded, termEvent("alice", 5, "10.0.0.1")); got != "" {
		t.Errorf("a combination seen before the reload is new again: %q", got)
	}
	if got := newTermsOf(t, reloaded, termEvent("bob", 6, "10.0.0.1")); got != "bob,10.0.0.1" {
		t.Errorf("a combination never seen: %q", got)
	}

	// Without adoption, or with the rule changed, the window starts empty.
	for name, e := range map[string]func() *Engine{
		"not adopted": func() *Engine {
			e, err := Compile(rules("2"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			return e
		},
		"threshold changed": func() *Engine {
			e, err := Compile(rules("1"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if kept := e.AdoptState(reloaded); !reflect.DeepEqual(kept, []string{"nt"}) {
				t.Errorf("kept %v, want only the unchanged new_terms rule", kept)
			}
			return e
		},
	} {
		if fired := play(t, e(), [][]byte{ev("203.0.113.9", 4, `"auditID":"a4"`)}); len(fired) != 0 {
			t.Errorf("%s: one event fired %v", name, fired)
		}
	}
}

// TestStateKeyChangesWithTheDefinition: any change to what a rule counts or reports, or to its window, is another
// key; compiling the same definition twice is the same key.
func TestStateKeyChangesWithTheDefinition(t *testing.T) {
	base := func() *rule.Rule { return windowRule(cmp("count", rule.OpGt, "2"), countOnly) }
	key := func(r *rule.Rule, size time.Duration) string { return stateKey(r, size, 0, 10, 10) }
	if key(base(), time.Hour) != key(base(), time.Hour) {
		t.Fatal("one definition, two keys")
	}
	changed := map[string]*rule.Rule{}
	r := base()
	r.ID = "other"
	changed["id"] = r
	r = base()
	r.Filter = eq("responseStatus.code", "401")
	changed["filter"] = r
	r = base()
	r.Pipeline = append(r.Pipeline, rule.Rename{Pairs: []rule.RenamePair{{From: "count", To: "n"}}})
	changed["pipeline"] = r
	r = base()
	r.Risk.Message = "scan from $sourceIPs{}$"
	changed["risk"] = r
	for what, r := range changed {
		if key(r, time.Hour) == key(base(), time.Hour) {
			t.Errorf("a changed %s keeps the key", what)
		}
	}
	if key(base(), 30*time.Minute) == key(base(), time.Hour) {
		t.Error("a changed window keeps the key")
	}
}

// TestStateKeyOfALookupIsItsTable: a lookup's table is part of the rule's definition by its content: the same CSV
// read again by a reload (a new table value) keeps the rule's state, a changed cell does not.
func TestStateKeyOfALookupIsItsTable(t *testing.T) {
	withTable := func(cell string) *rule.Rule {
		tab, err := rule.NewLookupTable(rule.LookupTable{Name: "scanners", Columns: []string{"ip", "known"}, Rows: [][]string{{cell, "true"}}})
		if err != nil {
			t.Fatal(err)
		}
		r := windowRule(cmp("count", rule.OpGt, "2"), countOnly)
		r.Pipeline = append([]rule.Stage{rule.Lookup{Table: tab, Inputs: []rule.LookupField{{Column: "ip", Field: "sourceIPs{}"}},
			Outputs: []rule.LookupField{{Column: "known", Field: "known"}}}}, r.Pipeline...)
		return r
	}
	key := func(r *rule.Rule) string { return stateKey(r, time.Hour, 0, 10, 10) }
	if key(withTable("10.0.0.1")) != key(withTable("10.0.0.1")) {
		t.Error("one table read twice, two keys")
	}
	if key(withTable("10.0.0.1")) == key(withTable("10.0.0.2")) {
		t.Error("a changed table keeps the key")
	}
}

// newTermsOf evaluates one event and returns its new_terms row field ("" for no match).
func newTermsOf(t *testing.T, e *Engine, event string) string {
	t.Helper()
	ms, err := e.Match([]byte(event))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || len(ms[0].Rows) != 1 {
		return ""
	}
	return strings.Join(ms[0].Rows[0].Values(NewTermsField), ",")
}
