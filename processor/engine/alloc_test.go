//go:build !race

// Allocation counts are measured without the race detector: under -race, sync.Pool drops pooled objects at random,
// so an evaluation may allocate a fresh parser. `make test` runs these in a separate pass without -race.

package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"

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

// An event a sequence's filter lets through but none of its steps (nor its until) matches moves no state and
// allocates nothing, however late it is (it is not held). It has no auditID: one with an auditID is remembered as
// delivered, which allocates.
func TestSequenceNoStepDoesNotAllocate(t *testing.T) {
	r := roleThenWorkload(time.Minute)
	r.Filter = eq("user.username", "mallory")
	e, err := Compile([]*rule.Rule{r}, Options{AllowedLateness: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Match([]byte(seqEvent("b1", "mallory", "create", "deployments", 100))); err != nil {
		t.Fatal(err)
	}
	body := []byte(seqEvent("", "mallory", "get", "pods", 90))
	e.Evaluate(body) // warm the pool
	if allocs := testing.AllocsPerRun(200, func() { e.Evaluate(body) }); allocs != 0 {
		t.Errorf("an event no step matches allocated %v times", allocs)
	}
}

// TestEvaluatorHoldsOneState: an Evaluator evaluates with the one state it took (none is taken or returned per
// event, and nothing is allocated), answers as Engine.Evaluate does, and gives the state back on Close, once.
func TestEvaluatorHoldsOneState(t *testing.T) {
	e, _ := Compile([]*rule.Rule{nodePortLikeRule(), scanRule()}, Options{})
	quiet := []byte(`{"verb":"get","objectRef":{"resource":"leases","namespace":"kube-system","name":"x"},"user":{"username":"system:kube-scheduler"},"responseStatus":{"code":200}}`)
	ev := e.Evaluator()
	held := ev.st
	ev.Evaluate(quiet) // warm
	allocs := testing.AllocsPerRun(100, func() {
		if res, err := ev.Evaluate(quiet); err != nil || res.Matches != nil {
			t.Fatalf("Evaluate: %v, %v", res.Matches, err)
		}
	})
	if allocs != 0 || ev.st != held {
		t.Errorf("evaluations through the Evaluator: %v allocations, the same state: %v", allocs, ev.st == held)
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
	if ev.st != nil {
		t.Fatal("Close kept the state")
	}
	ev.Close() // nothing to give back twice
}

// TestPooledStatesDoNotKeepBodies: a state back in the pool holds no reference to the last body it read, so that a
// huge record is collected once its batch is gone (sync.Pool keeps its states across one collection).
func TestPooledStatesDoNotKeepBodies(t *testing.T) {
	e, _ := Compile([]*rule.Rule{nodePortLikeRule(), scanRule()}, Options{})
	body := append([]byte(`{"verb":"get","objectRef":{"resource":"leases"},"requestObject":{"data":"`),
		bytes.Repeat([]byte("x"), 1<<20)...)
	body = append(body, `"}}`...)
	gone := weak.Make(&body[0])
	e.Evaluate(body)
	ev := e.Evaluator()
	ev.Evaluate(body)
	ev.Close()
	body = nil
	runtime.GC()
	if gone.Value() != nil {
		t.Error("the body was not collected: a pooled state still refers to it")
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

// TestLookupNoMatchDoesNotAllocate: a row whose values match no row of a lookup's table (hashed exact rows, wildcard
// and CIDR rows tried one by one, a case-insensitive table folding the value) costs no allocation.
func TestLookupNoMatchDoesNotAllocate(t *testing.T) {
	users, err := rule.NewLookupTable(rule.LookupTable{Name: "users", Columns: []string{"user", "ua", "ip", "allowed"},
		Match: []rule.LookupMatch{rule.MatchExact, rule.MatchWildcard, rule.MatchCIDR},
		Rows:  [][]string{{"system:kube-scheduler", "kubectl/*", "10.0.0.0/8", "true"}, {"Admin", "*", "*", "true"}}})
	if err != nil {
		t.Fatal(err)
	}
	uas, err := rule.NewLookupTable(rule.LookupTable{Name: "uas", Columns: []string{"ua", "tool"},
		Match: []rule.LookupMatch{rule.MatchWildcard}, Rows: [][]string{{"curl/*", "curl"}, {"python-requests", "py"}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &rule.Rule{ID: "l", Name: "l", Filter: rule.True{}, Pipeline: []rule.Stage{
		rule.Lookup{Table: users, Inputs: []rule.LookupField{{Column: "user", Field: "user.username"}}, Outputs: []rule.LookupField{{Column: "allowed", Field: "allowed"}}},
		rule.Lookup{Table: uas, Inputs: []rule.LookupField{{Column: "ua", Field: "userAgent"}}, Outputs: []rule.LookupField{{Column: "tool", Field: "tool"}}},
		rule.Search{Cond: rule.Exists{Field: rule.Field{Name: "tool"}}},
	}}
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"verb":"get","user":{"username":"system:kube-controller-manager-with-a-long-name"},"userAgent":"kube-controller-manager/v1.30.2 (linux/amd64) kubernetes/abcdef","sourceIPs":["172.18.0.2"]}`)
	e.Evaluate(body) // warm the pool and the scratch space
	allocs := testing.AllocsPerRun(200, func() {
		if res, _ := e.Evaluate(body); res.Matches != nil {
			t.Fatal("matched")
		}
	})
	if allocs != 0 {
		t.Errorf("a row that matches no lookup row allocated %v times", allocs)
	}
}

// TestStatsAggregatesOncePerEvent: an event's aggregates are the same for each of its groups, so they are computed
// once, not per group: 1500 source addresses and 3000 groups in the event used to read the groups 1000 times (3e6
// values copied and sorted: seconds for a 100 KB event, nearly a minute at 100,000 of each). Allocations are counted,
// not time: per value once, and a few per group, within the bound; per group and value far beyond it.
func TestStatsAggregatesOncePerEvent(t *testing.T) {
	e, err := Compile([]*rule.Rule{nodePortLikeRule()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const ips, groups = 1500, 3000
	var ipList, groupList []string
	for i := range ips {
		ipList = append(ipList, fmt.Sprintf(`"10.0.%d.%d"`, i/250, i%250))
	}
	for i := range groups {
		groupList = append(groupList, fmt.Sprintf(`"g%d"`, i))
	}
	body := strings.Replace(podEvent, `"sourceIPs":["10.1.1.1","192.168.0.9"]`, `"sourceIPs":[`+strings.Join(ipList, ",")+`]`, 1)
	body = strings.Replace(body, `"groups":["dev","ops"]`, `"groups":[`+strings.Join(groupList, ",")+`]`, 1)
	var rows []Row
	allocs := testing.AllocsPerRun(1, func() {
		ms, err := e.Match([]byte(body))
		if err != nil || len(ms) != 1 {
			t.Fatalf("%d matches, %v", len(ms), err)
		}
		rows = ms[0].Rows
	})
	if len(rows) != maxGroupsPerEvent || len(rows[0].Values("user_groups")) != groups || len(rows[len(rows)-1].Values("user_groups")) != groups {
		t.Fatalf("%d rows, want %d, each with the %d groups", len(rows), maxGroupsPerEvent, groups)
	}
	if bound := 20*maxGroupsPerEvent + 10*(ips+groups); allocs > float64(bound) {
		t.Errorf("%v allocations for %d groups of %d values: over %d, the aggregates were computed per group", allocs,
			maxGroupsPerEvent, groups, bound)
	}
}

// TestAllocAddressFloodHeapIsBounded backs the memory figure the README and the example configs give for max_keys: a
// flood of refused requests, each from a new source address (a client can set X-Forwarded-For), fills the built-in
// pack's two rules keyed by address to max_keys, and then they evict. The heap per group must stay near the figure
// quoted (about 900 bytes), and once both rules evict, a flood of as many new addresses again must not grow it.
func TestAllocAddressFloodHeapIsBounded(t *testing.T) {
	const maxKeys = 10000
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	if err != nil {
		t.Fatal(err)
	}
	e, err := Compile(res.Rules, Options{GeoIP: refGeo{}, MaxKeys: maxKeys})
	if err != nil {
		t.Fatal(err)
	}
	var templates [][]byte
	for _, f := range []string{
		"kubernetes_api_scanning_by_unauthenticated_source/seq-match-six-refusals.jsonl",
		"kubernetes_permission_probing_by_authenticated_identity/seq-match-six-refusals-five-resources.jsonl",
	} {
		data, err := os.ReadFile(filepath.Join("..", "builtin", "testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		templates = append(templates, line)
	}
	addr := regexp.MustCompile(`"sourceIPs":\["[^"]*"\]`)
	id := regexp.MustCompile(`"auditID":"[^"]*"`)
	ev := e.Evaluator()
	defer ev.Close()
	next := 0
	flood := func(n int) {
		for k := 0; k < n; k++ {
			for _, tpl := range templates {
				next++
				body := addr.ReplaceAll(tpl, fmt.Appendf(nil, `"sourceIPs":["10.%d.%d.%d"]`, next>>16&255, next>>8&255, next&255))
				body = id.ReplaceAll(body, fmt.Appendf(nil, `"auditID":"flood-%d"`, next))
				if _, err := ev.Evaluate(body); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	held := func() (keys map[string][2]uint64) {
		keys = map[string][2]uint64{}
		for name, k := range e.WindowKeys() {
			if strings.Contains(name, "Scanning") || strings.Contains(name, "Probing") {
				keys[name] = k
			}
		}
		if len(keys) != 2 {
			t.Fatalf("windowed rules of the pack: %v, want the scanning and the probing rule", e.WindowKeys())
		}
		return keys
	}
	flood(10) // warm the evaluator's state
	base := liveHeap()
	flood(maxKeys)
	full := liveHeap()
	for name, k := range held() {
		if k[0] != maxKeys {
			t.Fatalf("%s holds %d groups after %d addresses, want %d", name, k[0], maxKeys+10, maxKeys)
		}
	}
	flood(maxKeys)
	evicting := liveHeap()
	for name, k := range held() {
		if k[0] != maxKeys || k[1] < maxKeys {
			t.Fatalf("%s holds %d groups, evicted %d, after %d more addresses", name, k[0], k[1], maxKeys)
		}
	}
	flood(maxKeys)
	later := liveHeap()
	groups := full - base
	if groups <= 0 {
		t.Fatalf("the heap went from %d to %d bytes while both rules filled", base, full)
	}
	perGroup := float64(groups) / (2 * maxKeys)
	t.Logf("heap: %d bytes before, %d full (%.0f bytes a group), %d and %d while evicting", base, full, perGroup,
		evicting, later)
	// Measured: 1,010 bytes a group at 10,000 keys, 890 at 100,000 (186 MB, the README's figure); 1,170 and 1,050
	// before an aggregate's numbers shared two words (aggState.x, y).
	if perGroup > 1150 {
		t.Errorf("%.0f bytes a group: the README's figure for max_keys is out of date", perGroup)
	}
	// Evicting costs some memory of its own (measured: 8.5% of the groups' at 10,000 keys, 3% at 100,000), once.
	if evicting > full+groups/5 {
		t.Errorf("the heap grew from %d to %d bytes when both rules began to evict", full, evicting)
	}
	if later > evicting+groups/50 {
		t.Errorf("the heap grew from %d to %d bytes while both rules evicted: max_keys does not bound it", evicting, later)
	}
}

// A stats row over by-fields of one value each (nearly every event's) costs as many allocations for twelve fields as
// for three: the values are copied into one string, and each field's values are a slice of the tuple. Two
// allocations per field made a matched event of the built-in pack cost 67 (a rule has up to ten by-fields).
func TestStatsRowAllocationsDoNotGrowWithByFields(t *testing.T) {
	allocs := func(fields int) float64 {
		var by []*fieldRef
		r := &row{}
		for i := range fields {
			name := fmt.Sprintf("f%d", i)
			by = append(by, newFieldRef(rule.Field{Name: name}))
			r.set(name, []string{strings.Repeat("v", i+1)}, false)
		}
		s := statsStage{by: by, aggs: []aggExec{{fn: "count", out: "count"}}}
		rows := []*row{r}
		return testing.AllocsPerRun(100, func() {
			if out := s.run(nil, rows); len(out) != 1 || len(out[0].fields) != fields+1 {
				t.Fatalf("%d rows", len(out))
			}
		})
	}
	if few, many := allocs(3), allocs(12); many != few {
		t.Errorf("a stats row over 12 by-fields made %v allocations, over 3 %v", many, few)
	}
}

// A window's group keys hold their own bytes, not the string a row's value was cut from: split() returns views of
// the event's value, and a by-field of several values keys groups through productTuples. Keys of a few bytes that
// each kept a 256 KB request URI alive would cost max_keys times that, not the memory quoted for it.
func TestAllocWindowKeysDoNotKeepTheValueTheyWereSplitFrom(t *testing.T) {
	e, err := compileSPL(t, `* | eval seg=mvindex(split(requestURI, "/"), 1, 2) | stats count by seg | where count > 5`,
		Options{MaxKeys: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ev := e.Evaluator()
	defer ev.Close()
	pad := strings.Repeat("p", 256<<10)
	flood := func(from, n int) {
		for i := from; i < from+n; i++ {
			body := fmt.Appendf(nil, `{"verb":"get","stageTimestamp":"2026-01-01T10:00:00Z","requestURI":"/a%d/b%d/%s"}`,
				i, i, pad)
			if _, err := ev.Evaluate(body); err != nil {
				t.Fatal(err)
			}
		}
	}
	flood(0, 10) // warm the evaluator's state
	base := liveHeap()
	const events = 200
	flood(10, events)
	grown := liveHeap() - base
	t.Logf("heap grew %d bytes for %d groups", grown, 2*events)
	if held := e.WindowKeys()["w"][0]; held != 2*(events+10) {
		t.Fatalf("the window holds %d groups, want %d", held, 2*(events+10))
	}
	// Each group's key, state and store entry: about a kilobyte. A URI kept alive per event is 128 KB a group.
	if perGroup := grown / (2 * events); perGroup > 8<<10 {
		t.Errorf("the heap grew %d bytes for %d groups of a few bytes' key (%d a group): keys keep their URIs alive",
			grown, 2*events, perGroup)
	}
}

// liveHeap is the heap in use after collecting garbage. Twice: a sync.Pool (the engine's statePool) keeps what it
// holds, and the Engine it is a field of, through one collection, so an earlier engine (the previous run under
// -count, an earlier test) outlives the first.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestAllocCaseBranchOfAFieldIsNotCopied: the case that maps a field (ES|QL's user_agent.original) copies nothing on
// an event whose row the rule then drops: the copy is read in place.
func TestAllocCaseBranchOfAFieldIsNotCopied(t *testing.T) {
	e, err := compileSPL(t, `verb=get | eval ua=case(isnotnull(userAgent), userAgent) | where ua="curl*"`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"verb":"get","userAgent":"kubectl/v1.31 (linux/amd64)"}`)
	if _, err := e.Evaluate(body); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = e.Evaluate(body) }); n != 0 {
		t.Errorf("%v allocations per evaluation, want 0", n)
	}
}

// TestAllocSettledGroupEvent: an event of a known group whose window can no longer answer (count < 3 already false)
// allocates nothing: its key is built in place, the group looked up without a tuple, its values not read, and the
// redelivery memory does not keep it.
func TestAllocSettledGroupEvent(t *testing.T) {
	e, err := Compile([]*rule.Rule{windowRule(cmp("count", rule.OpLt, "3"), countOnly, distinctNames, nameValues)},
		Options{Window: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"auditID":"00000000-aaaa","stage":"ResponseComplete","verb":"get","sourceIPs":["10.0.0.1"],` +
		`"responseStatus":{"code":403},"s":"x","stageTimestamp":"2026-01-01T10:00:00Z"}`
	if n := settledGroupAllocs(t, e, body); n != 0 {
		t.Errorf("%v allocations per event of a settled group, want 0", n)
	}
	if n := e.rules[0].replay.seen.Len(); n != 3 {
		t.Errorf("the redelivery memory holds %d events, want the 3 counted before the window settled", n)
	}
}

// TestAllocConstantColumns: an event counted in a settled group allocates nothing though the rule sets columns
// from fields and constants, in a fused run and alone after a case (ES|QL's `case(..., 1, 0)` aggregate columns).
func TestAllocConstantColumns(t *testing.T) {
	e, err := compileSPL(t, `verb=get | eval a=verb | eval ds="default" | eval u=case(isnotnull(userAgent), userAgent)`+
		` | eval one="1" | stats count values(a) as va values(ds) as dss values(one) as ones by sourceIPs{} | where count < 3`,
		Options{Window: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"auditID":"00000000-aaaa","stage":"ResponseComplete","verb":"get","sourceIPs":["10.0.0.1"],` +
		`"userAgent":"kubectl","stageTimestamp":"2026-01-01T10:00:00Z"}`
	if n := settledGroupAllocs(t, e, body); n != 0 {
		t.Errorf("%v allocations per event of a settled group, want 0", n)
	}
}

// settledGroupAllocs evaluates body, with a new auditID each time, until e's one rule has settled its group (count
// < 3: four events), and returns the allocations of an evaluation after that.
func settledGroupAllocs(t *testing.T, e *Engine, body string) float64 {
	t.Helper()
	ev := e.Evaluator()
	defer ev.Close()
	events := [][]byte{[]byte(body)}
	ids := auditgen.NewIDs(events)
	run := uint32(0)
	evaluate := func() {
		run++
		ids.Renew(events, 0, run)
		if _, err := ev.Evaluate(events[0]); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		evaluate()
	}
	return testing.AllocsPerRun(100, evaluate)
}
