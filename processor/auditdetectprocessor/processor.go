package auditdetectprocessor

import (
	"context"
	"encoding/json"
	"strings"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/geoip"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rba"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// detector is everything built from the config once, at start-up.
type detector struct {
	engine  *engine.Engine
	geo     *geoip.DB
	loaded  int
	skipped int
	// withoutGeoIP counts built-in rules left out because no GeoIP database is configured.
	withoutGeoIP int
}

// buildDetector loads and compiles the configured rules. A nil logger loads quietly (config validation).
func buildDetector(cfg *Config, logger *zap.Logger) (*detector, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	res, err := loader.Load(loader.Options{
		Paths:      cfg.Rules,
		Builtin:    builtin.FS,
		Macros:     cfg.Macros,
		SkipErrors: cfg.OnRuleError == RuleErrorSkip,
		Logger:     logger,
	})
	if err != nil {
		return nil, err
	}
	d := &detector{skipped: len(res.Skipped)}
	opts := engine.Options{Window: cfg.Window, MaxKeys: cfg.MaxKeys}
	if cfg.GeoIPDatabase != "" {
		if d.geo, err = geoip.Open(cfg.GeoIPDatabase); err != nil {
			return nil, err
		}
		opts.GeoIP = d.geo
	}
	rules := res.Rules
	if opts.GeoIP == nil {
		// The built-in pack must run on an empty config, so its iplocation rules wait for a database rather than
		// fail start-up; a user's own iplocation rule still fails (or is skipped) below, naming the setting.
		kept := rules[:0:0]
		for _, r := range rules {
			if r.NeedsGeoIP() && strings.HasPrefix(r.Origin.File, loader.Builtin+":") {
				logger.Info("built-in rule left out: it needs geoip_database", zap.String("rule", r.Name))
				d.withoutGeoIP++
				continue
			}
			kept = append(kept, r)
		}
		rules = kept
	}
	if cfg.OnRuleError == RuleErrorSkip {
		// Leave out the rules the engine cannot run (iplocation without a database, say), each logged once.
		kept := rules[:0:0]
		for _, r := range rules {
			if _, err := engine.Compile([]*rule.Rule{r}, opts); err != nil {
				logger.Warn("skipping rule", zap.Error(err))
				d.skipped++
				continue
			}
			kept = append(kept, r)
		}
		rules = kept
	}
	if d.engine, err = engine.Compile(rules, opts); err != nil {
		d.close()
		return nil, err
	}
	d.loaded = len(rules)
	return d, nil
}

func (d *detector) close() {
	if d.geo != nil {
		_ = d.geo.Close()
	}
}

type auditProcessor struct {
	cfg       *Config
	logger    *zap.Logger
	detector  *detector
	writer    *rba.Writer
	telemetry *metadata.TelemetryBuilder
	// ruleAttrs holds the rule_id attribute set of each rule's match counter, built once.
	ruleAttrs map[string]metric.MeasurementOption
}

func newAuditProcessor(set processor.Settings, cfg *Config) (*auditProcessor, error) {
	d, err := buildDetector(cfg, set.Logger)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		d.close()
		return nil, err
	}
	p := &auditProcessor{
		cfg:       cfg,
		logger:    set.Logger,
		detector:  d,
		writer:    rba.NewWriter(rba.Config{Index: cfg.RiskIndex, Sourcetype: cfg.RiskSourcetype}),
		telemetry: tb,
		ruleAttrs: map[string]metric.MeasurementOption{},
	}
	for _, r := range d.engine.Rules() {
		p.ruleAttrs[r.ID] = metric.WithAttributeSet(attribute.NewSet(attribute.String("rule_id", r.ID)))
	}
	ctx := context.Background()
	tb.ProcessorAuditdetectRulesLoaded.Record(ctx, int64(d.loaded))
	tb.ProcessorAuditdetectRulesSkipped.Record(ctx, int64(d.skipped))
	set.Logger.Info("auditdetect rules loaded",
		zap.Int("rules", d.loaded), zap.Int("skipped", d.skipped), zap.Int("waiting_for_geoip_database", d.withoutGeoIP),
		zap.String("mode", string(cfg.Mode)))
	return p, nil
}

func (p *auditProcessor) shutdown(context.Context) error {
	p.detector.close()
	return nil
}

// processLogs evaluates every record once. Records that are not JSON objects pass through unchanged and are counted;
// nothing in a record's content can make this return an error.
func (p *auditProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	var records, unparsed, riskEvents int64
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			n := lrs.Len()
			var matched []bool
			if p.cfg.DropUnmatched {
				matched = make([]bool, n)
			}
			for k := 0; k < n; k++ {
				rec := lrs.At(k)
				records++
				body, ok := bodyJSON(rec.Body())
				if !ok {
					unparsed++
					p.keep(matched, k)
					continue
				}
				res, err := p.detector.engine.Evaluate(body)
				if err != nil {
					unparsed++
					p.keep(matched, k)
					continue
				}
				if len(res.Matches) == 0 {
					continue
				}
				p.keep(matched, k)
				for _, m := range res.Matches {
					p.telemetry.ProcessorAuditdetectRuleMatches.Add(ctx, 1, p.ruleAttrs[m.Rule.ID])
				}
				if p.cfg.Mode == ModeEnrich {
					p.writer.Enrich(rec, res)
				} else {
					// Appending keeps rec valid: pdata slices hold pointers to records.
					riskEvents += int64(p.writer.AppendRiskRecords(lrs, rec, res))
				}
			}
			if matched != nil {
				idx := 0
				lrs.RemoveIf(func(plog.LogRecord) bool {
					// Records past n are the risk records just added: always kept.
					drop := idx < n && !matched[idx]
					idx++
					return drop
				})
			}
		}
	}
	p.telemetry.ProcessorAuditdetectRecords.Add(ctx, records)
	if unparsed > 0 {
		p.telemetry.ProcessorAuditdetectRecordsUnparsed.Add(ctx, unparsed)
	}
	if riskEvents > 0 {
		p.telemetry.ProcessorAuditdetectRiskEvents.Add(ctx, riskEvents)
	}
	if p.cfg.DropUnmatched {
		removeEmpty(ld)
	}
	return ld, nil
}

// keep marks record k as forwarded under drop_unmatched. Records the processor cannot read are always forwarded:
// dropping what it did not understand would lose data.
func (p *auditProcessor) keep(matched []bool, k int) {
	if matched != nil {
		matched[k] = true
	}
}

// bodyJSON returns the record body as JSON bytes: a string body (what filelog gives) without copying, bytes as they
// are, and a map body serialised once. Other bodies are not audit events.
func bodyJSON(body pcommon.Value) ([]byte, bool) {
	switch body.Type() {
	case pcommon.ValueTypeStr:
		s := body.Str()
		return unsafe.Slice(unsafe.StringData(s), len(s)), true
	case pcommon.ValueTypeBytes:
		return body.Bytes().AsRaw(), true
	case pcommon.ValueTypeMap:
		b, err := json.Marshal(body.Map().AsRaw())
		return b, err == nil
	}
	return nil, false
}

// removeEmpty drops scopes and resources left empty by drop_unmatched.
func removeEmpty(ld plog.Logs) {
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
		return rl.ScopeLogs().Len() == 0
	})
}
