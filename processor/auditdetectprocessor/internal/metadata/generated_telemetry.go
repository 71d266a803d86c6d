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
	ProcessorAuditdetectRecords            metric.Int64Counter
	ProcessorAuditdetectRecordsUnparsed    metric.Int64Counter
	ProcessorAuditdetectRuleMatches        metric.Int64Counter
	ProcessorAuditdetectRiskEvents         metric.Int64Counter
	ProcessorAuditdetectRecordsOversized   metric.Int64Counter
	ProcessorAuditdetectRiskEventsDropped  metric.Int64Counter
	ProcessorAuditdetectRulesLoaded        metric.Int64Gauge
	ProcessorAuditdetectRulesSkipped       metric.Int64Gauge
	ProcessorAuditdetectRulesDisabled      metric.Int64Gauge
	ProcessorAuditdetectRulesNeverMatching metric.Int64Gauge
	// Operating it (docs/operations.md).
	ProcessorAuditdetectEvaluationDuration metric.Float64Histogram
	ProcessorAuditdetectReloads            metric.Int64Counter
	ProcessorAuditdetectReloadFailing      metric.Int64Gauge
	ProcessorAuditdetectStateSaves         metric.Int64Counter
	ProcessorAuditdetectStateBytes         metric.Int64Gauge
	// Stateful detection (docs/stateful.md).
	ProcessorAuditdetectWindowKeys           metric.Int64Gauge
	ProcessorAuditdetectWindowEvictedKeys    metric.Int64Counter
	ProcessorAuditdetectWindowLateEvents     metric.Int64Counter
	ProcessorAuditdetectSequenceEventsUnheld metric.Int64Counter
	ProcessorAuditdetectThrottledMatches     metric.Int64Counter
	ProcessorAuditdetectStatsGroupsCut       metric.Int64Counter
	// Record shapes (docs/sources.md).
	ProcessorAuditdetectRecordsUnrecognized metric.Int64Counter
	// Matches whose rows gave no risk object value.
	ProcessorAuditdetectMatchesWithoutRiskRecords metric.Int64Counter
	ProcessorAuditdetectEventsTruncated           metric.Int64Counter
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
	tb.ProcessorAuditdetectRecordsOversized, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_records_oversized",
		metric.WithDescription("Log records whose body is larger than max_body_bytes; they pass through unevaluated."),
		metric.WithUnit("{records}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRiskEventsDropped, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_risk_events_dropped",
		metric.WithDescription("Risk records not written, by reason (attribute reason) - max_risk_events_per_record, one audit record exceeded it; closed_backlog, answers of closed windows the next consumer refused past their bound; throttle_backlog, throttle reports the same."),
		metric.WithUnit("{records}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRulesLoaded, err = meter.Int64Gauge(
		"otelcol_processor_auditdetect_rules_loaded",
		metric.WithDescription("Rules running: set at start-up and at each rule reload."),
		metric.WithUnit("{rules}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRulesSkipped, err = meter.Int64Gauge(
		"otelcol_processor_auditdetect_rules_skipped",
		metric.WithDescription("Rules that failed to load and were skipped (on_rule_error skip)."),
		metric.WithUnit("{rules}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRulesDisabled, err = meter.Int64Gauge(
		"otelcol_processor_auditdetect_rules_disabled",
		metric.WithDescription("Rules turned off by rule_overrides (enabled: false): loaded, not run."),
		metric.WithUnit("{rules}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRulesNeverMatching, err = meter.Int64Gauge(
		"otelcol_processor_auditdetect_rules_never_matching",
		metric.WithDescription("Running rules that can never match an API server's audit event (a term no event satisfies; logged at start-up)."),
		metric.WithUnit("{rules}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectWindowKeys, err = meter.Int64Gauge(
		"otelcol_processor_auditdetect_window_keys",
		metric.WithDescription("Keys held by a stateful rule (attributes rule_id, and state: stats for windowed stats groups, new_terms for new_terms value combinations, sequence for keys with a sequence in progress, throttle for throttle keys)."),
		metric.WithUnit("{keys}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectWindowEvictedKeys, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_window_evicted_keys",
		metric.WithDescription("Keys a stateful rule evicted, least recently updated first, to stay within max_keys (attributes rule_id, state)."),
		metric.WithUnit("{keys}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectWindowLateEvents, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_window_late_events",
		metric.WithDescription("Events a windowed rule dropped because their window had closed, or a sequence rule because they were older than its watermark by more than allowed_lateness (or than events of their key it let go of), by rule (attribute rule_id)."),
		metric.WithUnit("{events}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectSequenceEventsUnheld, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_sequence_events_unheld",
		metric.WithDescription("Events a sequence rule took without holding them allowed_lateness for older events of their key: its keys held max_keys events (the older half let go of early), one key held 128 (its oldest let go of), or it had no room for a new key of a later step or until; an older event of their key arriving after them is dropped as late (attribute rule_id)."),
		metric.WithUnit("{events}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectThrottledMatches, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_throttled_matches",
		metric.WithDescription("Result rows a throttle held back; they are reported later in suppressed_count (attribute rule_id)."),
		metric.WithUnit("{rows}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectStatsGroupsCut, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_stats_groups_cut",
		metric.WithDescription("Events whose stats or new_terms by-fields held more than 1000 value combinations: the first 999 made groups, and the one of each field's last value (attribute rule_id)."),
		metric.WithUnit("{events}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectEvaluationDuration, err = meter.Float64Histogram(
		"otelcol_processor_auditdetect_evaluation_duration",
		metric.WithDescription("Time the processor spent on one batch of log records (detection and risk records)."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectReloads, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_reloads",
		metric.WithDescription("Rule reloads after the rule files changed (attribute result: success, failure)."),
		metric.WithUnit("{reloads}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectReloadFailing, err = meter.Int64Gauge(
		"otelcol_processor_auditdetect_reload_failing",
		metric.WithDescription("1 while the changed rule files do not load and the previous rule set keeps running, else 0."),
		metric.WithUnit("{state}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectStateSaves, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_state_saves",
		metric.WithDescription("Saves of the detection state to the storage extension (attribute result: success, failure)."),
		metric.WithUnit("{saves}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectStateBytes, err = meter.Int64Gauge(
		"otelcol_processor_auditdetect_state_bytes",
		metric.WithDescription("Size of the detection state at its last save to the storage extension."),
		metric.WithUnit("By"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectRecordsUnrecognized, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_records_unrecognized",
		metric.WithDescription("Log records with a JSON body holding no audit event of an accepted format (attribute format: unknown, or the format recognised); they pass through unevaluated."),
		metric.WithUnit("{records}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectEventsTruncated, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_events_truncated",
		metric.WithDescription("Audit events that arrived cut short (JSON interrupted by its end, as Azure cuts AKS diagnostic records at 16 KiB): no rule saw them. Their records are also counted in records_unparsed."),
		metric.WithUnit("{events}"),
	)
	errs = errors.Join(errs, err)
	tb.ProcessorAuditdetectMatchesWithoutRiskRecords, err = meter.Int64Counter(
		"otelcol_processor_auditdetect_matches_without_risk_records",
		metric.WithDescription("Rule matches (fork mode) that wrote no risk record: no result row had a value for any of the rule's risk object fields (attribute rule_id)."),
		metric.WithUnit("{matches}"),
	)
	errs = errors.Join(errs, err)
	return tb, errs
}
