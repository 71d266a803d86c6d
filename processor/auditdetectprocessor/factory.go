// Package auditdetectprocessor is the auditdetect logs processor: it runs security detections (Splunk ESCU, and the
// built-in pack) on Kubernetes audit-log records and writes Splunk risk-based-alerting output. It wires config, the
// rule loader, the engine and the RBA writer to pdata, and nothing else.
package auditdetectprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
)

// NewFactory returns the factory of the auditdetect processor.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		func() component.Config { return createDefaultConfig() },
		processor.WithLogs(createLogsProcessor, metadata.LogsStability),
	)
}

func createLogsProcessor(
	ctx context.Context,
	set processor.Settings,
	cfg component.Config,
	next consumer.Logs,
) (processor.Logs, error) {
	p, err := newAuditProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	// processorhelper's shutdown func gets no consumer: keep next for the flush of held-back throttle counts.
	p.state.next = next
	return processorhelper.NewLogs(ctx, set, cfg, deliveryWatch{Logs: next, p: p}, p.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
	)
}
