package lint_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestSoundOnAPIServerEvents checks lint against the engine: a random filter over the schema's fields, with values
// inside and outside their sets, that lint says can never match matches none of a set of API-server-shaped events:
// the generated mix, and events written for every stage, level and verb (a resource request's proxy and empty verb,
// a non-resource request's odd methods). And a rule lint calls an exclusion that never applies matches where the
// same rule without the exclusion does.
func TestSoundOnAPIServerEvents(t *testing.T) {
	var events [][]byte
	for _, ev := range auditgen.Generate(7, 1500) {
		events = append(events, ev.Body)
	}
	for _, stage := range []string{"RequestReceived", "ResponseStarted", "ResponseComplete", "Panic"} {
		for _, level := range []string{"Metadata", "Request", "RequestResponse"} {
			for _, verb := range []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy", ""} {
				events = append(events, fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":%q,"auditID":"a","stage":%q,`+
					`"requestURI":"/api/v1/namespaces/x/pods","verb":%q,"user":{"username":"alice","groups":["system:authenticated"]},`+
					`"sourceIPs":["10.0.0.1"],"userAgent":"kubectl","objectRef":{"resource":"pods","namespace":"x","name":"p","apiVersion":"v1"},`+
					`"responseStatus":{"metadata":{},"code":403}}`, level, stage, verb))
			}
			for _, method := range []string{"get", "post", "trace", "replace"} {
				events = append(events, fmt.Appendf(nil, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":%q,"auditID":"b","stage":%q,`+
					`"requestURI":"/healthz","verb":%q,"user":{"username":"system:anonymous","groups":["system:unauthenticated"]},`+
					`"sourceIPs":["10.0.0.2"],"responseStatus":{"metadata":{},"code":200}}`, level, stage, method))
			}
		}
	}

	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	eq := func(field, text string) rule.Expr {
		return rule.Compare{Field: rule.Field{Name: field}, Op: rule.OpEq,
			Value: rule.Pattern{Kind: rule.Glob, Text: text, CaseSensitive: rng.IntN(4) == 0}}
	}
	leaf := func() rule.Expr {
		switch rng.IntN(10) {
		case 0:
			return eq("stage", pick("ResponseComplete", "responsecomplete", "ResponseCompleted", "Response*", "*ed", "Panic"))
		case 1:
			return eq("level", pick("Metadata", "Request", "RequestResponse", "ResponseComplete", "Req*", "None"))
		case 2, 3:
			return eq("verb", pick("get", "create", "replace", "escalate", "proxy", "", "trace", "LIST", "li\u017ft", "*"))
		case 4:
			return eq("responseStatus.code", pick("403", "200", "4*", "ALLOW", "?0?"))
		case 5:
			return eq("objectRef.resource", pick("pods", "leases", "secrets"))
		case 6:
			return rule.Exists{Field: rule.Field{Name: pick("objectRef.subresource", "objectRef.name", "hostPath", "user.name", "user.username")}}
		case 7:
			return eq(pick("user.username", "user.name", "user.groups{}"), pick("alice", "system:*"))
		case 8:
			// A comparison of computed values, which lint cannot read: unknown, never "never true".
			return rule.ValueCompare{Left: rule.Call{Func: "length", Args: []rule.Value{rule.FieldValue{Field: rule.Field{Name: pick("user.username", "user.name", "verb")}}}},
				Op: rule.OpGt, Right: rule.Constant{Text: pick("3", "100")}}
		default:
			return eq(pick("requestURI", "sourceIPs{}"), pick("/healthz", "10.*", "/api/*"))
		}
	}
	var expr func(depth int) rule.Expr
	expr = func(depth int) rule.Expr {
		if depth == 0 || rng.IntN(3) == 0 {
			return leaf()
		}
		n := 1 + rng.IntN(3)
		switch rng.IntN(3) {
		case 0:
			a := rule.And{}
			for range n {
				a = append(a, expr(depth-1))
			}
			return a
		case 1:
			o := rule.Or{}
			for range n {
				o = append(o, expr(depth-1))
			}
			return o
		}
		return rule.Not{X: expr(depth - 1)}
	}

	matches := func(f rule.Expr) int {
		n := matchCount(t, &rule.Rule{ID: "r", Name: "r", Filter: f}, events)
		if n < 0 {
			t.Fatalf("%#v does not compile", f)
		}
		return n
	}
	// Every single term of the pools, alone and in a request for a resource, in both cases of comparison.
	never := 0
	pools := map[string][]string{
		"stage":               {"ResponseComplete", "responsecomplete", "ResponseCompleted", "Response*", "*ed", "Panic", "Requeſt*"},
		"level":               {"Metadata", "Request", "RequestResponse", "ResponseComplete", "Req*", "None", "N*", "\u212aind"},
		"verb":                {"get", "create", "replace", "escalate", "proxy", "", "trace", "LIST", "li\u017ft", "*", "g?t"},
		"responseStatus.code": {"403", "200", "4*", "ALLOW", "?0?", "2\\00"},
		"user.name":           {"alice"},
		"user.username":       {"alice", "system:*"},
	}
	for field, values := range pools {
		for _, v := range values {
			for _, cs := range []bool{false, true} {
				term := rule.Compare{Field: rule.Field{Name: field}, Op: rule.OpEq, Value: rule.Pattern{Kind: rule.Glob, Text: v, CaseSensitive: cs}}
				for _, f := range []rule.Expr{term, rule.And{rule.Exists{Field: rule.Field{Name: "objectRef.resource"}}, term}} {
					if lint.Check(&rule.Rule{Filter: f}).NeverMatches {
						never++
						if n := matches(f); n > 0 {
							t.Fatalf("lint says %#v can never match, the engine matched %d events", f, n)
						}
					}
				}
			}
		}
	}

	checked := 0
	for i := 0; i < 1500; i++ {
		f := expr(3)
		res := lint.Check(&rule.Rule{Filter: f})
		if len(res.Findings) > 0 && checked < 300 {
			checked++
			checkFindingsAreFalse(t, &rule.Rule{ID: "r", Name: "r", Filter: f}, res, events)
		}
		if res.NeverMatches {
			never++
			if n := matches(f); n > 0 {
				t.Fatalf("lint says %#v can never match (because of %v), the engine matched %d events", f, res.Because, n)
			}
		}
	}
	// An exclusion that never applies: NOT of a term lint calls never true, added to a rule, changes none of its
	// matches.
	excludes := 0
	for i := 0; i < 1500; i++ {
		d := leaf()
		if !lint.Check(&rule.Rule{Filter: d}).NeverMatches {
			continue
		}
		g := rule.And{eq("objectRef.resource", pick("pods", "leases", "secrets")), expr(2)}
		with := rule.And{g, rule.Not{X: d}}
		if res := lint.Check(&rule.Rule{Filter: with}); len(res.NeverExcludes) == 0 {
			t.Fatalf("%#v: no exclusion that never applies reported", with)
		}
		excludes++
		if a, b := matches(g), matches(with); a != b {
			t.Fatalf("NOT %#v changed %#v's matches from %d to %d", d, g, a, b)
		}
	}
	// The random filters must exercise both outcomes, or the test says nothing.
	if never < 150 || excludes < 50 {
		t.Fatalf("only %d never-matching filters of 1500 and %d exclusions: widen the generator", never, excludes)
	}
}

// TestGroupSetAfterTheCopy: a group field copied from a path no event has, then set by a later stage (fillnull, a
// rename or copy to it), has a value on every row: the stats makes groups and the rule matches, so lint must not
// say it never matches (the engine would then leave it out: engine.Options.SkipNeverMatching).
func TestGroupSetAfterTheCopy(t *testing.T) {
	event := []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete",` +
		`"verb":"create","user":{"username":"alice"},"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"pods","name":"p"}}`)
	copyOf := rule.Eval{To: "g", Value: rule.FieldValue{Field: rule.Field{Name: "user.name", AnyArray: true}}}
	for name, set := range map[string]rule.Stage{
		"fillnull": rule.FillNull{Value: "none", Fields: []string{"g"}},
		"rename":   rule.Rename{Pairs: []rule.RenamePair{{From: "user.username", To: "g"}}},
		"copy":     rule.Copy{From: "sourceIPs{}", To: "g"},
	} {
		r := &rule.Rule{ID: "r", Name: "r", Filter: rule.Compare{Field: rule.Field{Name: "verb"}, Op: rule.OpEq,
			Value: rule.Pattern{Kind: rule.Glob, Text: "create"}},
			Pipeline: []rule.Stage{copyOf, set, rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"g"}}}}
		if n := matchCount(t, r, [][]byte{event}); n != 1 {
			t.Fatalf("%s: the engine matched %d events, want 1", name, n)
		}
		if res := lint.Check(r); res.NeverMatches {
			t.Errorf("%s: lint says the rule never matches (%v), and the engine matches it", name, res.Because)
		}
	}
}
