package engine

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/window"
)

// NewTermsField is the row field a new_terms stage sets on the rows it keeps: the values that were new.
const NewTermsField = rule.NewTermsField

// newTermsStage is Elastic's new_terms rule type streamed: a row passes when some combination of the values of the
// fields was not seen within the history window before the event's time. Every combination an event carries is
// remembered (last seen at the event's time), whether or not the row passes, as Elastic's history query counts every
// matching document.
//
// Combinations live in a window.Store bounded to maxKeys, least recently seen evicted first; one evicted while still
// inside its history is reported as new again when it comes back, which errs towards an alert rather than a miss.
// Combinations whose history has run out are freed by a sweep at most once per history/4 of event time.
//
// With a learning period, the combinations of the events before learnUntil (the first event's time plus the
// period) are remembered and none is reported: the stage's history starts empty, and the traffic of the first
// minutes is not new, only new to the stage.
type newTermsStage struct {
	tuples   statsStage // by-fields only: tuples() is the cartesian product of the fields' distinct values
	history  time.Duration
	learning time.Duration

	mu         sync.Mutex
	seen       *window.Store[time.Time]
	wm         window.Watermark
	nextSweep  time.Time
	learnUntil time.Time // set by the first event, when learning > 0
}

func newNewTermsStage(st rule.NewTerms, maxKeys int, learning time.Duration, fs *fields, cut *atomic.Uint64) *newTermsStage {
	s := &newTermsStage{history: st.History, learning: learning, seen: window.NewStore[time.Time](maxKeys)}
	s.tuples.cut = cut
	for _, f := range st.Fields {
		// The fields are rule.Fields (Elastic reads arrays transparently), so they are compiled here rather than
		// shared by name through refs, which compiles Splunk spellings; they are the engine's filter fields (fs), so
		// that a value a filter has read is not read again.
		if fs != nil {
			s.tuples.by = append(s.tuples.by, fs.get(f))
		} else {
			s.tuples.by = append(s.tuples.by, newFieldRef(f))
		}
	}
	return s
}

func (s *newTermsStage) run(c *evalCtx, rows []*row) []*row {
	at := c.at
	if at.IsZero() {
		at = time.Now()
	}
	learning := s.learningAt(at)
	out := rows[:0]
	for _, r := range rows {
		if key, ok := s.singleKey(c, r); ok {
			// The common case, one value per field: the combination is looked up without allocating.
			if !s.observeKey(key, at) {
				continue
			}
		}
		if tuple := s.observe(s.tuples.tuples(r), at); tuple != nil && !learning {
			r.set(NewTermsField, tuple, false)
			out = append(out, r)
		}
	}
	return out
}

// learningAt reports whether an event at `at` falls in the learning period, which the first event starts. The
// period is event time, like every decision of the stage: a backlog read after a restart is learnt for its first
// period as the live traffic was; a first event older than the period among live traffic (a source that lags)
// ends it early. Re-anchoring on a later event would guess wrong the other way, on sparse traffic, where the second
// event may come after the period and must be reported.
func (s *newTermsStage) learningAt(at time.Time) bool {
	if s.learning <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.learnUntil.IsZero() {
		s.learnUntil = at.Add(s.learning)
	}
	return at.Before(s.learnUntil)
}

// singleKey builds in c.key the store key of a row whose fields hold one value each (ok false otherwise).
func (s *newTermsStage) singleKey(c *evalCtx, r *row) ([]byte, bool) {
	c.key = c.key[:0]
	for i, f := range s.tuples.by {
		n := 0
		c.rowEach(r, f, func(v []byte) bool {
			if n++; n == 1 {
				if i > 0 {
					c.key = append(c.key, 0)
				}
				c.key = append(c.key, v...)
			}
			return n == 1
		})
		if n != 1 {
			return nil, false
		}
	}
	return c.key, true
}

// rowEach is r.each, reading the values of an engine field through the evaluation's memo while the row is still the
// event's own, untouched by earlier stages (no field set or hidden): the values are then the event's.
func (c *evalCtx) rowEach(r *row, f *fieldRef, fn func([]byte) bool) bool {
	if r.eventOnly() {
		return c.each(source{view: r.ev}, f, fn)
	}
	return r.each(f, fn)
}

// observeKey reports whether the single combination key would be new now; when it would not, it records it as seen
// at `at`, as observe does. A new one is left to observe, which records it and says so.
func (s *newTermsStage) observeKey(key []byte, at time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if at.After(s.wm.Time()) {
		// An event no later than the watermark moves nothing: it is not read against the wall clock, and the sweep
		// that advance last ran or scheduled is not due (nextSweep is past the watermark).
		s.advance(at)
	}
	last, ok := s.seen.Get(b2s(key)) // Get keeps no reference to the key
	if !ok || at.Sub(*last) > s.history {
		return true
	}
	if at.After(*last) {
		*last = at
	}
	return false
}

// observe records the tuples as seen at `at` and returns the first one that was new, or nil.
func (s *newTermsStage) observe(tuples [][]string, at time.Time) []string {
	if len(tuples) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(at)
	var fresh []string
	for _, t := range tuples {
		key := strings.Join(t, "\x00")
		last, ok := s.seen.Get(key)
		if !ok {
			s.seen.Add(key, at, nil)
		} else {
			// Seen before: new only if that was longer ago than the history (a late event changes nothing).
			if at.Sub(*last) <= s.history {
				if at.After(*last) {
					*last = at
				}
				continue
			}
			*last = at
		}
		if fresh == nil {
			fresh = t
		}
	}
	return fresh
}

// advance moves the watermark to at and, at most once per history/4, frees the combinations whose history ran out.
// The caller holds s.mu.
func (s *newTermsStage) advance(at time.Time) {
	if wm := s.wm.Observe(at); !wm.Before(s.nextSweep) {
		cutoff := wm.Add(-s.history)
		s.seen.Sweep(func(_ string, last *time.Time) bool { return last.Before(cutoff) })
		s.nextSweep = wm.Add(max(s.history/4, time.Second))
	}
}

func (s *newTermsStage) stat() (held int, evicted uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen.Len(), s.seen.Evicted()
}

// readsTime reports whether a stage of the pipeline needs the event's time.
func readsTime(stages []rule.Stage) bool {
	for _, st := range stages {
		switch st.(type) {
		case rule.NewTerms, rule.Sequence:
			return true
		}
	}
	return false
}

// readsEventTime reports whether a stage computes a value from the event's time (rule.Call event_time).
func readsEventTime(stages []rule.Stage) bool {
	for _, st := range stages {
		if e, ok := st.(rule.Eval); ok && callsEventTime(e.Value) {
			return true
		}
	}
	return false
}

func callsEventTime(v rule.Value) bool {
	switch v := v.(type) {
	case rule.Call:
		if v.Func == "event_time" {
			return true
		}
		for _, a := range v.Args {
			if callsEventTime(a) {
				return true
			}
		}
	case rule.Case:
		for _, w := range v.Whens {
			if callsEventTime(w.Then) {
				return true
			}
		}
		return v.Else != nil && callsEventTime(v.Else)
	case rule.Extract:
		return callsEventTime(v.From) || v.Else != nil && callsEventTime(v.Else)
	}
	return false
}

// NewTermsKeys reports, per new_terms rule ID, the value combinations held and evicted.
func (e *Engine) NewTermsKeys() map[string][2]uint64 { return stageKeys[*newTermsStage](e) }

// stageKeys reports, per rule ID, the keys held and evicted by the rule's stage of type S (new_terms, sequence): nil
// when no rule has one (the processor asks once a batch).
func stageKeys[S interface{ stat() (int, uint64) }](e *Engine) map[string][2]uint64 {
	var out map[string][2]uint64
	for _, cr := range e.rules {
		for _, st := range cr.pre {
			if s, ok := st.(S); ok {
				held, ev := s.stat()
				if out == nil {
					out = map[string][2]uint64{}
				}
				out[cr.rule.ID] = [2]uint64{uint64(held), ev}
			}
		}
	}
	return out
}

// copyStage is rule.Copy.
type copyStage struct {
	from *fieldRef
	to   string
	ends bool
}

func (s copyStage) run(_ *evalCtx, rows []*row) []*row {
	for _, r := range rows {
		vals := r.values(s.from)
		switch {
		case len(vals) == 0:
			continue
		case s.ends && len(vals) > 1 && vals[0] != vals[len(vals)-1]:
			vals = []string{vals[0], vals[len(vals)-1]}
		case s.ends:
			vals = vals[:1]
		}
		r.set(s.to, slices.Clone(vals), false) // its own slice: a later stage may change either field
	}
	return rows
}
