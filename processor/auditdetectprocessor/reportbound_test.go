package auditdetectprocessor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"

	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/window"
)

// TestWaitingReportsBoundPerRule: reports with no throttle to go back to (a reload removed their throttles) wait at
// most max_keys per rule they are of, whatever the running rule set throttles; past that, a rule's own oldest go, and a
// flood of one rule's reports leaves the others' in place.
func TestWaitingReportsBoundPerRule(t *testing.T) {
	cfg := testConfig(nil)
	cfg.MaxKeys = 2
	p := &auditProcessor{cfg: cfg, state: newStateful(cfg, nil)}
	a, b := &rule.Rule{ID: "a"}, &rule.Rule{ID: "b"}
	report := func(r *rule.Rule, key string, at int64) window.Pending[heldMatch] {
		return window.Pending[heldMatch]{Key: key, Held: 1, First: time.Unix(at, 0), LastAt: time.Unix(at, 0),
			Last: heldMatch{rule: r}}
	}
	assert.Empty(t, p.waitReports([]window.Pending[heldMatch]{report(b, "eve", 1), report(a, "eve", 2), report(a, "bob", 3)}))
	assert.Len(t, p.state.deliveries.reports, 3)
	var flood []window.Pending[heldMatch]
	for i := 0; i < 10; i++ {
		flood = append(flood, report(a, fmt.Sprintf("u%d", i), int64(10+i)))
	}
	assert.Equal(t, []ruleLoss{{rule: a, dropped: 10}}, p.waitReports(flood), "a's own oldest go")
	var kept []string
	for _, r := range p.state.deliveries.reports {
		kept = append(kept, r.Last.rule.ID+"/"+r.Key)
	}
	assert.Equal(t, []string{"b/eve", "a/u8", "a/u9"}, kept, "b's oldest report stays, past a's flood")
}

// lbBy is a LoadBalancer service creation by user at minute min of s0, which the reload test rule (Test Service Type,
// on LoadBalancer) flags and the NodePort test rule does not.
func lbBy(user string, min float64) string {
	return strings.ReplaceAll(strings.Replace(nodePortBy(user, "1.1.1.1", min), `"np-`, `"lb-`, 1), "NodePort", "LoadBalancer")
}

// floodAndRare configures two throttled rules (by user, for an hour) with max_keys 3: the NodePort test rule, which
// floodAndRareBatches floods with 20 users, and the LoadBalancer one (Test Service Type), which holds one match of root.
func floodAndRare(t *testing.T) *Config {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("LoadBalancer"))
	cfg := testConfig(nil)
	cfg.Rules = append(cfg.Rules, dir)
	cfg.MaxKeys = 3
	byUser := &ThrottleConfig{Fields: []string{"user"}, Window: time.Hour}
	cfg.RuleOverrides = map[string]RuleOverride{"Test NodePort": {Throttle: byUser}, "Test Service Type": {Throttle: byUser}}
	return cfg
}

// floodAndRareBatches: root's LoadBalancer at 0 goes out and the one at 1 is held (the oldest match held); then 20
// users each create a NodePort twice, the second held: past max_keys, each new user evicts the oldest, whose report
// comes due.
func floodAndRareBatches() []plog.Logs {
	var flood []func(pcommon.Value)
	for i := 0; i < 20; i++ {
		u, m := fmt.Sprintf("u%d", i), float64(2+i)
		flood = append(flood, str(nodePortBy(u, "1.1.1.1", m)), str(nodePortBy(u, "1.1.1.1", m+0.5)))
	}
	return []plog.Logs{input(str(lbBy("root", 0)), str(lbBy("root", 1))), input(flood...)}
}

// reportsOf lists the throttle reports in lds of the users given as "user+suppressed_count", and counts the others.
func reportsOf(lds []plog.Logs, users ...string) (named []string, others int) {
	for _, ld := range lds {
		for _, r := range records(ld) {
			u, ok := r.Attributes().Get("risk_object")
			if !ok {
				continue
			}
			if slices.Contains(users, u.Str()) {
				n, _ := r.Attributes().Get(SuppressedCountField)
				named = append(named, fmt.Sprintf("%s+%d", u.Str(), n.Int()))
			} else {
				others++
			}
		}
	}
	return named, others
}

// TestFloodOfOneRuleKeepsAnotherRulesReport: while the next consumer refuses everything, one rule's flood of throttle
// reports must not push out the one report of another rule: each rule keeps up to max_keys waiting reports, its own
// oldest dropped past that, counted (risk_events_dropped{reason=throttle_backlog}) and logged with the rule that lost
// them. The reports come to wait together when the shutdown's flush is refused (and go out after a restart, from
// storage), or when a reload removes both throttles while the next consumer refuses their flush.
func TestFloodOfOneRuleKeepsAnotherRulesReport(t *testing.T) {
	// Of the flood, 14 reports are dropped in the flooding rule's throttle while batches are refused (20 users, 3
	// keys held, 3 reports waiting), and 3 more when the 6 left wait together with root's.
	const droppedOfTheFlood = 17
	check := func(t *testing.T, tel *componenttest.Telemetry, logs *observer.ObservedLogs, delivered []plog.Logs) {
		t.Helper()
		root, flood := reportsOf(delivered, "root")
		assert.Equal(t, []string{"root+0"}, root, "root's held match is reported")
		assert.Equal(t, 3, flood, "the flooding rule's reports: max_keys of them")
		assertSumAttr(t, tel, "otelcol_processor_auditdetect_risk_events_dropped", reasonAttr("throttle_backlog"), droppedOfTheFlood)
		lost := map[string]int64{}
		for _, e := range logs.FilterMessageSnippet("throttle reports dropped").All() {
			ctx := e.ContextMap()
			rule, _ := ctx["rule"].(string)
			n, _ := ctx["dropped"].(int64)
			lost[rule] += n
		}
		assert.Equal(t, map[string]int64{"Test NodePort": droppedOfTheFlood}, lost, "the log names the rule that lost reports")
	}

	t.Run("shutdown refused, then a restart", func(t *testing.T) {
		mem := &memStorage{}
		cfg := floodAndRare(t)
		cfg.Storage = &storageID
		core, logs := observer.New(zapcore.InfoLevel)
		tel := componenttest.NewTelemetry()
		t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
		set := processortest.NewNopSettings(metadata.Type)
		set.TelemetrySettings, set.Logger = tel.NewTelemetrySettings(), zap.New(core)
		refusing := consumertest.NewErr(errors.New("sending queue is full"))
		p, err := NewFactory().CreateLogs(context.Background(), set, cfg, refusing)
		require.NoError(t, err)
		require.NoError(t, p.Start(context.Background(), hostWith{storageID: mem}))
		for _, ld := range floodAndRareBatches() {
			require.Error(t, p.ConsumeLogs(context.Background(), ld))
		}
		require.Error(t, p.Shutdown(context.Background()))

		after, sink := startWithStorage(t, floodAndRare(t), mem, nil)
		require.NoError(t, after.Shutdown(context.Background()))
		check(t, tel, logs, sink.AllLogs())
	})

	t.Run("a reload removes both throttles", func(t *testing.T) {
		core, logs := observer.New(zapcore.InfoLevel)
		tel := componenttest.NewTelemetry()
		t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
		set := processortest.NewNopSettings(metadata.Type)
		set.TelemetrySettings, set.Logger = tel.NewTelemetrySettings(), zap.New(core)
		p, err := newAuditProcessor(set, floodAndRare(t))
		require.NoError(t, err)
		sink := new(consumertest.LogsSink)
		var refusing atomic.Bool
		refusing.Store(true)
		p.state.next, err = consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
			if refusing.Load() {
				return errors.New("sending queue is full")
			}
			return sink.ConsumeLogs(ctx, ld)
		})
		require.NoError(t, err)
		ctx := context.Background()
		for _, in := range floodAndRareBatches() {
			ld, err := p.processLogs(ctx, in)
			require.NoError(t, err)
			p.delivered(ld, errors.New("sending queue is full"))
		}
		// Neither rule in the new set: both throttles flush, the flush is refused, and their reports wait together.
		other := createDefaultConfig()
		other.Rules = []string{fewCreatesRule(t)}
		gone, err := buildDetector(other, zap.NewNop())
		require.NoError(t, err)
		require.True(t, p.install(ctx, gone))

		refusing.Store(false)
		require.NoError(t, p.shutdown(ctx))
		check(t, tel, logs, sink.AllLogs())
	})
}
