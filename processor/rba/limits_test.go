package rba

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

func TestEscapeControl(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"plain ASCII is kept", "system:serviceaccount:kube-system:default", "system:serviceaccount:kube-system:default"},
		{"non-ASCII letters are kept", "josé-ü-名前", "josé-ü-名前"},
		{"newline cannot forge a second line", "eve\nrisk_object=admin", `eve\nrisk_object=admin`},
		{"carriage return and tab", "a\rb\tc", `a\rb\tc`},
		{"terminal escape", "\x1b[2Jx", `\x1b[2Jx`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`},
		{"C1 control", "a\u0085b", `a\u0085b`},
		{"line and paragraph separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"bidi override hides text order", "admin\u202etxt.exe", `admin\u202etxt.exe`},
		{"bidi isolate", "a\u2066b\u2069", `a\u2066b\u2069`},
		{"invalid UTF-8 byte", "a\xffb", `a\xffb`},
		{"truncated multi-byte rune", "a\xe2\x82", `a\xe2\x82`},
		{"real replacement character is kept", "a\uFFFDb", "a\uFFFDb"},
		{"backslash is kept as is", `DOMAIN\user`, `DOMAIN\user`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := EscapeControl(tc.in)
			if got != tc.want {
				t.Errorf("EscapeControl(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("result %q is not valid UTF-8", got)
			}
		})
	}
}

func TestMessageLimits(t *testing.T) {
	many := make([]string, MaxValues+5)
	for i := range many {
		many[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	for _, tc := range []struct {
		name  string
		msg   string
		row   engine.Row
		check func(t *testing.T, got string)
	}{
		{
			name: "crafted username is escaped, template text is not",
			msg:  "Secret read by $user$\tfrom $src$",
			row:  row(f("user", "eve\n2026-01-01 risk_object=admin"), f("src", "1.2.3.4")),
			check: func(t *testing.T, got string) {
				want := "Secret read by eve\\n2026-01-01 risk_object=admin\tfrom 1.2.3.4"
				if got != want {
					t.Errorf("got %q, want %q", got, want)
				}
			},
		},
		{
			// The first values and the last: of sourceIPs, the address the API server saw.
			name: "a token's values are capped at MaxValues, the last one kept",
			msg:  "from $src$",
			row:  row(f("src", many...)),
			check: func(t *testing.T, got string) {
				if want := ", " + many[MaxValues-2] + ", … (5 more), " + many[len(many)-1]; !strings.HasSuffix(got, want) {
					t.Errorf("message ends %q, want %q", got[max(0, len(got)-60):], want)
				}
				if strings.Contains(got, many[MaxValues-1]+",") {
					t.Errorf("value %d past the cap is in the message", MaxValues-1)
				}
			},
		},
		{
			name: "one huge value is cut to MaxValueBytes",
			msg:  "by $user$!",
			row:  row(f("user", strings.Repeat("é", MaxValueBytes))),
			check: func(t *testing.T, got string) {
				if len(got) > len("by !")+MaxValueBytes {
					t.Errorf("message is %d bytes", len(got))
				}
				if !strings.HasSuffix(got, "…!") || !utf8.ValidString(got) {
					t.Errorf("cut value does not end in … on a rune boundary: %q", got[len(got)-10:])
				}
			},
		},
		{
			name: "the whole message is capped at MaxMessageBytes",
			msg:  strings.Repeat("$a$ ", 20),
			row:  row(f("a", strings.Repeat("x", MaxValueBytes))),
			check: func(t *testing.T, got string) {
				if len(got) > MaxMessageBytes {
					t.Errorf("message is %d bytes, cap %d", len(got), MaxMessageBytes)
				}
				if !strings.HasSuffix(got, "…") {
					t.Errorf("cut message does not end in …")
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, Message(tc.msg, tc.row)) })
	}
}

// TestInjectedValuesStayInTheirField crafts row values (what an audit event's username, object name or source IP
// becomes) that try to set HEC routing, the contract's attributes or attributes the rule did not name.
func TestInjectedValuesStayInTheirField(t *testing.T) {
	r := &rule.Rule{ID: "id-1", Name: "Rule", Risk: rule.Risk{
		Message: "$user$ touched $objectRef.name$",
		Objects: []rule.RiskObject{{Field: "user", Type: "user", Score: 10}},
		Threats: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}},
	}}
	crafted := []string{
		`com.splunk.index=main`,
		`"com.splunk.sourcetype":"linux_secure"`,
		"x\ncom.splunk.source: forged\nhost.name: dc01",
		`{"host.name":"dc01","risk_score":100}`,
		"\x00\xff\u202e",
		strings.Repeat("A", 3*MaxValueBytes),
	}
	for i, v := range crafted {
		t.Run(fmt.Sprintf("value %d", i), func(t *testing.T) {
			res := engine.Result{AuditID: v, Matches: []engine.Match{{Rule: r, Rows: []engine.Row{row(
				f("user", v), f("objectRef.name", v), f("src_ip", v, v+"2"),
			)}}}}
			logs := plog.NewLogRecordSlice()
			src := logs.AppendEmpty()
			w := NewWriter(Config{Index: "sec_risk", Sourcetype: "auditdetect:risk"})
			if n, _ := w.AppendRiskRecords(logs, src, res); n != 1 {
				t.Fatalf("added %d, want 1", n)
			}
			attrs := logs.At(1).Attributes().AsRaw()
			wantKeys := []string{"user", "objectRef.name", "src_ip", "search_name", "rule_id", "risk_object",
				"risk_object_type", "risk_score", "risk_message", "threat_object", "threat_object_type", "auditID",
				"com.splunk.index", "com.splunk.sourcetype", "com.splunk.source"}
			if len(attrs) != len(wantKeys) {
				t.Errorf("attribute keys %v, want exactly %v", keys(attrs), wantKeys)
			}
			for _, k := range wantKeys {
				if _, ok := attrs[k]; !ok {
					t.Errorf("attribute %q missing", k)
				}
			}
			for k, want := range map[string]any{
				"com.splunk.index": "sec_risk", "com.splunk.sourcetype": "auditdetect:risk",
				"com.splunk.source": "Rule", "risk_score": int64(10), "risk_object_type": "user",
			} {
				if attrs[k] != want {
					t.Errorf("%s = %#v, want %#v", k, attrs[k], want)
				}
			}
			for k, a := range attrs {
				for _, s := range strs(a) {
					if len(s) > MaxMessageBytes || (k != "risk_message" && len(s) > MaxValueBytes) {
						t.Errorf("%s holds %d bytes", k, len(s))
					}
					if !utf8.ValidString(s) {
						t.Errorf("%s = %q is not valid UTF-8", k, s)
					}
				}
			}
			msg := attrs["risk_message"].(string)
			if strings.ContainsAny(msg, "\n\x00\u202e") {
				t.Errorf("control characters reached the message: %q", msg)
			}
			if body := logs.At(1).Body().Str(); body != msg {
				t.Errorf("body %q differs from risk_message", body)
			}
		})
	}
}

func TestMaxRiskEventsPerRecord(t *testing.T) {
	r := &rule.Rule{ID: "x", Name: "x", Risk: rule.Risk{Message: "m", Objects: []rule.RiskObject{
		{Field: "src", Type: "system", Score: 10},
		{Field: "user", Type: "user", Score: 20},
	}}}
	ips := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("ip%d", i)
		}
		return out
	}
	for _, tc := range []struct {
		name        string
		cap         int
		rows        []engine.Row
		wantAdded   int
		wantDropped int
		wantFirst   string // risk_object of the first kept record
		wantLast    string // risk_object of the last kept record
	}{
		{"under the cap: nothing marked", 10, []engine.Row{row(f("src", ips(3)...), f("user", "u"))}, 4, 0, "ip0", "u"},
		{"exactly the cap: nothing marked", 4, []engine.Row{row(f("src", ips(3)...), f("user", "u"))}, 4, 0, "ip0", "u"},
		// The first values and the last: with a row per source address, the last is the one the API server saw,
		// which a client cannot push out by padding X-Forwarded-For.
		{"hostile fan-out keeps the first values and the last", 100, []engine.Row{row(f("src", ips(5000)...), f("user", "u"))}, 100, 4901, "ip0", "u"},
		{"cap spans rows in order, the last kept", 3, []engine.Row{row(f("src", "a", "b")), row(f("src", "c", "d"))}, 3, 1, "a", "d"},
		{"zero means the default", 0, []engine.Row{row(f("src", ips(DefaultMaxRiskEvents+1)...))}, DefaultMaxRiskEvents, 1, "ip0", fmt.Sprintf("ip%d", DefaultMaxRiskEvents)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := plog.NewLogRecordSlice()
			src := logs.AppendEmpty()
			w := NewWriter(Config{MaxRiskEvents: tc.cap})
			added, dropped := w.AppendRiskRecords(logs, src, engine.Result{Matches: []engine.Match{{Rule: r, Rows: tc.rows}}})
			if added != tc.wantAdded || dropped != tc.wantDropped {
				t.Fatalf("added %d dropped %d, want %d and %d", added, dropped, tc.wantAdded, tc.wantDropped)
			}
			if logs.Len() != 1+added {
				t.Fatalf("slice holds %d records, want %d", logs.Len(), 1+added)
			}
			obj := func(i int) string { v, _ := logs.At(i).Attributes().Get("risk_object"); return v.Str() }
			if obj(1) != tc.wantFirst || obj(added) != tc.wantLast {
				t.Errorf("kept %q..%q, want %q..%q", obj(1), obj(added), tc.wantFirst, tc.wantLast)
			}
			for i := 1; i < logs.Len(); i++ {
				a := logs.At(i).Attributes()
				tr, hasTr := a.Get("risk_events_truncated")
				dr, hasDr := a.Get("risk_events_dropped")
				if tc.wantDropped == 0 {
					if hasTr || hasDr {
						t.Errorf("record %d marked truncated though nothing was dropped", i)
					}
					continue
				}
				if !hasTr || !tr.Bool() || !hasDr || dr.Int() != int64(tc.wantDropped) {
					t.Errorf("record %d: truncated=%v dropped=%v, want true and %d", i, tr.AsRaw(), dr.AsRaw(), tc.wantDropped)
				}
			}
		})
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// strs returns the string values of an attribute (one for a string, each element for a slice).
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Past the cap every matching rule keeps records: a rule with many rows (a DaemonSet created with 120 source
// addresses) must not push out a graver one that matched the same event.
func TestMaxRiskEventsSharedAmongRules(t *testing.T) {
	newRule := func(id string) *rule.Rule {
		return &rule.Rule{ID: id, Name: id, Risk: rule.Risk{Message: "m", Objects: []rule.RiskObject{{Field: "src", Type: "system", Score: 10}}}}
	}
	ips := make([]string, 120)
	for i := range ips {
		ips[i] = fmt.Sprintf("ip%d", i)
	}
	res := engine.Result{Matches: []engine.Match{
		{Rule: newRule("noisy"), Rows: []engine.Row{row(f("src", ips...))}},
		{Rule: newRule("grave"), Rows: []engine.Row{row(f("src", "a", "b"))}},
		{Rule: newRule("other"), Rows: []engine.Row{row(f("src", ips[:60]...))}},
	}}
	logs := plog.NewLogRecordSlice()
	src := logs.AppendEmpty()
	added, dropped := NewWriter(Config{MaxRiskEvents: 100}).AppendRiskRecords(logs, src, res)
	if added != 100 || dropped != 82 {
		t.Fatalf("added %d dropped %d, want 100 and 82", added, dropped)
	}
	per := map[string]int{}
	for i := 1; i < logs.Len(); i++ {
		id, _ := logs.At(i).Attributes().Get("rule_id")
		per[id.Str()]++
	}
	// One of each in turn: grave's two, then the other two share the rest evenly.
	if want := map[string]int{"noisy": 49, "grave": 2, "other": 49}; !reflect.DeepEqual(per, want) {
		t.Errorf("records per rule %v, want %v", per, want)
	}
}

// A multi-valued attribute past MaxValues keeps its first values and its last: a threat object made of sourceIPs
// keeps the address the API server saw however many X-Forwarded-For entries come before it.
func TestLongAttributeKeepsTheLastValue(t *testing.T) {
	r := &rule.Rule{ID: "x", Name: "x", Risk: rule.Risk{Message: "m",
		Objects: []rule.RiskObject{{Field: "user", Type: "user", Score: 10}},
		Threats: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}}}}
	ips := make([]string, 150)
	for i := range ips {
		ips[i] = fmt.Sprintf("10.0.0.%d", i)
	}
	ips[len(ips)-1] = "198.51.100.7"
	logs := plog.NewLogRecordSlice()
	src := logs.AppendEmpty()
	NewWriter(Config{}).AppendRiskRecords(logs, src, engine.Result{Matches: []engine.Match{{Rule: r,
		Rows: []engine.Row{row(f("user", "eve"), f("src_ip", ips...))}}}})
	for _, attr := range []string{"threat_object", "src_ip"} {
		v, ok := logs.At(1).Attributes().Get(attr)
		if !ok || v.Slice().Len() != MaxValues {
			t.Fatalf("%s = %v, want %d values", attr, v.AsRaw(), MaxValues)
		}
		if got := v.Slice().At(MaxValues - 1).Str(); got != "198.51.100.7" {
			t.Errorf("%s ends with %q, want the last address 198.51.100.7", attr, got)
		}
	}
}

// The last source address (the one the API server saw) survives every cap of a risk record, however many
// X-Forwarded-For entries come before it: the message's length, several threat fields, several risk objects.
func TestTheLastAddressSurvivesEveryCap(t *testing.T) {
	ips := make([]string, 150)
	for i := range ips {
		ips[i] = fmt.Sprintf("2001:0db8:85a3:0000:0000:8a2e:0370:%04x", i) // 39 bytes each
	}
	real := "198.51.100.7"
	ips[len(ips)-1] = real
	r := &rule.Rule{ID: "x", Name: "x", Risk: rule.Risk{
		Message: "request from $src_ip$ by $user$",
		Objects: []rule.RiskObject{{Field: "src_ip", Type: "system", Score: 10}, {Field: "user", Type: "user", Score: 20}},
		Threats: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}, {Field: "ua", Type: "http_user_agent"}}}}
	logs := plog.NewLogRecordSlice()
	src := logs.AppendEmpty()
	NewWriter(Config{}).AppendRiskRecords(logs, src, engine.Result{Matches: []engine.Match{{Rule: r,
		Rows: []engine.Row{row(f("src_ip", ips...), f("user", "eve"), f("ua", "curl/8"))}}}})
	var objects []string
	for i := 1; i < logs.Len(); i++ {
		o, _ := logs.At(i).Attributes().Get("risk_object")
		objects = append(objects, o.Str())
	}
	if !slices.Contains(objects, real) || !slices.Contains(objects, "eve") {
		t.Errorf("risk objects %d, with the real address %v and the user %v", len(objects), slices.Contains(objects, real), slices.Contains(objects, "eve"))
	}
	a := logs.At(1).Attributes()
	msg, _ := a.Get("risk_message")
	if !strings.Contains(msg.Str(), real+" by eve") {
		t.Errorf("message ends %q, want the real address and the user", msg.Str()[max(0, len(msg.Str())-80):])
	}
	th, _ := a.Get("threat_object")
	var threats []string
	for _, v := range th.Slice().AsRaw() {
		threats = append(threats, v.(string))
	}
	if !slices.Contains(threats, real) || !slices.Contains(threats, "curl/8") {
		t.Errorf("threat objects hold the real address %v and the user agent %v", slices.Contains(threats, real), slices.Contains(threats, "curl/8"))
	}
}
