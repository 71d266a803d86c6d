package auditdetectprocessor

import (
	"context"
	"errors"
	"fmt"
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

// fewCreatesThrottled answers fewCreatesRule at each window's close (10m) through a throttle per user of 25m.
func fewCreatesThrottled(t *testing.T, dir string) *Config {
	cfg := closingConfig(dir)
	cfg.RuleOverrides = map[string]RuleOverride{"Test Few Creates": {Throttle: &ThrottleConfig{Fields: []string{"user"}, Window: 25 * time.Minute}}}
	return cfg
}

// matchesOf is, over the risk records of user, the sum of 1 + suppressed_count: the matches they stand for.
func matchesOf(lds []plog.Logs, user string) int64 {
	var n int64
	for _, ld := range lds {
		for _, r := range records(ld) {
			if u, ok := r.Attributes().Get("user"); !isRisk(r) || !ok || u.AsString() != user {
				continue
			}
			n++
			if s, ok := r.Attributes().Get(SuppressedCountField); ok {
				n += s.Int()
			}
		}
	}
	return n
}

// startRefusing starts a processor with storage in mem whose next consumer refuses the calls refuse says.
func startRefusing(t *testing.T, cfg *Config, mem *memStorage, refuse func(call int32) bool) (processor.Logs, *consumertest.LogsSink) {
	t.Helper()
	cfg.Storage = &storageID
	sink := new(consumertest.LogsSink)
	var calls atomic.Int32
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if refuse(calls.Add(1)) {
			return errors.New("sending queue is full")
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	require.NoError(t, err)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), hostWith{storageID: mem}))
	return p, sink
}

// TestHeldCountOfARefusedShutdownSurvives: alice's window answers at 10, 20 and 30 (three matches); the throttle sends
// the first and holds the other two. The batch carrying the answer at 30 and the whole shutdown are refused: the report
// (suppressed_count 1) must survive the restart. It is not saved because its last match is a waiting answer, and the
// answer alone comes back after the restart: the hold of alice@20 is lost.
func TestHeldCountOfARefusedShutdownSurvives(t *testing.T) {
	mem := &memStorage{}
	dir := fewCreatesRule(t)
	p, first := startRefusing(t, fewCreatesThrottled(t, dir), mem, func(call int32) bool { return call > 5 })
	ctx := context.Background()
	for _, ev := range []string{createBy("alice", 1), createBy("carol", 11.5), createBy("alice", 12),
		createBy("dave", 21.5), createBy("alice", 22)} {
		require.NoError(t, p.ConsumeLogs(ctx, input(str(ev))))
	}
	require.Error(t, p.ConsumeLogs(ctx, input(str(createBy("x", 31.5)))))
	require.Error(t, p.Shutdown(ctx))

	p2, sink := startWithStorage(t, fewCreatesThrottled(t, dir), mem, nil)
	require.NoError(t, p2.Shutdown(ctx))
	assert.Equal(t, int64(3), matchesOf(append(first.AllLogs(), sink.AllLogs()...), "alice"),
		"alice's window answered three times")
}

// TestHeldAnswerNotCountedTwiceAfterRestart: the batch carrying alice's held answer at 20 is refused, and so is the
// shutdown's flush of the answers; the throttles' flush (alice@20+0) is taken. The answer is saved all the same and,
// after the restart, held and reported again: alice's two matches are counted three times.
func TestHeldAnswerNotCountedTwiceAfterRestart(t *testing.T) {
	mem := &memStorage{}
	dir := fewCreatesRule(t)
	p, first := startRefusing(t, fewCreatesThrottled(t, dir), mem, func(call int32) bool { return call == 4 || call == 5 })
	ctx := context.Background()
	for _, ev := range []string{createBy("alice", 1), createBy("carol", 11.5), createBy("alice", 12)} {
		require.NoError(t, p.ConsumeLogs(ctx, input(str(ev))))
	}
	require.Error(t, p.ConsumeLogs(ctx, input(str(createBy("dave", 21.5)))))
	require.Error(t, p.Shutdown(ctx)) // the answers refused (call 5), the throttles' report taken (call 6)
	require.Equal(t, int64(2), matchesOf(first.AllLogs(), "alice"))

	p2, sink := startWithStorage(t, fewCreatesThrottled(t, dir), mem, nil)
	require.NoError(t, p2.Shutdown(ctx))
	assert.Equal(t, int64(2), matchesOf(append(first.AllLogs(), sink.AllLogs()...), "alice"),
		"alice's window answered twice")
}

// TestReportsWaitingAreBounded: while the next consumer refuses every batch, throttle reports that came due wait
// (in their throttle, or in the deliveries), and each refused batch carries all of them again. Like the answers of
// closed windows (TestClosedAnswersWaitingAreBounded), they must stay bounded: here one key, throttled for a minute,
// , and max_keys is 2.
func TestReportsWaitingAreBounded(t *testing.T) {
	cfg := testConfig(throttled(time.Minute, "user"))
	cfg.MaxKeys = 2
	var refusing atomic.Bool
	refusing.Store(true)
	next, err := consumer.NewLogs(func(context.Context, plog.Logs) error {
		if refusing.Load() {
			return errors.New("sending queue is full")
		}
		return nil
	})
	require.NoError(t, err)
	pl, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	ctx := context.Background()
	var last plog.Logs
	for i := 0; i < 200; i++ {
		m := float64(2 * i)
		u := fmt.Sprintf("u%d", i)
		last = input(str(nodePortBy(u, "1.1.1.1", m)), str(nodePortBy(u, "1.1.1.1", m+0.5)))
		require.Error(t, pl.ConsumeLogs(ctx, last))
	}
	n := 0
	for _, r := range records(last) {
		if isRisk(r) {
			n++
		}
	}
	// The batch's own match, the reports waiting (at most max_keys) and those this batch made due (at most max_keys).
	assert.LessOrEqual(t, n, 1+2*cfg.MaxKeys, "risk records in the last refused batch")
	refusing.Store(false)
	require.NoError(t, pl.Shutdown(ctx))
}
