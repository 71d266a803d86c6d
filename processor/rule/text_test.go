package rule

import (
	"strings"
	"testing"
)

// The expected tokens are those of Elasticsearch's standard analyzer (`POST _analyze {"analyzer": "standard"}`).
func TestTokens(t *testing.T) {
	tests := []struct {
		in   string
		want string // tokens joined by |
	}{
		{`secrets is forbidden: User "bob" cannot list resource "secrets" in API group ""`,
			`secrets|is|forbidden|user|bob|cannot|list|resource|secrets|in|api|group`},
		{`system:masters`, `system:masters`}, // `:` joins two letters
		{`System:Masters`, `system:masters`},
		{`system:serviceaccount:kube-system:replicaset-controller`, `system:serviceaccount:kube|system:replicaset|controller`},
		{`system:serviceaccounts:flux-system`, `system:serviceaccounts:flux|system`},
		{`docker.io/library/nginx:1.27`, `docker.io|library|nginx|1.27`}, // `:` between a letter and a digit splits
		{`docker.elastic.co/beats/elastic-agent:8.4.0`, `docker.elastic.co|beats|elastic|agent|8.4.0`},
		{`quay.io/calico/node:v3.27.0`, `quay.io|calico|node:v3.27.0`},
		{`/var/run/docker.sock`, `var|run|docker.sock`},
		{`/`, ``},
		{`10.244.1.7`, `10.244.1.7`},
		{`::1`, `1`},
		{`fd00::1`, `fd00|1`},
		{`x86_64 __init__ ___`, `x86_64|__init__`}, // `_` joins; underscores alone are no word
		{`don't`, `don't`},
		{`1,000.5 a,b a.1 1.a`, `1,000.5|a|b|a|1|1|a`},
		{`RBAC: allowed by ClusterRoleBinding "admin" of ClusterRole "cluster-admin" to User "alice"`,
			`rbac|allowed|by|clusterrolebinding|admin|of|clusterrole|cluster|admin|to|user|alice`},
		{`end.`, `end`},
		{`Ünïcode CAFÉ`, `ünïcode|café`},
		{"cafe\u0301s", "cafe\u0301s"}, // a combining mark stays in its word
		{`日本語 abc`, `日|本|語|abc`},
		{"xmrig\u200bminer", "xmrig|miner"}, // a zero-width space splits (UAX #29 leaves it out of Format)
		{"a\u200db", "a\u200db"},            // the zero-width joiner is ZWJ: ignored within a word
		{"a\u200cb", "a\u200cb"},            // the non-joiner is Extend
		{"a\u00adb", "a\u00adb"},            // a soft hyphen is Format: it stays in its word
		{``, ``},
	}
	for _, tt := range tests {
		if got := strings.Join(Tokens(tt.in), "|"); got != tt.want {
			t.Errorf("Tokens(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokensSplitLongWords(t *testing.T) {
	got := Tokens(strings.Repeat("a", MaxTokenRunes+10))
	if len(got) != 2 || len(got[0]) != MaxTokenRunes || len(got[1]) != 10 {
		t.Errorf("got %d tokens of %d and %d runes", len(got), len(got[0]), len(got[len(got)-1]))
	}
}
