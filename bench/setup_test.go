// Package bench measures auditdetect beside what a collector user would run instead (the contrib transform
// processor with OTTL, the sigma-go rule engine) and beside the floors of the machine (a full fastjson parse, one
// bytes.Index pass), on the same generated audit log. It is a module of its own, so that its dependencies stay out
// of the collector build and of `make test`; `make bench` runs it.
package bench

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/geoip"
	"github.com/auditdetect/auditdetect/processor/geoip/geoiptest"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// mixSize is the number of events of the generated mix every benchmark runs over (about 10 MB, more than the
// caches hold, as a collector's batches are).
const mixSize = 4000

var mix = func() [][]byte {
	var out [][]byte
	for _, ev := range auditgen.Generate(1, mixSize) {
		out = append(out, ev.Body)
	}
	return out
}()

// mixBytes is the average size of a mix event.
var mixBytes = func() int64 {
	n := 0
	for _, b := range mix {
		n += len(b)
	}
	return int64(n / len(mix))
}()

// corpus is ../shared/corpus, or $AUDITDETECT_CORPUS.
func corpus(tb testing.TB) string {
	dir := os.Getenv("AUDITDETECT_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "corpus")
	}
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("the corpus is not at %s (set AUDITDETECT_CORPUS)", dir)
	}
	return dir
}

// fullRulePaths is the `rules:` list of the full rule set: the built-in pack and every corpus rule that loads.
func fullRulePaths(tb testing.TB) []string {
	c := corpus(tb)
	return []string{loader.Builtin, filepath.Join(c, "escu", "macros"), filepath.Join(c, "escu", "v4"),
		filepath.Join(c, "escu", "v5"), filepath.Join(c, "sigma"), filepath.Join(c, "elastic")}
}

// seedRulePaths are the two seed detections.
func seedRulePaths(tb testing.TB) []string {
	c := corpus(tb)
	return []string{filepath.Join(c, "escu", "macros"), filepath.Join(c, "escu", "v5")}
}

// loadRules loads rules with the processor's own loader call (on_rule_error: skip, as a user loading a whole
// content checkout would).
func loadRules(tb testing.TB, paths []string) []*rule.Rule {
	tb.Helper()
	res, err := loader.Load(loader.Options{Paths: paths, Builtin: builtin.FS, SkipErrors: true})
	if err != nil {
		tb.Fatal(err)
	}
	// As the processor does under on_rule_error: skip, a rule the engine refuses is left out.
	rules, _ := engine.Runnable(res.Rules, engine.Options{GeoIP: geoDB(tb)})
	return rules
}

// geoDBPath writes a small GeoIP database placing the generated log's public addresses, so that iplocation rules
// run, and returns its path.
func geoDBPath(tb testing.TB) string {
	tb.Helper()
	return geoiptest.WriteCityDB(tb, map[string]geoiptest.Place{
		"203.0.113.0/24":  {City: "Amsterdam", Country: "Netherlands", CountryISO: "NL", Lat: 52.37, Lon: 4.89},
		"198.51.100.0/24": {City: "Paris", Country: "France", CountryISO: "FR", Lat: 48.85, Lon: 2.35},
	})
}

func geoDB(tb testing.TB) *geoip.DB {
	tb.Helper()
	db, err := geoip.Open(geoDBPath(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

func compile(tb testing.TB, rules []*rule.Rule) *engine.Engine {
	tb.Helper()
	// As the processor compiles them: a rule that can never match an API server's event is not evaluated.
	e, err := engine.Compile(rules, engine.Options{GeoIP: geoDB(tb), SkipNeverMatching: true})
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// evaluations numbers every evaluation of every evaluate, for the auditIDs it writes: one count for them all, as
// testing.B calls a benchmark function once per round, and an engine made outside it (BenchmarkLargeEvent) would
// otherwise see the numbers of the round before again.
var evaluations atomic.Uint32

// evaluate returns fn for perEvent that evaluates a body of events with the engine through one Evaluator, held
// until the benchmark ends, as the processor holds one for each batch of records.
//
// Each evaluation first gives the body an auditID of its own (auditgen.IDs). Evaluated again unchanged, the mix
// would be a redelivery to the engine's stateful rules, which hand back what they produced the first time instead of
// running: until session 28 the full rule set was measured so, at about half what a cluster's new events cost. The
// renewal writes eight bytes the engine reads next and is timed with the evaluation (a few ns).
func evaluate(tb testing.TB, e *engine.Engine, events [][]byte) func(body []byte) {
	ev := e.Evaluator()
	tb.Cleanup(ev.Close)
	ids := auditgen.NewIDs(events)
	next := 0
	return func(body []byte) {
		// The benchmarks hand over events in order: the next one is checked first, the others found by a search.
		i := next
		if &events[i][0] != &body[0] {
			i = slices.IndexFunc(events, func(b []byte) bool { return &b[0] == &body[0] })
			if i < 0 {
				tb.Fatal("evaluate: a body that is not one of its events")
			}
		}
		next = (i + 1) % len(events)
		ids.Renew(events, i, evaluations.Add(1))
		_, _ = ev.Evaluate(body)
	}
}

// perEvent runs fn once per event of events, b.N times in all, and reports the per-event metrics every benchmark
// of this package reports: ns/op and allocs/op are per event, MB/s over the events' bytes, events/s, and
// cpu-ns/op, the goroutine's own CPU time per event, which other load on a shared machine does not inflate.
func perEvent(b *testing.B, events [][]byte, fn func(body []byte)) {
	perEventAt(b, events, func(i int) { fn(events[i]) })
}

// perEventAt is perEvent for a benchmark that needs to know where in events it is: fn gets the event's index.
func perEventAt(b *testing.B, events [][]byte, fn func(i int)) {
	var total int64
	for _, e := range events {
		total += int64(len(e))
	}
	b.SetBytes(total / int64(len(events)))
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := range min(len(events), 200) {
		fn(i) // warm pools and state
	}
	b.ResetTimer()
	cpu0, wall0 := threadCPU(), time.Now()
	for i := 0; i < b.N; i++ {
		fn(i % len(events))
	}
	cpu, wall := threadCPU()-cpu0, time.Since(wall0)
	b.StopTimer()
	reportRates(b, b.N, cpu, wall)
}

func reportRates(b *testing.B, n int, cpu, wall time.Duration) {
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
	b.ReportMetric(float64(n)/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(n)/wall.Seconds(), "events/s")
}

// threadCPU is the CPU time of the calling thread (the benchmark locks its goroutine to one).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
