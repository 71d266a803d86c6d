//go:build !race

// Allocation counts are measured without the race detector: under -race, sync.Pool (which the event package still
// uses for validation) drops pooled objects at random. `make test` runs these in a separate pass without -race.

package engine

import (
	"bytes"
	"fmt"
	"runtime"
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

// TestStatesOutliveGarbageCollections: an evaluation after garbage collections reuses the state the last one left,
// with what its parser learnt, and allocates nothing. In a collector the receiver and exporter allocate, so
// collections come every few milliseconds; sync.Pool, which the engine used before, dropped its states at every
// second one.
func TestStatesOutliveGarbageCollections(t *testing.T) {
	e, _ := Compile([]*rule.Rule{nodePortLikeRule(), scanRule()}, Options{})
	body := []byte(`{"verb":"get","objectRef":{"resource":"leases","namespace":"kube-system","name":"x"},"user":{"username":"system:kube-scheduler"},"responseStatus":{"code":200}}`)
	e.Evaluate(body)
	runtime.GC()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if res, _ := e.Evaluate(body); res.Matches != nil {
		t.Fatal("matched")
	}
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n != 0 {
		t.Errorf("the first evaluation after two garbage collections allocated %d times", n)
	}
}

// TestEvaluatorHoldsOneState: an Evaluator evaluates with the one state it took (none is taken or returned per
// event, and nothing is allocated), answers as Engine.Evaluate does, and gives the state back on Close.
func TestEvaluatorHoldsOneState(t *testing.T) {
	e, _ := Compile([]*rule.Rule{nodePortLikeRule(), scanRule()}, Options{})
	quiet := []byte(`{"verb":"get","objectRef":{"resource":"leases","namespace":"kube-system","name":"x"},"user":{"username":"system:kube-scheduler"},"responseStatus":{"code":200}}`)
	e.Evaluate(quiet) // one state in the pool
	ev := e.Evaluator()
	if len(e.states.free) != 0 {
		t.Fatalf("%d states left in the pool while the Evaluator holds one", len(e.states.free))
	}
	held := ev.st
	allocs := testing.AllocsPerRun(100, func() {
		if res, err := ev.Evaluate(quiet); err != nil || res.Matches != nil {
			t.Fatalf("Evaluate: %v, %v", res.Matches, err)
		}
	})
	if allocs != 0 || ev.st != held || len(e.states.free) != 0 {
		t.Errorf("evaluations through the Evaluator: %v allocations, state kept %v, %d states in the pool",
			allocs, ev.st == held, len(e.states.free))
	}
	for _, body := range [][]byte{quiet, []byte(`{"verb":"create","objectRef":{"resource":"services"},` +
		`"requestObject":{"spec":{"type":"NodePort"}},"responseStatus":{"code":201}}`), []byte(`[1]`), []byte(`{"verb":`)} {
		got, gotErr := ev.Evaluate(body)
		want, wantErr := e.Evaluate(body)
		if len(got.Matches) != len(want.Matches) || (gotErr == nil) != (wantErr == nil) {
			t.Errorf("%s: Evaluator gave %d matches, %v; Engine.Evaluate %d, %v", body, len(got.Matches), gotErr,
				len(want.Matches), wantErr)
		}
	}
	ev.Close()
	ev.Close() // a second Close gives nothing back twice
	if n := len(e.states.free); n != 2 || e.states.free[0] == e.states.free[1] {
		t.Errorf("after Close: %d states in the pool, want the two distinct ones", n)
	}
}

// TestStatesAfterHugeEventsAreLetGo: a state whose buffers an event made larger than maxKeptBytes is not kept, so
// that they do not stay for the life of the collector; a large event that leaves them small (one big string) does
// not lose its state; states are kept up to the limit.
func TestStatesAfterHugeEventsAreLetGo(t *testing.T) {
	e, _ := Compile([]*rule.Rule{nodePortLikeRule(), scanRule()}, Options{})
	small := []byte(`{"verb":"get","objectRef":{"resource":"leases"},"user":{"username":"u"}}`)
	bigString := append([]byte(`{"verb":"get","objectRef":{"resource":"leases"},"requestObject":{"data":"`),
		bytes.Repeat([]byte("x"), 2*maxKeptBytes)...)
	bigString = append(bigString, `"}}`...)
	// Members before verb are read into the top-level table, one entry each.
	manyMembers := []byte(`{`)
	for i := range maxKeptBytes / 8 {
		manyMembers = fmt.Appendf(manyMembers, `"k%d":1,`, i)
	}
	manyMembers = append(manyMembers, `"verb":"get"}`...)

	e.Evaluate(small)
	if len(e.states.free) != 1 {
		t.Fatalf("%d states kept after one evaluation, want 1", len(e.states.free))
	}
	st := e.states.free[0]
	e.Evaluate(bigString)
	if len(e.states.free) != 1 || e.states.free[0] != st {
		t.Errorf("the state that read a %d-byte string was not kept (it holds %d bytes)", len(bigString), st.retained())
	}
	e.Evaluate(manyMembers)
	if len(e.states.free) != 0 {
		t.Errorf("the state that read %d top-level members was kept (it holds %d bytes)", maxKeptBytes/8, st.retained())
	}
	e.Evaluate(small)
	if len(e.states.free) != 1 || e.states.free[0] == st {
		t.Errorf("after a huge event: %d states kept, want 1 fresh one", len(e.states.free))
	}
	for range 3 * e.states.limit {
		e.states.put(&evalState{})
	}
	if len(e.states.free) != e.states.limit {
		t.Errorf("%d states kept, want the limit %d", len(e.states.free), e.states.limit)
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
