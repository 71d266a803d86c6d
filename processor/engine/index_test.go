package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestValueNumsAgreesWithMap: the operation index's lookup table (valueNums) answers what a Go map of the same
// values answers, for every value it holds and for values that differ from one in a byte its hash does not read,
// in its length, or in a byte it does; with values that collide on length, first, middle and last byte, and with
// tables of 0 to 300 values (its slots grow in powers of two).
func TestValueNumsAgreesWithMap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 8))
	k8s := []string{Any, "pods", "secrets", "services", "configmaps", "deployments", "daemonsets", "cronjobs", "jobs",
		"clusterrolebindings", "rolebindings", "mutatingwebhookconfigurations", "validatingwebhookconfigurations",
		"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "proxy", "", "ſecrets"}
	for _, size := range []int{0, 1, 2, 7, 8, 9, 24, 100, 300} {
		m := map[string]int{}
		for len(m) < min(size, len(k8s)) {
			m[k8s[len(m)]] = len(m)
		}
		for len(m) < size {
			// Same length and the same first, middle and last byte as pods: one hash, told apart by the bytes
			// between.
			m[fmt.Sprintf("p%03dd%03ds", rnd.IntN(1000), rnd.IntN(1000))] = len(m)
		}
		nums := newValueNums(m)
		var probes []string
		for s := range m {
			probes = append(probes, s, s+"s", "x"+s)
			if len(s) > 2 {
				b := []byte(s)
				b[1] ^= 1 // a byte the hash does not read
				probes = append(probes, string(b), s[:len(s)-1])
				b = []byte(s)
				b[len(b)-1] ^= 0x20 // one it does
				probes = append(probes, string(b))
			}
		}
		probes = append(probes, "", "p000d000s", "pods ", "\u017fecrets", "SECRETS")
		for _, p := range probes {
			got, ok := nums.get([]byte(p))
			want, wantOK := m[p]
			if ok != wantOK || got != want {
				t.Fatalf("%d values: get(%q) = %d, %v; the map says %d, %v", size, p, got, ok, want, wantOK)
			}
		}
	}
}
