package engine

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
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

// TestStateKeyChangesWithTheDetection: any change to what a rule counts, or to its window, is another state key;
// compiling the same definition twice is the same key. A change to what the rule says about its rows (risk block,
// MITRE ids) keeps the state key and changes the definition key, which state saved before the split is restored by.
func TestStateKeyChangesWithTheDetection(t *testing.T) {
	base := func() *rule.Rule { return windowRule(cmp("count", rule.OpGt, "2"), countOnly) }
	key := func(r *rule.Rule, size time.Duration) string { k, _ := stateKeys(r, size, 0, 10, 10); return k }
	def := func(r *rule.Rule) [sha256.Size]byte { _, d := stateKeys(r, time.Hour, 0, 10, 10); return d }
	if key(base(), time.Hour) != key(base(), time.Hour) || def(base()) != def(base()) {
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
	for what, r := range changed {
		if key(r, time.Hour) == key(base(), time.Hour) {
			t.Errorf("a changed %s keeps the key", what)
		}
	}
	if key(base(), 30*time.Minute) == key(base(), time.Hour) {
		t.Error("a changed window keeps the key")
	}
	presented := map[string]*rule.Rule{}
	r = base()
	r.Risk.Message = "scan from $sourceIPs{}$"
	presented["message"] = r
	r = base()
	r.Risk.Objects = []rule.RiskObject{{Field: "sourceIPs{}", Type: "system", Score: 80}}
	r.Risk.Threats = []rule.ThreatObject{{Field: "sourceIPs{}", Type: "ip_address"}}
	presented["risk and threat objects"] = r
	for what, r := range presented {
		if key(r, time.Hour) != key(base(), time.Hour) {
			t.Errorf("a changed %s changes the state key", what)
		}
		if def(r) == def(base()) {
			t.Errorf("a changed %s keeps the definition key", what)
		}
	}
}

// TestDefinitionKeyIsSpelledAsBefore: the definition key is the SHA-256 of what the state key was before the risk
// block left it, spelled as it was then: state saved by a build of before is restored by it, and a build of before
// restores state saved now by it (TestRestoreStateSavedBeforeTheDetectionKey reads such a file).
func TestDefinitionKeyIsSpelledAsBefore(t *testing.T) {
	r := windowRule(cmp("count", rule.OpGt, "2"), countOnly)
	r.Risk = rule.Risk{Message: "scan from $sourceIPs{}$", Objects: []rule.RiskObject{{Field: "sourceIPs{}", Type: "system", Score: 40}}}
	before := fmt.Sprintf("%s\x00%#v\x00%#v\x00%#v\x00%s\x00%s\x00%d\x00%d",
		r.ID, r.Filter, r.Pipeline, r.Risk, time.Hour, time.Minute, 10, 20)
	if _, def := stateKeys(r, time.Hour, time.Minute, 10, 20); def != sha256.Sum256([]byte(before)) {
		t.Error("the definition key is not spelled as the state key was")
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
	key := func(r *rule.Rule) string { k, _ := stateKeys(r, time.Hour, 0, 10, 10); return k }
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

// TestPresentationEditKeepsState: a reload, or a restart with saved state, after an edit of what rules say about
// their rows (risk message, scores, risk and threat objects, MITRE ids) keeps a half-full window, a new_terms
// history and a sequence's partial; an edit of a filter starts each rule empty.
func TestPresentationEditKeepsState(t *testing.T) {
	rules := func(edit func(*rule.Rule)) []*rule.Rule {
		rs := []*rule.Rule{windowRule(cmp("count", rule.OpGt, "2"), countOnly), newTermsRule(time.Hour),
			roleThenWorkload(time.Hour)}
		for _, r := range rs {
			r.Risk = rule.Risk{Message: "first wording", Objects: []rule.RiskObject{{Field: "user.username", Type: "user", Score: 20}}}
			if edit != nil {
				edit(r)
			}
		}
		return rs
	}
	compile := func(rs []*rule.Rule) *Engine {
		e, err := Compile(rs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// primed has two events of three in the window, alice's address in the history, and mallory's role write.
	primed := func() *Engine {
		e := compile(rules(nil))
		if fired := play(t, e, [][]byte{ev("203.0.113.9", 1, `"auditID":"a1"`), ev("203.0.113.9", 2, `"auditID":"a2"`)}); len(fired) != 0 {
			t.Fatalf("two events fired %v", fired)
		}
		if got := newTermsOf(t, e, termEvent("alice", 0, "10.0.0.1")); got != "alice,10.0.0.1" {
			t.Fatalf("first sighting: %q", got)
		}
		checkSequence(t, e, []seqCase{{seqEvent("r1", "mallory", "update", "roles", 0), ""}})
		return e
	}
	carry := map[string]func(rs []*rule.Rule) *Engine{
		"reload": func(rs []*rule.Rule) *Engine {
			e := compile(rs)
			e.AdoptState(primed())
			return e
		},
		"restart": func(rs []*rule.Rule) *Engine { return restarted(t, primed(), rs, Options{}) },
	}
	edits := map[string]func(*rule.Rule){
		"message": func(r *rule.Rule) { r.Risk.Message = "second wording by $user.username$" },
		"scores and objects": func(r *rule.Rule) {
			r.Risk.Objects = []rule.RiskObject{{Field: "sourceIPs{}", Type: "system", Score: 90}}
			r.Risk.Threats = []rule.ThreatObject{{Field: "userAgent", Type: "http_user_agent"}}
		},
		"MITRE ids": func(r *rule.Rule) { r.MitreTechniques = []string{"T1046"} },
	}
	for how, next := range carry {
		for what, edit := range edits {
			e := next(rules(edit))
			if fired := play(t, e, [][]byte{ev("203.0.113.9", 3, `"auditID":"a3"`)}); !reflect.DeepEqual(fired, []string{"0:3"}) {
				t.Errorf("%s after a %s edit: the third event fired %v, want count 3", how, what, fired)
			}
			if got := newTermsOf(t, e, termEvent("alice", 5, "10.0.0.1")); got != "" {
				t.Errorf("%s after a %s edit: a combination seen before is new again: %q", how, what, got)
			}
			checkSequence(t, e, []seqCase{{seqEvent("w1", "mallory", "create", "deployments", 60), "r1,w1"}})
		}
		// Another filter (that still lets every test event through) is another detection.
		e := next(rules(func(r *rule.Rule) { r.Filter = rule.And{r.Filter, rule.Not{X: eq("verb", "delete")}} }))
		if fired := play(t, e, [][]byte{ev("203.0.113.9", 3, `"auditID":"a3"`)}); len(fired) != 0 {
			t.Errorf("%s after a filter edit: the window kept its events: fired %v", how, fired)
		}
		if got := newTermsOf(t, e, termEvent("alice", 5, "10.0.0.1")); got != "alice,10.0.0.1" {
			t.Errorf("%s after a filter edit: the history was kept: %q", how, got)
		}
		checkSequence(t, e, []seqCase{{seqEvent("w1", "mallory", "create", "deployments", 60), ""}})
	}
}

// TestRedeliveryAfterPresentationEdit: the memory of delivered events moves with the state it guards. An event
// delivered again after a reload that only rewords a windowed rule's message is not counted again; one that found a
// new term before a reload that names another risk field gets back the row it produced then (without that field,
// as its risk events had it), not nothing, which running it again against the history it fed would give.
func TestRedeliveryAfterPresentationEdit(t *testing.T) {
	withURI := func(id string, min int, user string) []byte {
		body := termEvent(user, min, "198.51.100.7")
		return []byte(body[:len(body)-1] + fmt.Sprintf(`,"auditID":%q,"requestURI":"/api/v1/secrets/%s"}`, id, user))
	}
	rules := func(message string, objects ...rule.RiskObject) []*rule.Rule {
		w, nt := windowRule(cmp("count", rule.OpGt, "2"), countOnly), newTermsRule(time.Hour)
		w.Risk.Message = message
		nt.Risk = rule.Risk{Message: message, Objects: objects}
		return []*rule.Rule{w, nt}
	}
	user := rule.RiskObject{Field: "user.username", Type: "user", Score: 20}
	before, err := Compile(rules("first wording", user), Options{})
	if err != nil {
		t.Fatal(err)
	}
	play(t, before, [][]byte{ev("203.0.113.9", 1, `"auditID":"a1"`), ev("203.0.113.9", 2, `"auditID":"a2"`)})
	first, err := before.Match(withURI("n1", 0, "alice"))
	if err != nil || len(first) != 1 || first[0].Rows[0].Values("requestURI") != nil {
		t.Fatalf("first sighting: %v, %v; want a row without requestURI, which nothing names yet", first, err)
	}

	after, err := Compile(rules("second wording", user, rule.RiskObject{Field: "requestURI", Type: "other", Score: 5}), Options{})
	if err != nil {
		t.Fatal(err)
	}
	after.AdoptState(before)
	if fired := play(t, after, [][]byte{ev("203.0.113.9", 2, `"auditID":"a2"`)}); len(fired) != 0 {
		t.Errorf("a redelivered event was counted again: fired %v", fired)
	}
	again, err := after.Match(withURI("n1", 0, "alice"))
	if err != nil || len(again) != 1 || !reflect.DeepEqual(again[0].Rows, first[0].Rows) {
		t.Errorf("the redelivered first sighting gave %v (%v), want its first row %v", again, err, first[0].Rows)
	}
	fresh, err := after.Match(withURI("n2", 1, "bob"))
	if err != nil || len(fresh) != 1 || fresh[0].Rows[0].Values("requestURI") == nil {
		t.Errorf("a new sighting after the reload: %v (%v), want a row with requestURI", fresh, err)
	}
}

// TestZoneChangeResetsZonedState: a rule whose groups are days of the search's time zone (strftime(_time, "%F"))
// keeps them across a reload in the same zone, and starts empty when the zone changes, whether by a reload or by a
// restart that restores saved state: 23:10-23:30 UTC on 2025-11-24 is the 24th in UTC, the 25th in Europe/Berlin,
// and the counts of the one are no counts of the other. A rule whose buckets are hours, which are counted from the
// epoch in every zone, keeps its state.
func TestZoneChangeResetsZonedState(t *testing.T) {
	berlin, err := spl.LoadTimeZone("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(min int) []byte {
		return fmt.Appendf(nil, `{"verb":"delete","user":{"username":"alice"},"stageTimestamp":"2025-11-24T23:%02d:00Z"}`, min)
	}
	compile := func(search string, zone *time.Location) *Engine {
		e, err := compileSPLIn(t, search, zone, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, tt := range []struct {
		name, search string
		keptInBerlin bool
	}{
		{"days", `verb=delete | eval day=strftime(_time, "%F") | stats count by day user.username | where count > 2`, false},
		{"hours", `verb=delete | bin _time span=1h | stats count by _time user.username | where count > 2`, true},
	} {
		for _, zone := range []*time.Location{time.UTC, berlin} {
			kept := zone == time.UTC || tt.keptInBerlin
			// Two events counted in UTC, the state saved.
			old := compile(tt.search, time.UTC)
			if fired := play(t, old, [][]byte{at(10), at(20)}); len(fired) != 0 {
				t.Fatalf("%s: two events fired %v", tt.name, fired)
			}
			var saved bytes.Buffer
			if err := old.SaveState(&saved); err != nil {
				t.Fatal(err)
			}
			reloaded, restarted := compile(tt.search, zone), compile(tt.search, zone)
			adopted := reloaded.AdoptState(old)
			restored, _, err := restarted.RestoreState(&saved)
			if err != nil {
				t.Fatal(err)
			}
			if len(adopted) != len(restored) || (len(adopted) == 1) != kept {
				t.Errorf("%s in %s: adopted %v, restored %v; want the state kept: %v", tt.name, zone, adopted, restored, kept)
			}
			var want []string // the third event alone: no count of 3
			if kept {
				want = []string{"0:3"}
			}
			for how, e := range map[string]*Engine{"reloaded": reloaded, "restarted": restarted} {
				if fired := play(t, e, [][]byte{at(30)}); !reflect.DeepEqual(fired, want) {
					t.Errorf("%s %s in %s: the third event fired %v, want %v", tt.name, how, zone, fired, want)
				}
			}
		}
	}
}
