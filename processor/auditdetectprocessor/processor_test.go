package auditdetectprocessor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

const (
	nodePortCreate  = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"np-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/services","verb":"create","user":{"username":"mallory","groups":["system:authenticated"]},"sourceIPs":["203.0.113.7"],"userAgent":"kubectl/v1.30.0","objectRef":{"resource":"services","namespace":"shop","name":"backdoor","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Service","apiVersion":"v1","metadata":{"name":"backdoor"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":30080}]}},"requestReceivedTimestamp":"2026-12-01T10:00:00.000000Z","stageTimestamp":"2026-12-01T10:00:00.010000Z"}`
	clusterIPCreate = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"cip-1","verb":"create","user":{"username":"mallory"},"sourceIPs":["203.0.113.7"],"objectRef":{"resource":"services","namespace":"shop","name":"web"},"requestObject":{"kind":"Service","spec":{"type":"ClusterIP"}},"stageTimestamp":"2026-12-01T10:00:01.000000Z"}`
	adminNodePort   = `{"kind":"Event","auditID":"np-2","verb":"create","user":{"username":"admin"},"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"services","namespace":"shop","name":"ok"},"requestObject":{"spec":{"type":"NodePort"}}}`
)

// testConfig loads only the test rule, with its filter macro excepting admin as a user would.
func testConfig(mutate func(*Config)) *Config {
	cfg := createDefaultConfig()
	cfg.Rules = []string{filepath.Join("testdata", "rules")}
	cfg.Macros = map[string]string{"test_nodeport_filter": "search NOT user=admin"}
	if mutate != nil {
		mutate(cfg)
	}
	return cfg
}

func newTestProcessor(t *testing.T, cfg *Config) (processor.Logs, *consumertest.LogsSink, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p, sink, tel
}

// labelled numbers the labels of startLabelled.
var labelled atomic.Int64

// startLabelled runs start under a pprof label of its own and returns the label. The goroutines start starts inherit
// it, so that goroutines(label, ...) counts those and no other: not those of an earlier test (an idle timer still on
// its way out after its Shutdown returned leaves a count of every idle timer a moment later).
func startLabelled(t *testing.T, start func(ctx context.Context)) string {
	label := fmt.Sprintf("%s#%d", t.Name(), labelled.Add(1)) // -count=n runs a test n times
	pprof.Do(context.Background(), pprof.Labels("test", label), start)
	return label
}

// thisPackage prefixes the names of this package's functions in a traceback.
const thisPackage = "github.com/auditdetect/auditdetect/processor/auditdetectprocessor."

// goroutines counts the goroutines labelled label whose stack holds frame (a function, as a traceback names it:
// "sync.(*Mutex).Lock", thisPackage+"(*auditProcessor).watchIdle").
func goroutines(label, frame string) int {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1) // a bytes.Buffer takes every write
	labels := fmt.Sprintf(`# labels: {"test":%q}`, label)
	n := 0
	for _, stack := range strings.Split(buf.String(), "\n\n") {
		var count int
		if _, err := fmt.Sscanf(stack, "%d @", &count); err == nil &&
			strings.Contains(stack, "\n"+labels+"\n") && strings.Contains(stack, "\t"+frame+"+") {
			n += count
		}
	}
	return n
}

// input builds one resource/scope holding records with the given bodies.
func input(bodies ...func(pcommon.Value)) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("k8s.cluster.name", "prod")
	sl := rl.ScopeLogs().AppendEmpty()
	for i, set := range bodies {
		rec := sl.LogRecords().AppendEmpty()
		rec.Attributes().PutInt("seq", int64(i))
		rec.SetTimestamp(pcommon.Timestamp(1000 + i))
		set(rec.Body())
	}
	return ld
}

func str(s string) func(pcommon.Value) { return func(v pcommon.Value) { v.SetStr(s) } }

func records(ld plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		sls := ld.ResourceLogs().At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				out = append(out, lrs.At(k))
			}
		}
	}
	return out
}

func isRisk(r plog.LogRecord) bool {
	_, ok := r.Attributes().Get("risk_object")
	return ok
}

func TestForkMode(t *testing.T) {
	p, sink, tel := newTestProcessor(t, testConfig(nil))
	mapBody := func(v pcommon.Value) {
		m := v.SetEmptyMap()
		m.PutStr("kind", "Event")
		m.PutStr("verb", "create")
		m.PutEmptyMap("objectRef").PutStr("resource", "services")
		m.PutEmptyMap("user").PutStr("username", "eve")
		m.PutEmptyMap("requestObject").PutEmptyMap("spec").PutStr("type", "NodePort")
		m.PutEmptySlice("sourceIPs").AppendEmpty().SetStr("198.51.100.1")
	}
	ld := input(
		str(nodePortCreate),
		str(clusterIPCreate),
		str(adminNodePort),
		str(`{"verb":"create","objectRef":`), // truncated JSON
		str(`["not","an","object"]`),
		func(v pcommon.Value) { v.SetInt(7) },
		func(pcommon.Value) {}, // empty body
		func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte(nodePortCreate)) },
		mapBody,
	)
	want := plog.NewLogs()
	ld.CopyTo(want)

	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	got := records(sink.AllLogs()[0])
	wantRecs := records(want)

	// Every input record passes on unchanged, in order, followed by the risk records of the same scope.
	require.Len(t, got, len(wantRecs)+3)
	for i, w := range wantRecs {
		assert.Equal(t, w.Body().AsRaw(), got[i].Body().AsRaw(), "record %d body", i)
		assert.Equal(t, w.Attributes().AsRaw(), got[i].Attributes().AsRaw(), "record %d attributes", i)
	}
	risk := got[len(wantRecs):]
	var objects []string
	for _, r := range risk {
		require.True(t, isRisk(r))
		obj, _ := r.Attributes().Get("risk_object")
		objects = append(objects, obj.Str())
	}
	// String, bytes and map bodies all match; admin is excepted by the filter macro; ClusterIP is a near miss.
	assert.Equal(t, []string{"mallory", "mallory", "eve"}, objects)

	first := risk[0]
	attrs := first.Attributes().AsRaw()
	// The saved search Splunk ES runs an ESCU detection as: its risk events carry that search_name.
	assert.Equal(t, "ESCU - Test NodePort - Rule", attrs["search_name"])
	assert.Equal(t, "0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001", attrs["rule_id"])
	assert.Equal(t, "user", attrs["risk_object_type"])
	assert.Equal(t, int64(20), attrs["risk_score"])
	assert.Equal(t, "NodePort service backdoor created by mallory", attrs["risk_message"])
	assert.Equal(t, "203.0.113.7", attrs["threat_object"])
	assert.Equal(t, "ip_address", attrs["threat_object_type"])
	assert.Equal(t, "203.0.113.7", attrs["src_ip"])
	assert.Equal(t, "shop", attrs["objectRef.namespace"])
	assert.Equal(t, int64(1), attrs["count"])
	assert.Equal(t, "system:authenticated", attrs["user_groups"], "a single value is a plain field, as in Splunk")
	assert.Equal(t, "np-1", attrs["auditID"])
	assert.Equal(t, "risk", attrs["com.splunk.index"])
	assert.Equal(t, "stash", attrs["com.splunk.sourcetype"])
	assert.Equal(t, "ESCU - Test NodePort - Rule", attrs["com.splunk.source"])
	assert.Equal(t, []any{"T1204"}, attrs["annotations.mitre_attack.mitre_technique_id"])
	assert.Equal(t, []any{"Kubernetes Security"}, attrs["analyticstories"])
	assert.Equal(t, "NodePort service backdoor created by mallory", first.Body().Str())
	assert.Equal(t, pcommon.Timestamp(1000), first.Timestamp(), "risk record keeps the source record's time")

	assertSum(t, tel, "otelcol_processor_auditdetect_records", 9)
	// truncated JSON, array, int, empty: 4 records that are not audit events.
	assertSum(t, tel, "otelcol_processor_auditdetect_records_unparsed", 4)
	assertSum(t, tel, "otelcol_processor_auditdetect_risk_events", 3)
	assertSum(t, tel, "otelcol_processor_auditdetect_rule_matches", 3)
}

func TestEnrichMode(t *testing.T) {
	p, sink, _ := newTestProcessor(t, testConfig(func(c *Config) { c.Mode = ModeEnrich }))
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(nodePortCreate), str(clusterIPCreate))))
	got := records(sink.AllLogs()[0])
	require.Len(t, got, 2, "enrich mode adds no records")
	assert.Equal(t, map[string]any{
		"seq":                      int64(0),
		"rule_id":                  []any{"0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001"},
		"search_name":              []any{"ESCU - Test NodePort - Rule"},
		"risk_score":               int64(20),
		"annotations.mitre_attack": []any{"T1204"},
		"annotations.mitre_attack.mitre_technique_id": []any{"T1204"},
	}, got[0].Attributes().AsRaw())
	assert.Equal(t, nodePortCreate, got[0].Body().Str())
	assert.Equal(t, map[string]any{"seq": int64(1)}, got[1].Attributes().AsRaw(), "non-matching record untouched")
}

func TestDropUnmatched(t *testing.T) {
	p, sink, _ := newTestProcessor(t, testConfig(func(c *Config) { c.DropUnmatched = true }))
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(clusterIPCreate), str(nodePortCreate), str("garbage"), str(clusterIPCreate))))
	got := records(sink.AllLogs()[0])
	require.Len(t, got, 3)
	assert.Equal(t, nodePortCreate, got[0].Body().Str())
	assert.Equal(t, "garbage", got[1].Body().Str(), "a record that cannot be read is never dropped")
	assert.True(t, isRisk(got[2]))

	// A batch with nothing to forward leaves no empty resources behind.
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(clusterIPCreate))))
	assert.Equal(t, 0, sink.AllLogs()[1].ResourceLogs().Len())

	// A syntax error deep in a part no rule reads is still found before the record would be dropped.
	brokenTail := strings.Replace(clusterIPCreate, `"stageTimestamp":`, `"stageTimestamp" `, 1)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(brokenTail))))
	got = records(sink.AllLogs()[2])
	require.Len(t, got, 1, "a malformed record is never dropped")
	assert.Equal(t, brokenTail, got[0].Body().Str())
}

func TestBuiltinRulesLoadByDefault(t *testing.T) {
	cfg := createDefaultConfig()
	require.NoError(t, cfg.Validate())
	p, sink, tel := newTestProcessor(t, cfg)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(nodePortCreate))))
	risk := 0
	for _, r := range records(sink.AllLogs()[0]) {
		if isRisk(r) {
			risk++
		}
	}
	assert.Positive(t, risk, "the built-in pack flags a NodePort service")
	m, err := tel.GetMetric("otelcol_processor_auditdetect_rules_loaded")
	require.NoError(t, err)
	loaded := m.Data.(metricdata.Gauge[int64]).DataPoints[0].Value
	assert.GreaterOrEqual(t, loaded, int64(17), "built-in pack size")
}

func TestBadRuleFailsStartup(t *testing.T) {
	dir := t.TempDir()
	bad := "name: Broken\nid: 11111111-2222-3333-4444-555555555555\nsearch: '`kube_audit` verb=create | lookup x'\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.yml"), []byte(bad), 0o600))
	good, err := os.ReadFile(filepath.Join("testdata", "rules", "test_nodeport.yml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "good.yml"), good, 0o600))

	cfg := testConfig(func(c *Config) { c.Rules = []string{dir} })
	err = cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.yml:3")
	assert.Contains(t, err.Error(), "lookup")
	_, err = NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.Error(t, err)

	cfg.OnRuleError = RuleErrorSkip
	require.NoError(t, cfg.Validate())
	_, _, tel := newTestProcessor(t, cfg)
	m, err := tel.GetMetric("otelcol_processor_auditdetect_rules_skipped")
	require.NoError(t, err)
	assert.Equal(t, int64(1), m.Data.(metricdata.Gauge[int64]).DataPoints[0].Value)
}

func TestIPLocationNeedsDatabase(t *testing.T) {
	dir := t.TempDir()
	rule := "name: Geo\nid: 11111111-2222-3333-4444-555555555556\nsearch: '`kube_audit` verb=get | iplocation sourceIPs{} | stats count by Country'\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "geo.yml"), []byte(rule), 0o600))
	other := strings.NewReplacer("Geo", "Geo2", "5556", "5557").Replace(rule)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "geo2.yml"), []byte(other), 0o600))
	cfg := testConfig(func(c *Config) { c.Rules, c.Macros = []string{dir}, nil })
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "geoip_database")
	// Every rule the engine refuses is named at once, not the first alone.
	assert.Contains(t, err.Error(), "geo.yml")
	assert.Contains(t, err.Error(), "geo2.yml")

	cfg.OnRuleError = RuleErrorSkip
	require.NoError(t, cfg.Validate(), "skip mode leaves the rule out")
}

// TestStartNamesEverythingToFix: a start that fails on a rule that does not load names, in the same error, the rules
// that loaded but the engine refuses, not one kind per start; a rule turned off by rule_overrides is not named.
func TestStartNamesEverythingToFix(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	write("broken.yml", "name: Broken\nid: 11111111-2222-3333-4444-555555555555\nsearch: '`kube_audit` verb=create | lookup x'\n")
	geo := "name: Geo\nid: 11111111-2222-3333-4444-555555555556\nsearch: '`kube_audit` verb=get | iplocation sourceIPs{} | stats count by Country'\n"
	write("geo.yml", geo)
	write("geo_off.yml", strings.NewReplacer("Geo", "GeoOff", "5556", "5557").Replace(geo))
	cfg := testConfig(func(c *Config) {
		c.Rules, c.Macros = []string{dir}, nil
		off := false
		c.RuleOverrides = map[string]RuleOverride{"GeoOff": {Enabled: &off}}
	})
	err := cfg.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "broken.yml:3")
	assert.Contains(t, err.Error(), "geo.yml")
	assert.Contains(t, err.Error(), "geoip_database")
	assert.NotContains(t, err.Error(), "geo_off.yml", "turned off by rule_overrides")
}

func assertSum(t *testing.T, tel *componenttest.Telemetry, name string, want int64) {
	t.Helper()
	assert.Equal(t, want, metricSum(t, tel, name), name)
}

// metricSum adds up the data points of a counter.
func metricSum(t *testing.T, tel *componenttest.Telemetry, name string) int64 {
	t.Helper()
	m, err := tel.GetMetric(name)
	require.NoError(t, err, name)
	var total int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
	}
	return total
}

// TestSPLTimeZoneCalendarWindow: a windowed rule grouped by strftime's day of the search's zone does not load when the
// windows, counted from the epoch, cut the zone's days in two: the start names the rule's file and line and what to
// set. In UTC, and with a window the zone's days start windows of, it loads.
func TestSPLTimeZoneCalendarWindow(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "daily.yml"), []byte(`name: Daily Deletes
id: 7f000000-0000-4000-8000-0000000000ab
search: 'verb=delete | eval day=strftime(_time, "%Y-%m-%d") | stats count by day user.username | where count > 100'
`), 0o600))
	config := func(zone string, window time.Duration) *Config {
		return testConfig(func(c *Config) {
			c.Rules, c.Macros, c.SPLTimeZone, c.Window = []string{dir}, nil, zone, window
		})
	}
	err := config("Europe/Berlin", 24*time.Hour).Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "daily.yml:3")
	assert.Contains(t, err.Error(), `stats by day counts per day of the time zone Europe/Berlin (strftime(_time, "%Y-%m-%d"), in spl_time_zone)`)
	assert.Contains(t, err.Error(), "windows of 24h0m0s")
	assert.Contains(t, err.Error(), "to 1h0m0s or a divisor of it")

	require.NoError(t, config("UTC", 24*time.Hour).Validate())
	require.NoError(t, config("Europe/Berlin", time.Hour).Validate())
}

// TestSPLTimeZone: spl_time_zone is the zone ESCU detections' convert ctime writes in, as Splunk writes it in the
// zone of the search's owner: the risk message says the local time (UTC by default).
func TestSPLTimeZone(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "deletes.yml"), []byte(`name: Test Deletes
id: 7f000000-0000-4000-8000-0000000000aa
search: 'verb=delete | stats count min(_time) as firstTime by user.username
  | convert timeformat="%Y-%m-%d %H:%M %Z" ctime(firstTime) | rename user.username as user'
rba:
  message: $user$ deleted since $firstTime$
  risk_objects: [{field: user, type: user, score: 20}]
`), 0o600))
	del := `{"kind":"Event","verb":"delete","user":{"username":"alice"},"stageTimestamp":"2025-07-01T12:00:00.000000Z"}`
	for zone, want := range map[string]string{
		"":                 "alice deleted since 2025-07-01 12:00 UTC",
		"Europe/Berlin":    "alice deleted since 2025-07-01 14:00 CEST",
		"America/St_Johns": "alice deleted since 2025-07-01 09:30 NDT",
	} {
		p, sink, _ := newTestProcessor(t, testConfig(func(c *Config) {
			c.Rules, c.Macros = []string{dir}, nil
			if zone != "" {
				c.SPLTimeZone = zone
			}
		}))
		require.NoError(t, p.ConsumeLogs(context.Background(), input(str(del))))
		got := records(sink.AllLogs()[0])
		require.Len(t, got, 2, zone)
		msg, _ := got[1].Attributes().Get("risk_message")
		assert.Equal(t, want, msg.Str(), zone)
	}
}
