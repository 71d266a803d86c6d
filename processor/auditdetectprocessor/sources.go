package auditdetectprocessor

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/normalize"
)

// The glue between record bodies and the normaliser (processor/normalize): which shapes are accepted, what is
// counted when a body holds no audit event, and the provenance risk records get.

// newNormalizer builds the normaliser of the formats setting. Wrapped records are parsed whole, so they are bounded
// by max_body_bytes as native bodies are; EventList batches, gzip-compressed ones too, are bounded per item instead
// (processLogs), a gzip one also by the normaliser's bound on decompression (64 MiB).
func newNormalizer(cfg *Config) (*normalize.Normalizer, error) {
	formats, err := normalize.ParseFormats(cfg.Formats)
	if err != nil {
		return nil, fmt.Errorf("formats: %w", err)
	}
	return normalize.New(normalize.Config{Formats: formats, MaxParseBytes: cfg.MaxBodyBytes}), nil
}

// formatAttrs holds the format attribute set of the unrecognised-records counter, one per format, built once.
var formatAttrs = func() map[normalize.Format]metric.MeasurementOption {
	out := map[normalize.Format]metric.MeasurementOption{}
	for f := normalize.Unknown; f <= normalize.GKE; f++ {
		out[f] = metric.WithAttributeSet(attribute.NewSet(attribute.String("format", f.String())))
	}
	return out
}()

// recordOutcome is what the events of one record came to.
type recordOutcome struct {
	parsed, failed int
	// oversized counts the events over max_body_bytes (EventList items; a larger record is refused whole before).
	oversized int64
	// unparsed: the record holds nothing readable.
	unparsed bool
	// invalid: an event no rule matched is not valid JSON in a part the engine did not read (checked for gzip
	// bodies, whose events are not the record's bytes, and for AKS events that may have been cut; others are
	// checked whole under drop_unmatched): the record counts as unparsed.
	invalid bool
	// matched: some event matched a rule (before throttling), so drop_unmatched keeps the record.
	matched bool
	// enrich gathers the matches of every event of the record: enrich mode annotates the record once.
	enrich engine.Result
}

// addEnrich merges one event's result into the record's, each rule once.
func (o *recordOutcome) addEnrich(res engine.Result) {
	if o.enrich.Provenance == nil {
		o.enrich.Provenance = res.Provenance
	}
next:
	for _, m := range res.Matches {
		for _, have := range o.enrich.Matches {
			if have.Rule == m.Rule {
				continue next
			}
		}
		o.enrich.Matches = append(o.enrich.Matches, m)
	}
}

// finish counts a record in which no event could be evaluated, annotates it in enrich mode, and reports whether it
// must be forwarded under drop_unmatched: records that matched, and records not read in full, whether the body or
// one of its events (dropping what the processor did not understand would lose data).
func (p *auditProcessor) finish(
	ctx context.Context, rec plog.LogRecord, o *recordOutcome, format normalize.Format, err error,
) (keep bool) {
	switch {
	case err == nil && o.parsed == 0 && o.failed > 0, errors.Is(err, normalize.ErrMalformed):
		o.unparsed = true
	case errors.Is(err, normalize.ErrTooLarge):
		o.oversized++
	case err != nil:
		p.telemetry.ProcessorAuditdetectRecordsUnrecognized.Add(ctx, 1, formatAttrs[format])
	}
	if len(o.enrich.Matches) > 0 {
		p.writer.Enrich(rec, o.enrich)
	}
	return o.matched || err != nil || o.failed > 0 || o.oversized > 0
}

// resourceProvenance is what the resource says about a managed cluster (the awscloudwatch receiver keeps the EKS
// log group and region there), for events whose wrapper says nothing.
func resourceProvenance(res pcommon.Resource) map[string]string {
	attrs := res.Attributes()
	return normalize.ResourceProvenance(func(name string) (string, bool) {
		v, ok := attrs.Get(name)
		if !ok || v.Type() != pcommon.ValueTypeStr {
			return "", false
		}
		return v.Str(), true
	})
}

// provenance is the event's own provenance, else the resource's.
func provenance(ev normalize.Event, resource map[string]string) map[string]string {
	if ev.Provenance != nil {
		return ev.Provenance
	}
	return resource
}

// routeRecord routes a record by its first audit event (route mode): a record is sent to one gateway, so the events
// of a batch after the first follow it. It reports false for a record that holds nothing readable (counted by the
// caller: as oversized when too large, a gzip body decompressing past its bound, else as unparsed); a record of no
// accepted shape passes unrouted and is counted here.
func (p *auditProcessor) routeRecord(
	ctx context.Context, rec plog.LogRecord, body []byte, eval *engine.Evaluator,
) (ok, tooLarge bool) {
	routed := false
	format, err := p.sources.Each(body, func(ev normalize.Event) {
		if !routed {
			routed, ok = true, p.route(rec, ev.Body, eval)
		}
	})
	if err != nil && !errors.Is(err, normalize.ErrMalformed) && !errors.Is(err, normalize.ErrTooLarge) {
		p.telemetry.ProcessorAuditdetectRecordsUnrecognized.Add(ctx, 1, formatAttrs[format])
		return true, false
	}
	return ok, errors.Is(err, normalize.ErrTooLarge)
}

// sliced reports whether the normaliser bounds the body itself rather than parsing it whole, so that max_body_bytes
// applies to each of its audit events instead of the record: an EventList, which it slices, and a gzip body, which
// it decompresses to max_body_bytes at most (an EventList further, to the normaliser's hard bound, 64 MiB).
func sliced(body []byte) bool {
	if normalize.IsGzip(body) {
		return true
	}
	f, _ := normalize.Detect(body)
	return f == normalize.EventList
}
