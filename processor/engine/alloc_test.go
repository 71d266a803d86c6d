//go:build !race

// Allocation counts are measured without the race detector: under -race, sync.Pool drops pooled objects at random,
// so an evaluation may allocate a fresh parser. `make test` runs these in a separate pass without -race.

package engine

import (
	"testing"

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
