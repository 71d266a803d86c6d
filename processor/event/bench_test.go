package event

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkEach resolves the paths the built-in rules read most against a real audit event.
func BenchmarkEach(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("..", "builtin", "testdata", "kubernetes_workload_with_host_network", "match-pod-create.json"))
	if err != nil {
		b.Fatal(err)
	}
	var paths []*Path
	for _, name := range []string{"verb", "objectRef.resource", "objectRef.namespace", "user.username", "sourceIPs{}",
		"requestObject.spec.hostNetwork", "requestObject.spec.containers{}.securityContext.privileged",
		"annotations.authorization.k8s.io/decision", "responseStatus.code", "missing.field"} {
		paths = append(paths, CompilePath(name, false))
	}
	var p Parser
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		v, err := p.Parse(body)
		if err != nil {
			b.Fatal(err)
		}
		for _, path := range paths {
			v.Each(path, func([]byte) bool { return true })
		}
	}
}
