package auditdetectprocessor

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"

	"github.com/auditdetect/auditdetect/processor/normalize"
)

// A shape writes a native audit event the way one source delivers it.
type sourceShape struct {
	name string
	// body wraps the native event; gke is the same activity written by GKE (the shape that is not a wrapper).
	body     func(native, gke string) string
	resource map[string]string
	// prov is the provenance every risk record of the shape must carry.
	prov map[string]string
}

const (
	testAKSID = "/SUBSCRIPTIONS/8F3C0E7A-1111-2222-3333-444455556666/RESOURCEGROUPS/SHOP-RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/SHOP-AKS"
)

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func aksRecord(log string) string {
	return `{"category":"kube-audit","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read","properties":{"containerID":"c0ffee","log":` +
		log + `,"pod":"kube-apiserver-6d4f","stream":"stdout"},"resourceId":"` + testAKSID + `","time":"2026-12-05T09:14:01.4Z"}`
}

var (
	eksProv = map[string]string{
		normalize.AttrCloudProvider: "aws", normalize.AttrCloudPlatform: "aws_eks",
		normalize.AttrCloudAccountID: "123456789012", normalize.AttrClusterName: "shop-eks",
	}
	aksProv = map[string]string{
		normalize.AttrCloudProvider: "azure", normalize.AttrCloudPlatform: "azure_aks",
		normalize.AttrCloudAccountID: "8F3C0E7A-1111-2222-3333-444455556666", normalize.AttrClusterName: "SHOP-AKS",
		normalize.AttrCloudResourceID: testAKSID,
	}
	sourceShapes = []sourceShape{
		{name: "native", body: func(native, _ string) string { return native }},
		{name: "eventlist", body: func(native, _ string) string {
			return `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + native + `]}`
		}},
		{name: "eks subscription envelope", body: func(native, _ string) string {
			return `{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/eks/shop-eks/cluster",` +
				`"logStream":"kube-apiserver-audit-5e1f","subscriptionFilters":["to-firehose"],"logEvents":[` +
				`{"id":"37915","timestamp":1796548441355,"message":` + jsonString(native) + `}]}`
		}, prov: eksProv},
		{name: "eks log event", body: func(native, _ string) string {
			return `{"logStreamName":"kube-apiserver-audit-5e1f","timestamp":1796548441355,"message":` + jsonString(native) +
				`,"ingestionTime":1796548442001,"eventId":"37915"}`
		}},
		{
			name:     "eks through the awscloudwatch receiver",
			body:     func(native, _ string) string { return native },
			resource: map[string]string{"cloudwatch.log.group.name": "/aws/eks/shop-eks/cluster", "aws.region": "eu-west-1"},
			prov: map[string]string{
				normalize.AttrCloudProvider: "aws", normalize.AttrCloudPlatform: "aws_eks",
				normalize.AttrCloudRegion: "eu-west-1", normalize.AttrClusterName: "shop-eks",
			},
		},
		{name: "aks log string", body: func(native, _ string) string { return aksRecord(jsonString(native)) }, prov: aksProv},
		{name: "aks log object", body: func(native, _ string) string { return aksRecord(native) }, prov: aksProv},
		{name: "aks event hub batch", body: func(native, _ string) string {
			return `{"records":[` + aksRecord(jsonString("I1205 09:14:01.3 1 httplog.go:132] \"HTTP\" verb=\"POST\"")) + `,` +
				aksRecord(jsonString(native)) + `]}`
		}, prov: aksProv},
		{name: "gke", body: func(_, gke string) string { return gke }, prov: map[string]string{
			normalize.AttrCloudProvider: "gcp", normalize.AttrCloudPlatform: "gcp_kubernetes_engine",
			normalize.AttrCloudAccountID: "shop-prod-4711", normalize.AttrCloudRegion: "europe-west1",
			normalize.AttrClusterName: "prod-gke",
		}},
	}
	provenanceNames = []string{
		normalize.AttrCloudProvider, normalize.AttrCloudPlatform, normalize.AttrCloudAccountID, normalize.AttrCloudRegion,
		normalize.AttrCloudZone, normalize.AttrCloudResourceID, normalize.AttrClusterName,
	}
)

func gkeEntry(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "normalize", "testdata", "gke", file))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// sourceRisk runs one record through a fresh processor with the built-in pack and summarises its risk records: what
// a Splunk user sees of each (rule, risk object, type, score, threat object, message), sorted, and the provenance
// attributes they carry.
func sourceRisk(t *testing.T, body string, resource map[string]string) ([]string, []map[string]string) {
	t.Helper()
	p, sink, _ := newTestProcessor(t, createDefaultConfig())
	ld := input(str(body))
	for k, v := range resource {
		ld.ResourceLogs().At(0).Resource().Attributes().PutStr(k, v)
	}
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	var out []string
	var provs []map[string]string
	for _, r := range records(sink.AllLogs()[0]) {
		if !isRisk(r) {
			continue
		}
		a := r.Attributes().AsRaw()
		out = append(out, fmt.Sprintf("%v | %v | %v | %v | %v | %v", a["search_name"], a["risk_object"],
			a["risk_object_type"], a["risk_score"], a["threat_object"], a["risk_message"]))
		prov := map[string]string{}
		for _, name := range provenanceNames {
			if v, ok := r.Attributes().Get(name); ok {
				prov[name] = v.Str()
			}
		}
		provs = append(provs, prov)
	}
	sort.Strings(out)
	return out, provs
}

// TestGKESessionStage: GKE may write a session (exec, attach, port forwarding, proxying) as one entry, operation
// first and last. The API server writes such a request at ResponseStarted, when the session opens, and the built-in
// exec rule reads that stage: a successful single-entry exec must fire it; a refused one, and the last entry of a
// session written in two, must not.
func TestGKESessionStage(t *testing.T) {
	refused := gkeEntry(t, "pod-exec-forbidden.json")
	allowed := regexp.MustCompile(`"status":\{"code":7,"message":"(?:[^"\\]|\\.)*"\}`).ReplaceAllString(refused, `"status":{}`)
	require.NotEqual(t, refused, allowed)
	rules := func(body string) []string { return riskRuleNames(t, body) }
	assert.Equal(t, []string{"Kubernetes Exec or Attach Into Pod"}, rules(allowed), "one entry, allowed")
	assert.NotContains(t, rules(refused), "Kubernetes Exec or Attach Into Pod", "one entry, refused")
	assert.Equal(t, []string{"Kubernetes Exec or Attach Into Pod"},
		rules(strings.Replace(allowed, `"first":true,"last":true`, `"first":true`, 1)), "the first of two entries")
	assert.Empty(t, rules(strings.Replace(allowed, `"first":true,"last":true`, `"last":true`, 1)), "the last of two entries")
}

// TestSourcesFireLikeNative writes a NodePort service creation and a host-network pod creation, and a near miss of
// each, in every shape, and runs them through the processor with the built-in pack: each shape must fire the rules
// the native event fires, with the same risk objects and messages, and carry its wrapper's provenance; the near
// misses stay quiet in every shape.
func TestSourcesFireLikeNative(t *testing.T) {
	activities := []struct {
		name       string
		rule, file string // the native event, in the built-in pack's test data
		gke        string
		gkeEdit    func(string) string
		wantRules  []string
	}{
		{
			name: "nodeport service created", rule: "kubernetes_nodeport_service_exposed", file: "match-create-nodeport.json",
			gke: "service-nodeport-create.json", wantRules: []string{"Kubernetes NodePort Service Exposed"},
		},
		{
			name: "host-network pod created", rule: "kubernetes_workload_with_host_network", file: "match-pod-create.json",
			gke: "pod-hostnetwork-create.json", wantRules: []string{"Kubernetes Workload With Host Network"},
		},
		{
			// No body at all: GKE's label audit.k8s.io/truncated is read as the annotation a native event carries.
			name: "pod created, its body dropped for size", rule: "kubernetes_oversized_write_audited_without_its_body",
			file: "match-create-padded-pod.json", gke: "pod-create-truncated.json",
			wantRules: []string{"Kubernetes Oversized Write Audited Without Its Body"},
		},
		{
			name: "near miss: clusterip service", rule: "kubernetes_nodeport_service_exposed", file: "nomatch-create-clusterip.json",
			gke:     "service-nodeport-create.json",
			gkeEdit: func(s string) string { return strings.ReplaceAll(s, `"type":"NodePort"`, `"type":"ClusterIP"`) },
		},
		{
			name: "near miss: pod on the pod network", rule: "kubernetes_workload_with_host_network", file: "nomatch-pod-host-network-false.json",
			gke:     "pod-hostnetwork-create.json",
			gkeEdit: func(s string) string { return strings.ReplaceAll(s, `"hostNetwork":true`, `"hostNetwork":false`) },
		},
		{
			name: "near miss: pod audited at level Metadata", rule: "kubernetes_oversized_write_audited_without_its_body",
			file: "nomatch-metadata-level-write.json", gke: "pod-create-truncated.json",
			gkeEdit: func(s string) string { return strings.ReplaceAll(s, `"audit.k8s.io/truncated":"true",`, ``) },
		},
	}
	for _, act := range activities {
		native := builtinEvent(t, act.rule, act.file)
		gke := gkeEntry(t, act.gke)
		if act.gkeEdit != nil {
			edited := act.gkeEdit(gke)
			require.NotEqual(t, gke, edited, "the near miss differs from the match")
			gke = edited
		}
		want, _ := sourceRisk(t, native, nil)
		var rules []string
		for _, w := range want {
			if name := strings.SplitN(w, " | ", 2)[0]; !containsStr(rules, name) {
				rules = append(rules, name)
			}
		}
		require.Equal(t, act.wantRules, rules, "%s: rules fired by the native event", act.name)
		for _, shape := range sourceShapes {
			if shape.name == "native" {
				continue
			}
			t.Run(act.name+"/"+shape.name, func(t *testing.T) {
				got, provs := sourceRisk(t, shape.body(native, gke), shape.resource)
				assert.Equal(t, want, got)
				for _, prov := range provs {
					want := shape.prov
					if want == nil {
						want = map[string]string{}
					}
					if shape.name == "gke" && act.gke == "pod-hostnetwork-create.json" {
						want = map[string]string{
							normalize.AttrCloudProvider: "gcp", normalize.AttrCloudPlatform: "gcp_kubernetes_engine",
							normalize.AttrCloudAccountID: "shop-prod-4711", normalize.AttrCloudRegion: "us-central1",
							normalize.AttrCloudZone: "us-central1-c", normalize.AttrClusterName: "tools-gke",
						}
					}
					assert.Equal(t, want, prov, "provenance")
				}
			})
		}
	}
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestEventListRecord: each item of a webhook batch is evaluated as its own event; the record passes on once,
// unchanged, followed by one risk record per matching item.
func TestEventListRecord(t *testing.T) {
	nodePort := builtinEvent(t, "kubernetes_nodeport_service_exposed", "match-create-nodeport.json")
	clusterIP := builtinEvent(t, "kubernetes_nodeport_service_exposed", "nomatch-create-clusterip.json")
	hostPod := builtinEvent(t, "kubernetes_workload_with_host_network", "match-pod-create.json")
	list := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` +
		strings.Join([]string{nodePort, clusterIP, `"not an event"`, `{"verb":}`, hostPod}, ",") + `]}`
	quiet := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + clusterIP + `]}`

	t.Run("fork", func(t *testing.T) {
		p, sink, tel := newTestProcessor(t, createDefaultConfig())
		require.NoError(t, p.ConsumeLogs(context.Background(), input(str(list), str(quiet))))
		got := records(sink.AllLogs()[0])
		require.Len(t, got, 4, "two batches once each, and one risk record per matching item")
		assert.Equal(t, list, got[0].Body().Str())
		assert.Equal(t, quiet, got[1].Body().Str())
		var ids []string
		for _, r := range got[2:] {
			require.True(t, isRisk(r))
			id, _ := r.Attributes().Get("auditID")
			ids = append(ids, id.Str())
		}
		assert.Equal(t, []string{"92d2061c-e078-4fb0-9961-c7fd86af4553", "55da795b-f772-4d27-b83a-275e2835af7f"}, ids,
			"risk records name the item that matched, in order")
		assertSum(t, tel, "otelcol_processor_auditdetect_records", 2)
		assertSum(t, tel, "otelcol_processor_auditdetect_rule_matches", 2)
		assertSum(t, tel, "otelcol_processor_auditdetect_risk_events", 2)
		assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_unparsed", 0)
	})
	t.Run("enrich", func(t *testing.T) {
		p, sink, _ := newTestProcessor(t, func() *Config { c := createDefaultConfig(); c.Mode = ModeEnrich; return c }())
		twice := `{"kind":"EventList","items":[` + nodePort + `,` + hostPod + `,` + nodePort + `]}`
		require.NoError(t, p.ConsumeLogs(context.Background(), input(str(twice))))
		got := records(sink.AllLogs()[0])
		require.Len(t, got, 1)
		names, _ := got[0].Attributes().Get("search_name")
		assert.Equal(t, []any{"Kubernetes NodePort Service Exposed", "Kubernetes Workload With Host Network"},
			names.Slice().AsRaw(), "every rule that matched an item, once")
	})
	t.Run("drop_unmatched", func(t *testing.T) {
		p, sink, _ := newTestProcessor(t, func() *Config { c := createDefaultConfig(); c.DropUnmatched = true; return c }())
		// An item that does not parse, or is over max_body_bytes, was not read: its batch is kept.
		unread := `{"kind":"EventList","items":[` + clusterIP + `,{"verb":}]}`
		require.NoError(t, p.ConsumeLogs(context.Background(), input(str(quiet), str(list), str(unread))))
		got := records(sink.AllLogs()[0])
		require.Len(t, got, 4, "the quiet batch is dropped; the batch with matches and the one not read in full are kept")
		assert.Equal(t, list, got[0].Body().Str())
		assert.Equal(t, unread, got[1].Body().Str())
	})
	t.Run("max_body_bytes bounds items, not the batch", func(t *testing.T) {
		cfg := createDefaultConfig()
		cfg.MaxBodyBytes = len(hostPod) + 1
		p, sink, tel := newTestProcessor(t, cfg)
		big := `{"kind":"EventList","items":[` + nodePort + `,` + nodePort + `,` + hostPod + `,` +
			withField(t, nodePort, "padding", strings.Repeat("x", cfg.MaxBodyBytes)) + `]}`
		require.Greater(t, len(big), cfg.MaxBodyBytes)
		require.NoError(t, p.ConsumeLogs(context.Background(), input(str(big))))
		risk := 0
		for _, r := range records(sink.AllLogs()[0]) {
			if isRisk(r) {
				risk++
			}
		}
		assert.Equal(t, 3, risk, "every item under the bound is evaluated")
		assertSum(t, tel, "otelcol_processor_auditdetect_records_oversized", 1)
	})
}

// TestFormats: formats restricts the shapes read; records of other shapes, and JSON objects of no known shape, pass
// through unevaluated and are counted by shape.
func TestFormats(t *testing.T) {
	nodePort := builtinEvent(t, "kubernetes_nodeport_service_exposed", "match-create-nodeport.json")
	gke := gkeEntry(t, "service-nodeport-create.json")
	unknown := `{"level":"info","ts":1733390041.3,"msg":"reconciled","controller":"ingress"}`
	brokenGKE := gke[:len(gke)/2]
	cfg := createDefaultConfig()
	cfg.Formats = []string{"native", "eventlist"}
	require.NoError(t, cfg.Validate())
	p, sink, tel := newTestProcessor(t, cfg)
	bodies := []string{nodePort, gke, aksRecord(jsonString(nodePort)), unknown, brokenGKE}
	ld := input(str(bodies[0]), str(bodies[1]), str(bodies[2]), str(bodies[3]), str(bodies[4]))
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	got := records(sink.AllLogs()[0])
	require.Len(t, got, len(bodies)+1, "every record passes on; only the native one is evaluated")
	for i, b := range bodies {
		assert.Equal(t, b, got[i].Body().Str())
	}
	assert.True(t, isRisk(got[len(bodies)]))
	const name = "otelcol_processor_auditdetect_records_unrecognized"
	// A shape left out is not parsed, so a broken GKE entry counts as gke too.
	assertSumAttr(t, tel, name, attribute.String("format", "gke"), 2)
	assertSumAttr(t, tel, name, attribute.String("format", "aks"), 1)
	assertSumAttr(t, tel, name, attribute.String("format", "unknown"), 1)
	assertSum(t, tel, name, 4)
	assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_unparsed", 0)

	// Accepted, the broken entry is parsed, and counted as unparsed.
	p, sink, tel = newTestProcessor(t, createDefaultConfig())
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(brokenGKE))))
	assert.Equal(t, brokenGKE, records(sink.AllLogs()[0])[0].Body().Str())
	assertSum(t, tel, "otelcol_processor_auditdetect_records_unparsed", 1)
	assertSumOrNone(t, tel, name, 0)

	bad := createDefaultConfig()
	bad.Formats = []string{"native", "cloudtrail"}
	err := bad.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `formats: "cloudtrail" is not one of native, eventlist, eks, aks, gke`)
}

// TestProvenanceInEnrichMode: an annotated wrapped record also says where it came from.
func TestProvenanceInEnrichMode(t *testing.T) {
	cfg := createDefaultConfig()
	cfg.Mode = ModeEnrich
	p, sink, _ := newTestProcessor(t, cfg)
	gke := gkeEntry(t, "service-nodeport-create.json")
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(gke))))
	got := records(sink.AllLogs()[0])
	require.Len(t, got, 1)
	attrs := got[0].Attributes()
	for k, want := range map[string]string{
		normalize.AttrClusterName: "prod-gke", normalize.AttrCloudAccountID: "shop-prod-4711", normalize.AttrCloudProvider: "gcp",
	} {
		v, ok := attrs.Get(k)
		if assert.True(t, ok, k) {
			assert.Equal(t, want, v.Str(), k)
		}
	}
	_, ok := attrs.Get("search_name")
	assert.True(t, ok)
}

// The map body of a wrapped record (a pipeline that parsed the JSON before the processor) is read as its string.
func TestWrappedMapBody(t *testing.T) {
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(gkeEntry(t, "service-nodeport-create.json")), &m))
	p, sink, _ := newTestProcessor(t, createDefaultConfig())
	ld := input(func(v pcommon.Value) { require.NoError(t, v.SetEmptyMap().FromRaw(m)) })
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	var risk []plog.LogRecord
	for _, r := range records(sink.AllLogs()[0]) {
		if isRisk(r) {
			risk = append(risk, r)
		}
	}
	require.Len(t, risk, 1)
	v, _ := risk[0].Attributes().Get("risk_object")
	assert.Equal(t, "jane.doe@corp.example", v.Str())
}

// TestRouteModeReadsWrappedEvents: in route mode a wrapped record is routed by the key of the audit event inside it
// (the first one of a batch), so it reaches the gateway its native copy would.
func TestRouteModeReadsWrappedEvents(t *testing.T) {
	anon := func(ip string) string {
		return `{"kind":"Event","verb":"list","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},` +
			`"sourceIPs":["` + ip + `"],"objectRef":{"resource":"secrets"},"responseStatus":{"code":403}}`
	}
	gke := `{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.secrets.list","resourceName":"core/v1/secrets",` +
		`"authenticationInfo":{"principalEmail":"system:anonymous"},"requestMetadata":{"callerIp":"198.51.100.1"},"status":{"code":7}}}`
	cfg := createDefaultConfig()
	cfg.Mode = ModeRoute
	p, sink, tel := newTestProcessor(t, cfg)
	ld := input(
		str(anon("198.51.100.1")),
		str(`{"kind":"EventList","items":[`+anon("198.51.100.1")+`,`+anon("198.51.100.2")+`]}`),
		str(gke),
		str(aksRecord(jsonString(anon("198.51.100.1")))),
		str(`{"level":"info","msg":"not an audit event"}`),
	)
	require.NoError(t, p.ConsumeLogs(context.Background(), ld))
	got := records(sink.AllLogs()[0])
	require.Len(t, got, 5)
	want := RouteTraceID("198.51.100.1")
	for i, r := range got[:4] {
		assert.Equal(t, want, r.TraceID(), "record %d", i)
	}
	assert.True(t, got[4].TraceID().IsEmpty())
	assertSumAttr(t, tel, "otelcol_processor_auditdetect_records_unrecognized", attribute.String("format", "unknown"), 1)
	assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_unparsed", 0)
}

// TestGzipBody: a CloudWatch subscription message as Kinesis carries it, gzip-compressed, in a bytes body: its
// event is evaluated with the envelope's provenance, and the record passes on unchanged.
func TestGzipBody(t *testing.T) {
	envelope := sourceShapes[2].body(nodePortEvent(t), "")
	require.Contains(t, sourceShapes[2].name, "subscription")
	zipped := bytes.NewBuffer(gzipBytes(t, envelope))

	p, sink, tel := newTestProcessor(t, createDefaultConfig())
	require.NoError(t, p.ConsumeLogs(context.Background(), input(func(v pcommon.Value) {
		v.SetEmptyBytes().FromRaw(zipped.Bytes())
	})))
	got := records(sink.AllLogs()[0])
	require.Len(t, got, 2, "the record and its risk record")
	assert.Equal(t, zipped.Bytes(), got[0].Body().Bytes().AsRaw(), "passed on unchanged")
	require.True(t, isRisk(got[1]))
	for k, want := range eksProv {
		v, ok := got[1].Attributes().Get(k)
		if assert.True(t, ok, k) {
			assert.Equal(t, want, v.Str(), k)
		}
	}

	// Cut short, it is a body the processor cannot read: passed on and counted.
	require.NoError(t, p.ConsumeLogs(context.Background(), input(func(v pcommon.Value) {
		v.SetEmptyBytes().FromRaw(zipped.Bytes()[:30])
	})))
	assertSum(t, tel, "otelcol_processor_auditdetect_records_unparsed", 1)
}

// TestGzipEventListPastMaxBodyBytes: a gzip EventList over max_body_bytes, compressed or once decompressed, is read
// as a plain one is, each item bounded on its own (it was refused whole, every item unevaluated); one that
// decompresses past the normaliser's bound (a gzip bomb, 64 MiB) still stops there and is counted as oversized, its
// items unevaluated, in route mode too.
func TestGzipEventListPastMaxBodyBytes(t *testing.T) {
	nodePort := builtinEvent(t, "kubernetes_nodeport_service_exposed", "match-create-nodeport.json")
	clusterIP := builtinEvent(t, "kubernetes_nodeport_service_exposed", "nomatch-create-clusterip.json")
	hostPod := builtinEvent(t, "kubernetes_workload_with_host_network", "match-pod-create.json")
	cfg := createDefaultConfig()
	cfg.MaxBodyBytes = len(hostPod) + 1
	over := withField(t, nodePort, "padding", strings.Repeat("x", cfg.MaxBodyBytes))
	list := `{"kind":"EventList","items":[` + nodePort + `,` + hostPod + `,` + over + `]}`
	small := gzipBytes(t, list)
	require.Greater(t, len(list), cfg.MaxBodyBytes)
	require.Less(t, len(small), cfg.MaxBodyBytes)
	// Random padding does not compress: the gzip body itself is over the bound, the item under it.
	items := []string{}
	for range 4 {
		noise := make([]byte, cfg.MaxBodyBytes-len(clusterIP)-64)
		for i := range noise {
			noise[i] = "0123456789abcdef"[rand.IntN(16)]
		}
		items = append(items, withField(t, clusterIP, "padding", string(noise)))
		require.Less(t, len(items[len(items)-1]), cfg.MaxBodyBytes)
	}
	large := gzipBytes(t, `{"kind":"EventList","items":[`+strings.Join(append(items, nodePort), ",")+`]}`)
	require.Greater(t, len(large), cfg.MaxBodyBytes)
	var zipped bytes.Buffer
	zw, err := gzip.NewWriterLevel(&zipped, gzip.BestSpeed)
	require.NoError(t, err)
	_, err = zw.Write([]byte(`{"kind":"EventList","items":[` + nodePort + `,{"verb":"`))
	require.NoError(t, err)
	for range 65 {
		_, err = zw.Write(bytes.Repeat([]byte("a"), 1<<20))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	bomb := zipped.Bytes()
	require.Less(t, len(bomb), 128<<10, "a bomb: 65 MiB from under 128 KiB")
	in := func() plog.Logs {
		raw := func(b []byte) func(pcommon.Value) { return func(v pcommon.Value) { v.SetEmptyBytes().FromRaw(b) } }
		return input(raw(small), raw(large), raw(bomb))
	}

	p, sink, tel := newTestProcessor(t, cfg)
	require.NoError(t, p.ConsumeLogs(context.Background(), in()))
	var rules []string
	for _, r := range records(sink.AllLogs()[0]) {
		if isRisk(r) {
			name, _ := r.Attributes().Get("search_name")
			rules = append(rules, name.Str())
		}
	}
	assert.Equal(t, []string{"Kubernetes NodePort Service Exposed", "Kubernetes Workload With Host Network",
		"Kubernetes NodePort Service Exposed"}, rules, "the items of both batches under the bound, none of the bomb's")
	assertSum(t, tel, "otelcol_processor_auditdetect_records_oversized", 2) // the item over the bound, the bomb
	assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_unparsed", 0)

	anon := `{"kind":"Event","verb":"list","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},` +
		`"sourceIPs":["198.51.100.1"],"objectRef":{"resource":"secrets"},"responseStatus":{"code":403}}`
	routed := gzipBytes(t, `{"kind":"EventList","items":[`+anon+`,`+over+`]}`)
	cfg.Mode = ModeRoute
	p, sink, tel = newTestProcessor(t, cfg)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(
		func(v pcommon.Value) { v.SetEmptyBytes().FromRaw(routed) },
		func(v pcommon.Value) { v.SetEmptyBytes().FromRaw(bomb) },
	)))
	got := records(sink.AllLogs()[0])
	require.Len(t, got, 2)
	assert.Equal(t, RouteTraceID("198.51.100.1"), got[0].TraceID(), "routed by its first item")
	assert.True(t, got[1].TraceID().IsEmpty(), "the bomb is not routed")
	assertSum(t, tel, "otelcol_processor_auditdetect_records_oversized", 1)
	assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_unparsed", 0)
}

func gzipBytes(t *testing.T, s string) []byte {
	t.Helper()
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, err := zw.Write([]byte(s))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return zipped.Bytes()
}

// TestGzipBodyDropUnmatched: under drop_unmatched a gzip body whose events match nothing is dropped like any other
// (its decompressed events are checked, not the compressed bytes, which are never JSON), and one whose event is
// malformed where the engine did not read is kept and counted.
func TestGzipBodyDropUnmatched(t *testing.T) {
	quiet := builtinEvent(t, "kubernetes_nodeport_service_exposed", "nomatch-create-clusterip.json")
	broken := strings.Replace(quiet, `"requestObject":{`, `"requestObject":{"x":,`, 1)
	require.NotEqual(t, quiet, broken)
	cfg := createDefaultConfig()
	cfg.DropUnmatched = true
	p, sink, tel := newTestProcessor(t, cfg)
	for _, ev := range []string{quiet, broken} {
		zipped := gzipBytes(t, sourceShapes[2].body(ev, ""))
		require.NoError(t, p.ConsumeLogs(context.Background(), input(func(v pcommon.Value) {
			v.SetEmptyBytes().FromRaw(zipped)
		})))
	}
	require.Len(t, sink.AllLogs(), 2)
	assert.Empty(t, records(sink.AllLogs()[0]), "a quiet gzip body is dropped")
	assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_unparsed", 1)
	require.Len(t, records(sink.AllLogs()[1]), 1, "a gzip body with a malformed event is kept")
}

// TestTruncatedAKSEvent: Azure cuts properties.log at 16 KiB. An exec padded past that arrives cut short: no rule can
// read it, and it is counted as truncated (and its record as unparsed) so that the evasion shows.
func TestTruncatedAKSEvent(t *testing.T) {
	ev := builtinEvent(t, "kubernetes_exec_or_attach_into_pod", "match-exec-post.json")
	padded := strings.Replace(ev, "&container=api", "&command="+strings.Repeat("A", 17000)+"&container=api", 1)
	require.Greater(t, len(padded), 16384)
	p, sink, tel := newTestProcessor(t, createDefaultConfig())
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(aksRecord(jsonString(ev))), str(aksRecord(jsonString(padded[:16384]))))))
	got := records(sink.AllLogs()[0])
	require.Len(t, got, 3, "two records passed on, one risk record for the whole event")
	assert.True(t, isRisk(got[2]))
	assertSum(t, tel, "otelcol_processor_auditdetect_events_truncated", 1)
	assertSum(t, tel, "otelcol_processor_auditdetect_records_unparsed", 1)

	// Cut inside a string of `}` after every field the rule reads: the body still ends in `}`, and the engine, which
	// reads only what its rules need, reads it without an error and matches nothing. It is counted all the same.
	quiet := builtinEvent(t, "kubernetes_nodeport_service_exposed", "nomatch-create-clusterip.json")
	cut := withField(t, quiet, "zz_padding", strings.Repeat("}", 20000))[:16384]
	require.True(t, strings.HasSuffix(cut, "}"))
	cfg := testConfig(func(c *Config) { c.Rules = []string{filepath.Join("testdata", "rules", "test_nodeport.yml")} })
	p, _, tel = newTestProcessor(t, cfg)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(aksRecord(jsonString(cut))))))
	assertSum(t, tel, "otelcol_processor_auditdetect_events_truncated", 1)
	assertSum(t, tel, "otelcol_processor_auditdetect_records_unparsed", 1)
}

// TestGKEImpersonationAndWatchFire: two activities the built-in pack reports on native events, written as GKE writes
// them, must be reported on GKE too: a request made while impersonating a kube-system service account (GKE: the
// impersonated identity in authenticationInfo.authoritySelector, the caller in principalEmail), and a secret watch by
// an unapproved user (GKE: one entry, operation first and last).
func TestGKEImpersonationAndWatchFire(t *testing.T) {
	rules := func(body string) []string { return riskRuleNames(t, body) }
	const entry = `{"insertId":"6c0e8f52-93a1-4d7b-b3c2-0d9e8f7a6b5c","protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog",` +
		`"serviceName":"k8s.io","methodName":"%s","resourceName":"%s","authenticationInfo":%s,` +
		`"requestMetadata":{"callerIp":"203.0.113.7","callerSuppliedUserAgent":"kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"},"status":{}},` +
		`"resource":{"type":"k8s_cluster","labels":{"project_id":"shop-prod-4711","location":"europe-west1","cluster_name":"prod-gke"}},` +
		`"timestamp":"2026-12-05T12:00:00.000000Z","labels":{"authorization.k8s.io/decision":"allow"},` +
		`"operation":{"id":"6c0e8f52-93a1-4d7b-b3c2-0d9e8f7a6b5c","producer":"k8s.io","first":true,"last":true}}`

	impersonating := fmt.Sprintf(entry, "io.k8s.core.v1.configmaps.get", "core/v1/namespaces/kube-system/configmaps/kubeadm-config",
		`{"principalEmail":"mallory@corp.example","authoritySelector":"system:serviceaccount:kube-system:replicaset-controller"}`)
	assert.Contains(t, rules(impersonating), "Kubernetes Impersonation of Privileged Identity")
	plain := fmt.Sprintf(entry, "io.k8s.core.v1.configmaps.get", "core/v1/namespaces/kube-system/configmaps/kubeadm-config",
		`{"principalEmail":"mallory@corp.example"}`)
	assert.NotContains(t, rules(plain), "Kubernetes Impersonation of Privileged Identity")

	watch := fmt.Sprintf(entry, "io.k8s.core.v1.secrets.watch", "core/v1/namespaces/shop/secrets",
		`{"principalEmail":"mallory@corp.example"}`)
	assert.Contains(t, rules(watch), "Kubernetes Secret Read by Unapproved User")

	// The entry is both stages of the watch: rules on any completed request see it as well (anonymous access is
	// read at ResponseComplete), and the secret rule reports it once, at ResponseStarted.
	anonymous := fmt.Sprintf(entry, "io.k8s.core.v1.secrets.watch", "core/v1/namespaces/shop/secrets",
		`{"principalEmail":"system:anonymous"}`)
	got := rules(anonymous)
	assert.Contains(t, got, "Kubernetes Anonymous Request Allowed")
	n := 0
	for _, r := range got {
		if r == "Kubernetes Secret Read by Unapproved User" {
			n++
		}
	}
	assert.Equal(t, 1, n, "one report of the watch: %v", got)
}

// riskRuleNames lists the rule of each risk record the built-in pack writes for body.
func riskRuleNames(t *testing.T, body string) []string {
	t.Helper()
	got, _ := sourceRisk(t, body, nil)
	var names []string
	for _, g := range got {
		names = append(names, strings.SplitN(g, " | ", 2)[0])
	}
	return names
}

// TestGKEOneEntryOversizedCountedOnce: a one-entry GKE watch is read as two events (ResponseStarted and
// ResponseComplete), but it is one record: when its audit event is over max_body_bytes (the native event is larger
// than the entry it is read from), records_oversized counts the record once, as for any record that is not an
// EventList (docs/sources.md), not once per stage.
func TestGKEOneEntryOversizedCountedOnce(t *testing.T) {
	const watch = `{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","methodName":"io.k8s.core.v1.secrets.watch",` +
		`"resourceName":"core/v1/namespaces/shop/secrets","authenticationInfo":{"principalEmail":"system:anonymous"}},` +
		`"timestamp":"2026-12-05T12:00:00Z","operation":{"id":"x","first":true,"last":true}}`
	cfg := createDefaultConfig()
	cfg.MaxBodyBytes = len(watch) + 1 // the record is under the bound, each of its two audit events over it
	p, sink, tel := newTestProcessor(t, cfg)
	require.NoError(t, p.ConsumeLogs(context.Background(), input(str(watch))))
	require.Len(t, records(sink.AllLogs()[0]), 1, "the record passes on")
	assertSum(t, tel, "otelcol_processor_auditdetect_records_oversized", 1)
}

// TestGzipBodyPastMaxBodyBytesCompressed: a gzip body is decompressed whatever its compressed size (an EventList
// may be past max_body_bytes), but the input read is bounded by what the body may decompress to: a body past
// max_body_bytes compressed that decompresses to a small event (empty gzip members before it, which cost their
// decompression and hold nothing) is refused as oversized, as it was before gzip EventLists were read past the bound,
// not read in full and evaluated. A plain body of its size is refused unread.
func TestGzipBodyPastMaxBodyBytesCompressed(t *testing.T) {
	nodePort := builtinEvent(t, "kubernetes_nodeport_service_exposed", "match-create-nodeport.json")
	cfg := createDefaultConfig()
	cfg.MaxBodyBytes = 64 << 10
	empty := gzipBytes(t, "")
	padded := append(bytes.Repeat(empty, 4*cfg.MaxBodyBytes/len(empty)), gzipBytes(t, nodePort)...)
	require.Greater(t, len(padded), 2*cfg.MaxBodyBytes)
	for _, mode := range []Mode{ModeFork, ModeRoute} {
		cfg.Mode = mode
		p, sink, tel := newTestProcessor(t, cfg)
		require.NoError(t, p.ConsumeLogs(context.Background(), input(func(v pcommon.Value) {
			v.SetEmptyBytes().FromRaw(padded)
		})))
		got := records(sink.AllLogs()[0])
		require.Len(t, got, 1, "%s: passed on, no risk record", mode)
		assert.True(t, got[0].TraceID().IsEmpty(), "%s: not routed", mode)
		assertSum(t, tel, "otelcol_processor_auditdetect_records_oversized", 1)
		assertSumOrNone(t, tel, "otelcol_processor_auditdetect_records_unparsed", 0)
	}
}
