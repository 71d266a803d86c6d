package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditdetect/auditdetect/processor/loader"
)

// lookupContent is a detection directory in security_content's layout: detections/ and lookups/, each lookup's YAML
// beside its CSV (an allow-list of namespaces matched by wildcard and without case, trusted networks by CIDR).
var lookupContent = filepath.Join("testdata", "escu-lookups")

func podCreate(id int, user, namespace string) []byte {
	return []byte(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"p-%d","stage":"ResponseComplete",`+
		`"verb":"create","user":{"username":%q},"sourceIPs":["10.1.2.3"],"objectRef":{"resource":"pods","namespace":%q,"name":"web",`+
		`"apiVersion":"v1"},"responseStatus":{"code":201},"stageTimestamp":"2026-01-05T10:00:0%dZ"}`, id, user, namespace, id))
}

func secretReadFrom(id int, user string, ips ...string) []byte {
	quoted := ""
	for i, ip := range ips {
		if i > 0 {
			quoted += ","
		}
		quoted += fmt.Sprintf("%q", ip)
	}
	return []byte(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"s-%d","stage":"ResponseComplete",`+
		`"verb":"get","user":{"username":%q},"sourceIPs":[%s],"objectRef":{"resource":"secrets","namespace":"shop","name":"db",`+
		`"apiVersion":"v1"},"responseStatus":{"code":200},"stageTimestamp":"2026-01-05T10:00:0%dZ"}`, id, user, quoted, id))
}

// TestESCULookups: the detections load from their directory with the lookups beside them, and the events the lookups
// approve give no risk record, the others one each, with the row's fields.
func TestESCULookups(t *testing.T) {
	res, err := loader.Load(loader.Options{Paths: []string{lookupContent}})
	if err != nil {
		t.Fatal(err)
	}
	e := compileRules(t, res.Rules)
	tests := []struct {
		name    string
		event   []byte
		fired   bool
		message string
	}{
		{"allowed namespace", podCreate(1, "alice", "kube-system"), false, ""},
		{"a team namespace, another case", podCreate(2, "alice", "Team-Shop"), false, ""},
		{"not on the allow-list", podCreate(3, "mallory", "default"), true, "mallory created a pod in namespace default, which is not approved"},
		{"from the cluster's network", secretReadFrom(4, "bob", "10.0.0.7"), false, ""},
		{"from an office, behind a proxy that says where from", secretReadFrom(5, "bob", "198.51.100.9", "192.0.2.10"), false, ""},
		{"from an IPv6 office", secretReadFrom(6, "bob", "2001:db8::5"), false, ""},
		{"from nowhere trusted", secretReadFrom(7, "eve", "198.51.100.9", "203.0.113.4"), true, "eve read a secret from 198.51.100.9, 203.0.113.4, outside the trusted networks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.Evaluate(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.fired {
				riskRecords(t, r, 0)
				return
			}
			recs := riskRecords(t, r, 1)
			if msg, _ := recs[0].Attributes().Get("risk_message"); msg.AsString() != tt.message {
				t.Errorf("risk_message %q, want %q", msg.AsString(), tt.message)
			}
		})
	}
}

// TestESCULookupReplacedByConfig: a user's own allow-list, given in the lookups setting, replaces the table shipped
// beside the lookup file and keeps its matching (wildcards, no case).
func TestESCULookupReplacedByConfig(t *testing.T) {
	own := filepath.Join(t.TempDir(), "namespaces.csv")
	if err := os.WriteFile(own, []byte("namespace,is_allowed\nDEFAULT,true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := loader.Load(loader.Options{Paths: []string{lookupContent},
		Lookups: map[string]string{"kube_allowed_namespaces": own}})
	if err != nil {
		t.Fatal(err)
	}
	e := compileRules(t, res.Rules)
	for _, tt := range []struct {
		event []byte
		want  int
	}{{podCreate(1, "mallory", "default"), 0}, {podCreate(2, "alice", "kube-system"), 1}} {
		r, err := e.Evaluate(tt.event)
		if err != nil {
			t.Fatal(err)
		}
		riskRecords(t, r, tt.want)
	}
}
