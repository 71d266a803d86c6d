package engine

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seqBase is seqEvent's second 0.
var seqBase = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// seqEventAt is seqEvent at any time.
func seqEventAt(id, user, verb, resource string, at time.Time) string {
	return fmt.Sprintf(`{"auditID":%q,"verb":%q,"user":{"username":%q},"objectRef":{"resource":%q},"stageTimestamp":%q}`,
		id, verb, user, resource, at.Format(time.RFC3339Nano))
}

// seqStage is the sequence stage of an engine's only rule.
func seqStage(e *Engine) *sequenceStage { return e.rules[0].pre[0].(*sequenceStage) }

// heldEvents is the number of events the stage's keys hold. It checks that the stage counts them exactly, and
// that each key holds its events in time order, after what it let go of.
func heldEvents(t *testing.T, sq *sequenceStage) int {
	t.Helper()
	sq.mu.Lock()
	defer sq.mu.Unlock()
	n := 0
	sq.keys.Each(func(key string, k *seqKey) bool {
		n += len(k.held)
		if !slices.IsSortedFunc(k.held, func(a, b seqHeld) int { return a.at.Compare(b.at) }) ||
			len(k.held) > 0 && k.held[0].at.Before(k.floor) || len(k.held) > maxSeqHeld {
			t.Fatalf("key %q holds %d events out of order or before its floor %v", key, len(k.held), k.floor)
		}
		return true
	})
	if n != sq.held {
		t.Fatalf("the keys hold %d events, the rule counts %d", n, sq.held)
	}
	return n
}

// A rule holds at most max_keys events for late arrivals in all, whatever the keys: a flood of a common later step
// by many users, by few users, or by one, stays within it, and a key for a later step is made only into room, so
// that a sequence in progress is not evicted for it. Past the bound the rule lets go of its older events early and
// counts them, once a burst; the latest are still held, so a first step arriving late before one of them pairs.
func TestSequenceHeldEventsBounded(t *testing.T) {
	const maxKeys = 100
	e := sequenceEngine(t, roleThenWorkload(time.Hour), Options{AllowedLateness: 5 * time.Minute, MaxKeys: maxKeys})
	sq := seqStage(e)
	check := func(step string) {
		t.Helper()
		if n := heldEvents(t, sq); n > maxKeys {
			t.Fatalf("%s: %d events held, more than max_keys (%d)", step, n, maxKeys)
		}
	}
	matchSeq(t, e, seqEventAt("admin-role", "admin", "update", "roles", seqBase)) // a sequence in progress
	at := seqBase
	// 60 users writing in turn, 50 writes each within the lateness.
	for i := range 3000 {
		at = at.Add(50 * time.Millisecond)
		matchSeq(t, e, seqEventAt(fmt.Sprint("w", i), fmt.Sprint("sa", i%60), "create", "deployments", at))
		check("60 users")
	}
	// 5000 users writing once.
	for i := range 5000 {
		at = at.Add(10 * time.Millisecond)
		matchSeq(t, e, seqEventAt(fmt.Sprint("x", i), fmt.Sprint("user", i), "create", "deployments", at))
		check("5000 users")
	}
	// One user writing 1000 times.
	for i := range 1000 {
		at = at.Add(10 * time.Millisecond)
		matchSeq(t, e, seqEventAt(fmt.Sprint("y", i), "ci", "create", "deployments", at))
		check("one user")
	}
	if got := matchSeq(t, e, seqEventAt("admin-write", "admin", "create", "deployments", at)); got != "admin-role,admin-write" {
		t.Errorf("the admin's sequence in progress: %q, want it completed (not evicted by keys of later steps)", got)
	}
	// The latest writes are still held: a role change arriving late before the last one pairs with it; one before a
	// write let go of early is dropped as late.
	if got := matchSeq(t, e, seqEventAt("ci-role", "ci", "update", "roles", at.Add(-15*time.Millisecond))); got != "ci-role,y998" {
		t.Errorf("a late first step before writes still held: %q, want ci-role,y998", got)
	}
	if got := matchSeq(t, e, seqEventAt("sa-role", "sa1", "update", "roles", seqBase.Add(time.Second))); got != "" {
		t.Errorf("a late first step before writes let go of: %q, want none", got)
	}
	checkLate(t, e, 1, "the role change before writes let go of")
	hs := e.SequenceHolding()
	if len(hs) != 1 || hs[0].Rule.ID != "seq" || hs[0].Held != heldEvents(t, sq) || hs[0].Unheld < 8000 || hs[0].Bursts != 1 {
		t.Fatalf("holding %+v, want the events held, over 8000 taken early, in one burst", hs)
	}

	// Once the lateness has passed, nothing is held and the keys of the writes are freed.
	at = at.Add(5*time.Minute + 2*time.Second)
	matchSeq(t, e, seqEventAt("z1", "carol", "update", "roles", at))
	if n := heldEvents(t, sq); n != 1 {
		t.Errorf("%d events held a lateness after the flood, want 1 (carol's role change)", n)
	}
	if keys := sq.keys.Len(); keys != 1 {
		t.Errorf("%d keys after the flood's lateness, want 1 (carol's)", keys)
	}
	// A second flood after a lateness without one is a second burst.
	for i := range 3 * maxKeys {
		matchSeq(t, e, seqEventAt(fmt.Sprint("v", i), fmt.Sprint("bot", i%3), "create", "deployments", at))
	}
	if hs := e.SequenceHolding(); hs[0].Bursts != 2 {
		t.Errorf("bursts %d, want 2", hs[0].Bursts)
	}
}

// A key evicted, freed or not made for want of room (or a later step not held) takes with it events a late arrival
// of its key may come before: a key made since places no event older than them (it is dropped as late), so that it
// does not pair across an until (or a later step) the rule no longer has.
func TestSequenceForgottenKeyPlacesNothingBefore(t *testing.T) {
	untilAt10 := seqCase{seqEvent("d1", "mallory", "delete", "pods", 10), ""}
	for _, tc := range []struct {
		name  string
		cases []seqCase
	}{
		{"evicted by a first step", []seqCase{untilAt10,
			{seqEvent("c1", "carol", "update", "roles", 11), ""},
			{seqEvent("a1", "mallory", "update", "roles", 5), ""},
		}},
		{"not made for want of room", []seqCase{
			{seqEvent("c1", "carol", "update", "roles", 9), ""},
			untilAt10,
			{seqEvent("a1", "mallory", "update", "roles", 5), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 12), ""},
		}},
		// A later step of a key not held, older than what a shed let go of (so not held either), is taken for
		// good: an older first step would pair across it with a later write.
		{"later step not held after a shed", []seqCase{
			{seqEvent("c1", "carol", "create", "deployments", 10), ""},
			{seqEvent("c2", "carol", "create", "deployments", 11), ""},
			{seqEvent("b0", "mallory", "create", "deployments", 10), ""},
			{seqEvent("a1", "mallory", "update", "roles", 5), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 20), ""},
		}},
		// Evicted, then made again by a later step once a shed freed room: what it holds then does not let an
		// older first step in.
		{"made again", []seqCase{untilAt10,
			{seqEvent("c1", "carol", "update", "roles", 11), ""},
			{seqEvent("c2", "carol", "create", "deployments", 12), "c1,c2"},
			{seqEvent("x1", "dave", "create", "deployments", 13), ""},
			{seqEvent("b1", "mallory", "create", "deployments", 14), ""},
			{seqEvent("a1", "mallory", "update", "roles", 5), ""},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := playSequence(t, withUntil(roleThenWorkload(5*time.Minute)), Options{AllowedLateness: 5 * time.Minute, MaxKeys: 1},
				tc.cases)
			checkLate(t, e, 1, "the role change before what was let go of")
		})
	}
}

// A flood of a later step by users without a sequence in progress, when the keys with one fill max_keys, does not
// evict them: the later steps of new keys are left out (counted), and each sequence in progress completes.
func TestSequenceLaterStepsDoNotEvict(t *testing.T) {
	const maxKeys = 100
	e := sequenceEngine(t, roleThenWorkload(time.Hour), Options{AllowedLateness: 5 * time.Minute, MaxKeys: maxKeys})
	for i := range maxKeys {
		matchSeq(t, e, seqEvent(fmt.Sprint("r", i), fmt.Sprint("admin", i), "update", "roles", i))
	}
	for i := range 5000 {
		matchSeq(t, e, seqEventAt(fmt.Sprint("x", i), fmt.Sprint("user", i), "create", "deployments",
			seqBase.Add(100*time.Second+time.Duration(i)*time.Millisecond)))
	}
	for i := range maxKeys {
		want := fmt.Sprintf("r%d,w%d", i, i)
		if got := matchSeq(t, e, seqEvent(fmt.Sprint("w", i), fmt.Sprint("admin", i), "create", "deployments", 200)); got != want {
			t.Fatalf("admin%d: %q, want %s", i, got, want)
		}
	}
	if hs := e.SequenceHolding(); hs[0].Unheld < 5000 || hs[0].Bursts != 1 {
		t.Errorf("holding %+v, want the 5000 writes counted, in one burst", hs[0])
	}
}

// A shed costs a walk of the keys and a sort of the events held, and comes once per max_keys/2 events held at most:
// a flood of distinct keys costs a constant per event.
func TestSequenceShedsRarely(t *testing.T) {
	const maxKeys = 1000
	e := sequenceEngine(t, roleThenWorkload(time.Hour), Options{AllowedLateness: 5 * time.Minute, MaxKeys: maxKeys})
	sq := seqStage(e)
	sheds, last := 0, sq.holdFrom
	const events = 20 * maxKeys
	for i := range events {
		// A few users, so that the keys stay within max_keys and every write is held.
		matchSeq(t, e, seqEventAt(fmt.Sprint("w", i), fmt.Sprint("sa", i%50), "create", "deployments",
			seqBase.Add(time.Duration(i)*time.Millisecond)))
		if !sq.holdFrom.Equal(last) {
			sheds++
			last = sq.holdFrom
		}
	}
	if limit := 2*events/maxKeys + 1; sheds == 0 || sheds > limit {
		t.Errorf("%d sheds for %d events held, want between 1 and %d", sheds, events, limit)
	}
}

// A late arrival runs again only the held events from the last point its key had no partial: a busy service
// account's writes (a later step, never a first) arriving out of order cost no run, and a user's
// role-then-workload pairs only the pair it falls in. A key whose partials are never empty (every event a first
// step) costs at most maxSeqHeld+1 per late event: bounded, not more.
func TestSequenceLateArrivalWork(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verb     func(i int) (verb, resource string)
		perEvent uint64 // events run again per late event, at most
	}{
		{"later steps only", func(int) (string, string) { return "create", "deployments" }, 0},
		{"pairs", func(i int) (string, string) {
			if i%2 == 0 {
				return "update", "roles"
			}
			return "create", "deployments"
		}, 3},
		{"first steps only", func(int) (string, string) { return "update", "roles" }, maxSeqHeld + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := sequenceEngine(t, roleThenWorkload(time.Hour), Options{AllowedLateness: time.Hour})
			sq := seqStage(e)
			at := func(i int) time.Time { return seqBase.Add(time.Duration(i) * time.Second) }
			for i := range maxSeqHeld {
				verb, res := tc.verb(i)
				matchSeq(t, e, seqEventAt(fmt.Sprint("h", i), "sa", verb, res, at(2*i)))
			}
			before := sq.retaken
			// Alternately an event in order and one a second older than the newest held.
			const late = 200
			for i := range late {
				n := maxSeqHeld + i
				verb, res := tc.verb(n)
				matchSeq(t, e, seqEventAt(fmt.Sprint("n", i), "sa", verb, res, at(2*n)))
				matchSeq(t, e, seqEventAt(fmt.Sprint("l", i), "sa", verb, res, at(2*n-1)))
			}
			if per := (sq.retaken - before) / late; per > tc.perEvent {
				t.Errorf("%d events run again per late event, want at most %d", per, tc.perEvent)
			}
			checkLate(t, e, 0, "none")
		})
	}
}

// A held event remembers the last sequence it completed, not all of them: late first steps arriving one after the
// other, each newer than the last, each give the held workload a new sequence, and its memory stays one sequence.
func TestSequenceReportedBounded(t *testing.T) {
	e := sequenceEngine(t, roleThenWorkload(time.Hour), Options{AllowedLateness: time.Hour})
	workload := seqBase.Add(time.Hour)
	matchSeq(t, e, seqEventAt("b1", "mallory", "create", "deployments", workload))
	for i := range 1000 {
		id := fmt.Sprint("a", i)
		if got := matchSeq(t, e, seqEventAt(id, "mallory", "update", "roles", workload.Add(-time.Hour+time.Duration(i)*time.Second))); got != id+",b1" {
			t.Fatalf("late role change %d: %q, want %s,b1", i, got, id)
		}
	}
	k, _ := seqStage(e).keys.Get("mallory")
	b1 := k.held[len(k.held)-1]
	if b1.id != "b1" || len(b1.reported) > 2 {
		t.Fatalf("the workload remembers %d auditIDs of sequences reported, want the last sequence's 2", len(b1.reported))
	}
}

// One busy key (a service account writing every second) holds its last 128 events and lets the older go: counted in
// Unheld, but no burst, whose warning says to raise max_keys, which does not change that bound. A flood past max_keys
// is a burst.
func TestSequenceKeyBoundIsNoBurst(t *testing.T) {
	e := sequenceEngine(t, roleThenWorkload(time.Hour), Options{AllowedLateness: 5 * time.Minute, MaxKeys: 1000})
	for i := range 200 {
		matchSeq(t, e, seqEventAt(fmt.Sprint("w", i), "ci", "create", "deployments", seqBase.Add(time.Duration(i)*time.Second)))
	}
	if hs := e.SequenceHolding(); hs[0].Held != maxSeqHeld || hs[0].Unheld != 200-maxSeqHeld || hs[0].Bursts != 0 {
		t.Fatalf("holding %+v, want %d held, %d taken early, no burst", hs[0], maxSeqHeld, 200-maxSeqHeld)
	}
	for i := range 2000 {
		matchSeq(t, e, seqEventAt(fmt.Sprint("x", i), fmt.Sprint("sa", i), "create", "deployments", seqBase.Add(200*time.Second)))
	}
	if hs := e.SequenceHolding(); hs[0].Bursts != 1 {
		t.Fatalf("holding %+v, want one burst past max_keys", hs[0])
	}
}

// Timestamps an attacker or a broken clock writes (none, far ahead, far back, all equal, and a wall clock going
// back under the watermark's cap) make no panic, keep the count of held events exact and within max_keys, and report
// no sequence twice.
func TestSequenceHostileTimes(t *testing.T) {
	e := sequenceEngine(t, withUntil(roleBindWorkload(time.Minute)), Options{AllowedLateness: time.Minute, MaxKeys: 16})
	sq := seqStage(e)
	wall := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sq.wm.Now = func() time.Time { return wall }
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := [][2]string{{"update", "roles"}, {"create", "rolebindings"}, {"create", "deployments"}, {"delete", "pods"}}
	times := []func() string{
		func() string { return wall.Add(time.Duration(rng.IntN(120)-60) * time.Second).Format(time.RFC3339Nano) },
		func() string { return wall.Format(time.RFC3339Nano) }, // equal times
		func() string { return "9999-12-31T23:59:59.999999999Z" },
		func() string { return "0001-01-01T00:00:00Z" },
		func() string { return "" }, // none: the wall clock
		func() string { return wall.Add(-time.Duration(rng.IntN(3600)) * time.Second).Format(time.RFC3339Nano) },
	}
	reported := map[string]bool{}
	for i := range 20000 {
		if i%1000 == 999 {
			wall = wall.Add(time.Duration(rng.IntN(1200)-600) * time.Second) // backward too
		}
		kind := kinds[rng.IntN(len(kinds))]
		ts := ""
		if when := times[rng.IntN(len(times))](); when != "" {
			ts = fmt.Sprintf(`,"stageTimestamp":%q`, when)
		}
		body := fmt.Sprintf(`{"auditID":"e%d","verb":%q,"user":{"username":"u%d"},"objectRef":{"resource":%q}%s}`,
			i, kind[0], rng.IntN(24), kind[1], ts)
		for _, s := range strings.Fields(matchSeq(t, e, body)) {
			if reported[s] {
				t.Fatalf("event %d: %s reported twice", i, s)
			}
			reported[s] = true
		}
		if n := heldEvents(t, sq); n > 16 {
			t.Fatalf("event %d: %d events held", i, n)
		}
	}
	if len(reported) == 0 {
		t.Fatal("no sequence completed: the stream tests nothing")
	}
}

// The count of held events is exact after a restart and a reload; a restart from state holding more than max_keys
// events (saved with a larger bound, or damaged) sheds to it; of the sequences a saved held event reported, the
// last is kept; times in the future of the saved watermark are brought back to it.
func TestSequenceHeldCountRestored(t *testing.T) {
	compile := func() *Engine {
		return sequenceEngine(t, roleThenWorkload(time.Hour), Options{AllowedLateness: time.Hour, MaxKeys: 10})
	}
	old := compile()
	for i := range 30 {
		matchSeq(t, old, seqEvent(fmt.Sprint("w", i), fmt.Sprint("u", i%3), "create", "deployments", i))
	}
	want := heldEvents(t, seqStage(old))
	restarted, reloaded := carriedOver(t, old, compile)
	if n := heldEvents(t, seqStage(restarted)); n != want {
		t.Errorf("restored %d held events, want %d", n, want)
	}
	if n := heldEvents(t, seqStage(reloaded)); n != want {
		t.Errorf("reload kept %d held events, want %d", n, want)
	}

	// Saved by hand: 5 keys of 8 held events each, one event with three sequences reported, future times.
	e := compile()
	at := func(sec int) time.Time { return seqBase.Add(time.Duration(sec) * time.Second) }
	var keys []savedSeqKey
	for u := range 5 {
		sk := savedSeqKey{Key: fmt.Sprint("u", u)}
		for i := range 8 {
			sk.Held = append(sk.Held, savedHeld{At: at(10*i + u), ID: fmt.Sprintf("w%d-%d", u, i), Steps: []int{1}})
		}
		keys = append(keys, sk)
	}
	keys[4].Held[7].Reported = [][]string{{"x", "w4-7"}, {"y", "w4-7"}, {"z", "w4-7"}}
	restoreSequence(t, e, savedSequence{Watermark: at(100), NextSweep: at(100), Keys: keys,
		HoldFrom: at(5000), KeyFloor: at(5000)})
	sq := seqStage(e)
	if n := heldEvents(t, sq); n > 10 {
		t.Errorf("restored %d held events, more than max_keys (10)", n)
	}
	for b := range seqFloorBuckets {
		if f := sq.floors.floor(b); !f.Equal(at(100)) {
			t.Fatalf("bucket %d's floor %v, want the saved watermark", b, f)
		}
	}
	k, ok := sq.keys.Get("u4")
	if !ok || !slices.Equal(k.held[len(k.held)-1].reported, []string{"z", "w4-7"}) {
		t.Fatalf("u4 restored %v, want its last event with the last sequence it reported", ok)
	}
}

// Goroutines sending a key's events out of order while the state is saved and its holding read: each sequence is
// reported once, and the count of held events stays exact and within max_keys (run under -race, this also checks
// that a save shares nothing a later run changes).
func TestSequenceConcurrent(t *testing.T) {
	e := sequenceEngine(t, roleThenWorkload(time.Hour), Options{AllowedLateness: time.Hour, MaxKeys: 64})
	var mu sync.Mutex
	reported := map[string]int{}
	var wg sync.WaitGroup
	var saves atomic.Int32
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 400 {
				// The last events wait for a save: the saver starts after these goroutines, and a loaded machine may
				// not run it before they are done.
				for i == 399 && saves.Load() == 0 {
					runtime.Gosched()
				}
				// Each user's workload at 2i+1 arrives before its role change at 2i.
				user := fmt.Sprintf("u%d-%d", g, i%40)
				for _, body := range []string{
					seqEvent(fmt.Sprintf("b%d-%d", g, i), user, "create", "deployments", 2*i+1),
					seqEvent(fmt.Sprintf("a%d-%d", g, i), user, "update", "roles", 2*i),
				} {
					ms, err := e.Match([]byte(body))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					for _, s := range strings.Fields(sequencesOf(ms)) {
						reported[s]++
					}
					mu.Unlock()
				}
			}
		}()
	}
	stop := make(chan struct{})
	saved := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				saved <- n
				return
			default:
			}
			var buf bytes.Buffer
			if err := e.SaveState(&buf); err != nil {
				t.Error(err)
			}
			e.SequenceHolding()
			n++
			saves.Add(1)
		}
	}()
	wg.Wait()
	close(stop)
	if <-saved == 0 {
		t.Error("no save ran alongside")
	}
	for s, n := range reported {
		if n != 1 {
			t.Errorf("%s reported %d times", s, n)
		}
	}
	if len(reported) == 0 {
		t.Error("no sequence reported")
	}
	if n := heldEvents(t, seqStage(e)); n > 64 {
		t.Errorf("%d events held", n)
	}
}

// An event delivered again after the memory of delivered events forgot it (replay_keys 1: each delivery pushes the
// one before out) is taken again, in its time order among the held events (after its first delivery): it completes
// no sequence a second time, whichever step it is.
func TestSequenceRedeliveryAfterReplayMemory(t *testing.T) {
	playSequence(t, roleThenWorkload(5*time.Minute), Options{AllowedLateness: 5 * time.Minute, ReplayKeys: 1}, []seqCase{
		{seqEvent("b1", "mallory", "create", "deployments", 63), ""},
		{seqEvent("a1", "mallory", "update", "roles", 60), "a1,b1"},
		{seqEvent("b1", "mallory", "create", "deployments", 63), ""},
		{seqEvent("a1", "mallory", "update", "roles", 60), ""},
		{seqEvent("b1", "mallory", "create", "deployments", 63), ""},
		{seqEvent("b2", "mallory", "create", "deployments", 64), ""},
	})
}

// floodKeys sends, past max_keys (4), the role changes of 20 users at second 101 on (each evicting the least recently
// updated key), then the workload writes of 20 more at second 121 on (left out for want of room): their floors are
// raised. No two of them share a bucket, nor one with spared: the buckets are drawn with a seed per rule, and a
// flood key sharing flood[0]'s bucket would raise its floor past 101 in about one run in a hundred. It returns the
// users.
func floodKeys(t *testing.T, e *Engine, spared string) []string {
	t.Helper()
	floors := seqStage(e).floors
	var users []string
	taken := map[int]bool{floors.bucket(spared): true}
	for i := 0; len(users) < 40; i++ {
		if u := fmt.Sprint("f", i); !taken[floors.bucket(u)] {
			taken[floors.bucket(u)] = true
			users = append(users, u)
		}
	}
	for i, u := range users[:20] {
		matchSeq(t, e, seqEvent(fmt.Sprint("r-", u), u, "update", "roles", 101+i))
	}
	for i, u := range users[20:] {
		matchSeq(t, e, seqEvent(fmt.Sprint("w-", u), u, "create", "deployments", 121+i))
	}
	return users
}

// collider is a user never seen whose key shares a bucket with user's.
func collider(floors *seqFloors, user string) string {
	for i := 0; ; i++ {
		if c := fmt.Sprint("c", i); floors.bucket(c) == floors.bucket(user) {
			return c
		}
	}
}

// Past max_keys, a flood of other keys forgotten (evicted, or a later step left out for want of room) after second
// 100 does not drop a user's first step at second 99, within the lateness: the floor of the keys the rule forgot is
// per bucket of keys, not one for the rule, and the user's sequence is found. A key forgotten after 100, or one
// sharing a bucket with it, still drops an event older than what was let go of for it.
func TestSequenceFloorPerKey(t *testing.T) {
	e := sequenceEngine(t, withUntil(roleThenWorkload(5*time.Minute)), Options{AllowedLateness: 5 * time.Minute, MaxKeys: 4})
	sq := seqStage(e)
	flood := floodKeys(t, e, "xavier")
	if _, held := sq.keys.Get(flood[0]); held || !sq.floors.floor(sq.floors.bucket(flood[0])).Equal(seqBase.Add(101*time.Second)) {
		t.Fatalf("%s held %v, its bucket's floor %v: want it forgotten with its role change", flood[0], held,
			sq.floors.floor(sq.floors.bucket(flood[0])))
	}
	matchSeq(t, e, seqEvent("x1", "xavier", "update", "roles", 99))
	if got := matchSeq(t, e, seqEvent("x2", "xavier", "create", "deployments", 145)); got != "x1,x2" {
		t.Errorf("xavier's sequence: %q, want x1,x2 (not dropped as late for the flood's keys)", got)
	}
	checkLate(t, e, 0, "none")

	// Evicted with its role change at 101: one at 100 would pair with a write it may have come before.
	matchSeq(t, e, seqEvent("a1", flood[0], "update", "roles", 100))
	checkLate(t, e, 1, "the forgotten key's role change before what it let go of")
	// Its write at 121 left out: a role change at 120 could pair across it.
	matchSeq(t, e, seqEvent("a2", flood[20], "update", "roles", 120))
	checkLate(t, e, 2, "the left-out key's role change before its write")
	// A key never seen, sharing each bucket: dropped the same way.
	matchSeq(t, e, seqEvent("c1", collider(sq.floors, flood[0]), "update", "roles", 100))
	matchSeq(t, e, seqEvent("c2", collider(sq.floors, flood[20]), "update", "roles", 120))
	checkLate(t, e, 4, "the role changes of keys sharing those buckets")
	// One not older than its bucket's floor is placed.
	c3 := collider(sq.floors, flood[0])
	matchSeq(t, e, seqEvent("c3", c3, "update", "roles", 101))
	if got := matchSeq(t, e, seqEvent("c4", c3, "create", "deployments", 146)); got != "c3,c4" {
		t.Errorf("a role change at its bucket's floor: %q, want c3,c4", got)
	}
	checkLate(t, e, 4, "none more")
}

// The floors of the keys a rule forgot carry over a restart (per bucket, with the seed that hashes keys to them) and
// a reload. State saved before them restores every bucket at the one floor it kept for the rule; floors hashed with
// another number of buckets, or damaged, raise every bucket; none is restored past the saved watermark.
func TestSequenceFloorsRestored(t *testing.T) {
	compile := func() *Engine {
		return sequenceEngine(t, withUntil(roleThenWorkload(5*time.Minute)),
			Options{AllowedLateness: 5 * time.Minute, MaxKeys: 4})
	}
	old := compile()
	flood := floodKeys(t, old, "xavier")
	want := *seqStage(old).floors
	restarted, reloaded := carriedOver(t, old, compile)
	for name, e := range map[string]*Engine{"restarted": restarted, "reloaded": reloaded} {
		if got := seqStage(e).floors; got.seed != want.seed || got.at != want.at {
			t.Errorf("%s: floors not those saved", name)
		}
		matchSeq(t, e, seqEvent("x1", "xavier", "update", "roles", 99))
		if got := matchSeq(t, e, seqEvent("x2", "xavier", "create", "deployments", 145)); got != "x1,x2" {
			t.Errorf("%s: xavier's sequence %q, want x1,x2", name, got)
		}
		matchSeq(t, e, seqEvent("a1", flood[0], "update", "roles", 100))
		checkLate(t, e, 1, name+": the forgotten key's role change")
	}

	at := func(sec int) time.Time { return seqBase.Add(time.Duration(sec) * time.Second) }
	// floorsOf counts the buckets at each floor, by Unix second.
	floorsOf := func(e *Engine) map[int64]int {
		n := map[int64]int{}
		for b := range seqFloorBuckets {
			n[seqStage(e).floors.floor(b).Unix()]++
		}
		return n
	}
	// Saved before the buckets: every bucket at KeyFloor.
	e := compile()
	restoreSequence(t, e, savedSequence{Watermark: at(200), NextSweep: at(200), KeyFloor: at(150)})
	if got := floorsOf(e); len(got) != 1 || got[at(150).Unix()] != seqFloorBuckets {
		t.Errorf("state of before the buckets: floors %v, want all at KeyFloor", got)
	}
	matchSeq(t, e, seqEvent("x1", "xavier", "update", "roles", 149))
	checkLate(t, e, 1, "a role change before the old floor")
	// Per bucket, the seed taken; a future floor brought back to the watermark, a bucket out of range for all.
	e = compile()
	restoreSequence(t, e, savedSequence{Watermark: at(200), NextSweep: at(200), KeyFloor: at(900),
		FloorBuckets: seqFloorBuckets, FloorSeed: 42,
		Floors: []savedFloor{{Bucket: 3, At: at(150)}, {Bucket: 5, At: at(900)}, {Bucket: seqFloorBuckets, At: at(120)}}})
	sq := seqStage(e)
	if got := floorsOf(e); sq.floors.seed != 42 || !sq.floors.floor(3).Equal(at(150)) ||
		!sq.floors.floor(5).Equal(at(200)) || got[at(120).Unix()] != seqFloorBuckets-2 {
		t.Errorf("per bucket: seed %d, floors %v", sq.floors.seed, got)
	}
	// Another number of buckets: every bucket at the newest, KeyFloor or theirs.
	e = compile()
	restoreSequence(t, e, savedSequence{Watermark: at(200), NextSweep: at(200), KeyFloor: at(140),
		FloorBuckets: 2, FloorSeed: 42, Floors: []savedFloor{{Bucket: 1, At: at(160)}}})
	if got := floorsOf(e); len(got) != 1 || got[at(160).Unix()] != seqFloorBuckets {
		t.Errorf("another number of buckets: floors %v, want all at the newest", got)
	}
}

// The floors are saved only past the watermark less the lateness, as an older event is dropped anyway. A wall
// clock behind the saved watermark (set back, or another host) caps the restored watermark lower, and would take
// events the saving rule dropped: a role change of a key it forgot, before that key's delete, must still be dropped
// rather than pair across the delete.
func TestSequenceFloorsRestoredUnderAnEarlierClock(t *testing.T) {
	compile := func() *Engine {
		return sequenceEngine(t, withUntil(roleThenWorkload(10*time.Minute)),
			Options{AllowedLateness: 5 * time.Minute, MaxKeys: 1})
	}
	old := compile()
	matchSeq(t, old, seqEvent("d1", "mallory", "delete", "pods", 100))
	matchSeq(t, old, seqEvent("b1", "bob", "update", "roles", 500)) // evicts mallory with her delete
	var saved bytes.Buffer
	if err := old.SaveState(&saved); err != nil {
		t.Fatal(err)
	}
	e := compile()
	// The watermark is restored at second 300 (the clock's cap), not 500.
	seqStage(e).wm.Now = func() time.Time { return seqBase }
	if restored, _, err := e.RestoreState(&saved); err != nil || len(restored) != 1 {
		t.Fatalf("restored %v, %v", restored, err)
	}
	matchSeq(t, e, seqEvent("a1", "mallory", "update", "roles", 50))
	if got := matchSeq(t, e, seqEvent("w1", "mallory", "create", "deployments", 150)); got != "" {
		t.Errorf("sequence %q across the delete the rule forgot, want none", got)
	}
	checkLate(t, e, 1, "the role change before the forgotten delete")
}
