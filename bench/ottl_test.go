package bench

import (
	"context"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/transformprocessor"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor"
)

// What a collector user would write instead of auditdetect for the two seed detections, in the contrib transform
// processor: parse the body once into the cache, test each detection's per-event conditions (the searches' base
// searches), and set the attributes auditdetect's enrich mode sets (search name, risk object and score, message,
// threat object). OTTL compares case-sensitively where SPL does not: the conditions use the values' usual case,
// which favours OTTL.
const nodePortCond = `cache["objectRef"]["resource"] == "services" and cache["verb"] == "create" and ` +
	`cache["requestObject"]["spec"]["type"] == "NodePort"`

const hostNetworkCond = `cache["objectRef"]["resource"] == "pods" and (cache["verb"] == "create" or cache["verb"] == "update") and ` +
	`IsMatch(cache["requestObject"]["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"], "\"hostNetwork\":true")`

var ottlStatements = []any{
	`merge_maps(cache, ParseJSON(body), "upsert") where IsString(body)`,
	`set(cache["np"], true) where ` + nodePortCond,
	`set(attributes["search_name"], "Kubernetes Node Port Creation") where cache["np"] == true`,
	`set(attributes["risk_object"], cache["user"]["username"]) where cache["np"] == true`,
	`set(attributes["risk_object_type"], "user") where cache["np"] == true`,
	`set(attributes["risk_score"], 20) where cache["np"] == true`,
	`set(attributes["risk_message"], Concat(["Kubernetes node port creation from user", cache["user"]["username"]], " ")) where cache["np"] == true`,
	`set(attributes["threat_object"], cache["sourceIPs"][0]) where cache["np"] == true`,
	`set(cache["hn"], true) where ` + hostNetworkCond,
	`set(attributes["search_name"], "Kubernetes Pod With Host Network Attachment") where cache["hn"] == true`,
	`set(attributes["risk_object"], cache["user"]["username"]) where cache["hn"] == true`,
	`set(attributes["risk_object_type"], "user") where cache["hn"] == true`,
	`set(attributes["risk_score"], 49) where cache["hn"] == true`,
	`set(attributes["risk_message"], Concat(["Kubernetes pod with host network attachment from user", cache["user"]["username"]], " ")) where cache["hn"] == true`,
	`set(attributes["threat_object"], cache["sourceIPs"][0]) where cache["hn"] == true`,
}

// newProcessor builds a logs processor through its factory from a config map, as the collector does from YAML.
func newProcessor(tb testing.TB, f processor.Factory, conf map[string]any, next consumer.Logs) processor.Logs {
	tb.Helper()
	p, err := f.CreateLogs(context.Background(), processortest.NewNopSettings(f.Type()), config(tb, f, conf), next)
	if err != nil {
		tb.Fatal(err)
	}
	if err := p.Start(context.Background(), componentHost{}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

type componentHost struct{}

func (componentHost) GetExtensions() map[component.ID]component.Component { return nil }

func transformProcessor(tb testing.TB, next consumer.Logs) processor.Logs {
	return newProcessor(tb, transformprocessor.NewFactory(), map[string]any{
		"error_mode":     "ignore",
		"log_statements": []any{map[string]any{"context": "log", "statements": ottlStatements}},
	}, next)
}

// auditdetectProcessor is auditdetect in enrich mode, which, like the transform above, sets attributes on the
// matching record itself, so that a batch can be processed again and again.
func auditdetectProcessor(tb testing.TB, rules []string, next consumer.Logs) processor.Logs {
	return newProcessor(tb, auditdetectprocessor.NewFactory(), map[string]any{"rules": rules, "mode": "enrich"}, next)
}

// batchSize is the number of records per batch in the processor benchmarks.
const batchSize = 100

// batches puts the mix into plog batches of batchSize string-bodied records, as the filelog receiver makes them.
func batches(events [][]byte) []plog.Logs { return batchesOf(events, batchSize) }
