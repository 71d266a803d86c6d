package engine

import (
	cmpOrder "cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// orderEvent is an event of a random stream: a user (none: "") doing verb at second sec.
type orderEvent struct {
	id, user, verb string
	sec            int
}

// orderSteps are the steps of the random streams' sequences, by verb: patch is both the second and the third step,
// so that one event may be two steps (of two sequences); deletecollection is the until.
var orderSteps = [][]string{{"update"}, {"create", "patch"}, {"delete", "patch"}}

const orderUntil = "deletecollection"

// orderVerbs are the verbs of the random streams: each step's, the until's, and one of no step.
var orderVerbs = []string{"update", "create", "patch", "delete", orderUntil, "get"}

// shuffledStream is a random stream of 3 to 2+most events by users within 30 seconds, in the order they arrive:
// each is delayed by up to lateness seconds, so that none arrives later than that behind a newer one.
func shuffledStream(rng *rand.Rand, users []string, most, lateness int) []orderEvent {
	events := make([]orderEvent, 3+rng.IntN(most))
	for i := range events {
		events[i] = orderEvent{id: fmt.Sprint("e", i), user: users[rng.IntN(len(users))],
			verb: orderVerbs[rng.IntN(len(orderVerbs))], sec: rng.IntN(30)}
	}
	delay := make(map[string]float64, len(events))
	for _, e := range events {
		delay[e.id] = float64(e.sec) + rng.Float64()*float64(lateness)
	}
	arrival := slices.Clone(events)
	slices.SortStableFunc(arrival, func(a, b orderEvent) int { return cmpOrder.Compare(delay[a.id], delay[b.id]) })
	return arrival
}

// referenceSequences is EQL's sequence state machine written out plainly, run over the whole stream sorted by time
// (arrival order among equal times), as Elasticsearch sorts a search's events before matching: the sequences it
// completes, by auditIDs.
func referenceSequences(events []orderEvent, steps int, until bool, span int) []string {
	sorted := slices.Clone(events)
	slices.SortStableFunc(sorted, func(a, b orderEvent) int { return a.sec - b.sec })
	type partial struct {
		start int
		ids   []string
	}
	byUser := map[string]map[int]partial{} // the partial that reached each step, per user
	var done []string
	for _, e := range sorted {
		if e.user == "" {
			continue
		}
		parts := byUser[e.user]
		if parts == nil {
			parts = map[int]partial{}
			byUser[e.user] = parts
		}
		moved := map[int]bool{}
		for i := steps - 1; i >= 0; i-- {
			if !slices.Contains(orderSteps[i], e.verb) {
				continue
			}
			if i == 0 {
				parts[0] = partial{e.sec, []string{e.id}}
				moved[0] = true
				continue
			}
			prev, ok := parts[i-1]
			if !ok {
				continue
			}
			delete(parts, i-1)
			if e.sec-prev.start > span {
				continue
			}
			ids := append(slices.Clone(prev.ids), e.id)
			if i == steps-1 {
				done = append(done, strings.Join(ids, ","))
				continue
			}
			parts[i] = partial{prev.start, ids}
			moved[i] = true
		}
		if until && e.verb == orderUntil {
			for i := range parts {
				if !moved[i] {
					delete(parts, i)
				}
			}
		}
	}
	return done
}

func orderRule(steps int, until bool, span time.Duration) *rule.Rule {
	by := []rule.Field{{Name: "user.username"}}
	verbs := func(vs []string) rule.Expr {
		var or rule.Or
		for _, v := range vs {
			or = append(or, eq("verb", v))
		}
		return or
	}
	seq := rule.Sequence{MaxSpan: span}
	var filter rule.Or
	for _, vs := range orderSteps[:steps] {
		seq.Steps = append(seq.Steps, rule.SequenceStep{Cond: verbs(vs), By: by})
		filter = append(filter, verbs(vs))
	}
	if until {
		seq.Until = rule.SequenceStep{Cond: eq("verb", orderUntil), By: by}
		filter = append(filter, seq.Until.Cond)
	}
	return &rule.Rule{ID: "seq", Name: "seq", Filter: filter, Pipeline: []rule.Stage{seq}}
}

// TestSequenceOrderAgainstReference: random small streams, shuffled within allowed_lateness, against the reference
// run over the sorted stream. After each arrival the sequences reported so far are exactly those the reference
// completes on the events arrived so far (sorted), or on an earlier such prefix: every sequence of the sorted stream
// is reported, once, as soon as its events have arrived, and a sequence is only reported if the sorted events
// arrived by then complete it (one reported before a late event ended it stays reported).
func TestSequenceOrderAgainstReference(t *testing.T) {
	const lateness = 5
	rng := rand.New(rand.NewPCG(7, 11))
	users := []string{"u1", "u2", ""}
	streams, reordered, superseded := 3000, 0, 0
	for n := range streams {
		steps, until, span := 2+rng.IntN(2), rng.IntN(2) == 0, 3+rng.IntN(12)
		arrival := shuffledStream(rng, users, 10, lateness)
		if !slices.IsSortedFunc(arrival, func(a, b orderEvent) int { return a.sec - b.sec }) {
			reordered++
		}
		e := sequenceEngine(t, orderRule(steps, until, time.Duration(span)*time.Second),
			Options{AllowedLateness: lateness * time.Second})
		reported, want := map[string]bool{}, map[string]bool{}
		for k, ev := range arrival {
			for _, s := range referenceSequences(arrival[:k+1], steps, until, span) {
				want[s] = true
			}
			for _, s := range strings.Fields(matchSeq(t, e, seqEvent(ev.id, ev.user, ev.verb, "pods", ev.sec))) {
				if reported[s] {
					t.Fatalf("stream %d (%d steps, until %v, span %d s, arrival %v): %s reported twice", n, steps,
						until, span, arrival, s)
				}
				reported[s] = true
			}
			if !maps.Equal(reported, want) {
				t.Fatalf("stream %d (%d steps, until %v, span %d s, arrival %v), after %s: reported %v, want %v",
					n, steps, until, span, arrival, ev.id, reported, want)
			}
		}
		if late := e.SequenceLate()["seq"]; late != 0 {
			t.Fatalf("stream %d: %d events dropped as late", n, late)
		}
		if len(referenceSequences(arrival, steps, until, span)) != len(reported) {
			superseded++
		}
	}
	t.Logf("%d streams, %d out of order, %d with an answer a late event superseded", streams, reordered, superseded)
	if reordered < streams/2 {
		t.Fatalf("only %d of %d streams arrive out of order", reordered, streams)
	}
}

// TestSequenceOrderUnderBounds: the same random streams, among more users than max_keys, so that keys are evicted
// and events let go of before their lateness passed. Sequences are then missed, never made up: every sequence
// reported is one the reference completes on the events arrived by then, less those dropped as late (counted), and
// none is reported twice. The rule's count of the events held stays exact and within max_keys. The floors of the
// keys it forgets are kept in one bucket (all keys share it), two, or all of them.
func TestSequenceOrderUnderBounds(t *testing.T) {
	const lateness = 5
	rng := rand.New(rand.NewPCG(3, 5))
	users := []string{"u1", "u2", "u3", "u4", ""}
	missed := 0
	for n := range 15000 {
		steps, until, span, maxKeys := 2+rng.IntN(2), rng.IntN(2) == 0, 3+rng.IntN(12), 1+rng.IntN(3)
		arrival := shuffledStream(rng, users, 14, lateness)
		e := sequenceEngine(t, orderRule(steps, until, time.Duration(span)*time.Second),
			Options{AllowedLateness: lateness * time.Second, MaxKeys: maxKeys})
		seqStage(e).floors.mask = []uint64{0, 1, seqFloorBuckets - 1}[n%3]
		var taken []orderEvent // arrived and not dropped as late
		reported, want := map[string]bool{}, map[string]bool{}
		for _, ev := range arrival {
			late := e.SequenceLate()["seq"]
			got := matchSeq(t, e, seqEvent(ev.id, ev.user, ev.verb, "pods", ev.sec))
			if e.SequenceLate()["seq"] == late {
				taken = append(taken, ev)
			}
			if held := heldEvents(t, seqStage(e)); held > maxKeys {
				t.Fatalf("stream %d: %d events held, max_keys %d", n, held, maxKeys)
			}
			for _, s := range referenceSequences(taken, steps, until, span) {
				want[s] = true
			}
			for _, s := range strings.Fields(got) {
				if reported[s] || !want[s] {
					t.Fatalf("stream %d (%d steps, until %v, span %d s, max_keys %d, arrival %v), after %s: %s reported "+
						"(before: %v), the reference gives %v", n, steps, until, span, maxKeys, arrival, ev.id, s,
						reported, want)
				}
				reported[s] = true
			}
		}
		if len(reported) < len(want) {
			missed++
		}
	}
	t.Logf("15000 streams, %d with a sequence missed", missed)
}
