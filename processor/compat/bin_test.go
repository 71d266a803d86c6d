package compat

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditdetect/auditdetect/processor/engine"
)

// binnedSecretReads is a detection written the Splunk way: bin _time into 10-minute buckets and count per bucket
// and user, in the collector's hourly window.
const binnedSecretReads = `name: Kubernetes Secret Read Burst
id: 8d3e1f0a-7b2c-4e5d-9a6f-1c2b3d4e5f60
version: 1
date: '2026-01-01'
author: auditdetect tests
status: production
type: Anomaly
description: A user reads more than 50 distinct secrets within 10 minutes.
data_source:
    - Kubernetes Audit
search: |-
    ` + "`kube_audit`" + ` objectRef.resource=secrets verb=get
      | bucket _time span=10m
      | stats dc(objectRef.name) as secrets by _time user.username
      | where secrets > 50
      | rename user.username as user
      | convert timeformat="%Y-%m-%dT%H:%M:%S" ctime(_time) AS bucket
      | ` + "`kubernetes_secret_read_burst_filter`" + `
how_to_implement: Kubernetes audit logs.
known_false_positives: Backup tools.
references: []
rba:
    message: $user$ read $secrets$ secrets in the 10 minutes from $bucket$
    risk_objects:
        - field: user
          type: user
          score: 50
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

func binnedRead(id int, user string, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"b-%d","stage":"ResponseComplete",`+
		`"verb":"get","user":{"username":%q},"sourceIPs":["10.0.0.1"],"objectRef":{"resource":"secrets","namespace":"shop","name":"s-%d",`+
		`"apiVersion":"v1"},"responseStatus":{"code":200},"stageTimestamp":%q}`, id, user, id, at.Format(time.RFC3339Nano)))
}

// TestBinnedDetection: loaded from its file and run by the engine, 51 distinct secrets read by one user within one
// 10-minute bucket fire once, with a risk record naming the bucket; 30 and 30 in two buckets of the same hour do not.
// A window the span does not divide refuses the rule when it loads.
func TestBinnedDetection(t *testing.T) {
	rules := loadDetections(t, map[string]string{"kubernetes_secret_read_burst.yml": binnedSecretReads})
	e := compileRules(t, rules)
	start := time.Date(2025, 11, 24, 16, 0, 0, 0, time.UTC)
	var events [][]byte
	for i := range 60 { // bob: 16:20-16:30 and 16:30-16:40, 30 in each
		events = append(events, binnedRead(i, "bob", start.Add(20*time.Minute+time.Duration(i)*20*time.Second)))
	}
	for i := range 51 { // alice: 51 within 16:40-16:50, the last in its last microsecond
		at := start.Add(40*time.Minute + time.Duration(i)*11*time.Second)
		if i == 50 {
			at = start.Add(50*time.Minute - time.Microsecond)
		}
		events = append(events, binnedRead(100+i, "alice", at))
	}
	var fired []engine.Result
	for i, body := range events {
		r, err := e.Evaluate(body)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Matches) > 0 {
			if i != len(events)-1 {
				t.Fatalf("event %d fired", i)
			}
			fired = append(fired, r)
		}
	}
	if len(fired) != 1 {
		t.Fatalf("fired %d times, want once", len(fired))
	}
	attrs := riskRecords(t, fired[0], 1)[0].Attributes()
	for name, want := range map[string]string{
		"risk_object":  "alice",
		"bucket":       "2025-11-24T16:40:00",
		"risk_message": "alice read 51 secrets in the 10 minutes from 2025-11-24T16:40:00",
	} {
		if v, ok := attrs.Get(name); !ok || v.AsString() != want {
			t.Errorf("risk record %s = %q (present %v), want %q", name, v.AsString(), ok, want)
		}
	}
	// A 15-minute window would split the 16:10-16:20 bucket between two windows: the rule does not load.
	_, err := engine.Compile(rules, engine.Options{Window: 15 * time.Minute})
	if err == nil || !strings.Contains(err.Error(), "Kubernetes Secret Read Burst") || !strings.Contains(err.Error(), "does not divide the rule's window of 15m0s") {
		t.Errorf("a window of 15m: %v", err)
	}
}
