package auditdetectprocessor

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditdetect/auditdetect/processor/geoip/geoiptest"
	"github.com/auditdetect/auditdetect/processor/rba"
)

// fullPackConfig runs the whole built-in pack, the iplocation rules included (a GeoIP stub places 203.0.113.45).
func fullPackConfig(t testing.TB, mutate func(*Config)) *Config {
	t.Helper()
	cfg := createDefaultConfig()
	cfg.GeoIPDatabase = geoiptest.WriteCityDB(t, map[string]geoiptest.Place{
		"203.0.113.45/32": {City: "Amsterdam", Country: "Netherlands", CountryISO: "NL", Region: "North Holland", Lat: 52.37, Lon: 4.89},
	})
	if mutate != nil {
		mutate(cfg)
	}
	require.NoError(t, cfg.Validate())
	return cfg
}

// builtinEvent reads one test event of the built-in pack.
func builtinEvent(t testing.TB, rule, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "builtin", "testdata", rule, file))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// nodePortEvent is a built-in test event that exactly one built-in rule matches with one risk event per source IP.
func nodePortEvent(t testing.TB) string {
	return builtinEvent(t, "kubernetes_nodeport_service_exposed", "match-create-nodeport.json")
}

// withField sets one top-level field of a JSON event, replacing it if present.
func withField(t testing.TB, event, key string, value any) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(event), &m))
	m[key] = value
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
}

func TestHostileInput(t *testing.T) {
	np := nodePortEvent(t)
	base := fullPackConfig(t, nil)
	require.True(t, strings.HasPrefix(np, `{"kind":"Event"`))
	ips := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("198.51.%d.%d", i/250%250, i%250)
		}
		return out
	}
	// Built by concatenation: marshalling 64 MiB under -race takes seconds.
	huge := np[:len(np)-1] + `,"pad":"` + strings.Repeat("x", 64<<20) + `"}`
	// Two 5 MiB items: the batch is past max_body_bytes once decompressed, each item under it.
	half := np[:len(np)-1] + `,"pad":"` + strings.Repeat("x", 5<<20) + `"}`
	gzList := gzipFast(t, `{"kind":"EventList","items":[`, half, `,`, half, `]}`)
	// A matching item, then one that makes the batch decompress past the normaliser's 64 MiB: it stops there.
	gzBomb := gzipFast(t, `{"kind":"EventList","items":[`, np, `,`, huge, `]}`)
	rawBytes := func(b []byte) func(pcommon.Value) { return func(v pcommon.Value) { v.SetEmptyBytes().FromRaw(b) } }
	const hugeIPs = 20000
	// The engine's stats stage keeps at most 1000 groups per event (engine.maxGroupsPerEvent) before the RBA writer
	// caps what is left; the dropped counter reports the writer's cut.
	const rowsKept = 1000
	mapOf := func(event string) func(pcommon.Value) {
		return func(v pcommon.Value) {
			var raw map[string]any
			require.NoError(t, json.Unmarshal([]byte(event), &raw))
			require.NoError(t, v.SetEmptyMap().FromRaw(raw))
		}
	}

	type counts struct{ unparsed, unrecognized, oversized, risk, dropped, cut int64 }
	for _, tc := range []struct {
		name string
		body func(pcommon.Value)
		cfg  func(*Config)
		want counts
		// check looks further at the risk records the case produced.
		check func(t *testing.T, risk []plog.LogRecord)
	}{
		{name: "control: the event as written", body: str(np), want: counts{risk: 1}},
		{name: "truncated JSON", body: str(np[:len(np)/2]), want: counts{unparsed: 1}},
		{name: "truncated by one byte", body: str(np[:len(np)-1]), want: counts{unparsed: 1}},
		{name: "invalid JSON: trailing comma", body: str(`{"verb":"create","objectRef":{"resource":"services"},}`), want: counts{unparsed: 1}},
		{name: "invalid JSON: single quotes", body: str(`{'verb':'create'}`), want: counts{unparsed: 1}},
		{name: "invalid JSON: garbage after the object", body: str(np + `}`), want: counts{unparsed: 1}},
		// fastjson reads NaN and Inf as numbers: the event is evaluated and matches nothing.
		{name: "NaN number", body: str(`{"responseStatus":{"code":NaN},"verb":Inf}`)},
		{name: "invalid JSON after the fields the rule reads", body: str(strings.Replace(np, `"stageTimestamp"`, `"stageTimestamp" x`, 1)),
			want: counts{unparsed: 1}},
		{name: "invalid JSON: unterminated string at the end", body: str(np[:len(np)-2] + `"}`), want: counts{unparsed: 1}},
		{name: "not an object: array of events", body: str("[" + np + "]"), want: counts{unparsed: 1}},
		{name: "not an object: string", body: str(`"` + strings.ReplaceAll(np, `"`, `\"`) + `"`), want: counts{unparsed: 1}},
		{name: "not an object: number", body: str(`42`), want: counts{unparsed: 1}},
		{name: "not an object: null", body: str(`null`), want: counts{unparsed: 1}},
		{name: "10,000-deep object", body: str(nested(10000)), want: counts{unparsed: 1}},
		{name: "10,000-deep array", body: str(strings.Repeat("[", 10000) + strings.Repeat("]", 10000)), want: counts{unparsed: 1}},
		{name: "10,000-deep value inside a matching event", body: str(withField(t, np, "x", json.RawMessage(nested(10000)))),
			want: counts{unparsed: 1}},
		{name: "250-deep value inside a matching event still matches", body: str(withField(t, np, "x", json.RawMessage(nested(250)))),
			want: counts{risk: 1}},
		{name: "64 MiB body passes unevaluated", body: str(huge),
			want: counts{oversized: 1}},
		{name: "64 MiB body under a raised max_body_bytes is evaluated", body: str(huge),
			cfg: func(c *Config) { c.MaxBodyBytes = 80 << 20 }, want: counts{risk: 1}},
		{name: "gzip EventList of 10 MiB: its items are evaluated", body: rawBytes(gzList), want: counts{risk: 2}},
		{name: "gzip EventList past 64 MiB decompressed (a bomb) passes unevaluated", body: rawBytes(gzBomb),
			want: counts{oversized: 1}},
		{name: "invalid UTF-8 in the username", body: str(strings.Replace(np, "jane.doe@corp.example", "jane\xff\xfe\x00\u202e", 1)),
			want: counts{risk: 1}, check: func(t *testing.T, risk []plog.LogRecord) {
				obj, _ := risk[0].Attributes().Get("risk_object")
				assert.Equal(t, "jane\uFFFD\u0000\u202e", obj.Str(), "a run of invalid bytes becomes U+FFFD in attributes")
				msg, _ := risk[0].Attributes().Get("risk_message")
				assert.True(t, strings.HasPrefix(msg.Str(), `jane\xff\xfe\x00\u202e asked`), msg.Str())
			}},
		{name: "duplicate key: the value that takes effect comes last", body: str(strings.Replace(np, `"type":"NodePort"`, `"type":"ClusterIP","type":"NodePort"`, 1)),
			want: counts{risk: 1}},
		{name: "duplicate key: the value that takes effect comes first", body: str(strings.Replace(np, `"type":"NodePort"`, `"type":"NodePort","type":"ClusterIP"`, 1)),
			want: counts{risk: 1}},
		{name: "duplicate risk field gives one risk event per value", body: str(strings.Replace(np, `"username":"jane.doe@corp.example"`, `"username":"jane.doe@corp.example","username":"mallory"`, 1)),
			want: counts{risk: 2}},
		{name: "huge sourceIPs array is capped", body: str(withField(t, np, "sourceIPs", ips(hugeIPs))),
			want: counts{risk: rba.DefaultMaxRiskEvents, dropped: rowsKept - rba.DefaultMaxRiskEvents, cut: 1},
			check: func(t *testing.T, risk []plog.LogRecord) {
				first, _ := risk[0].Attributes().Get("threat_object")
				assert.Equal(t, "198.51.0.0", first.Str(), "the first values are kept")
				for _, r := range risk {
					tr, _ := r.Attributes().Get("risk_events_truncated")
					dr, _ := r.Attributes().Get("risk_events_dropped")
					assert.True(t, tr.Bool())
					assert.Equal(t, int64(rowsKept-rba.DefaultMaxRiskEvents), dr.Int())
				}
			}},
		{name: "huge sourceIPs array under a lower cap", body: str(withField(t, np, "sourceIPs", ips(hugeIPs))),
			cfg: func(c *Config) { c.MaxRiskEventsPerRecord = 3 }, want: counts{risk: 3, dropped: rowsKept - 3, cut: 1}},
		{name: "numbers where strings are expected", body: str(`{"kind":"Event","verb":1,"user":{"username":12345,"groups":[1,2]},"sourceIPs":[1,2],"objectRef":{"resource":true,"namespace":7},"requestObject":{"spec":{"type":3}},"stage":false}`)},
		{name: "numbers where strings are expected in a matching event", body: str(strings.Replace(np, `"username":"jane.doe@corp.example"`, `"username":31337`, 1)),
			want: counts{risk: 1}, check: func(t *testing.T, risk []plog.LogRecord) {
				obj, _ := risk[0].Attributes().Get("risk_object")
				assert.Equal(t, "31337", obj.Str())
			}},
		{name: "objects where strings are expected", body: str(`{"verb":{"a":1},"objectRef":["services"],"user":"root","sourceIPs":"1.2.3.4"}`)},
		{name: "empty object", body: str(`{}`), want: counts{unrecognized: 1}},
		{name: "empty string body", body: str(""), want: counts{unparsed: 1}},
		{name: "whitespace body", body: str(" \n\t"), want: counts{unparsed: 1}},
		{name: "empty bytes body", body: func(v pcommon.Value) { v.SetEmptyBytes() }, want: counts{unparsed: 1}},
		{name: "bytes body that matches", body: func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte(np)) }, want: counts{risk: 1}},
		{name: "int body", body: func(v pcommon.Value) { v.SetInt(math.MinInt64) }, want: counts{unparsed: 1}},
		{name: "double body", body: func(v pcommon.Value) { v.SetDouble(math.Inf(1)) }, want: counts{unparsed: 1}},
		{name: "bool body", body: func(v pcommon.Value) { v.SetBool(true) }, want: counts{unparsed: 1}},
		{name: "slice body", body: func(v pcommon.Value) { v.SetEmptySlice().AppendEmpty().SetStr(np) }, want: counts{unparsed: 1}},
		{name: "empty map body", body: func(v pcommon.Value) { v.SetEmptyMap() }, want: counts{unrecognized: 1}},
		{name: "map body that matches", body: mapOf(np), want: counts{risk: 1}},
		{name: "map body holding +Inf (no JSON form)", body: func(v pcommon.Value) { v.SetEmptyMap().PutDouble("x", math.Inf(1)) }, want: counts{unparsed: 1}},
		{name: "no body", body: func(pcommon.Value) {}, want: counts{unparsed: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := *base
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			p, sink, tel := newTestProcessor(t, &cfg)
			// The hostile record sits between two copies of a matching event: they must be unaffected.
			ld := input(str(np), tc.body, str(np))
			want := plog.NewLogs()
			ld.CopyTo(want)

			require.NotPanics(t, func() { require.NoError(t, p.ConsumeLogs(context.Background(), ld)) })
			require.Len(t, sink.AllLogs(), 1)
			got := records(sink.AllLogs()[0])
			in := records(want)
			require.Len(t, got, len(in)+2+int(tc.want.risk), "records out = records in + risk events")
			for i, w := range in {
				assert.True(t, w.Body().Equal(got[i].Body()), "record %d body changed", i)
				assert.Equal(t, w.Attributes().AsRaw(), got[i].Attributes().AsRaw(), "record %d attributes", i)
				assert.Equal(t, w.Timestamp(), got[i].Timestamp())
			}
			risk := got[len(in):]
			// Risk records follow the scope's records in order: the first control's, the case's, the second control's.
			caseRisk := risk[1 : len(risk)-1]
			for i, r := range risk {
				a := r.Attributes().AsRaw()
				assert.Equal(t, "risk", a["com.splunk.index"], "risk record %d", i)
				assert.Equal(t, "stash", a["com.splunk.sourcetype"], "risk record %d", i)
				assert.Equal(t, a["search_name"], a["com.splunk.source"], "risk record %d", i)
				assert.NotContains(t, a, "host.name")
				assert.True(t, utf8.ValidString(r.Body().Str()), "risk record %d body is not valid UTF-8", i)
			}
			if tc.check != nil {
				tc.check(t, caseRisk)
			}
			assertSum(t, tel, "otelcol_processor_auditdetect_records", 3)
			assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_unparsed", tc.want.unparsed)
			assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_oversized", tc.want.oversized)
			assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_unrecognized", tc.want.unrecognized)
			assertSum(t, tel, "otelcol_processor_auditdetect_risk_events", 2+tc.want.risk)
			assertSumOrNone(t, tel, "otelcol_processor_auditdetect_risk_events_dropped", tc.want.dropped)
			if tc.want.dropped > 0 {
				assertSumAttr(t, tel, "otelcol_processor_auditdetect_risk_events_dropped", reasonAttr("max_risk_events_per_record"),
					tc.want.dropped)
			}
			assertSumOrNone(t, tel, "otelcol_processor_auditdetect_stats_groups_cut", tc.want.cut)
		})
	}
}

// gzipFast compresses the parts, one after the other, fast: tens of MiB of one repeated byte take milliseconds.
func gzipFast(t *testing.T, parts ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	require.NoError(t, err)
	for _, part := range parts {
		_, err = io.WriteString(w, part)
		require.NoError(t, err)
	}
	require.NoError(t, w.Close())
	return b.Bytes()
}

// assertSumOrNone is assertSum for counters that are only recorded when non-zero.
func assertSumOrNone(t *testing.T, tel *componenttest.Telemetry, name string, want int64) {
	t.Helper()
	if want == 0 {
		_, err := tel.GetMetric(name)
		assert.Error(t, err, "%s was recorded", name)
		return
	}
	assertSum(t, tel, name, want)
}

// TestDeepArraysUnderAnAnyArrayRule: Sigma and Elastic paths cross arrays at any depth, and the event reader walks
// them before the body is validated. A 1,000,000-deep array (2 MB) under such a path is refused in milliseconds
// (it used to cost time quadratic in its depth: hours), passes on unchanged and is counted.
func TestDeepArraysUnderAnAnyArrayRule(t *testing.T) {
	dir := t.TempDir()
	sigmaRule := "title: Container image from a scratch registry\nid: 0c4a7f70-4b43-4d2c-9d8e-3a8a7e0a0001\n" +
		"logsource: {product: kubernetes, service: audit}\n" +
		"detection:\n  sel:\n    verb: create\n    requestObject.spec.containers.image|startswith: 'scratch.example/'\n  condition: sel\nlevel: high\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "image.yml"), []byte(sigmaRule), 0o600))
	cfg := createDefaultConfig()
	cfg.Rules = []string{dir}
	require.NoError(t, cfg.Validate())
	p, sink, tel := newTestProcessor(t, cfg)

	const depth = 1_000_000
	deep := `{"kind":"Event","verb":"create","user":{"username":"eve"},"objectRef":{"resource":"pods"},"requestObject":{"spec":{"containers":` +
		strings.Repeat("[", depth) + `{"image":"scratch.example/x"}` + strings.Repeat("]", depth) + `}}}`
	match := `{"kind":"Event","verb":"create","user":{"username":"eve"},"objectRef":{"resource":"pods"},"requestObject":{"spec":{"containers":[[{"image":"scratch.example/x"}]]}}}`
	start := time.Now()
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(deep), str(match))))
	// A guard against the quadratic walk (hours), not a measure of speed: under -race on a loaded 2-core machine the
	// linear one took 8 s.
	assert.Less(t, time.Since(start), time.Minute)
	got := records(sink.AllLogs()[0])
	require.Len(t, got, 3, "both records, and the risk record of the shallow one")
	assert.Equal(t, deep, got[0].Body().Str())
	assert.True(t, isRisk(got[2]))
	assertSum(t, tel, "otelcol_processor_auditdetect_records_unparsed", 1)
}
