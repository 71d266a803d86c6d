package window

import (
	"slices"
	"sync"
	"time"
)

// Throttle is per-rule suppression (what Splunk ES calls throttling, Elastic alert suppression): the first match of
// a key goes out and opens a window of the configured length from its event time; later matches of the key inside
// that window are held back and only counted. The count is handed back with the key's first match after the window,
// or, when no such match comes, as a Pending once the window has expired (Advance), when the key is evicted, or at
// Flush. No match is lost: every match either goes out or is counted in exactly one later report (unless reports
// given back by Requeue pass their bound while the next consumer refuses them: those are dropped, and counted).
//
// Throttle is safe for concurrent use. T is the caller's record of a held-back match (the latest one is kept, to
// build the report from).
type Throttle[T any] struct {
	window  time.Duration
	maxKeys int

	mu         sync.Mutex
	keys       *Store[throttleEntry[T]]
	wm         Watermark
	nextSweep  time.Time
	suppressed uint64
	pending    []Pending[T] // reports from evictions, handed out by the next Admit or Advance
}

type throttleEntry[T any] struct {
	end    time.Time // end of the window opened by the last match that went out
	held   int64     // matches held back in it
	first  time.Time // event time of the first held-back match
	last   T         // the latest held-back match
	lastAt time.Time
}

// Pending reports matches that were held back and not yet reported with a later match.
type Pending[T any] struct {
	Key string
	// Held is the number of matches held back; Last is the latest of them, at LastAt.
	Held          int64
	First, LastAt time.Time
	Last          T
}

// NewThrottle returns a Throttle with windows of the given length, holding at most maxKeys keys.
func NewThrottle[T any](window time.Duration, maxKeys int) *Throttle[T] {
	return &Throttle[T]{window: window, maxKeys: maxKeys, keys: NewStore[throttleEntry[T]](maxKeys)}
}

// Admit decides one match of key at event time at. It reports whether the match goes out and, if so, how many
// matches of the key were held back since the key's previous match that went out (0 when none). It also returns the
// reports that are due: keys evicted to make room, and keys whose window expired with matches held back.
func (t *Throttle[T]) Admit(key string, at time.Time, match T) (emit bool, held int64, due []Pending[T]) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The key itself first, so that a match after its window carries the count rather than racing the sweep.
	emit, held = t.admit(key, at, match)
	return emit, held, t.advance(at)
}

func (t *Throttle[T]) admit(key string, at time.Time, match T) (emit bool, held int64) {
	e, ok := t.keys.Get(key)
	switch {
	case !ok:
		t.keys.Add(key, throttleEntry[T]{end: at.Add(t.window)}, t.evict)
		return true, 0
	case !at.Before(e.end):
		// The key's window is over: this match goes out and carries the count held back in it.
		held = e.held
		*e = throttleEntry[T]{end: at.Add(t.window)}
		return true, held
	}
	// Inside the window (or older than it: a late match is still a repeat).
	if e.held == 0 {
		e.first = at
	}
	e.held++
	e.last, e.lastAt = match, at
	t.suppressed++
	return false, 0
}

// Advance moves event time to at without a match (the processor calls it once per batch with the batch's latest
// event time, so that a quiet key's count still comes out), and returns the reports that are due. An at that is not
// later (zero: a batch without a match) moves nothing, and returns the reports given back (Requeue).
func (t *Throttle[T]) Advance(at time.Time) []Pending[T] {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.advance(at)
}

// advance observes at and, at most about ten times per window length of event time, sweeps the expired keys: a key
// whose window is over is freed, and reported if it held matches back.
func (t *Throttle[T]) advance(at time.Time) []Pending[T] {
	wm := t.wm.Observe(at)
	due := t.takePending()
	if wm.Before(t.nextSweep) {
		return due
	}
	t.nextSweep = wm.Add(max(t.window/10, time.Second))
	t.keys.Sweep(func(key string, e *throttleEntry[T]) bool {
		if wm.Before(e.end) {
			return false
		}
		if e.held > 0 {
			due = append(due, pendingOf(key, e))
		}
		return true
	})
	return due
}

// Flush reports every key with held-back matches and forgets all keys (at shutdown).
func (t *Throttle[T]) Flush() []Pending[T] {
	t.mu.Lock()
	defer t.mu.Unlock()
	due := t.takePending()
	t.keys.Sweep(func(key string, e *throttleEntry[T]) bool {
		if e.held > 0 {
			due = append(due, pendingOf(key, e))
		}
		return true
	})
	return due
}

// KeyWindow is one key's suppression window: matches of the key before End are held back.
type KeyWindow struct {
	Key string
	End time.Time
}

// Windows returns the window of every key held, least recently updated first: what a restart needs to go on
// suppressing (the matches held back are reported by Flush).
func (t *Throttle[T]) Windows() []KeyWindow {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]KeyWindow, 0, t.keys.Len())
	t.keys.Each(func(key string, e *throttleEntry[T]) bool {
		out = append(out, KeyWindow{Key: key, End: e.end})
		return true
	})
	return out
}

// RestoreWindows opens the given windows, with nothing held back, for the keys the Throttle does not hold.
func (t *Throttle[T]) RestoreWindows(ws []KeyWindow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range ws {
		if _, ok := t.keys.Get(w.Key); !ok {
			t.keys.Add(w.Key, throttleEntry[T]{end: w.End}, t.evict)
		}
	}
}

// Requeue gives back reports that were handed out but not delivered (the batch carrying them was refused): the
// next Admit, Advance or Flush hands them out again. While every batch is refused, reports keep coming due and
// would wait without bound: past maxKeys, those of one key are merged (MergePending), and at most maxKeys wait, the
// newest. It
// returns how many reports it dropped.
func (t *Throttle[T]) Requeue(due []Pending[T]) (dropped int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending, dropped = MergePending(append(t.pending, due...), t.maxKeys, func(p Pending[T]) string { return p.Key })
	return dropped
}

// MergePending, when there are more than limit reports, merges the reports of one key (keyOf) into one, where the last
// of them was: their counts added, the earliest First, the latest match kept (one report stands for all their
// matches, as suppressed_count says). It then keeps at most limit reports, those with the latest matches (whatever
// the order they were given back in: a refused batch's reports are older than those that came due after it), and
// returns how many it dropped.
func MergePending[T any](ps []Pending[T], limit int, keyOf func(Pending[T]) string) ([]Pending[T], int) {
	limit = max(limit, 1)
	if len(ps) <= limit {
		// Within the bound, each throttle window keeps its own report (its own risk record, as a consumer that had
		// not refused would have got): merging is what keeps a long outage bounded, not what a short one needs.
		return ps, 0
	}
	at := make(map[string]int, len(ps))
	out := make([]Pending[T], 0, len(ps))
	for i := len(ps) - 1; i >= 0; i-- { // from the newest, so that a merged report is where its key's last one was
		p := ps[i]
		k := keyOf(p)
		j, ok := at[k]
		if !ok {
			at[k] = len(out)
			out = append(out, p)
			continue
		}
		m := &out[j]
		m.Held += p.Held
		if p.First.Before(m.First) {
			m.First = p.First
		}
		if p.LastAt.After(m.LastAt) {
			m.Last, m.LastAt = p.Last, p.LastAt
		}
	}
	slices.Reverse(out)
	dropped := 0
	if n := len(out) - limit; n > 0 {
		slices.SortStableFunc(out, func(a, b Pending[T]) int { return a.LastAt.Compare(b.LastAt) })
		out, dropped = slices.Clone(out[n:]), n
	}
	return out, dropped
}

// Stats returns the keys held, the keys evicted and the matches held back since the Throttle was made.
func (t *Throttle[T]) Stats() (keys int, evicted, suppressed uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keys.Len(), t.keys.Evicted(), t.suppressed
}

func (t *Throttle[T]) evict(key string, e *throttleEntry[T]) {
	if e.held > 0 {
		t.pending = append(t.pending, pendingOf(key, e))
	}
}

func (t *Throttle[T]) takePending() []Pending[T] {
	p := t.pending
	t.pending = nil
	return p
}

func pendingOf[T any](key string, e *throttleEntry[T]) Pending[T] {
	return Pending[T]{Key: key, Held: e.held, First: e.first, LastAt: e.lastAt, Last: e.last}
}
