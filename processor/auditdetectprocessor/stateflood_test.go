package auditdetectprocessor

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// refusal is an audit event both windowed rules of the pack count: a 403 refused by RBAC, for an identity in
// system:unauthenticated and system:authenticated at once, so that a distinct address and name is a new group of
// "API scanning by unauthenticated source" (by sourceIPs{}) and of "permission probing" (by user and source).
func refusal(n int) string {
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"flood-%d",`+
		`"stage":"ResponseComplete","requestURI":"/api/v1/namespaces/kube-system/secrets","verb":"list",`+
		`"user":{"username":"attacker-%d","groups":["system:unauthenticated","system:authenticated"]},`+
		`"sourceIPs":["%d.%d.%d.%d"],"userAgent":"zgrab/0.x","objectRef":{"resource":"secrets","namespace":"kube-system"},`+
		`"responseStatus":{"metadata":{},"code":403},"requestReceivedTimestamp":"2026-12-05T09:19:06.000000Z",`+
		`"stageTimestamp":"2026-12-05T09:19:06.010000Z","annotations":{"authorization.k8s.io/decision":"forbid"}}`,
		n, n, 11+n>>24&0x3f, n>>16&0xff, n>>8&0xff, n&0xff)
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestStateBoundedUnderKeyFlood floods the windowed rules with distinct keys, as an attacker rotating source
// addresses and names would: the groups held never exceed max_keys, and the heap stops growing once the windows are
// full, however many more keys arrive.
func TestStateBoundedUnderKeyFlood(t *testing.T) {
	const (
		maxKeys   = 500
		phase     = 10000
		batchSize = 500
	)
	sink := new(consumertest.LogsSink)
	p, tel := newLogsProcessor(t, fullPackConfig(t, func(c *Config) { c.MaxKeys = maxKeys }), sink)
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	sent := 0
	flood := func() {
		for b := 0; b < phase/batchSize; b++ {
			ld := plog.NewLogs()
			lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
			for k := 0; k < batchSize; k++ {
				lrs.AppendEmpty().Body().SetStr(refusal(sent))
				sent++
			}
			require.NoError(t, p.ConsumeLogs(context.Background(), ld))
		}
		sink.Reset()
	}
	flood() // fills the windows
	full := heapAfterGC()
	flood()
	flood()
	after := heapAfterGC()

	m, err := tel.GetMetric("otelcol_processor_auditdetect_window_keys")
	require.NoError(t, err)
	points := m.Data.(metricdata.Gauge[int64]).DataPoints
	require.NotEmpty(t, points)
	for _, dp := range points {
		rule, _ := dp.Attributes.Value("rule_id")
		assert.LessOrEqual(t, dp.Value, int64(maxKeys), "rule %s holds more keys than max_keys", rule.Emit())
	}
	// Each of the 20,000 extra keys would cost its rule a group of about a kilobyte if state were unbounded.
	growth := int64(after) - int64(full)
	assert.Less(t, growth, int64(8<<20), "heap grew by %d bytes over %d more distinct keys", growth, 2*phase)
	assert.GreaterOrEqual(t, metricSum(t, tel, "otelcol_processor_auditdetect_window_evicted_keys"), int64(2*phase))
	t.Logf("%d distinct keys, max_keys %d: heap %d KiB when full, %d KiB after %d more keys", sent, maxKeys, full>>10, after>>10, 2*phase)
}
