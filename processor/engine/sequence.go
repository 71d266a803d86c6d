package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/window"
)

// sequenceStage is rule.Sequence streamed: EQL's sequence state machine (one partial sequence per key and step
// reached, the latest) over the events in event-time order, as EQL runs it over a search's sorted events.
//
// Partials live in a window.Store bounded to maxKeys, least recently updated evicted first (an evicted key loses the
// partials it held: a sequence in progress is missed, which telemetry counts); a key holds a partial only for the
// steps it has reached. Partials that can no longer complete (their first event more than the span and the allowed
// lateness before the watermark) are freed by a sweep at most once per quarter of the span or of the lateness,
// whichever is shorter, of event time; it also lets go of the held events the lateness has passed.
//
// Events arrive out of order by up to the allowed lateness. Each key holds its events of the last allowed lateness
// of event time (seqKey.held), after the partials they started from (seqKey.base): an event older than the newest
// held is placed among them, and the key's partials are run again over them in time order, reporting the sequences
// that run completes and no run reported before. An event arriving in order (the common case) extends the partials
// at once, without a run. Answers go out as soon as the events that make them have arrived, with the event whose
// arrival completed them: a sequence reported before an earlier event arrived that, in time order, ends it
// (replacing its first step, taking its partial, an until between its steps) is not taken back.
//
// The rule holds at most maxKeys events in all (a key at most maxSeqHeld). Past that it sheds: it lets go of the
// older half at once (holdFrom), as if the lateness were shorter, and counts them (unheld). A key of a later step or
// until is made only into room, never evicting a sequence in progress for an event that may never pair.
//
// An event more than the allowed lateness older than the watermark is dropped and counted (the sweep may have freed
// what it would have extended), and so is one older than what its key has let go of (seqKey.floor), or, for a key
// made since, than what the rule let go of for a key it no longer has (floors, per bucket of keys: keys that share
// a bucket drop more, never less): placed without those events, it could pair across an until or a later first
// step. One dated after the watermark (which the wall clock caps) counts at the watermark, so that a clock far
// ahead cannot make a key's partial one no event can follow.
type sequenceStage struct {
	steps          []seqStep
	until          *seqStep // nil: none
	span, lateness time.Duration
	columns        []string
	auditID        *fieldRef
	cut            *atomic.Uint64

	mu        sync.Mutex
	keys      *window.Store[seqKey]
	maxKeys   int
	wm        window.Watermark
	nextSweep time.Time
	late      uint64

	// held is the number of events the keys hold, at most maxKeys after each event. holdFrom is the newest time a
	// shed let go of: no event up to it is held (while it is after the watermark less the lateness).
	held     int
	holdFrom time.Time
	// floors are, per bucket of keys, the newest time of an event the rule let go of or left out for a key it no
	// longer holds (evicted, freed, or not made for want of room): a key made since places no event older than its
	// bucket's. Per bucket, not one time for the rule: a flood of other keys past max_keys does not make the late
	// first step of every new key be dropped.
	floors *seqFloors
	// unheld counts the events taken without waiting the allowed lateness for older ones (let go of by a shed or by
	// their key's maxSeqHeld, not held after a shed, left out for want of room); bursts counts the runs of those
	// max_keys decides (all but a key's maxSeqHeld), a run ending once the watermark is the lateness past its last
	// one (lastUnheld).
	unheld, bursts uint64
	lastUnheld     time.Time
	degraded       bool
	// retaken counts the held events late arrivals ran again: the work they cost, at most maxSeqHeld+1 each.
	retaken uint64
}

type seqStep struct {
	cond node
	key  statsStage // by-fields only: tuples() is the cartesian product of the fields' distinct values
	// sameKey is the index of a later step (tried earlier) with the same key fields, whose tuples an event reuses
	// (`with runs=N` repeats a step), or -1.
	sameKey int
}

// maxSeqHeld bounds the events a key holds for late arrivals (and so the events a late arrival runs again). A key
// with more step events within the allowed lateness lets its oldest go (folds them into its base), and an event
// older than those is dropped as late.
const maxSeqHeld = 128

// seqKey is the state of one key: its partials, and the events it holds for late arrivals.
type seqKey struct {
	// parts is the partial that has reached each step but the last, as far as the key has got, after every event
	// of the key in time order.
	parts []seqPartial
	// held are the key's events not older than the watermark by the allowed lateness, in event-time order (arrival
	// order among equal times): the events a late arrival may come before. base is the partials before them (nil
	// while none is held: then they are parts).
	held []seqHeld
	base []seqPartial
	// floor is the time of the newest event the key let go of (folded into base, or taken without being held), or
	// its bucket's floor (seqFloors) when it was made: an event older than it cannot be placed.
	floor time.Time
}

// seqHeld is an event a key holds: the steps it matched under that key (the last first) and whether it matched
// until, and the last sequence it completed that was reported (auditIDs), which a later run must not report again.
// The last is enough: a run only ever has more events, and once one of them takes an event's sequence from it (a
// later first step, a step or until between) every later run has that event too, so the sequence never comes back
// (TestSequenceOrderAgainstReference checks it). Keeping them all let a stream of late first steps, each completing
// a new sequence with one held event, grow that event's memory without bound.
type seqHeld struct {
	at       time.Time
	id       string
	steps    []int
	until    bool
	reported []string
	// idle: the key's partials were all empty before it (in the last run), so that a run may start there.
	idle bool
}

// first reports whether the event is a first step under its key: the only kind that starts a partial.
func (h *seqHeld) first() bool { return len(h.steps) > 0 && h.steps[len(h.steps)-1] == 0 }

func noPartials(parts []seqPartial) bool {
	return !slices.ContainsFunc(parts, func(p seqPartial) bool { return !p.empty() })
}

// grow returns the partial that has reached step i, making room for it.
func grow(parts *[]seqPartial, i int) *seqPartial {
	for len(*parts) <= i {
		*parts = append(*parts, seqPartial{})
	}
	return &(*parts)[i]
}

// seqPartial is a sequence in progress: the times of its first and last events, and their auditIDs.
type seqPartial struct {
	start, last time.Time
	ids         []string
}

func (p seqPartial) empty() bool { return len(p.ids) == 0 }

func newSequenceStage(st rule.Sequence, span, lateness time.Duration, maxKeys int, fs *fields, cut *atomic.Uint64) (*sequenceStage, error) {
	s := &sequenceStage{span: span, lateness: max(lateness, 0), columns: st.Columns, cut: cut,
		auditID: newFieldRef(rule.Field{Name: "auditID"}), keys: window.NewStore[seqKey](maxKeys), maxKeys: max(maxKeys, 1),
		floors: newSeqFloors()}
	for i, step := range st.Steps {
		ss, err := s.compileStep(step, fs, cut)
		if err != nil {
			return nil, err
		}
		ss.sameKey = -1
		for j := i + 1; j < len(st.Steps); j++ {
			if slices.Equal(st.Steps[j].By, step.By) {
				ss.sameKey = j
				break
			}
		}
		s.steps = append(s.steps, ss)
	}
	if st.Until.Cond != nil {
		u, err := s.compileStep(st.Until, fs, cut)
		if err != nil {
			return nil, err
		}
		s.until = &u
	}
	return s, nil
}

func (s *sequenceStage) compileStep(step rule.SequenceStep, fs *fields, cut *atomic.Uint64) (seqStep, error) {
	n, err := compileExprIn(step.Cond, nil, fs)
	if err != nil {
		return seqStep{}, err
	}
	ss := seqStep{cond: n}
	ss.key.cut = cut
	for _, f := range step.By {
		if fs != nil {
			ss.key.by = append(ss.key.by, fs.get(f))
		} else {
			ss.key.by = append(ss.key.by, newFieldRef(f))
		}
	}
	return ss, nil
}

// seqHit is one key under which an event matched a step.
type seqHit struct {
	step  int
	tuple []string
}

// seqDone is a sequence an event completed: its events' auditIDs, and its key.
type seqDone struct {
	ids, tuple []string
}

func (s *sequenceStage) run(c *evalCtx, rows []*row) []*row {
	at := c.at
	if at.IsZero() {
		at = time.Now()
	}
	var out []*row
	for _, r := range rows {
		src := source{row: r}
		if r.eventOnly() {
			src = source{view: r.ev} // the event's own fields: read through the evaluation's memo
		}
		// Conditions and keys are read before the lock, from the last step to the first (see rule.Sequence). An
		// event makes at most maxGroupsPerEvent hits, whatever its values and the steps' runs.
		var hits []seqHit
		// Each step's tuples, on the stack up to 8 steps: an event no step matches allocates nothing.
		var small [8][][]string
		tuples := small[:min(len(s.steps), len(small))]
		if len(s.steps) > len(small) {
			tuples = make([][][]string, len(s.steps))
		}
		cut := false
		for i := len(s.steps) - 1; i >= 0 && !cut; i-- {
			if !s.steps[i].cond.eval(c, src) {
				continue
			}
			if j := s.steps[i].sameKey; j >= 0 && tuples[j] != nil {
				tuples[i] = tuples[j]
			} else {
				tuples[i] = s.steps[i].key.tuples(r)
			}
			for _, t := range tuples[i] {
				if len(hits) == maxGroupsPerEvent {
					cut = true
					s.cut.Add(1)
					break
				}
				hits = append(hits, seqHit{step: i, tuple: t})
			}
		}
		var ends [][]string
		if s.until != nil && s.until.cond.eval(c, src) {
			ends = s.until.key.tuples(r)
		}
		if len(hits) == 0 && len(ends) == 0 {
			continue
		}
		id := ""
		r.each(s.auditID, func(v []byte) bool {
			id = string(v)
			return false
		})
		for n, d := range s.advance(hits, ends, at, id) {
			// One row per sequence completed: an event with several key values may complete one under each.
			rr := r
			if n > 0 {
				rr = r.clone()
			}
			rr.set(rule.SequenceIDsField, d.ids, false)
			for j, col := range s.columns {
				if j < len(d.tuple) {
					rr.set(col, []string{d.tuple[j]}, false)
				}
			}
			out = append(out, rr)
		}
	}
	return out
}

// seqByKey is what an event is under one key: the steps it matched (the last first), and whether it matched until.
type seqByKey struct {
	key   string
	tuple []string
	steps []int
	until bool
}

// byKey gathers an event's hits and until keys (ends) by key.
func byKey(hits []seqHit, ends [][]string) []seqByKey {
	var keys []seqByKey
	var index map[string]int // past a few keys (a multi-valued key field), instead of a scan
	find := func(tuple []string) *seqByKey {
		key := strings.Join(tuple, "\x00")
		i, ok := -1, false
		if index != nil {
			i, ok = index[key]
		} else {
			i = slices.IndexFunc(keys, func(k seqByKey) bool { return k.key == key })
			ok = i >= 0
		}
		if !ok {
			i = len(keys)
			keys = append(keys, seqByKey{key: key, tuple: tuple})
			if index != nil {
				index[key] = i
			} else if len(keys) > 8 {
				index = make(map[string]int, len(hits)+len(ends))
				for j, k := range keys {
					index[k.key] = j
				}
			}
		}
		return &keys[i]
	}
	for _, h := range hits {
		if k := find(h.tuple); len(k.steps) == 0 || k.steps[len(k.steps)-1] != h.step {
			k.steps = append(k.steps, h.step)
		}
	}
	for _, t := range ends {
		find(t).until = true
	}
	return keys
}

// advance applies an event's hits, then its until keys (ends), to the partials of their keys, and returns the
// sequences completed.
func (s *sequenceStage) advance(hits []seqHit, ends [][]string, at time.Time, id string) (done []seqDone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wm := s.observe(at)
	if at.After(wm) {
		at = wm
	}
	// settled is the time no event still taken is older than: events up to it have their place for good.
	settled := wm.Add(-s.lateness)
	if at.Before(settled) {
		s.late++
		return nil
	}
	late := false
	for _, g := range byKey(hits, ends) {
		ev := seqHeld{at: at, id: id, steps: g.steps, until: g.until}
		k, ok := s.keys.Get(g.key)
		bucket := -1 // of a key not held
		if !ok {
			bucket = s.floors.bucket(g.key)
		}
		if !ok && !ev.first() {
			// A later step or until makes its key only for a first step that may still arrive before it.
			if at.Before(s.floors.floor(bucket)) {
				continue // such a first step is dropped: the rule let go of events of this key after it
			}
			if s.keys.Len() >= s.maxKeys && 2*s.held >= s.maxKeys {
				s.shed() // frees the keys that held nothing else
			}
			if !at.After(laterTime(settled, s.holdFrom)) {
				// No older first step is held any more (its time is past, or a shed let go of it). One still to
				// come, of a key made then, is taken for good: it must not pair across this event.
				if at.After(settled) {
					s.noteUnheld(1)
					s.floors.raise(bucket, at)
				}
				continue
			}
			if s.keys.Len() >= s.maxKeys {
				// Not made: that would evict a sequence in progress for an event that may never pair. A first
				// step older than it, which it may come after, is dropped.
				s.noteUnheld(1)
				s.floors.raise(bucket, at)
				continue
			}
		}
		if !ok {
			floor := s.floors.floor(bucket)
			if at.Before(floor) {
				late = true // the rule let go of events of this key (or of one sharing its bucket) after it
				continue
			}
			k = s.keys.Add(g.key, seqKey{floor: floor}, s.forget)
		}
		// hold is the time an event must be after to be held: settled, or later after a shed.
		hold := laterTime(settled, s.holdFrom)
		s.fold(k, hold)
		var completed [][]string
		switch {
		case at.Before(k.floor):
			late = true
			continue
		case len(k.held) > 0 && at.Before(k.held[len(k.held)-1].at):
			completed = s.rerun(k, ev)
			s.held++
			s.fold(k, hold) // after a shed, placed but not held
		case at.After(hold):
			// In order, but an earlier event may still arrive: held.
			if len(k.held) == 0 {
				k.base = slices.Clone(k.parts)
			}
			ev.idle = noPartials(k.parts)
			completed = s.take(&k.parts, ev)
			if len(completed) > 0 {
				ev.reported = completed[len(completed)-1]
			}
			k.held = append(k.held, ev)
			s.held++
		default:
			// No earlier event is held any more (or, after a shed, is held): taken for good.
			completed = s.take(&k.parts, ev)
			k.floor = at
			if at.After(settled) {
				s.noteUnheld(1)
			}
		}
		if len(k.held) > maxSeqHeld {
			// Counted, but no burst: max_keys, which the warning of a burst says to raise, does not change this bound.
			s.unheld += uint64(s.letGo(k, len(k.held)-maxSeqHeld))
		}
		for _, ids := range completed {
			done = append(done, seqDone{ids: slices.Clone(ids), tuple: g.tuple})
		}
	}
	if late {
		s.late++
	}
	for s.held > s.maxKeys {
		s.shed()
	}
	return done
}

// take is EQL's state machine: it moves one key's partials by one event, which comes after every event they have
// taken, and returns the sequences (auditIDs) it completes. An event of the first step starts a partial, replacing
// the one there; an event of step i takes the partial that has reached step i-1 and moves it to step i, replacing
// the one there, or completes it at the last step (not when it is more than the span after the partial's first
// event: then the partial is dropped). The event is tried against its steps from the last to the first, so that it
// is never two steps of one sequence; its until then ends every partial it did not start or extend.
func (s *sequenceStage) take(parts *[]seqPartial, ev seqHeld) (done [][]string) {
	last := len(s.steps) - 1
	var touched []int
	for _, step := range ev.steps {
		if step == 0 {
			*grow(parts, 0) = seqPartial{start: ev.at, last: ev.at, ids: []string{ev.id}}
			touched = append(touched, 0)
			continue
		}
		if step > len(*parts) || (*parts)[step-1].empty() {
			continue
		}
		taken := (*parts)[step-1]
		(*parts)[step-1] = seqPartial{}
		if ev.at.Sub(taken.start) > s.span {
			continue // too late for it: EQL drops it the same way
		}
		ids := append(slices.Clip(taken.ids), ev.id)
		if step == last {
			done = append(done, ids)
			continue
		}
		*grow(parts, step) = seqPartial{start: taken.start, last: ev.at, ids: ids}
		touched = append(touched, step)
	}
	if ev.until {
		for i := range *parts {
			if !slices.Contains(touched, i) {
				(*parts)[i] = seqPartial{}
			}
		}
	}
	return done
}

// rerun places an event older than the key's newest held one among them, runs the key's partials again over the
// held events in time order, and returns the sequences that run completes and no run reported before. The run
// starts at the last event before which the partials were empty, no later than the event placed (from base when
// there is none): what comes before it is unchanged. An event that is no first step, placed where the partials are
// empty, changes nothing (a busy service account's later steps arriving out of order cost no run).
func (s *sequenceStage) rerun(k *seqKey, ev seqHeld) (fresh [][]string) {
	i := sort.Search(len(k.held), func(i int) bool { return k.held[i].at.After(ev.at) })
	if k.held[i].idle && !ev.first() {
		ev.idle = true
		k.held = slices.Insert(k.held, i, ev)
		return nil
	}
	from := i
	for from > 0 && !k.held[from].idle {
		from--
	}
	fromBase := !k.held[from].idle
	k.held = slices.Insert(k.held, i, ev)
	parts := k.parts[:0] // k.parts shares its array with nothing: reused
	if fromBase {
		parts = append(parts, k.base...)
	}
	for j := from; j < len(k.held); j++ {
		h := &k.held[j]
		h.idle = noPartials(parts)
		s.retaken++
		for _, ids := range s.take(&parts, *h) {
			if !slices.Equal(h.reported, ids) {
				h.reported = ids
				fresh = append(fresh, ids)
			}
		}
	}
	k.parts = parts
	return fresh
}

// fold lets go of the key's held events no later than upTo: no event still held can come before them. Those let go
// of before their lateness passed (upTo is past it after a shed) are counted.
func (s *sequenceStage) fold(k *seqKey, upTo time.Time) {
	n := 0
	for n < len(k.held) && !k.held[n].at.After(upTo) {
		n++
	}
	if early := s.letGo(k, n); early > 0 {
		s.noteUnheld(early)
	}
}

// letGo moves the key's n oldest held events into its base; an event older than them is no longer taken. It returns
// how many of them it let go of before their lateness passed.
func (s *sequenceStage) letGo(k *seqKey, n int) (early int) {
	if n == 0 {
		return 0
	}
	settled := s.wm.Time().Add(-s.lateness)
	for _, h := range k.held[:n] {
		s.take(&k.base, h)
		k.floor = h.at
		if h.at.After(settled) {
			early++
		}
	}
	s.held -= n
	if n == len(k.held) {
		k.held, k.base = nil, nil // base has taken what parts has
		return early
	}
	k.held = slices.Delete(k.held, 0, n)
	return early
}

// shed lets go of the older half of the events the keys hold (those up to their median time), as if the lateness
// were shorter, and frees the keys left with nothing. The rule holds at most maxKeys events after each event: a
// flood of a common later step (any workload write), or a hostile one, keeps its latest events, the ones a late
// arrival most likely comes before. It halves what is held, and between two sheds (two in a row at most, when a
// later step finds no room for its key) at least maxKeys/4 events are held: its cost, a walk of the keys and a sort
// of the held times, is O(log maxKeys) per event held.
func (s *sequenceStage) shed() {
	times := make([]time.Time, 0, s.held)
	s.keys.Each(func(_ string, k *seqKey) bool {
		for _, h := range k.held {
			times = append(times, h.at)
		}
		return true
	})
	s.held = len(times) // what it is, whatever the count says: a caller loops while it is over the bound
	if len(times) == 0 {
		return
	}
	slices.SortFunc(times, time.Time.Compare)
	// Not a floor for new keys: the keys still held have folded their events up to holdFrom, those freed raise
	// their buckets (forget), and a later step or until of a new key not held for it raises its own (advance).
	s.holdFrom = times[(len(times)-1)/2]
	s.sweep(s.holdFrom)
}

// sweep lets go of the held events up to upTo, and frees the keys that hold none and whose partials can no longer
// complete (their first event more than the span before settled: an event older than settled is dropped, so none
// can extend them), or have none.
func (s *sequenceStage) sweep(upTo time.Time) {
	cutoff := s.wm.Time().Add(-s.lateness - s.span)
	s.keys.Sweep(func(key string, k *seqKey) bool {
		s.fold(k, upTo)
		if len(k.held) > 0 {
			return false
		}
		for _, p := range k.parts {
			if !p.empty() && !p.start.Before(cutoff) {
				return false
			}
		}
		s.forget(key, k)
		return true
	})
}

// forget accounts for a key the rule no longer holds (evicted or freed): its held events, and its newest event,
// which a key made since must not place an older event before (its bucket's floor).
func (s *sequenceStage) forget(key string, k *seqKey) {
	s.held -= len(k.held)
	floor := k.floor
	if len(k.held) > 0 {
		floor = laterTime(floor, k.held[len(k.held)-1].at)
	}
	s.floors.raise(s.floors.bucket(key), floor)
}

// seqFloorBuckets is the number of buckets of a sequence rule's floors (seqFloors): 8 bytes each, 32 KiB a rule.
const seqFloorBuckets = 4096

// noFloor is a bucket no key has raised.
const noFloor = math.MinInt64

// seqFloors are the floors of the keys a sequence rule no longer holds: per bucket of keys, the newest time of an
// event it let go of or left out for one of them. A key made since places no event older than its bucket's floor,
// which is at least its own (keys sharing a bucket only drop more, never less). The memory is fixed, whatever the
// keys forgotten; a flood of many more distinct keys than buckets within the allowed lateness raises them all, as
// the one floor for the rule did before.
type seqFloors struct {
	// seed keys the hash of a key to its bucket: drawn when the rule is made, so that a flood cannot aim at a
	// bucket; saved with the buckets, so that a restart keeps them per bucket.
	seed uint64
	// mask picks the buckets used: seqFloorBuckets-1 (tests make it smaller, so that keys share buckets).
	mask uint64
	// at are Unix nanoseconds (out of their range, later: a floor only drops more); noFloor for none.
	at [seqFloorBuckets]int64
}

func newSeqFloors() *seqFloors {
	f := &seqFloors{seed: rand.Uint64(), mask: seqFloorBuckets - 1}
	for i := range f.at {
		f.at[i] = noFloor
	}
	return f
}

// bucket hashes a key: FNV-1a from the seed, then murmur3's finalizer, so that every byte moves every bit.
func (f *seqFloors) bucket(key string) int {
	h := f.seed ^ 14695981039346656037
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return int(h & f.mask)
}

// minFloorTime and maxFloorTime bound what a bucket holds: Unix nanoseconds span 1677 to 2262.
var (
	minFloorTime = time.Unix(0, noFloor+1)
	maxFloorTime = time.Unix(0, math.MaxInt64-1)
	// pastEvery is after any event time: a floor after 2262 (a clock that far ahead) drops every event.
	pastEvery = time.Unix(1<<62, 0)
)

// floor is the bucket's floor; zero for none.
func (f *seqFloors) floor(b int) time.Time { return floorTime(f.at[b]) }

func floorTime(n int64) time.Time {
	switch n {
	case noFloor:
		return time.Time{}
	case math.MaxInt64:
		return pastEvery
	default:
		return time.Unix(0, n)
	}
}

// raise makes the bucket's floor at least t.
func (f *seqFloors) raise(b int, t time.Time) {
	var n int64
	switch {
	case t.IsZero():
		return
	case t.Before(minFloorTime):
		n = noFloor + 1 // later than t
	case t.After(maxFloorTime):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	f.at[b] = max(f.at[b], n)
}

// raiseAll makes every bucket's floor at least t: a floor whose keys are not known.
func (f *seqFloors) raiseAll(t time.Time) {
	for b := range f.mask + 1 {
		f.raise(int(b), t)
	}
}

// newest is the newest floor of all the buckets; zero for none.
func (f *seqFloors) newest() time.Time {
	return floorTime(slices.Max(f.at[:]))
}

// none reports whether no bucket was raised.
func (f *seqFloors) none() bool {
	return !slices.ContainsFunc(f.at[:], func(n int64) bool { return n != noFloor })
}

// noteUnheld counts n events taken without waiting the allowed lateness, and starts a burst of them if none is on.
func (s *sequenceStage) noteUnheld(n int) {
	s.unheld += uint64(n)
	s.lastUnheld = s.wm.Time()
	if !s.degraded {
		s.degraded = true
		s.bursts++
	}
}

// observe moves the watermark to at and returns it; at most once per span/4 (per lateness/4, if shorter) it lets
// go of the held events no event can come before any more and frees the keys that hold none and whose partials can
// no longer complete. The caller holds s.mu.
func (s *sequenceStage) observe(at time.Time) time.Time {
	wm := s.wm.Observe(at)
	settled := wm.Add(-s.lateness)
	if s.degraded && settled.After(s.lastUnheld) {
		s.degraded = false // a lateness without an event taken early: the burst is over
	}
	if !wm.Before(s.nextSweep) {
		s.sweep(settled)
		every := s.span
		if s.lateness > 0 {
			every = min(every, s.lateness)
		}
		s.nextSweep = wm.Add(max(every/4, time.Second))
	}
	return wm
}

func (s *sequenceStage) stat() (held int, evicted uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys.Len(), s.keys.Evicted()
}

// SequenceHolding is what a sequence rule holds for late arrivals, and what it took without holding.
type SequenceHolding struct {
	Rule *rule.Rule
	// Held is the number of events its keys hold (at most max_keys).
	Held int
	// Unheld counts the events it took without waiting the allowed lateness for older ones: let go of early past
	// max_keys held events (or past maxSeqHeld for one key), or a later step or until of a new key with no room for
	// it. An older event arriving after one of them is dropped as late.
	Unheld uint64
	// Bursts counts the runs of such events past max_keys (not those past maxSeqHeld: max_keys does not change that
	// bound): a run ends when the watermark passes its last one by the lateness.
	Bursts uint64
}

// SequenceHolding reports, for each sequence rule in rule order, the events it holds for late arrivals and those it
// took without holding. Unheld and Bursts start from zero with an Engine, as after a restart.
func (e *Engine) SequenceHolding() []SequenceHolding {
	var out []SequenceHolding
	for _, cr := range e.rules {
		for _, st := range cr.pre {
			if sq, ok := st.(*sequenceStage); ok {
				sq.mu.Lock()
				out = append(out, SequenceHolding{Rule: cr.rule, Held: sq.held, Unheld: sq.unheld, Bursts: sq.bursts})
				sq.mu.Unlock()
			}
		}
	}
	return out
}

// SequenceKeys reports, per sequence rule ID, the keys held (with a sequence in progress) and evicted.
func (e *Engine) SequenceKeys() map[string][2]uint64 { return stageKeys[*sequenceStage](e) }

// SequenceLate reports, per sequence rule ID, the events dropped for being older than the watermark by more than the
// allowed lateness (nil: no sequence rule).
func (e *Engine) SequenceLate() map[string]uint64 {
	var out map[string]uint64
	for _, cr := range e.rules {
		for _, st := range cr.pre {
			if sq, ok := st.(*sequenceStage); ok {
				if out == nil {
					out = map[string]uint64{}
				}
				sq.mu.Lock()
				out[cr.rule.ID] = sq.late
				sq.mu.Unlock()
			}
		}
	}
	return out
}

// firstStage is the first stage of a pipeline, or nil.
func firstStage(stages []rule.Stage) rule.Stage {
	if len(stages) == 0 {
		return nil
	}
	return stages[0]
}

// sequenceSpan is how far apart a sequence's first and last events may be: a rule_overrides window, else the
// sequence's own maxspan, else the rule's window (an Elastic rule's look-back), else the processor's.
func sequenceSpan(r *rule.Rule, st rule.Sequence, opts Options) time.Duration {
	if d, ok := opts.RuleWindows[r.ID]; ok && d > 0 {
		return d
	}
	if st.MaxSpan > 0 {
		return st.MaxSpan
	}
	if r.Window > 0 {
		return r.Window
	}
	return opts.Window
}
