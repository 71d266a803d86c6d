package auditdetectprocessor_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/splunkhecreceiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
)

// TestWebhookThroughHECRawEndpoint is the webhook path of config/sources/webhook.yaml in one process: the API
// server's audit webhook backend POSTs an EventList (application/json) to the splunk_hec receiver's raw endpoint with
// splitting none, which makes the whole batch one record; auditdetect evaluates each item.
func TestWebhookThroughHECRawEndpoint(t *testing.T) {
	ctx := context.Background()
	host := componenttest.NewNopHost()
	sink := new(consumertest.LogsSink)

	procFactory := auditdetectprocessor.NewFactory()
	proc, err := procFactory.CreateLogs(ctx, processortest.NewNopSettings(procFactory.Type()),
		loadConfig(t, procFactory, map[string]any{"rules": []any{"builtin"}}), sink)
	require.NoError(t, err)
	require.NoError(t, proc.Start(ctx, host))
	t.Cleanup(func() { assert.NoError(t, proc.Shutdown(ctx)) })

	recvFactory := splunkhecreceiver.NewFactory()
	var recv component.Component
	port := onFreePort(t, func(port int) error {
		var err error
		recv, err = recvFactory.CreateLogs(ctx, receivertest.NewNopSettings(recvFactory.Type()), loadConfig(t, recvFactory, map[string]any{
			"endpoint":  fmt.Sprintf("127.0.0.1:%d", port),
			"raw_path":  "/k8s-audit",
			"splitting": "none",
		}), proc)
		require.NoError(t, err)
		return recv.Start(ctx, host)
	})
	t.Cleanup(func() { assert.NoError(t, recv.Shutdown(ctx)) })

	event := func(rule, file string) string {
		b, err := os.ReadFile(filepath.Join("..", "builtin", "testdata", rule, file))
		require.NoError(t, err)
		return strings.TrimSpace(string(b))
	}
	// As the API server's webhook backend writes a batch: one compact EventList.
	batch := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join([]string{
		event("kubernetes_nodeport_service_exposed", "match-create-nodeport.json"),
		event("kubernetes_nodeport_service_exposed", "nomatch-create-clusterip.json"),
		event("kubernetes_workload_with_host_network", "match-pod-create.json"),
	}, ",") + `]}`
	url := fmt.Sprintf("http://127.0.0.1:%d/k8s-audit?sourcetype=kube:apiserver-audit", port)
	// The receiver listens once Start returns.
	resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(batch)))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.Len(t, sink.AllLogs(), 1)
	var risk []string
	var audit int
	for _, r := range flatten(sink.AllLogs()) {
		if !isRiskRecord(r.rec) {
			audit++
			assert.Equal(t, batch, r.rec.Body().Str(), "the batch passes on once, unchanged")
			continue
		}
		risk = append(risk, strAttr(r.rec.Attributes(), "search_name")+": "+strAttr(r.rec.Attributes(), "risk_object"))
	}
	assert.Equal(t, 1, audit)
	assert.Equal(t, []string{
		"Kubernetes NodePort Service Exposed: jane.doe@corp.example",
		"Kubernetes Workload With Host Network: system:serviceaccount:web:frontend",
	}, risk)
}
