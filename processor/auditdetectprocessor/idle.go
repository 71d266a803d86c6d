package auditdetectprocessor

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/engine"
)

// Idleness (docs/stateful.md, "Idle streams"). A window answered at its close closes when the windows' clock
// (engine.Clock: the newest event time read) passes its end plus allowed_lateness. Events move that clock; when none
// come (an idle gateway, a quiet cluster at night) it stops, and the answers wait for the next event, hours later.
// Once no audit event has come for idle_timeout of wall time (detected as Flink's WatermarkStrategy.withIdleness
// detects an idle input, by a periodic check), a timer moves the clock on by the wall time passed since the last
// one, and sends the answers of the windows that closed in a batch of their own, as a batch's are sent (throttles, a
// refusal giving them back, storage). The throttles' time is the same clock (finishBatch): moved, it makes due the
// report of a key whose throttle window ended, which goes out in that batch rather than with the next match. Flink
// itself only stops an idle input from holding back the others' watermark: a clock that is the newest time of one
// stream has nothing to release, and must move to answer.
//
// Only a live clock moves: one no more than liveDelay, or allowed_lateness when longer, behind the wall clock when
// the last event came. A replay of an old log through a live collector (events hours or days behind the wall clock)
// pauses whenever its reader does, and moving its clock by the wall clock would close its windows (and end its
// throttle windows) before the rest of their events are read: they close with the log's own time, as `auditdetect
// scan`'s do (the CLI has no timer). A live stream's clock, moved by the wall time passed, stays as far behind the
// wall clock as the stream's events were: an event that comes after the advance is dropped as late only if it took
// allowed_lateness longer to arrive than the events before it, as it would be had the stream gone on and brought
// events that much newer, which is what the wall clock stands for. That holds however far behind the stream is, so
// the bound only tells a replay from a live stream, and is not the lateness: with allowed_lateness 0 (or 1s) a live
// stream's events, always some milliseconds to seconds behind when they arrive, would never be live.

// idleCheck bounds the period of the idle timer: an answer due while the stream is idle goes out at most this late.
const idleCheck = 10 * time.Second

// liveDelay is how far behind the wall clock a stream's last event may have been for the stream to be live, whatever
// allowed_lateness is: the lateness's default (createDefaultConfig), the delay the defaults already allow a live
// stream's events. A replay is hours or days behind; a pipeline further behind than this is live only with an
// allowed_lateness above its delay.
const liveDelay = 5 * time.Minute

// idleClock is what the idle timer knows of the stream, and the timer's controls.
type idleClock struct {
	mu sync.Mutex
	// last is the wall time at which the last batch with an audit event ended (the timer's start before the first),
	// and clock the windows' clock then (zero: none yet).
	last, clock time.Time
	// busy counts the batches being evaluated: the stream is not idle while one is.
	busy int
	// refused says the last idle batch was refused (logged once per run of refusals).
	refused bool
	// checks counts the timer's checks (target), and checked is the wall time of the latest: a test waits on them
	// for the timer to have run, which a loaded machine may not let it do for seconds.
	checks  int
	checked time.Time

	cancel context.CancelFunc
	done   chan struct{}
}

// begin notes a batch being evaluated.
func (c *idleClock) begin() {
	c.mu.Lock()
	c.busy++
	c.mu.Unlock()
}

// end notes the end of a batch at wall time now; one that held audit events sets the stream's last event and clock.
func (c *idleClock) end(now time.Time, events bool, e *engine.Engine) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy--
	if events {
		c.last = now
		if clock := e.Clock(); !clock.IsZero() {
			c.clock = clock
		}
	}
}

// target reports whether the stream is idle at wall time now (no batch being evaluated, and none with an audit event
// for timeout) and returns the time the windows' clock moves to: the clock at the last event plus the wall time
// passed since, when it was live then (within liveDelay of the wall clock, or lateness when longer); zero when it is
// not known (no event since the start) or not live (a replay).
func (c *idleClock) target(now time.Time, timeout, lateness time.Duration) (at time.Time, idle bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checks++
	c.checked = now
	if c.busy > 0 || c.last.IsZero() || now.Sub(c.last) < timeout {
		return time.Time{}, false
	}
	if c.clock.IsZero() || c.last.Sub(c.clock) > max(liveDelay, lateness) {
		return time.Time{}, true
	}
	return c.clock.Add(now.Sub(c.last)), true
}

// startIdle starts the idle timer (fork mode: only it writes answers of closed windows and throttle reports).
func (p *auditProcessor) startIdle() {
	if p.cfg.Mode != ModeFork || p.cfg.IdleTimeout <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.idle.cancel, p.idle.done = cancel, make(chan struct{})
	// Idle from the start until an event comes: answers restored from storage go out without one.
	p.idle.mu.Lock()
	p.idle.last = time.Now()
	p.idle.mu.Unlock()
	go p.watchIdle(ctx, p.cfg.IdleTimeout)
}

// stopIdle ends the idle timer, cancelling an idle batch on its way (a refusal gives its answers back, for the
// shutdown's flush), and waits for it until ctx ends. It must be called without holding p.mu.
func (p *auditProcessor) stopIdle(ctx context.Context) error {
	if p.idle.cancel == nil {
		return nil
	}
	p.idle.cancel()
	p.idle.cancel = nil
	select {
	case <-p.idle.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *auditProcessor) watchIdle(ctx context.Context, timeout time.Duration) {
	defer close(p.idle.done)
	ticker := time.NewTicker(min(timeout, idleCheck))
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			p.idleAdvance(ctx, now)
		}
	}
}

// idleAdvance moves the windows' and throttles' clock of an idle stream to wall time now (idleClock.target) and sends
// the answers of the windows that closed, with those still waiting (of a refused batch, or restored from storage) and
// the throttle reports that came due, in a batch of its own; a refusal gives them back (delivered), for the next batch
// or the next tick. What waits goes out also when the clock does not move (not known yet, or a replay's).
func (p *auditProcessor) idleAdvance(ctx context.Context, now time.Time) {
	at, idle := p.idle.target(now, p.cfg.IdleTimeout, p.cfg.AllowedLateness)
	if !idle {
		return
	}
	p.mu.RLock()
	if p.closed || p.state.next == nil {
		p.mu.RUnlock()
		return
	}
	if !at.IsZero() {
		p.detector.engine.AdvanceClock(at)
	}
	ld := plog.NewLogs()
	added, dropped := p.finishBatch(ld, newBatch())
	next := p.state.next
	if ld.ResourceLogs().Len() == 0 {
		p.mu.RUnlock()
		return
	}
	// As a batch processLogs passed on: shutdown waits for the next consumer's answer to it.
	p.sending.Add(1)
	p.mu.RUnlock()
	err := deliveryWatch{Logs: next, p: p, own: true}.ConsumeLogs(ctx, ld)
	p.idle.mu.Lock()
	first := err != nil && !p.idle.refused
	p.idle.refused = err != nil
	p.idle.mu.Unlock()
	if err != nil {
		if first {
			p.logger.Warn("the next consumer refused the answers of windows closed while no audit event came; they go "+
				"out with the next batch, or the idle timer's next try", zap.Error(err))
		}
		return
	}
	p.telemetry.ProcessorAuditdetectRiskEvents.Add(ctx, int64(added))
	if dropped > 0 {
		p.telemetry.ProcessorAuditdetectRiskEventsDropped.Add(ctx, int64(dropped), reasonPerRecord)
	}
}
