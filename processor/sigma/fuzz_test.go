package sigma

import (
	"errors"
	"strings"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// FuzzParse: no input panics, every error is a *rule.Error naming the file, and every rule that parses compiles.
// Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sigmaRule("  sel: {verb|contains|all: [a, b], x|re|i: '^a', y|cidr: 10.0.0.0/8}\n  condition: sel")))
	f.Fuzz(func(t *testing.T, data []byte) {
		IsRule(data)
		r, err := Parse("f.yml", data)
		if err != nil {
			var e *rule.Error
			if !errors.As(err, &e) || e.File != "f.yml" || e.Reason == "" {
				t.Fatalf("bad error %T %v", err, err)
			}
			return
		}
		if r.Name == "" || r.ID == "" || r.Filter == nil {
			t.Fatalf("incomplete rule %+v", r)
		}
		if _, err := engine.Compile([]*rule.Rule{r}, engine.Options{}); err != nil {
			t.Fatalf("parsed rule does not compile: %v", err)
		}
	})
}

// FuzzCondition: any condition text over three identifiers parses or fails with an offset inside the text.
// Seeds: testdata/fuzz/FuzzCondition.
func FuzzCondition(f *testing.F) {
	f.Add("sel_a and not (sel_b or 1 of them)")
	searches := []search{
		{name: "sel_a", expr: rule.True{}},
		{name: "sel_b", expr: rule.Or{rule.True{}, rule.True{}}},
		{name: "_filter", expr: rule.True{}},
	}
	f.Fuzz(func(t *testing.T, cond string) {
		referenced := 0
		e, err := parseCondition(cond, searches, &referenced)
		if err != nil {
			var ce *condError
			if !errors.As(err, &ce) || ce.off < 0 || ce.off > len(cond) || ce.reason == "" {
				t.Fatalf("bad error %T %v", err, err)
			}
			return
		}
		if e == nil {
			t.Fatalf("nil expression for %q", cond)
		}
	})
}

// FuzzParseFile: a file of several documents, correlations among them, never panics; errors are *rule.Error naming
// the file; each correlation compiled against the file's rules either fails with a *rule.Error or compiles in the
// engine, unless the engine refuses its condition (lt, eq: a check of its own).
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(correlationBases + "---\ntitle: C\ncorrelation:\n  type: temporal\n  rules: [denied, secret_read]\n" +
		"  group-by: [k]\n  timespan: 5m\n  aliases:\n    k: {denied: user.username, secret_read: objectRef.name}\n"))
	f.Add([]byte(correlationBases + "---\ntitle: C\ncorrelation: {type: value_count, rules: [denied], group-by: [a, b], " +
		"timespan: 1h, condition: {field: verb, gt: 2, lte: 9}, generate: true}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		IsRule(data)
		rules, corrs, err := ParseFile("f.yml", data)
		if err != nil {
			var e *rule.Error
			if !errors.As(err, &e) || e.File != "f.yml" || e.Reason == "" {
				t.Fatalf("bad error %T %v", err, err)
			}
			return
		}
		byRef := map[string]*rule.Rule{}
		for _, r := range rules {
			byRef[r.ID] = r
			if r.Ref != "" {
				byRef[r.Ref] = r
			}
		}
		for _, c := range corrs {
			r, _, err := c.Compile(byRef, nil)
			if err != nil {
				var e *rule.Error
				if !errors.As(err, &e) || e.File != "f.yml" || e.Reason == "" {
					t.Fatalf("bad error %T %v", err, err)
				}
				continue
			}
			if _, err := engine.Compile([]*rule.Rule{r}, engine.Options{}); err != nil && !strings.Contains(err.Error(), "window") {
				t.Fatalf("compiled correlation does not compile in the engine: %v", err)
			}
		}
	})
}
