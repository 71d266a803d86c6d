package engine

import (
	"sync"
	"time"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/window"
)

// Redelivery. A stateful rule (windowed stats, new_terms, sequence) must count an event once, but a collector delivers at
// least once: when the next consumer refuses a batch, the receiver may send the same batch again, and upstream queues
// (Kafka, Event Hubs) redeliver. An event delivered again is recognised by its identity, the API server's auditID
// with its stage (each stage of a request is an event of its own), and gets back what it produced the first time:
// windows do not count it twice, and a group that fired, or a term first seen, on the first delivery fires again on
// the second, whose batch is the one that reaches Splunk. An event without an auditID has no identity and is counted
// each time.

// DefaultReplayKeys bounds the identities a stateful rule remembers when Options.ReplayKeys is zero: a redelivery
// comes within seconds or minutes, during which a stateful rule's filter lets through far fewer events.
const DefaultReplayKeys = 16384

// replayStore remembers, per event identity, the rows a stateful rule produced for it.
type replayStore struct {
	// mu makes looking an event up, running it and remembering what it produced one step, so that two deliveries of
	// one event on two goroutines at once count it once.
	mu sync.Mutex
	// all says every event is remembered (windowed stats, whose counts a redelivery would inflate, and sequences, whose
	// partials it would move); otherwise only
	// events that produced rows are (new_terms: a known term counts nothing, so a redelivered event that produced
	// nothing produces nothing again).
	all  bool
	seen *window.Recent[[]Row]
}

func newReplayStore(limit int, all bool) *replayStore {
	return &replayStore{all: all, seen: window.NewRecent[[]Row](limit)}
}

// replayRunHook, when set (by a test), is called as an event is run for the first time: where a second delivery
// must not be at the same moment.
var replayRunHook func()

// once returns what the event with identity id produced for rule cr: what it produced the first time it was
// delivered, or, the first time, what running it produces now.
func (r *replayStore) once(id []byte, cr *compiledRule, c *evalCtx, view *event.View, at time.Time) []Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rows, seen := r.seen.Get(id); seen {
		return rows
	}
	if replayRunHook != nil {
		replayRunHook()
	}
	c.unchanged = false
	rows := cr.run(c, view, at)
	// An event a window counted only where nothing will be read again (a group past its rule's "fewer than") is not
	// kept: a second delivery changes nothing either, and on a busy rule such events are nearly all of them.
	if r.all && !c.unchanged || len(rows) > 0 {
		r.seen.PutNew(id, rows) // r.mu, held since the lookup, kept any other delivery from adding it
	}
	return rows
}

// statefulIdentity is the event's identity when cr is a stateful rule and the event has one (else nil), in the
// evaluation's scratch space.
func (e *Engine) statefulIdentity(cr *compiledRule, view *event.View, c *evalCtx) []byte {
	if cr.replay == nil {
		return nil
	}
	id := e.identity(view, c.idBuf)
	if cap(id) > cap(c.idBuf) { // stored only when it grew, as evalCtx.fold
		c.idBuf = id
	}
	return id
}

// identity writes the event's identity (auditID, a NUL, stage) into buf and returns it, or nil when the event has
// no auditID.
func (e *Engine) identity(view *event.View, buf []byte) []byte {
	id, ok := view.First(e.auditID)
	if !ok || len(id) == 0 {
		return nil
	}
	buf = append(append(buf[:0], id...), 0)
	if stage, ok := view.First(e.stage); ok {
		buf = append(buf, stage...)
	}
	return buf
}
