package auditdetectprocessor

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

// TestShutdownWaitsForADeliveryInFlight: a batch that processLogs has finished is still on its way to the next
// consumer when Shutdown comes (processLogs has released the processor's lock). If the consumer then refuses it, the
// answer of a closed window it carried must still be kept in storage and sent after the restart.
func TestShutdownWaitsForADeliveryInFlight(t *testing.T) {
	mem := &memStorage{}
	cfg := closingConfig(fewCreatesRule(t))
	cfg.Storage = &storageID

	first := new(consumertest.LogsSink)
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		switch calls.Add(1) {
		case 1:
			return first.ConsumeLogs(ctx, ld)
		case 2: // the batch carrying alice's answer: slow, then refused
			close(entered)
			<-release
		}
		return errors.New("sending queue is full")
	})
	require.NoError(t, err)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), hostWith{storageID: mem}))
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createBy("alice", 1)), str(createBy("alice", 2)))))

	sent := make(chan error, 1)
	go func() { sent <- p.ConsumeLogs(context.Background(), input(str(createBy("carol", 11.5)))) }()
	<-entered
	shut := make(chan error, 1)
	shutdown := startLabelled(t, func(context.Context) { go func() { shut <- p.Shutdown(context.Background()) }() })
	// The batch is let go once the shutdown waits for it, or has returned without (a fixed wait instead could end
	// before the shutdown got there on a loaded machine, and the test would pass without trying it).
	require.Eventually(t, func() bool {
		return len(shut) > 0 || goroutines(shutdown, thisPackage+"(*auditProcessor).waitSending") == 1
	}, waitFor, time.Millisecond)
	close(release)
	require.Error(t, <-sent)
	<-shut
	assert.Empty(t, closedAnswers(first.AllLogs()))

	p2, sink := startWithStorage(t, closingConfig(cfg.Rules[0]), mem, nil)
	require.NoError(t, p2.ConsumeLogs(context.Background(), input(str(createBy("carol", 12)))))
	require.NoError(t, p2.Shutdown(context.Background()))
	assert.Equal(t, []string{"alice:2"}, closedAnswers(sink.AllLogs()), "the refused answer was lost")
}

// TestRefusedReportOfARuleTheReloadRemoved: a batch carries a throttle report that came due (eve's held match); a rule
// reload removes the throttled rule while the batch is on its way, and the next consumer then refuses the batch. The
// report has no throttle to go back to; it must still go out (with the next batch, or at shutdown), not vanish.
func TestRefusedReportOfARuleTheReloadRemoved(t *testing.T) {
	cfg := testConfig(throttled(10*time.Minute, "user"))
	p, sink := eveHeld(t, cfg)
	ctx := context.Background()
	refused, err := p.processLogs(ctx, input(str(nodePortBy("bob", "2.2.2.2", 30)))) // eve's report is due here
	require.NoError(t, err)

	dir := t.TempDir()
	writeFile(t, dir+"/svc.yml", reloadRule("LoadBalancer"))
	gone := testConfig(func(c *Config) { c.Rules, c.OnRuleError = []string{dir}, RuleErrorSkip })
	d2, err := buildDetector(gone, zap.NewNop())
	require.NoError(t, err)
	require.True(t, p.install(ctx, d2))

	p.delivered(refused, errors.New("sending queue is full"))
	require.NoError(t, p.shutdown(ctx))
	assert.Contains(t, riskSummary(t, sink.AllLogs()), "eve@7+0", "eve's held match is reported")
}

// TestConcurrentBatchesReloadsCheckpointsShutdown runs batches on four goroutines while the rule files change (reloads),
// the state is saved every few milliseconds and the processor finally shuts down under load: under -race, nothing
// races or panics, and every batch is either accepted or refused with an error.
func TestConcurrentBatchesReloadsCheckpointsShutdown(t *testing.T) {
	mem := &memStorage{}
	dir := t.TempDir()
	writeFile(t, dir+"/svc.yml", reloadRule("LoadBalancer"))
	cfg := testConfig(throttled(10*time.Minute, "user"))
	cfg.Rules = append(cfg.Rules, dir, fewCreatesRule(t))
	cfg.Window = 10 * time.Minute
	cfg.AllowedLateness = time.Minute
	cfg.ReloadInterval = 5 * time.Millisecond
	cfg.CheckpointInterval = 3 * time.Millisecond
	var n atomic.Int32
	next, err := consumer.NewLogs(func(context.Context, plog.Logs) error {
		if n.Add(1)%3 == 0 {
			return errors.New("sending queue is full")
		}
		return nil
	})
	require.NoError(t, err)
	cfg.Storage = &storageID
	core, logs := observer.New(zapcore.InfoLevel)
	set := processortest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), hostWith{storageID: mem}))

	stop := make(chan struct{})
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func(g int) {
			defer func() { done <- struct{}{} }()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				min := float64(i % 90)
				ld := input(str(nodePortBy(fmt.Sprintf("u%d", i%7), "1.1.1.1", min)), str(createBy(fmt.Sprintf("c%d", g), min)))
				err := p.ConsumeLogs(context.Background(), ld)
				if err != nil && i%2 == 0 {
					_ = p.ConsumeLogs(context.Background(), ld) // the same object again
				}
			}
		}(g)
	}
	for i := 0; i < 6; i++ {
		writeFile(t, dir+"/svc.yml", reloadRule([]string{"ClusterIP", "LoadBalancer"}[i%2]))
		time.Sleep(40 * time.Millisecond)
	}
	// A loaded machine may have run no reload in those 240 ms, and the last write put back the rules it started with:
	// one more change, and the batches go on until a reload has run.
	writeFile(t, dir+"/svc.yml", reloadRule("ClusterIP"))
	require.Eventually(t, func() bool { return logs.FilterMessage("auditdetect rules reloaded").Len() > 0 }, waitFor, tick)
	_ = p.Shutdown(context.Background()) // a flush may be refused
	close(stop)
	for g := 0; g < 4; g++ {
		<-done
	}
}

// TestClosedBacklogBoundDoesNotOverflow: max_keys passes validation at any positive value (a large one meaning "no
// practical bound"); the bound on waiting answers, max_keys per rule answering at its close, must not overflow into
// dropping every answer but one.
func TestClosedBacklogBoundDoesNotOverflow(t *testing.T) {
	dir := fewCreatesRule(t)
	src, err := os.ReadFile(filepath.Join(dir, "few.yml"))
	require.NoError(t, err)
	second := strings.Replace(strings.Replace(string(src), "Test Few Creates", "Test Few Creates Too", 1),
		"5a3c2c1e0003", "5a3c2c1e0004", 1)
	writeFile(t, filepath.Join(dir, "few2.yml"), second)
	cfg := closingConfig(dir)
	cfg.MaxKeys = math.MaxInt
	require.NoError(t, cfg.Validate())

	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, refusingCall(t, sink, 2))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createBy("alice", 1)))))
	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("carol", 11.5))))) // both rules answer for alice
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createBy("carol", 12)))))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, []string{"alice:1", "alice:1"}, closedAnswers(sink.AllLogs()), "one rule's answer was dropped")
}

// TestShutdownFlushKeepsReportsItsAnswersMakeDue: answers of closed windows sent at shutdown pass through their
// throttle; a later answer can make an earlier key's held answer due (its throttle window is over). That report must
// go out with the flush, not be dropped. Here the answers come from storage, refused before the restart, so the
// throttle meets them afresh in the shutdown flush: alice@10 goes out, alice@20 is held, bob@30 ends alice's window.
func TestShutdownFlushKeepsReportsItsAnswersMakeDue(t *testing.T) {
	mem := &memStorage{}
	config := func() *Config {
		cfg := closingConfig(fewCreatesRule(t))
		cfg.RuleOverrides = map[string]RuleOverride{"Test Few Creates": {Throttle: &ThrottleConfig{Fields: []string{"user"}, Window: 15 * time.Minute}}}
		return cfg
	}
	// The next consumer takes the first batch and refuses every later one, the shutdown flush too.
	var calls atomic.Int32
	next, err := consumer.NewLogs(func(context.Context, plog.Logs) error {
		if calls.Add(1) > 1 {
			return errors.New("sending queue is full")
		}
		return nil
	})
	require.NoError(t, err)
	cfg := config()
	cfg.Storage = &storageID
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), hostWith{storageID: mem}))
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(createBy("alice", 1)))))
	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("alice", 11.5)))))
	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("bob", 21.5)))))
	require.Error(t, p.ConsumeLogs(context.Background(), input(str(createBy("carol", 31.5)))))
	require.Error(t, p.Shutdown(context.Background()))

	p2, sink := startWithStorage(t, config(), mem, nil)
	require.NoError(t, p2.Shutdown(context.Background()))
	got := closedAnswers(sink.AllLogs())
	sort.Strings(got)
	assert.Equal(t, []string{"alice:1", "alice:1", "bob:1"}, got, "alice's second answer, held, was dropped")
}
