package auditdetectprocessor

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
	cfg := createDefaultConfig()
	cfg.Rules = []string{fewCreatesRule(t)}
	cfg.Window = 10 * time.Minute
	cfg.AllowedLateness = time.Minute
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
	p, sink, _ := newTestProcessor(t, idleConfig(t))
	ctx := context.Background()
	t0 := s0.Add(900 * time.Millisecond) // 100 ms before the end of its one-second window
	require.NoError(t, p.ConsumeLogs(ctx, input(str(createAt("alice", t0)))))
	time.Sleep(600 * time.Millisecond) // twelve idle periods, past the window's end and lateness in wall time
	require.NoError(t, p.ConsumeLogs(ctx, input(str(createAt("alice", t0.Add(50*time.Millisecond))))))
	assert.Empty(t, closedAnswers(sink.AllLogs()))
	require.NoError(t, p.ConsumeLogs(ctx, input(str(createAt("bob", t0.Add(1500*time.Millisecond))))))
	assert.Equal(t, []string{"alice:2"}, closedAnswers(sink.AllLogs()))
}

// idleGoroutines counts the idle timers running.
func idleGoroutines() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), ").watchIdle(")
}

// TestShutdownDuringIdleSend: shutdown comes while the next consumer holds the idle batch. It cancels it; the
// refused answer goes out once, with the shutdown's flush, and no idle timer is left running.
func TestShutdownDuringIdleSend(t *testing.T) {
	before := idleGoroutines()
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
	require.NoError(t, p.Start(context.Background(), hostWith{}))
	require.Eventually(t, func() bool { return idleGoroutines() == before+1 }, 10*time.Second, time.Millisecond, "the idle timer runs")
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
	assert.Equal(t, before, idleGoroutines(), "the idle timer stopped")
}

// TestRefusedIdleBatchWaits: the next consumer refuses the idle batch and everything after it. The answer waits
// (the timer tries again while the stream is idle), the shutdown's flush is refused too, storage keeps it, and it goes
// out once after the restart.
func TestRefusedIdleBatchWaits(t *testing.T) {
	mem := &memStorage{}
	var calls atomic.Int32
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
	require.Eventually(t, func() bool { return calls.Load() >= 3 }, 10*time.Second, 10*time.Millisecond,
		"refused, the idle batch is tried again")
	require.Error(t, p.Shutdown(context.Background()))

	var p2 processor.Logs
	p2, sink := startWithStorage(t, idleConfig(t), mem, nil)
	require.NoError(t, p2.ConsumeLogs(context.Background(), input(str(leaseGet(0)))))
	require.NoError(t, p2.Shutdown(context.Background()))
	assert.Equal(t, []string{"alice:1"}, closedAnswers(sink.AllLogs()))
}
