//go:build !race

// Allocation counts are measured without the race detector: under -race, sync.Pool drops pooled objects at random,
// so an evaluation may allocate a fresh parser. `make test` runs these in a separate pass without -race.

package engine

import (
	"testing"

	"github.com/auditdetect/auditdetect/processor/auditgen"

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

// TestNoMatchDoesNotAllocateOnTheMix: every event of the generated mix that matches no rule (the common case) is
// evaluated without allocating, with every rule loaded. The mix is evaluated once first, so that stateful rules
// (new terms) have seen its terms: an event they still find new is a match.
func TestNoMatchDoesNotAllocateOnTheMix(t *testing.T) {
	rules := allRules(t)
	e, err := Compile(rules, Options{GeoIP: refGeo{}})
	if err != nil {
		t.Fatal(err)
	}
	mix := auditgen.Generate(5, 400)
	for _, ev := range mix {
		e.Evaluate(ev.Body)
	}
	quiet := 0
	for i, ev := range mix {
		if res, _ := e.Evaluate(ev.Body); res.Matches != nil {
			continue
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
