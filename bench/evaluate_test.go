package bench

import (
	"slices"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestEvaluateRoundsAreNewEvents: testing.B calls a benchmark's function once per round (b.N = 1, 100, ...), and
// BenchmarkLargeEvent makes its engine outside that function: each round's evaluate must give its events auditIDs
// the rounds before did not, or the stateful rules take them for redeliveries. Two rounds of one event count it
// twice.
func TestEvaluateRoundsAreNewEvents(t *testing.T) {
	r := &rule.Rule{ID: "w", Name: "w", Filter: rule.True{}, Pipeline: []rule.Stage{
		rule.Stats{Aggs: []rule.Aggregate{{Func: "count"}}, By: []string{"verb"}},
		rule.Where{Cond: rule.Compare{Field: rule.Field{Name: "count"}, Op: rule.OpLt,
			Value: rule.Pattern{Kind: rule.Glob, Text: "100"}}}, // answered at the window's close, with its count
	}}
	e, err := engine.Compile([]*rule.Rule{r}, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	events := [][]byte{slices.Clone(mix[0])}
	for range 2 { // two rounds, each with its own evaluate as perEvent gets it
		evaluate(t, e, events)(events[0])
	}
	closed := e.CloseAll()
	if len(closed) != 1 || !slices.Equal(closed[0].Row.Values("count"), []string{"2"}) {
		var counts [][]string
		for _, c := range closed {
			counts = append(counts, c.Row.Values("count"))
		}
		t.Errorf("two rounds of one event: window counts %v, want [[2]]", counts)
	}
}
