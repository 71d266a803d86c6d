package engine

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Rule reloads. A reload compiles a new Engine from the changed rule files; the detection state of the rules whose
// detection did not change (open stats windows, new_terms histories, sequence partials, the memory of delivered
// events) moves to it, so that editing one rule or one allow-list macro restarts only the rules it changes, and
// editing what a rule says about its results (risk message, scores, risk and threat objects) restarts none.

// stateKeys returns the key of what a rule's detection state depends on, and the SHA-256 of its definition key.
//
// The state key is the rule's id, every part of its definition that decides what the state counts and remembers
// (filter, pipeline) and the state's settings (window, lateness, max_keys, replay_keys). The risk block is left out:
// it decides how a result row is written, not which rows there are. The memory of delivered events moves with the
// state it guards (a redelivered event counted again would inflate a window, or start a sequence twice), although
// the rows it keeps for a rule without stats show the event fields the risk block named (expose, engine.go): a
// redelivery after a reload that names other fields gets the row of its first delivery, as that delivery's risk
// events had it. The rule model is plain values (no pointers, no maps), so %#v spells one definition the same way
// each time it is compiled.
//
// The definition key is the key state was kept by before the risk block left it: id, filter, pipeline, risk block
// and settings. Saved state carries it (persist.go), so that state saved before is restored, and a build of before
// restores state saved now: its spelling must not change.
func stateKeys(r *rule.Rule, size, lateness time.Duration, maxKeys, replayKeys int) (key string, definition [sha256.Size]byte) {
	detection := fmt.Sprintf("%s\x00%#v\x00%#v", r.ID, r.Filter, r.Pipeline)
	settings := fmt.Sprintf("%s\x00%s\x00%d\x00%d", size, lateness, maxKeys, replayKeys)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%#v\x00%s", detection, r.Risk, settings)
	return detection + "\x00" + settings, [sha256.Size]byte(h.Sum(nil))
}

// AdoptState moves to e the detection state that old's rules built, for every rule of e whose state key (stateKeys)
// old has unchanged: windowed stats groups and watermarks, new_terms histories (and learning period), sequence
// partials, and the memory of delivered events. It returns the ids of those rules, stateful or not: they match the
// events old's rule matched, so the caller's own per-rule state (throttles) may keep counting their rows, as long as
// what that state reads of a row is unchanged too (a throttle's fields default to the risk objects' fields). old
// must evaluate no event afterwards: its rules share the state they gave away. Counters that telemetry reports as
// totals (events dropped as late, groups cut) start from zero with e, as they do after a restart; evicted keys move
// with their store.
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
			sq.held, sq.holdFrom, sq.floors = o.held, o.holdFrom, o.floors
			// A burst of events taken early goes on: it is not logged again.
			sq.lastUnheld, sq.degraded = o.lastUnheld, o.degraded
			o.mu.Unlock()
		}
	}
}
