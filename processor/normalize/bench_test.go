package normalize_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/normalize"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// builtinEngine compiles the built-in pack, as the processor runs it without a GeoIP database.
func builtinEngine(b *testing.B) *engine.Engine {
	b.Helper()
	res, err := loader.Load(loader.Options{Paths: []string{loader.Builtin}, Builtin: builtin.FS})
	if err != nil {
		b.Fatal(err)
	}
	var rules []*rule.Rule
	for _, r := range res.Rules {
		if !r.NeedsGeoIP() {
			rules = append(rules, r)
		}
	}
	e, err := engine.Compile(rules, engine.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func readFile(b *testing.B, parts ...string) []byte {
	b.Helper()
	body, err := os.ReadFile(filepath.Join(parts...))
	if err != nil {
		b.Fatal(err)
	}
	return body
}

// sortedKeys re-serialises an event as json.Marshal writes a map (what the processor does with a map body): the
// key order the prefix check does not cover, so the key scan decides.
func sortedKeys(b *testing.B, body []byte) []byte {
	b.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		b.Fatal(err)
	}
	out, err := json.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// loop runs fn b.N times on one OS thread and reports the thread's CPU time per run (cpu-ns/op) beside the wall
// time: the numbers to compare on a machine shared with other work.
func loop(b *testing.B, fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	for b.Loop() {
		fn()
	}
	if end, ok2 := threadCPU(); ok && ok2 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkNativePath measures what normalisation adds to the native path: engine.Evaluate alone against
// Normalizer.Each calling engine.Evaluate, on a matching and a non-matching native event with the built-in pack.
func BenchmarkNativePath(b *testing.B) {
	e := builtinEngine(b)
	n := normalize.New(normalize.Config{})
	testdata := filepath.Join("..", "builtin", "testdata")
	match := readFile(b, testdata, "kubernetes_workload_with_host_network", "match-pod-create.json")
	quiet := readFile(b, testdata, "kubernetes_nodeport_service_exposed", "nomatch-create-clusterip.json")
	events := []struct {
		name string
		body []byte
	}{
		{"match", match},
		{"nomatch", quiet},
		{"nomatch-sorted-keys", sortedKeys(b, quiet)},
	}
	for _, ev := range events {
		b.Run(ev.name+"/engine", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(ev.body)))
			loop(b, func() {
				if _, err := e.Evaluate(ev.body); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(ev.name+"/normalize+engine", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(ev.body)))
			var evalErr error
			fn := func(ev normalize.Event) { _, evalErr = e.Evaluate(ev.Body) }
			loop(b, func() {
				if _, err := n.Each(ev.body, fn); err != nil || evalErr != nil {
					b.Fatal(err, evalErr)
				}
			})
		})
		b.Run(ev.name+"/detect", func(b *testing.B) {
			b.ReportAllocs()
			loop(b, func() {
				if f, _ := normalize.Detect(ev.body); f != normalize.Native {
					b.Fatal(f)
				}
			})
		})
	}
}

// BenchmarkWrapped measures each wrapped shape end to end (normalise, then evaluate every event with the built-in
// pack), next to the native event it carries.
func BenchmarkWrapped(b *testing.B) {
	e := builtinEngine(b)
	n := normalize.New(normalize.Config{})
	native := readFile(b, "..", "builtin", "testdata", "kubernetes_nodeport_service_exposed", "match-create-nodeport.json")
	str, _ := json.Marshal(string(native))
	list := []byte(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	for i := 0; i < 10; i++ {
		if i > 0 {
			list = append(list, ',')
		}
		list = append(list, native...)
	}
	list = append(list, "]}"...)
	shapes := []struct {
		name   string
		body   []byte
		events int
	}{
		{"native", native, 1},
		{"eventlist-10", list, 10},
		{"eks-envelope", []byte(`{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/eks/prod/cluster","logStream":"kube-apiserver-audit-1","logEvents":[{"id":"1","timestamp":1,"message":` + string(str) + `}]}`), 1},
		{"aks-string", []byte(`{"category":"kube-audit","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/C","properties":{"log":` + string(str) + `}}`), 1},
		{"aks-object", []byte(`{"category":"kube-audit","resourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/C","properties":{"log":` + string(native) + `}}`), 1},
		{"gke", readFile(b, "testdata", "gke", "service-nodeport-create.json"), 1},
	}
	for _, s := range shapes {
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.body)))
			matched := 0
			fn := func(ev normalize.Event) {
				res, err := e.Evaluate(ev.Body)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Matches) > 0 {
					matched++
				}
			}
			loop(b, func() {
				matched = 0
				if _, err := n.Each(s.body, fn); err != nil {
					b.Fatal(err)
				}
			})
			if matched != s.events {
				b.Fatalf("%d of %d events matched", matched, s.events)
			}
		})
	}
}
