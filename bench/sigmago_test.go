package bench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"
)

// The Go rule engine a user would pick for Sigma rules: sigma-go evaluates a rule against a flat map of field
// values. It has no nested-field access, so the event is decoded with encoding/json and flattened to the dotted
// names the rules use (objectRef.resource); arrays become lists of values, and an identity field mapping makes
// sigma-go compare each value of a list, as Sigma means.

type sigmaGo struct {
	rules []*evaluator.RuleEvaluator
}

func newSigmaGo(tb testing.TB) *sigmaGo {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(corpus(tb), "sigma", "*.yml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no Sigma rules: %v", err)
	}
	var rules []sigma.Rule
	cfg := sigma.Config{FieldMappings: map[string]sigma.FieldMapping{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		r, err := sigma.ParseRule(data)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		rules = append(rules, r)
		for _, s := range r.Detection.Searches {
			for _, em := range s.EventMatchers {
				for _, fm := range em {
					cfg.FieldMappings[fm.Field] = sigma.FieldMapping{TargetNames: []string{fm.Field}}
				}
			}
		}
	}
	s := &sigmaGo{}
	for _, r := range rules {
		s.rules = append(s.rules, evaluator.ForRule(r, evaluator.WithConfig(cfg)))
	}
	return s
}

// matches decodes and flattens body, then evaluates every rule, and returns how many matched.
func (s *sigmaGo) matches(body []byte) int {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return 0
	}
	flat := map[string]any{}
	flatten(flat, "", raw)
	n := 0
	for _, r := range s.rules {
		if res, err := r.Matches(context.Background(), flat); err == nil && res.Match {
			n++
		}
	}
	return n
}

// flatten adds v's leaves to out under dotted names; the values of a name met in several array elements collect
// in a list.
func flatten(out map[string]any, name string, v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if name != "" {
				k = name + "." + k
			}
			flatten(out, k, x)
		}
	case []any:
		for _, x := range v {
			flatten(out, name, x)
		}
	default:
		switch prev := out[name].(type) {
		case nil:
			out[name] = v
		case []any:
			out[name] = append(prev, v)
		default:
			out[name] = []any{prev, v}
		}
	}
}
