package engine

import (
	"sync/atomic"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/window"
)

// Windows answered when they close. A windowed rule whose condition can stop holding as the window fills
// (`where count < 50`, `dc(decision) == 2`, a condition on min or max) cannot answer when it first holds, as the
// others do: it answers once per group and window, with the final counts, when the window closes, as a scheduled
// search does at the end of its interval. No event carries that answer, so it is not a Match of an Evaluate: the
// caller takes the answers with TakeClosed (the processor, after each batch) and writes them on their own.
//
// A window closes when its rule's watermark passes its end by the allowed lateness. The watermark follows the rule's
// own events and, through TakeClosed, the newest event time the engine has read for any stateful rule, so that a
// rule whose events are rare still answers soon after its window ends while other traffic flows: the traffic of
// stateful rules, and any event an Evaluator is told to read the time of (MoveClock). The caller may move the clock
// itself (AdvanceClock): the processor does when no event has come for a while, as the wall clock moves. The processor
// moves its throttles with the same clock (Options.KeepClock keeps it when no rule answers at its window's close).

// Closed is a windowed rule's answer for one group whose window closed: its final row, at the window's end.
type Closed struct {
	Rule *rule.Rule
	Row  Row
	Time time.Time
	// Origin is the origin of the last event the group counted in the window (Evaluator.SetOrigin), 0 for none.
	Origin uint64
}

// newestTime records at as an event time the engine has read, keeping the newest.
func newestTime(newest *atomic.Int64, at time.Time) {
	n := at.UnixNano()
	for {
		old := newest.Load()
		if n <= old || newest.CompareAndSwap(old, n) {
			return
		}
	}
}

// Clock is the clock of windows answered at their close: the newest event time read (or given to AdvanceClock),
// capped as of the last TakeClosed; zero before the first, and when no rule answers at its window's close and
// Options.KeepClock is not set.
func (e *Engine) Clock() time.Time {
	if n := e.newest.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// AdvanceClock moves the clock of windows answered at their close to at, if at is later; the next TakeClosed closes
// the windows it passed. It does nothing when no rule answers at its window's close and Options.KeepClock is not set.
func (e *Engine) AdvanceClock(at time.Time) {
	if e.clocked {
		newestTime(&e.newest, at)
	}
}

// TakeClosed closes the windows that the newest event time read so far has passed, and returns the answers of every
// window that closed since the last call, in rule order. It is safe to call while events are evaluated. A caller that
// evaluates events takes them regularly (the processor after every batch): until then they are kept, as many as the
// groups whose windows closed.
func (e *Engine) TakeClosed() []Closed {
	var at time.Time
	if n := e.newest.Load(); n != 0 {
		at = time.Unix(0, n)
		// An event stamped in the future moves the newest time no further than a watermark would go (the wall clock
		// plus MaxFutureSkew, as of now), and no further later: written back, it cannot push every window's
		// watermark ahead of the wall clock at each later call.
		if limit := time.Now().Add(window.MaxFutureSkew); at.After(limit) {
			at = limit
			e.newest.CompareAndSwap(n, at.UnixNano())
		}
	}
	return e.closed(func(w *windowedStats) {
		if !at.IsZero() {
			w.advance(at)
		}
	})
}

// CloseAll closes every open window and returns the answers of those answered at their close: the end of the input,
// for the tools that read a file of events (a search over the file sees all of it). The processor never calls it: a
// collector's input has no end, and a window open at shutdown is saved with storage or lost, not answered early.
func (e *Engine) CloseAll() []Closed {
	return e.closed(func(w *windowedStats) { w.closeAll() })
}

func (e *Engine) closed(close func(*windowedStats)) []Closed {
	var out []Closed
	for _, cr := range e.rules {
		w := cr.window
		if w == nil || !w.atClose {
			continue
		}
		close(w)
		closing := w.takeClosing()
		if len(closing) == 0 {
			continue
		}
		st := e.states.get()
		c := &st.ctx
		for _, cw := range closing {
			c.begin()
			c.at = cw.end
			rows := []*row{cw.row}
			for _, s := range cr.post {
				if rows = s.run(c, rows); len(rows) == 0 {
					break
				}
			}
			for _, r := range rows {
				out = append(out, Closed{Rule: cr.rule, Row: cr.finish(r), Time: cw.end, Origin: cw.origin})
			}
		}
		e.states.put(st)
	}
	return out
}

// AnswersAtClose reports whether a rule of e answers when its window closes.
func (e *Engine) AnswersAtClose() bool { return e.atClose }

func (e *Engine) answersAtClose() bool {
	for _, cr := range e.rules {
		if cr.window != nil && cr.window.atClose {
			return true
		}
	}
	return false
}
