package engine

import (
	"fmt"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Rule reloads. A reload compiles a new Engine from the changed rule files; the detection state of the rules that did
// not change (open stats windows, new_terms histories, the memory of delivered events) moves to it, so that editing
// one rule or one allow-list macro restarts only the rules it changes.

// stateKey is what a rule's detection state depends on: the rule's id, every part of its definition that decides
// what the state counts and remembers (filter, pipeline, risk block: the rows a redelivery gets back) and the window
// settings. The rule model is plain values (no pointers, no maps), so %#v spells one definition the same way each
// time it is compiled.
func stateKey(r *rule.Rule, size, lateness time.Duration, maxKeys, replayKeys int) string {
	return fmt.Sprintf("%s\x00%#v\x00%#v\x00%#v\x00%s\x00%s\x00%d\x00%d",
		r.ID, r.Filter, r.Pipeline, r.Risk, size, lateness, maxKeys, replayKeys)
}

// AdoptState moves to e the detection state that old's rules built, for every rule of e whose id and definition
// old has unchanged: windowed stats groups and watermarks, new_terms histories (and learning period), and the memory
// of delivered events. It returns the ids of the unchanged rules, stateful or not (the caller keeps its own per-rule
// state for them: throttles). old must evaluate no event afterwards: its rules share the state they gave away.
// Counters that telemetry reports as totals (events dropped as late, groups cut) start from zero with e, as they do
// after a restart; evicted keys move with their store.
func (e *Engine) AdoptState(old *Engine) []string {
	if old == nil {
		return nil
	}
	byKey := map[string]*compiledRule{}
	for _, cr := range old.rules {
		byKey[cr.stateKey] = cr
	}
	var unchanged []string
	for _, cr := range e.rules {
		o, ok := byKey[cr.stateKey]
		if !ok {
			continue
		}
		delete(byKey, cr.stateKey)
		unchanged = append(unchanged, cr.rule.ID)
		if cr.replay == nil {
			continue // stateless
		}
		if cr.window != nil && o.window != nil {
			cr.window.adopt(o.window)
		}
		adoptNewTerms(cr.pre, o.pre)
		adoptNewTerms(cr.post, o.post)
		adoptSequences(cr.pre, o.pre)
		cr.replay = o.replay
	}
	return unchanged
}

func (w *windowedStats) adopt(o *windowedStats) {
	o.mu.Lock()
	defer o.mu.Unlock()
	w.groups, w.wm, w.nextSweep, w.lost = o.groups, o.wm, o.nextSweep, o.lost
	if w.atClose == o.atClose {
		w.closing, o.closing = o.closing, nil // answers not yet taken
	}
}

// adoptNewTerms moves the histories of the new_terms stages of from (the same pipeline, compiled before) to stages.
func adoptNewTerms(stages, from []stageExec) {
	for i, st := range stages {
		nt, ok := st.(*newTermsStage)
		if !ok || i >= len(from) {
			continue
		}
		if o, ok := from[i].(*newTermsStage); ok {
			o.mu.Lock()
			nt.seen, nt.wm, nt.nextSweep, nt.learnUntil = o.seen, o.wm, o.nextSweep, o.learnUntil
			o.mu.Unlock()
		}
	}
}

// adoptSequences moves the partial sequences of the sequence stages of from (the same pipeline, compiled before) to
// stages.
func adoptSequences(stages, from []stageExec) {
	for i, st := range stages {
		sq, ok := st.(*sequenceStage)
		if !ok || i >= len(from) {
			continue
		}
		if o, ok := from[i].(*sequenceStage); ok {
			o.mu.Lock()
			sq.keys, sq.wm, sq.nextSweep = o.keys, o.wm, o.nextSweep
			o.mu.Unlock()
		}
	}
}
