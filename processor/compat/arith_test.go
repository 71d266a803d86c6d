package compat

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// oversizedURI is a detection a user writes with eval's arithmetic and functions: a request URI past 200 characters
// (2*100, folded when it loads) from a user of two groups or more, its length in KiB in the risk message.
const oversizedURI = `name: Kubernetes Oversized Request URI
id: 6f3b1c2d-8e4a-4b5c-9d6e-7f8a9b0c1d2e
version: 1
date: '2026-01-01'
author: auditdetect tests
status: production
type: Anomaly
description: A request URI far longer than any client needs, which can smuggle a payload past logging.
data_source:
    - Kubernetes Audit
search: |-
    ` + "`kube_audit`" + `
      | eval uri_length=len(requestURI), groups=mvcount('user.groups{}')
      | where uri_length > 2*100 AND groups >= 2 AND NOT isnull(tonumber('responseStatus.code'))
      | eval kib=round(uri_length/1024, 2), path=substr(requestURI, 1, 8)."..."
      | stats count max(uri_length) as longest values(kib) as kib values(path) as path by user.username
      | rename user.username as user
      | ` + "`kubernetes_oversized_request_uri_filter`" + `
how_to_implement: Kubernetes audit logs.
known_false_positives: None known.
references: []
rba:
    message: $user$ sent a request URI of $longest$ characters ($kib$ KiB, $path$)
    risk_objects:
        - field: user
          type: user
          score: 40
    threat_objects: []
tags:
    analytic_story:
        - Kubernetes Security
    asset_type: Kubernetes
    mitre_attack_id:
        - T1190
    product:
        - Splunk Enterprise
    security_domain: network
`

func uriEvent(id int, user string, groups []string, uri string) []byte {
	quoted := make([]string, len(groups))
	for i, g := range groups {
		quoted[i] = fmt.Sprintf("%q", g)
	}
	return []byte(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"u-%d","stage":"ResponseComplete",`+
		`"requestURI":%q,"verb":"get","user":{"username":%q,"groups":[%s]},"sourceIPs":["10.0.0.1"],`+
		`"responseStatus":{"code":404},"stageTimestamp":%q}`, id, uri, user, strings.Join(quoted, ","),
		time.Date(2025, 11, 24, 16, 0, id, 0, time.UTC).Format(time.RFC3339)))
}

// TestESCUArithmetic: loaded from its file, the detection fires on the long URI of a user in two groups, and its risk
// record carries the values eval computed; a short URI, or one group, does not fire.
func TestESCUArithmetic(t *testing.T) {
	e := compileRules(t, loadDetections(t, map[string]string{"kubernetes_oversized_request_uri.yml": oversizedURI}))
	long := "/api/v1/" + strings.Repeat("x", 292) // 300 characters
	for i, tc := range []struct {
		body  []byte
		fires bool
	}{
		{uriEvent(1, "alice", []string{"dev", "system:authenticated"}, long), true},
		{uriEvent(2, "bob", []string{"dev", "system:authenticated"}, long[:200]), false},
		{uriEvent(3, "carol", []string{"system:authenticated"}, long), false},
	} {
		r, err := e.Evaluate(tc.body)
		if err != nil {
			t.Fatal(err)
		}
		if fired := len(r.Matches) > 0; fired != tc.fires {
			t.Fatalf("event %d: fired %v, want %v", i, fired, tc.fires)
		}
		if !tc.fires {
			continue
		}
		attrs := riskRecords(t, r, 1)[0].Attributes()
		for name, want := range map[string]string{
			"risk_object":  "alice",
			"longest":      "300",
			"kib":          "0.29", // round(300/1024, 2)
			"risk_message": "alice sent a request URI of 300 characters (0.29 KiB, /api/v1/...)",
		} {
			if v, ok := attrs.Get(name); !ok || v.AsString() != want {
				t.Errorf("risk record %s = %q (present %v), want %q", name, v.AsString(), ok, want)
			}
		}
	}
}
