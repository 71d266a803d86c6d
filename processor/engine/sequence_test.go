package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// seqEvent is an event by user on resource with verb at second sec after 2025-03-01T10:00Z, with auditID id.
func seqEvent(id, user, verb, resource string, sec int) string {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(sec) * time.Second)
	userJSON := ""
	if user != "" {
		userJSON = fmt.Sprintf(`"user":{"username":%q},`, user)
	}
	return fmt.Sprintf(`{"auditID":%q,"verb":%q,%s"objectRef":{"resource":%q},"stageTimestamp":%q}`,
		id, verb, userJSON, resource, at.Format(time.RFC3339Nano))
}

// roleThenWorkload is a two-step sequence by user within span: a role write, then a deployment create.
func roleThenWorkload(span time.Duration) *rule.Rule {
	role := rule.And{eq("objectRef.resource", "roles"), eq("verb", "update")}
	workload := rule.And{eq("objectRef.resource", "deployments"), eq("verb", "create")}
	by := []rule.Field{{Name: "user.username"}}
	return &rule.Rule{ID: "seq", Name: "seq", Filter: rule.Or{role, workload},
		Pipeline: []rule.Stage{rule.Sequence{MaxSpan: span, Columns: []string{"user"},
			Steps: []rule.SequenceStep{{Cond: role, By: by}, {Cond: workload, By: by}}}}}
}

// seqCase is an event and the auditIDs of the sequence it must complete ("" for none).
type seqCase struct {
	event, want string
}

func checkSequence(t *testing.T, e *Engine, cases []seqCase) {
	t.Helper()
	for i, c := range cases {
		ms, err := e.Match([]byte(c.event))
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if len(ms) > 0 {
			got = strings.Join(ms[0].Rows[0].Values(rule.SequenceIDsField), ",")
		}
		if got != c.want {
			t.Errorf("event %d: sequence %q, want %q", i, got, c.want)
		}
	}
}

func TestSequence(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cases []seqCase
	}{
		{"in order", []seqCase{
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 60), "a1,b1"},
			// consumed: a second workload needs a second role change
			{seqEvent("b2", "mallory", "create", "deployments", 70), ""},
		}},
		{"the latest first step is taken", []seqCase{
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
			{seqEvent("a2", "mallory", "update", "roles", 30), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 60), "a2,b1"},
		}},
		{"order matters", []seqCase{
			{seqEvent("b1", "mallory", "create", "deployments", 0), ""},
			{seqEvent("a1", "mallory", "update", "roles", 60), ""},
		}},
		{"per key", []seqCase{
			{seqEvent("a1", "alice", "update", "roles", 0), ""},
			{seqEvent("b1", "bob", "create", "deployments", 10), ""},
			{seqEvent("b2", "alice", "create", "deployments", 20), "a1,b2"},
		}},
		{"a missing key takes no part", []seqCase{
			{seqEvent("a1", "", "update", "roles", 0), ""},
			{seqEvent("b1", "", "create", "deployments", 10), ""},
		}},
		{"maxspan", []seqCase{
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 301), ""},
			// the partial that was too old is gone, not kept for a later step
			{seqEvent("b2", "mallory", "create", "deployments", 302), ""},
		}},
		{"maxspan is inclusive", []seqCase{
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 300), "a1,b1"},
		}},
		{"a late event does not extend a later partial", []seqCase{
			{seqEvent("a1", "mallory", "update", "roles", 60), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 30), ""},
			{seqEvent("b2", "mallory", "create", "deployments", 90), "a1,b2"},
		}},
		{"a late first step does not replace a later one", []seqCase{
			{seqEvent("a2", "mallory", "update", "roles", 60), ""},
			{seqEvent("a1", "mallory", "update", "roles", 30), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 90), "a2,b1"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Compile([]*rule.Rule{roleThenWorkload(5 * time.Minute)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkSequence(t, e, tc.cases)
		})
	}
}

// One event may match several steps: it completes the partial before it and starts one of its own, never both steps
// of one sequence.
func TestSequenceEventOnTwoSteps(t *testing.T) {
	any := eq("objectRef.resource", "roles")
	by := []rule.Field{{Name: "user.username"}}
	r := &rule.Rule{ID: "s", Name: "s", Filter: any, Pipeline: []rule.Stage{rule.Sequence{MaxSpan: time.Hour,
		Steps: []rule.SequenceStep{{Cond: any, By: by}, {Cond: any, By: by}, {Cond: any, By: by}}}}}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkSequence(t, e, []seqCase{
		{seqEvent("e1", "u", "update", "roles", 0), ""},
		{seqEvent("e2", "u", "update", "roles", 1), ""},
		{seqEvent("e3", "u", "update", "roles", 2), "e1,e2,e3"},
		{seqEvent("e4", "u", "update", "roles", 3), "e2,e3,e4"},
	})
}

// The completing row names the key under Columns, and the risk block can read it.
func TestSequenceColumns(t *testing.T) {
	e, err := Compile([]*rule.Rule{roleThenWorkload(time.Minute)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Match([]byte(seqEvent("a1", "mallory", "update", "roles", 0))); err != nil {
		t.Fatal(err)
	}
	ms, err := e.Match([]byte(seqEvent("b1", "mallory", "create", "deployments", 1)))
	if err != nil || len(ms) != 1 {
		t.Fatalf("%d matches, %v", len(ms), err)
	}
	if got := ms[0].Rows[0].Values("user"); !slices.Equal(got, []string{"mallory"}) {
		t.Errorf("user column = %q", got)
	}
}

func TestSequenceRefused(t *testing.T) {
	role := eq("objectRef.resource", "roles")
	for name, st := range map[string]rule.Sequence{
		"one step": {Steps: []rule.SequenceStep{{Cond: role}}},
		"keys of different lengths": {Steps: []rule.SequenceStep{
			{Cond: role, By: []rule.Field{{Name: "user.username"}}}, {Cond: role}}},
	} {
		r := &rule.Rule{ID: "s", Name: "s", Filter: role, Pipeline: []rule.Stage{st}}
		if _, err := Compile([]*rule.Rule{r}, Options{}); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
	r := &rule.Rule{ID: "s", Name: "s", Filter: role, Pipeline: []rule.Stage{rule.Copy{From: "verb", To: "v"},
		rule.Sequence{Steps: []rule.SequenceStep{{Cond: role}, {Cond: role}}}}}
	if _, err := Compile([]*rule.Rule{r}, Options{}); err == nil {
		t.Error("a sequence after another stage compiled")
	}
}

// Partials are bounded by max_keys and freed once they can no longer complete.
func TestSequenceStateBounded(t *testing.T) {
	e, err := Compile([]*rule.Rule{roleThenWorkload(time.Minute)}, Options{MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if _, err := e.Match([]byte(seqEvent(fmt.Sprint(i), fmt.Sprint("u", i), "update", "roles", 0))); err != nil {
			t.Fatal(err)
		}
	}
	if held := e.SequenceKeys()["seq"]; held[0] != 10 || held[1] != 40 {
		t.Fatalf("held, evicted = %v, want 10, 40", held)
	}
	// An hour later every partial is too old to complete: the sweep frees them.
	if _, err := e.Match([]byte(seqEvent("late", "v", "update", "roles", 3600))); err != nil {
		t.Fatal(err)
	}
	if held := e.SequenceKeys()["seq"]; held[0] != 1 {
		t.Fatalf("held after the sweep = %d, want 1 (the new key)", held[0])
	}
}

// Partials survive a restart (SaveState/RestoreState) and a reload (AdoptState).
func TestSequenceStateKept(t *testing.T) {
	first := seqEvent("a1", "mallory", "update", "roles", 0)
	second := seqEvent("b1", "mallory", "create", "deployments", 60)
	compile := func() *Engine {
		e, err := Compile([]*rule.Rule{roleThenWorkload(5 * time.Minute)}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	old := compile()
	checkSequence(t, old, []seqCase{{first, ""}})
	var buf bytes.Buffer
	if err := old.SaveState(&buf); err != nil {
		t.Fatal(err)
	}
	restarted := compile()
	if restored, _, err := restarted.RestoreState(&buf); err != nil || len(restored) != 1 {
		t.Fatalf("restored %v, %v", restored, err)
	}
	checkSequence(t, restarted, []seqCase{{second, "a1,b1"}})

	reloaded := compile()
	reloaded.AdoptState(old)
	checkSequence(t, reloaded, []seqCase{{second, "a1,b1"}})
}

// A scale-out routes a sequence's events by its key, so that one gateway sees every step.
func TestSequenceRouteKey(t *testing.T) {
	e, err := Compile([]*rule.Rule{roleThenWorkload(time.Minute)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k1, ok1, err1 := e.RouteKey([]byte(seqEvent("a1", "mallory", "update", "roles", 0)))
	k2, ok2, err2 := e.RouteKey([]byte(seqEvent("b1", "mallory", "create", "deployments", 1)))
	if err1 != nil || err2 != nil || !ok1 || !ok2 || k1 != "mallory" || k2 != k1 {
		t.Fatalf("keys %q %v %v, %q %v %v", k1, ok1, err1, k2, ok2, err2)
	}
	if got := e.RouteFields(); !slices.Equal(got, []string{"user.username"}) {
		t.Errorf("route fields %q", got)
	}
}

// An event delivered again (same auditID and stage) gets what it produced the first time, and moves no partial.
func TestSequenceRedelivery(t *testing.T) {
	e, err := Compile([]*rule.Rule{roleThenWorkload(5 * time.Minute)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkSequence(t, e, []seqCase{
		{seqEvent("a1", "mallory", "update", "roles", 0), ""},
		{seqEvent("a2", "mallory", "update", "roles", 1), ""},
		{seqEvent("b1", "mallory", "create", "deployments", 2), "a2,b1"},
		{seqEvent("b1", "mallory", "create", "deployments", 2), "a2,b1"},
		{seqEvent("a2", "mallory", "update", "roles", 1), ""},
		// a2 was not started again by its redelivery: b2 has no partial to complete
		{seqEvent("b2", "mallory", "create", "deployments", 3), ""},
	})
}

// An until event ends the key's partials before it; one that is also a step still counts as that step.
func TestSequenceUntil(t *testing.T) {
	r := roleThenWorkload(5 * time.Minute)
	seq := r.Pipeline[0].(rule.Sequence)
	reset := eq("verb", "delete")
	seq.Until = rule.SequenceStep{Cond: reset, By: []rule.Field{{Name: "user.username"}}}
	r.Pipeline[0], r.Filter = seq, rule.Or{r.Filter, reset}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkSequence(t, e, []seqCase{
		{seqEvent("a1", "mallory", "update", "roles", 0), ""},
		{seqEvent("d1", "alice", "delete", "roles", 1), ""}, // another key
		{seqEvent("b1", "mallory", "create", "deployments", 2), "a1,b1"},
		{seqEvent("a2", "mallory", "update", "roles", 3), ""},
		{seqEvent("d2", "mallory", "delete", "pods", 4), ""},
		{seqEvent("b2", "mallory", "create", "deployments", 5), ""},
	})

	// An event both until and a first step: it starts its own partial after ending the older ones.
	both := roleThenWorkload(5 * time.Minute)
	seq = both.Pipeline[0].(rule.Sequence)
	seq.Until = rule.SequenceStep{Cond: eq("objectRef.resource", "roles"), By: []rule.Field{{Name: "user.username"}}}
	both.Pipeline[0] = seq
	e, err = Compile([]*rule.Rule{both}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkSequence(t, e, []seqCase{
		{seqEvent("a1", "mallory", "update", "roles", 0), ""},
		{seqEvent("a2", "mallory", "update", "roles", 1), ""},
		{seqEvent("b1", "mallory", "create", "deployments", 2), "a2,b1"},
	})
}

// seqEventGroups is seqEvent by a user in groups.
func seqEventGroups(id, verb, resource string, sec int, groups ...string) string {
	at := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(sec) * time.Second)
	g, _ := json.Marshal(groups)
	return fmt.Sprintf(`{"auditID":%q,"verb":%q,"user":{"username":"u","groups":%s},"objectRef":{"resource":%q},"stageTimestamp":%q}`,
		id, verb, g, resource, at.Format(time.RFC3339Nano))
}

// An event with several key values completes a sequence under each: one row per sequence.
func TestSequenceCompletesUnderEachKey(t *testing.T) {
	r := roleThenWorkload(5 * time.Minute)
	seq := r.Pipeline[0].(rule.Sequence)
	for i := range seq.Steps {
		seq.Steps[i].By = []rule.Field{{Name: "user.groups{}"}}
	}
	seq.Columns = []string{"group"}
	r.Pipeline[0] = seq
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{seqEventGroups("a1", "update", "roles", 0, "g1"), seqEventGroups("a2", "update", "roles", 1, "g2")} {
		if _, err := e.Match([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := e.Match([]byte(seqEventGroups("b1", "create", "deployments", 2, "g1", "g2")))
	if err != nil || len(ms) != 1 {
		t.Fatalf("%d matches, %v", len(ms), err)
	}
	var got []string
	for _, row := range ms[0].Rows {
		got = append(got, strings.Join(row.Values("group"), "")+"="+strings.Join(row.Values(rule.SequenceIDsField), ","))
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"g1=a1,b1", "g2=a2,b1"}) {
		t.Errorf("rows %q", got)
	}
}

// With allowed lateness, an event older than the watermark still extends a partial, and the sweep keeps what it
// could extend: the answer does not depend on other keys' events moving the sweep; past the lateness an event is
// dropped and counted.
func TestSequenceLateness(t *testing.T) {
	for _, carol := range []bool{false, true} {
		e, err := Compile([]*rule.Rule{roleThenWorkload(5 * time.Minute)}, Options{AllowedLateness: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		cases := []seqCase{{seqEvent("a1", "mallory", "update", "roles", 0), ""}}
		if carol {
			cases = append(cases, seqCase{seqEvent("c1", "carol", "update", "roles", 280), ""})
		}
		cases = append(cases, seqCase{seqEvent("r2", "bob", "update", "roles", 301), ""},
			seqCase{seqEvent("b1", "mallory", "create", "deployments", 299), "a1,b1"},
			seqCase{seqEvent("a3", "mallory", "update", "roles", 200), ""}) // 101 s late: dropped
		checkSequence(t, e, cases)
		if late := e.SequenceLate()["seq"]; late != 1 {
			t.Errorf("late %d, want 1", late)
		}
	}
}

// An event dated in the future counts at the watermark, which the wall clock caps: it cannot leave its key a partial
// that no real event can follow for longer than that cap.
func TestSequenceFutureEvent(t *testing.T) {
	now := time.Now().UTC()
	ev := func(id, verb, resource string, at time.Time) string {
		return fmt.Sprintf(`{"auditID":%q,"verb":%q,"user":{"username":"mallory"},"objectRef":{"resource":%q},"stageTimestamp":%q}`,
			id, verb, resource, at.Format(time.RFC3339Nano))
	}
	e, err := Compile([]*rule.Rule{roleThenWorkload(time.Hour)}, Options{AllowedLateness: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	checkSequence(t, e, []seqCase{
		{ev("f1", "update", "roles", now.Add(24*time.Hour)), ""},
		{ev("a1", "update", "roles", now.Add(7*time.Minute)), ""},
		{ev("b1", "create", "deployments", now.Add(7*time.Minute+time.Second)), "a1,b1"},
	})
}

// A sequence whose steps share no key is not routed, and leaves the windowed rules' shared key as it was.
func TestSequenceWithoutSharedKeyLeavesRoutingAlone(t *testing.T) {
	win := windowRule(cmp("count", rule.OpGt, "2"), countOnly)
	win.Pipeline[0] = rule.Stats{Aggs: []rule.Aggregate{countOnly}, By: []string{"user.username"}}
	seq := roleThenWorkload(time.Minute)
	st := seq.Pipeline[0].(rule.Sequence)
	st.Steps[1].By = []rule.Field{{Name: "impersonatedUser.username"}}
	seq.Pipeline[0] = st
	for _, rules := range [][]*rule.Rule{{win}, {win, seq}, {seq, win}} {
		e, err := Compile(rules, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.RouteFields(); !slices.Equal(got, []string{"user.username"}) {
			t.Errorf("%d rules: route fields %q", len(rules), got)
		}
	}
}
