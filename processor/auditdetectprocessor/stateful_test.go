package auditdetectprocessor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap/zapcore"
	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

var s0 = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)

// nodePortBy is a NodePort service creation by user from ip at minute min of s0.
func nodePortBy(user, ip string, min float64) string {
	at := s0.Add(time.Duration(min * float64(time.Minute))).Format(time.RFC3339Nano)
	return fmt.Sprintf(`{"kind":"Event","auditID":"np-%s-%g","verb":"create","user":{"username":%q},"sourceIPs":[%q],`+
		`"objectRef":{"resource":"services","namespace":"shop","name":"svc-%g"},"requestObject":{"spec":{"type":"NodePort"}},"stageTimestamp":%q}`,
		user, min, user, ip, min, at)
}

// riskSummary describes each risk record: "user@minute+suppressed_count" (without +n when the field is absent).
func riskSummary(t *testing.T, lds []plog.Logs) []string {
	t.Helper()
	var out []string
	for _, ld := range lds {
		for _, r := range records(ld) {
			if !isRisk(r) {
				continue
			}
			a := r.Attributes()
			obj, _ := a.Get("risk_object")
			name, _ := a.Get("objectRef.name")
			s := obj.Str() + "@" + strings.TrimPrefix(name.Str(), "svc-")
			if n, ok := a.Get(SuppressedCountField); ok {
				s += fmt.Sprintf("+%d", n.Int())
			}
			out = append(out, s)
		}
	}
	return out
}

func throttled(window time.Duration, fields ...string) func(*Config) {
	return func(c *Config) {
		c.RuleOverrides = map[string]RuleOverride{"Test NodePort": {Throttle: &ThrottleConfig{Fields: fields, Window: window}}}
	}
}

func TestThrottle(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		batches [][]string
		// want is what comes out while running; wantFlush what Shutdown pushes downstream.
		want, wantFlush []string
	}{
		{
			name:    "not throttled: every match",
			mutate:  nil,
			batches: [][]string{{nodePortBy("eve", "1.1.1.1", 0), nodePortBy("eve", "1.1.1.1", 1)}},
			want:    []string{"eve@0", "eve@1"},
		},
		{
			name:   "one per window; the next match after it carries the count",
			mutate: throttled(10*time.Minute, "user"),
			batches: [][]string{
				{nodePortBy("eve", "1.1.1.1", 0), nodePortBy("eve", "1.1.1.1", 1)},
				{nodePortBy("eve", "2.2.2.2", 5), nodePortBy("eve", "1.1.1.1", 12)},
			},
			want: []string{"eve@0+0", "eve@12+2"},
		},
		{
			name:      "keys follow the configured fields",
			mutate:    throttled(10*time.Minute, "user", "src_ip"),
			batches:   [][]string{{nodePortBy("eve", "1.1.1.1", 0), nodePortBy("eve", "2.2.2.2", 1), nodePortBy("eve", "2.2.2.2", 2)}},
			want:      []string{"eve@0+0", "eve@1+0"},
			wantFlush: []string{"eve@2+0"},
		},
		{
			name:      "no fields: the risk object is the key",
			mutate:    throttled(10 * time.Minute),
			batches:   [][]string{{nodePortBy("eve", "1.1.1.1", 0), nodePortBy("bob", "1.1.1.1", 1), nodePortBy("eve", "2.2.2.2", 2), nodePortBy("eve", "2.2.2.2", 3)}},
			want:      []string{"eve@0+0", "bob@1+0"},
			wantFlush: []string{"eve@3+1"},
		},
		{
			name:   "a quiet key is reported in a later batch once its window expired",
			mutate: throttled(10*time.Minute, "user"),
			batches: [][]string{
				{nodePortBy("eve", "1.1.1.1", 0), nodePortBy("eve", "1.1.1.1", 3), nodePortBy("eve", "1.1.1.1", 4)},
				{nodePortBy("bob", "1.1.1.1", 30)},
			},
			want: []string{"eve@0+0", "bob@30+0", "eve@4+1"},
		},
		{
			name:      "shutdown flushes held-back counts downstream",
			mutate:    throttled(time.Hour, "user"),
			batches:   [][]string{{nodePortBy("eve", "1.1.1.1", 0), nodePortBy("eve", "1.1.1.1", 1), nodePortBy("eve", "1.1.1.1", 2), nodePortBy("bob", "1.1.1.1", 3)}},
			want:      []string{"eve@0+0", "bob@3+0"},
			wantFlush: []string{"eve@2+1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, sink, _ := newTestProcessor(t, testConfig(tt.mutate))
			for _, b := range tt.batches {
				var bodies []func(pcommon.Value)
				for _, body := range b {
					bodies = append(bodies, str(body))
				}
				require.NoError(t, p.ConsumeLogs(context.Background(), input(bodies...)))
			}
			running := len(sink.AllLogs())
			assert.Equal(t, tt.want, riskSummary(t, sink.AllLogs()))
			require.NoError(t, p.Shutdown(context.Background()))
			assert.Equal(t, tt.wantFlush, riskSummary(t, sink.AllLogs()[running:]))
		})
	}
}

func TestThrottleReportKeepsResourceAndRiskFields(t *testing.T) {
	p, sink, tel := newTestProcessor(t, testConfig(throttled(time.Hour, "user")))
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(nodePortBy("eve", "1.1.1.1", 0)), str(nodePortBy("eve", "1.1.1.1", 7)))))
	require.NoError(t, p.Shutdown(context.Background()))
	flushed := sink.AllLogs()[len(sink.AllLogs())-1]
	require.Equal(t, 1, flushed.LogRecordCount())
	rl := flushed.ResourceLogs().At(0)
	assert.Equal(t, map[string]any{"k8s.cluster.name": "prod"}, rl.Resource().Attributes().AsRaw(), "the held match's resource")
	rec := rl.ScopeLogs().At(0).LogRecords().At(0)
	attrs := rec.Attributes().AsRaw()
	assert.Equal(t, "eve", attrs["risk_object"])
	assert.Equal(t, "ESCU - Test NodePort - Rule", attrs["search_name"])
	assert.Equal(t, "np-eve-7", attrs["auditID"], "the latest held match")
	assert.Equal(t, int64(0), attrs[SuppressedCountField])
	assert.Equal(t, pcommon.NewTimestampFromTime(s0.Add(7*time.Minute)), rec.Timestamp(), "its own event time")
	assertSum(t, tel, "otelcol_processor_auditdetect_throttled_matches", 1)
	assertSum(t, tel, "otelcol_processor_auditdetect_risk_events", 2)
}

// TestThrottleReportKeepsProvenance: a held-back match that came in a cloud wrapper is reported later with the
// wrapper's provenance, as the match itself would have been.
func TestThrottleReportKeepsProvenance(t *testing.T) {
	p, sink, _ := newTestProcessor(t, testConfig(throttled(time.Hour, "user")))
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(aksRecord(nodePortBy("eve", "1.1.1.1", 0))),
		str(aksRecord(nodePortBy("eve", "1.1.1.1", 7))))))
	require.NoError(t, p.Shutdown(context.Background()))
	all := sink.AllLogs()
	require.Len(t, all, 2, "the batch, then the flushed report")
	var first plog.LogRecord
	for _, r := range records(all[0]) {
		if isRisk(r) {
			first = r
		}
	}
	report := records(all[1])
	require.Len(t, report, 1)
	for k, want := range aksProv {
		for what, rec := range map[string]plog.LogRecord{"admitted match": first, "report": report[0]} {
			v, ok := rec.Attributes().Get(k)
			if assert.True(t, ok, "%s: %s", what, k) {
				assert.Equal(t, want, v.Str(), "%s: %s", what, k)
			}
		}
	}
	id, _ := report[0].Attributes().Get("auditID")
	assert.Equal(t, "np-eve-7", id.Str(), "the report is the held match")
}

func TestStateTelemetry(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.MaxKeys = 3
	p, _, tel := newTestProcessor(t, cfg)
	var bodies []func(pcommon.Value)
	for i := 0; i < 5; i++ {
		bodies = append(bodies, str(fmt.Sprintf(`{"verb":"list","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},`+
			`"sourceIPs":["198.51.100.%d"],"requestURI":"/api","responseStatus":{"code":403},"stageTimestamp":"2026-11-03T09:00:00Z"}`, i)))
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), input(bodies...)))
	m, err := tel.GetMetric("otelcol_processor_auditdetect_window_keys")
	require.NoError(t, err)
	held := map[string]int64{}
	for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
		id, _ := dp.Attributes.Value("rule_id")
		held[id.AsString()] = dp.Value
	}
	assert.Equal(t, int64(3), held["1abd30ff-e140-49af-bb4e-bbdd03722c96"], "scanning rule holds max_keys groups")
	assertSum(t, tel, "otelcol_processor_auditdetect_window_evicted_keys", 2)
}

func TestRouteMode(t *testing.T) {
	anon := func(ip string) string {
		return fmt.Sprintf(`{"verb":"list","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"sourceIPs":[%q],"responseStatus":{"code":403}}`, ip)
	}
	cfg := createDefaultConfig()
	cfg.Mode = ModeRoute
	cfg.RoutingAttribute = "auditdetect.routing_key"
	require.NoError(t, cfg.Validate(), "route mode needs no GeoIP database")
	p, sink, _ := newTestProcessor(t, cfg)
	lease := `{"verb":"update","objectRef":{"resource":"leases"},"user":{"username":"system:kube-scheduler"},"sourceIPs":["10.0.0.2"]}`
	ld := input(str(anon("198.51.100.1")), str(anon("198.51.100.1")), str(anon("198.51.100.2")), str(lease), str("not json"))
	preset := pcommon.TraceID([16]byte{9, 9, 9})
	ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(3).SetTraceID(preset)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	got := records(sink.AllLogs()[0])
	require.Len(t, got, 5, "route mode adds no records and drops none")

	key := func(r plog.LogRecord) any { return r.Attributes().AsRaw()["auditdetect.routing_key"] }
	assert.Equal(t, RouteTraceID("198.51.100.1"), got[0].TraceID(), "TraceID from the key: the source address")
	assert.Equal(t, got[0].TraceID(), got[1].TraceID(), "one key, one TraceID")
	assert.NotEqual(t, got[0].TraceID(), got[2].TraceID(), "another key, another TraceID")
	assert.Equal(t, "198.51.100.1", key(got[0]))
	assert.Equal(t, "198.51.100.2", key(got[2]))
	assert.Equal(t, preset, got[3].TraceID(), "a record no windowed rule counts keeps its TraceID")
	assert.Nil(t, key(got[3]))
	assert.True(t, got[4].TraceID().IsEmpty())
	for _, r := range got {
		assert.False(t, isRisk(r), "route mode detects nothing")
	}
}

func TestRouteTraceIDIsStable(t *testing.T) {
	// Every agent, of every version, must send a key to the same gateway: the hash is fixed.
	tests := []struct{ key, want string }{
		{"198.51.100.1", RouteTraceID("198.51.100.1").String()},
		{"", "6c62272e07bb014262b821756295c58d"},
		{"a", "d228cb696f1a8caf78912b704e4a8964"},
	}
	for _, tt := range tests {
		got := RouteTraceID(tt.key)
		assert.Equal(t, tt.want, got.String(), "key %q", tt.key)
		assert.False(t, got.IsEmpty())
	}
}

// TestReplayScanningLog replays a synthetic audit log through the processor with the built-in pack: a burst of six
// anonymous 403s from 198.51.100.10 within ten minutes (10:05-10:15, then two more at 10:20 and 10:25), a slow five
// from .20 over fifty minutes, and six from .30 within eight minutes, split three and three across 11:00. With the
// default hourly windows only the burst is reported, once, with the counts and values of its first six requests; the
// other windows show that the answer is the window's, as it is the scheduled search's in Splunk.
func TestReplayScanningLog(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		want   []string // src_ip=count of each scanning risk event
	}{
		{"hourly windows, as Splunk schedules the search", time.Hour, []string{"198.51.100.10=6"}},
		{"two-hour windows also catch the burst across 11:00", 2 * time.Hour, []string{"198.51.100.10=6", "198.51.100.30=6"}},
		{"ten-minute windows split the burst at 10:10", 10 * time.Minute, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := createDefaultConfig()
			cfg.Window = tt.window
			scans, lines, tel := replay(t, cfg, filepath.Join("testdata", "replay", "scanning-audit.log"))
			var got []string
			for _, a := range scans {
				got = append(got, fmt.Sprintf("%v=%v", a["src_ip"], a["count"]))
			}
			assert.Equal(t, tt.want, got)
			assertSum(t, tel, "otelcol_processor_auditdetect_records", int64(lines))
			if len(scans) == 0 || tt.window != time.Hour {
				return
			}
			a := scans[0]
			assert.Equal(t, "198.51.100.10", a["risk_object"])
			assert.Equal(t, "system", a["risk_object_type"])
			assert.Equal(t, []any{"/api/v1/configmaps", "/api/v1/namespaces", "/api/v1/nodes", "/api/v1/pods", "/api/v1/secrets", "/apis/apps/v1/deployments"}, a["request_uris"])
			assert.Equal(t, "list", a["verbs"])
			assert.Equal(t, []any{"Mozilla/5.0 zgrab/0.x", "curl/8.4.0"}, a["user_agents"])
			assert.Equal(t, "system:anonymous", a["user"])
			assert.Equal(t, "6 anonymous requests from 198.51.100.10 were refused with 403, a sign of scanning of the Kubernetes API", a["risk_message"])
		})
	}
}

// replay feeds an audit log to a processor in batches of seven lines, as a filelog receiver would hand them over,
// shuts it down, and returns the attributes of the scanning rule's risk records.
func replay(t *testing.T, cfg *Config, path string) (scans []map[string]any, lines int, tel *componenttest.Telemetry) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	p, sink, tel := newTestProcessor(t, cfg)
	var batch []func(pcommon.Value)
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		batch = append(batch, str(sc.Text()))
		lines++
		if len(batch) == 7 {
			require.NoError(t, p.ConsumeLogs(context.Background(), input(batch...)))
			batch = nil
		}
	}
	require.NoError(t, sc.Err())
	if len(batch) > 0 {
		require.NoError(t, p.ConsumeLogs(context.Background(), input(batch...)))
	}
	require.NoError(t, p.Shutdown(context.Background()))
	for _, ld := range sink.AllLogs() {
		for _, r := range records(ld) {
			a := r.Attributes().AsRaw()
			if a["search_name"] == "Kubernetes API Scanning by Unauthenticated Source" {
				scans = append(scans, a)
			}
		}
	}
	return scans, lines, tel
}

// TestScaleOutConfigs loads the auditdetect sections of config/scale-out (environment references replaced by their
// defaults) through the factory: the agent routes by the source address, the gateway's override names a real rule.
// `make test-binary` validates the whole files with the collector binary.
func TestScaleOutConfigs(t *testing.T) {
	envRef := regexp.MustCompile(`\$\{env:[A-Z_]+(?::-([^}]*))?\}`)
	tests := []struct {
		file, id   string
		wantMode   Mode
		wantRoutes []string
	}{
		{"agent.yaml", "auditdetect/route", ModeRoute, []string{"sourceIPs{}"}},
		{"gateway.yaml", "auditdetect", ModeFork, []string{"sourceIPs{}"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "config", "scale-out", tt.file))
			require.NoError(t, err)
			var doc struct {
				Processors map[string]map[string]any `yaml:"processors"`
			}
			require.NoError(t, yaml.Unmarshal(envRef.ReplaceAll(raw, []byte("$1")), &doc))
			section, ok := doc.Processors[tt.id]
			require.True(t, ok, "no processor %s in %s", tt.id, tt.file)
			cfg := createDefaultConfig()
			require.NoError(t, confmap.NewFromStringMap(section).Unmarshal(cfg))
			require.NoError(t, xconfmap.Validate(cfg))
			assert.Equal(t, tt.wantMode, cfg.Mode)
			d, err := buildDetector(cfg, nil)
			require.NoError(t, err)
			defer d.close()
			assert.Equal(t, tt.wantRoutes, d.engine.RouteFields())
		})
	}
}

// TestRetriedBatchIsCountedOnce: the next consumer refuses a batch and the receiver sends it again. The windowed rule
// counts each event once, and the group that fired in the refused attempt fires again in the retry, the batch that
// goes on: Splunk gets the risk event once, with the count of one delivery.
func TestRetriedBatchIsCountedOnce(t *testing.T) {
	// Six anonymous requests refused from one address: the scanning rule fires at the sixth (count > 5).
	batch := func() plog.Logs {
		var bodies []func(pcommon.Value)
		for i := 0; i < 6; i++ {
			bodies = append(bodies, str(fmt.Sprintf(`{"auditID":"scan-%d","stage":"ResponseComplete","verb":"list",`+
				`"user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"sourceIPs":["198.51.100.7"],`+
				`"requestURI":"/api/v1/secrets","responseStatus":{"code":403},"stageTimestamp":"2026-11-03T09:00:0%dZ"}`, i, i)))
		}
		return input(bodies...)
	}
	eachRetry(t, batch, func(t *testing.T, p processor.Logs, sink *consumertest.LogsSink, first, retry plog.Logs) {
		require.Error(t, p.ConsumeLogs(context.Background(), first), "the refusal goes back to the receiver")
		require.NoError(t, p.ConsumeLogs(context.Background(), retry))
		got := records(sink.AllLogs()[0])
		require.Len(t, got, 7, "the six records once, and one risk record")
		require.True(t, isRisk(got[6]), "the group fires in the retry")
		count, _ := got[6].Attributes().Get("count")
		assert.Equal(t, "6", count.AsString(), "each event counted once")
	})
}

// eachRetry runs check twice on a processor whose next consumer refuses the first batch: once with the retry read
// again from the source (a new batch object), once with the very batch object sent again (the filelog receiver's
// retry_on_failure), which the processor changed the first time.
func eachRetry(t *testing.T, batch func() plog.Logs,
	check func(t *testing.T, p processor.Logs, sink *consumertest.LogsSink, first, retry plog.Logs)) {
	t.Helper()
	for _, same := range []bool{false, true} {
		t.Run(map[bool]string{false: "read again", true: "same batch object"}[same], func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			p := processorRefusedOnce(t, createDefaultConfig(), sink)
			t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
			first := batch()
			retry := first
			if !same {
				retry = batch()
			}
			check(t, p, sink, first, retry)
		})
	}
}

// TestRetriedBatchThroughAThrottle: a throttle answers a row delivered again as it did the first time. The retry of
// a refused batch passes on the admitted match again, and the held one is held once, as if the batch had gone
// through the first time.
func TestRetriedBatchThroughAThrottle(t *testing.T) {
	sink := new(consumertest.LogsSink)
	p := processorRefusedOnce(t, testConfig(throttled(time.Hour, "user")), sink)
	batch := func() plog.Logs {
		return input(str(nodePortBy("eve", "1.1.1.1", 0)), str(nodePortBy("eve", "1.1.1.1", 7)))
	}
	require.Error(t, p.ConsumeLogs(context.Background(), batch()))
	require.NoError(t, p.ConsumeLogs(context.Background(), batch()))
	require.NoError(t, p.Shutdown(context.Background()))
	assert.Equal(t, []string{"eve@0+0", "eve@7+0"}, riskSummary(t, sink.AllLogs()),
		"the admitted match again, then the report of the one held (held once)")
}

// processorRefusedOnce starts a processor whose next consumer refuses the first batch (as an exporter with a full
// sending queue does) and passes the later ones to sink.
func processorRefusedOnce(t *testing.T, cfg *Config, sink *consumertest.LogsSink) processor.Logs {
	t.Helper()
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg,
		refusingOnce(t, sink))
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	return p
}

// refusingOnce is a next consumer that refuses the first batch and passes the later ones to sink.
func refusingOnce(t *testing.T, sink *consumertest.LogsSink) consumer.Logs {
	return refusingCall(t, sink, 1)
}

// refusingCall is a next consumer that refuses the n-th batch (as an exporter with a full sending queue does) and
// passes the others to sink.
func refusingCall(t *testing.T, sink *consumertest.LogsSink, n int) consumer.Logs {
	t.Helper()
	calls := 0
	next, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		if calls++; calls == n {
			return errors.New("sending queue is full")
		}
		return sink.ConsumeLogs(ctx, ld)
	})
	require.NoError(t, err)
	return next
}

// TestThrottleTellsStagesApart: the events of two stages of one request (one auditID) are two events, not one
// delivered twice: the second is throttled as a repeat, not passed on as the first was.
func TestThrottleTellsStagesApart(t *testing.T) {
	p, sink, _ := newTestProcessor(t, testConfig(throttled(time.Hour, "user")))
	staged := func(stage string) func(pcommon.Value) {
		return str(`{"stage":"` + stage + `",` + nodePortBy("eve", "1.1.1.1", 0)[1:])
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), input(staged("ResponseStarted"), staged("ResponseComplete"))))
	require.NoError(t, p.Shutdown(context.Background()))
	all := sink.AllLogs()
	require.Len(t, all, 2, "the batch, then the flushed report")
	assert.Equal(t, []string{"eve@0+0"}, riskSummary(t, all[:1]), "the first stage's match only")
	assert.Equal(t, []string{"eve@0+0"}, riskSummary(t, all[1:]), "the second, held, reported at the end")
}

// TestRedeliveredRowsThroughAThrottle: an event of a windowed rule fires two groups, the first held by the throttle
// and the second passed on. Delivered again, it gets the same answer: the throttle passes the second on again and
// holds nothing more (the rows the engine gives back are the first delivery's, unchanged by the throttle).
func TestRedeliveredRowsThroughAThrottle(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "by_ip.yml"), []byte(`name: Test By IP
id: 0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0002
version: 1
date: '2026-12-05'
author: auditdetect tests
status: production
type: Anomaly
description: Creations, per source address and event.
data_source:
  - Kubernetes Audit
search: '`+"`kube_audit`"+` verb=create
  | stats count by sourceIPs{} auditID
  | rename sourceIPs{} as src_ip
  | where count > 0'
rba:
  message: A creation from $src_ip$
  risk_objects:
    - field: src_ip
      type: system
      score: 20
tags:
  analytic_story:
    - Kubernetes Security
  mitre_attack_id:
    - T1204
`), 0o644))
	cfg := createDefaultConfig()
	cfg.Rules = []string{dir}
	cfg.RuleOverrides = map[string]RuleOverride{"Test By IP": {Throttle: &ThrottleConfig{Fields: []string{"src_ip"}, Window: time.Hour}}}
	event := func(id string, ips string) func(pcommon.Value) {
		return str(fmt.Sprintf(`{"auditID":%q,"stage":"ResponseComplete","verb":"create","sourceIPs":[%s],`+
			`"stageTimestamp":"2026-11-03T09:00:00Z"}`, id, ips))
	}
	p, sink, _ := newTestProcessor(t, cfg)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(event("a", `"1.1.1.1"`))))
	for range 2 {
		require.NoError(t, p.ConsumeLogs(context.Background(), input(event("b", `"1.1.1.1","2.2.2.2"`))))
	}
	require.NoError(t, p.Shutdown(context.Background()))
	var got []string
	for _, ld := range sink.AllLogs() {
		for _, r := range records(ld) {
			if isRisk(r) {
				ip, _ := r.Attributes().Get("src_ip")
				id, _ := r.Attributes().Get("auditID")
				got = append(got, ip.AsString()+"/"+id.AsString())
			}
		}
	}
	assert.Equal(t, []string{"1.1.1.1/a", "2.2.2.2/b", "2.2.2.2/b", "1.1.1.1/b"}, got,
		"a's group; b's second group, twice; at the end the report of b's first group, held once")
}

// TestReportInARefusedBatchComesAgain: a throttle report that came due in a batch the next consumer refused goes
// back to its throttle and goes out with the next batch, the retry.
func TestReportInARefusedBatchComesAgain(t *testing.T) {
	for _, same := range []bool{false, true} {
		t.Run(map[bool]string{false: "read again", true: "same batch object"}[same], func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type),
				testConfig(throttled(10*time.Minute, "user")), refusingCall(t, sink, 2))
			require.NoError(t, err)
			require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
			t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

			// eve's first match goes out, her second is held back in a ten-minute window.
			require.NoError(t, p.ConsumeLogs(context.Background(),
				input(str(nodePortBy("eve", "1.1.1.1", 0)), str(nodePortBy("eve", "1.1.1.1", 7)))))
			// Bob's match at minute 30 closes eve's window: her report is due in this batch, which is refused.
			first := input(str(nodePortBy("bob", "2.2.2.2", 30)))
			retry := first
			if !same {
				retry = input(str(nodePortBy("bob", "2.2.2.2", 30)))
			}
			require.Error(t, p.ConsumeLogs(context.Background(), first))
			require.NoError(t, p.ConsumeLogs(context.Background(), retry))
			assert.Equal(t, []string{"eve@0+0", "bob@30+0", "eve@7+0"}, riskSummary(t, sink.AllLogs()),
				"eve's report goes out with the retry, once")
		})
	}
}

// TestReportGivenBackGoesWithABatchWithoutMatch: a refused batch gives eve's report back to her throttle, and the
// next batch carries it, though nothing in it matches (it moves no throttle's time).
func TestReportGivenBackGoesWithABatchWithoutMatch(t *testing.T) {
	p, sink := eveHeld(t, testConfig(throttled(10*time.Minute, "user")))
	refuse, err := consumer.NewLogs(func(context.Context, plog.Logs) error { return errors.New("refused") })
	require.NoError(t, err)
	out, err := p.processLogs(context.Background(), input(str(nodePortBy("bob", "2.2.2.2", 30)))) // eve's report is due
	require.NoError(t, err)
	require.Error(t, deliveryWatch{Logs: refuse, p: p}.ConsumeLogs(context.Background(), out))
	out, err = p.processLogs(context.Background(), input(str(leaseGet(31))))
	require.NoError(t, err)
	require.NoError(t, deliveryWatch{Logs: sink, p: p}.ConsumeLogs(context.Background(), out))
	assert.Equal(t, []string{"eve@0+0", "eve@7+0"}, riskSummary(t, sink.AllLogs()))
}

// TestRefusedBatchesAreBounded: the processor remembers what it added to at most maxRefused refused batches (a
// receiver that gives up on a batch never sends it again); a batch refused twice is not forgotten early for it.
func TestRefusedBatchesAreBounded(t *testing.T) {
	p, err := newAuditProcessor(processortest.NewNopSettings(metadata.Type), testConfig(throttled(time.Hour, "user")))
	require.NoError(t, err)
	refuse, err := consumer.NewLogs(func(context.Context, plog.Logs) error { return errors.New("refused") })
	require.NoError(t, err)
	w := deliveryWatch{Logs: refuse, p: p}
	send := func(ld plog.Logs) {
		out, err := p.processLogs(context.Background(), ld)
		require.NoError(t, err)
		require.Error(t, w.ConsumeLogs(context.Background(), out))
	}
	twice := input(str(nodePortBy("zed", "9.9.9.9", 0)))
	send(twice)
	for i := 0; i < maxRefused-10; i++ {
		send(input(str(nodePortBy(fmt.Sprintf("u%d", i), "1.1.1.1", float64(i)))))
	}
	// Refused again (its retry, refused too), then more batches push its first entry out of the order: what the
	// second refusal added must stay remembered.
	send(twice)
	for i := 0; i < 20; i++ {
		send(input(str(nodePortBy(fmt.Sprintf("v%d", i), "1.1.1.1", 0))))
	}
	_, kept := p.state.deliveries.refused[twice]
	assert.True(t, kept, "an older entry of a batch refused again forgot its newer additions")
	for i := 0; i < maxRefused; i++ {
		send(input(str(nodePortBy(fmt.Sprintf("w%d", i), "1.1.1.1", 0))))
	}
	assert.Len(t, p.state.deliveries.refused, maxRefused)
	assert.Len(t, p.state.deliveries.refusedOrder, maxRefused)
	_, kept = p.state.deliveries.refused[twice]
	assert.False(t, kept, "forgotten after maxRefused newer refusals")
}

// elasticRuleDir writes an Elastic rule named name (rule_id id, risk score 47, medium) into file in a new directory,
// and returns the directory; rest ends the rule's TOML: its type, language and query, and what its type needs.
func elasticRuleDir(t *testing.T, file, name, id, rest string) string {
	t.Helper()
	dir := t.TempDir()
	rule := "[metadata]\ncreation_date = \"2026/01/01\"\n\n[rule]\nauthor = [\"test\"]\n" +
		fmt.Sprintf("name = %q\nrule_id = %q\nrisk_score = 47\nseverity = \"medium\"\n", name, id) + rest
	require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(rule), 0o600))
	return dir
}

// newSecretReaderRule writes an Elastic new_terms rule (id nt-1: a secret read by a user.name not seen before) into
// a new directory and returns it.
func newSecretReaderRule(t *testing.T) string {
	t.Helper()
	return elasticRuleDir(t, "new_reader.toml", "New Secret Reader", "nt-1", "type = \"new_terms\"\nlanguage = \"kuery\"\n"+
		"query = 'kubernetes.audit.verb:get and kubernetes.audit.objectRef.resource:secrets'\n\n"+
		"[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [\"user.name\"]\n"+
		"[[rule.new_terms.history_window_start]]\nfield = \"history_window_start\"\nvalue = \"now-7d\"\n")
}

// TestNewTermsLearningSetting: new_terms_learning reaches the engine. The first hour of secret reads (event time) is
// learnt; after it, a reader seen in that hour is not new and one never seen is.
func TestNewTermsLearningSetting(t *testing.T) {
	dir := newSecretReaderRule(t)
	read := func(user string, min int) string {
		return fmt.Sprintf(`{"kind":"Event","auditID":"%s-%d","stage":"ResponseComplete","verb":"get","user":{"username":%q},`+
			`"sourceIPs":["10.0.0.5"],"objectRef":{"resource":"secrets","namespace":"shop","name":"db"},"stageTimestamp":%q}`,
			user, min, user, s0.Add(time.Duration(min)*time.Minute).Format(time.RFC3339Nano))
	}
	for _, tc := range []struct {
		learning time.Duration
		want     []string // users whose reads became risk records, in order
	}{
		{0, []string{"alice", "bob", "carol"}},
		{time.Hour, []string{"carol"}},
	} {
		t.Run(tc.learning.String(), func(t *testing.T) {
			p, sink, _ := newTestProcessor(t, testConfig(func(cfg *Config) {
				cfg.Rules, cfg.Macros = []string{dir}, nil
				cfg.NewTermsLearning = tc.learning
			}))
			ld := input(str(read("alice", 0)), str(read("bob", 30)), str(read("alice", 61)), str(read("bob", 70)),
				str(read("carol", 75)))
			require.NoError(t, p.ConsumeLogs(context.Background(), ld))
			var got []string
			for _, out := range sink.AllLogs() {
				for _, r := range records(out) {
					if isRisk(r) {
						v, _ := r.Attributes().Get("risk_object")
						got = append(got, v.AsString())
					}
				}
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// A rule whose rows are the matching event (no stats) carries only some event fields on them; a throttle keyed on
// another field must still see it, or every match would share one empty key and all but the first be held back.
func TestThrottleOnAnEventFieldOfAWholeEventRule(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "sigma.yml"), []byte(`title: Test NodePort Sigma
id: 6f1f0e43-7a56-4c36-9d38-0b1b2a7c1e11
logsource: {product: kubernetes, service: audit}
detection:
  sel: {verb: create, objectRef.resource: services, requestObject.spec.type: NodePort}
  condition: sel
level: medium
`), 0o600))
	cfg := testConfig(func(c *Config) {
		c.Rules = []string{dir}
		c.Macros = nil
		c.RuleOverrides = map[string]RuleOverride{"Test NodePort Sigma": {Throttle: &ThrottleConfig{
			Fields: []string{"requestObject.spec.type", "stageTimestamp"}, Window: time.Hour}}}
	})
	p, sink, _ := newTestProcessor(t, cfg)
	// Three events of one user, each with its own timestamp: three keys, three risk records.
	require.NoError(t, p.ConsumeLogs(context.Background(),
		input(str(nodePortBy("eve", "1.1.1.1", 0)), str(nodePortBy("eve", "1.1.1.1", 1)), str(nodePortBy("eve", "1.1.1.1", 2)))))
	assert.Equal(t, []string{"eve@0+0", "eve@1+0", "eve@2+0"}, riskSummary(t, sink.AllLogs()))
}

// Two rule_overrides keys naming one rule (its ID and its name) are merged; a setting both set would be resolved by
// map order, differently for the engine's row fields and for the throttle: refused, naming both keys.
func TestOverrideKeysNamingOneRule(t *testing.T) {
	cfg := testConfig(func(c *Config) {
		c.RuleOverrides = map[string]RuleOverride{
			"Test NodePort":                        {Throttle: &ThrottleConfig{Fields: []string{"user"}, Window: time.Hour}},
			"0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001": {Throttle: &ThrottleConfig{Fields: []string{"src_ip"}, Window: time.Hour}},
		}
	})
	_, err := buildDetector(cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `both name rule "Test NodePort" and both set throttle`)

	// Two messages for one rule: the loader would keep the one whose key sorts last.
	_, err = buildDetector(testConfig(func(c *Config) {
		c.RuleOverrides = map[string]RuleOverride{
			"Test NodePort":                        {Message: "NodePort by $user$"},
			"0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001": {Message: "NodePort service $objectRef.name$"},
		}
	}), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `both name rule "Test NodePort" and both set message`)

	// Settings one key sets and the other does not are merged.
	cfg.RuleOverrides["0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001"] = RuleOverride{Window: 2 * time.Hour}
	d, err := buildDetector(cfg, nil)
	require.NoError(t, err)
	defer d.close()
	byID, _, twice := resolveOverrides(cfg, d.engine.Rules())
	assert.Empty(t, twice)
	o := byID["0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001"]
	assert.Equal(t, 2*time.Hour, o.Window)
	require.NotNil(t, o.Throttle)
	assert.Equal(t, []string{"user"}, o.Throttle.Fields)
}

// enabled: false in rule_overrides turns one rule off: the others run, the record passes on, the start-up log says
// which rule is off; turning every rule off runs and says nothing is detected.
func TestDisabledRule(t *testing.T) {
	off := false
	searchNames := func(s started, body string) []string {
		require.NoError(t, s.p.ConsumeLogs(context.Background(), input(str(body))))
		all := s.sink.AllLogs()
		recs := records(all[len(all)-1])
		var names []string
		for _, r := range recs {
			if v, ok := r.Attributes().Get("search_name"); ok && isRisk(r) {
				names = append(names, v.Str())
			}
		}
		assert.Equal(t, nodePortCreate, recs[0].Body().Str(), "the audit record passes on unchanged")
		return names
	}

	both := startWithLogs(t, testConfig(func(c *Config) { c.Rules = append(c.Rules, BuiltinRules) }))
	require.Contains(t, searchNames(both, nodePortCreate), "ESCU - Test NodePort - Rule")

	s := startWithLogs(t, testConfig(func(c *Config) {
		c.Rules = append(c.Rules, BuiltinRules)
		c.RuleOverrides = map[string]RuleOverride{"Test NodePort": {Enabled: &off}}
	}))
	names := searchNames(s, nodePortCreate)
	assert.NotContains(t, names, "ESCU - Test NodePort - Rule")
	assert.Contains(t, names, "Kubernetes NodePort Service Exposed", "the other rules still run")
	logged := s.logs.FilterMessage("rule disabled by rule_overrides").All()
	require.Len(t, logged, 1)
	assert.Equal(t, "Test NodePort", logged[0].ContextMap()["rule"])
	loaded := s.logs.FilterMessageSnippet("rules loaded").All()
	require.NotEmpty(t, loaded)
	assert.EqualValues(t, 1, loaded[0].ContextMap()["disabled"])
	assert.Equal(t, int64(1), gauge(s.tel, "otelcol_processor_auditdetect_rules_disabled"))

	// Disabled by its ID, the only rule: nothing runs, and the log says so.
	none := startWithLogs(t, testConfig(func(c *Config) {
		c.RuleOverrides = map[string]RuleOverride{"0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001": {Enabled: &off}}
	}))
	assert.Empty(t, searchNames(none, nodePortCreate))
	warned := none.logs.FilterMessageSnippet("no detection rule runs").All()
	require.Len(t, warned, 1)
	assert.EqualValues(t, 1, warned[0].ContextMap()["disabled"])

	// A typo is refused, as for every override; two keys of one rule that both set enabled conflict.
	_, err := buildDetector(testConfig(func(c *Config) {
		c.RuleOverrides = map[string]RuleOverride{"Test NodePrt": {Enabled: &off}}
	}), nil)
	assert.ErrorContains(t, err, `no loaded rule has the id or name "Test NodePrt" (did you mean "Test NodePort"?)`)
	on := true
	_, err = buildDetector(testConfig(func(c *Config) {
		c.RuleOverrides = map[string]RuleOverride{
			"Test NodePort":                        {Enabled: &off},
			"0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001": {Enabled: &on},
		}
	}), nil)
	assert.ErrorContains(t, err, `both name rule "Test NodePort" and both set enabled`)
}

// TestNeverTrueTermsAreSaid: a rule whose filter needs a term no API server event satisfies is loaded and counted,
// with a warning naming the rule, its file and the term that decides it (not a dead alternative beside it), and not
// evaluated: an event written by hand with that term gets nothing from it; an exclusion that never
// applies is a warning too; a dead alternative of a rule that still runs is information; a rule turned off is not
// said.
func TestNeverTrueTermsAreSaid(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "never.yml"), `name: Never
id: nv
search: objectRef.resource=cronjobs verb IN (create, replace) stage=ResponseCompleted
rba:
  message: a create
  risk_objects: [{field: user.username, type: user, score: 5}]
`)
	writeFile(t, filepath.Join(dir, "dead.yml"), `name: Dead Alternative
id: da
search: verb IN (create, replace) objectRef.resource=cronjobs
rba:
  message: a cronjob
  risk_objects: [{field: user.username, type: user, score: 5}]
`)
	writeFile(t, filepath.Join(dir, "exclusion.yml"), `name: Exclusion
id: ex
search: objectRef.resource=secrets verb=get NOT user.name=system:admin
rba:
  message: a secret read
  risk_objects: [{field: user.username, type: user, score: 5}]
`)
	s := startWithLogs(t, testConfig(func(c *Config) { c.Rules, c.Macros = []string{dir}, nil }))
	excl := s.logs.FilterMessageSnippet("exclusion that never applies").All()
	require.Len(t, excl, 1)
	assert.Equal(t, zapcore.WarnLevel, excl[0].Level)
	assert.Equal(t, "Exclusion", excl[0].ContextMap()["rule"])
	assert.Contains(t, fmt.Sprint(excl[0].ContextMap()["terms"]), "`user.name=system:admin` is never true: user has no member")
	warned := s.logs.FilterMessageSnippet("can never match").All()
	require.Len(t, warned, 1)
	assert.Equal(t, zapcore.WarnLevel, warned[0].Level)
	assert.Equal(t, "Never", warned[0].ContextMap()["rule"])
	assert.Contains(t, warned[0].ContextMap()["file"], "never.yml:3")
	terms := fmt.Sprint(warned[0].ContextMap()["terms"])
	assert.Contains(t, terms, "`stage=ResponseCompleted` is never true: stage is one of")
	assert.NotContains(t, terms, "replace", "the dead alternative is not why the rule never matches")
	assert.Equal(t, int64(1), gauge(s.tel, "otelcol_processor_auditdetect_rules_never_matching"), "Never")
	assert.Contains(t, warned[0].Message, "not evaluated")
	handMade := `{"kind":"Event","auditID":"h-1","stage":"ResponseCompleted","verb":"create","user":{"username":"eve"},` +
		`"objectRef":{"resource":"cronjobs","namespace":"x","name":"c"}}`
	var names []string
	for _, r := range records(func() plog.Logs {
		require.NoError(t, s.p.ConsumeLogs(context.Background(), input(str(handMade))))
		all := s.sink.AllLogs()
		return all[len(all)-1]
	}()) {
		if v, ok := r.Attributes().Get("search_name"); ok && isRisk(r) {
			names = append(names, v.Str())
		}
	}
	assert.Equal(t, []string{"ESCU - Dead Alternative - Rule"}, names, "Never is not evaluated; the rule beside it is")
	said := s.logs.FilterMessageSnippet("alternative that is never true").All()
	require.Len(t, said, 1)
	assert.Equal(t, zapcore.InfoLevel, said[0].Level)
	assert.Equal(t, "Dead Alternative", said[0].ContextMap()["rule"])

	off := false
	quiet := startWithLogs(t, testConfig(func(c *Config) {
		c.Rules, c.Macros = []string{dir}, nil
		c.RuleOverrides = map[string]RuleOverride{"Never": {Enabled: &off}}
	}))
	assert.Empty(t, quiet.logs.FilterMessageSnippet("can never match").All(), "a rule turned off is not warned about")
	assert.Equal(t, int64(0), gauge(quiet.tel, "otelcol_processor_auditdetect_rules_never_matching"))
}

// A rule its upstream marks deprecated runs, with a warning naming it, and so does one that names a resource by its
// kind (Secret); a rule turned off is not said.
func TestDeprecatedRuleIsSaid(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "old.yml"), `name: Old
id: old
status: deprecated
search: objectRef.resource=secrets verb=get
rba:
  message: a secret read
  risk_objects: [{field: user.username, type: user, score: 5}]
`)
	writeFile(t, filepath.Join(dir, "kind.yml"), `name: Kind
id: kind
search: objectRef.resource=Secret verb=get
rba:
  message: a secret read
  risk_objects: [{field: user.username, type: user, score: 5}]
`)
	s := startWithLogs(t, testConfig(func(c *Config) { c.Rules, c.Macros = []string{dir}, nil }))
	warned := s.logs.FilterMessageSnippet("deprecated upstream").All()
	require.Len(t, warned, 1)
	assert.Equal(t, zapcore.WarnLevel, warned[0].Level)
	assert.Equal(t, "Old", warned[0].ContextMap()["rule"])
	named := s.logs.FilterMessageSnippet("names a resource as audit events never write it").All()
	require.Len(t, named, 1)
	assert.Equal(t, "Kind", named[0].ContextMap()["rule"])
	assert.Contains(t, named[0].ContextMap()["term"], "(secrets?)")
	off := false
	quiet := startWithLogs(t, testConfig(func(c *Config) {
		c.Rules, c.Macros = []string{dir, BuiltinRules}, nil
		c.RuleOverrides = map[string]RuleOverride{"old": {Enabled: &off}, "kind": {Enabled: &off}}
	}))
	assert.Empty(t, quiet.logs.FilterMessageSnippet("deprecated upstream").All())
	assert.Empty(t, quiet.logs.FilterMessageSnippet("names a resource").All())
}
