package auditdetectprocessor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

// packEvents returns every single-event test body of the built-in pack (matches and near misses).
func packEvents(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "builtin", "testdata", "*", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out = append(out, strings.TrimSpace(string(b)))
	}
	return out
}

// trafficMix is the built-in pack's test events, each among 99 Metadata-level events of the kind that make up most of
// a real audit log (kubelets, controllers and service accounts reading and watching pods, leases, config maps...),
// which the pack does not flag.
func trafficMix(t testing.TB) []string {
	pack := packEvents(t)
	verbs := []string{"get", "list", "watch", "update", "patch"}
	resources := []string{"pods", "configmaps", "leases", "nodes", "endpoints", "events", "deployments"}
	out := make([]string, 0, 100*len(pack))
	for i, ev := range pack {
		out = append(out, ev)
		for j := 0; j < 99; j++ {
			n := i*99 + j
			ns := fmt.Sprintf("team-%d", n%37)
			res := resources[n%len(resources)]
			out = append(out, fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata",`+
				`"auditID":"6f0c9b7e-%08d","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/%s/%s/obj-%d",`+
				`"verb":"%s","user":{"username":"system:serviceaccount:%s:worker-%d","groups":["system:serviceaccounts",`+
				`"system:authenticated"]},"sourceIPs":["10.%d.%d.%d"],"userAgent":"manager/v1.31.2 (linux/amd64)",`+
				`"objectRef":{"resource":"%s","namespace":"%s","name":"obj-%d","apiVersion":"v1"},`+
				`"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-01T10:%02d:00.000000Z",`+
				`"stageTimestamp":"2026-12-01T10:%02d:00.004000Z","annotations":{"authorization.k8s.io/decision":"allow",`+
				`"authorization.k8s.io/reason":"RBAC: allowed by RoleBinding"}}`,
				n, ns, res, n, verbs[n%len(verbs)], ns, n%11, n%200, n/200%250, n%250+1, res, ns, n, n%60, n%60))
		}
	}
	return out
}

// batchBody is the body of record k of batch b sent by goroutine g: the checker recomputes it from the batch's
// resource attributes, so no record has to be kept to prove it arrived unchanged.
func batchBody(events []string, g, b, k int) string {
	return events[(g*7919+b*104729+k)%len(events)]
}

func makeBatch(events []string, g, b, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutInt("g", int64(g))
	rl.Resource().Attributes().PutInt("b", int64(b))
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	lrs.EnsureCapacity(n)
	for k := 0; k < n; k++ {
		lrs.AppendEmpty().Body().SetStr(batchBody(events, g, b, k))
	}
	return ld
}

// checkingSink verifies each batch it receives: its n input records, in order, with their bodies unchanged,
// followed only by risk records. It keeps counts, not records.
type checkingSink struct {
	events []string
	n      int
	// failNext makes the next call fail with errDownstream before it delivers anything.
	failNext atomic.Bool

	calls, records, risk, bad atomic.Int64
	mu                        sync.Mutex
	firstBad                  string
}

func (s *checkingSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *checkingSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	s.calls.Add(1)
	if s.failNext.Swap(false) {
		return errDownstream
	}
	rl := ld.ResourceLogs().At(0)
	g, _ := rl.Resource().Attributes().Get("g")
	b, _ := rl.Resource().Attributes().Get("b")
	lrs := rl.ScopeLogs().At(0).LogRecords()
	for k := 0; k < lrs.Len(); k++ {
		rec := lrs.At(k)
		if k < s.n {
			if rec.Body().Str() != batchBody(s.events, int(g.Int()), int(b.Int()), k) {
				s.report("batch g=%d b=%d: record %d body changed", g.Int(), b.Int(), k)
			}
			continue
		}
		if idx, ok := rec.Attributes().Get("com.splunk.index"); !ok || idx.Str() != "risk" {
			s.report("batch g=%d b=%d: record %d is neither an input nor a risk record", g.Int(), b.Int(), k)
		}
		s.risk.Add(1)
	}
	if ld.ResourceLogs().Len() != 1 || lrs.Len() < s.n {
		s.report("batch g=%d b=%d: %d resources, %d records", g.Int(), b.Int(), ld.ResourceLogs().Len(), lrs.Len())
	}
	s.records.Add(int64(min(lrs.Len(), s.n)))
	return nil
}

func (s *checkingSink) report(format string, args ...any) {
	if s.bad.Add(1) == 1 {
		s.mu.Lock()
		s.firstBad = fmt.Sprintf(format, args...)
		s.mu.Unlock()
	}
}

func newLogsProcessor(t testing.TB, cfg *Config, next consumer.Logs) (processor.Logs, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	return p, tel
}

// TestNoLoss pushes a million records (trafficMix) through the processor with the whole built-in pack from several
// goroutines at once: every record arrives once, unchanged and in its batch's order, and the only records added are
// risk records.
func TestNoLoss(t *testing.T) {
	const (
		goroutines = 4
		batches    = 250
		batchSize  = 1000
		total      = goroutines * batches * batchSize
	)
	events := trafficMix(t)
	sink := &checkingSink{events: events, n: batchSize}
	p, tel := newLogsProcessor(t, fullPackConfig(t, nil), sink)

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				if err := p.ConsumeLogs(context.Background(), makeBatch(events, g, b, batchSize)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	elapsed := time.Since(start)
	require.NoError(t, p.Shutdown(context.Background()))
	for err := range errs {
		require.NoError(t, err)
	}

	require.Zero(t, sink.bad.Load(), sink.firstBad)
	assert.Equal(t, int64(goroutines*batches), sink.calls.Load(), "one call downstream per batch")
	assert.Equal(t, int64(total), sink.records.Load(), "records out = records in")
	assert.Positive(t, sink.risk.Load(), "the pack's match events produce risk records")
	assertSum(t, tel, "otelcol_processor_auditdetect_records", total)
	assertSum(t, tel, "otelcol_processor_auditdetect_risk_events", sink.risk.Load())
	t.Logf("%d records (+%d risk records) from %d goroutines in %s (%.0f records/s), losses: 0",
		total, sink.risk.Load(), goroutines, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds())
}

var errDownstream = errors.New("exporter queue is full")

// TestFailingNextConsumer: a failure downstream returns to the caller, and a batch is either delivered whole, with
// its risk records, or not at all; resending a failed batch delivers it whole.
func TestFailingNextConsumer(t *testing.T) {
	events := packEvents(t)
	const batchSize = 200
	sink := &checkingSink{events: events, n: batchSize}
	p, _ := newLogsProcessor(t, fullPackConfig(t, nil), sink)
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	var failed, delivered int
	for b := 0; b < 30; b++ {
		before, riskBefore := sink.records.Load(), sink.risk.Load()
		sink.failNext.Store(b%3 == 0)
		err := p.ConsumeLogs(context.Background(), makeBatch(events, 0, b, batchSize))
		if err != nil {
			require.ErrorIs(t, err, errDownstream, "the next consumer's error reaches the caller")
			assert.Equal(t, before, sink.records.Load(), "batch %d: nothing of a failed batch is delivered", b)
			assert.Equal(t, riskBefore, sink.risk.Load(), "batch %d: no risk record of a failed batch is delivered", b)
			failed++
			// The caller keeps the batch and retries it: it arrives whole.
			require.NoError(t, p.ConsumeLogs(context.Background(), makeBatch(events, 0, b, batchSize)))
		}
		delivered++
		assert.Equal(t, before+batchSize, sink.records.Load(), "batch %d delivered whole", b)
	}
	assert.Equal(t, 10, failed)
	assert.Equal(t, 30, delivered)
	assert.Equal(t, int64(40), sink.calls.Load(), "one call downstream per batch sent")
	require.Zero(t, sink.bad.Load(), sink.firstBad)
}

// TestShutdownUnderLoad shuts the processor down while goroutines are still sending: every batch it accepted was
// delivered whole, every batch after shutdown is refused with an error (so its sender keeps it), nothing panics
// (the GeoIP database is closed only once no batch is reading it).
func TestShutdownUnderLoad(t *testing.T) {
	events := packEvents(t)
	const (
		goroutines = 4
		batchSize  = 100
	)
	sink := &checkingSink{events: events, n: batchSize}
	p, _ := newLogsProcessor(t, fullPackConfig(t, nil), sink)

	var accepted, refused atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				err := p.ConsumeLogs(context.Background(), makeBatch(events, g, b, batchSize))
				if err != nil {
					assert.ErrorIs(t, err, errShutdown)
					refused.Add(1)
				} else {
					accepted.Add(1)
				}
				select {
				case <-stop:
					return
				default:
				}
			}
		}()
	}
	// Let the senders get going, then shut down under their load, and let them run into the closed processor.
	for accepted.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	require.NoError(t, p.Shutdown(context.Background()))
	for refused.Load() < goroutines {
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()

	require.Zero(t, sink.bad.Load(), sink.firstBad)
	assert.Equal(t, accepted.Load(), sink.calls.Load(), "every accepted batch, and only those, went downstream")
	assert.Equal(t, accepted.Load()*batchSize, sink.records.Load(), "every accepted record was delivered")
	assert.Positive(t, refused.Load())
	require.NoError(t, p.Shutdown(context.Background()), "a second shutdown is harmless")
}
