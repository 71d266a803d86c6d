package compat

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/auditdetect/auditdetect/processor/engine"
)

// repeatedSecretReads is a detection written in ESCU's house style, as a user writes one for kube_audit: stats with
// min(_time) and max(_time), windowed by a where on the count, and security_content_ctime on both times, loaded with
// the corpus's own security_content_ctime macro file.
const repeatedSecretReads = `name: Kubernetes Repeated Secret Reads
id: 0c1f6d0e-5a43-4f6e-9d7a-2f9a3c8e7b11
version: 1
date: '2026-01-01'
author: auditdetect tests
status: production
type: Anomaly
description: A user reads secrets more than twice within the window.
data_source:
    - Kubernetes Audit
search: |-
    ` + "`kube_audit`" + ` objectRef.resource=secrets verb=get
      | stats count min(_time) as firstTime max(_time) as lastTime
        BY user.username
      | where count > 2
      | rename user.username as user
      | ` + "`security_content_ctime(firstTime)`" + `
      | ` + "`security_content_ctime(lastTime)`" + `
      | ` + "`kubernetes_repeated_secret_reads_filter`" + `
how_to_implement: Kubernetes audit logs.
known_false_positives: Controllers that read secrets.
references: []
rba:
    message: $user$ read secrets $count$ times between $firstTime$ and $lastTime$
    risk_objects:
        - field: user
          type: user
          score: 30
    threat_objects: []
tags:
    analytic_story:
        - Kubernetes Security
    asset_type: Kubernetes
    mitre_attack_id:
        - T1552.007
    product:
        - Splunk Enterprise
    security_domain: network
`

func secretGet(id int, user, stamp string) []byte {
	return []byte(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-%d","stage":"ResponseComplete",`+
		`"requestURI":"/api/v1/namespaces/shop/secrets/db","verb":"get","user":{"username":%q},"sourceIPs":["10.0.0.1"],`+
		`"objectRef":{"resource":"secrets","namespace":"shop","name":"db","apiVersion":"v1"},"responseStatus":{"code":200},%s}`,
		id, user, stamp))
}

// TestESCUHouseStyleTimes: the risk record of a windowed ESCU-style detection carries firstTime and lastTime as
// security_content_ctime writes them, from the events' own times (stageTimestamp, else requestReceivedTimestamp).
func TestESCUHouseStyleTimes(t *testing.T) {
	e := compileRules(t, loadDetections(t, map[string]string{"kubernetes_repeated_secret_reads.yml": repeatedSecretReads},
		filepath.Join(corpusDir(t), "escu", "macros", "security_content_ctime.yml")))
	events := [][]byte{
		secretGet(1, "alice", `"requestReceivedTimestamp":"2025-11-24T15:59:59.900000Z","stageTimestamp":"2025-11-24T16:00:00.123456Z"`),
		secretGet(2, "bob", `"stageTimestamp":"2025-11-24T16:01:00Z"`),
		// No stageTimestamp: the time the request was received.
		secretGet(3, "alice", `"requestReceivedTimestamp":"2025-11-24T16:10:30.5Z"`),
		secretGet(4, "alice", `"stageTimestamp":"2025-11-24T16:20:45.000001Z"`),
	}
	var last engine.Result
	for i, body := range events {
		r, err := e.Evaluate(body)
		if err != nil {
			t.Fatal(err)
		}
		if fired := len(r.Matches) > 0; fired != (i == 3) {
			t.Fatalf("event %d: fired %v", i, fired)
		}
		last = r
	}
	attrs := riskRecords(t, last, 1)[0].Attributes()
	for name, want := range map[string]string{
		"firstTime":    "2025-11-24T16:00:00",
		"lastTime":     "2025-11-24T16:20:45",
		"risk_object":  "alice",
		"risk_message": "alice read secrets 3 times between 2025-11-24T16:00:00 and 2025-11-24T16:20:45",
	} {
		v, ok := attrs.Get(name)
		if !ok || v.AsString() != want {
			t.Errorf("risk record %s = %q (present %v), want %q", name, v.AsString(), ok, want)
		}
	}
}
