package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestRestoreStateAfterRestart: state saved by one engine and restored into another compiled from the same rules (a
// restart) keeps an open window counting, with its aggregates, and keeps a new_terms history; a rule whose
// definition changed gets nothing, and is counted as dropped.
func TestRestoreStateAfterRestart(t *testing.T) {
	values := rule.Aggregate{Func: "values", Field: "s", As: "seen"}
	rules := func(threshold string) []*rule.Rule {
		return []*rule.Rule{windowRule(cmp("count", rule.OpGt, threshold), countOnly, values), newTermsRule(time.Hour)}
	}
	compile := func(threshold string) *Engine {
		e, err := Compile(rules(threshold), Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	before := compile("2")
	if fired := play(t, before, [][]byte{ev("203.0.113.9", 1, `"s":"a"`), ev("203.0.113.9", 2, `"s":"b"`)}); len(fired) != 0 {
		t.Fatalf("two events fired %v", fired)
	}
	if got := newTermsOf(t, before, termEvent("alice", 0, "10.0.0.1")); got != "alice,10.0.0.1" {
		t.Fatalf("first sighting: %q", got)
	}
	var saved bytes.Buffer
	if err := before.SaveState(&saved); err != nil {
		t.Fatal(err)
	}

	after := compile("2")
	restored, dropped, err := after.RestoreState(bytes.NewReader(saved.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored, []string{"w", "nt"}) || dropped != 0 {
		t.Errorf("restored %v, dropped %d; want both rules, none dropped", restored, dropped)
	}
	ms, err := after.Match(ev("203.0.113.9", 3, `"s":"c"`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 || len(ms[0].Rows) != 1 {
		t.Fatalf("the third event in the window after the restart: %d matches, want one row", len(ms))
	}
	row := ms[0].Rows[0]
	if got := strings.Join(row.Values("count"), ","); got != "3" {
		t.Errorf("count %s, want 3 (two before the restart)", got)
	}
	if got := strings.Join(row.Values("seen"), ","); got != "a,b,c" {
		t.Errorf("values %s, want a,b,c", got)
	}
	if got := newTermsOf(t, after, termEvent("alice", 5, "10.0.0.1")); got != "" {
		t.Errorf("a combination seen before the restart is new again: %q", got)
	}
	if got := newTermsOf(t, after, termEvent("bob", 6, "10.0.0.1")); got != "bob,10.0.0.1" {
		t.Errorf("a combination never seen: %q", got)
	}

	// Without the saved state, or with the window rule changed, one event fires nothing; the unchanged new_terms
	// rule still gets its history.
	if fired := play(t, compile("2"), [][]byte{ev("203.0.113.9", 4, "")}); len(fired) != 0 {
		t.Errorf("a fresh engine fired %v", fired)
	}
	changed := compile("1")
	restored, dropped, err = changed.RestoreState(bytes.NewReader(saved.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(restored, []string{"nt"}) || dropped != 1 {
		t.Errorf("changed rule: restored %v, dropped %d; want nt, 1", restored, dropped)
	}
	if fired := play(t, changed, [][]byte{ev("203.0.113.9", 4, "")}); len(fired) != 0 {
		t.Errorf("the changed rule fired %v on its first event: it got the old window", fired)
	}
	if got := newTermsOf(t, changed, termEvent("alice", 7, "10.0.0.1")); got != "" {
		t.Errorf("the unchanged new_terms rule lost its history: %q", got)
	}
}

// TestRestoreStateKeepsEvictionOrder: the least recently updated group before the restart is the first evicted
// after it.
func TestRestoreStateKeepsEvictionOrder(t *testing.T) {
	opts := Options{MaxKeys: 3}
	r := func() []*rule.Rule { return []*rule.Rule{windowRule(cmp("count", rule.OpGt, "1"), countOnly)} }
	before, err := Compile(r(), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Groups a, b, c; then a again: b is now the least recently updated.
	play(t, before, [][]byte{ev("10.0.0.1", 1, ""), ev("10.0.0.2", 2, ""), ev("10.0.0.3", 3, ""), ev("10.0.0.1", 4, "")})
	after := restarted(t, before, r(), opts)
	// A fourth group evicts b (were the order lost, a or c would go instead): c, kept with its one event, fires on
	// its second; b comes back as a new group and does not.
	fired := play(t, after, [][]byte{ev("10.0.0.4", 5, ""), ev("10.0.0.3", 6, ""), ev("10.0.0.2", 7, "")})
	if want := []string{"1:2"}; !reflect.DeepEqual(fired, want) {
		t.Errorf("fired %v, want %v (b evicted first, c kept)", fired, want)
	}
}

// TestRestoreStateRefusesWhatItCannotRead: state of another version restores nothing, with an ErrStateVersion that
// names both versions (it is dropped, as after an upgrade); bytes that are not saved state are an error and change
// nothing.
func TestRestoreStateRefusesWhatItCannotRead(t *testing.T) {
	e, err := Compile([]*rule.Rule{newTermsRule(time.Hour)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var other bytes.Buffer
	if err := gob.NewEncoder(&other).Encode(&savedState{Version: stateVersion + 1, Rules: []savedRule{{ID: "nt"}}}); err != nil {
		t.Fatal(err)
	}
	restored, dropped, err := e.RestoreState(&other)
	if !errors.Is(err, ErrStateVersion) || !strings.Contains(err.Error(), fmt.Sprintf("version %d, this build reads version %d", stateVersion+1, stateVersion)) ||
		len(restored) != 0 || dropped != 1 {
		t.Errorf("another version: restored %v, dropped %d, err %v; want nothing restored, 1 dropped, ErrStateVersion",
			restored, dropped, err)
	}
	// Decodable but damaged: a new_terms stage index out of range (as a hand or a bad disk may leave) is ignored.
	var damaged bytes.Buffer
	key := sha256.Sum256([]byte(e.rules[0].stateKey))
	if err := gob.NewEncoder(&damaged).Encode(&savedState{Version: stateVersion, Rules: []savedRule{{Detection: key,
		NewTerms: []savedNewTerms{{Stage: -1}, {Stage: 99}, {Post: true, Stage: 0}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.RestoreState(&damaged); err != nil {
		t.Errorf("damaged stage indexes: %v", err)
	}
	for _, junk := range []string{"", "not gob", "\x00\x01\x02"} {
		if _, _, err := e.RestoreState(strings.NewReader(junk)); err == nil {
			t.Errorf("%q restored without an error", junk)
		}
	}
	if got := newTermsOf(t, e, termEvent("alice", 0, "10.0.0.1")); got != "alice,10.0.0.1" {
		t.Errorf("after refused state the history is not empty: %q", got)
	}
}

// TestRestoredHistoryEndsLearning: a new_terms rule with a learning period that gets its history back has nothing
// to learn: a new combination right after the restart is reported.
func TestRestoredHistoryEndsLearning(t *testing.T) {
	before, err := Compile([]*rule.Rule{newTermsRule(time.Hour)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	newTermsOf(t, before, termEvent("alice", 0, "10.0.0.1"))
	var saved bytes.Buffer
	if err := before.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	after, err := Compile([]*rule.Rule{newTermsRule(time.Hour)}, Options{NewTermsLearning: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := after.RestoreState(&saved); err != nil {
		t.Fatal(err)
	}
	if got := newTermsOf(t, after, termEvent("bob", 1, "10.0.0.1")); got != "bob,10.0.0.1" {
		t.Errorf("a new combination after the restore: %q, want it reported (the history was restored)", got)
	}
	if got := newTermsOf(t, after, termEvent("alice", 2, "10.0.0.1")); got != "" {
		t.Errorf("a combination seen before the restart: %q", got)
	}
}

// TestRestoredStateRecognisesRedelivery: an event counted before the restart and delivered again after it (a source
// resuming from an offset older than the saved state) is counted once.
func TestRestoredStateRecognisesRedelivery(t *testing.T) {
	r := func() []*rule.Rule { return []*rule.Rule{windowRule(cmp("count", rule.OpGt, "2"), countOnly)} }
	before, err := Compile(r(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	play(t, before, [][]byte{ev("203.0.113.9", 1, `"auditID":"a1"`), ev("203.0.113.9", 2, `"auditID":"a2"`)})
	after := restarted(t, before, r(), Options{})
	fired := play(t, after, [][]byte{ev("203.0.113.9", 2, `"auditID":"a2"`), ev("203.0.113.9", 3, `"auditID":"a3"`)})
	if want := []string{"1:3"}; !reflect.DeepEqual(fired, want) {
		t.Errorf("fired %v, want %v: a2, delivered again after the restart, counted twice", fired, want)
	}
}

// TestSaveWhileEvaluating: a checkpoint runs while events are evaluated. Each save holds a rule as of one event (its
// window counts exactly the events its memory of delivered events holds, every event having an auditID), and under
// -race nothing the save reads is written meanwhile (min, max, earliest and latest rewrite their values in place).
func TestSaveWhileEvaluating(t *testing.T) {
	aggs := []rule.Aggregate{countOnly, {Func: "min", Field: "n", As: "lo"}, {Func: "max", Field: "n", As: "hi"},
		{Func: "earliest", Field: "s", As: "first"}, {Func: "latest", Field: "s", As: "last"}}
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpGt, "1000000"), aggs...)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; !stop.Load() && i < 3000; i++ {
			n := i // alternating signs: every event is a new min or a new max
			if i%2 == 0 {
				n = -i
			}
			if _, err := e.Match(ev("10.0.0.1", 1, fmt.Sprintf(`"auditID":"id-%d","n":%d,"s":"v%d"`, i, n, i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	skewed := 0
	for i := 0; i < 200; i++ {
		var buf bytes.Buffer
		if err := e.SaveState(&buf); err != nil {
			t.Fatal(err)
		}
		var st savedState
		if err := gob.NewDecoder(&buf).Decode(&st); err != nil {
			t.Fatal(err)
		}
		var count int64
		if w := st.Rules[0].Window; w != nil {
			for _, g := range w.Groups {
				for _, win := range g.Wins {
					count += win.Count
				}
			}
		}
		if int(count) != len(st.Rules[0].Replay) {
			skewed++
		}
	}
	stop.Store(true)
	<-done
	if skewed > 0 {
		t.Errorf("%d of 200 saves hold a window count that differs from the events remembered as delivered", skewed)
	}
}

// TestRestartKeepsWindowDecisions: what a window decided before the restart stands after it, as if the engine had
// run through.
func TestRestartKeepsWindowDecisions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cond   string
		events [][]byte
		cut    int
	}{
		// The group fired at the third event; the fourth, after the restart, is in the same window and fires nothing.
		{"a fired window does not fire again", "2",
			[][]byte{ev("10.0.0.1", 1, ""), ev("10.0.0.1", 2, ""), ev("10.0.0.1", 3, ""), ev("10.0.0.1", 4, "")}, 3},
		// The watermark passed the first hour's window before the restart: an event of that hour is late after it.
		{"a closed window stays closed", "0",
			[][]byte{ev("10.0.0.1", 10, ""), ev("10.0.0.1", 70, ""), ev("10.0.0.1", 30, "")}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := func() []*rule.Rule { return []*rule.Rule{windowRule(cmp("count", rule.OpGt, tc.cond), countOnly)} }
			through, err := Compile(r(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			want := play(t, through, tc.events)
			before, err := Compile(r(), Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := play(t, before, tc.events[:tc.cut])
			after := restarted(t, before, r(), Options{})
			for _, f := range play(t, after, tc.events[tc.cut:]) {
				var i int
				var count string
				if _, err := fmt.Sscanf(f, "%d:%s", &i, &count); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d:%s", i+tc.cut, count))
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("restarted before event %d: fired %v, run through: %v", tc.cut, got, want)
			}
		})
	}
}

// TestLearningGoesOnAfterRestart: a learning period under way at the restart goes on after it, to the same end.
func TestLearningGoesOnAfterRestart(t *testing.T) {
	opts := Options{NewTermsLearning: 30 * time.Minute}
	steps := []string{termEvent("alice", 0, "10.0.0.1"), termEvent("bob", 10, "10.0.0.1"),
		termEvent("carol", 20, "10.0.0.1"), termEvent("dave", 40, "10.0.0.1")}
	run := func(restartBefore int) []string {
		e, err := Compile([]*rule.Rule{newTermsRule(time.Hour)}, opts)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for i, s := range steps {
			if i == restartBefore {
				var saved bytes.Buffer
				if err := e.SaveState(&saved); err != nil {
					t.Fatal(err)
				}
				if e, err = Compile([]*rule.Rule{newTermsRule(time.Hour)}, opts); err != nil {
					t.Fatal(err)
				}
				if _, _, err := e.RestoreState(&saved); err != nil {
					t.Fatal(err)
				}
			}
			out = append(out, newTermsOf(t, e, s))
		}
		return out
	}
	through := run(-1)
	if want := []string{"", "", "", "dave,10.0.0.1"}; !reflect.DeepEqual(through, want) {
		t.Fatalf("run through: %q, want %q", through, want)
	}
	if restarted := run(2); !reflect.DeepEqual(restarted, through) {
		t.Errorf("restarted during learning: %q, run through: %q", restarted, through)
	}
}

// TestRestoreSkipsDamagedGroups: saved groups whose shape this rule's groups cannot have (a by-value missing, a min
// keeping one value instead of four) are left out, so that no row is built from them; the sound ones are restored.
func TestRestoreSkipsDamagedGroups(t *testing.T) {
	lo := rule.Aggregate{Func: "min", Field: "n", As: "lo"}
	r := func() []*rule.Rule { return []*rule.Rule{windowRule(cmp("count", rule.OpGt, "2"), countOnly, lo)} }
	e, err := Compile(r(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := w0.Truncate(time.Hour)
	win := func(vals ...string) []savedWin {
		return []savedWin{{Start: start, Count: 2, Aggs: []savedAgg{{}, {Vals: vals, Present: 2}}}}
	}
	state := savedState{Version: stateVersion, Rules: []savedRule{{Detection: sha256.Sum256([]byte(e.rules[0].stateKey)),
		Window: &savedWindow{Groups: []savedGroup{
			{Key: "10.0.0.1", By: nil, Wins: win("1", "1", "1", "1")},   // no by-value
			{Key: "10.0.0.2", By: []string{"10.0.0.2"}, Wins: win("1")}, // min keeps four values
			{Key: "10.0.0.9", By: []string{"10.0.0.3"}, Wins: win()},    // key and by-value disagree
			{Key: "10.0.0.4", By: []string{"10.0.0.4"}, Wins: win("1", "1", "1", "1")},
		}}}}}
	var saved bytes.Buffer
	if err := gob.NewEncoder(&saved).Encode(&state); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.RestoreState(&saved); err != nil {
		t.Fatal(err)
	}
	fired := play(t, e, [][]byte{ev("10.0.0.1", 1, `"n":5`), ev("10.0.0.2", 1, `"n":5`), ev("10.0.0.3", 1, `"n":5`),
		ev("10.0.0.4", 1, `"n":5`)})
	if want := []string{"3:3"}; !reflect.DeepEqual(fired, want) {
		t.Errorf("fired %v, want %v: only the sound group kept its two events", fired, want)
	}
}

// restarted saves before's state and restores it into a new engine compiled from rules, as a restart does.
func restarted(t *testing.T, before *Engine, rules []*rule.Rule, opts Options) *Engine {
	t.Helper()
	var saved bytes.Buffer
	if err := before.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	after, err := Compile(rules, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := after.RestoreState(&saved); err != nil {
		t.Fatal(err)
	}
	return after
}

// TestRestartKeepsMixedExtremes: min and max of numbers and text keep both kinds' extremes across a restart.
func TestRestartKeepsMixedExtremes(t *testing.T) {
	aggs := []rule.Aggregate{countOnly, {Func: "min", Field: "n", As: "lo"}, {Func: "max", Field: "n", As: "hi"}}
	rules := func() []*rule.Rule { return []*rule.Rule{windowRule(cmp("count", rule.OpGt, "2"), aggs...)} }
	before, err := Compile(rules(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	play(t, before, [][]byte{ev("10.0.0.1", 1, `"n":"abc"`), ev("10.0.0.1", 2, `"n":10`)})
	after := restarted(t, before, rules(), Options{})
	ms, err := after.Match(ev("10.0.0.1", 3, `"n":9`))
	if err != nil || len(ms) != 1 {
		t.Fatalf("matches %+v, %v; want the third event to fire", ms, err)
	}
	row := ms[0].Rows[0]
	if lo, hi := strings.Join(row.Values("lo"), ","), strings.Join(row.Values("hi"), ","); lo != "9" || hi != "abc" {
		t.Errorf("min, max = %s, %s; want 9, abc", lo, hi)
	}
}

// TestRestartKeepsEachFunctionsNumbers: min, max, sum, earliest and latest keep the numbers they compare with across
// a restart (an aggState holds them in two words shared by function, saved to the fields of its function). The events
// after the restart are chosen so that a number lost (read back as zero) or read from another function's field
// changes the answer: -1 and 2 lie between the saved min and max and on the wrong side of zero, and the events at
// minutes 0.5 and 1.5 lie between the saved earliest and latest.
func TestRestartKeepsEachFunctionsNumbers(t *testing.T) {
	aggs := []rule.Aggregate{countOnly, {Func: "min", Field: "n", As: "lo"}, {Func: "max", Field: "n", As: "hi"},
		{Func: "sum", Field: "n", As: "total"}, {Func: "earliest", Field: "s", As: "first"},
		{Func: "latest", Field: "s", As: "last"}}
	rules := func() []*rule.Rule { return []*rule.Rule{windowRule(cmp("count", rule.OpGt, "3"), aggs...)} }
	before, err := Compile(rules(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	play(t, before, [][]byte{ev("10.0.0.1", 1, `"n":5,"s":"a"`), ev("10.0.0.1", 2, `"n":-3,"s":"b"`)})
	after := restarted(t, before, rules(), Options{})
	play(t, after, [][]byte{ev("10.0.0.1", 0.5, `"n":-1,"s":"z"`)})
	ms, err := after.Match(ev("10.0.0.1", 1.5, `"n":2,"s":"y"`))
	if err != nil || len(ms) != 1 {
		t.Fatalf("matches %+v, %v; want the fourth event to fire", ms, err)
	}
	row := ms[0].Rows[0]
	got := map[string]string{}
	for _, f := range []string{"lo", "hi", "total", "first", "last"} {
		got[f] = strings.Join(row.Values(f), ",")
	}
	want := map[string]string{"lo": "-3", "hi": "5", "total": "3", "first": "z", "last": "b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after a restart: %v, want %v", got, want)
	}
}

// TestRestartKeepsDistinctValuesPastAHundred: a dc() compared with 120 keeps its 110 values across a restart, and
// fires on the 121st.
func TestRestartKeepsDistinctValuesPastAHundred(t *testing.T) {
	rules := func() []*rule.Rule {
		n := rule.Aggregate{Func: "dc", Field: "u", As: "n"}
		return []*rule.Rule{windowRule(cmp("n", rule.OpGt, "120"), n)}
	}
	before, err := Compile(rules(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var events [][]byte
	for i := 0; i < 121; i++ {
		events = append(events, ev("10.0.0.1", 1, fmt.Sprintf(`"u":"u%03d"`, i)))
	}
	play(t, before, events[:110])
	after := restarted(t, before, rules(), Options{})
	if fired := play(t, after, events[110:120]); len(fired) != 0 {
		t.Fatalf("fired %v on 120 distinct values", fired)
	}
	ms, err := after.Match(events[120])
	if err != nil || len(ms) != 1 || strings.Join(ms[0].Rows[0].Values("n"), ",") != "121" {
		t.Errorf("the 121st distinct value: %+v, %v; want one row with n=121", ms, err)
	}
}

// TestRestoreStateSavedBeforeTheDetectionKey: state saved before it carried the detection key (written by commit
// 69d4066 in testdata/state-by-definition-key.gob, from savedByDefinitionKey("") after the events a1 and a2 of the
// window, alice's address, and mallory's role write r1) is restored by its definition key: the window goes on counting, the history and the partial are kept, and an
// event delivered again is not counted again. To rules whose risk block changed since, it is not restored: it has no
// key without the risk block.
func TestRestoreStateSavedBeforeTheDetectionKey(t *testing.T) {
	saved, err := os.ReadFile(filepath.Join("testdata", "state-by-definition-key.gob"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile(savedByDefinitionKey(""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	restored, dropped, err := e.RestoreState(bytes.NewReader(saved))
	if err != nil || !reflect.DeepEqual(restored, []string{"w", "nt", "seq"}) || dropped != 0 {
		t.Fatalf("restored %v, dropped %d, err %v; want every rule", restored, dropped, err)
	}
	fired := play(t, e, [][]byte{ev("203.0.113.9", 2, `"auditID":"a2","s":"y"`), ev("203.0.113.9", 3, `"auditID":"a3","s":"z"`)})
	if !reflect.DeepEqual(fired, []string{"1:3"}) {
		t.Errorf("fired %v, want the third event only, with count 3 (a2 delivered again counts nothing)", fired)
	}
	if got := newTermsOf(t, e, termEvent("alice", 5, "10.0.0.1")); got != "" {
		t.Errorf("a combination seen before is new again: %q", got)
	}
	checkSequence(t, e, []seqCase{{seqEvent("w1", "mallory", "create", "deployments", 60), "r1,w1"}})

	reworded, err := Compile(savedByDefinitionKey(" (reworded)"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if restored, dropped, err := reworded.RestoreState(bytes.NewReader(saved)); err != nil || !reflect.DeepEqual(restored, []string{"nt", "seq"}) || dropped != 1 {
		t.Errorf("reworded window rule: restored %v, dropped %d, err %v; want the other two", restored, dropped, err)
	}
}

// savedByDefinitionKey are the rules testdata/state-by-definition-key.gob was saved from, the window rule's message
// followed by suffix. Changing them (or the helpers they are built with) changes their keys: the file would no
// longer restore.
func savedByDefinitionKey(suffix string) []*rule.Rule {
	w := windowRule(cmp("count", rule.OpGt, "2"), countOnly, rule.Aggregate{Func: "values", Field: "s", As: "seen"})
	w.Risk = rule.Risk{Message: "scan from $sourceIPs{}$" + suffix, Objects: []rule.RiskObject{{Field: "sourceIPs{}", Type: "system", Score: 40}}}
	nt := newTermsRule(time.Hour)
	nt.Risk = rule.Risk{Message: "$user.username$ from a new address", Objects: []rule.RiskObject{{Field: "user.username", Type: "user", Score: 30}},
		Threats: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}}}
	seq := roleThenWorkload(time.Hour)
	seq.Risk = rule.Risk{Message: "role then workload by $user$", Objects: []rule.RiskObject{{Field: "user", Type: "user", Score: 50}}}
	return []*rule.Rule{w, nt, seq}
}

// TestRestoreSequenceKeyFloorOfBefore: state saved by commit 61fa0e4, with one floor for the keys a sequence rule no
// longer holds, restores it in every bucket (testdata/sequence-key-floor.gob: withUntil(roleThenWorkload(5m)),
// lateness 5m, max_keys 4, after role changes of f0..f19 at seconds 101..120, deployment creates of g0..g19 at
// 121..140 and mallory's role change m1 at 141; the floor was 140, a shed let go of events up to 119).
func TestRestoreSequenceKeyFloorOfBefore(t *testing.T) {
	saved, err := os.ReadFile(filepath.Join("testdata", "sequence-key-floor.gob"))
	if err != nil {
		t.Fatal(err)
	}
	e := sequenceEngine(t, withUntil(roleThenWorkload(5*time.Minute)), Options{AllowedLateness: 5 * time.Minute, MaxKeys: 4})
	if restored, dropped, err := e.RestoreState(bytes.NewReader(saved)); err != nil || len(restored) != 1 || dropped != 0 {
		t.Fatalf("restored %v, dropped %d, err %v; want the rule", restored, dropped, err)
	}
	sq := seqStage(e)
	at := func(sec int) time.Time { return seqBase.Add(time.Duration(sec) * time.Second) }
	for b := range seqFloorBuckets {
		if f := sq.floors.floor(b); !f.Equal(at(140)) {
			t.Fatalf("bucket %d's floor %v, want the saved one (second 140)", b, f)
		}
	}
	if !sq.holdFrom.Equal(at(119)) || sq.keys.Len() != 4 {
		t.Errorf("hold from %v, %d keys; want second 119, 4 keys", sq.holdFrom, sq.keys.Len())
	}
	checkSequence(t, e, []seqCase{
		{seqEvent("x1", "xavier", "update", "roles", 139), ""}, // before the floor: dropped
		{seqEvent("m2", "mallory", "create", "deployments", 150), "m1,m2"},
		{seqEvent("y1", "yann", "update", "roles", 140), ""},
		{seqEvent("y2", "yann", "create", "deployments", 151), "y1,y2"},
	})
	checkLate(t, e, 1, "xavier's role change before the saved floor")
}
