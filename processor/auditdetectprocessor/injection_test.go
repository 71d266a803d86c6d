package auditdetectprocessor

import (
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditdetect/auditdetect/processor/rba"
)

// TestInjectionThroughTheProcessor crafts the usernames, object names, user agents, groups and addresses of an event
// the built-in NodePort rule matches, and adds top-level keys named after HEC metadata: the risk record has exactly
// the attributes a benign event's risk record has, the configured HEC metadata, capped valid UTF-8 values, and a
// message without control characters.
func TestInjectionThroughTheProcessor(t *testing.T) {
	np := nodePortEvent(t)
	var benign map[string]any
	require.NoError(t, json.Unmarshal([]byte(np), &benign))

	riskOf := func(t *testing.T, cfg *Config, body string) plog.LogRecord {
		t.Helper()
		p, sink, _ := newTestProcessor(t, cfg)
		require.NoError(t, p.ConsumeLogs(context.Background(), input(str(body))))
		got := records(sink.AllLogs()[0])
		require.Len(t, got, 2, "one audit record and one risk record")
		assert.Equal(t, body, got[0].Body().Str(), "the audit record is unchanged")
		assert.Equal(t, map[string]any{"seq": int64(0)}, got[0].Attributes().AsRaw())
		return got[1]
	}
	cfg := createDefaultConfig()
	cfg.RiskIndex, cfg.RiskSourcetype = "sec_risk", "auditdetect:risk"
	wantKeys := sortedKeys(riskOf(t, cfg, np).Attributes().AsRaw())

	for _, tc := range []struct{ name, crafted string }{
		{"newlines forging HEC metadata", "admin\ncom.splunk.index=main\nhost.name=dc01"},
		{"quotes breaking out of a JSON string", `x","com.splunk.index":"main","com.splunk.sourcetype":"linux_secure","y":"`},
		{"key=value text", "risk_score=100 risk_object=cluster-admin"},
		{"terminal escapes, bidi override, line separator", "\x1b]0;title\x07\x1b[2J\u202egnp.exe\u2028forged line"},
		{"5 KiB value", strings.Repeat("A", 5*rba.MaxValueBytes)},
	} {
		crafted := tc.crafted
		t.Run(tc.name, func(t *testing.T) {
			ev := map[string]any{}
			for k, v := range benign {
				ev[k] = v
			}
			ev["user"] = map[string]any{"username": crafted, "groups": []string{crafted, "system:authenticated"}}
			ev["userAgent"] = crafted
			ev["objectRef"] = map[string]any{"resource": "services", "namespace": crafted, "name": crafted}
			// Keys named after HEC metadata and the output contract, at the top of the event.
			ev["com.splunk.index"], ev["host.name"], ev["risk_score"] = "main", "dc01", 100
			body, err := json.Marshal(ev)
			require.NoError(t, err)

			r := riskOf(t, cfg, string(body))
			attrs := r.Attributes().AsRaw()
			assert.Equal(t, wantKeys, sortedKeys(attrs), "attribute names come from the rule, never from the event")
			assert.Equal(t, "sec_risk", attrs["com.splunk.index"])
			assert.Equal(t, "auditdetect:risk", attrs["com.splunk.sourcetype"])
			assert.Equal(t, attrs["search_name"], attrs["com.splunk.source"])
			assert.Equal(t, int64(25), attrs["risk_score"], "the rule's score")
			assert.NotContains(t, attrs, "host.name")
			r.Attributes().Range(func(k string, v pcommon.Value) bool {
				limit := rba.MaxValueBytes
				if k == "risk_message" {
					limit = rba.MaxMessageBytes
				}
				elems := []pcommon.Value{v}
				if v.Type() == pcommon.ValueTypeSlice {
					assert.LessOrEqual(t, v.Slice().Len(), rba.MaxValues, "%s", k)
					elems = elems[:0]
					for i := range v.Slice().Len() {
						elems = append(elems, v.Slice().At(i))
					}
				}
				for _, e := range elems {
					assert.LessOrEqual(t, len(e.AsString()), limit, "%s", k)
					assert.True(t, utf8.ValidString(e.AsString()), "%s is not valid UTF-8", k)
				}
				return true
			})
			msg := attrs["risk_message"].(string)
			assert.False(t, strings.ContainsAny(msg, "\n\r\x1b\x07\u202e\u2028"), "control characters in %q", msg)
			assert.Equal(t, msg, r.Body().Str())
		})
	}
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
