// Written by hand in the shape mdatagen generates from metadata.yaml (mdatagen cannot be installed here).

package metadata

import (
	"errors"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/metric"
)

// Meter returns the processor's meter.
func Meter(settings component.TelemetrySettings) metric.Meter {
	return settings.MeterProvider.Meter(ScopeName)
}

// TelemetryBuilder holds the processor's internal metrics.
type TelemetryBuilder struct {
	ProcessorAuditdetectRecords         metric.Int64Counter
	ProcessorAuditdetectRecordsUnparsed metric.Int64Counter
	ProcessorAuditdetectRuleMatches     metric.Int64Counter
	ProcessorAuditdetectRiskEvents      metric.Int64Counter
	ProcessorAuditdetectRulesLoaded     metric.Int64Gauge
	ProcessorAuditdetectRulesSkipped    metric.Int64Gauge
}

// NewTelemetryBuilder creates the instruments, named as mdatagen names them (otelcol_ prefix).
func NewTelemetryBuilder(settings component.TelemetrySettings) (*TelemetryBuilder, error) {
	meter := Meter(settings)
	tb := &TelemetryBuilder{}
	var err, errs error
	tb.ProcessorAuditdetectRecords, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_records",
		metric.WithDescription("Log records the processor received."),
		metric.WithUnit("{records}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRecordsUnparsed, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_records_unparsed",
		metric.WithDescription("Log records whose body is not a JSON object; they pass through unchanged."),
		metric.WithUnit("{records}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRuleMatches, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_rule_matches",
		metric.WithDescription("Events a rule matched, by rule (attribute rule_id)."),
		metric.WithUnit("{matches}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRiskEvents, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_risk_events",
		metric.WithDescription("Risk records the processor added (fork mode)."),
		metric.WithUnit("{records}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRulesLoaded, err = meter.Int64Gauge(
		"otelcol_processor_auditdetect_rules_loaded",
		metric.WithDescription("Rules loaded at start-up."),
		metric.WithUnit("{rules}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRulesSkipped, err = meter.Int64Gauge(
		"otelcol_processor_auditdetect_rules_skipped",
		metric.WithDescription("Rules that failed to load and were skipped (on_rule_error skip)."),
		metric.WithUnit("{rules}"),
	)
	errs = errors.Join(errs, err)
	return tb, errs
}
