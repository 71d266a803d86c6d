package auditdetectprocessor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	otelconf "go.opentelemetry.io/contrib/otelconf/v0.3.0"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

// touchAll records one value on every instrument of the telemetry builder, so that a reader exports each of them.
func touchAll(t *testing.T, tb *metadata.TelemetryBuilder) int {
	t.Helper()
	ctx := context.Background()
	v := reflect.ValueOf(tb).Elem()
	for i := 0; i < v.NumField(); i++ {
		switch inst := v.Field(i).Interface().(type) {
		case metric.Int64Counter:
			inst.Add(ctx, 1)
		case metric.Int64Gauge:
			inst.Record(ctx, 1)
		case metric.Float64Histogram:
			inst.Record(ctx, 0.001)
		default:
			t.Fatalf("field %s: unexpected instrument %T", v.Type().Field(i).Name, inst)
		}
	}
	return v.NumField()
}

// TestMetadataMatchesTelemetryBuilder: the hand-written internal/metadata holds exactly the metrics metadata.yaml
// describes, with its names, units, descriptions and kinds (what mdatagen would check by generating the file).
func TestMetadataMatchesTelemetryBuilder(t *testing.T) {
	b, err := os.ReadFile("metadata.yaml")
	require.NoError(t, err)
	var md struct {
		Telemetry struct {
			Metrics map[string]struct {
				Description string         `yaml:"description"`
				Unit        string         `yaml:"unit"`
				Sum         map[string]any `yaml:"sum"`
				Gauge       map[string]any `yaml:"gauge"`
				Histogram   map[string]any `yaml:"histogram"`
			} `yaml:"metrics"`
		} `yaml:"telemetry"`
	}
	require.NoError(t, yaml.Unmarshal(b, &md))

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	tb, err := metadata.NewTelemetryBuilder(tel.NewTelemetrySettings())
	require.NoError(t, err)
	n := touchAll(t, tb)
	require.Len(t, md.Telemetry.Metrics, n, "one instrument per metric of metadata.yaml")
	for key, want := range md.Telemetry.Metrics {
		m, err := tel.GetMetric("otelcol_" + key)
		if !assert.NoError(t, err, key) {
			continue
		}
		assert.Equal(t, want.Description, m.Description, key)
		assert.Equal(t, want.Unit, m.Unit, key)
		switch m.Data.(type) {
		case metricdata.Sum[int64]:
			assert.NotNil(t, want.Sum, "%s is a sum", key)
			assert.Equal(t, true, want.Sum["monotonic"], key)
		case metricdata.Gauge[int64]:
			assert.NotNil(t, want.Gauge, "%s is a gauge", key)
		case metricdata.Histogram[float64]:
			assert.NotNil(t, want.Histogram, "%s is a histogram", key)
		default:
			t.Errorf("%s: unexpected data %T", key, m.Data)
		}
	}
}

// scrapeNames runs the processor's instruments through the Prometheus pull reader that the collector (v0.145.0)
// builds from `service.telemetry.metrics.readers` (its otelconftelemetry hands the readers to otelconf v0.3.0's
// NewSDK, called here the same way), with the given exporter settings, and returns the metric families the
// endpoint exposes, with their types.
func scrapeNames(t *testing.T, withoutSuffixes bool) map[string]string {
	t.Helper()
	var port int
	var sdk otelconf.SDK
	// The port was free a moment ago; another test binary running beside this one may have taken it since.
	for tries := 1; ; tries++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port = l.Addr().(*net.TCPAddr).Port
		require.NoError(t, l.Close())
		host := "127.0.0.1"
		prom := &otelconf.Prometheus{Host: &host, Port: &port}
		if withoutSuffixes {
			yes := true
			prom.WithoutUnits, prom.WithoutTypeSuffix, prom.WithoutScopeInfo = &yes, &yes, &yes
		}
		sdk, err = otelconf.NewSDK(otelconf.WithContext(context.Background()), otelconf.WithOpenTelemetryConfiguration(
			otelconf.OpenTelemetryConfiguration{MeterProvider: &otelconf.MeterProvider{Readers: []otelconf.MetricReader{
				{Pull: &otelconf.PullMetricReader{Exporter: otelconf.PullMetricExporter{Prometheus: prom}}},
			}}}))
		if !errors.Is(err, syscall.EADDRINUSE) || tries == 5 {
			require.NoError(t, err)
			break
		}
	}
	t.Cleanup(func() { require.NoError(t, sdk.Shutdown(context.Background())) })

	set := componenttest.NewNopTelemetrySettings()
	set.MeterProvider = sdk.MeterProvider()
	tb, err := metadata.NewTelemetryBuilder(set)
	require.NoError(t, err)
	touchAll(t, tb)

	var body []byte
	require.Eventually(t, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, err = io.ReadAll(resp.Body)
		return err == nil && resp.StatusCode == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
	names := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (otelcol_processor_auditdetect_\S+) (\S+)$`).FindAllStringSubmatch(string(body), -1) {
		names[m[1]] = m[2]
	}
	return names
}

// TestPrometheusNames pins the names under which the processor's metrics appear on the collector's Prometheus
// endpoint (the table in docs/operations.md), for a reader configured without options (as config/standalone.yaml
// configures it) and for the collector's default reader and the Helm chart's, which set without_units and
// without_type_suffix.
func TestPrometheusNames(t *testing.T) {
	const p = "otelcol_processor_auditdetect_"
	plain := map[string]string{
		p + "records": "counter", p + "records_unparsed": "counter", p + "records_oversized": "counter",
		p + "records_unrecognized": "counter", p + "rule_matches": "counter", p + "risk_events": "counter",
		p + "risk_events_dropped": "counter", p + "matches_without_risk_records": "counter",
		p + "events_truncated": "counter",
		p + "rules_loaded":     "gauge", p + "rules_skipped": "gauge", p + "rules_disabled": "gauge",
		p + "rules_never_matching": "gauge", p + "evaluation_duration": "histogram",
		p + "reloads": "counter", p + "reload_failing": "gauge", p + "state_saves": "counter",
		p + "state_bytes": "gauge", p + "window_keys": "gauge", p + "window_evicted_keys": "counter",
		p + "window_late_events": "counter", p + "throttled_matches": "counter", p + "stats_groups_cut": "counter",
		p + "sequence_events_unheld": "counter",
	}
	withSuffixes := map[string]string{}
	for name, typ := range plain {
		switch {
		case typ == "counter":
			name += "_total"
		case name == p+"evaluation_duration":
			name += "_seconds"
		}
		withSuffixes[name] = typ
	}
	assert.Equal(t, withSuffixes, scrapeNames(t, false), "a reader without options: _total, and the units of s and By")
	assert.Equal(t, plain, scrapeNames(t, true),
		"the chart's reader (and the collector's default one): the names as the processor writes them")
	assert.NotContains(t, scrapeNames(t, false), p+"reload_failing_ratio", `the unit "{state}" adds no suffix, where "1" added _ratio`)
}

// TestNewTermsStateTelemetry: new_terms histories are reported with the other stateful keys, as state new_terms:
// the combinations held, and those evicted at max_keys.
func TestNewTermsStateTelemetry(t *testing.T) {
	dir := newSecretReaderRule(t)
	p, _, tel := newTestProcessor(t, testConfig(func(cfg *Config) {
		cfg.Rules, cfg.Macros = []string{dir}, nil
		cfg.MaxKeys = 2
	}))
	var bodies []func(pcommon.Value)
	for i, user := range []string{"alice", "bob", "carol", "dave", "alice"} {
		bodies = append(bodies, str(fmt.Sprintf(`{"kind":"Event","auditID":"r-%d","stage":"ResponseComplete","verb":"get",`+
			`"user":{"username":%q},"objectRef":{"resource":"secrets","namespace":"shop","name":"db"},`+
			`"stageTimestamp":"2026-11-03T09:00:0%dZ"}`, i, user, i)))
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), input(bodies...)))

	state := attribute.String("state", "new_terms")
	m, err := tel.GetMetric("otelcol_processor_auditdetect_window_keys")
	require.NoError(t, err)
	var held []string
	for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		id, _ := dp.Attributes.Value("rule_id")
		st, _ := dp.Attributes.Value("state")
		held = append(held, fmt.Sprintf("%s/%s=%d", id.AsString(), st.AsString(), dp.Value))
	}
	sort.Strings(held)
	assert.Equal(t, []string{"nt-1/new_terms=2"}, held, "max_keys combinations held")
	// alice, bob, carol, dave, then alice again (forgotten, so new again): three evictions.
	assertSumAttr(t, tel, "otelcol_processor_auditdetect_window_evicted_keys", state, 3)
}

// TestMatchesWithoutRiskRecords: a match whose result rows hold no value of any risk object field writes no risk
// record; it is counted by rule, so a detection that fires into nothing is visible.
func TestMatchesWithoutRiskRecords(t *testing.T) {
	dir := t.TempDir()
	rule := `name: Namespace Deleted
id: 5d1f0c4e-0000-4000-8000-000000000001
search: '` + "`kube_audit`" + ` verb=delete'
rba:
  message: a namespace was deleted by $user.username$
  risk_objects:
  - field: user.username
    type: user
    score: 30
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ns.yml"), []byte(rule), 0o600))
	p, sink, tel := newTestProcessor(t, testConfig(func(cfg *Config) { cfg.Rules, cfg.Macros = []string{dir}, nil }))
	const (
		withUser    = `{"kind":"Event","auditID":"d-1","verb":"delete","user":{"username":"mallory"},"objectRef":{"resource":"namespaces","name":"shop"}}`
		withoutUser = `{"kind":"Event","auditID":"d-2","verb":"delete","objectRef":{"resource":"namespaces","name":"shop"}}`
	)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(withUser), str(withoutUser), str(withoutUser))))
	var risk int
	for _, r := range records(sink.AllLogs()[0]) {
		if isRisk(r) {
			risk++
		}
	}
	assert.Equal(t, 1, risk)
	ruleID := attribute.String("rule_id", "5d1f0c4e-0000-4000-8000-000000000001")
	assertSumAttr(t, tel, "otelcol_processor_auditdetect_rule_matches", ruleID, 3)
	assertSumAttr(t, tel, "otelcol_processor_auditdetect_matches_without_risk_records", ruleID, 2)
}

// TestSequenceUnheldTelemetry: a sequence rule whose keys hold max_keys events for late arrivals takes further
// events without holding them; sequence_events_unheld counts them by rule, and a warning names the rule once per
// burst, not once per batch: a second burst, after a lateness without one, warns again.
func TestSequenceUnheldTelemetry(t *testing.T) {
	s := sequenceProcessor(t, 4)
	p, tel, logs := s.p, s.tel, s.logs
	start := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	n := 0
	flood := func(from time.Duration) {
		// Three batches of 8 writes by two users, a second apart: 24 held where 4 may be.
		for range 3 {
			var bodies []func(pcommon.Value)
			for range 8 {
				n++
				bodies = append(bodies, str(fmt.Sprintf(`{"kind":"Event","auditID":"w-%d","verb":"create",`+
					`"user":{"username":"sa-%d"},"objectRef":{"resource":"deployments","namespace":"shop"},`+
					`"stageTimestamp":%q}`, n, n%2, start.Add(from+time.Duration(n)*time.Second).Format(time.RFC3339))))
			}
			require.NoError(t, p.ConsumeLogs(context.Background(), input(bodies...)))
		}
	}
	warnings := func() int { return logs.FilterMessageSnippet("sequence rule at max_keys").Len() }
	flood(0)
	assert.Equal(t, 1, warnings(), "one warning for a burst of three batches")
	w := logs.FilterMessageSnippet("sequence rule at max_keys").All()[0].ContextMap()
	assert.Equal(t, "Role Then Workload", w["rule"])
	ruleID := attribute.String("rule_id", "seq-1")
	first := sumAttr(tel, "otelcol_processor_auditdetect_sequence_events_unheld", ruleID)
	assert.GreaterOrEqual(t, first, int64(24-4), "the writes past max_keys held")
	flood(10 * time.Minute)
	assert.Equal(t, 2, warnings(), "a second burst, after a lateness without one")
	assert.Greater(t, sumAttr(tel, "otelcol_processor_auditdetect_sequence_events_unheld", ruleID), first)
}

// sequenceProcessor starts a processor (allowed_lateness 1m) running one EQL sequence, a role change then a workload
// by user, with max_keys maxKeys, and returns it with its telemetry and its logs.
func sequenceProcessor(t *testing.T, maxKeys int) started {
	t.Helper()
	dir := elasticRuleDir(t, "seq.toml", "Role Then Workload", "seq-1", "type = \"eql\"\nlanguage = \"eql\"\n"+
		"query = '''\nsequence by user.name with maxspan=1h\n"+
		"  [any where kubernetes.audit.verb == \"update\" and kubernetes.audit.objectRef.resource == \"roles\"]\n"+
		"  [any where kubernetes.audit.verb == \"create\" and kubernetes.audit.objectRef.resource == \"deployments\"]\n'''\n")
	cfg := testConfig(func(cfg *Config) {
		cfg.Rules, cfg.Macros = []string{dir}, nil
		cfg.MaxKeys = maxKeys
		cfg.AllowedLateness = time.Minute
	})
	return startWithLogs(t, cfg)
}

// TestSequenceKeyBoundDoesNotWarn: one busy service account writing every second holds its last 128 writes and
// lets the older go early: counted in sequence_events_unheld, but without the warning to raise max_keys, which does
// not change that bound (the rule holds far fewer than max_keys events).
func TestSequenceKeyBoundDoesNotWarn(t *testing.T) {
	s := sequenceProcessor(t, 100000)
	p, tel, logs := s.p, s.tel, s.logs
	start := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	var bodies []func(pcommon.Value)
	for i := range 200 {
		bodies = append(bodies, str(fmt.Sprintf(`{"kind":"Event","auditID":"w-%d","verb":"create",`+
			`"user":{"username":"ci"},"objectRef":{"resource":"deployments","namespace":"shop"},"stageTimestamp":%q}`,
			i, start.Add(time.Duration(i)*200*time.Millisecond).Format(time.RFC3339Nano))))
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), input(bodies...)))
	assert.Equal(t, int64(200-128), sumAttr(tel, "otelcol_processor_auditdetect_sequence_events_unheld",
		attribute.String("rule_id", "seq-1")))
	assert.Zero(t, logs.FilterMessageSnippet("max_keys").Len(), "no warning to raise max_keys")
}
