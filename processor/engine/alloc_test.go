//go:build !race

// Allocation counts are measured without the race detector: under -race, sync.Pool drops pooled objects at random,
// so an evaluation may allocate a fresh parser. `make test` runs these in a separate pass without -race.

package engine

import (
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/loader"

	"github.com/auditdetect/auditdetect/processor/rule"
)

func TestNoMatchDoesNotAllocate(t *testing.T) {
	e, _ := Compile([]*rule.Rule{nodePortLikeRule(), scanRule()}, Options{})
	body := []byte(`{"verb":"get","objectRef":{"resource":"leases","namespace":"kube-system","name":"x"},"user":{"username":"system:kube-scheduler"},"responseStatus":{"code":200}}`)
	e.Evaluate(body) // warm the pool
	allocs := testing.AllocsPerRun(200, func() {
		if res, _ := e.Evaluate(body); res.Matches != nil {
			t.Fatal("matched")
		}
	})
	if allocs != 0 {
		t.Errorf("a record that matches nothing allocated %v times", allocs)
	}
}

// TestNoMatchDoesNotAllocateOnTheMix: every event of the generated mix that no rule's filter accepts (the common
// case) is evaluated without allocating, with the built-in pack loaded. The mix is evaluated once first, so that stateful rules
// (new terms) have seen its terms: an event they still find new is a match.
func TestNoMatchDoesNotAllocateOnTheMix(t *testing.T) {
	// The built-in pack, the rule set every installation runs: the corpus adds rules (Sigma, Elastic) whose
	// filters accept almost every event, which would leave too few events for this test to say anything.
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	if err != nil {
		t.Fatal(err)
	}
	rules := res.Rules
	e, err := Compile(rules, Options{GeoIP: refGeo{}})
	if err != nil {
		t.Fatal(err)
	}
	// The same rules with their filters alone: an event none of them accepts enters no pipeline. (An event a filter
	// accepts may still end in no match, after it has been counted in a window or checked against an allow-list:
	// that work may allocate, and is not the common case this test pins.)
	filters := make([]*rule.Rule, len(rules))
	for i, r := range rules {
		f := *r
		f.Pipeline = nil
		filters[i] = &f
	}
	fe, err := Compile(filters, Options{GeoIP: refGeo{}})
	if err != nil {
		t.Fatal(err)
	}
	mix := auditgen.Generate(5, 400)
	for _, ev := range mix {
		e.Evaluate(ev.Body)
	}
	quiet := 0
	for i, ev := range mix {
		if res, _ := fe.Evaluate(ev.Body); res.Matches != nil {
			continue
		}
		if res, _ := e.Evaluate(ev.Body); res.Matches != nil {
			t.Fatalf("event %d matched a rule whose filter alone did not", i)
		}
		quiet++
		if allocs := testing.AllocsPerRun(3, func() { e.Evaluate(ev.Body) }); allocs != 0 {
			t.Errorf("event %d (%s, %d bytes) allocated %v times", i, ev.Scenario, len(ev.Body), allocs)
		}
	}
	if quiet < 300 {
		t.Fatalf("only %d of 400 events match nothing: the test covers too little", quiet)
	}
	t.Logf("%d events match nothing, none allocates", quiet)
}

// Lower-casing a value outside ASCII for a text field reuses the evaluation's buffer: a text-field rule that does not
// match allocates nothing, as the engine's other no-match paths.
func TestTextPatternOnNonASCIIDoesNotAllocate(t *testing.T) {
	r := &rule.Rule{ID: "t", Name: "t", Filter: textCmp("responseStatus.message", rule.Phrase, "nothing here")}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"verb":"get","objectRef":{"resource":"secrets"},"responseStatus":{"message":"accès refusé pour “bob”"}}`)
	if _, err := e.Evaluate(body); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = e.Evaluate(body) }); n != 0 {
		t.Errorf("%v allocations per evaluation, want 0", n)
	}
}
