package compat

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/normalize"
)

// cloudView is what one line of events/cloud must normalise into: its shape, the native fields the engine then
// reads, and the provenance its wrapper carries.
type cloudView struct {
	format normalize.Format
	fields map[string][]string
	prov   map[string]string
}

// cloudFields are the native paths the built-in rules and the summary of a risk event read.
var cloudFields = []string{
	"kind", "level", "auditID", "stage", "requestURI", "verb", "user.username", "user.groups{}", "sourceIPs{}",
	"userAgent", "objectRef.resource", "objectRef.namespace", "objectRef.name", "objectRef.apiGroup",
	"responseStatus.code", "annotations.authorization.k8s.io/decision", "stageTimestamp",
}

// TestCloudCorpusViews reads elastic/integrations' Kubernetes audit test log (three native events, a GKE Cloud
// Audit Log entry, an AKS diagnostic record) through the normaliser and checks the native view of each line.
func TestCloudCorpusViews(t *testing.T) {
	file := filepath.Join(corpusDir(t), "events", "cloud", "elastic-integrations-test-audit.log")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lease := func(verb, user string, groups []string, ts string) map[string][]string {
		return map[string][]string{
			"kind": {"Event"}, "level": {"Metadata"}, "auditID": {"abcde12345"}, "stage": {"ResponseComplete"},
			"verb": {verb}, "user.username": {user}, "user.groups{}": groups, "sourceIPs{}": {"67.43.156.1"},
			"userAgent": {"elastic-agent/v0.0.0 (linux/amd64) kubernetes/$Format"}, "objectRef.resource": {"leases"},
			"objectRef.namespace": {"kube-system"}, "objectRef.name": {"elastic-agent-cluster-test"},
			"objectRef.apiGroup": {"coordination.k8s.io"}, "responseStatus.code": {"200"},
			"annotations.authorization.k8s.io/decision": {"allow"}, "stageTimestamp": {ts},
			"requestURI": {"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/elastic-agent-cluster-test"},
		}
	}
	agentLease := lease("get", "system:serviceaccount:kube-system:elastic-agent",
		[]string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
		"2025-07-16T10:12:56.563177Z")
	want := []cloudView{
		{
			format: normalize.Native,
			fields: map[string][]string{
				"kind": {"Event"}, "level": {"Metadata"}, "auditID": {"abcde12345"}, "stage": {"ResponseComplete"},
				"requestURI": {"/api/v1/namespaces/default/pods"}, "verb": {"get"},
				"user.username": {"system:serviceaccounts:default:default"}, "user.groups{}": {"system:authenticated"},
				"sourceIPs{}": {"67.43.156.1"}, "userAgent": {"kubectl/v1.26.1"}, "objectRef.resource": {"pods"},
				"objectRef.namespace": {"default"}, "objectRef.name": {"my-pod"}, "objectRef.apiGroup": {""},
				"responseStatus.code": {"200"}, "annotations.authorization.k8s.io/decision": {"allow"},
				"stageTimestamp": {"2025-03-04T06:22:18.822532Z"},
			},
		},
		{format: normalize.Native, fields: agentLease},
		{format: normalize.Native, fields: agentLease},
		{
			// A health check of the GKE control plane: a non-resource request, so there is no objectRef.
			format: normalize.GKE,
			fields: map[string][]string{
				"kind": {"Event"}, "level": {"Metadata"}, "auditID": {"1234abcd"}, "stage": {"ResponseComplete"},
				"requestURI": {"/readyz"}, "verb": {"get"}, "user.username": {"system:gke-master-healthcheck"},
				"user.groups{}": {"system:authenticated"}, "sourceIPs{}": {"67.43.156.1"},
				"userAgent": {"gke-master-healthcheck"}, "responseStatus.code": {"200"},
				"annotations.authorization.k8s.io/decision": {"allow"}, "stageTimestamp": {"2025-07-13T08:38:39.127266Z"},
			},
			prov: map[string]string{
				normalize.AttrCloudProvider: "gcp", normalize.AttrCloudPlatform: "gcp_kubernetes_engine",
				normalize.AttrCloudAccountID: "elastic-siem", normalize.AttrCloudRegion: "us-central1",
				normalize.AttrClusterName: "test-cluster",
			},
		},
		{
			// properties.log is an object here (the elastic test data re-parses it); real exports hold a string.
			format: normalize.AKS,
			fields: lease("update", "aksService", []string{"system:masters", "system:authenticated"}, "2025-09-30T06:23:35.101182Z"),
			prov: map[string]string{
				normalize.AttrCloudProvider: "azure", normalize.AttrCloudPlatform: "azure_aks",
				normalize.AttrCloudAccountID: "1234567890", normalize.AttrClusterName: "TEST-AKS",
				normalize.AttrCloudResourceID: "/SUBSCRIPTIONS/1234567890/RESOURCEGROUPS/TEST-RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/TEST-AKS",
			},
		},
	}

	n := normalize.New(normalize.Config{})
	var parser event.Parser
	paths := make([]*event.Path, len(cloudFields))
	for i, f := range cloudFields {
		paths[i] = event.CompilePath(f, false)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	line := 0
	for sc.Scan() {
		if line >= len(want) {
			t.Fatalf("more than %d lines in %s", len(want), file)
		}
		w := want[line]
		line++
		var got []cloudView
		format, err := n.Each(sc.Bytes(), func(ev normalize.Event) {
			view, err := parser.Parse(ev.Body)
			if err != nil {
				t.Errorf("line %d: normalised event does not parse: %v", line, err)
				return
			}
			fields := map[string][]string{}
			for _, p := range paths {
				view.Each(p, func(b []byte) bool {
					fields[p.Name()] = append(fields[p.Name()], string(b))
					return true
				})
			}
			got = append(got, cloudView{fields: fields, prov: ev.Provenance})
		})
		if err != nil || format != w.format {
			t.Errorf("line %d: format %s, error %v; want %s", line, format, err, w.format)
			continue
		}
		if len(got) != 1 {
			t.Errorf("line %d: %d events, want 1", line, len(got))
			continue
		}
		if !reflect.DeepEqual(got[0].fields, w.fields) {
			t.Errorf("line %d (%s): fields\n got %v\nwant %v", line, format, got[0].fields, w.fields)
		}
		if !reflect.DeepEqual(got[0].prov, w.prov) {
			t.Errorf("line %d (%s): provenance\n got %v\nwant %v", line, format, got[0].prov, w.prov)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if line != len(want) {
		t.Fatalf("read %d lines, want %d", line, len(want))
	}
}
