package bench

import (
	"bytes"
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// BenchmarkCostParts splits what the engine spends per event of the mix (docs/performance.md, "Measured after that
// run"): the built-in pack on the events it matches and on the others, both rule sets on events held in cache,
// single rules against an empty engine, and reading alone, field after field, with no rules.
func BenchmarkCostParts(b *testing.B) {
	builtinRules := loadRules(b, []string{loader.Builtin})
	e := compile(b, builtinRules)
	var matched, unmatched [][]byte
	for _, body := range mix {
		if res, err := e.Evaluate(body); err == nil && len(res.Matches) > 0 {
			matched = append(matched, body)
		} else {
			unmatched = append(unmatched, body)
		}
	}
	// A fresh engine per sub-benchmark: the first pass above left its windows and memories filled.
	for _, set := range []struct {
		name   string
		events [][]byte
	}{{"builtin-all", mix}, {"builtin-matched", matched}, {"builtin-unmatched", unmatched}} {
		b.Run(set.name, func(b *testing.B) {
			e := compile(b, builtinRules)
			perEvent(b, set.events, evaluate(b, e, set.events))
		})
	}

	// builtin-all with the next event's body prefetched while this one is evaluated, as the processor does
	// (Evaluator.Prefetch): the mix, about 10 MB, comes from memory as a collector's batches do.
	b.Run("builtin-all-prefetch-next", func(b *testing.B) {
		ev := compile(b, builtinRules).Evaluator()
		b.Cleanup(ev.Close)
		perEventAt(b, mix, func(i int) {
			ev.Prefetch(mix[(i+1)%len(mix)])
			_, _ = ev.Evaluate(mix[i])
		})
	})

	full := loadRules(b, fullRulePaths(b))
	// The first 400 events of the mix (about 1 MB), evaluated over and over: held in the caches, as a collector's
	// batch is just after the receiver wrote it, so that what the engine itself costs shows with less noise from
	// memory. Interleaved A/Bs of engine changes use these two.
	for _, set := range []struct {
		name  string
		rules []*rule.Rule
	}{{"builtin-warm", builtinRules}, {"full-warm", full}} {
		b.Run(set.name, func(b *testing.B) {
			perEvent(b, mix[:400], evaluate(b, compile(b, set.rules), mix[:400]))
		})
	}
	for _, one := range []struct{ name, rule string }{
		{"rule-none", ""},
		{"rule-anonymous-request-allowed", "Kubernetes Anonymous Request Allowed"},
		{"rule-api-scanning", "Kubernetes API Scanning by Unauthenticated Source"},
		{"rule-permission-probing", "Kubernetes Permission Probing by Authenticated Identity"},
		{"rule-escu-v4-suspicious-image-pulling", "Kubernetes Suspicious Image Pulling"},
	} {
		b.Run(one.name, func(b *testing.B) {
			var rules []*rule.Rule
			for _, r := range full {
				if one.rule != "" && r.Name == one.rule {
					rules = append(rules, r)
				}
			}
			if one.rule != "" && len(rules) != 1 {
				b.Fatalf("%d rules named %q", len(rules), one.rule)
			}
			e := compile(b, rules)
			perEvent(b, mix, evaluate(b, e, mix))
		})
	}

	// Reading only: each step reads one more field, as a rule set needing them would.
	fields := []string{"verb", "objectRef.resource", "user.username", "user.groups{}", "responseStatus.code",
		"annotations.authorization.k8s.io/decision"}
	for k := range fields {
		paths := make([]*event.Path, k+1)
		for i, f := range fields[:k+1] {
			paths[i] = event.CompilePath(f, false)
		}
		b.Run("read-to-"+strings.ReplaceAll(fields[k], "/", "_"), func(b *testing.B) {
			var p event.Parser
			perEvent(b, mix, func(body []byte) {
				v, err := p.Open(body)
				if err != nil {
					return
				}
				for _, path := range paths {
					v.Each(path, func([]byte) bool { return true })
				}
			})
		})
	}

	// One event, hot in cache: reading up to verb in place against fastjson parsing those same bytes (the event cut
	// before user and closed).
	body := mix[0]
	cut := bytes.Index(body, []byte(`,"user"`))
	if cut < 0 {
		b.Fatal("the first event has no user")
	}
	head := append(append([]byte{}, body[:cut]...), '}')
	verb := event.CompilePath("verb", false)
	b.Run("hot-read-to-verb", func(b *testing.B) {
		var p event.Parser
		perEvent(b, [][]byte{body}, func(body []byte) {
			if v, err := p.Open(body); err == nil {
				v.First(verb)
			}
		})
	})
	b.Run("hot-fastjson-same-bytes", func(b *testing.B) {
		var p fastjson.Parser
		perEvent(b, [][]byte{head}, func(head []byte) { _, _ = p.ParseBytes(head) })
	})
}
