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

// sequenceStage is rule.Sequence streamed: EQL's sequence state machine (one partial sequence per key and step
// reached, the latest) over event time.
//
// Partials live in a window.Store bounded to maxKeys, least recently updated evicted first (an evicted key loses the
// partials it held: a sequence in progress is missed, which telemetry counts); a key holds a partial only for the
// steps it has reached. Partials that can no longer complete (their first event more than the span and the allowed
// lateness before the watermark) are freed by a sweep at most once per span/4 of event time.
//
// Events are taken in arrival order, stamped with their own time: an event extends a partial whose last event is no
// later than it. An event more than the allowed lateness older than the watermark is dropped and counted (the sweep
// may have freed what it would have extended), and one dated after the watermark (which the wall clock caps) counts
// at the watermark, so that a clock far ahead cannot make a key's partial one no event can follow. A late event
// older than the partial it would extend is not matched with it (EQL, which sorts first, would pair it with an
// earlier partial, which a stream no longer holds).
type sequenceStage struct {
	steps          []seqStep
	until          *seqStep // nil: none
	span, lateness time.Duration
	columns        []string
	auditID        *fieldRef
	cut            *atomic.Uint64

	mu        sync.Mutex
	keys      *window.Store[seqKey]
	wm        window.Watermark
	nextSweep time.Time
	late      uint64
}

type seqStep struct {
	cond node
	key  statsStage // by-fields only: tuples() is the cartesian product of the fields' distinct values
	// sameKey is the index of a later step (tried earlier) with the same key fields, whose tuples an event reuses
	// (`with runs=N` repeats a step), or -1.
	sameKey int
}

// seqKey holds, for one key, the partial that has reached each step but the last, as far as the key has got.
type seqKey struct {
	parts []seqPartial
}

// part returns the partial that has reached step i, making room for it.
func (k *seqKey) part(i int) *seqPartial {
	for len(k.parts) <= i {
		k.parts = append(k.parts, seqPartial{})
	}
	return &k.parts[i]
}

// seqPartial is a sequence in progress: the times of its first and last events, and their auditIDs.
type seqPartial struct {
	start, last time.Time
	ids         []string
}

func (p seqPartial) empty() bool { return len(p.ids) == 0 }

func newSequenceStage(st rule.Sequence, span, lateness time.Duration, maxKeys int, fs *fields, cut *atomic.Uint64) (*sequenceStage, error) {
	s := &sequenceStage{span: span, lateness: max(lateness, 0), columns: st.Columns, cut: cut,
		auditID: newFieldRef(rule.Field{Name: "auditID"}), keys: window.NewStore[seqKey](maxKeys)}
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
		tuples := make([][][]string, len(s.steps))
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

// advance applies an event's hits to the partials, then its until keys (ends), and returns the sequences it
// completes.
func (s *sequenceStage) advance(hits []seqHit, ends [][]string, at time.Time, id string) (done []seqDone) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wm := s.observe(at)
	if at.After(wm) {
		at = wm
	}
	if at.Before(wm.Add(-s.lateness)) {
		s.late++
		return nil
	}
	last := len(s.steps) - 1
	type slot struct {
		key  string
		step int
	}
	var touched []slot // what this event started or extended, which its until leaves alone
	for _, h := range hits {
		key := strings.Join(h.tuple, "\x00")
		if h.step == 0 {
			k, ok := s.keys.Get(key)
			if !ok {
				k = s.keys.Add(key, seqKey{}, nil)
			}
			if p := k.part(0); p.empty() || !at.Before(p.last) {
				*p = seqPartial{start: at, last: at, ids: []string{id}}
				touched = append(touched, slot{key, 0})
			}
			continue
		}
		k, ok := s.keys.Get(key)
		if !ok || h.step-1 >= len(k.parts) {
			continue
		}
		p := &k.parts[h.step-1]
		if p.empty() || at.Before(p.last) {
			continue
		}
		taken := *p
		*p = seqPartial{}
		if at.Sub(taken.start) > s.span {
			continue // too late for it: EQL drops it the same way
		}
		ext := seqPartial{start: taken.start, last: at, ids: append(slices.Clip(taken.ids), id)}
		if h.step == last {
			done = append(done, seqDone{ids: ext.ids, tuple: h.tuple})
			continue
		}
		if q := k.part(h.step); q.empty() || !at.Before(q.last) {
			*q = ext
			touched = append(touched, slot{key, h.step})
		}
	}
	for _, t := range ends {
		key := strings.Join(t, "\x00")
		k, ok := s.keys.Get(key)
		if !ok {
			continue
		}
		for i := range k.parts {
			// What this event started or extended comes after it in EQL's order (until is strictly between).
			if p := &k.parts[i]; !p.empty() && !slices.Contains(touched, slot{key, i}) && !p.last.After(at) {
				*p = seqPartial{}
			}
		}
	}
	return done
}

// observe moves the watermark to at and returns it; at most once per span/4 it frees the keys whose partials can no
// longer complete (an event older than the watermark by the lateness is dropped, so none can extend them). The
// caller holds s.mu.
func (s *sequenceStage) observe(at time.Time) time.Time {
	wm := s.wm.Observe(at)
	if !wm.Before(s.nextSweep) {
		cutoff := wm.Add(-s.span - s.lateness)
		s.keys.Sweep(func(_ string, k *seqKey) bool {
			for _, p := range k.parts {
				if !p.empty() && !p.start.Before(cutoff) {
					return false
				}
			}
			return true
		})
		s.nextSweep = wm.Add(max(s.span/4, time.Second))
	}
	return wm
}

func (s *sequenceStage) stat() (held int, evicted uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys.Len(), s.keys.Evicted()
}

// SequenceKeys reports, per sequence rule ID, the keys held (with a sequence in progress) and evicted.
func (e *Engine) SequenceKeys() map[string][2]uint64 { return stageKeys[*sequenceStage](e) }

// SequenceLate reports, per sequence rule ID, the events dropped for being older than the watermark by more than the
// allowed lateness.
func (e *Engine) SequenceLate() map[string]uint64 {
	out := map[string]uint64{}
	for _, cr := range e.rules {
		for _, st := range cr.pre {
			if sq, ok := st.(*sequenceStage); ok {
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
