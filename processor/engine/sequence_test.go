package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
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

// sequencesOf is the auditIDs of the sequences the matches report, a space between two sequences.
func sequencesOf(ms []Match) string {
	var seqs []string
	for _, m := range ms {
		for _, r := range m.Rows {
			seqs = append(seqs, strings.Join(r.Values(rule.SequenceIDsField), ","))
		}
	}
	return strings.Join(seqs, " ")
}

// matchSeq matches body and returns the auditIDs of the sequences it completes (sequencesOf).
func matchSeq(t *testing.T, e *Engine, body string) string {
	t.Helper()
	ms, err := e.Match([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return sequencesOf(ms)
}

func checkSequence(t *testing.T, e *Engine, cases []seqCase) {
	t.Helper()
	for i, c := range cases {
		if got := matchSeq(t, e, c.event); got != c.want {
			t.Errorf("event %d: sequence %q, want %q", i, got, c.want)
		}
	}
}

// sequenceEngine compiles r, the engine's only rule, with opts.
func sequenceEngine(t *testing.T, r *rule.Rule, opts Options) *Engine {
	t.Helper()
	e, err := Compile([]*rule.Rule{r}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// playSequence is checkSequence on a new engine of r with opts, returned for what the test checks after.
func playSequence(t *testing.T, r *rule.Rule, opts Options, cases []seqCase) *Engine {
	t.Helper()
	e := sequenceEngine(t, r, opts)
	checkSequence(t, e, cases)
	return e
}

// checkLate checks how many events the sequence rule "seq" dropped as late; which says which ones are meant.
func checkLate(t *testing.T, e *Engine, want uint64, which string) {
	t.Helper()
	if late := e.SequenceLate()["seq"]; late != want {
		t.Errorf("%d events dropped as late, want %d (%s)", late, want, which)
	}
}

// carriedOver gives old's state to two new engines of compile: one restores what old saved, as after a restart, and
// one adopts it, as after a reload. Each must take it for old's rule.
func carriedOver(t *testing.T, old *Engine, compile func() *Engine) (restarted, reloaded *Engine) {
	t.Helper()
	var saved bytes.Buffer
	if err := old.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	restarted = compile()
	if restored, _, err := restarted.RestoreState(&saved); err != nil || len(restored) != 1 {
		t.Fatalf("restored %v, %v; want the rule", restored, err)
	}
	reloaded = compile()
	if adopted := reloaded.AdoptState(old); len(adopted) != 1 {
		t.Fatalf("adopted %v, want the rule", adopted)
	}
	return restarted, reloaded
}

// restoreSequence restores into e, whose only rule is the sequence rule "seq", state saved by hand: seq as that
// rule's sequence.
func restoreSequence(t *testing.T, e *Engine, seq savedSequence) {
	t.Helper()
	state := savedState{Version: stateVersion, Rules: []savedRule{{Detection: sha256.Sum256([]byte(e.rules[0].stateKey)),
		ID: "seq", Sequences: []savedSequence{seq}}}}
	var saved bytes.Buffer
	if err := gob.NewEncoder(&saved).Encode(&state); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.RestoreState(&saved); err != nil {
		t.Fatal(err)
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
			playSequence(t, roleThenWorkload(5*time.Minute), Options{}, tc.cases)
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
	playSequence(t, r, Options{}, []seqCase{
		{seqEvent("e1", "u", "update", "roles", 0), ""},
		{seqEvent("e2", "u", "update", "roles", 1), ""},
		{seqEvent("e3", "u", "update", "roles", 2), "e1,e2,e3"},
		{seqEvent("e4", "u", "update", "roles", 3), "e2,e3,e4"},
	})
}

// The completing row names the key under Columns, and the risk block can read it.
func TestSequenceColumns(t *testing.T) {
	e := sequenceEngine(t, roleThenWorkload(time.Minute), Options{})
	matchSeq(t, e, seqEvent("a1", "mallory", "update", "roles", 0))
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
	e := sequenceEngine(t, roleThenWorkload(time.Minute), Options{MaxKeys: 10})
	for i := 0; i < 50; i++ {
		matchSeq(t, e, seqEvent(fmt.Sprint(i), fmt.Sprint("u", i), "update", "roles", 0))
	}
	if held := e.SequenceKeys()["seq"]; held[0] != 10 || held[1] != 40 {
		t.Fatalf("held, evicted = %v, want 10, 40", held)
	}
	// An hour later every partial is too old to complete: the sweep frees them.
	matchSeq(t, e, seqEvent("late", "v", "update", "roles", 3600))
	if held := e.SequenceKeys()["seq"]; held[0] != 1 {
		t.Fatalf("held after the sweep = %d, want 1 (the new key)", held[0])
	}
}

// Partials survive a restart (SaveState/RestoreState) and a reload (AdoptState).
func TestSequenceStateKept(t *testing.T) {
	first := seqEvent("a1", "mallory", "update", "roles", 0)
	second := seqEvent("b1", "mallory", "create", "deployments", 60)
	compile := func() *Engine { return sequenceEngine(t, roleThenWorkload(5*time.Minute), Options{}) }
	old := compile()
	checkSequence(t, old, []seqCase{{first, ""}})
	restarted, reloaded := carriedOver(t, old, compile)
	checkSequence(t, restarted, []seqCase{{second, "a1,b1"}})
	checkSequence(t, reloaded, []seqCase{{second, "a1,b1"}})
}

// A scale-out routes a sequence's events by its key, so that one gateway sees every step.
func TestSequenceRouteKey(t *testing.T) {
	e := sequenceEngine(t, roleThenWorkload(time.Minute), Options{})
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
	playSequence(t, roleThenWorkload(5*time.Minute), Options{}, []seqCase{
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
	playSequence(t, withUntil(roleThenWorkload(5*time.Minute)), Options{}, []seqCase{
		{seqEvent("a1", "mallory", "update", "roles", 0), ""},
		{seqEvent("d1", "alice", "delete", "roles", 1), ""}, // another key
		{seqEvent("b1", "mallory", "create", "deployments", 2), "a1,b1"},
		{seqEvent("a2", "mallory", "update", "roles", 3), ""},
		{seqEvent("d2", "mallory", "delete", "pods", 4), ""},
		{seqEvent("b2", "mallory", "create", "deployments", 5), ""},
	})

	// An event both until and a first step: it starts its own partial after ending the older ones.
	both := roleThenWorkload(5 * time.Minute)
	seq := both.Pipeline[0].(rule.Sequence)
	seq.Until = rule.SequenceStep{Cond: eq("objectRef.resource", "roles"), By: []rule.Field{{Name: "user.username"}}}
	both.Pipeline[0] = seq
	playSequence(t, both, Options{}, []seqCase{
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
	e := sequenceEngine(t, r, Options{})
	for _, body := range []string{seqEventGroups("a1", "update", "roles", 0, "g1"), seqEventGroups("a2", "update", "roles", 1, "g2")} {
		matchSeq(t, e, body)
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
		cases := []seqCase{{seqEvent("a1", "mallory", "update", "roles", 0), ""}}
		if carol {
			cases = append(cases, seqCase{seqEvent("c1", "carol", "update", "roles", 280), ""})
		}
		cases = append(cases, seqCase{seqEvent("r2", "bob", "update", "roles", 301), ""},
			seqCase{seqEvent("b1", "mallory", "create", "deployments", 299), "a1,b1"},
			seqCase{seqEvent("a3", "mallory", "update", "roles", 200), ""}) // 101 s late: dropped
		e := playSequence(t, roleThenWorkload(5*time.Minute), Options{AllowedLateness: time.Minute}, cases)
		checkLate(t, e, 1, "a3")
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
	playSequence(t, roleThenWorkload(time.Hour), Options{AllowedLateness: 10 * time.Minute}, []seqCase{
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

// roleBindWorkload is a three-step sequence by user within span: a role write, a role binding, a deployment create.
func roleBindWorkload(span time.Duration) *rule.Rule {
	r := roleThenWorkload(span)
	seq := r.Pipeline[0].(rule.Sequence)
	bind := rule.And{eq("objectRef.resource", "rolebindings"), eq("verb", "create")}
	seq.Steps = []rule.SequenceStep{seq.Steps[0], {Cond: bind, By: seq.Steps[0].By}, seq.Steps[1]}
	r.Pipeline[0], r.Filter = seq, rule.Or{r.Filter, bind}
	return r
}

// withUntil adds to a sequence rule an until: a delete by the same user.
func withUntil(r *rule.Rule) *rule.Rule {
	seq := r.Pipeline[0].(rule.Sequence)
	reset := eq("verb", "delete")
	seq.Until = rule.SequenceStep{Cond: reset, By: []rule.Field{{Name: "user.username"}}}
	r.Pipeline[0], r.Filter = seq, rule.Or{r.Filter, reset}
	return r
}

// Events that arrive out of order by up to allowed_lateness are matched in event-time order, as EQL matches the
// sorted events of a search: an answer goes out with the event whose arrival completes it, once.
func TestSequenceEventTimeOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rule  *rule.Rule
		cases []seqCase
	}{
		{"a later step arriving before its first step", roleThenWorkload(5 * time.Minute), []seqCase{
			{seqEvent("b1", "mallory", "create", "deployments", 63), ""},
			{seqEvent("a1", "mallory", "update", "roles", 60), "a1,b1"},
		}},
		{"three steps, the last first", roleBindWorkload(5 * time.Minute), []seqCase{
			{seqEvent("c1", "mallory", "create", "deployments", 20), ""},
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
			{seqEvent("b1", "mallory", "create", "rolebindings", 10), "a1,b1,c1"},
		}},
		{"three steps, the middle last", roleBindWorkload(5 * time.Minute), []seqCase{
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
			{seqEvent("c1", "mallory", "create", "deployments", 20), ""},
			{seqEvent("b1", "mallory", "create", "rolebindings", 10), "a1,b1,c1"},
		}},
		// EQL on role(10:00) role(10:01) workload(10:02): the latest role change, once.
		{"the latest first step in time, not in arrival", roleThenWorkload(5 * time.Minute), []seqCase{
			{seqEvent("b1", "mallory", "create", "deployments", 120), ""},
			{seqEvent("a2", "mallory", "update", "roles", 60), "a2,b1"},
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
		}},
		// The arrival order and the time order complete the same sequence: it is reported once, and the late role
		// change, older than it, starts nothing a later workload could complete.
		{"no answer twice", roleThenWorkload(5 * time.Minute), []seqCase{
			{seqEvent("a1", "mallory", "update", "roles", 10), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 20), "a1,b1"},
			{seqEvent("a0", "mallory", "update", "roles", 5), ""},
			{seqEvent("b2", "mallory", "create", "deployments", 25), ""},
		}},
		// An answer that went out is not taken back: a role change arriving after the workload, but older, gives
		// the answer EQL gives on the sorted events as well.
		{"an answer is not taken back", roleThenWorkload(5 * time.Minute), []seqCase{
			{seqEvent("a0", "mallory", "update", "roles", 0), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 20), "a0,b1"},
			{seqEvent("a1", "mallory", "update", "roles", 10), "a1,b1"},
			{seqEvent("b2", "mallory", "create", "deployments", 30), ""},
		}},
		{"maxspan in event time", roleThenWorkload(time.Minute), []seqCase{
			{seqEvent("b1", "mallory", "create", "deployments", 61), ""},
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
			{seqEvent("a2", "mallory", "update", "roles", 1), "a2,b1"},
		}},
		{"each key in its own time order", roleThenWorkload(5 * time.Minute), []seqCase{
			{seqEvent("b1", "mallory", "create", "deployments", 30), ""},
			{seqEvent("c1", "carol", "update", "roles", 40), ""},
			{seqEvent("a1", "mallory", "update", "roles", 20), "a1,b1"},
			{seqEvent("c2", "carol", "create", "deployments", 35), ""},
		}},
		// until ends the partials before it in time, whenever it arrives.
		{"until before its key has partials", withUntil(roleThenWorkload(5 * time.Minute)), []seqCase{
			{seqEvent("d1", "mallory", "delete", "pods", 5), ""},
			{seqEvent("a1", "mallory", "update", "roles", 3), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 6), ""},
		}},
		{"until arriving after a later step", withUntil(roleBindWorkload(5 * time.Minute)), []seqCase{
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
			{seqEvent("b1", "mallory", "create", "rolebindings", 6), ""},
			{seqEvent("d1", "mallory", "delete", "pods", 5), ""},
			{seqEvent("c1", "mallory", "create", "deployments", 8), ""},
		}},
		{"until after the sequence in time", withUntil(roleThenWorkload(5 * time.Minute)), []seqCase{
			{seqEvent("a1", "mallory", "update", "roles", 0), ""},
			{seqEvent("d1", "mallory", "delete", "pods", 10), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 5), "a1,b1"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := playSequence(t, tc.rule, Options{AllowedLateness: 5 * time.Minute}, tc.cases)
			checkLate(t, e, 0, "none")
		})
	}
}

// Past allowed_lateness an event is dropped and counted, as a window drops it; so is one older than the events its
// key let go of when it held maxSeqHeld.
func TestSequenceTooLate(t *testing.T) {
	e := playSequence(t, roleThenWorkload(5*time.Minute), Options{AllowedLateness: time.Minute}, []seqCase{
		{seqEvent("b1", "mallory", "create", "deployments", 100), ""},
		{seqEvent("a1", "mallory", "update", "roles", 50), "a1,b1"}, // 50 s late
		{seqEvent("b2", "mallory", "create", "deployments", 200), ""},
		{seqEvent("a2", "mallory", "update", "roles", 130), ""}, // 70 s late
	})
	checkLate(t, e, 1, "a2")

	var cases []seqCase
	for i := range maxSeqHeld + 2 {
		cases = append(cases, seqCase{seqEvent(fmt.Sprint("a", i), "mallory", "update", "roles", 10+i), ""})
	}
	// The key let go of its two oldest role changes (at 10 and 11 s): a workload before them cannot be placed.
	cases = append(cases, seqCase{seqEvent("b1", "mallory", "create", "deployments", 5), ""},
		seqCase{seqEvent("b2", "mallory", "create", "deployments", 11), "a1,b2"})
	e = playSequence(t, roleThenWorkload(time.Hour), Options{AllowedLateness: time.Hour}, cases)
	checkLate(t, e, 1, "the workload older than what its key holds")
}

// The events a key holds for late arrivals, and what they reported, survive a restart and a reload: a late first
// step still completes its sequence, and one that completes an answer already given gives nothing.
func TestSequenceHeldEventsKept(t *testing.T) {
	compile := func() *Engine {
		return sequenceEngine(t, roleThenWorkload(5*time.Minute), Options{AllowedLateness: 5 * time.Minute})
	}
	before := []seqCase{
		{seqEvent("b1", "mallory", "create", "deployments", 63), ""},
		{seqEvent("c1", "carol", "update", "roles", 10), ""},
		{seqEvent("c2", "carol", "create", "deployments", 20), "c1,c2"},
	}
	after := []seqCase{
		{seqEvent("a1", "mallory", "update", "roles", 60), "a1,b1"},
		{seqEvent("c0", "carol", "update", "roles", 5), ""}, // (c1, c2) again in time order: reported before
		{seqEvent("c3", "carol", "create", "deployments", 25), ""},
	}
	old := compile()
	checkSequence(t, old, before)
	restarted, reloaded := carriedOver(t, old, compile)
	checkSequence(t, restarted, after)
	checkSequence(t, reloaded, after)
}

// State saved before keys held events (partials only, taken in arrival order) is restored: its partials complete,
// and an event older than a partial's last event, which cannot be placed among events no longer held, is dropped
// and counted rather than paired out of order.
func TestSequenceRestoresStateWithoutHeldEvents(t *testing.T) {
	e := sequenceEngine(t, roleThenWorkload(5*time.Minute), Options{AllowedLateness: 5 * time.Minute})
	at := time.Date(2025, 3, 1, 10, 1, 0, 0, time.UTC) // seqEvent's second 60
	restoreSequence(t, e, savedSequence{Watermark: at, NextSweep: at,
		Keys: []savedSeqKey{{Key: "mallory", Parts: []savedPartial{{Start: at, Last: at, IDs: []string{"a2"}}}}}})
	checkSequence(t, e, []seqCase{
		{seqEvent("b1", "mallory", "create", "deployments", 30), ""},
		{seqEvent("b2", "mallory", "create", "deployments", 90), "a2,b2"},
	})
	checkLate(t, e, 1, "b1, older than the partial's a2")
}

// An event delivered again gets what it produced the first time, also when that was a sequence its late arrival
// completed, and moves nothing.
func TestSequenceRedeliveryOfALateEvent(t *testing.T) {
	playSequence(t, roleThenWorkload(5*time.Minute), Options{AllowedLateness: 5 * time.Minute}, []seqCase{
		{seqEvent("b1", "mallory", "create", "deployments", 63), ""},
		{seqEvent("a1", "mallory", "update", "roles", 60), "a1,b1"},
		{seqEvent("a1", "mallory", "update", "roles", 60), "a1,b1"},
		{seqEvent("b1", "mallory", "create", "deployments", 63), ""},
		{seqEvent("b2", "mallory", "create", "deployments", 64), ""},
	})
}

// A key holds its events of the last allowed_lateness only: older ones are let go of into its partials, and a key
// that holds none and whose partials can no longer complete is swept.
func TestSequenceHeldEventsLetGo(t *testing.T) {
	e := sequenceEngine(t, roleThenWorkload(time.Minute), Options{AllowedLateness: time.Minute})
	for sec := range 300 {
		matchSeq(t, e, seqEvent(fmt.Sprint("a", sec), "mallory", "update", "roles", sec))
	}
	sq := seqStage(e)
	k, _ := sq.keys.Get("mallory")
	if len(k.held) != 60 || k.held[0].at.Second() != 0 || k.parts[0].ids[0] != "a299" || k.base[0].ids[0] != "a239" {
		t.Fatalf("held %d events from %v, partial %v, base %v; want the 60 after 10:04:00", len(k.held), k.held[0].at,
			k.parts, k.base)
	}
	// b1 comes after a250: equal times are in arrival order.
	checkSequence(t, e, []seqCase{{seqEvent("b1", "mallory", "create", "deployments", 250), "a250,b1"}})
	matchSeq(t, e, seqEvent("c1", "carol", "update", "roles", 3600))
	if held := e.SequenceKeys()["seq"]; held[0] != 1 {
		t.Fatalf("keys held after the sweep = %d, want 1 (carol's)", held[0])
	}
}

// A saved key whose held events a rule of the same definition cannot have written (out of time order, a step it
// does not have, newer than the watermark) is left out; a sound one is restored and runs its held events again.
func TestSequenceRestoreSkipsDamagedHeldEvents(t *testing.T) {
	e := sequenceEngine(t, roleThenWorkload(5*time.Minute), Options{AllowedLateness: 5 * time.Minute})
	at := func(sec int) time.Time { return time.Date(2025, 3, 1, 10, 0, sec, 0, time.UTC) }
	workload := func(id string, sec int) savedHeld { return savedHeld{At: at(sec), ID: id, Steps: []int{1}} }
	keys := []savedSeqKey{
		{Key: "u1", Held: []savedHeld{workload("x1", 63), workload("x2", 62)}},
		{Key: "u2", Held: []savedHeld{{At: at(63), ID: "y1", Steps: []int{2}}}},
		{Key: "u3", Held: []savedHeld{workload("z1", 90)}},
		{Key: "mallory", Held: []savedHeld{workload("b1", 63)}},
	}
	restoreSequence(t, e, savedSequence{Watermark: at(63), NextSweep: at(63), Keys: keys})
	if held := e.SequenceKeys()["seq"]; held[0] != 1 {
		t.Errorf("%d keys restored, want 1", held[0])
	}
	checkSequence(t, e, []seqCase{{seqEvent("a1", "mallory", "update", "roles", 60), "a1,b1"}})
}
