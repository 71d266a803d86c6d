package rba

import (
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

var nodePort = &rule.Rule{
	ID:   "d7fc865e",
	Name: "Kubernetes Node Port Creation",
	Risk: rule.Risk{
		Message: "NodePort $objectRef.name$ by $user$ from $src_ip$ ($unknown$)",
		Objects: []rule.RiskObject{{Field: "user", Type: "user", Score: 20}},
		Threats: []rule.ThreatObject{{Field: "src_ip", Type: "ip_address"}},
	},
	MitreTechniques: []string{"T1204"},
	Stories:         []string{"Kubernetes Security"},
}

func row(fields ...engine.RowField) engine.Row { return engine.Row{Fields: fields} }

func f(name string, vals ...string) engine.RowField { return engine.RowField{Name: name, Values: vals} }

func TestAppendRiskRecords(t *testing.T) {
	w := NewWriter(Config{})
	logs := plog.NewLogRecordSlice()
	src := logs.AppendEmpty()
	src.SetTimestamp(pcommon.Timestamp(42))
	res := engine.Result{
		AuditID: "audit-1",
		Matches: []engine.Match{{Rule: nodePort, Rows: []engine.Row{row(
			f("objectRef.name", "web"),
			f("user", "alice"),
			f("src_ip", "10.0.0.1", "10.0.0.2"),
			engine.RowField{Name: "count", Values: []string{"1"}, Numeric: true},
			f("user_groups", "dev", "ops"),
			// A row field may never set HEC routing or the contract's own attributes.
			f("com.splunk.index", "main"),
			f("risk_score", "100"),
			// Splunk's own fields of every event are kept as orig_<name>, as ES's risk action writes them.
			f("host", "node-1"),
			f("sourcetype", "x"),
		)}}},
	}
	if n, dropped := w.AppendRiskRecords(logs, src, res); n != 1 || dropped != 0 {
		t.Fatalf("added %d (dropped %d), want 1 (0)", n, dropped)
	}
	rec := logs.At(1)
	got := rec.Attributes().AsRaw()
	want := map[string]any{
		"search_name":              "Kubernetes Node Port Creation",
		"rule_id":                  "d7fc865e",
		"risk_object":              "alice",
		"risk_object_type":         "user",
		"risk_score":               int64(20),
		"risk_message":             "NodePort web by alice from 10.0.0.1, 10.0.0.2 ($unknown$)",
		"threat_object":            []any{"10.0.0.1", "10.0.0.2"},
		"threat_object_type":       []any{"ip_address", "ip_address"},
		"analyticstories":          []any{"Kubernetes Security"},
		"annotations.mitre_attack": []any{"T1204"},
		"annotations.mitre_attack.mitre_technique_id": []any{"T1204"},
		"orig_host":             "node-1",
		"orig_sourcetype":       "x",
		"objectRef.name":        "web",
		"user":                  "alice",
		"src_ip":                []any{"10.0.0.1", "10.0.0.2"},
		"count":                 int64(1),
		"user_groups":           []any{"dev", "ops"},
		"auditID":               "audit-1",
		"com.splunk.index":      "risk",
		"com.splunk.sourcetype": "stash",
		"com.splunk.source":     "Kubernetes Node Port Creation",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attributes:\n got %#v\nwant %#v", got, want)
	}
	if rec.Body().Str() != "NodePort web by alice from 10.0.0.1, 10.0.0.2 ($unknown$)" {
		t.Errorf("body = %q", rec.Body().Str())
	}
	if rec.Timestamp() != 42 {
		t.Errorf("timestamp = %d, want the source record's", rec.Timestamp())
	}
}

func TestFanOutPerRiskObjectValue(t *testing.T) {
	r := &rule.Rule{ID: "x", Name: "x", Risk: rule.Risk{Message: "m", Objects: []rule.RiskObject{
		{Field: "user", Type: "user", Score: 10},
		{Field: "host", Type: "system", Score: 30},
	}}}
	res := engine.Result{
		Time: time.Unix(1700000000, 0),
		Matches: []engine.Match{{Rule: r, Rows: []engine.Row{
			row(f("user", "a", "b", "a"), f("host", "n1")),
			row(f("user", "c")), // no host: no risk event for it
		}}},
	}
	logs := plog.NewLogRecordSlice()
	src := logs.AppendEmpty()
	w := NewWriter(Config{Index: "sec_risk", Sourcetype: "auditdetect:risk"})
	if n, dropped := w.AppendRiskRecords(logs, src, res); n != 4 || dropped != 0 {
		t.Fatalf("added %d (dropped %d), want 4 (a, b, n1, c) and 0", n, dropped)
	}
	var got []string
	for i := 1; i < logs.Len(); i++ {
		a := logs.At(i).Attributes()
		obj, _ := a.Get("risk_object")
		score, _ := a.Get("risk_score")
		idx, _ := a.Get("com.splunk.index")
		st, _ := a.Get("com.splunk.sourcetype")
		got = append(got, obj.Str()+"/"+score.AsString()+"/"+idx.Str()+"/"+st.Str())
		if !logs.At(i).Timestamp().AsTime().Equal(res.Time) {
			t.Errorf("record %d timestamp %v, want the event time", i, logs.At(i).Timestamp().AsTime())
		}
	}
	want := []string{"a/10/sec_risk/auditdetect:risk", "b/10/sec_risk/auditdetect:risk", "n1/30/sec_risk/auditdetect:risk", "c/10/sec_risk/auditdetect:risk"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("risk events = %v, want %v", got, want)
	}
}

// TestNoRiskObject: a rule that names no risk object writes one record per row, without the risk object fields
// (the README's output contract says so; the loader warns about such a rule).
func TestNoRiskObject(t *testing.T) {
	r := &rule.Rule{ID: "x", Name: "x", Risk: rule.Risk{Message: "by $user$"}}
	res := engine.Result{Matches: []engine.Match{{Rule: r, Rows: []engine.Row{row(f("user", "a")), row(f("user", "b"))}}}}
	logs := plog.NewLogRecordSlice()
	src := logs.AppendEmpty()
	if n, _ := NewWriter(Config{}).AppendRiskRecords(logs, src, res); n != 2 {
		t.Fatalf("added %d, want one per row", n)
	}
	for i := 1; i < logs.Len(); i++ {
		a := logs.At(i).Attributes()
		for _, k := range []string{"risk_object", "risk_object_type", "risk_score"} {
			if _, ok := a.Get(k); ok {
				t.Errorf("record %d has %s", i, k)
			}
		}
		if m, _ := a.Get("risk_message"); m.Str() != "by "+[]string{"a", "b"}[i-1] {
			t.Errorf("record %d message %q", i, m.Str())
		}
	}
}

// TestNoMessage: the splunk_hec exporter drops a record whose body is empty, so a rule without a message (an ESCU
// detection without rba.message) writes its search name and risk object instead; search_name and source are the
// saved search's name.
func TestNoMessage(t *testing.T) {
	r := &rule.Rule{ID: "x", Name: "X", SearchName: "ESCU - X - Rule",
		Risk: rule.Risk{Message: " ", Objects: []rule.RiskObject{{Field: "user", Type: "user", Score: 10}}}}
	noObject := &rule.Rule{ID: "y", Name: "Y"}
	res := engine.Result{Matches: []engine.Match{
		{Rule: r, Rows: []engine.Row{row(f("user", "bob\nforged"))}},
		{Rule: noObject, Rows: []engine.Row{row(f("user", "bob"))}},
	}}
	logs := plog.NewLogRecordSlice()
	src := logs.AppendEmpty()
	if n, _ := NewWriter(Config{}).AppendRiskRecords(logs, src, res); n != 2 {
		t.Fatalf("added %d, want 2", n)
	}
	var got []string
	for i := 1; i < logs.Len(); i++ {
		a := logs.At(i).Attributes()
		m, _ := a.Get("risk_message")
		name, _ := a.Get("search_name")
		source, _ := a.Get("com.splunk.source")
		if logs.At(i).Body().Str() != m.Str() {
			t.Errorf("record %d: body %q, message %q", i, logs.At(i).Body().Str(), m.Str())
		}
		got = append(got, m.Str()+" | "+name.Str()+" | "+source.Str())
	}
	want := []string{`ESCU - X - Rule: user bob\nforged | ESCU - X - Rule | ESCU - X - Rule`, "Y | Y | Y"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEnrich(t *testing.T) {
	other := &rule.Rule{ID: "y", Name: "Y", MitreTechniques: []string{"T1046", "T1204"},
		Risk: rule.Risk{Objects: []rule.RiskObject{{Field: "user", Score: 49}}}}
	rec := plog.NewLogRecord()
	rec.Body().SetStr("{}")
	w := NewWriter(Config{})
	w.Enrich(rec, engine.Result{})
	if rec.Attributes().Len() != 0 {
		t.Fatalf("a record without matches was changed")
	}
	w.Enrich(rec, engine.Result{Matches: []engine.Match{{Rule: nodePort}, {Rule: other}}})
	want := map[string]any{
		"rule_id":                  []any{"d7fc865e", "y"},
		"search_name":              []any{"Kubernetes Node Port Creation", "Y"},
		"risk_score":               int64(49),
		"annotations.mitre_attack": []any{"T1046", "T1204"},
		"annotations.mitre_attack.mitre_technique_id": []any{"T1046", "T1204"},
	}
	if got := rec.Attributes().AsRaw(); !reflect.DeepEqual(got, want) {
		t.Errorf("enriched:\n got %#v\nwant %#v", got, want)
	}
	if rec.Body().Str() != "{}" {
		t.Errorf("body changed")
	}
}

func TestMessage(t *testing.T) {
	r := row(f("user", "bob"), f("a b", "x"))
	for msg, want := range map[string]string{
		"plain":             "plain",
		"$user$":            "bob",
		"by $user$.":        "by bob.",
		"$missing$ $user$":  "$missing$ bob",
		"cost $5 and $user": "cost $5 and $user",
		"$$user$":           "$bob",
	} {
		if got := Message(msg, r); got != want {
			t.Errorf("Message(%q) = %q, want %q", msg, got, want)
		}
	}
}

// TestMessageReadsTokensAsTheRuleModel: Message fills, in order, the tokens rule.MessageTokens names that the row
// has a value for, which is what the loader checks a message against: random messages of names, `$`, spaces and
// text, and random rows.
func TestMessageReadsTokensAsTheRuleModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"$", "$", "$", "a", "b", "user", " ", "x y", "\t", "$$", "."}
	names := []string{"a", "b", "user", "x y", "a.b"}
	for range 5000 {
		var msg strings.Builder
		for range 1 + rng.IntN(12) {
			msg.WriteString(pieces[rng.IntN(len(pieces))])
		}
		var fields []engine.RowField
		has := map[string]bool{}
		for _, n := range names {
			if rng.IntN(2) == 0 {
				fields = append(fields, f(n, "<"+n+">"))
				has[n] = true
			}
		}
		var want []string
		for _, n := range rule.MessageTokens(msg.String(), func(name string) bool { return has[name] }) {
			if has[n] {
				want = append(want, "<"+n+">")
			}
		}
		got := regexp.MustCompile(`<[^<>]*>`).FindAllString(Message(msg.String(), row(fields...)), -1)
		if !slices.Equal(got, want) {
			t.Fatalf("Message(%q) with %v filled %q, rule.MessageTokens says %q", msg.String(), has, got, want)
		}
	}
}
