package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"

	"github.com/auditdetect/auditdetect/processor/auditgen"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// BenchmarkMix is the comparison, in one run over the same generated events. Every sub-benchmark reports per event.
//
//  1. auditdetect with the full rule set (the built-in pack and every corpus rule that loads, one loader call);
//  2. auditdetect with the two seed detections, as the engine (2) and through the processor (2p);
//  3. the contrib transform processor doing the seed detections in OTTL, through its factory;
//  4. sigma-go on the Sigma corpus rules, after its own JSON decode (4), and auditdetect on the same rules (4a);
//  5. the floors: a full fastjson parse (5a) and one bytes.Index pass over the bytes (5b).
//
// 2p and 3 run processors on plog batches of 100 string-bodied records, as the filelog receiver makes them; the
// others take the bytes of one event.
func BenchmarkMix(b *testing.B) {
	b.Run("1-auditdetect-full-rules", func(b *testing.B) {
		e := compile(b, loadRules(b, fullRulePaths(b)))
		perEvent(b, mix, evaluate(b, e, mix))
	})
	b.Run("2-auditdetect-seed-rules", func(b *testing.B) {
		e := compile(b, loadRules(b, seedRulePaths(b)))
		perEvent(b, mix, evaluate(b, e, mix))
	})
	b.Run("2p-auditdetect-processor-seed-rules", func(b *testing.B) {
		perBatch(b, auditdetectProcessor(b, seedRulePaths(b), consumertest.NewNop()))
	})
	b.Run("3-transform-ottl-seed-rules", func(b *testing.B) {
		perBatch(b, transformProcessor(b, consumertest.NewNop()))
	})
	b.Run("4-sigma-go-sigma-rules", func(b *testing.B) {
		s := newSigmaGo(b)
		perEvent(b, mix, func(body []byte) { s.matches(body) })
	})
	b.Run("4a-auditdetect-sigma-rules", func(b *testing.B) {
		e := compile(b, loadRules(b, []string{filepath.Join(corpus(b), "sigma")}))
		perEvent(b, mix, evaluate(b, e, mix))
	})
	b.Run("5a-floor-fastjson-parse", func(b *testing.B) {
		var p fastjson.Parser
		perEvent(b, mix, func(body []byte) { _, _ = p.ParseBytes(body) })
	})
	b.Run("5b-floor-bytes-index", func(b *testing.B) {
		// A needle no event holds, starting with a byte no event holds: the search reads every byte once, at the
		// speed of IndexByte (a needle starting with a common byte such as '"' is several times slower).
		needle := []byte("\x00never")
		perEvent(b, mix, func(body []byte) { bytes.Index(body, needle) })
	})
}

// perBatch runs a processor over the mix in batches, b.N events in all, and reports per event as perEvent does.
func perBatch(b *testing.B, p processor.Logs) {
	bs := batches(mix)
	b.SetBytes(mixBytes)
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ctx := context.Background()
	for _, ld := range bs[:2] {
		consume(b, p, ctx, ld)
	}
	b.ResetTimer()
	cpu0, wall0 := threadCPU(), time.Now()
	n := 0
	for i := 0; n < b.N; i++ {
		ld := bs[i%len(bs)]
		consume(b, p, ctx, ld)
		n += ld.LogRecordCount()
	}
	cpu, wall := threadCPU()-cpu0, time.Since(wall0)
	b.StopTimer()
	reportRates(b, n, cpu, wall)
}

func consume(b *testing.B, p processor.Logs, ctx context.Context, ld plog.Logs) {
	if err := p.ConsumeLogs(ctx, ld); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRuleCount: the full rule set, and ten times as many rules (each rule and nine variants of it about
// resources the mix never touches). Dispatch by operation keeps the cost per event nearly flat.
func BenchmarkRuleCount(b *testing.B) {
	rules := loadRules(b, fullRulePaths(b))
	for _, tc := range []struct {
		name  string
		rules []*rule.Rule
	}{
		{"1x", rules},
		{"10x", withVariants(b, rules, 9)},
	} {
		b.Run(fmt.Sprintf("%s-%d-rules", tc.name, len(tc.rules)), func(b *testing.B) {
			e := compile(b, tc.rules)
			perEvent(b, mix, evaluate(b, e, mix))
		})
	}
}

// withVariants returns rules and, for each, n copies about other resources: every objectRef.resource value a
// filter names gets a suffix, and a rule that is not about given resources (one the operation index files under
// any resource) is restricted to a resource of its own.
func withVariants(tb testing.TB, rules []*rule.Rule, n int) []*rule.Rule {
	out := append([]*rule.Rule(nil), rules...)
	for k := 1; k <= n; k++ {
		for _, r := range rules {
			v := *r
			v.ID, v.Name = fmt.Sprintf("%s-v%d", r.ID, k), fmt.Sprintf("%s (variant %d)", r.Name, k)
			suffix := fmt.Sprintf("-variant%d", k)
			v.Filter, _ = renameResources(r.Filter, suffix)
			if anyResource(tb, r) {
				res := rule.Compare{Field: rule.Field{Name: "objectRef.resource"}, Value: rule.Literal("widgets"+suffix+".example.com", false)}
				v.Filter = rule.And{res, v.Filter}
			}
			out = append(out, &v)
		}
	}
	return out
}

// anyResource reports whether the operation index files r under any resource.
func anyResource(tb testing.TB, r *rule.Rule) bool {
	e := compile(tb, []*rule.Rule{r})
	for _, op := range e.Operations()[0] {
		if op.Resource == engine.Any {
			return true
		}
	}
	return false
}

func renameResources(e rule.Expr, suffix string) (rule.Expr, bool) {
	switch e := e.(type) {
	case rule.And:
		out, named := renameAll(e, suffix)
		return rule.And(out), named
	case rule.Or:
		out, named := renameAll(e, suffix)
		return rule.Or(out), named
	case rule.Not:
		x, n := renameResources(e.X, suffix)
		return rule.Not{X: x}, n
	case rule.Compare:
		if strings.HasSuffix(e.Field.Name, "objectRef.resource") && e.Value.Kind == rule.Glob {
			e.Value.Text += suffix
			return e, true
		}
	}
	return e, false
}

func renameAll(terms []rule.Expr, suffix string) ([]rule.Expr, bool) {
	out, named := make([]rule.Expr, len(terms)), false
	for i, t := range terms {
		var n bool
		out[i], n = renameResources(t, suffix)
		named = named || n
	}
	return out, named
}

// BenchmarkLargeEvent: one ConfigMap update of growing size with the full rule set: the cost per byte must stay
// flat (no quadratic step), and the bytes.Index floor on the same event beside it.
func BenchmarkLargeEvent(b *testing.B) {
	e := compile(b, loadRules(b, fullRulePaths(b)))
	for _, size := range []int{16 << 10, 128 << 10, 1 << 20} {
		body := auditgen.ConfigMapUpdate(3, size).Body
		b.Run(fmt.Sprintf("auditdetect-%dKiB", size>>10), func(b *testing.B) {
			perEvent(b, [][]byte{body}, evaluate(b, e, [][]byte{body}))
		})
		b.Run(fmt.Sprintf("fastjson-%dKiB", size>>10), func(b *testing.B) {
			var p fastjson.Parser
			perEvent(b, [][]byte{body}, func(body []byte) { _, _ = p.ParseBytes(body) })
		})
	}
}

// BenchmarkEveryRuleMatches: one event that every rule matches (n copies of the NodePort seed detection, with its
// stats pipeline and risk rows): the cost per matching rule must stay flat as n grows.
func BenchmarkEveryRuleMatches(b *testing.B) {
	seeds := loadRules(b, seedRulePaths(b))
	var nodePort *rule.Rule
	for _, r := range seeds {
		if strings.Contains(r.Name, "Node Port") {
			nodePort = r
		}
	}
	body, err := os.ReadFile(filepath.Join("..", "processor", "builtin", "testdata", "kubernetes_nodeport_service_exposed", "match-create-nodeport.json"))
	if err != nil {
		b.Fatal(err)
	}
	body = bytes.TrimSpace(body)
	for _, n := range []int{10, 100, 1000} {
		var rules []*rule.Rule
		for i := range n {
			r := *nodePort
			r.ID, r.Name = fmt.Sprintf("%s-%d", r.ID, i), fmt.Sprintf("%s %d", r.Name, i)
			rules = append(rules, &r)
		}
		e := compile(b, rules)
		if ms, err := e.Match(body); err != nil || len(ms) != n {
			b.Fatalf("%d rules: %d matches, %v", n, len(ms), err)
		}
		b.Run(fmt.Sprintf("%d-rules", n), func(b *testing.B) {
			perEvent(b, [][]byte{body}, evaluate(b, e, [][]byte{body}))
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N)/float64(n), "ns/match")
		})
	}
}
