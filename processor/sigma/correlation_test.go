package sigma

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// The base rules of the correlations below: a denied request, and a secret read.
const correlationBases = `title: Denied request
id: 11111111-0000-4000-8000-000000000001
name: denied
logsource: {product: kubernetes, service: audit}
detection:
  sel: {responseStatus.code: 403}
  condition: sel
tags: [attack.discovery]
---
title: Secret read
id: 11111111-0000-4000-8000-000000000002
name: secret_read
logsource: {product: kubernetes, service: audit}
detection:
  sel: {verb: get, objectRef.resource: secrets}
  condition: sel
`

// compileCorrelation parses the bases and the correlation document and compiles the correlation.
func compileCorrelation(t *testing.T, doc string) (*rule.Rule, error) {
	t.Helper()
	rules, corrs, err := ParseFile("c.yml", []byte(correlationBases+"---\n"+doc))
	if err != nil {
		return nil, err
	}
	if len(rules) != 2 || len(corrs) != 1 {
		t.Fatalf("%d rules and %d correlations, want 2 and 1", len(rules), len(corrs))
	}
	byRef := map[string]*rule.Rule{}
	for _, r := range rules {
		byRef[r.ID], byRef[r.Ref] = r, r
	}
	r, _, err := corrs[0].Compile(byRef, map[string]bool{corrs[0].Rule.ID: true, corrs[0].Rule.Ref: true})
	return r, err
}

// event is a compact audit event by user from ip at second s, with the given response code, verb and resource.
func event(user, ip string, s int, code int, verb, resource, name string) []byte {
	at := time.Date(2026, 11, 6, 10, 0, s, 0, time.UTC).Format(time.RFC3339Nano) // in the past: a future time counts at the watermark
	return []byte(`{"kind":"Event","verb":"` + verb + `","user":{"username":"` + user + `"},"sourceIPs":["` + ip +
		`"],"objectRef":{"resource":"` + resource + `","name":"` + name + `"},"responseStatus":{"code":` +
		strconv.Itoa(code) + `},"stageTimestamp":"` + at + `"}`)
}

// fires runs the events through the rule and returns the indexes of those that fired it.
func fires(t *testing.T, r *rule.Rule, events ...[]byte) []int {
	t.Helper()
	e, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for i, ev := range events {
		ms, err := e.Match(ev)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 0 {
			out = append(out, i)
		}
	}
	return out
}

func TestCorrelationTypes(t *testing.T) {
	denied := func(user, ip string, s int, name string) []byte { return event(user, ip, s, 403, "list", "pods", name) }
	read := func(user, ip string, s int, name string) []byte {
		return event(user, ip, s, 200, "get", "secrets", name)
	}
	for _, tc := range []struct {
		name, doc string
		events    [][]byte
		want      []int
	}{
		{"event_count fires when the count of a group reaches the threshold, once per window",
			"title: Many denied\ncorrelation: {type: event_count, rules: [denied], group-by: [user.username], timespan: 5m, condition: {gte: 3}}\n",
			[][]byte{denied("a", "10.0.0.1", 0, "x"), denied("b", "10.0.0.1", 1, "x"), denied("a", "10.0.0.1", 2, "x"),
				read("a", "10.0.0.1", 3, "s"), denied("a", "10.0.0.1", 4, "x"), denied("a", "10.0.0.1", 5, "x")},
			[]int{4}},
		{"value_count counts distinct values of its field",
			"title: Many secrets\ncorrelation: {type: value_count, rules: [secret_read], group-by: [user.username], timespan: 5m, condition: {field: objectRef.name, gt: 1}}\n",
			[][]byte{read("a", "10.0.0.1", 0, "s1"), read("a", "10.0.0.1", 1, "s1"), read("a", "10.0.0.1", 2, "s2")},
			[]int{2}},
		{"temporal fires when every named rule matched for the group",
			"title: Probe then read\ncorrelation: {type: temporal, rules: [denied, secret_read], group-by: [sourceIPs], timespan: 5m}\n",
			[][]byte{denied("a", "10.0.0.1", 0, "x"), read("b", "10.0.0.2", 1, "s"), denied("c", "10.0.0.1", 2, "x"), read("d", "10.0.0.1", 3, "s")},
			[]int{3}},
		{"temporal counts an event for every named rule it matches (a rule of a subset of another's events too)",
			"title: Denied and secret\ncorrelation: {type: temporal, rules: [denied, secret_read], group-by: [user.username], timespan: 5m}\n",
			[][]byte{event("a", "10.0.0.1", 0, 403, "get", "secrets", "s")},
			[]int{0}},
		{"an alias groups each rule's events by a field of its own",
			"title: Same name\ncorrelation:\n  type: temporal\n  rules: [denied, secret_read]\n  group-by: [thing]\n  timespan: 5m\n" +
				"  aliases:\n    thing: {denied: objectRef.name, secret_read: user.username}\n",
			[][]byte{denied("u", "10.0.0.1", 0, "bob"), read("alice", "10.0.0.1", 1, "s"), read("bob", "10.0.0.1", 2, "s")},
			[]int{2}},
		{"temporal_ordered fires when the named rules matched in order for the group",
			"title: Probe then read\ncorrelation: {type: temporal_ordered, rules: [denied, secret_read], group-by: [user.username], timespan: 5m}\n",
			[][]byte{read("a", "10.0.0.1", 0, "s"), denied("a", "10.0.0.1", 1, "x"), read("b", "10.0.0.1", 2, "s"),
				read("a", "10.0.0.1", 3, "s"), read("a", "10.0.0.1", 4, "s")},
			[]int{3}},
		{"temporal_ordered within the timespan",
			"title: Probe then read\ncorrelation: {type: temporal_ordered, rules: [denied, secret_read], group-by: [user.username], timespan: 5s}\n",
			[][]byte{denied("a", "10.0.0.1", 0, "x"), read("a", "10.0.0.1", 6, "s"), denied("a", "10.0.0.1", 7, "x"), read("a", "10.0.0.1", 12, "s")},
			[]int{3}},
		{"temporal_ordered with an alias keys each step on its rule's field",
			"title: Same name\ncorrelation:\n  type: temporal_ordered\n  rules: [denied, secret_read]\n  group-by: [thing]\n  timespan: 5m\n" +
				"  aliases:\n    thing: {denied: objectRef.name, secret_read: user.username}\n",
			[][]byte{denied("u", "10.0.0.1", 0, "bob"), read("alice", "10.0.0.1", 1, "s"), read("bob", "10.0.0.1", 2, "s")},
			[]int{2}},
		{"a window is the timespan: two events a window apart do not count together",
			"title: Many denied\ncorrelation: {type: event_count, rules: [denied], group-by: [user.username], timespan: 1s, condition: {gte: 2}}\n",
			[][]byte{denied("a", "10.0.0.1", 0, "x"), denied("a", "10.0.0.1", 1, "x"), denied("a", "10.0.0.1", 1, "x")},
			[]int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := compileCorrelation(t, tc.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := fires(t, r, tc.events...); !equalInts(got, tc.want) {
				t.Errorf("fired on %v, want %v", got, tc.want)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCorrelationRiskAndWindow(t *testing.T) {
	r, err := compileCorrelation(t, "title: Many denied\nlevel: high\ntags: [attack.t1613]\n"+
		"correlation: {type: event_count, rules: [denied], group-by: [user.username, sourceIPs], timespan: 10m, condition: {gte: 3}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.Window != 10*time.Minute {
		t.Errorf("window %v, want the timespan", r.Window)
	}
	if o := r.Risk.Objects; len(o) != 1 || o[0].Field != "user.username" || o[0].Type != "user" || o[0].Score != 73 {
		t.Errorf("risk objects %+v", o)
	}
	if th := r.Risk.Threats; len(th) != 1 || th[0].Field != "sourceIPs" || th[0].Type != "ip_address" {
		t.Errorf("threat objects %+v", th)
	}
	if strings.Join(r.MitreTechniques, " ") != "T1613" || strings.Join(r.MitreTactics, " ") != "TA0007" {
		t.Errorf("mitre %v %v: the correlation's tags and its rules'", r.MitreTechniques, r.MitreTactics)
	}
}

func TestCorrelationErrors(t *testing.T) {
	for _, tc := range []struct {
		doc    string
		line   int
		reason string
	}{
		{"title: X\ncorrelation: {type: temporal_ordered, rules: [denied], group-by: [a], timespan: 5m}\n", 2, "at least two rules"},
		{"title: X\ncorrelation: {type: temporal_ordered, rules: [a, b], group-by: [u], timespan: 5m, condition: {gte: 1}}\n", 2, "gte: 2"},
		{"title: X\ncorrelation: {type: sum, rules: [denied], group-by: [a], timespan: 5m}\n", 2, `unknown correlation type "sum"`},
		{"title: X\ncorrelation: {type: event_count, group-by: [a], timespan: 5m, condition: {gte: 1}}\n", 2, "missing correlation `rules`"},
		{"title: X\ncorrelation: {type: event_count, rules: [denied], timespan: 5m, condition: {gte: 1}}\n", 2, "missing `group-by`"},
		{"title: X\ncorrelation: {type: event_count, rules: [denied], group-by: [a], timespan: 5 minutes, condition: {gte: 1}}\n", 2, `timespan "5 minutes"`},
		{"title: X\ncorrelation: {type: event_count, rules: [denied], group-by: [a], timespan: 5m, condition: {ge: 1}}\n", 2, `unknown condition "ge"`},
		{"title: X\ncorrelation: {type: event_count, rules: [denied], group-by: [a], timespan: 5m, condition: {gte: many}}\n", 2, "takes a whole number"},
		{"title: X\ncorrelation: {type: value_count, rules: [denied], group-by: [a], timespan: 5m, condition: {gte: 2}}\n", 2, "names its `field`"},
		{"title: X\ncorrelation: {type: event_count, rules: [denied], group-by: [a], timespan: 5m}\n", 2, "missing `condition`"},
		{"title: X\ncorrelation:\n  type: event_count\n  rules:\n    - denied\n    - nope\n  group-by: [a]\n  timespan: 5m\n  condition: {gte: 1}\n", 6, `no loaded Sigma rule has the name or id "nope"`},
		{"title: X\nname: x\ncorrelation:\n  type: event_count\n  rules:\n    - x\n  group-by: [a]\n  timespan: 5m\n  condition: {gte: 1}\n", 6, "correlations of correlations are not supported"},
		{"title: X\ncorrelation:\n  type: temporal\n  rules: [denied]\n  group-by: [a]\n  timespan: 5m\n  aliases:\n    a: {nope: f}\n", 8, "alias a names nope"},
		{"title: X\ncorrelation:\n  type: event_count\n  rules:\n    - denied\n    - denied\n  group-by: [a]\n  timespan: 5m\n  condition: {gte: 1}\n", 6, "denied is named twice"},
		{"title: X\ncorrelation:\n  type: event_count\n  rules:\n    - denied\n    - 11111111-0000-4000-8000-000000000001\n  group-by: [a]\n  timespan: 5m\n  condition: {gte: 1}\n", 6, "names Denied request again"},
		{"title: X\ncorrelation:\n  type: temporal\n  rules: [denied]\n  group-by: [a]\n  timespan: 5m\n  aliases:\n    a:\n      denied: user.username\n      11111111-0000-4000-8000-000000000001: objectRef.name\n", 9, "alias a names the rule Denied request twice"},
		{"title: X\ncorrelation: {type: event_count, rules: [denied], group-by: [a, b, a], timespan: 5m, condition: {gte: 1}}\n", 2, "group-by names a twice"},
		{"title: X\ncorrelation: {type: event_count, rules: [denied], group-by: [event_count], timespan: 5m, condition: {gte: 1}}\n", 2, "names a column of the correlation's own rows"},
		{"title: X\ncorrelation: {type: event_count, rules: [" + strings.Repeat("r, ", 100) + "denied], group-by: [a], timespan: 5m, condition: {gte: 1}}\n", 2, "at most 100 rules"},
		{"title: X\nlevel: severe\ncorrelation: {type: event_count, rules: [denied], group-by: [a], timespan: 5m, condition: {gte: 1}}\n", 2, `unknown level "severe"`},
	} {
		_, err := compileCorrelation(t, tc.doc)
		var e *rule.Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v, want *rule.Error", tc.doc, err)
			continue
		}
		// Lines count from the start of the correlation's document, after the bases' 16 lines and the separator.
		if got := e.Line - 17; got != tc.line || !strings.Contains(e.Reason, tc.reason) {
			t.Errorf("%q: line %d %q, want line %d containing %q", tc.doc, got, e.Reason, tc.line, tc.reason)
		}
	}
	// A condition that can stop holding as the window fills is answered when the window closes, or refused by the
	// engine where that cannot be written (enrich mode).
	r, err := compileCorrelation(t, "title: X\ncorrelation: {type: event_count, rules: [denied], group-by: [a], timespan: 5m, condition: {lt: 3}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Compile([]*rule.Rule{r}, engine.Options{NoCloseResults: true}); err == nil || !strings.Contains(err.Error(), "would fire on the first event of every group") {
		t.Errorf("engine: %v, want the refusal of lt", err)
	}
	if _, err := engine.Compile([]*rule.Rule{r}, engine.Options{}); err != nil {
		t.Errorf("engine: %v, want lt answered at the window's close", err)
	}
}
