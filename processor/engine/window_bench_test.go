package engine

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Benchmarks of the stateful path beside the stateless one. `make bench BENCH=Path BENCH_PKGS=./processor/engine`.
//
// Both evaluate matching events: the stateless rule runs per-event stats (the ESCU shape of most detections); the
// stateful rule is the built-in scanning detection's shape (count and four values() by source address, where count
// > 5) over a window, with events spread over many keys so that groups are created, updated and fire.

func scanningShape() *rule.Rule {
	return &rule.Rule{
		ID: "scan", Name: "scan", Filter: eq("responseStatus.code", "403"),
		Pipeline: []rule.Stage{
			rule.FillNull{Value: "-"},
			rule.Stats{Aggs: []rule.Aggregate{
				{Func: "count"},
				{Func: "values", Field: "requestURI", As: "request_uris"},
				{Func: "values", Field: "verb", As: "verbs"},
				{Func: "values", Field: "userAgent", As: "user_agents"},
				{Func: "values", Field: "user.username", As: "user"},
			}, By: []string{"sourceIPs{}"}},
			rule.Where{Cond: cmp("count", rule.OpGt, "5")},
			rule.Rename{Pairs: []rule.RenamePair{{From: "sourceIPs{}", To: "src_ip"}}},
		},
	}
}

// refusedEvents returns n anonymous 403 events from keys distinct source addresses, step apart. Each auditID is 12
// digits wide, so that benchPath can rewrite it in place.
func refusedEvents(n, keys int, step time.Duration) [][]byte {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-%012d","stage":"ResponseComplete",`+
			`"requestURI":"/api/v1/namespaces/ns-%d/secrets","verb":"list","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},`+
			`"sourceIPs":["10.%d.%d.%d"],"userAgent":"zgrab/0.x","objectRef":{"resource":"secrets","namespace":"ns-%d","apiVersion":"v1"},`+
			`"responseStatus":{"metadata":{},"status":"Failure","reason":"Forbidden","code":403},"stageTimestamp":%q}`,
			i, i%7, (i%keys)>>16&255, (i%keys)>>8&255, i%keys&255, i%7, base.Add(time.Duration(i)*step).Format(time.RFC3339Nano)))
	}
	return out
}

// benchPath evaluates the events in turn, one second of event time apart: each event's stageTimestamp and auditID are
// rewritten in place so that time keeps moving forward however often the set is replayed, and windows open, fire and
// close as in a live stream (200 keys: each key sees 18 events an hour and fires once per window). A repeated
// auditID would be a redelivery, answered from the memory of delivered events without touching the window.
func benchPath(b *testing.B, r *rule.Rule) {
	events := refusedEvents(1<<12, 200, time.Second)
	e, err := Compile([]*rule.Rule{r}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	const stamp, id = `"stageTimestamp":"`, `"auditID":"a-`
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ts []byte
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := events[i%len(events)]
		at := bytes.Index(ev, []byte(stamp)) + len(stamp)
		ts = base.Add(time.Duration(i)*time.Second).AppendFormat(ts[:0], "2006-01-02T15:04:05Z")
		copy(ev[at:], ts)
		at = bytes.Index(ev, []byte(id)) + len(id)
		copy(ev[at:], fmt.Appendf(ts[:0], "%012d", i))
		if _, err := e.Evaluate(ev); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkPathStateless(b *testing.B) {
	r := scanningShape()
	r.Pipeline = append(r.Pipeline[:2:2], r.Pipeline[3]) // the same stats, per event (no where on an aggregate)
	benchPath(b, r)
}

func BenchmarkPathStateful(b *testing.B) {
	benchPath(b, scanningShape())
}

// BenchmarkPathStatefulBytesPerKey measures the heap one group of the scanning shape holds: 100000 distinct keys,
// each updated once (one value per values()), as a flood of one-off sources would leave them.
func BenchmarkPathStatefulBytesPerKey(b *testing.B) {
	const keys = 100000
	events := refusedEvents(keys, keys, 10*time.Millisecond) // all in one hourly window
	for i := 0; i < b.N; i++ {
		e, err := Compile([]*rule.Rule{scanningShape()}, Options{MaxKeys: keys})
		if err != nil {
			b.Fatal(err)
		}
		before := heapInUse()
		for _, ev := range events {
			e.Evaluate(ev)
		}
		after := heapInUse()
		if st := e.WindowStats()[0]; st.Keys != keys {
			b.Fatalf("held %d keys", st.Keys)
		}
		b.ReportMetric(float64(after-before)/keys, "bytes/key")
		runtime.KeepAlive(e)
	}
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkStateSaveRestore measures a checkpoint of full state (docs/stateful.md#restarts): one windowed rule and
// one new_terms rule, each holding max_keys (the default 100,000) keys and the memory of as many delivered events as
// it keeps. `make bench BENCH=StateSaveRestore BENCH_PKGS=./processor/engine`.
func BenchmarkStateSaveRestore(b *testing.B) {
	const keys = 100000
	rules := func() []*rule.Rule {
		return []*rule.Rule{windowRule(cmp("count", rule.OpGt, "5"), countOnly), newTermsRule(time.Hour)}
	}
	e, err := Compile(rules(), Options{MaxKeys: keys})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < keys; i++ {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
		if _, err := e.Match(ev(ip, 1, fmt.Sprintf(`"auditID":"id-%d"`, i))); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Match([]byte(termEvent(fmt.Sprintf("user-%d", i), 1, ip))); err != nil {
			b.Fatal(err)
		}
	}
	var saved bytes.Buffer
	if err := e.SaveState(&saved); err != nil {
		b.Fatal(err)
	}
	b.Run("save", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var buf bytes.Buffer
			if err := e.SaveState(&buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(saved.Len()), "bytes/save")
	})
	b.Run("restore", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			after, err := Compile(rules(), Options{MaxKeys: keys})
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := after.RestoreState(bytes.NewReader(saved.Bytes())); err != nil {
				b.Fatal(err)
			}
		}
	})
}
