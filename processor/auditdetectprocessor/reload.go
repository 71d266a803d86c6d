package auditdetectprocessor

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/builtin"
	"github.com/auditdetect/auditdetect/processor/coverage"
	"github.com/auditdetect/auditdetect/processor/loader"
)

// Hot reload. With reload_interval set, a goroutine reads the rule files (and stats the GeoIP database, and the
// lookups' CSV files, reading one again only when its stat changed: loader.Digester) at that interval. Polling by
// content, rather than watching for file events, survives every way a file is replaced: an editor's rename, a
// Kubernetes ConfigMap update (the volume's ..data link swapped to a new directory), a volume remounted. When the
// files differ from those the running set was built from, and still read the same a moment later (half an
// interval, at most a second: a plain rewrite is not atomic), the whole detector is built again, exactly as at
// start-up, and:
//   - if it builds, it replaces the running one between two batches: the swap takes the processor's write lock, so
//     every batch sees one rule set from its first record to its last, and the old GeoIP database is closed only
//     when no batch reads it. The rules the reload does not change (same id and definition) keep their windows,
//     new_terms histories, memory of delivered events and throttles; the throttles of the others send what they
//     held back first, as at shutdown, and their state starts empty, as after a restart.
//   - if it does not build (a YAML error, a rule the engine refuses, every file gone), the running set keeps
//     running; the error is logged once per distinct change, counted (reloads{result=failure}) and
//     reload_failing is 1 until the files load again or return to what is running.

// ruleDigest identifies what a detector was built from: the rule files' contents (the lookups' CSV files included) and
// the GeoIP database's size and modification time (hashing a 60 MB database every interval would cost more than it tells).
type ruleDigest struct {
	rules   loader.Fingerprint
	geoSize int64
	geoMod  int64 // Unix nanoseconds
}

// digestRules digests the rule files through g, which rereads a lookup table only when its stat changed.
func digestRules(g *loader.Digester, cfg *Config) (ruleDigest, error) {
	var d ruleDigest
	var err error
	if d.rules, err = g.Digest(loader.Options{Paths: cfg.Rules, Builtin: builtin.FS, Lookups: cfg.Lookups}); err != nil {
		return d, err
	}
	if cfg.GeoIPDatabase != "" {
		if info, err := os.Stat(cfg.GeoIPDatabase); err == nil {
			d.geoSize, d.geoMod = info.Size(), info.ModTime().UnixNano()
		}
	}
	return d, nil
}

// reloader is the state of the reload goroutine; only that goroutine touches running, tried and failing.
type reloader struct {
	digester *loader.Digester
	running  ruleDigest // what the running detector was built from
	tried    attempt    // the last change that failed to load: reported once
	failing  bool
	stop     chan struct{}
	done     chan struct{}
}

// attempt is a change of the rule files that failed: the files' digest, or the error that kept them from being read.
type attempt struct {
	digest ruleDigest
	err    string
}

var (
	reloadSuccess = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "success")))
	reloadFailure = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "failure")))
)

// newReloader digests the rule files before the detector is built from them: a change in between is then seen by
// the first check rather than missed.
func newReloader(cfg *Config) *reloader {
	r := &reloader{digester: loader.NewDigester()}
	if cfg.ReloadInterval > 0 {
		r.running, _ = digestRules(r.digester, cfg) // an error here fails the build that follows
	}
	return r
}

func (p *auditProcessor) start(ctx context.Context, host component.Host) error {
	if err := p.openState(ctx, host); err != nil {
		return err
	}
	p.startIdle()
	if p.cfg.ReloadInterval <= 0 {
		return nil
	}
	p.reload.stop, p.reload.done = make(chan struct{}), make(chan struct{})
	go p.watchRules(p.cfg.ReloadInterval)
	return nil
}

// stopReload ends the reload goroutine; it must be called without holding p.mu, which a reload takes.
func (p *auditProcessor) stopReload() {
	if p.reload.stop != nil {
		close(p.reload.stop)
		<-p.reload.done
		p.reload.stop = nil
	}
}

func (p *auditProcessor) watchRules(interval time.Duration) {
	defer close(p.reload.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-p.reload.stop:
			return
		case <-ticker.C:
			p.checkRules(context.Background())
		}
	}
}

// checkRules reloads the rules if their files changed since the running set was built.
func (p *auditProcessor) checkRules(ctx context.Context) {
	r := p.reload
	digest, err := digestRules(r.digester, p.cfg)
	if err == nil && digest == r.running {
		if r.failing {
			// The files were put back as they were: what runs is what is on disk again.
			r.failing, r.tried = false, attempt{}
			p.telemetry.ProcessorAuditdetectReloadFailing.Record(ctx, 0)
			p.logger.Info("auditdetect rule files are back to the running rule set")
		}
		return
	}
	a := attempt{digest: digest}
	if err != nil {
		a = attempt{err: err.Error()}
	}
	switch {
	case a == r.tried:
		return // this broken change was reported already
	case !p.settled(digest, err):
		return // still changing: the next check sees where it ends
	case err != nil:
		p.reloadFailed(ctx, a, err)
		return
	}
	d, err := buildDetector(p.cfg, p.logger)
	if err != nil {
		p.reloadFailed(ctx, a, err)
		return
	}
	if !p.install(ctx, d) {
		return
	}
	r.running, r.tried, r.failing = digest, attempt{}, false
	p.telemetry.ProcessorAuditdetectReloads.Add(ctx, 1, reloadSuccess)
	p.telemetry.ProcessorAuditdetectReloadFailing.Record(ctx, 0)
	p.recordLoaded(ctx, d, "auditdetect rules reloaded")
}

// settled reports whether the rule files read the same a moment later: a file caught while being written (a
// plain rewrite is not atomic) would otherwise be reported as a broken rule set.
func (p *auditProcessor) settled(digest ruleDigest, err error) bool {
	t := time.NewTimer(min(p.cfg.ReloadInterval/2, time.Second))
	defer t.Stop()
	select {
	case <-p.reload.stop:
		return false
	case <-t.C:
	}
	again, err2 := digestRules(p.reload.digester, p.cfg)
	if err != nil || err2 != nil {
		return err != nil && err2 != nil && err.Error() == err2.Error()
	}
	return again == digest
}

// reloadFailed reports a change that did not load; checkRules calls it once per distinct change.
func (p *auditProcessor) reloadFailed(ctx context.Context, a attempt, err error) {
	r := p.reload
	r.tried, r.failing = a, true
	p.telemetry.ProcessorAuditdetectReloads.Add(ctx, 1, reloadFailure)
	p.telemetry.ProcessorAuditdetectReloadFailing.Record(ctx, 1)
	p.logger.Error("auditdetect rule reload failed; the previous rules keep running", zap.Error(err))
}

// install replaces the running detector with d between two batches, and closes the old one. It reports false when
// the processor has shut down meanwhile (d is closed).
func (p *auditProcessor) install(ctx context.Context, d *detector) bool {
	attrs := matchAttrs(d)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		d.close()
		return false
	}
	// No batch is running. The rules whose detection the reload does not change keep their detection state
	// (engine.AdoptState: a reworded message or a new score keeps it) and their throttles, when the new set still
	// throttles them on the same fields (an override keyed by a name the rule no longer has does not, and a throttle
	// without fields keys on the risk objects' fields, which the edit may have changed); every other throttle sends
	// what it held back first.
	old, oldState := p.detector, p.state
	unchanged := d.engine.AdoptState(old.engine)
	// Answers of windows that closed under the old rules and were not taken go out with the next batch.
	p.requeueClosed(oldState.deliveries, old.engine.TakeClosed())
	next := newStateful(p.cfg, d.engine.Rules())
	throttles := map[string]bool{}
	for _, id := range unchanged {
		if was, now := oldState.throttles[id], next.throttles[id]; was != nil && now != nil && was.sameAs(now) {
			throttles[id] = true
		}
	}
	if err := p.flushState(ctx, throttles); err != nil {
		p.logger.Warn("held-back throttle counts were not delivered at rule reload", zap.Error(err))
	}
	next.carryOver(oldState, unchanged, throttles)
	p.detector, p.ruleAttrs, p.state = d, attrs, next
	p.mu.Unlock()
	old.close()
	p.logger.Info("rules the reload did not change kept their state", zap.Int("rules", len(unchanged)),
		zap.Int("changed_or_new", len(d.engine.Rules())-len(unchanged)))
	return true
}

// matchAttrs builds the rule_id attribute set of each rule's match counter once per rule set.
func matchAttrs(d *detector) map[string]metric.MeasurementOption {
	attrs := map[string]metric.MeasurementOption{}
	for _, r := range d.engine.Rules() {
		attrs[r.ID] = metric.WithAttributeSet(attribute.NewSet(attribute.String("rule_id", r.ID)))
	}
	return attrs
}

// recordLoaded sets the rule gauges and logs the rule set with its one-line coverage summary.
func (p *auditProcessor) recordLoaded(ctx context.Context, d *detector, msg string) {
	never := warnNeverTrue(d.engine.Rules(), p.logger)
	for _, r := range d.engine.Rules() {
		for _, h := range coverage.ResourceHints(r) {
			p.logger.Warn("Rule names a resource as audit events never write it", zap.String("rule", r.Name),
				zap.String("file", r.Origin.String()), zap.String("term", h.String()))
		}
		if w := r.StatusWarning(); w != "" {
			p.logger.Warn("Rule is "+w+" (turn it off with rule_overrides enabled: false)", zap.String("rule", r.Name),
				zap.String("file", r.Origin.String()), zap.String("status", r.Status))
		}
	}
	p.telemetry.ProcessorAuditdetectRulesLoaded.Record(ctx, int64(d.loaded))
	p.telemetry.ProcessorAuditdetectRulesSkipped.Record(ctx, int64(d.skipped))
	p.telemetry.ProcessorAuditdetectRulesDisabled.Record(ctx, int64(d.disabled))
	p.telemetry.ProcessorAuditdetectRulesNeverMatching.Record(ctx, int64(never))
	p.logger.Info(msg,
		zap.Int("rules", d.loaded), zap.Int("skipped", d.skipped), zap.Int("disabled", d.disabled),
		zap.Int("waiting_for_geoip_database", d.withoutGeoIP),
		zap.String("mode", string(p.cfg.Mode)), zap.String("coverage", coverage.Build(d.engine).Line()))
	if d.loaded == 0 {
		// Every rule skipped (on_rule_error: skip), turned off or waiting for a GeoIP database: the collector runs
		// and detects nothing, which an Info line among others does not make plain.
		p.logger.Warn("no detection rule runs: nothing is detected until one does (see skipped, disabled and "+
			"waiting_for_geoip_database)", zap.Int("skipped", d.skipped), zap.Int("disabled", d.disabled),
			zap.Int("waiting_for_geoip_database", d.withoutGeoIP))
	}
}
