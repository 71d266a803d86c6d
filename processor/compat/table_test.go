package compat

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// tabledDetection ends, as user-written detections in ESCU's style often do, in `table`: its risk records carry the
// table's fields and no other.
const tabledDetection = `name: Kubernetes Secret Reads Tabled
id: 5f0c2b9e-1d7a-4c2e-9b8f-3e6a7d1c0a42
version: 1
date: '2026-01-01'
author: auditdetect tests
status: production
type: Anomaly
description: A user reads a secret.
data_source:
    - Kubernetes Audit
search: |-
    ` + "`kube_audit`" + ` objectRef.resource=secrets verb=get
      | fields - _raw
      | stats count values(objectRef.name) as names by user.username sourceIPs{}
      | rename user.username as user, sourceIPs{} as src
      | table user src count
      | ` + "`kubernetes_secret_reads_tabled_filter`" + `
how_to_implement: Kubernetes audit logs.
known_false_positives: Controllers that read secrets.
references: []
rba:
    message: $user$ read secrets $count$ times from $src$ ($names$)
    risk_objects:
        - field: user
          type: user
          score: 30
    threat_objects:
        - field: src
          type: ip_address
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

// tabledEvents is a detection without stats whose table names event fields: its rows still read the event.
const tabledEvents = `name: Kubernetes Secret Read Events Tabled
id: 7a1e4c3d-2b5f-4d6e-8c9a-0f1e2d3c4b5a
version: 1
date: '2026-01-01'
author: auditdetect tests
status: production
type: Anomaly
description: A user reads a secret.
data_source:
    - Kubernetes Audit
search: |-
    ` + "`kube_audit`" + ` objectRef.resource=secrets verb=get
      | rename user.username as user
      | table _time user objectRef.name
      | fields - _raw
how_to_implement: Kubernetes audit logs.
known_false_positives: Controllers that read secrets.
references: []
rba:
    message: $user$ read $objectRef.name$ with $verb$
    risk_objects:
        - field: user
          type: user
          score: 20
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

// TestESCUTableEndToEnd: ESCU-style detections ending in `table` load, run in the engine and write risk records
// with the table's fields only; the record keeps its time and auditID, which are the event's, not the row's.
func TestESCUTableEndToEnd(t *testing.T) {
	e := compileRules(t, loadDetections(t, map[string]string{"tabled.yml": tabledDetection, "events.yml": tabledEvents}))
	r, err := e.Evaluate(secretGet(7, "alice", `"stageTimestamp":"2025-11-24T16:00:00.5Z"`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Matches) != 2 {
		t.Fatalf("%d matches, want 2", len(r.Matches))
	}
	records := map[string]pcommon.Map{}
	for i, rec := range riskRecords(t, r, 2) {
		if want := pcommon.NewTimestampFromTime(time.Date(2025, 11, 24, 16, 0, 0, 5e8, time.UTC)); rec.Timestamp() != want {
			t.Errorf("record %d timestamp %v, want the event's %v", i, rec.Timestamp(), want)
		}
		name, _ := rec.Attributes().Get("search_name")
		records[name.AsString()] = rec.Attributes()
	}
	check := func(search string, want map[string]string, absent ...string) {
		t.Helper()
		attrs, ok := records[search]
		if !ok {
			t.Fatalf("no risk record of %q", search)
		}
		for name, w := range want {
			if v, ok := attrs.Get(name); !ok || v.AsString() != w {
				t.Errorf("%s: %s = %q (present %v), want %q", search, name, v.AsString(), ok, w)
			}
		}
		for _, name := range absent {
			if v, ok := attrs.Get(name); ok {
				t.Errorf("%s: %s = %q, which the table took away", search, name, v.AsString())
			}
		}
	}
	check("Kubernetes Secret Reads Tabled", map[string]string{
		"user": "alice", "src": "10.0.0.1", "count": "1", "risk_object": "alice", "threat_object": "10.0.0.1", "auditID": "a-7",
		// names is not in the table: its token stays, as a token the row cannot fill does.
		"risk_message": "alice read secrets 1 times from 10.0.0.1 ($names$)",
	}, "names", "user.username", "sourceIPs{}")
	check("Kubernetes Secret Read Events Tabled", map[string]string{
		"user": "alice", "objectRef.name": "db", "_time": "1764000000.5", "risk_object": "alice", "auditID": "a-7",
		"risk_message": "alice read db with $verb$",
	}, "verb", "user.username", "sourceIPs{}", "userAgent", "objectRef.resource", "objectRef.namespace", "responseStatus.code")
}
