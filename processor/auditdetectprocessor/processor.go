package auditdetectprocessor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/auditdetectprocessor/internal/metadata"
	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/geoip"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/normalize"
	"github.com/auditdetect/auditdetect/processor/rba"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// detector is everything built from the config once, at start-up.
type detector struct {
	engine  *engine.Engine
	geo     *geoip.DB
	loaded  int
	skipped int
	// disabled counts rules turned off by rule_overrides (enabled: false).
	disabled int
	// withoutGeoIP counts built-in rules left out because no GeoIP database is configured.
	withoutGeoIP int
}

// buildDetector loads and compiles the configured rules. A nil logger loads quietly (config validation).
func buildDetector(cfg *Config, logger *zap.Logger) (*detector, error) {
	if logger == nil {
		logger = zap.NewNop()
	}
	zone, err := spl.LoadTimeZone(cfg.SPLTimeZone)
	if err != nil {
		return nil, fmt.Errorf("spl_time_zone: %w", err)
	}
	res, err := loader.Load(loader.Options{
		Paths:       cfg.Rules,
		Builtin:     builtin.FS,
		Macros:      cfg.Macros,
		Lookups:     cfg.Lookups,
		SPLTimeZone: zone,
		SkipErrors:  cfg.OnRuleError == RuleErrorSkip,
		Logger:      logger,
		// Sigma and Elastic rules (formats.go).
		ElasticFieldMap: cfg.ElasticFieldMap,
		Overrides:       cfg.riskOverrides(),
		ESCUApp:         cfg.ESCUApp,
	})
	if err != nil {
		if res != nil {
			// Rules failed to load: name, in the same report, the ones that loaded and the engine would refuse,
			// so that one start says everything to fix.
			err = errors.Join(append([]error{err}, cfg.engineRefusals(res.Rules)...)...)
		}
		return nil, err
	}
	d := &detector{skipped: len(res.Skipped)}
	// A rule that can never match an API server's event is warned of (warnNeverTrue) and costs nothing.
	opts := engine.Options{Window: cfg.Window, MaxKeys: cfg.MaxKeys, SkipNeverMatching: true}
	if cfg.GeoIPDatabase != "" {
		if d.geo, err = geoip.Open(cfg.GeoIPDatabase); err != nil {
			return nil, err
		}
		opts.GeoIP = d.geo
	}
	disabled, err := applyStateful(cfg, &opts, res.Rules, res.Correlated, logger)
	if err != nil {
		d.close()
		return nil, err
	}
	rules := res.Rules
	if len(disabled) > 0 {
		// Turned off by rule_overrides: loaded (a file that does not load still fails), never compiled or run.
		kept := rules[:0:0]
		for _, r := range rules {
			if disabled[r.ID] {
				logger.Info("rule disabled by rule_overrides", zap.String("rule", r.Name), zap.String("rule_id", r.ID))
				d.disabled++
				continue
			}
			kept = append(kept, r)
		}
		rules = kept
	}
	if opts.GeoIP == nil {
		// The built-in pack must run on an empty config, so its iplocation rules wait for a database rather than
		// fail start-up; a user's own iplocation rule still fails (or is skipped) below, naming the setting.
		kept := rules[:0:0]
		for _, r := range rules {
			if loader.WaitsForGeoIP(r) {
				logger.Info("built-in rule left out: it needs geoip_database", zap.String("rule", r.Name))
				d.withoutGeoIP++
				continue
			}
			kept = append(kept, r)
		}
		rules = kept
	}
	// The rules the engine cannot run (iplocation without a database, a windowed condition it cannot answer): under
	// skip left out, each logged once; under fail, all of them said at once, not the first alone.
	kept, refused := engine.Runnable(rules, opts)
	if len(refused) > 0 && cfg.OnRuleError != RuleErrorSkip {
		d.close()
		return nil, errors.Join(refused...)
	}
	for _, err := range refused {
		logger.Warn("skipping rule", zap.Error(err))
	}
	d.skipped += len(refused)
	rules = kept
	if d.engine, err = engine.Compile(rules, opts); err != nil {
		d.close()
		return nil, err
	}
	d.loaded = len(rules)
	return d, nil
}

// minCutEvent is the size below which an AKS record's event is not checked for having been cut short: Azure cuts
// them at 16 KiB, so a cut event is about that long (a margin for how the limit counts).
const minCutEvent = 8 << 10

func detect(body []byte) normalize.Format {
	f, _ := normalize.Detect(body)
	return f
}

// engineRefusals are the errors of the rules the engine refuses among rules, as a start that got that far would
// meet them: rules rule_overrides turns off and built-in rules waiting for a GeoIP database left out, iplocation
// answered by an empty database when one is configured (it is not opened here).
func (cfg *Config) engineRefusals(rules []*rule.Rule) []error {
	opts := engine.Options{Window: cfg.Window, MaxKeys: cfg.MaxKeys}
	if cfg.GeoIPDatabase != "" {
		opts.GeoIP = engine.NoLocations{}
	}
	var kept []*rule.Rule
	for _, r := range rules {
		off := false
		for key, o := range cfg.RuleOverrides {
			if o.Enabled != nil && !*o.Enabled && r.NamedBy(key) {
				off = true
			}
		}
		if off || opts.GeoIP == nil && loader.WaitsForGeoIP(r) {
			continue
		}
		kept = append(kept, r)
	}
	_, refused := engine.Runnable(kept, opts)
	return refused
}

// warnNeverTrue logs the terms of the running rules' filters that no API server event satisfies (package lint): a
// rule that needs one can never match, and an exclusion (NOT) of one never applies, so that its rule matches more
// than written: warnings naming the terms. An alternative that is never true leaves the rest of its rule running:
// information. None fails the load: such rules are upstream content (four Sigma rules read fields audit events do
// not have), run as written. Only the rules that run are said (recordLoaded): turning a rule off silences it. It
// returns how many can never match.
func warnNeverTrue(rules []*rule.Rule, log *zap.Logger) (neverMatching int) {
	terms := func(fs []lint.Finding) []string {
		out := make([]string, len(fs))
		for i, f := range fs {
			out[i] = f.String()
		}
		return out
	}
	for _, r := range rules {
		l := lint.Check(r)
		if len(l.Findings) == 0 {
			continue
		}
		at := []zap.Field{zap.String("rule", r.Name), zap.String("file", r.Origin.String())}
		if l.NeverMatches {
			neverMatching++
			log.Warn("Rule can never match an API server's audit event: it needs a term that is never true, and is "+
				"not evaluated (mend the term, or turn it off with rule_overrides enabled: false)",
				append(at, zap.Strings("terms", terms(l.Because)))...)
			continue
		}
		if len(l.NeverExcludes) > 0 {
			log.Warn("Rule has an exclusion that never applies (NOT of a term that is never true on an API server's "+
				"audit event): it matches more than written", append(at, zap.Strings("terms", terms(l.NeverExcludes)))...)
		}
		if dead := l.DeadAlternatives(); len(dead) > 0 {
			log.Info("Rule has an alternative that is never true on an API server's audit event (the rest of the rule runs)",
				append(at, zap.Strings("terms", terms(dead)))...)
		}
	}
	return neverMatching
}

func (d *detector) close() {
	if d.geo != nil {
		_ = d.geo.Close()
	}
}

type auditProcessor struct {
	id        component.ID
	cfg       *Config
	logger    *zap.Logger
	detector  *detector
	writer    *rba.Writer
	telemetry *metadata.TelemetryBuilder
	// ruleAttrs holds the rule_id attribute set of each rule's match counter, built once per rule set.
	ruleAttrs map[string]metric.MeasurementOption
	// state holds throttles and the next consumer for the shutdown flush (stateful.go).
	state *stateful
	// reload watches the rule files (reload.go).
	reload *reloader
	// sources finds the audit events in a record body, whatever shape it arrives in (sources.go).
	sources *normalize.Normalizer
	// store keeps the detection state across restarts (persist.go); nil without storage.
	store *stateStore
	// idle moves the windows' clock while no audit event comes (idle.go).
	idle idleClock

	// mu lets shutdown wait for batches being evaluated before it closes the GeoIP database they may be reading.
	// A rule reload replaces detector, ruleAttrs and state under it, so a batch sees one rule set throughout.
	mu     sync.RWMutex
	closed bool
	// sending counts the batches processLogs passed on whose next consumer has not answered yet (delivered): a
	// refused one gives back the answers and reports it carried, which shutdown must still flush and save.
	sending sync.WaitGroup
}

// errShutdown refuses a batch that arrives after shutdown, so the caller keeps it rather than losing it.
var errShutdown = errors.New("auditdetect processor is shut down")

func newAuditProcessor(set processor.Settings, cfg *Config) (*auditProcessor, error) {
	reload := newReloader(cfg)
	d, err := buildDetector(cfg, set.Logger)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		d.close()
		return nil, err
	}
	writer := rba.NewWriter(rba.Config{
		Index: cfg.RiskIndex, Sourcetype: cfg.RiskSourcetype, MaxRiskEvents: cfg.MaxRiskEventsPerRecord,
	})
	norm, err := newNormalizer(cfg)
	if err != nil {
		d.close()
		return nil, err
	}
	p := &auditProcessor{
		id:        set.ID,
		cfg:       cfg,
		logger:    set.Logger,
		detector:  d,
		writer:    writer,
		telemetry: tb,
		ruleAttrs: matchAttrs(d),
		state:     newStateful(cfg, d.engine.Rules()),
		reload:    reload,
		sources:   norm,
	}
	p.recordLoaded(context.Background(), d, "auditdetect rules loaded")
	return p, nil
}

func (p *auditProcessor) shutdown(ctx context.Context) error {
	p.stopReload()
	p.stopCheckpoints()
	idleErr := p.stopIdle(ctx)
	p.mu.Lock()
	first := !p.closed
	p.closed = true // no batch starts from now on
	p.mu.Unlock()
	if !first {
		return nil
	}
	// Batches already passed on may still be refused by the next consumer, giving back the answers of closed windows
	// and the throttle reports they carried: wait for their answers before the flush and the final save.
	waitErr := p.waitSending(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	// No batch is running now: push what the throttles held back downstream before the state goes, and save the
	// state for the next start. Closed windows' answers first; what the next consumer refuses of them, or of the
	// throttles' reports, is kept in the final save, with the throttles' windows as they were before their flush
	// forgot them.
	closedErr := p.flushClosed(ctx)
	windows := p.throttleWindows()
	flushErr := p.flushState(ctx, nil)
	saved, encodeErr := p.finalState(windows)
	err := errors.Join(idleErr, waitErr, closedErr, flushErr, p.closeState(ctx, saved, encodeErr))
	p.detector.close()
	return err
}

// waitSending waits until the next consumer has answered for every batch passed on, or ctx ends.
func (p *auditProcessor) waitSending(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.sending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("batches still on their way to the next consumer at shutdown: %w", ctx.Err())
	}
}

// processLogs evaluates every record once. Records that are not JSON objects, or larger than max_body_bytes, pass
// through unchanged and are counted; nothing in a record's content can make this return an error. The batch goes on
// whole, audit records and their risk records in one call to the next consumer, so a failure there returns to the
// caller with nothing half-sent.
func (p *auditProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ld, errShutdown
	}
	// Timed per batch, not per record: a clock read and a histogram record cost ~0.3 µs, a real share of what a
	// record costs, and once per batch nothing (docs/operations.md).
	start := time.Now()
	p.idle.begin()
	var events int64 // audit events evaluated: the stream is not idle (idle.go)
	defer func() { p.idle.end(time.Now(), events > 0, p.detector.engine) }()
	p.retried(ld)
	// One engine state for the batch (evaluations and route keys), not a pool round trip per record.
	eval := p.detector.engine.Evaluator()
	defer eval.Close()
	var records, unparsed, oversized, truncated, riskEvents, riskDropped int64
	held := newBatch()
	rls := ld.ResourceLogs()
	// Answers of windows closed go into the resource of their group's last event: the windows keep its origin.
	origins := p.cfg.Mode == ModeFork && p.detector.engine.AnswersAtClose()
	// The time of the batch's last record moves the clock of windows answered at their close and of the throttles,
	// whatever rules its events are candidates of (engine.Evaluator.MoveClock): traffic no stateful rule reads closes
	// them too.
	lastRes, lastScope := -1, -1
	if origins || len(p.state.throttles) > 0 {
		lastRes, lastScope = lastRecords(rls)
	}
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		resProv := resourceProvenance(rls.At(i).Resource())
		if origins {
			eval.SetOrigin(p.state.deliveries.origin(rls.At(i).Resource()))
		}
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
				if k+1 < n {
					prefetchBody(&eval, lrs.At(k+1).Body())
				}
				if lastRes >= 0 {
					eval.MoveClock(i == lastRes && j == lastScope && k == n-1)
				}
				body, ok := bodyJSON(rec.Body())
				if !ok {
					unparsed++
					p.keep(matched, k)
					continue
				}
				// An EventList is sliced, not parsed whole: its items are bounded one by one below. A gzip body is
				// bounded by the normaliser as it decompresses it.
				if len(body) > p.cfg.MaxBodyBytes && !sliced(body) {
					// Parsing is linear, but a pooled parser keeps the memory of the largest body it saw.
					oversized++
					p.keep(matched, k)
					continue
				}
				if p.cfg.Mode == ModeRoute {
					switch ok, tooLarge := p.routeRecord(ctx, rec, body, &eval); {
					case tooLarge:
						oversized++
					case !ok:
						unparsed++
					}
					continue
				}
				// Each audit event of the record (the record itself, an EventList's items, a wrapper's events) is
				// evaluated on its own, and the record passes on once (sources.go).
				var out recordOutcome
				// A gzip body's events are read from its decompressed bytes, so drop_unmatched checks those.
				gz := matched != nil && normalize.IsGzip(body)
				// Azure cuts an AKS record's event at 16 KiB. The engine reads only what its rules need, so a cut
				// that leaves the body ending in a `}` (inside a string) goes unseen by it: such events are checked
				// whole, when they match nothing, to be counted as cut short rather than as read.
				aks := len(body) >= minCutEvent && detect(body) == normalize.AKS
				prevOversized := false
				format, err := p.sources.Each(body, func(ev normalize.Event) {
					oversized := len(ev.Body) > p.cfg.MaxBodyBytes
					again := ev.Again && prevOversized
					prevOversized = oversized
					if oversized {
						if !again { // a second stage of one entry (GKE) is the same record, counted once
							out.oversized++
						}
						return
					}
					res, err := eval.Evaluate(ev.Body)
					if err != nil {
						out.failed++
						if event.Truncated(ev.Body) {
							truncated++
						}
						return
					}
					out.parsed++
					events++
					if len(res.Matches) == 0 {
						switch {
						case aks && len(ev.Body) >= minCutEvent && event.Truncated(ev.Body):
							truncated++
							out.invalid = true
						case gz && event.Valid(ev.Body) != nil:
							out.invalid = true
						}
						return
					}
					out.matched = true
					for _, m := range res.Matches {
						p.telemetry.ProcessorAuditdetectRuleMatches.Add(ctx, 1, p.ruleAttrs[m.Rule.ID])
						if p.cfg.Mode == ModeFork && writesNoRisk(m) {
							p.telemetry.ProcessorAuditdetectMatchesWithoutRiskRecords.Add(ctx, 1, p.ruleAttrs[m.Rule.ID])
						}
					}
					res.Provenance = provenance(ev, resProv)
					if res = p.throttle(res, held, i, rls.At(i).Resource()); len(res.Matches) == 0 {
						return
					}
					if p.cfg.Mode == ModeEnrich {
						out.addEnrich(res)
					} else {
						// Appending keeps rec valid: pdata slices hold pointers to records.
						before := lrs.Len()
						added, dropped := p.writer.AppendRiskRecords(lrs, rec, res)
						riskEvents += int64(added)
						riskDropped += int64(dropped)
						for x := before; x < lrs.Len(); x++ {
							held.appended = append(held.appended, lrs.At(x))
						}
					}
				})
				if p.finish(ctx, rec, &out, format, err) {
					p.keep(matched, k)
					out.unparsed = out.unparsed || out.invalid
				} else if out.invalid || matched != nil && !out.unparsed && !gz && event.Valid(body) != nil {
					// The engine reads only what its rules need, so a syntax error in a part it skipped goes unseen.
					// Before drop_unmatched drops a record, make sure it is readable: a malformed one is never lost.
					out.unparsed = true
					p.keep(matched, k)
				}
				oversized += out.oversized
				if out.unparsed {
					unparsed++
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
	// Reports of held-back matches that came due go out with this batch, in resources of their own.
	added, dropped := p.finishBatch(ld, held)
	riskEvents += int64(added)
	riskDropped += int64(dropped)
	p.recordState(ctx)
	p.telemetry.ProcessorAuditdetectRecords.Add(ctx, records)
	if truncated > 0 {
		p.telemetry.ProcessorAuditdetectEventsTruncated.Add(ctx, truncated)
	}
	if unparsed > 0 {
		p.telemetry.ProcessorAuditdetectRecordsUnparsed.Add(ctx, unparsed)
	}
	if riskEvents > 0 {
		p.telemetry.ProcessorAuditdetectRiskEvents.Add(ctx, riskEvents)
	}
	if oversized > 0 {
		p.telemetry.ProcessorAuditdetectRecordsOversized.Add(ctx, oversized)
	}
	if riskDropped > 0 {
		p.telemetry.ProcessorAuditdetectRiskEventsDropped.Add(ctx, riskDropped, reasonPerRecord)
	}
	if p.cfg.DropUnmatched {
		removeEmpty(ld)
	}
	p.telemetry.ProcessorAuditdetectEvaluationDuration.Record(ctx, time.Since(start).Seconds())
	// processorhelper passes ld on to deliveryWatch, which calls delivered with the next consumer's answer.
	p.sending.Add(1)
	return ld, nil
}

// lastRecords returns the resource and scope of the batch's last record (-1, -1 when it has none).
func lastRecords(rls plog.ResourceLogsSlice) (res, scope int) {
	for i := rls.Len() - 1; i >= 0; i-- {
		sls := rls.At(i).ScopeLogs()
		for j := sls.Len() - 1; j >= 0; j-- {
			if sls.At(j).LogRecords().Len() > 0 {
				return i, j
			}
		}
	}
	return -1, -1
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

// prefetchBody starts loading the parts of a record's body the rules read into the CPU's caches: the processor calls
// it for the next record before it evaluates this one, so that the wait for memory overlaps the work
// (engine.Evaluator.Prefetch). Only a string body (what filelog gives) is: pdata hands a bytes body out only as a
// copy, which would read all of it now and allocate.
func prefetchBody(eval *engine.Evaluator, body pcommon.Value) {
	if body.Type() == pcommon.ValueTypeStr {
		s := body.Str()
		eval.Prefetch(unsafe.Slice(unsafe.StringData(s), len(s)))
	}
}

// removeEmpty drops scopes and resources left empty by drop_unmatched.
func removeEmpty(ld plog.Logs) {
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool { return sl.LogRecords().Len() == 0 })
		return rl.ScopeLogs().Len() == 0
	})
}
