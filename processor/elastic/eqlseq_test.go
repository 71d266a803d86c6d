package elastic

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

func TestEQLSequence(t *testing.T) {
	fm := defaultMap(t)
	for _, tc := range []struct {
		query string
		steps int
		span  time.Duration
		by    []string // step 0's key fields, then the last step's
	}{
		{`sequence by user.name with maxspan=5m [any where kubernetes.audit.verb == "create"] [any where kubernetes.audit.verb == "delete"]`,
			2, 5 * time.Minute, []string{"user.username", "user.username"}},
		{`sequence with maxspan=30s by source.ip [any where true] [any where true] [any where true]`,
			3, 30 * time.Second, []string{"sourceIPs", "sourceIPs"}},
		{`sequence [any where true] by user.name [any where true] by kubernetes.audit.impersonatedUser.username`,
			2, 0, []string{"user.username", "impersonatedUser.username"}},
		{`sequence by user.name [any where true] with runs=3 [any where false]`, 4, 0, []string{"user.username", "user.username"}},
		// A key the map makes a constant joins every event alike.
		{`sequence by data_stream.dataset, user.name with maxspan=1h [any where true] [any where true]`,
			2, time.Hour, []string{"user.username", "user.username"}},
		{`/* c */ sequence with maxspan=500ms [any where true] [any where true]`, 2, 500 * time.Millisecond, nil},
	} {
		filter, seq, err := CompileEQLSequence(tc.query, fm)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if filter == nil || len(seq.Steps) != tc.steps || seq.MaxSpan != tc.span {
			t.Errorf("%s: %d steps, span %s", tc.query, len(seq.Steps), seq.MaxSpan)
			continue
		}
		var by []string
		if len(seq.Steps[0].By) > 0 {
			by = []string{seq.Steps[0].By[len(seq.Steps[0].By)-1].Name, seq.Steps[len(seq.Steps)-1].By[len(seq.Steps[0].By)-1].Name}
		}
		if strings.Join(by, " ") != strings.Join(tc.by, " ") {
			t.Errorf("%s: keys %v, want %v", tc.query, by, tc.by)
		}
	}
	for query, want := range map[string]string{
		`sequence [any where true]`:                                                                   "at least two steps",
		`sequence [any where true] [any where true] until any where true`:                             "`until` takes a condition in brackets",
		`sequence by user.name [any where true] [any where true] until [any where true] by source.ip`: "as many fields",
		`sequence [any where true] ![any where true] [any where true]`:                                "missing events",
		`sequence with maxspan=5y [any where true] [any where true]`:                                  "unit is ms, s, m, h or d",
		`sequence with maxspan=0m [any where true] [any where true]`:                                  "whole number",
		`sequence [any where true] by user.name [any where true]`:                                     "as many fields",
		`sequence [any where true] with runs=200 [any where true]`:                                    "whole number",
		`sequence [any where true] [any where true] | head 5`:                                         "pipes",
		`sequence by user.name by user.name [any where true] [any where true]`:                        "written once",
		`sequence by kubernetes.audit.requestObject.metadata.name [any where true] [any where true]`:  "no event would join",
		`sequence with maxspan=200000d [any where true] [any where true]`:                             "maxspan is at most 366 days",
		`sequence [any where true [any where true]`:                                                   "expected `]`",
		`sequence foo [any where true] [any where true]`:                                              "unexpected \"foo\"",
	} {
		_, _, err := CompileEQLSequence(query, fm)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", query, err, want)
		}
	}
	filter, seq, err := CompileEQLSequence(`sequence by user.name [any where kubernetes.audit.verb == "create"] [any where kubernetes.audit.verb == "patch"] until [any where kubernetes.audit.verb == "delete"]`, fm)
	if err != nil || seq.Until.Cond == nil || len(seq.Until.By) != 1 || len(filter.(rule.Or)) != 3 {
		t.Errorf("until: %v, %+v, filter %#v", err, seq.Until, filter)
	}
	// `=` outside a parameter is still the usual mistake.
	if _, err := CompileEQL(`any where verb = "x"`, fm); err == nil || !strings.Contains(err.Error(), "use `==`") {
		t.Errorf("single `=`: %v", err)
	}
}

// An event whose join key is empty takes no part: the ingest pipeline leaves an empty user.name unset, and
// Elasticsearch joins no event on a null key.
func TestEQLSequenceEmptyKey(t *testing.T) {
	filter, seq, err := CompileEQLSequence(`sequence by user.name with maxspan=5m [any where kubernetes.audit.verb == "create"] [any where kubernetes.audit.verb == "delete"]`, defaultMap(t))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Compile([]*rule.Rule{{ID: "s", Name: "s", Filter: filter, Pipeline: []rule.Stage{seq}}}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"", "mallory"} {
		var matched bool
		for i, verb := range []string{"create", "delete"} {
			body := fmt.Sprintf(`{"auditID":"%s%d","verb":%q,"user":{"username":%q},"stageTimestamp":"2026-03-01T09:00:0%dZ"}`, user, i, verb, user, i)
			ms, err := e.Match([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			matched = matched || len(ms) > 0
		}
		if matched != (user != "") {
			t.Errorf("user %q: matched %v", user, matched)
		}
	}
}

// A sequence without maxspan spans the rule's look-back (from), Kibana's default without one.
func TestEQLSequenceLookBack(t *testing.T) {
	for from, want := range map[string]time.Duration{`from = "now-60m"` + "\n": time.Hour, "": 6 * time.Minute} {
		doc := tomlRule("severity = \"low\"\ntype = \"eql\"\n" + from +
			"query = '''\nsequence by user.name [any where kubernetes.audit.verb == \"create\"] [any where kubernetes.audit.verb == \"delete\"]\n'''\n")
		r, err := Parse("x.toml", []byte(doc), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.Pipeline[0].(rule.Sequence); !ok || r.Window != want {
			t.Errorf("from %q: window %s, want %s", from, r.Window, want)
		}
	}
}
