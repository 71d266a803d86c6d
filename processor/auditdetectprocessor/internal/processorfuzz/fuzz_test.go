package processorfuzz

import (
	"bytes"
	"context"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
	"github.com/auditdetect/auditdetect/processor/geoip/geoiptest"
	"github.com/auditdetect/auditdetect/processor/rba"
)

const nodePortCreate = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"np-1","stage":"ResponseComplete","verb":"create","user":{"username":"mallory","groups":["system:authenticated"]},"sourceIPs":["203.0.113.7"],"objectRef":{"resource":"services","namespace":"shop","name":"backdoor"},"responseStatus":{"code":201},"requestObject":{"kind":"Service","spec":{"type":"NodePort"}},"stageTimestamp":"2026-12-01T10:00:00.010000Z"}`

// FuzzProcessor sends arbitrary bodies, as a string and as bytes, through the real processor running the whole
// built-in pack (a GeoIP stub loaded, so the iplocation rules run too), through the real factory. Nothing may panic
// or fail; both records come out unchanged, followed only by risk records whose
// HEC metadata is the configured one, whose values are valid UTF-8 within the caps, and of which there are at most
// max_risk_events_per_record per record. Seeds: testdata/fuzz/FuzzProcessor (the pack's test events).
func FuzzProcessor(f *testing.F) {
	f.Add([]byte(nodePortCreate))
	cfg := auditdetectprocessor.NewFactory().CreateDefaultConfig().(*auditdetectprocessor.Config)
	cfg.MaxRiskEventsPerRecord = 10
	cfg.GeoIPDatabase = geoiptest.WriteCityDB(f, map[string]geoiptest.Place{
		"203.0.113.45/32": {City: "Amsterdam", Country: "Netherlands", CountryISO: "NL", Lat: 52.37, Lon: 4.89},
	})
	sink := new(consumertest.LogsSink)
	p, err := auditdetectprocessor.NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	if err != nil {
		f.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = p.Shutdown(context.Background()) })

	f.Fuzz(func(t *testing.T, body []byte) {
		sink.Reset()
		orig := bytes.Clone(body)
		ld := plog.NewLogs()
		lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
		lrs.AppendEmpty().Body().SetStr(string(body))
		lrs.AppendEmpty().Body().SetEmptyBytes().FromRaw(body)
		if err := p.ConsumeLogs(context.Background(), ld); err != nil {
			t.Fatalf("ConsumeLogs: %v", err)
		}
		rl := sink.AllLogs()[0].ResourceLogs()
		if rl.Len() != 1 || rl.At(0).ScopeLogs().Len() != 1 {
			t.Fatalf("%d resources out of 1", rl.Len())
		}
		out := rl.At(0).ScopeLogs().At(0).LogRecords()
		got := make([]plog.LogRecord, out.Len())
		for i := range got {
			got[i] = out.At(i)
		}
		if len(got) < 2 || len(got) > 2+2*cfg.MaxRiskEventsPerRecord {
			t.Fatalf("%d records out of 2", len(got))
		}
		if got[0].Body().Str() != string(orig) || !bytes.Equal(got[1].Body().Bytes().AsRaw(), orig) {
			t.Fatalf("a body changed")
		}
		if got[0].Attributes().Len() != 0 || got[1].Attributes().Len() != 0 {
			t.Fatalf("fork mode changed an audit record's attributes")
		}
		for _, r := range got[2:] {
			checkRiskRecord(t, r)
		}
	})
}

func checkRiskRecord(t *testing.T, r plog.LogRecord) {
	t.Helper()
	a := r.Attributes()
	for k, want := range map[string]string{"com.splunk.index": "risk", "com.splunk.sourcetype": "stash"} {
		if v, ok := a.Get(k); !ok || v.Str() != want {
			t.Fatalf("%s = %q, want %q", k, v.AsString(), want)
		}
	}
	src, _ := a.Get("com.splunk.source")
	name, _ := a.Get("search_name")
	if src.Str() == "" || src.Str() != name.Str() {
		t.Fatalf("com.splunk.source %q is not the rule name %q", src.Str(), name.Str())
	}
	if _, ok := a.Get("host.name"); ok {
		t.Fatalf("a risk record sets host.name")
	}
	a.Range(func(k string, v pcommon.Value) bool {
		vals := []pcommon.Value{v}
		if v.Type() == pcommon.ValueTypeSlice {
			if v.Slice().Len() > rba.MaxValues {
				t.Fatalf("%s holds %d values", k, v.Slice().Len())
			}
			vals = vals[:0]
			for i := 0; i < v.Slice().Len(); i++ {
				vals = append(vals, v.Slice().At(i))
			}
		}
		for _, e := range vals {
			if e.Type() != pcommon.ValueTypeStr {
				continue
			}
			s := e.Str()
			limit := rba.MaxValueBytes
			if k == "risk_message" {
				limit = rba.MaxMessageBytes
			}
			if !utf8.ValidString(s) || (len(s) > limit && k != "search_name" && k != "com.splunk.source") {
				t.Fatalf("%s = %.80q (%d bytes) is not valid UTF-8 within %d bytes", k, s, len(s), limit)
			}
		}
		return true
	})
	if msg, _ := a.Get("risk_message"); r.Body().Str() != msg.Str() || bytes.ContainsAny([]byte(msg.Str()), "\n\r\x00") {
		t.Fatalf("body %q is not the escaped risk message", r.Body().Str())
	}
}
