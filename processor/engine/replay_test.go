package engine

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestRedeliveryIsNotCountedTwice: an event delivered again (same auditID and stage) is not counted again by a
// windowed rule, and gets back what it produced the first time; another stage of the same request, or an event
// without an auditID, is an event of its own.
func TestRedeliveryIsNotCountedTwice(t *testing.T) {
	r := windowRule(cmp("count", rule.OpGe, "3"), countOnly)
	e, err := Compile([]*rule.Rule{r}, Options{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	withID := func(id, stage string, min float64) []byte {
		return ev("192.0.2.1", min, fmt.Sprintf(`"auditID":%q,"stage":%q`, id, stage))
	}
	batch := [][]byte{withID("a", "ResponseComplete", 0), withID("b", "ResponseComplete", 1)}
	// The batch, then the same batch again (a retry): still two events in the window, nothing fires.
	if got := play(t, e, append(batch, batch...)); got != nil {
		t.Fatalf("a redelivered batch counted again: fired %v", got)
	}
	// The third event fires; delivered again, it gives back the same row and counts nothing more.
	third := withID("c", "ResponseComplete", 2)
	first := play(t, e, [][]byte{third})
	again := play(t, e, [][]byte{third})
	if !reflect.DeepEqual(first, []string{"0:3"}) || !reflect.DeepEqual(again, first) {
		t.Fatalf("third event fired %v, delivered again %v; want [0:3] both times", first, again)
	}
	// Another stage of request c is another event: counted (the group fired already in this window).
	if got := play(t, e, [][]byte{withID("c", "ResponseStarted", 2)}); got != nil {
		t.Fatalf("a second firing in one window: %v", got)
	}
	// Events without an auditID have no identity: each delivery counts.
	e, _ = Compile([]*rule.Rule{r}, Options{Window: time.Hour})
	anon := ev("192.0.2.9", 0, "")
	if got := play(t, e, [][]byte{anon, anon, anon}); !reflect.DeepEqual(got, []string{"2:3"}) {
		t.Fatalf("events without an auditID: fired %v, want [2:3]", got)
	}
}

// TestRedeliveryOfANewTerm: the event that saw a term first matches again when delivered again (its first delivery's
// batch may never have reached Splunk); a later request with the same term does not.
func TestRedeliveryOfANewTerm(t *testing.T) {
	e, err := Compile([]*rule.Rule{newTermsRule(time.Hour)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	withID := func(id string, min int) []byte {
		body := termEvent("alice", min, "198.51.100.7")
		return []byte(body[:len(body)-1] + fmt.Sprintf(`,"auditID":%q,"stage":"ResponseComplete"}`, id))
	}
	for i, tc := range []struct {
		body []byte
		want bool
	}{
		{withID("first", 0), true},
		{withID("first", 0), true}, // delivered again
		{withID("later", 1), false},
		{withID("later", 1), false}, // a redelivery of an event that matched nothing matches nothing
	} {
		ms, err := e.Match(tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ms) == 1; got != tc.want {
			t.Errorf("event %d: matched %v, want %v", i, got, tc.want)
		}
	}
}

// TestReplayIsBounded: the identities a stateful rule remembers are bounded by Options.ReplayKeys; an event whose
// identity was forgotten is counted again when redelivered, one still remembered is not.
func TestReplayIsBounded(t *testing.T) {
	r := windowRule(cmp("count", rule.OpGe, "11"), countOnly)
	e, err := Compile([]*rule.Rule{r}, Options{Window: time.Hour, ReplayKeys: 4})
	if err != nil {
		t.Fatal(err)
	}
	var events [][]byte
	for i := 0; i < 10; i++ {
		events = append(events, ev("192.0.2.1", float64(i)/10, fmt.Sprintf(`"auditID":"id-%d"`, i)))
	}
	if got := play(t, e, events); got != nil {
		t.Fatalf("fired %v", got)
	}
	if n := e.rules[0].replay.seen.Len(); n != 4 {
		t.Fatalf("remembers %d identities, want 4", n)
	}
	if got := play(t, e, events[9:]); got != nil {
		t.Fatalf("a remembered event was counted again: fired %v", got)
	}
	if got := play(t, e, events[:1]); !reflect.DeepEqual(got, []string{"0:11"}) {
		t.Fatalf("a forgotten event redelivered: fired %v, want [0:11]", got)
	}
}

// TestConcurrentDeliveriesCountOnce: the same event delivered on several goroutines at once is run once: no two
// deliveries are between looking it up and remembering it at the same moment (the hook holds each first run open for
// a while, so that a second delivery would be caught inside), and the window counts it once.
func TestConcurrentDeliveriesCountOnce(t *testing.T) {
	r := windowRule(cmp("count", rule.OpGe, "2"), countOnly)
	e, err := Compile([]*rule.Rule{r}, Options{Window: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var inside, most, runs atomic.Int32
	replayRunHook = func() {
		n := inside.Add(1)
		runs.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond)
		inside.Add(-1)
	}
	t.Cleanup(func() { replayRunHook = nil })
	body := ev("192.0.2.1", 0, `"auditID":"same","stage":"ResponseComplete"`)
	var wg sync.WaitGroup
	var fired atomic.Int32
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ms, _ := e.Match(body); len(ms) > 0 {
				fired.Add(1)
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 || runs.Load() != 1 || fired.Load() != 0 {
		t.Fatalf("8 deliveries of one event: %d runs, %d at once, fired %d times; want 1, 1, 0", runs.Load(), most.Load(), fired.Load())
	}
	if got := play(t, e, [][]byte{ev("192.0.2.1", 1, `"auditID":"other"`)}); !reflect.DeepEqual(got, []string{"0:2"}) {
		t.Fatalf("a second event fired %v, want [0:2]: the first was counted once", got)
	}
}
