package auditdetectprocessor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

// leaseGet is a node's lease renewal at s0 plus min minutes: traffic of no stateful rule of fewCreatesRule.
func leaseGet(min float64) string {
	at := s0.Add(time.Duration(min * float64(time.Minute))).Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"kind":"Event","auditID":"l-%g","stage":"ResponseComplete","verb":"get",`+
		`"user":{"username":"system:node:n1"},"objectRef":{"resource":"leases","namespace":"kube-node-lease","name":"n1"},`+
		`"stageTimestamp":%q}`, min, at)
}

// createAt is createBy at a time of the test's choosing (the idle timer reads the wall clock).
func createAt(user string, at time.Time) string {
	return fmt.Sprintf(`{"kind":"Event","auditID":"c-%s-%d","stage":"ResponseComplete","verb":"create","user":{"username":%q},`+
		`"objectRef":{"resource":"configmaps"},"stageTimestamp":%q}`, user, at.UnixNano(), user, at.Format(time.RFC3339Nano))
}

// TestRareRuleClosesOnOtherTraffic: the only stateful rule counts creations, which are rare; the lease renewals that
// flow meanwhile are candidates of no rule. A batch whose last record is past the window's end plus the lateness
// closes the window and carries its answer. Only the last record's time is read: a batch ending in an older event
// closes nothing, whatever came before it.
func TestRareRuleClosesOnOtherTraffic(t *testing.T) {
	cfg := closingConfig(fewCreatesRule(t))
	cfg.IdleTimeout = 0
	p, sink, _ := newTestProcessor(t, cfg)
	ctx := context.Background()
	require.NoError(t, p.ConsumeLogs(ctx, input(str(createBy("alice", 1)))))
	require.NoError(t, p.ConsumeLogs(ctx, input(str(leaseGet(5)), str(leaseGet(10.5)))))
	assert.Empty(t, closedAnswers(sink.AllLogs()), "within the lateness")
	require.NoError(t, p.ConsumeLogs(ctx, input(str(leaseGet(11.5)), str(leaseGet(6)))))
	assert.Empty(t, closedAnswers(sink.AllLogs()), "the batch's last record is at 10:06")
	require.NoError(t, p.ConsumeLogs(ctx, input(str(leaseGet(7)), str(leaseGet(11.2)))))
	assert.Equal(t, []string{"alice:1"}, closedAnswers(sink.AllLogs()))
	last := sink.AllLogs()[len(sink.AllLogs())-1]
	assert.Len(t, records(last), 3, "the two lease renewals and the answer, in the batch that closed the window")
}

// idleConfig answers fewCreatesRule's one-second windows 200 ms after their end, and calls the stream idle after
// 50 ms without an event.
func idleConfig(t *testing.T) *Config {
	cfg := createDefaultConfig()
	cfg.Rules = []string{fewCreatesRule(t)}
	cfg.Window = time.Second
	cfg.AllowedLateness = 200 * time.Millisecond
	cfg.IdleTimeout = 50 * time.Millisecond
	return cfg
}

// TestIdleStreamAnswers: no record comes after alice's creation; the idle timer moves the windows' clock with the
// wall clock, and the window's answer goes out in a batch of its own once its end plus the lateness has passed.
func TestIdleStreamAnswers(t *testing.T) {
	p, sink, _ := newTestProcessor(t, idleConfig(t))
	sent := time.Now()
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createAt("alice", sent)))))
	end := sent.Truncate(time.Second).Add(time.Second)
	require.Eventually(t, func() bool { return len(closedAnswers(sink.AllLogs())) > 0 }, 10*time.Second, 10*time.Millisecond)
	assert.False(t, time.Now().Before(end.Add(200*time.Millisecond)), "answered before the window's end and lateness")
	assert.Equal(t, []string{"alice:1"}, closedAnswers(sink.AllLogs()))
	lds := sink.AllLogs()
	require.Len(t, lds, 2)
	for _, r := range records(lds[1]) {
		assert.True(t, isRisk(r), "the idle batch holds the answer only")
	}
}

// TestIdleReplayIsNotClosedEarly: a replay of a month-old log through a live collector pauses between its batches;
// its clock is far behind the wall clock, so the idle timer leaves it alone, and alice's window counts both her
// creations, closed by the log's own time. Moved by the wall time of the pause, it would have answered alice:1 and
// counted the second creation as late.
func TestIdleReplayIsNotClosedEarly(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p, err := newAuditProcessor(processortest.NewNopSettings(metadata.Type), idleConfig(t))
	require.NoError(t, err)
	p.state.next = sink
	require.NoError(t, p.start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.shutdown(context.Background())) })
	t0 := s0.Add(900 * time.Millisecond) // 100 ms before the end of its one-second window
	require.NoError(t, sendTo(t, p, sink, input(str(createAt("alice", t0)))))
	// From due on, a clock moved by the wall time passed would be past the window's end and lateness (t0 + 300 ms).
	// The pause lasts until the running timer has made three checks at or after due, run to their end (the one after
	// them has begun): a fixed sleep could end before the timer ran at all on a loaded machine.
	due := time.Now().Add(300 * time.Millisecond)
	first := -1 // the count of checks when one at or after due was first seen
	require.Eventually(t, func() bool {
		n, at := idleChecks(p)
		if first < 0 && !at.Before(due) {
			first = n
		}
		return first >= 0 && n >= first+3
	}, time.Minute, 10*time.Millisecond, "the idle timer checked the stream past the window's end and lateness")
	require.NoError(t, sendTo(t, p, sink, input(str(createAt("alice", t0.Add(50*time.Millisecond))))))
	assert.Empty(t, closedAnswers(sink.AllLogs()))
	require.NoError(t, sendTo(t, p, sink, input(str(createAt("bob", t0.Add(1500*time.Millisecond))))))
	assert.Equal(t, []string{"alice:2"}, closedAnswers(sink.AllLogs()))
}

// idleChecks returns how many checks p's idle timer has begun and the wall time of the latest.
func idleChecks(p *auditProcessor) (int, time.Time) {
	p.idle.mu.Lock()
	defer p.idle.mu.Unlock()
	return p.idle.checks, p.idle.checked
}

// TestIdleLiveStreamWithoutLateness: with allowed_lateness 0, a live stream's events still arrive some time after
// their timestamp (here 300 ms): the stream is live all the same (liveDelay), and the idle timer answers alice's
// window once the wall clock is past its end by the stream's delay. An event for that window that then arrives,
// slower than the one before it, is dropped as late, as it would be under lateness 0 had a newer event come first; an
// event as delayed as the stream's are counts in its own window, answered in turn.
func TestIdleLiveStreamWithoutLateness(t *testing.T) {
	cfg := idleConfig(t)
	cfg.AllowedLateness = 0
	p, sink, tel := newTestProcessor(t, cfg)
	ctx := context.Background()
	const delay = 300 * time.Millisecond
	at := time.Now().Add(-delay)
	require.NoError(t, p.ConsumeLogs(ctx, input(str(createAt("alice", at)))))
	end := at.Truncate(time.Second).Add(time.Second)
	require.Eventually(t, func() bool { return len(closedAnswers(sink.AllLogs())) > 0 }, 10*time.Second, 10*time.Millisecond,
		"answered with no event after alice's")
	assert.False(t, time.Now().Before(end.Add(delay)), "answered before the wall clock passed the window's end by the stream's delay")
	assert.Equal(t, []string{"alice:1"}, closedAnswers(sink.AllLogs()))

	require.NoError(t, p.ConsumeLogs(ctx, input(str(createAt("alice", end.Add(-time.Millisecond))))))
	assertSum(t, tel, "otelcol_processor_auditdetect_window_late_events", 1)

	// bob's creation counts in its own window if it is as delayed as the stream's events when it is evaluated. A
	// stall between stamping and evaluating it makes it slower than the stream, and it may then rightly be dropped as
	// late: the timer keeps the clock at least delay behind the wall clock (the stream's first event was that far
	// behind when it came), so bob's window is open as long as the wall clock less delay has not reached its end, and
	// a try that returns later and was dropped is made again.
	late := int64(1)
	for try := 0; ; try++ {
		require.Less(t, try, 10, "every try of bob's creation stalled")
		bob := time.Now().Add(-delay)
		require.NoError(t, p.ConsumeLogs(ctx, input(str(createAt("bob", bob)))))
		if time.Now().Add(-delay).Before(bob.Truncate(time.Second).Add(time.Second)) ||
			metricSum(t, tel, "otelcol_processor_auditdetect_window_late_events") == late {
			break
		}
		late++ // stalled, and dropped as late
	}
	require.Eventually(t, func() bool { return len(closedAnswers(sink.AllLogs())) > 1 }, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"alice:1", "bob:1"}, closedAnswers(sink.AllLogs()), "alice's late creation is not counted")
	assertSum(t, tel, "otelcol_processor_auditdetect_window_late_events", late)
}

// TestIdleLivenessBound: the idle timer moves the clock of a stream whose last event was no more than liveDelay (5
// minutes), or allowed_lateness when longer, behind the wall clock when it came. With allowed_lateness 0, a stream 4
// minutes behind (a slow pipeline) is answered by the timer, and a replay 10 minutes behind is not closed early: as
// in TestIdleReplayIsNotClosedEarly, alice's window counts both her creations, closed by the log's own time. With a
// lateness of 10 minutes, the lateness is the bound.
func TestIdleLivenessBound(t *testing.T) {
	require.Equal(t, createDefaultConfig().AllowedLateness, liveDelay, "the default lateness")
	for _, tt := range []struct {
		lateness, behind time.Duration
		live             bool
	}{
		{0, 4 * time.Minute, true},
		{0, 10 * time.Minute, false},
		{10 * time.Minute, 8 * time.Minute, true},
		{10 * time.Minute, 12 * time.Minute, false},
	} {
		t.Run(fmt.Sprintf("lateness %v, %v behind", tt.lateness, tt.behind), func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			cfg := createDefaultConfig()
			cfg.Rules = []string{fewCreatesRule(t)}
			cfg.Window = time.Second
			cfg.AllowedLateness = tt.lateness
			cfg.IdleTimeout = time.Second
			p, err := newAuditProcessor(processortest.NewNopSettings(metadata.Type), cfg)
			require.NoError(t, err)
			p.state.next = sink
			t0 := time.Now().Add(-tt.behind).Truncate(time.Second).Add(100 * time.Millisecond)
			require.NoError(t, sendTo(t, p, sink, input(str(createAt("alice", t0)))))
			p.idleAdvance(context.Background(), time.Now().Add(time.Hour))
			if tt.live {
				assert.Equal(t, []string{"alice:1"}, closedAnswers(sink.AllLogs()), "answered by the idle timer")
				return
			}
			assert.Empty(t, closedAnswers(sink.AllLogs()), "not closed while the replay pauses")
			require.NoError(t, sendTo(t, p, sink, input(str(createAt("alice", t0.Add(50*time.Millisecond))))))
			require.NoError(t, sendTo(t, p, sink, input(str(createAt("bob", t0.Add(tt.lateness+2*time.Second))))))
			assert.Equal(t, []string{"alice:2"}, closedAnswers(sink.AllLogs()))
		})
	}
}

// TestShutdownDuringIdleSend: shutdown comes while the next consumer holds the idle batch. It cancels it; the
// refused answer goes out once, with the shutdown's flush, and no idle timer is left running.
func TestShutdownDuringIdleSend(t *testing.T) {
	sink := new(consumertest.LogsSink)
	holding := make(chan struct{})
	var calls atomic.Int32
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if calls.Add(1) == 2 { // the idle batch
			close(holding)
			<-ctx.Done()
			return ctx.Err()
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	require.NoError(t, err)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), idleConfig(t), next)
	require.NoError(t, err)
	label := startLabelled(t, func(ctx context.Context) { require.NoError(t, p.Start(ctx, hostWith{})) })
	idleTimers := func() int { return goroutines(label, thisPackage+"(*auditProcessor).watchIdle") }
	require.Eventually(t, func() bool { return idleTimers() == 1 }, 10*time.Second, time.Millisecond,
		"the idle timer runs")
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createAt("alice", time.Now())))))
	select {
	case <-holding:
	case <-time.After(10 * time.Second):
		t.Fatal("no idle batch was sent")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, p.Shutdown(ctx))
	assert.Equal(t, []string{"alice:1"}, closedAnswers(sink.AllLogs()))
	assert.Equal(t, int32(3), calls.Load(), "the first batch, the idle batch, the shutdown's flush")
	// The timer's goroutine closes done as it returns: it may still be on its way out when Shutdown returns.
	assert.Eventually(t, func() bool { return idleTimers() == 0 }, 10*time.Second, time.Millisecond,
		"the idle timer stopped")
}

// TestRefusedIdleBatchWaits: the next consumer refuses the idle batch and everything after it. The answer waits
// (the timer tries again while the stream is idle), the shutdown's flush is refused too, storage keeps it, and it goes
// out once after the restart.
func TestRefusedIdleBatchWaits(t *testing.T) {
	mem := &memStorage{}
	p, calls := refusingAfterAlice(t, mem)
	require.Eventually(t, func() bool { return calls.Load() >= 3 }, 10*time.Second, 10*time.Millisecond,
		"refused, the idle batch is tried again")
	require.Error(t, p.Shutdown(context.Background()))

	var p2 processor.Logs
	p2, sink := startWithStorage(t, idleConfig(t), mem, nil)
	require.NoError(t, p2.ConsumeLogs(context.Background(), input(str(leaseGet(0)))))
	require.NoError(t, p2.Shutdown(context.Background()))
	assert.Equal(t, []string{"alice:1"}, closedAnswers(sink.AllLogs()))
}

// idleDriven makes a processor (not started: the test moves its idle timer with idleAdvance) whose next consumer is
// next, with the NodePort rule throttled per user for 2 seconds and, unless verb is empty, a rule whose windows answer
// at their close beside it (fewRule).
func idleDriven(t *testing.T, next consumer.Logs, verb string) *auditProcessor {
	t.Helper()
	cfg := testConfig(throttled(2*time.Second, "user"))
	if verb != "" {
		cfg.Rules = append(cfg.Rules, fewRule(t, verb))
	}
	cfg.Window = time.Second
	cfg.AllowedLateness = time.Minute
	cfg.IdleTimeout = time.Second
	p, err := newAuditProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	p.state.next = next
	return p
}

// fewRule is fewCreatesRule, or the same on another verb (on deletions: no NodePort creation counts in it).
func fewRule(t *testing.T, verb string) string {
	t.Helper()
	dir := fewCreatesRule(t)
	if verb != "create" {
		file := filepath.Join(dir, "few.yml")
		rule, err := os.ReadFile(file)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(file, bytes.ReplaceAll(rule, []byte("verb=create"), []byte("verb="+verb)), 0o644))
	}
	return dir
}

// sendTo passes ld through p to next as processorhelper does, and returns the next consumer's answer.
func sendTo(t *testing.T, p *auditProcessor, next consumer.Logs, ld plog.Logs) error {
	t.Helper()
	out, err := p.processLogs(context.Background(), ld)
	require.NoError(t, err)
	return deliveryWatch{Logs: next, p: p}.ConsumeLogs(context.Background(), out)
}

// nodePortAt is nodePortBy at a time of the test's choosing, named svc-<name>.
func nodePortAt(user, name string, at time.Time) string {
	return fmt.Sprintf(`{"kind":"Event","auditID":"np-%s-%s","verb":"create","user":{"username":%q},"sourceIPs":["1.1.1.1"],`+
		`"objectRef":{"resource":"services","namespace":"shop","name":"svc-%s"},"requestObject":{"spec":{"type":"NodePort"}},"stageTimestamp":%q}`,
		user, name, user, name, at.Format(time.RFC3339Nano))
}

// TestRefusedIdleBatchesAreNotKeptForARetry: nobody sends an idle batch again as the same object, so a refused one is
// not remembered for a retry (deliveries.refused): each tick of a downstream outage would otherwise keep another copy
// of every answer waiting, up to maxRefused of them, until memory runs out.
func TestRefusedIdleBatchesAreNotKeptForARetry(t *testing.T) {
	refuse, err := consumer.NewLogs(func(context.Context, plog.Logs) error { return errors.New("sending queue is full") })
	require.NoError(t, err)
	p := idleDriven(t, refuse, "create")
	require.Error(t, sendTo(t, p, refuse, input(str(createAt("alice", time.Now())))))
	p.state.deliveries.refused, p.state.deliveries.refusedOrder = map[plog.Logs]*additions{}, nil // the batch's own
	for i := 1; i <= 5; i++ {
		p.idleAdvance(context.Background(), time.Now().Add(time.Duration(i)*time.Minute))
	}
	d := p.state.deliveries
	assert.Len(t, d.closed, 1, "alice's answer waits, once")
	assert.Empty(t, d.refused)
	assert.Empty(t, d.refusedOrder)
}

// TestIdleSendsReportsGivenBack: a refused batch gives eve's throttle report back to her throttle; the stream then
// goes idle, and the idle timer sends the report (a report already due does not wait for the next match).
func TestIdleSendsReportsGivenBack(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p := idleDriven(t, sink, "delete")
	t0 := time.Now().Add(-10 * time.Second)
	require.NoError(t, sendTo(t, p, sink, input(str(nodePortAt("eve", "a", t0)), str(nodePortAt("eve", "b", t0.Add(time.Second))))))
	refuse, err := consumer.NewLogs(func(context.Context, plog.Logs) error { return errors.New("sending queue is full") })
	require.NoError(t, err)
	// bob's match at t0+5s is past eve's throttle window: her report of the one held back is due in this batch.
	require.Error(t, sendTo(t, p, refuse, input(str(nodePortAt("bob", "c", t0.Add(5*time.Second))))))
	assert.Equal(t, []string{"eve@a+0"}, riskSummary(t, sink.AllLogs()))
	p.idleAdvance(context.Background(), time.Now().Add(time.Minute))
	assert.Equal(t, []string{"eve@a+0", "eve@b+0"}, riskSummary(t, sink.AllLogs()), "eve's report goes out while idle")
}

// TestIdleSendsWhatWaitsWithoutAClock: an answer the shutdown could not deliver, kept in storage, goes out after the
// restart though no event comes: the stream is idle from the start, and what waits to be sent needs no clock to move.
// So does the answer a replay's refused batch gave back (its clock, far behind the wall clock, does not move).
func TestIdleSendsWhatWaitsWithoutAClock(t *testing.T) {
	t.Run("restart", func(t *testing.T) {
		mem := &memStorage{}
		p, calls := refusingAfterAlice(t, mem)
		require.Eventually(t, func() bool { return calls.Load() >= 2 }, 10*time.Second, 10*time.Millisecond, "the idle batch, refused")
		require.Error(t, p.Shutdown(context.Background()))

		p2, sink := startWithStorage(t, idleConfig(t), mem, nil)
		assert.Eventually(t, func() bool { return len(closedAnswers(sink.AllLogs())) > 0 }, 5*time.Second, 10*time.Millisecond,
			"sent after the restart with no event")
		require.NoError(t, p2.Shutdown(context.Background()))
		assert.Equal(t, []string{"alice:1"}, closedAnswers(sink.AllLogs()))
	})
	t.Run("replay", func(t *testing.T) {
		sink := new(consumertest.LogsSink)
		p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), idleConfig(t),
			refusingCall(t, sink, 2))
		require.NoError(t, err)
		require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
		require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createAt("alice", s0.Add(100*time.Millisecond))))))
		// bob's creation closes alice's window: the batch carries her answer, and is refused.
		require.Error(t, p.ConsumeLogs(context.Background(), input(str(createAt("bob", s0.Add(1500*time.Millisecond))))))
		assert.Eventually(t, func() bool { return len(closedAnswers(sink.AllLogs())) > 0 }, 5*time.Second, 10*time.Millisecond,
			"sent while the replay pauses")
		require.NoError(t, p.Shutdown(context.Background()))
		assert.Equal(t, []string{"alice:1"}, closedAnswers(sink.AllLogs()), "bob's window is open: not answered early")
	})
}

// refusingAfterAlice starts an idle-driven processor with storage in mem whose next consumer takes the first batch and
// refuses every one after it, and gives it alice's creation; calls counts the batches offered.
func refusingAfterAlice(t *testing.T, mem *memStorage) (processor.Logs, *atomic.Int32) {
	t.Helper()
	calls := new(atomic.Int32)
	cfg := idleConfig(t)
	cfg.Storage = &storageID
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if calls.Add(1) > 1 {
			return errors.New("sending queue is full")
		}
		return nil
	})
	require.NoError(t, err)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), hostWith{storageID: mem}))
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createAt("alice", time.Now())))))
	return p, calls
}

// TestThrottleMovesWithOtherTraffic: the throttles' time is the windows' clock, which the batch's last record moves
// whatever rules it is for. eve's second NodePort creation is held back in her 10-minute throttle window; the lease
// renewals no rule reads then make her report due as soon as a batch ends past the window, not with the next match.
// As for the windows, only the last record's time is read: a batch ending in an older event makes nothing due.
func TestThrottleMovesWithOtherTraffic(t *testing.T) {
	cfg := testConfig(throttled(10*time.Minute, "user"))
	cfg.IdleTimeout = 0
	p, sink, _ := newTestProcessor(t, cfg)
	ctx := context.Background()
	require.NoError(t, p.ConsumeLogs(ctx, input(str(nodePortBy("eve", "1.1.1.1", 0)), str(nodePortBy("eve", "1.1.1.1", 1)))))
	require.NoError(t, p.ConsumeLogs(ctx, input(str(leaseGet(11)), str(leaseGet(6)))))
	assert.Equal(t, []string{"eve@0+0"}, riskSummary(t, sink.AllLogs()), "the batch's last record is at 9:06")
	require.NoError(t, p.ConsumeLogs(ctx, input(str(leaseGet(7)), str(leaseGet(10.5)))))
	assert.Equal(t, []string{"eve@0+0", "eve@1+0"}, riskSummary(t, sink.AllLogs()))
	last := sink.AllLogs()[len(sink.AllLogs())-1]
	assert.Len(t, records(last), 3, "the two lease renewals and the report, in the batch that ended her window")
}

// TestIdleThrottleReport: eve's burst of three NodePort creations, then silence. The first goes out at once and the
// other two are held back; their report (the latest, suppressed_count 1) goes out in a batch of its own once the
// throttle window has ended in wall time, though no record came after the burst: the idle timer moves the throttles'
// time with the windows' clock, whether or not a rule whose windows answer at their close runs beside them.
func TestIdleThrottleReport(t *testing.T) {
	for _, closing := range []bool{false, true} {
		t.Run(map[bool]string{false: "throttle alone", true: "beside windows answered at their close"}[closing], func(t *testing.T) {
			cfg := testConfig(throttled(time.Second, "user"))
			if closing {
				cfg.Rules = append(cfg.Rules, fewRule(t, "delete"))
			}
			cfg.IdleTimeout = 50 * time.Millisecond
			p, sink, _ := newTestProcessor(t, cfg)
			sent := time.Now()
			require.NoError(t, p.ConsumeLogs(context.Background(), input(str(nodePortAt("eve", "a", sent)),
				str(nodePortAt("eve", "b", sent)), str(nodePortAt("eve", "c", sent)))))
			// The burst's own batch (a stall of a second from here lets the idle timer send the report already).
			assert.Equal(t, []string{"eve@a+0"}, riskSummary(t, sink.AllLogs()[:1]))
			require.Eventually(t, func() bool { return len(riskSummary(t, sink.AllLogs())) > 1 }, 10*time.Second,
				10*time.Millisecond, "the report goes out with no record after the burst")
			assert.False(t, time.Now().Before(sent.Add(time.Second)), "reported before the throttle window ended")
			assert.Equal(t, []string{"eve@a+0", "eve@c+1"}, riskSummary(t, sink.AllLogs()))
			lds := sink.AllLogs()
			require.Len(t, lds, 2)
			for _, r := range records(lds[1]) {
				assert.True(t, isRisk(r), "the idle batch holds the report only")
			}
		})
	}
}

// TestIdleThrottleReplayIsNotMoved: a replay of a month-old log pauses after eve's burst; its clock is far behind the
// wall clock, so the idle timer leaves the throttles' time alone, and her held match is counted by her next match in
// the log, as without the pause. A live stream's burst is reported by the same advance.
func TestIdleThrottleReplayIsNotMoved(t *testing.T) {
	for _, live := range []bool{false, true} {
		t.Run(map[bool]string{false: "replay", true: "live"}[live], func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			p := idleDriven(t, sink, "")
			t0 := s0
			if live {
				t0 = time.Now().Add(-10 * time.Second)
			}
			require.NoError(t, sendTo(t, p, sink, input(str(nodePortAt("eve", "a", t0)), str(nodePortAt("eve", "b", t0.Add(time.Second))))))
			p.idleAdvance(context.Background(), time.Now().Add(time.Hour))
			if live {
				assert.Equal(t, []string{"eve@a+0", "eve@b+0"}, riskSummary(t, sink.AllLogs()))
				return
			}
			assert.Equal(t, []string{"eve@a+0"}, riskSummary(t, sink.AllLogs()), "not reported while the replay pauses")
			require.NoError(t, sendTo(t, p, sink, input(str(nodePortAt("eve", "c", t0.Add(3*time.Second))))))
			assert.Equal(t, []string{"eve@a+0", "eve@c+1"}, riskSummary(t, sink.AllLogs()))
		})
	}
}

// TestRefusedIdleThrottleReport: the next consumer refuses the idle batch that carries eve's report; the report goes
// back to her throttle and out, once, with the timer's next try.
func TestRefusedIdleThrottleReport(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p := idleDriven(t, sink, "")
	t0 := time.Now().Add(-10 * time.Second)
	require.NoError(t, sendTo(t, p, sink, input(str(nodePortAt("eve", "a", t0)), str(nodePortAt("eve", "b", t0)),
		str(nodePortAt("eve", "c", t0.Add(time.Second))))))
	var refused []plog.Logs
	refuse, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		refused = append(refused, ld)
		return errors.New("sending queue is full")
	})
	require.NoError(t, err)
	p.state.next = refuse
	p.idleAdvance(context.Background(), time.Now().Add(time.Minute))
	assert.Equal(t, []string{"eve@c+1"}, riskSummary(t, refused), "the idle batch carried the report")
	p.state.next = sink
	p.idleAdvance(context.Background(), time.Now().Add(2*time.Minute))
	p.idleAdvance(context.Background(), time.Now().Add(3*time.Minute))
	assert.Equal(t, []string{"eve@a+0", "eve@c+1"}, riskSummary(t, sink.AllLogs()))
}
