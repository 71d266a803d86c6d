package auditdetectprocessor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

// reloadRule is the test rule flagging services of one type; the reload tests change the type.
func reloadRule(serviceType string) string {
	return `name: Test Service Type
id: 0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0099
search: '` + "`kube_audit`" + ` objectRef.resource=services verb=create requestObject.spec.type=` + serviceType + `
  | rename user.username as user'
rba:
  message: service by $user$
  risk_objects: [{field: user, type: user, score: 20}]
`
}

type started struct {
	p    processor.Logs
	sink *consumertest.LogsSink
	tel  *componenttest.Telemetry
	logs *observer.ObservedLogs
}

func startWithLogs(t *testing.T, cfg *Config) started {
	t.Helper()
	return startProcessor(t, cfg, nil)
}

// startRefusingOnce is startWithLogs with a next consumer that refuses the first batch.
func startRefusingOnce(t *testing.T, cfg *Config) started {
	t.Helper()
	return startProcessor(t, cfg, func(sink *consumertest.LogsSink) consumer.Logs { return refusingOnce(t, sink) })
}

// startProcessor starts a processor with its telemetry and logs observed. Its next consumer is the sink, or what next
// makes of it (a consumer that refuses some batches and passes the others to the sink).
func startProcessor(t *testing.T, cfg *Config, next func(sink *consumertest.LogsSink) consumer.Logs) started {
	t.Helper()
	core, logs := observer.New(zapcore.InfoLevel)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	sink := new(consumertest.LogsSink)
	var to consumer.Logs = sink
	if next != nil {
		to = next(sink)
	}
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, to)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return started{p: p, sink: sink, tel: tel, logs: logs}
}

// risks consumes one batch of body and returns the risk objects it produced.
func (s started) risks(t *testing.T, body string) []string {
	t.Helper()
	require.NoError(t, s.p.ConsumeLogs(context.Background(), input(str(body))))
	all := s.sink.AllLogs()
	var out []string
	for _, r := range records(all[len(all)-1]) {
		if v, ok := r.Attributes().Get("risk_object"); ok {
			out = append(out, v.Str())
		}
	}
	return out
}

// flags reports whether the running rule set writes a risk record for body.
func (s started) flags(t *testing.T, body string) bool { return len(s.risks(t, body)) > 0 }

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
	require.NoError(t, os.WriteFile(name, []byte(content), 0o600))
}

// replaceFile writes content to name by a rename, as a ConfigMap update or an editor's save does: no reload check
// reads it half-written. The tests that count failed reloads need it: a plain rewrite stalled between truncating the
// file and writing it for longer than the check's settling wait (25 ms at tick) is read as an empty file, one
// broken change more. The temporary file's name is no rule file's nor table's.
func replaceFile(t *testing.T, name, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(name), ".replacing.tmp")
	writeFile(t, tmp, content)
	require.NoError(t, os.Rename(tmp, name))
}

const (
	tick    = 50 * time.Millisecond
	waitFor = 30 * time.Second
)

// TestReloadOnFileChange changes the rule on disk in the ways files get replaced, and waits until the processor
// runs the new rule.
func TestReloadOnFileChange(t *testing.T) {
	tests := []struct {
		name string
		// setup writes the NodePort rule and returns the path to configure; change replaces it with the ClusterIP one.
		setup  func(t *testing.T, dir string) string
		change func(t *testing.T, dir string)
	}{
		{
			name: "rewritten in place",
			setup: func(t *testing.T, dir string) string {
				writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("NodePort"))
				return filepath.Join(dir, "svc.yml")
			},
			change: func(t *testing.T, dir string) { writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("ClusterIP")) },
		},
		{
			name: "replaced by rename, as editors save",
			setup: func(t *testing.T, dir string) string {
				writeFile(t, filepath.Join(dir, "rules", "svc.yml"), reloadRule("NodePort"))
				return filepath.Join(dir, "rules")
			},
			change: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "svc.yml.tmp"), reloadRule("ClusterIP"))
				require.NoError(t, os.Rename(filepath.Join(dir, "svc.yml.tmp"), filepath.Join(dir, "rules", "svc.yml")))
			},
		},
		{
			name: "Kubernetes ConfigMap update: the ..data link swapped",
			setup: func(t *testing.T, dir string) string {
				cm := filepath.Join(dir, "cm")
				writeFile(t, filepath.Join(cm, "..2026_12_01_10_00_00.1", "svc.yml"), reloadRule("NodePort"))
				require.NoError(t, os.Symlink("..2026_12_01_10_00_00.1", filepath.Join(cm, "..data")))
				require.NoError(t, os.Symlink(filepath.Join("..data", "svc.yml"), filepath.Join(cm, "svc.yml")))
				return cm
			},
			change: func(t *testing.T, dir string) {
				cm := filepath.Join(dir, "cm")
				writeFile(t, filepath.Join(cm, "..2026_12_01_10_05_00.2", "svc.yml"), reloadRule("ClusterIP"))
				require.NoError(t, os.Symlink("..2026_12_01_10_05_00.2", filepath.Join(cm, "..data_tmp")))
				require.NoError(t, os.Rename(filepath.Join(cm, "..data_tmp"), filepath.Join(cm, "..data")))
				require.NoError(t, os.RemoveAll(filepath.Join(cm, "..2026_12_01_10_00_00.1")))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := createDefaultConfig()
			cfg.Rules = []string{tt.setup(t, dir)}
			cfg.ReloadInterval = tick
			s := startWithLogs(t, cfg)
			require.True(t, s.flags(t, nodePortCreate))
			require.False(t, s.flags(t, clusterIPCreate))

			tt.change(t, dir)
			require.Eventually(t, func() bool { return s.flags(t, clusterIPCreate) }, waitFor, tick, "the new rule never ran")
			assert.False(t, s.flags(t, nodePortCreate), "the old rule is gone")
			// The reload is counted and logged just after the swap.
			require.Eventually(t, func() bool { return s.logs.FilterMessage("auditdetect rules reloaded").Len() == 1 }, waitFor, tick)
			assertSumAttr(t, s.tel, "otelcol_processor_auditdetect_reloads", attribute.String("result", "success"), 1)
			assert.Zero(t, gauge(s.tel, "otelcol_processor_auditdetect_reload_failing"))
		})
	}
}

// TestReloadKeepsRunningSetOnError writes a broken rule set: the old rules keep running, the failure is logged once
// and counted, and reload_failing is 1 until the files load again.
func TestReloadKeepsRunningSetOnError(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "svc.yml")
	writeFile(t, file, reloadRule("NodePort"))
	cfg := createDefaultConfig()
	cfg.Rules = []string{dir}
	cfg.ReloadInterval = tick
	s := startWithLogs(t, cfg)
	require.True(t, s.flags(t, nodePortCreate))

	// Unchanged files: nothing is reloaded.
	time.Sleep(5 * tick)
	_, err := s.tel.GetMetric("otelcol_processor_auditdetect_reloads")
	require.Error(t, err, "no reload without a change")

	steps := []struct {
		name      string
		content   string // "" removes the file, leaving the directory without rules
		failures  int64
		successes int64
		failing   int64
		nodePort  bool // whether the running set flags the NodePort service afterwards
	}{
		{name: "a search the SPL compiler refuses", content: strings.Replace(reloadRule("NodePort"), "| rename", "| lookup x | rename", 1), failures: 1, failing: 1, nodePort: true},
		{name: "broken YAML", content: "name: [unterminated\n", failures: 2, failing: 1, nodePort: true},
		{name: "every rule file gone", content: "", failures: 3, failing: 1, nodePort: true},
		{name: "back to what runs", content: reloadRule("NodePort"), failures: 3, failing: 0, nodePort: true},
		{name: "a new set that loads", content: reloadRule("ClusterIP"), failures: 3, successes: 1, failing: 0, nodePort: false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.content == "" {
				require.NoError(t, os.Remove(file))
			} else {
				replaceFile(t, file, st.content)
			}
			require.Eventually(t, func() bool {
				return sumAttr(s.tel, "otelcol_processor_auditdetect_reloads", attribute.String("result", "failure")) == st.failures &&
					sumAttr(s.tel, "otelcol_processor_auditdetect_reloads", attribute.String("result", "success")) == st.successes &&
					gauge(s.tel, "otelcol_processor_auditdetect_reload_failing") == st.failing
			}, waitFor, tick)
			assert.Equal(t, st.nodePort, s.flags(t, nodePortCreate), "which rule set runs")
			// Each broken change is logged once, however many intervals pass.
			time.Sleep(3 * tick)
			assert.Equal(t, int(st.failures), s.logs.FilterMessage("auditdetect rule reload failed; the previous rules keep running").Len())
		})
	}
	failed := s.logs.FilterMessage("auditdetect rule reload failed; the previous rules keep running").All()
	require.Len(t, failed, 3)
	assert.Contains(t, failed[0].ContextMap()["error"], "svc.yml")
	assert.Equal(t, zapcore.ErrorLevel, failed[0].Level)
	assert.Equal(t, int64(1), gauge(s.tel, "otelcol_processor_auditdetect_rules_loaded"))
}

// TestTelemetry checks the metrics this file's features add: the per-batch evaluation time, and the start-up log
// line with the coverage summary.
func TestTelemetry(t *testing.T) {
	s := startWithLogs(t, testConfig(nil))
	for i := 0; i < 3; i++ {
		s.risks(t, nodePortCreate)
	}
	m, err := s.tel.GetMetric("otelcol_processor_auditdetect_evaluation_duration")
	require.NoError(t, err)
	assert.Equal(t, "s", m.Unit)
	h := m.Data.(metricdata.Histogram[float64])
	require.Len(t, h.DataPoints, 1)
	assert.Equal(t, uint64(3), h.DataPoints[0].Count, "one observation per batch")
	assert.Positive(t, h.DataPoints[0].Sum)
	assert.Less(t, h.DataPoints[0].Sum, 3.0, "seconds, not nanoseconds")

	loaded := s.logs.FilterMessage("auditdetect rules loaded").All()
	require.Len(t, loaded, 1)
	assert.Equal(t, "1 rules keyed on 1 operations of 1 resources, 0 on every resource, 0 on every operation; "+
		"1 of 399 Kubernetes built-in operations have a rule keyed on their resource", loaded[0].ContextMap()["coverage"])

	_, err = s.tel.GetMetric("otelcol_processor_auditdetect_reloads")
	assert.Error(t, err, "reload_interval 0: nothing watches the files")
}

func TestReloadIntervalValidation(t *testing.T) {
	cfg := testConfig(func(c *Config) { c.ReloadInterval = -time.Second })
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "reload_interval: must not be negative")
	assert.Zero(t, createDefaultConfig().ReloadInterval, "reload is off by default")
}

func sumAttr(tel *componenttest.Telemetry, name string, kv attribute.KeyValue) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return 0
	}
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if v, ok := dp.Attributes.Value(kv.Key); ok && v == kv.Value {
			total += dp.Value
		}
	}
	return total
}

func assertSumAttr(t *testing.T, tel *componenttest.Telemetry, name string, kv attribute.KeyValue, want int64) {
	t.Helper()
	assert.Equal(t, want, sumAttr(tel, name, kv), "%s{%s}", name, kv.Key)
}

func gauge(tel *componenttest.Telemetry, name string) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return -1
	}
	dps := m.Data.(metricdata.Gauge[int64]).DataPoints
	if len(dps) == 0 {
		return -1
	}
	return dps[len(dps)-1].Value
}

// scanEvent is the i-th anonymous list refused from one address, which the built-in scanning rule counts (it fires
// at the sixth: count > 5).
func scanEvent(i int) string {
	return fmt.Sprintf(`{"auditID":"scan-%d","stage":"ResponseComplete","verb":"list",`+
		`"user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"sourceIPs":["198.51.100.7"],`+
		`"requestURI":"/api/v1/secrets","responseStatus":{"code":403},"stageTimestamp":"2026-11-03T09:00:0%dZ"}`, i, i)
}

// riskCounts returns the count field of each risk record of ld.
func riskCounts(ld plog.Logs) []string {
	var out []string
	for _, r := range records(ld) {
		if isRisk(r) {
			v, _ := r.Attributes().Get("count")
			out = append(out, v.AsString())
		}
	}
	return out
}

// builtinAndReloadRule configures the built-in pack and the NodePort reload rule in dir, reloading every tick;
// writing reloadRule("ClusterIP") to dir/svc.yml then reloads.
func builtinAndReloadRule(t *testing.T) (*Config, string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("NodePort"))
	cfg := createDefaultConfig()
	cfg.Rules = []string{BuiltinRules, dir}
	cfg.ReloadInterval = tick
	return cfg, dir
}

// TestReloadKeepsStateOfUnchangedRules: a reload caused by another file leaves the built-in scanning rule's window
// counting: three refused requests before the reload and three after make the six it fires on.
func TestReloadKeepsStateOfUnchangedRules(t *testing.T) {
	cfg, dir := builtinAndReloadRule(t)
	s := startWithLogs(t, cfg)
	for i := 0; i < 3; i++ {
		require.Empty(t, s.risks(t, scanEvent(i)))
	}
	writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("ClusterIP"))
	require.Eventually(t, func() bool { return s.flags(t, clusterIPCreate) }, waitFor, tick, "the new rule never ran")
	for i := 3; i < 5; i++ {
		require.Empty(t, s.risks(t, scanEvent(i)))
	}
	require.NoError(t, s.p.ConsumeLogs(context.Background(), input(str(scanEvent(5)))))
	all := s.sink.AllLogs()
	assert.Equal(t, []string{"6"}, riskCounts(all[len(all)-1]), "the window counted across the reload")
	require.Eventually(t, func() bool {
		return s.logs.FilterMessage("rules the reload did not change kept their state").Len() == 1
	}, waitFor, tick)
}

// TestRetryAfterReload: the filelog receiver sends a refused batch again as the same object; a rule reload in
// between still has the refused attempt's risk record taken out, and the unchanged rule answers the redelivered
// events as the first time.
func TestRetryAfterReload(t *testing.T) {
	cfg, dir := builtinAndReloadRule(t)
	s := startRefusingOnce(t, cfg)
	p, sink, logs := s.p, s.sink, s.logs

	var bodies []func(pcommon.Value)
	for i := 0; i < 6; i++ {
		bodies = append(bodies, str(scanEvent(i)))
	}
	batch := input(bodies...)
	require.Error(t, p.ConsumeLogs(context.Background(), batch))
	writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("ClusterIP"))
	require.Eventually(t, func() bool { return logs.FilterMessage("auditdetect rules reloaded").Len() == 1 }, waitFor, tick)

	require.NoError(t, p.ConsumeLogs(context.Background(), batch))
	got := sink.AllLogs()
	require.Len(t, got, 1)
	assert.Len(t, records(got[0]), 7, "the six records and one risk record, not the refused attempt's as well")
	assert.Equal(t, []string{"6"}, riskCounts(got[0]), "each event counted once")
}

// throttledAndReloadRule configures the NodePort test rule throttled by user for an hour, and the reload rule (on
// LoadBalancer services) in dir, reloading every tick; writing reloadRule("ClusterIP") to dir/svc.yml then reloads
// and leaves the NodePort rule unchanged.
func throttledAndReloadRule(t *testing.T) (*Config, string) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("LoadBalancer"))
	cfg := testConfig(throttled(time.Hour, "user"))
	cfg.Rules = append(cfg.Rules, dir)
	cfg.ReloadInterval = tick
	return cfg, dir
}

// TestThrottledRetryAfterReload: a throttled rule the reload does not change keeps its throttle, so a refused batch
// retried after the reload is throttled as it was the first time: three matches are reported as three (one sent,
// then one report of the two held), as without a reload.
func TestThrottledRetryAfterReload(t *testing.T) {
	for _, reload := range []bool{false, true} {
		t.Run(map[bool]string{false: "no reload", true: "reload between"}[reload], func(t *testing.T) {
			cfg, dir := throttledAndReloadRule(t)
			s := startRefusingOnce(t, cfg)
			p, sink, logs := s.p, s.sink, s.logs

			batch := input(str(nodePortBy("eve", "1.1.1.1", 0)), str(nodePortBy("eve", "1.1.1.1", 1)),
				str(nodePortBy("eve", "1.1.1.1", 2)))
			require.Error(t, p.ConsumeLogs(context.Background(), batch))
			if reload {
				writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("ClusterIP"))
				require.Eventually(t, func() bool { return logs.FilterMessage("auditdetect rules reloaded").Len() == 1 },
					waitFor, tick)
			}
			require.NoError(t, p.ConsumeLogs(context.Background(), batch))
			require.NoError(t, p.Shutdown(context.Background()))
			assert.Equal(t, []string{"eve@0+0", "eve@2+1"}, riskSummary(t, sink.AllLogs()))
		})
	}
}

// eveHeld makes a processor (not started: the test drives it) whose next consumer is the returned sink, and passes
// it a batch of two NodePort creations by eve, 7 minutes apart: the first is sent, the second held by the throttle.
func eveHeld(t *testing.T, cfg *Config) (*auditProcessor, *consumertest.LogsSink) {
	t.Helper()
	p, err := newAuditProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	sink := new(consumertest.LogsSink)
	p.state.next = sink
	ctx := context.Background()
	ld, err := p.processLogs(ctx, input(str(nodePortBy("eve", "1.1.1.1", 0)), str(nodePortBy("eve", "1.1.1.1", 7))))
	require.NoError(t, err)
	require.NoError(t, sink.ConsumeLogs(ctx, ld))
	p.delivered(ld, nil)
	return p, sink
}

// TestDeliveredWaitsForReload: the answer for a refused batch gives its due throttle reports back to the throttles;
// a reload that comes while it does waits for it, so that the reports are not given to throttles the reload has
// just flushed and dropped. The test holds the deliveries' lock to keep the answer in the middle of its work, and
// lets it go once the answer and then the reload wait (a sleep instead could end before either is there on a loaded
// machine, and the test would pass without trying that order).
func TestDeliveredWaitsForReload(t *testing.T) {
	cfg := testConfig(throttled(10*time.Minute, "user"))
	p, sink := eveHeld(t, cfg)
	ctx := context.Background()
	refused, err := p.processLogs(ctx, input(str(nodePortBy("bob", "2.2.2.2", 30)))) // eve's report is due here
	require.NoError(t, err)
	// A changed rule set: the NodePort rule's filter macro differs, so its throttle is flushed at the reload.
	changed := testConfig(throttled(10*time.Minute, "user"))
	changed.Macros["test_nodeport_filter"] = "search NOT user=root"
	d2, err := buildDetector(changed, zap.NewNop())
	require.NoError(t, err)

	dl := p.state.deliveries
	dl.mu.Lock()
	answered, reloaded := make(chan struct{}), make(chan struct{})
	answer := startLabelled(t, func(context.Context) {
		go func() { p.delivered(refused, errShutdown); close(answered) }()
	})
	require.Eventually(t, func() bool { return goroutines(answer, "sync.(*Mutex).Lock") == 1 }, waitFor,
		time.Millisecond, "the answer waits for the deliveries' lock")
	reload := startLabelled(t, func(context.Context) { go func() { p.install(ctx, d2); close(reloaded) }() })
	require.Eventually(t, func() bool { return goroutines(reload, "sync.(*RWMutex).Lock") == 1 }, waitFor,
		time.Millisecond, "the reload waits for the answer's read lock")
	dl.mu.Unlock()
	<-answered
	<-reloaded
	require.NoError(t, p.shutdown(ctx))
	assert.Contains(t, riskSummary(t, sink.AllLogs()), "eve@7+0", "eve's held match is reported")
}

// TestThrottleKeptAcrossReload: a throttled rule the reload does not change keeps holding the matches of its open
// window, so a reload neither sends the throttle's report early nor forgets what it held.
func TestThrottleKeptAcrossReload(t *testing.T) {
	cfg, dir := throttledAndReloadRule(t)
	s := startWithLogs(t, cfg)
	require.NoError(t, s.p.ConsumeLogs(context.Background(),
		input(str(nodePortBy("eve", "1.1.1.1", 0)), str(nodePortBy("eve", "1.1.1.1", 1)))))
	writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("ClusterIP"))
	require.Eventually(t, func() bool { return s.logs.FilterMessage("auditdetect rules reloaded").Len() == 1 },
		waitFor, tick)
	require.NoError(t, s.p.ConsumeLogs(context.Background(), input(str(nodePortBy("eve", "1.1.1.1", 2)))))
	require.NoError(t, s.p.Shutdown(context.Background()))
	assert.Equal(t, []string{"eve@0+0", "eve@2+1"}, riskSummary(t, s.sink.AllLogs()),
		"one sent, then one report of the two held, the reload between them")
}

// TestReloadRenamedThrottledRule: a rule renamed with its id kept is unchanged for the engine, but a throttle override
// keyed by its old name no longer applies (on_rule_error: skip ignores it): its old throttle sends what it held
// instead of being dropped.
func TestReloadRenamedThrottledRule(t *testing.T) {
	cfg := testConfig(throttled(time.Hour, "user"))
	cfg.OnRuleError = RuleErrorSkip
	p, sink := eveHeld(t, cfg)
	ctx := context.Background()

	src, err := os.ReadFile(filepath.Join("testdata", "rules", "test_nodeport.yml"))
	require.NoError(t, err)
	renamed := strings.Replace(string(src), "name: Test NodePort", "name: Test NodePort v2", 1)
	require.NotEqual(t, string(src), renamed)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "test_nodeport.yml"), renamed)
	cfg2 := *cfg
	cfg2.Rules = []string{dir}
	d2, err := buildDetector(&cfg2, zap.NewNop())
	require.NoError(t, err)
	require.True(t, p.install(ctx, d2))
	require.NoError(t, p.shutdown(ctx))
	assert.Equal(t, []string{"eve@0+0", "eve@7+0"}, riskSummary(t, sink.AllLogs()), "the held match is reported")
}

// TestReloadEditedRiskBlock: a throttle is kept by a reload that rewords its rule's message or changes a risk
// object's type or score (the rule matches as before, and its throttle keys on the same fields): eve's two matches
// held, one before the reload and one after, are reported as one, at shutdown. One whose risk object names another
// field (a throttle without fields keys on the risk objects' fields) is another throttle: the old one reports what
// it held at the reload, and the new one keys on the source address.
func TestReloadEditedRiskBlock(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "rules", "test_nodeport.yml"))
	require.NoError(t, err)
	for _, tc := range []struct {
		name, from, to string
		// atReload is what has gone out once the reload is done; want what has at shutdown.
		atReload, want []string
	}{
		{"message reworded", "message: NodePort service $objectRef.name$ created by $user$",
			"message: $user$ opened NodePort service $objectRef.name$", []string{"eve@0+0"}, []string{"eve@0+0", "eve@8+1"}},
		{"risk object type and score", "type: user\n      score: 20", "type: other\n      score: 70",
			[]string{"eve@0+0"}, []string{"eve@0+0", "eve@8+1"}},
		{"risk object field", "- field: user\n      type: user", "- field: src_ip\n      type: system",
			[]string{"eve@0+0", "eve@7+0"}, []string{"eve@0+0", "eve@7+0", "1.1.1.1@8+0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(throttled(time.Hour))
			p, sink := eveHeld(t, cfg)
			ctx := context.Background()
			edited := strings.Replace(string(src), tc.from, tc.to, 1)
			require.NotEqual(t, string(src), edited)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "test_nodeport.yml"), edited)
			cfg2 := *cfg
			cfg2.Rules = []string{dir}
			d2, err := buildDetector(&cfg2, zap.NewNop())
			require.NoError(t, err)
			require.True(t, p.install(ctx, d2))
			assert.Equal(t, tc.atReload, riskSummary(t, sink.AllLogs()), "at the reload")
			ld, err := p.processLogs(ctx, input(str(nodePortBy("eve", "1.1.1.1", 8))))
			require.NoError(t, err)
			require.NoError(t, sink.ConsumeLogs(ctx, ld))
			p.delivered(ld, nil)
			require.NoError(t, p.shutdown(ctx))
			assert.Equal(t, tc.want, riskSummary(t, sink.AllLogs()))
		})
	}
}

// TestEveryRuleSkippedWarns: under on_rule_error: skip a rule set of which every rule fails starts (as configured),
// and says at warning level that nothing will be detected; a rule set with rules says nothing of the kind.
func TestEveryRuleSkippedWarns(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yml"),
		[]byte("name: Broken\nsearch: '`kube_audit` verb=create | lookup x'\n"), 0o600))
	for _, tc := range []struct {
		name  string
		rules []string
		warns bool
	}{{"every rule skipped", []string{dir}, true}, {"rules loaded", []string{filepath.Join("testdata", "rules"), dir}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(func(c *Config) { c.Rules, c.Macros, c.OnRuleError = tc.rules, nil, RuleErrorSkip })
			s := startWithLogs(t, cfg)
			warned := s.logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("no detection rule runs").Len()
			assert.Equal(t, tc.warns, warned == 1, "warnings: %v", s.logs.FilterLevelExact(zapcore.WarnLevel).All())
		})
	}
}

// TestReloadCarriesReportedEvictions: an unchanged rule's window keeps its evicted count across a reload
// (engine.AdoptState), and so does the count already added to the counter (carryOver): the batches after the reload
// add only the keys evicted since, not the window's whole count again.
func TestReloadCarriesReportedEvictions(t *testing.T) {
	cfg, dir := builtinAndReloadRule(t)
	cfg.MaxKeys = 3
	s := startWithLogs(t, cfg)
	anon := func(ip int) func(pcommon.Value) {
		return str(fmt.Sprintf(`{"verb":"list","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},`+
			`"sourceIPs":["198.51.100.%d"],"requestURI":"/api","responseStatus":{"code":403},"stageTimestamp":"2026-11-03T09:00:00Z"}`, ip))
	}
	var bodies []func(pcommon.Value)
	for i := 0; i < 5; i++ {
		bodies = append(bodies, anon(i))
	}
	require.NoError(t, s.p.ConsumeLogs(context.Background(), input(bodies...)))
	const name = "otelcol_processor_auditdetect_window_evicted_keys"
	require.Equal(t, int64(2), metricSum(t, s.tel, name), "five keys in a window of three")
	writeFile(t, filepath.Join(dir, "svc.yml"), reloadRule("ClusterIP"))
	require.Eventually(t, func() bool { return s.flags(t, clusterIPCreate) }, waitFor, tick, "the new rule never ran")
	assert.Equal(t, int64(2), metricSum(t, s.tel, name), "the evictions before the reload counted again after it")
	require.NoError(t, s.p.ConsumeLogs(context.Background(), input(anon(5))))
	assert.Equal(t, int64(3), metricSum(t, s.tel, name), "one key more, one eviction more")
}
