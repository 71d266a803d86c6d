package auditdetectprocessor_test

// End-to-end test in one process, with the real components a deployment uses and no collector binary:
//
//	filelog receiver (reads a temp audit log)
//	  -> auditdetect processor (NewFactory)
//	  -> [tap: copies what the processor emits, to compare before/after HEC]
//	  -> splunk_hec exporter (HTTP, gzip)
//	  -> splunk_hec receiver (a real HEC peer on a free loopback port)
//	  -> consumertest.LogsSink
//
// Every component is configured from a string map through confmap, as `otelcol` would from YAML, and validated.
//
// What the HEC round trip does to the processor's output (asserted by assertHECRoundTrip below; this is the output
// contract the README should state):
//   - com.splunk.index / com.splunk.sourcetype / com.splunk.source (and host.name) are HEC metadata, not fields: the
//     exporter removes them from the attributes and sends them as the event's index/sourcetype/source/host; the
//     record attribute wins over the exporter's configured default. The receiver puts them back as RESOURCE
//     attributes (one ResourceLogs per distinct host/source/sourcetype/index), never as record attributes. With no
//     host.name anywhere the exporter sends host "unknown", which comes back as resource host.name=unknown.
//   - Every other record (and resource) attribute becomes an indexed HEC field of the same name.
//   - Strings stay strings.
//   - Ints do NOT stay ints: they are JSON numbers in `fields`, and the receiver decodes JSON numbers as float64, so
//     risk_score=20 (Int) arrives as Double 20, count=1 as Double 1. (Splunk itself indexes field values as text;
//     searches see "20" either way. A consumer reading OTLP after a HEC hop must accept a double.)
//   - Arrays of plain values stay arrays (Slice of Str): analyticstories, annotations.mitre_attack.mitre_technique_id
//     (always slices, even with one value) and a multi-valued row field such as user_groups arrive as multi-valued
//     fields. A row field with a single value is written by the processor as a plain Str and arrives as one, so a
//     row field's type depends on its value count. Arrays holding maps/arrays would be sent as a JSON string.
//   - The record's severity is sent as the fields otel.log.severity.text ("INFO") and otel.log.severity.number
//     (9, arriving as Double); the receiver does not map them back to the record's severity.
//   - The body (a string: the raw audit line, or the risk message for a risk record) is the HEC `event` string and
//     arrives as a string body, byte for byte, including the malformed line.
//   - The time is sent in milliseconds: the risk record carries the audit event's own time (stageTimestamp); an
//     audit record read by filelog without a timestamp parser has none, so the exporter sends its observed (read)
//     time.
//   - filelog's log.file.name attribute on the audit records is an indexed field too.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/splunkhecexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/filelogreceiver"
	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/splunkhecreceiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
)

// The audit log the filelog receiver reads: one compact JSON event per line, as the API server writes it.
var e2eAuditLines = []string{
	// The detection: a NodePort service created by mallory from 203.0.113.7.
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"np-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/services?fieldManager=kubectl-client-side-apply","verb":"create","user":{"username":"mallory","groups":["system:authenticated","shop-admins"]},"sourceIPs":["203.0.113.7"],"userAgent":"kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b","objectRef":{"resource":"services","namespace":"shop","name":"backdoor","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Service","apiVersion":"v1","metadata":{"name":"backdoor","namespace":"shop"},"spec":{"type":"NodePort","selector":{"app":"shell"},"ports":[{"protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080}]}},"responseObject":{"kind":"Service","apiVersion":"v1","metadata":{"name":"backdoor","namespace":"shop","uid":"5d1f3c1e-0000-4000-8000-000000000001"},"spec":{"type":"NodePort","clusterIP":"10.96.12.34"}},"requestReceivedTimestamp":"2026-12-01T10:00:00.000000Z","stageTimestamp":"2026-12-01T10:00:00.010000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"shop-admins\""}}`,
	// Near miss: the same user and source creates a ClusterIP service.
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"cip-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/services","verb":"create","user":{"username":"mallory","groups":["system:authenticated"]},"sourceIPs":["203.0.113.7"],"userAgent":"kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b","objectRef":{"resource":"services","namespace":"shop","name":"web","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Service","apiVersion":"v1","metadata":{"name":"web","namespace":"shop"},"spec":{"type":"ClusterIP","ports":[{"port":80}]}},"requestReceivedTimestamp":"2026-12-01T10:00:01.000000Z","stageTimestamp":"2026-12-01T10:00:01.008000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""}}`,
	// Benign reads.
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"get-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods/web-7d9f8","verb":"get","user":{"username":"alice","groups":["devs","system:authenticated"]},"sourceIPs":["10.0.0.12"],"userAgent":"kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b","objectRef":{"resource":"pods","namespace":"shop","name":"web-7d9f8","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-01T10:00:02.000000Z","stageTimestamp":"2026-12-01T10:00:02.004000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by RoleBinding \"devs/shop\""}}`,
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"list-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces?limit=500","verb":"list","user":{"username":"system:serviceaccount:monitoring:prometheus","groups":["system:serviceaccounts","system:serviceaccounts:monitoring","system:authenticated"]},"sourceIPs":["10.0.3.7"],"userAgent":"prometheus/2.53.0","objectRef":{"resource":"namespaces","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-12-01T10:00:03.000000Z","stageTimestamp":"2026-12-01T10:00:03.002000Z","annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"prometheus\""}}`,
	// Malformed: a truncated line (a partial write). It must pass through untouched.
	`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"broken-1","stage":"ResponseComplete","verb":"create","objectRef":{"resource":"serv`,
}

const (
	e2eAuditIndex      = "kube_audit"
	e2eAuditSourcetype = "kube:apiserver-audit"
	e2eAuditSource     = "kubernetes"
	e2eSearchName      = "ESCU - Test NodePort - Rule"
	e2eRuleID          = "0b6f9a43-51a4-4a43-9d6c-5a3c2c1e0001"
	e2eWait            = 15 * time.Second
	e2eTick            = 20 * time.Millisecond
)

// HEC metadata attributes (the exporter's otel_attrs_to_hec_metadata and the receiver's hec_metadata_to_otel_attrs
// defaults are the same names).
const (
	attrIndex      = "com.splunk.index"
	attrSourcetype = "com.splunk.sourcetype"
	attrSource     = "com.splunk.source"
	attrHost       = "host.name"
)

// TestE2ERuleWithoutMessage: the splunk_hec exporter drops a record with an empty body without a word; the risk
// record of a detection without a risk message must still reach the HEC peer, saying its search name and risk object.
func TestE2ERuleWithoutMessage(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "rules", "test_nodeport.yml"))
	require.NoError(t, err)
	noMessage := regexp.MustCompile(`(?m)^  message: .*\n`).ReplaceAll(src, nil)
	require.NotEqual(t, src, noMessage, "the test rule has a message to take out")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "test_nodeport.yml"), noMessage, 0o600))
	p := startE2EPipeline(t, map[string]any{
		"rules":  []any{dir},
		"macros": map[string]any{"test_nodeport_filter": "search NOT user=admin"},
	}, writeAuditLog(t, e2eAuditLines))

	wantTotal := len(e2eAuditLines) + 1
	require.Eventually(t, func() bool { return p.delivered(wantTotal) }, e2eWait, e2eTick,
		"the HEC peer did not receive %d records in time", wantTotal)
	p.stop(t)
	_, risk := splitRisk(flatten(p.received.AllLogs()))
	require.Len(t, risk, 1, "the risk record arrived")
	assert.Equal(t, e2eSearchName+": user mallory", risk[0].rec.Body().Str())
	assert.Equal(t, e2eSearchName+": user mallory", risk[0].rec.Attributes().AsRaw()["risk_message"])
}

func TestE2EFilelogToHEC(t *testing.T) {
	logPath := writeAuditLog(t, e2eAuditLines)
	p := startE2EPipeline(t, map[string]any{
		"rules":  []any{filepath.Join("testdata", "rules")},
		"macros": map[string]any{"test_nodeport_filter": "search NOT user=admin"},
	}, logPath)

	wantTotal := len(e2eAuditLines) + 1 // every line passes through, plus one risk record
	require.Eventually(t, func() bool { return p.delivered(wantTotal) }, e2eWait, e2eTick,
		"the HEC peer did not receive %d records in time", wantTotal)
	// Stop the pipeline (filelog first): after this nothing more can arrive, so the counts below are exact.
	p.stop(t)
	assert.Empty(t, p.exportErrors(), "the exporter reported no error")

	got := flatten(p.received.AllLogs())
	require.Len(t, got, wantTotal, "no record lost or duplicated")
	audit, risk := splitRisk(got)

	// (1) + (4): every audit line arrives, malformed one included, byte for byte, with the exporter's default
	// metadata and not the risk index.
	require.Len(t, audit, len(e2eAuditLines))
	var bodies []string
	for _, r := range audit {
		require.Equal(t, pcommon.ValueTypeStr, r.rec.Body().Type())
		bodies = append(bodies, r.rec.Body().Str())
		res := r.res.Attributes()
		assert.Equal(t, e2eAuditIndex, strAttr(res, attrIndex))
		assert.Equal(t, e2eAuditSourcetype, strAttr(res, attrSourcetype))
		assert.Equal(t, e2eAuditSource, strAttr(res, attrSource))
		assert.Equal(t, "unknown", strAttr(res, attrHost), "no host.name anywhere: the exporter sends host unknown")
		// The processor adds nothing to an audit record in fork mode: the only indexed field is filelog's own.
		assert.Equal(t, map[string]any{"log.file.name": filepath.Base(logPath)}, r.rec.Attributes().AsRaw())
	}
	assert.ElementsMatch(t, e2eAuditLines, bodies)

	// (2) + (3): exactly one risk record, for mallory's NodePort (not the ClusterIP near miss).
	require.Len(t, risk, 1)
	rr := risk[0]
	res := rr.res.Attributes()
	assert.Equal(t, "risk", strAttr(res, attrIndex))
	assert.Equal(t, "stash", strAttr(res, attrSourcetype))
	assert.Equal(t, e2eSearchName, strAttr(res, attrSource), "source is the search name, as Splunk ES writes it")
	assert.Equal(t, "unknown", strAttr(res, attrHost))

	a := rr.rec.Attributes().AsRaw()
	for _, k := range []string{attrIndex, attrSourcetype, attrSource, attrHost} {
		assert.NotContains(t, a, k, "HEC metadata is not an indexed field")
	}
	assert.Equal(t, e2eSearchName, a["search_name"])
	assert.Equal(t, e2eRuleID, a["rule_id"])
	assert.Equal(t, "mallory", a["risk_object"])
	assert.Equal(t, "user", a["risk_object_type"])
	assert.Equal(t, float64(20), a["risk_score"], "an Int attribute arrives as a Double after HEC")
	assert.Equal(t, "NodePort service backdoor created by mallory", a["risk_message"])
	assert.Equal(t, "203.0.113.7", a["threat_object"])
	assert.Equal(t, "ip_address", a["threat_object_type"])
	assert.Equal(t, "203.0.113.7", a["src_ip"])
	assert.Equal(t, "mallory", a["user"])
	assert.Equal(t, "backdoor", a["objectRef.name"])
	assert.Equal(t, "shop", a["objectRef.namespace"])
	assert.Equal(t, "create", a["verb"])
	assert.Equal(t, float64(1), a["count"])
	assert.Equal(t, "np-1", a["auditID"])
	// values(user.groups{}) with two values is a Slice, and a flat slice arrives as a multi-valued field. (With one
	// value the processor writes a plain Str, as Splunk shows a single value: the type follows the value count.)
	assert.Equal(t, []any{"shop-admins", "system:authenticated"}, a["user_groups"], "values() is distinct and sorted")
	assert.Equal(t, []any{"T1204"}, a["annotations.mitre_attack.mitre_technique_id"])
	assert.Equal(t, []any{"Kubernetes Security"}, a["analyticstories"])
	assert.Equal(t, "INFO", a["otel.log.severity.text"])
	assert.Equal(t, float64(plog.SeverityNumberInfo), a["otel.log.severity.number"])
	assert.Equal(t, "NodePort service backdoor created by mallory", rr.rec.Body().AsRaw(), "body is the risk message")
	assert.WithinDuration(t, time.Date(2026, 12, 1, 10, 0, 0, 10_000_000, time.UTC), rr.rec.Timestamp().AsTime(),
		time.Millisecond, "the risk event carries the audit event's stageTimestamp")

	// The same facts, stated generally: compare what the processor emitted with what the HEC peer received.
	emitted := flatten(p.emitted.AllLogs())
	require.Len(t, emitted, wantTotal, "the tap saw what was exported")
	_, emittedRisk := splitRisk(emitted)
	require.Len(t, emittedRisk, 1)
	assertHECRoundTrip(t, emittedRisk[0], rr)
}

// TestE2EBuiltinPack runs the same file through the embedded rule pack (the default config): the NodePort is flagged
// by the pack's own detection, the near miss and the benign reads are not, and everything still passes through.
func TestE2EBuiltinPack(t *testing.T) {
	logPath := writeAuditLog(t, e2eAuditLines)
	p := startE2EPipeline(t, map[string]any{"rules": []any{auditdetectprocessor.BuiltinRules}}, logPath)

	const searchName = "Kubernetes NodePort Service Exposed"
	hasRisk := func() bool {
		for _, r := range flatten(p.received.AllLogs()) {
			if isRiskRecord(r.rec) && strAttr(r.rec.Attributes(), "search_name") == searchName {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool {
		return p.delivered(len(e2eAuditLines)+1) && hasRisk()
	}, e2eWait, e2eTick, "the HEC peer did not receive every audit line and the %q risk record in time", searchName)
	p.stop(t)
	assert.Empty(t, p.exportErrors(), "the exporter reported no error")

	audit, risk := splitRisk(flatten(p.received.AllLogs()))
	require.Len(t, audit, len(e2eAuditLines))
	var bodies []string
	for _, r := range audit {
		bodies = append(bodies, r.rec.Body().Str())
		assert.Equal(t, e2eAuditIndex, strAttr(r.res.Attributes(), attrIndex))
	}
	assert.ElementsMatch(t, e2eAuditLines, bodies)

	require.NotEmpty(t, risk)
	for _, r := range risk {
		attrs := r.rec.Attributes()
		name := strAttr(attrs, "search_name")
		t.Logf("risk record: %s (risk_object=%s)", name, strAttr(attrs, "risk_object"))
		assert.Equal(t, "np-1", strAttr(attrs, "auditID"), "%s: only the NodePort creation is risky", name)
		assert.Equal(t, "risk", strAttr(r.res.Attributes(), attrIndex), name)
		assert.Equal(t, "stash", strAttr(r.res.Attributes(), attrSourcetype), name)
		assert.Equal(t, name, strAttr(r.res.Attributes(), attrSource))
		if name == searchName {
			assert.Equal(t, "mallory", strAttr(attrs, "risk_object"))
			assert.Equal(t, "user", strAttr(attrs, "risk_object_type"))
			assert.Equal(t, "203.0.113.7", strAttr(attrs, "threat_object"))
			v, ok := attrs.Get("risk_score")
			require.True(t, ok)
			assert.Equal(t, pcommon.ValueTypeDouble, v.Type())
		}
	}
}

// assertHECRoundTrip checks, attribute by attribute, what the HEC hop does to a record (see the file comment).
func assertHECRoundTrip(t *testing.T, before, after e2eRecord) {
	t.Helper()
	metadata := map[string]bool{attrIndex: true, attrSourcetype: true, attrSource: true, attrHost: true}
	wantKeys := map[string]bool{"otel.log.severity.text": true, "otel.log.severity.number": true}
	for k, v := range before.rec.Attributes().All() {
		if metadata[k] {
			assert.Equal(t, v.Str(), strAttr(after.res.Attributes(), k), "%s: becomes a resource attribute", k)
			continue
		}
		wantKeys[k] = true
		got, ok := after.rec.Attributes().Get(k)
		if !assert.True(t, ok, "%s: arrives as an indexed field", k) {
			continue
		}
		switch v.Type() {
		case pcommon.ValueTypeInt:
			assert.Equal(t, pcommon.ValueTypeDouble, got.Type(), "%s: Int arrives as Double", k)
			assert.Equal(t, float64(v.Int()), got.Double(), k)
		case pcommon.ValueTypeStr, pcommon.ValueTypeBool, pcommon.ValueTypeDouble:
			assert.Equal(t, v.Type(), got.Type(), k)
			assert.Equal(t, v.AsRaw(), got.AsRaw(), k)
		case pcommon.ValueTypeSlice:
			assert.Equal(t, pcommon.ValueTypeSlice, got.Type(), "%s: a flat slice stays a slice", k)
			assert.Equal(t, v.AsRaw(), got.AsRaw(), k)
		default:
			t.Errorf("%s: the processor emitted a %s attribute; HEC would flatten or stringify it", k, v.Type())
		}
	}
	var gotKeys []string
	for k := range after.rec.Attributes().All() {
		gotKeys = append(gotKeys, k)
		assert.True(t, wantKeys[k], "%s: unexpected indexed field", k)
	}
	assert.Len(t, gotKeys, len(wantKeys), "indexed fields: %v", gotKeys)
	assert.Equal(t, before.rec.Body().AsRaw(), after.rec.Body().AsRaw())
	assert.WithinDuration(t, before.rec.Timestamp().AsTime(), after.rec.Timestamp().AsTime(), time.Millisecond)
}

// e2ePipeline is the running chain. Components are kept in start order (sink side first) and shut down in reverse.
type e2ePipeline struct {
	received *consumertest.LogsSink // what the HEC peer got
	emitted  *consumertest.LogsSink // a copy of what the processor passed to the exporter
	started  []component.Component
	stopOnce sync.Once

	exported atomic.Int64 // records whose export call returned success
	mu       sync.Mutex
	errs     []error // export errors
}

// delivered says whether n records reached the HEC peer AND the exporter's calls for them returned. The receiver
// hands a request to the sink before it answers it, so the sink alone can be ahead of the exporter; stopping the
// filelog receiver then would cancel the in-flight request and log a spurious "Exporting failed".
func (p *e2ePipeline) delivered(n int) bool {
	return p.received.LogRecordCount() >= n && p.exported.Load() >= int64(n)
}

func (p *e2ePipeline) exportErrors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.errs...)
}

func (p *e2ePipeline) stop(t *testing.T) {
	p.stopOnce.Do(func() {
		ctx := context.Background()
		for i := len(p.started) - 1; i >= 0; i-- {
			assert.NoError(t, p.started[i].Shutdown(ctx), "shutdown %T", p.started[i])
		}
	})
}

func startE2EPipeline(t *testing.T, processorConf map[string]any, logPath string) *e2ePipeline {
	t.Helper()
	ctx := context.Background()
	host := componenttest.NewNopHost()
	logger := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	p := &e2ePipeline{received: new(consumertest.LogsSink), emitted: new(consumertest.LogsSink)}
	t.Cleanup(func() { p.stop(t) })
	start := func(c component.Component) {
		t.Helper()
		require.NoError(t, c.Start(ctx, host))
		p.started = append(p.started, c)
	}

	// The HEC peer.
	hecRecvFactory := splunkhecreceiver.NewFactory()
	rset := receivertest.NewNopSettings(hecRecvFactory.Type())
	rset.Logger = logger
	var hecRecv component.Component
	port := onFreePort(t, func(port int) error {
		hecRecvCfg := loadConfig(t, hecRecvFactory, map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", port)})
		var err error
		hecRecv, err = hecRecvFactory.CreateLogs(ctx, rset, hecRecvCfg, p.received)
		require.NoError(t, err)
		return hecRecv.Start(ctx, host)
	})
	p.started = append(p.started, hecRecv)

	// The exporter. No sending queue: ConsumeLogs returns once HEC has answered, so a shutdown loses nothing and the
	// filelog receiver sees export errors. Default index/sourcetype/source are those of the audit records.
	hecExpFactory := splunkhecexporter.NewFactory()
	hecExpCfg := loadConfig(t, hecExpFactory, map[string]any{
		"endpoint":            fmt.Sprintf("http://127.0.0.1:%d/services/collector", port),
		"token":               "00000000-0000-0000-0000-0000000e2e01",
		"index":               e2eAuditIndex,
		"sourcetype":          e2eAuditSourcetype,
		"source":              e2eAuditSource,
		"disable_compression": false, // gzip, as deployed; the receiver inflates it
		"sending_queue":       map[string]any{"enabled": false},
		"retry_on_failure":    map[string]any{"initial_interval": "50ms", "max_interval": "200ms", "max_elapsed_time": "10s"},
	})
	eset := exportertest.NewNopSettings(hecExpFactory.Type())
	eset.Logger = logger
	hecExp, err := hecExpFactory.CreateLogs(ctx, eset, hecExpCfg)
	require.NoError(t, err)
	start(hecExp)

	// A passive tap between processor and exporter: it records a copy of what the processor emitted and the outcome
	// of each export call.
	tap, err := consumer.NewLogs(func(ctx context.Context, ld plog.Logs) error {
		cp := plog.NewLogs()
		ld.CopyTo(cp)
		_ = p.emitted.ConsumeLogs(ctx, cp)
		n := ld.LogRecordCount()
		err := hecExp.ConsumeLogs(ctx, ld)
		if err != nil {
			p.mu.Lock()
			p.errs = append(p.errs, err)
			p.mu.Unlock()
			return err
		}
		p.exported.Add(int64(n))
		return nil
	}, consumer.WithCapabilities(consumer.Capabilities{MutatesData: false}))
	require.NoError(t, err)

	// The processor under test.
	procFactory := auditdetectprocessor.NewFactory()
	procCfg := loadConfig(t, procFactory, processorConf)
	pset := processortest.NewNopSettings(procFactory.Type())
	pset.Logger = logger
	proc, err := procFactory.CreateLogs(ctx, pset, procCfg, tap)
	require.NoError(t, err)
	start(proc)

	// The filelog receiver, last, so that every record it reads finds the chain ready.
	flFactory := filelogreceiver.NewFactory()
	flCfg := loadConfig(t, flFactory, map[string]any{
		"include":       []any{logPath},
		"start_at":      "beginning",
		"poll_interval": "20ms",
	})
	fset := receivertest.NewNopSettings(flFactory.Type())
	fset.Logger = logger
	fl, err := flFactory.CreateLogs(ctx, fset, flCfg, proc)
	require.NoError(t, err)
	start(fl)
	return p
}

// loadConfig unmarshals conf over the factory's defaults and validates it, as the collector does with YAML.
func loadConfig(t *testing.T, f component.Factory, conf map[string]any) component.Config {
	t.Helper()
	cfg := f.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(conf).Unmarshal(cfg), "%s config", f.Type())
	require.NoError(t, xconfmap.Validate(cfg), "%s config", f.Type())
	return cfg
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

// onFreePort calls start, which listens, with a freePort, and with another if something took that one in between
// (the test binaries of other packages run beside this one); it returns the port start listens on.
func onFreePort(t *testing.T, start func(port int) error) int {
	t.Helper()
	for tries := 1; ; tries++ {
		port := freePort(t)
		err := start(port)
		if !errors.Is(err, syscall.EADDRINUSE) || tries == 5 {
			require.NoError(t, err)
			return port
		}
	}
}

func writeAuditLog(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kube-apiserver-audit.log")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	return path
}

// e2eRecord is a received record with its resource (where the HEC receiver puts the metadata).
type e2eRecord struct {
	res pcommon.Resource
	rec plog.LogRecord
}

func flatten(lds []plog.Logs) []e2eRecord {
	var out []e2eRecord
	for _, ld := range lds {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				lrs := rl.ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, e2eRecord{res: rl.Resource(), rec: lrs.At(k)})
				}
			}
		}
	}
	return out
}

func isRiskRecord(r plog.LogRecord) bool {
	_, ok := r.Attributes().Get("risk_object")
	return ok
}

func splitRisk(recs []e2eRecord) (audit, risk []e2eRecord) {
	for _, r := range recs {
		if isRiskRecord(r.rec) {
			risk = append(risk, r)
		} else {
			audit = append(audit, r)
		}
	}
	return audit, risk
}

func strAttr(m pcommon.Map, k string) string {
	v, ok := m.Get(k)
	if !ok {
		return ""
	}
	return v.AsString()
}
