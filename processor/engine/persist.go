package engine

import (
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Detection state across restarts. SaveState writes what the stateful rules have built: the groups of windowed stats
// rules and the histories of new_terms stages, with their watermarks. RestoreState gives it to the rules of a later
// engine (in a later process) whose detection is unchanged, by the key a rule reload adopts state by (adopt.go), so
// that a restart loses neither a scan that spans it nor the history that tells a new term from an old one, and a
// configuration change that only rewords a risk message (rule_overrides) keeps them too. The memory of delivered
// events (replay.go) is saved with them: a source that delivers again after a restart what was counted before it (a
// Kafka consumer resuming from its last committed offset) still has each event counted once.
//
// The encoding is gob (values are event bytes, which need not be valid UTF-8), with a version: state written by
// another version is ignored, never misread.

// stateVersion changes with any change to the saved types or to what they mean. 2: min and max keep the text values'
// extremes apart from the numbers' (savedAgg.Text), where 1 kept the extremes of all values as text.
const stateVersion = 2

type savedState struct {
	Version int
	Rules   []savedRule
}

type savedRule struct {
	// Key is the SHA-256 of the rule's definition key (stateKeys: its id, filter, pipeline, risk block and window
	// settings), which state is restored by when it has no Detection, and which a build of before Detection
	// restores this state by.
	Key [sha256.Size]byte
	// Detection is the SHA-256 of the rule's state key (stateKeys: the definition key without the risk block), which
	// state is restored by. It came after version 2 was first written: older state has none.
	Detection [sha256.Size]byte
	ID        string
	Window    *savedWindow
	NewTerms  []savedNewTerms
	// Sequences came after version 2 was first written: state without them decodes as before.
	Sequences []savedSequence
	Replay    []savedReplay // least recently used first
}

type savedReplay struct {
	Identity string
	Rows     []Row
}

type savedWindow struct {
	Watermark, NextSweep time.Time
	Groups               []savedGroup // least recently updated first, so that restoring keeps the eviction order
	// Lost are the windows of groups evicted from a window answered at its close (windowedStats.lost), least
	// recently evicted first. They came after version 2 was first written: older state restores none.
	Lost []savedLost
}

type savedLost struct {
	Key    string
	Starts []time.Time
}

type savedGroup struct {
	Key  string
	By   []string
	Wins []savedWin
}

type savedWin struct {
	Start time.Time
	Count int64
	Aggs  []savedAgg
	Fired bool
	// Origin came after version 2 was first written: older state restores windows without one.
	Origin uint64
}

type savedAgg struct {
	Vals            []string
	Present         int64
	FirstAt, LastAt int64
	MinNum, MaxNum  float64
	Numeric, Text   bool
	Sum             float64 // came after version 2 was first written: older state has no sums to restore
}

type savedNewTerms struct {
	// Post says the stage comes after the window; Stage is its index in that part of the pipeline.
	Post                             bool
	Stage                            int
	Watermark, NextSweep, LearnUntil time.Time
	Seen                             []savedSeen // least recently seen first
}

type savedSequence struct {
	Stage                int
	Watermark, NextSweep time.Time
	Keys                 []savedSeqKey // least recently updated first
	// HoldFrom and KeyFloor are the times the rule let go of events before their lateness passed up to (a shed),
	// and of events of keys it no longer holds: they came after the held events, and are zero in older state.
	// KeyFloor is the newest of the floors, and at least HoldFrom, for a build of before, which keeps one for the
	// rule.
	HoldFrom, KeyFloor time.Time
	// FloorBuckets, FloorSeed and Floors are the floors of the keys the rule no longer holds (seqFloors): how many
	// buckets, the seed that hashes a key to one, and the buckets whose floor is after the watermark less the
	// lateness (an older floor drops nothing the lateness does not). They came after KeyFloor: older state
	// (FloorBuckets 0) restores every bucket at KeyFloor.
	FloorBuckets int
	FloorSeed    uint64
	Floors       []savedFloor
}

type savedFloor struct {
	Bucket int
	At     time.Time
}

type savedSeqKey struct {
	Key string
	// Parts are the key's partials after all its events. A key that holds events (Held, in event-time order) is
	// restored from Base, the partials before them, and its Held run again: Parts is for a build of before, which
	// restores it alone. Base, Held and Floor came after version 2 was first written: older state has none, and its
	// keys are restored with a floor at their newest partial's last event (its events were taken in arrival order).
	Parts []savedPartial
	Base  []savedPartial
	Held  []savedHeld
	Floor time.Time
}

type savedHeld struct {
	At    time.Time
	ID    string
	Steps []int
	Until bool
	// Reported holds the last sequence the event completed that was reported (the only one kept: state saved by
	// the build that wrote every one of them is restored with its last).
	Reported [][]string
}

type savedPartial struct {
	Start, Last time.Time
	IDs         []string
}

type savedSeen struct {
	Key string
	At  time.Time
}

// SaveState writes the detection state of e's stateful rules to w. It may run while events are evaluated: each
// rule's state is copied under that rule's locks, as of one event, so each is consistent in itself (the rule's
// evaluations wait for the copy, not for the encoding).
func (e *Engine) SaveState(w io.Writer) error {
	st := savedState{Version: stateVersion}
	for _, cr := range e.rules {
		if cr.replay == nil {
			continue // stateless
		}
		// An evaluation runs an event through the rule and remembers it as delivered in one step under replay.mu
		// (replayStore.once): holding it here saves the window, the histories and that memory as of one event.
		cr.replay.mu.Lock()
		sr := savedRule{Key: cr.definitionKey, Detection: sha256.Sum256([]byte(cr.stateKey)), ID: cr.rule.ID}
		if cr.window != nil {
			sr.Window = cr.window.save()
		}
		for post, stages := range [][]stageExec{cr.pre, cr.post} {
			for i, s := range stages {
				if nt, ok := s.(*newTermsStage); ok {
					sr.NewTerms = append(sr.NewTerms, nt.save(post == 1, i))
				}
				if sq, ok := s.(*sequenceStage); ok && post == 0 {
					sr.Sequences = append(sr.Sequences, sq.save(i))
				}
			}
		}
		cr.replay.seen.Each(func(id string, rows []Row) bool {
			sr.Replay = append(sr.Replay, savedReplay{Identity: id, Rows: rows})
			return true
		})
		cr.replay.mu.Unlock()
		st.Rules = append(st.Rules, sr)
	}
	return gob.NewEncoder(w).Encode(&st)
}

// ErrStateVersion is saved state written by another version of auditdetect, in a format this one does not read (after
// an upgrade or a rollback): nothing of it is restored.
var ErrStateVersion = errors.New("saved detection state of another format version")

// DetectionKey identifies what the rule with the given id matches and counts (its id, filter, pipeline and window
// settings, not its risk block): state kept outside the engine about a rule's rows (a throttle) is meant for a rule
// with the same key. DefinitionKey is the key such state was kept by before, the risk block included: state saved
// with it alone is meant for a rule with the same definition key.
func (e *Engine) DetectionKey(id string) (key [sha256.Size]byte, ok bool) {
	for _, cr := range e.rules {
		if cr.rule.ID == id {
			return sha256.Sum256([]byte(cr.stateKey)), true
		}
	}
	return key, false
}

// DefinitionKey is the SHA-256 of the definition key of the rule with the given id (DetectionKey).
func (e *Engine) DefinitionKey(id string) (key [sha256.Size]byte, ok bool) {
	for _, cr := range e.rules {
		if cr.rule.ID == id {
			return cr.definitionKey, true
		}
	}
	return key, false
}

// RestoreState reads state written by SaveState and gives each stateful rule of e whose detection is unchanged
// since it was written (stateKeys: a changed risk block keeps it) the state it had then; state written before the
// detection key was saved with it, to each rule whose definition key, risk block included, is unchanged. It must be
// called before e evaluates any event. It returns the ids of the rules it restored and the number of saved rules
// that e does not have unchanged (their state is dropped).
// State of another version restores nothing and is an ErrStateVersion (the caller says so: it is not "every rule
// changed"); state that does not decode is an error too.
func (e *Engine) RestoreState(r io.Reader) (restored []string, dropped int, err error) {
	var st savedState
	if err := gob.NewDecoder(r).Decode(&st); err != nil {
		return nil, 0, fmt.Errorf("reading saved detection state: %w", err)
	}
	if st.Version != stateVersion {
		return nil, len(st.Rules), fmt.Errorf("%w: it is version %d, this build reads version %d", ErrStateVersion,
			st.Version, stateVersion)
	}
	byKey, byDefinition := map[[sha256.Size]byte]*compiledRule{}, map[[sha256.Size]byte]*compiledRule{}
	for _, cr := range e.rules {
		if cr.replay != nil {
			byKey[sha256.Sum256([]byte(cr.stateKey))] = cr
			byDefinition[cr.definitionKey] = cr
		}
	}
	given := map[*compiledRule]bool{}
	for _, sr := range st.Rules {
		cr, ok := byKey[sr.Detection]
		if sr.Detection == ([sha256.Size]byte{}) {
			cr, ok = byDefinition[sr.Key]
		}
		if !ok || given[cr] {
			dropped++
			continue
		}
		given[cr] = true
		if cr.window != nil && sr.Window != nil {
			cr.window.restore(sr.Window)
		}
		for _, snt := range sr.NewTerms {
			stages := cr.pre
			if snt.Post {
				stages = cr.post
			}
			if snt.Stage >= 0 && snt.Stage < len(stages) {
				if nt, ok := stages[snt.Stage].(*newTermsStage); ok {
					nt.restore(snt)
				}
			}
		}
		for _, ssq := range sr.Sequences {
			if ssq.Stage >= 0 && ssq.Stage < len(cr.pre) {
				if sq, ok := cr.pre[ssq.Stage].(*sequenceStage); ok {
					sq.restore(ssq)
				}
			}
		}
		for _, rp := range sr.Replay {
			cr.replay.seen.Put([]byte(rp.Identity), rp.Rows)
		}
		restored = append(restored, cr.rule.ID)
	}
	return restored, dropped, nil
}

// saveAgg is the saved form of one aggregate's state. Its numbers go to the fields of its function (the others are
// zero), as builds that kept them in fields of their own saved them. Vals is a copy: min, max, earliest and latest
// rewrite their values in place, and the encoding runs after the lock.
func saveAgg(fn string, a *aggState) savedAgg {
	sa := savedAgg{Vals: slices.Clone(a.vals), Present: a.present, Numeric: a.numeric, Text: a.text}
	switch fn {
	case "earliest", "latest":
		sa.FirstAt, sa.LastAt = a.firstAt(), a.lastAt()
	case "min", "max":
		sa.MinNum, sa.MaxNum = a.minNum(), a.maxNum()
	case "sum":
		sa.Sum = a.sum()
	}
	return sa
}

// restoreAgg is saveAgg's inverse.
func restoreAgg(fn string, sa savedAgg) aggState {
	a := aggState{vals: sa.Vals, present: sa.Present, numeric: sa.Numeric, text: sa.Text}
	switch fn {
	case "earliest", "latest":
		a.setFirstAt(sa.FirstAt)
		a.setLastAt(sa.LastAt)
	case "min", "max":
		a.setMinNum(sa.MinNum)
		a.setMaxNum(sa.MaxNum)
	case "sum":
		a.setSum(sa.Sum)
	}
	return a
}

func (w *windowedStats) save() *savedWindow {
	w.mu.Lock()
	defer w.mu.Unlock()
	sw := &savedWindow{Watermark: w.wm.Time(), NextSweep: w.nextSweep}
	w.groups.Each(func(key string, g *group) bool {
		sg := savedGroup{Key: key, By: g.by}
		for _, ws := range g.wins {
			win := savedWin{Start: ws.start, Count: ws.count, Fired: ws.fired, Origin: ws.origin}
			for i := range ws.aggs {
				win.Aggs = append(win.Aggs, saveAgg(w.stats.aggs[i].fn, &ws.aggs[i]))
			}
			sg.Wins = append(sg.Wins, win)
		}
		sw.Groups = append(sw.Groups, sg)
		return true
	})
	w.lost.Each(func(key string, starts *[]time.Time) bool {
		sw.Lost = append(sw.Lost, savedLost{Key: key, Starts: slices.Clone(*starts)})
		return true
	})
	return sw
}

func (w *windowedStats) restore(sw *savedWindow) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.wm.Observe(sw.Watermark)
	w.nextSweep = sw.NextSweep
	naggs := len(w.stats.aggs)
	for _, sg := range sw.Groups {
		if !w.restorable(sg) {
			continue // damaged (the state key is unchanged, so the saving rule wrote no such group)
		}
		g := group{by: sg.By}
		for _, win := range sg.Wins {
			ws := &windowState{start: win.Start, count: win.Count, fired: win.Fired, origin: win.Origin,
				aggs: make([]aggState, naggs)}
			for i := 0; i < naggs; i++ {
				ws.aggs[i] = restoreAgg(w.stats.aggs[i].fn, win.Aggs[i])
			}
			g.wins = append(g.wins, ws)
		}
		if old, ok := w.groups.Get(sg.Key); ok {
			*old = g
		} else {
			w.groups.Add(sg.Key, g, nil)
		}
	}
	if !w.atClose {
		return
	}
	for _, sl := range sw.Lost {
		if old, ok := w.lost.Get(sl.Key); ok {
			*old = sl.Starts
		} else {
			w.lost.Add(sl.Key, sl.Starts, nil)
		}
	}
}

// restorable reports whether a saved group has the shape this rule's groups have: one value per by-field under the
// key they make, and for each aggregate the values it keeps (min and max four, earliest and latest two). A group
// that does not would make the row built from it index out of range.
func (w *windowedStats) restorable(sg savedGroup) bool {
	if len(sg.By) != len(w.stats.by) || sg.Key != strings.Join(sg.By, "\x00") {
		return false
	}
	for _, win := range sg.Wins {
		if len(win.Aggs) != len(w.stats.aggs) {
			return false
		}
		for i, a := range w.stats.aggs {
			n := len(win.Aggs[i].Vals)
			switch a.fn {
			case "min", "max":
				if n != 0 && n != 4 {
					return false
				}
			case "earliest", "latest":
				if n != 0 && n != 2 {
					return false
				}
			}
		}
	}
	return true
}

func (s *newTermsStage) save(post bool, stage int) savedNewTerms {
	s.mu.Lock()
	defer s.mu.Unlock()
	snt := savedNewTerms{Post: post, Stage: stage, Watermark: s.wm.Time(), NextSweep: s.nextSweep,
		LearnUntil: s.learnUntil}
	s.seen.Each(func(key string, at *time.Time) bool {
		snt.Seen = append(snt.Seen, savedSeen{Key: key, At: *at})
		return true
	})
	return snt
}

// historyRestored stands for a learning period that is over: a stage with a restored history has nothing to learn.
var historyRestored = time.Unix(0, 1)

func (s *newTermsStage) restore(snt savedNewTerms) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wm.Observe(snt.Watermark)
	s.nextSweep = snt.NextSweep
	s.learnUntil = snt.LearnUntil
	if s.learnUntil.IsZero() && len(snt.Seen) > 0 {
		s.learnUntil = historyRestored
	}
	for _, seen := range snt.Seen {
		if last, ok := s.seen.Get(seen.Key); ok {
			*last = seen.At
		} else {
			s.seen.Add(seen.Key, seen.At, nil)
		}
	}
}

func (s *sequenceStage) save(stage int) savedSequence {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.floors
	ssq := savedSequence{Stage: stage, Watermark: s.wm.Time(), NextSweep: s.nextSweep, HoldFrom: s.holdFrom,
		KeyFloor: laterTime(f.newest(), s.holdFrom), FloorBuckets: int(f.mask + 1), FloorSeed: f.seed}
	settled := s.wm.Time().Add(-s.lateness)
	for b := range int(f.mask + 1) {
		if at := f.floor(b); at.After(settled) {
			ssq.Floors = append(ssq.Floors, savedFloor{Bucket: b, At: at})
		}
	}
	// Copies of the ids: a partial's slice is shared with the one that extends it, and the encoding runs after the
	// lock.
	partials := func(parts []seqPartial) []savedPartial {
		var out []savedPartial
		for _, p := range parts {
			out = append(out, savedPartial{Start: p.start, Last: p.last, IDs: slices.Clone(p.ids)})
		}
		return out
	}
	s.keys.Each(func(key string, k *seqKey) bool {
		sk := savedSeqKey{Key: key, Parts: partials(k.parts), Floor: k.floor}
		if len(k.held) > 0 {
			sk.Base = partials(k.base)
		}
		for _, h := range k.held {
			sh := savedHeld{At: h.at, ID: h.id, Steps: slices.Clone(h.steps), Until: h.until}
			if h.reported != nil {
				sh.Reported = [][]string{h.reported} // not changed after: a run replaces it
			}
			sk.Held = append(sk.Held, sh)
		}
		ssq.Keys = append(ssq.Keys, sk)
		return true
	})
	return ssq
}

func (s *sequenceStage) restore(ssq savedSequence) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wm.Observe(ssq.Watermark)
	s.nextSweep = ssq.NextSweep
	// A damaged or hand-made file must not leave a sweep that never comes, or partials no event can follow.
	if limit := ssq.Watermark.Add(s.span); s.nextSweep.After(limit) {
		s.nextSweep = limit
	}
	// No time past the watermark (damaged): it would hold off events for longer than the lateness.
	s.holdFrom = laterTime(s.holdFrom, earlierTime(ssq.HoldFrom, ssq.Watermark))
	s.restoreFloors(ssq)
	for _, sk := range ssq.Keys {
		k, ok := s.restoreKey(sk, ssq.Watermark)
		if !ok {
			continue
		}
		if old, ok := s.keys.Get(sk.Key); ok {
			s.forget(sk.Key, old)
			*old = k
		} else {
			s.keys.Add(sk.Key, k, s.forget)
		}
		s.held += len(k.held)
	}
	for s.held > s.maxKeys {
		s.shed() // saved with another bound, or damaged
	}
}

// restoreFloors raises the floors of the keys the rule no longer holds to those saved: bucket by bucket when they
// were hashed as the rule hashes keys (a rule that has raised none takes the saved seed), else every bucket to the
// newest of them, which state saved before the buckets keeps as KeyFloor. Before any key is restored: one it evicts
// raises its bucket under the seed kept. After the watermark is restored: a clock behind the saved one caps it.
func (s *sequenceStage) restoreFloors(ssq savedSequence) {
	f := s.floors
	buckets := int(f.mask + 1)
	if ssq.FloorBuckets == buckets && f.none() {
		f.seed = ssq.FloorSeed
	}
	perBucket := ssq.FloorBuckets == buckets && ssq.FloorSeed == f.seed
	var all time.Time
	if !perBucket {
		all = earlierTime(ssq.KeyFloor, ssq.Watermark)
	}
	if s.wm.Time().Before(ssq.Watermark) {
		// A clock behind the saved watermark capped it: the floors not saved (up to the saved watermark less the
		// lateness) would no longer be below what is dropped as late.
		all = laterTime(all, ssq.Watermark.Add(-s.lateness))
	}
	for _, sf := range ssq.Floors {
		at := earlierTime(sf.At, ssq.Watermark)
		if perBucket && sf.Bucket >= 0 && sf.Bucket < buckets {
			f.raise(sf.Bucket, at)
		} else {
			all = laterTime(all, at) // hashed otherwise, or damaged: for every key
		}
	}
	if !all.IsZero() {
		f.raiseAll(all)
	}
}

func laterTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlierTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// restoreKey rebuilds a saved key, or reports it damaged (the state key is unchanged, so the saving rule had as many
// steps, and held what it took in time order).
func (s *sequenceStage) restoreKey(sk savedSeqKey, watermark time.Time) (seqKey, bool) {
	from := sk.Parts
	if len(sk.Held) > 0 {
		from = sk.Base
	}
	if len(from) > len(s.steps)-1 || len(sk.Held) > maxSeqHeld || sk.Floor.After(watermark) {
		return seqKey{}, false
	}
	k := seqKey{floor: sk.Floor}
	parts := make([]seqPartial, len(from))
	for i, p := range from {
		if len(p.IDs) != 0 && len(p.IDs) != i+1 || p.Last.After(watermark) || p.Start.After(p.Last) {
			continue // damaged: a partial that has reached step i holds i+1 events, all by the watermark
		}
		parts[i] = seqPartial{start: p.Start, last: p.Last, ids: p.IDs}
		if len(p.IDs) != 0 && p.Last.After(k.floor) {
			k.floor = p.Last // its events are let go of: none older can be placed among them
		}
	}
	if len(sk.Held) == 0 {
		k.parts = parts
		return k, true
	}
	last := k.floor
	for _, h := range sk.Held {
		sorted := slices.IsSortedFunc(h.Steps, func(a, b int) int { return b - a }) &&
			len(slices.Compact(slices.Clone(h.Steps))) == len(h.Steps)
		if h.At.Before(last) || h.At.After(watermark) || !sorted || len(h.Steps) > 0 &&
			(h.Steps[0] >= len(s.steps) || h.Steps[len(h.Steps)-1] < 0) {
			return seqKey{}, false
		}
		last = h.At
		held := seqHeld{at: h.At, id: h.ID, steps: h.Steps, until: h.Until}
		if len(h.Reported) > 0 {
			held.reported = h.Reported[len(h.Reported)-1]
		}
		k.held = append(k.held, held)
	}
	// The partials after the held events are theirs from base (what a run gives, whatever Parts says).
	k.base = parts
	k.parts = slices.Clone(parts)
	for i := range k.held {
		k.held[i].idle = noPartials(k.parts)
		s.take(&k.parts, k.held[i])
	}
	return k, true
}
