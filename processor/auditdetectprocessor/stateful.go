package auditdetectprocessor

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/window"
)

// The processor's part of stateful detection (docs/stateful.md): per-rule settings, throttling, routing for the
// scale-out agent tier, the state telemetry, and the flush at shutdown. Windowed stats themselves live in the engine.

// SuppressedCountField is the row field a throttled rule's risk records carry: how many matches of the same key were
// held back and are reported by this record. Over a rule's records, the sum of 1 + suppressed_count is the number of
// matches, whatever was held back.
const SuppressedCountField = "suppressed_count"

// validateStateful checks the settings of stateful detection that need no rules to check.
func (cfg *Config) validateStateful() error {
	var errs error
	if cfg.AllowedLateness < 0 {
		errs = errors.Join(errs, fmt.Errorf("allowed_lateness: must not be negative, got %s", cfg.AllowedLateness))
	}
	if cfg.NewTermsLearning < 0 {
		errs = errors.Join(errs, fmt.Errorf("new_terms_learning: must not be negative, got %s", cfg.NewTermsLearning))
	}
	errs = errors.Join(errs, atMostAYear("allowed_lateness", cfg.AllowedLateness),
		atMostAYear("new_terms_learning", cfg.NewTermsLearning))
	if cfg.Mode == ModeRoute && cfg.DropUnmatched {
		errs = errors.Join(errs, errors.New("drop_unmatched: route mode must forward every record to the gateways"))
	}
	names := make([]string, 0, len(cfg.RuleOverrides))
	for name := range cfg.RuleOverrides {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		o := cfg.RuleOverrides[name]
		if o.Window < 0 {
			errs = errors.Join(errs, fmt.Errorf("rule_overrides: %q: window must not be negative, got %s", name, o.Window))
		}
		errs = errors.Join(errs, atMostAYear(fmt.Sprintf("rule_overrides: %q: window", name), o.Window))
		if o.Throttle == nil {
			continue
		}
		if o.Throttle.Window <= 0 {
			errs = errors.Join(errs, fmt.Errorf("rule_overrides: %q: throttle.window must be positive, got %s", name, o.Throttle.Window))
		}
		errs = errors.Join(errs, atMostAYear(fmt.Sprintf("rule_overrides: %q: throttle.window", name), o.Throttle.Window))
		if cfg.Mode == ModeEnrich {
			errs = errors.Join(errs, fmt.Errorf("rule_overrides: %q: throttle reports its counts on risk records, which enrich mode does not write; use mode fork", name))
		}
	}
	return errs
}

// resolveOverrides keys rule_overrides by rule ID, matching each configured key against the rules' IDs, then names.
// Two keys that name one rule (its ID and its name) are merged, each setting from the key that sets it; one setting
// set by both is a conflict (one would win by map order, differently in each caller), returned in twice. It also
// returns the keys that name no rule.
func resolveOverrides(cfg *Config, rules []*rule.Rule) (byID map[string]RuleOverride, unknown []string, twice []string) {
	byID = map[string]RuleOverride{}
	keyOf := map[string]string{}
	keys := make([]string, 0, len(cfg.RuleOverrides))
	for key := range cfg.RuleOverrides {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		found := false
		for _, r := range rules {
			if r.NamedBy(key) {
				o := cfg.RuleOverrides[key]
				if prev, ok := keyOf[r.ID]; ok && prev != key {
					var conflict []string
					if o, conflict = mergeOverrides(byID[r.ID], o); len(conflict) > 0 {
						twice = append(twice, fmt.Sprintf("%q and %q both name rule %q and both set %s", prev, key, r.Name,
							strings.Join(conflict, ", ")))
					}
				}
				byID[r.ID], keyOf[r.ID] = o, key
				found = true
			}
		}
		if !found {
			unknown = append(unknown, key)
		}
	}
	return byID, unknown, twice
}

// mergeOverrides combines two overrides of one rule, each setting from the one that sets it; conflict names the
// settings both set.
func mergeOverrides(a, b RuleOverride) (merged RuleOverride, conflict []string) {
	merged = a
	if b.Enabled != nil {
		if a.Enabled != nil {
			conflict = append(conflict, "enabled")
		}
		merged.Enabled = b.Enabled
	}
	if b.Window > 0 {
		if a.Window > 0 {
			conflict = append(conflict, "window")
		}
		merged.Window = b.Window
	}
	if b.Throttle != nil {
		if a.Throttle != nil {
			conflict = append(conflict, "throttle")
		}
		merged.Throttle = b.Throttle
	}
	if len(b.RiskObjects) > 0 {
		if len(a.RiskObjects) > 0 {
			conflict = append(conflict, "risk_objects")
		}
		merged.RiskObjects = b.RiskObjects
	}
	if len(b.ThreatObjects) > 0 {
		if len(a.ThreatObjects) > 0 {
			conflict = append(conflict, "threat_objects")
		}
		merged.ThreatObjects = b.ThreatObjects
	}
	if b.Message != "" {
		if a.Message != "" {
			conflict = append(conflict, "message")
		}
		merged.Message = b.Message
	}
	return merged, conflict
}

// didYouMean quotes each key of keys and, where one is a near misspelling of a loaded rule's name or id, says it.
func didYouMean(keys []string, rules []*rule.Rule) string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strconv.Quote(k)
		if s := rule.Suggest(k, rules); s != "" {
			out[i] += fmt.Sprintf(" (did you mean %q?)", s)
		}
	}
	return strings.Join(out, ", ")
}

// applyStateful completes the engine options from the stateful settings and returns the IDs of the rules that
// rule_overrides turns off (enabled: false). A rule_overrides key that names no loaded rule fails the load (a typo
// would otherwise leave a rule silently unthrottled, or running), or is logged under on_rule_error: skip, where the
// rule it names may have been skipped.
func applyStateful(cfg *Config, opts *engine.Options, rules, correlated []*rule.Rule, logger *zap.Logger) (disabled map[string]bool, err error) {
	opts.AllowedLateness = cfg.AllowedLateness
	// A window answered when it closes has no record to enrich: enrich mode refuses such rules (fork and route run
	// them; route only to route).
	opts.NoCloseResults = cfg.Mode == ModeEnrich
	opts.NewTermsLearning = cfg.NewTermsLearning
	byID, unknown, twice := resolveOverrides(cfg, rules)
	if len(twice) > 0 {
		return nil, fmt.Errorf("rule_overrides: %s: keep one", strings.Join(twice, "; "))
	}
	// A key naming a Sigma rule that only feeds a correlation names a loaded rule that does not run alone: said, not
	// an error (adding a correlation must not break a configuration that tuned the rule it names).
	unknown = slices.DeleteFunc(unknown, func(key string) bool {
		for _, r := range correlated {
			if r.NamedBy(key) {
				logger.Info("rule_overrides names a Sigma rule that only feeds correlation rules: it does not run alone, "+
					"and the override has no effect (override the correlation)", zap.String("key", key), zap.String("rule", r.Name))
				return true
			}
		}
		return false
	})
	if len(unknown) > 0 {
		err := fmt.Errorf("rule_overrides: no loaded rule has the id or name %s", didYouMean(unknown, rules))
		if cfg.OnRuleError != RuleErrorSkip {
			return nil, err
		}
		logger.Warn("ignoring rule overrides", zap.Error(err))
	}
	if err := checkThrottleFields(cfg, rules); err != nil {
		return nil, err
	}
	for id, o := range byID {
		if o.Enabled != nil && !*o.Enabled {
			if disabled == nil {
				disabled = map[string]bool{}
			}
			disabled[id] = true
		}
		if o.Window > 0 {
			if opts.RuleWindows == nil {
				opts.RuleWindows = map[string]time.Duration{}
			}
			opts.RuleWindows[id] = o.Window
		}
		if o.Throttle != nil && cfg.Mode == ModeFork {
			// Throttles move with the windows' clock (finishBatch), which the engine then keeps without such windows.
			opts.KeepClock = true
		}
		if o.Throttle != nil && len(o.Throttle.Fields) > 0 {
			// A rule without stats keeps only some event fields on its rows: the throttle's key must be among them.
			if opts.RowFields == nil {
				opts.RowFields = map[string][]string{}
			}
			opts.RowFields[id] = o.Throttle.Fields
		}
	}
	if cfg.Mode == ModeRoute && opts.GeoIP == nil {
		// Routing reads keys from the event and never runs iplocation: the agent tier needs no database.
		opts.GeoIP = noGeoIP{}
	}
	return disabled, nil
}

// checkThrottleFields fails a throttle keyed on a field that the rule's results never hold, when they are known
// (loader.OutputFields: the rule ends in stats): every match would share one empty key, and all but the first of
// each window be held back. A rule whose results are whole events can be keyed on any field of the event: its rows
// carry the throttle's fields (engine.Options.RowFields).
func checkThrottleFields(cfg *Config, rules []*rule.Rule) error {
	keys := make([]string, 0, len(cfg.RuleOverrides))
	for k, o := range cfg.RuleOverrides {
		if o.Throttle != nil && len(o.Throttle.Fields) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var errs error
	for _, k := range keys {
		for _, r := range rules {
			if !r.NamedBy(k) {
				continue
			}
			if err := loader.CheckFields(r, "throttle.fields", cfg.RuleOverrides[k].Throttle.Fields); err != nil {
				errs = errors.Join(errs, fmt.Errorf("rule_overrides: %q: %w", k, err))
			}
		}
	}
	return errs
}

type noGeoIP struct{}

func (noGeoIP) Lookup(netip.Addr) (engine.Location, bool) { return engine.Location{}, false }

// stateful is the processor's state beyond the engine: throttles, the next consumer for the shutdown flush, and
// what the state telemetry has already reported.
type stateful struct {
	throttles map[string]*ruleThrottle // by rule ID
	next      consumer.Logs

	mu       sync.Mutex
	reported map[reportKey]uint64 // cumulative counts already added to counters
	attrs    map[attrKey]metric.MeasurementOption

	// deliveries outlive a rule reload: they are about batches, not rules.
	deliveries *deliveries
}

// deliveries holds, for each batch on its way to the next consumer, what this processor added to it, so that a batch
// the next consumer refuses gives its throttle reports back to their throttles (the retry, or the next batch,
// carries them), and a retry of the very same batch object starts from the batch as it came (refused).
type deliveries struct {
	mu       sync.Mutex
	inflight map[plog.Logs]*additions
	refused  map[plog.Logs]*additions
	// refusedOrder bounds refused: a batch the receiver gave up on is forgotten after maxRefused others. An entry
	// names the additions it was made for, so that an old entry of a batch refused again forgets nothing newer.
	refusedOrder []refusedBatch
	// closed are answers of windows that closed (engine.TakeClosed) still to be sent: those of a refused batch, and
	// those a rule reload took from the engine it replaced. The next batch, or the shutdown flush, carries them. At
	// most max_keys of each rule (requeueClosed), oldest first.
	closed []engine.Closed
	// resource is a copy of the resource of the last batch that had one, which answers at shutdown are written in
	// when their origin is not known.
	resource *pcommon.Resource
	// origins are copies of the resources events came in, by origin (resourceOrigin), for the answers of windows
	// closed: each goes into the resource of the last event its group counted. Bounded, least recently used evicted.
	origins *window.Store[pcommon.Resource]
	// reports are throttle reports that were not delivered and have no throttle to go back to (a rule reload removed
	// their rule, or its throttle; the shutdown's refused flush): the next batch, or the shutdown flush, carries them.
	// At most max_keys of each rule (waitReports).
	reports []window.Pending[heldMatch]
}

// takeReports returns the throttle reports waiting without a throttle.
func (d *deliveries) takeReports() []window.Pending[heldMatch] {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.reports
	d.reports = nil
	return out
}

// takeClosed returns the answers waiting to be sent, with e's newly closed windows after them (fresh of them).
func (d *deliveries) takeClosed(e *engine.Engine) (closed []engine.Closed, fresh int) {
	d.mu.Lock()
	out := d.closed
	d.closed = nil
	d.mu.Unlock()
	taken := e.TakeClosed()
	return append(out, taken...), len(taken)
}

// requeueClosed gives back answers that were not delivered, keeping at most limit of each rule's, its newest: while
// the next consumer refuses every batch, each window that closes adds its answers, and memory (and the saved state)
// must stay bounded. The bound is per rule, so that a rule whose windows answer many groups, or close often, cannot
// push out the answer of another. It returns what it dropped of each rule, the oldest of it.
func (d *deliveries) requeueClosed(closed []engine.Closed, limit int) []ruleLoss {
	if len(closed) == 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = append(closed, d.closed...)
	limit = max(limit, 1)
	held := map[string]int{}
	for _, c := range d.closed {
		held[c.Rule.ID]++
	}
	// Answers wait oldest first: a rule's first ones go.
	var lost []ruleLoss
	over := map[string]int{}
	for _, c := range d.closed {
		if n := held[c.Rule.ID] - limit; n > 0 && over[c.Rule.ID] == 0 {
			over[c.Rule.ID] = n
			lost = append(lost, ruleLoss{rule: c.Rule, dropped: n})
		}
	}
	if len(lost) == 0 {
		return nil
	}
	kept := make([]engine.Closed, 0, len(d.closed))
	for _, c := range d.closed {
		if over[c.Rule.ID] > 0 {
			over[c.Rule.ID]--
			continue
		}
		kept = append(kept, c)
	}
	d.closed = kept
	return lost
}

// ruleLoss is how many of one rule's waiting answers or throttle reports a bound dropped.
type ruleLoss struct {
	rule    *rule.Rule
	dropped int
}

// The reasons risk_events_dropped counts records under.
var (
	reasonPerRecord     = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "max_risk_events_per_record")))
	reasonClosedBacklog = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "closed_backlog")))
	reasonReportBacklog = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "throttle_backlog")))
)

// requeueClosed gives undelivered answers of closed windows back to the deliveries, bounded to one window's worth of
// groups (max_keys) per rule, a rule a reload removed included; answers dropped past that are counted and logged with
// their rule.
func (p *auditProcessor) requeueClosed(d *deliveries, closed []engine.Closed) {
	for _, l := range d.requeueClosed(closed, p.cfg.MaxKeys) {
		p.telemetry.ProcessorAuditdetectRiskEventsDropped.Add(context.Background(), int64(l.dropped), reasonClosedBacklog)
		p.logger.Warn("answers of closed windows dropped: the next consumer refused them for longer than their bound "+
			"(max_keys per rule), the rule's oldest first", zap.String("rule", l.rule.Name), zap.String("rule_id", l.rule.ID),
			zap.Int("dropped", l.dropped), zap.Int("kept", p.cfg.MaxKeys))
	}
}

type refusedBatch struct {
	ld plog.Logs
	a  *additions
}

// maxRefused bounds the refused batches remembered for a retry of the same batch object.
const maxRefused = 256

// additions are what processing a batch added to it: the reports that came due, the risk records appended to its
// scopes, and the resources that carry the reports.
type additions struct {
	due       []window.Pending[heldMatch]
	closed    []engine.Closed
	records   []plog.LogRecord
	resources []plog.ResourceLogs
}

type ruleThrottle struct {
	fields []string
	window time.Duration
	th     *window.Throttle[heldMatch]
	// decided remembers what the throttle did with each row of an event, so that an event delivered again (a batch
	// the next consumer refused, retried) gets the same answer rather than counting as a repeat: an admitted row is
	// admitted again, a held one is not held twice.
	decided *window.Recent[throttleDecision]
}

// sameAs reports whether o throttles the same keys over the same window: what t holds means the same to o.
func (t *ruleThrottle) sameAs(o *ruleThrottle) bool {
	return slices.Equal(t.fields, o.fields) && t.window == o.window
}

// throttleDecision is what a throttle did with one row.
type throttleDecision struct {
	emitted    bool
	suppressed int64
}

// heldMatch is one row a throttle held back: enough to write its risk record later.
type heldMatch struct {
	rule     *rule.Rule
	row      engine.Row
	auditID  string
	resource *pcommon.Resource // a copy, shared by the matches held back from one resource of one batch
	// provenance is the cloud wrapper's attributes of the event (engine.Result.Provenance), so that a report says
	// where its match came from as the match itself would have.
	provenance map[string]string
}

func newStateful(cfg *Config, rules []*rule.Rule) *stateful {
	s := &stateful{throttles: map[string]*ruleThrottle{}, reported: map[reportKey]uint64{}, attrs: map[attrKey]metric.MeasurementOption{},
		deliveries: &deliveries{inflight: map[plog.Logs]*additions{}, refused: map[plog.Logs]*additions{},
			origins: window.NewStore[pcommon.Resource](maxOrigins)}}
	if cfg.Mode != ModeFork {
		return s
	}
	byID, _, _ := resolveOverrides(cfg, rules)
	for _, r := range rules {
		o, ok := byID[r.ID]
		if !ok || o.Throttle == nil {
			continue
		}
		fields := o.Throttle.Fields
		if len(fields) == 0 {
			for _, ro := range r.Risk.Objects {
				fields = append(fields, ro.Field)
			}
		}
		s.throttles[r.ID] = &ruleThrottle{fields: fields, window: o.Throttle.Window,
			th:      window.NewThrottle[heldMatch](o.Throttle.Window, cfg.MaxKeys),
			decided: window.NewRecent[throttleDecision](engine.DefaultReplayKeys)}
	}
	return s
}

// carryOver takes from the state of the rule set a reload replaces what the new one keeps: the next consumer and the
// batches on their way or refused (they are about batches, not rules: a retry of a refused batch after the reload
// still has the refused attempt's risk records taken out, and a refused batch's reports go to the throttle of their
// rule), the throttles named in throttles (of unchanged rules: their keys and held matches mean what they meant),
// and the totals already reported for the stores that moved: the windows of the unchanged rules (engine.AdoptState)
// and those throttles.
func (s *stateful) carryOver(old *stateful, unchanged []string, throttles map[string]bool) {
	s.next, s.deliveries = old.next, old.deliveries
	for id := range throttles {
		s.throttles[id] = old.throttles[id]
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	carry := func(name, ruleID string) {
		if n, ok := old.reported[reportKey{name, ruleID}]; ok {
			s.reported[reportKey{name, ruleID}] = n
		}
	}
	for _, id := range unchanged {
		// The window's and the history's key stores (and their evicted counts) moved; the late and cut counts start
		// again at zero.
		carry("evicted/stats", id)
		carry("evicted/new_terms", id)
		carry("evicted/sequence", id)
	}
	for id := range throttles {
		carry("evicted/throttle", id)
		carry("held", id)
	}
}

// batch is the stateful bookkeeping of one processLogs call.
type batch struct {
	latest time.Time
	due    []window.Pending[heldMatch]
	// appended are the risk records added to the batch's scopes (fork mode).
	appended []plog.LogRecord
	// resIdx is the resource whose copy res holds (-1: none yet).
	resIdx int
	res    *pcommon.Resource
	// id is scratch space for a row's identity (throttle).
	id []byte
}

func newBatch() *batch { return &batch{resIdx: -1} }

// throttle lets through the rows of throttled rules that their throttle admits, adding suppressed_count to them,
// and keeps the others as held back. Rows of other rules pass untouched.
func (p *auditProcessor) throttle(res engine.Result, b *batch, resIdx int, resource pcommon.Resource) engine.Result {
	if res.Time.After(b.latest) {
		b.latest = res.Time
	}
	if len(p.state.throttles) == 0 {
		return res
	}
	kept := res.Matches[:0]
	for _, m := range res.Matches {
		t := p.state.throttles[m.Rule.ID]
		if t == nil {
			kept = append(kept, m)
			continue
		}
		// A new slice, not m.Rows[:0]: the engine hands out the rows of a stateful rule again when the event is
		// delivered again (engine/replay.go), so they are shared and must not be written over.
		rows := make([]engine.Row, 0, len(m.Rows))
		for n, row := range m.Rows {
			key := throttleKey(row, t.fields)
			// The row's identity: its event's (auditID and stage: each stage of a request is an event of its own)
			// and its place among the event's rows (an event's rows come in the same order every time it is
			// evaluated).
			var id []byte
			if res.AuditID != "" {
				id = fmt.Appendf(b.id[:0], "%s\x00%s\x00%d\x00%s", res.AuditID, res.Stage, n, key)
				b.id = id
				if d, seen := t.decided.Get(id); seen {
					if d.emitted {
						rows = append(rows, withSuppressed(row, d.suppressed))
					}
					continue
				}
			}
			emit, held, due := t.th.Admit(key, res.Time, heldMatch{rule: m.Rule, row: row, auditID: res.AuditID,
				resource: b.resource(resIdx, resource), provenance: res.Provenance})
			b.due = append(b.due, due...)
			if id != nil {
				t.decided.Put(id, throttleDecision{emitted: emit, suppressed: held})
			}
			if emit {
				rows = append(rows, withSuppressed(row, held))
			}
		}
		if len(rows) > 0 {
			kept = append(kept, engine.Match{Rule: m.Rule, Rows: rows})
		}
	}
	res.Matches = kept
	return res
}

// resource returns the batch's copy of the resource at index idx, copying it at most once per resource.
func (b *batch) resource(idx int, r pcommon.Resource) *pcommon.Resource {
	if b.resIdx != idx {
		c := pcommon.NewResource()
		r.CopyTo(c)
		b.resIdx, b.res = idx, &c
	}
	return b.res
}

// throttleKey joins the row's values of the key fields; a field the row lacks is empty.
func throttleKey(row engine.Row, fields []string) string {
	var sb strings.Builder
	for i, f := range fields {
		if i > 0 {
			sb.WriteByte(0)
		}
		sb.WriteString(strings.Join(row.Values(f), "\x1f"))
	}
	return sb.String()
}

func withSuppressed(row engine.Row, n int64) engine.Row {
	fields := make([]engine.RowField, 0, len(row.Fields)+1)
	for _, f := range row.Fields {
		if f.Name != SuppressedCountField {
			fields = append(fields, f)
		}
	}
	fields = append(fields, engine.RowField{Name: SuppressedCountField, Values: []string{strconv.FormatInt(n, 10)}, Numeric: true})
	return engine.Row{Fields: fields}
}

// finishBatch appends to ld the reports that came due in this batch (evicted keys, expired windows, including those
// of throttles the batch did not touch) and returns how many risk records it added and dropped.
func (p *auditProcessor) finishBatch(ld plog.Logs, b *batch) (added, dropped int) {
	rls := ld.ResourceLogs()
	before := rls.Len()
	var closed []engine.Closed
	if p.cfg.Mode == ModeFork {
		closed, added, dropped = p.writeClosed(context.Background(), ld, b,
			p.state.deliveries.batchResource(ld, p.detector.engine))
	}
	// The throttles' time is the windows' clock (engine.Clock: the events of stateful rules, the batch's last record,
	// the idle timer's advance), or the batch's latest match when later (a stateless rule's match moves no clock): a
	// key's report comes due as a window answered at its close would close, not only with the next match. A batch that
	// moves neither carries the reports a refused batch gave back to their throttles: otherwise they would wait for the
	// next match, which an idle stream never brings.
	at := b.latest
	if c := p.detector.engine.Clock(); c.After(at) {
		at = c
	}
	for _, t := range p.state.throttles {
		b.due = append(b.due, t.th.Advance(at)...)
	}
	if p.cfg.Mode == ModeFork {
		b.due = append(b.due, p.state.deliveries.takeReports()...)
	}
	ra, rd := p.appendReports(ld, b.due)
	added, dropped = added+ra, dropped+rd
	if len(b.due) > 0 || len(b.appended) > 0 || len(closed) > 0 {
		a := &additions{due: b.due, closed: closed, records: b.appended}
		for x := before; x < rls.Len(); x++ {
			a.resources = append(a.resources, rls.At(x))
		}
		d := p.state.deliveries
		d.mu.Lock()
		d.inflight[ld] = a
		d.mu.Unlock()
	}
	return added, dropped
}

// retried returns ld as it came the first time when it is a batch the next consumer refused and the receiver now
// sends again as the same object (the filelog receiver's retry_on_failure does): the risk records and report
// resources added the first time are taken out, to be made again.
func (p *auditProcessor) retried(ld plog.Logs) {
	d := p.state.deliveries
	d.mu.Lock()
	a, ok := d.refused[ld]
	delete(d.refused, ld)
	d.mu.Unlock()
	if !ok {
		return
	}
	records := make(map[plog.LogRecord]bool, len(a.records))
	for _, r := range a.records {
		records[r] = true
	}
	resources := make(map[plog.ResourceLogs]bool, len(a.resources))
	for _, rl := range a.resources {
		resources[rl] = true
	}
	rls := ld.ResourceLogs()
	rls.RemoveIf(func(rl plog.ResourceLogs) bool { return resources[rl] })
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sls.At(j).LogRecords().RemoveIf(func(r plog.LogRecord) bool { return records[r] })
		}
	}
}

// delivered is told what the next consumer answered for a batch: a refused batch's throttle reports go back to
// their throttles.
func (p *auditProcessor) delivered(ld plog.Logs, err error) { p.answered(ld, err, true) }

// answered is delivered for a batch that may come again as the same object (retry: a receiver's batch) or not (the
// idle timer's own, made anew at each try): only the first is remembered as refused, for retried to take its
// additions out. An idle batch kept there would hold every answer waiting, once per tick of an outage.
func (p *auditProcessor) answered(ld plog.Logs, err error, retry bool) {
	// A rule reload replaces the state under p.mu, but not its deliveries: a batch sent before a reload is found
	// after it, and its reports go to the throttles of their rules in the state that runs. The read lock is held to
	// the end, so that no reload flushes and drops the throttles a report is being given back to.
	defer p.sending.Done()
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := p.state
	dl := s.deliveries
	dl.mu.Lock()
	a, ok := dl.inflight[ld]
	delete(dl.inflight, ld)
	if ok && err != nil && retry {
		dl.refused[ld] = a
		dl.refusedOrder = append(dl.refusedOrder, refusedBatch{ld, a})
		if len(dl.refusedOrder) > maxRefused {
			if old := dl.refusedOrder[0]; dl.refused[old.ld] == old.a {
				delete(dl.refused, old.ld)
			}
			dl.refusedOrder = dl.refusedOrder[1:]
		}
	}
	dl.mu.Unlock()
	if !ok || err == nil {
		return
	}
	p.requeueClosed(dl, a.closed)
	p.requeueReports(a.due)
}

// requeueReports gives throttle reports that were not delivered back to the throttles of their rules in the running
// state, or, for a rule that no longer has one (a reload removed it), to the deliveries: either way the next batch,
// or the shutdown flush, carries them. The caller holds p.mu.
func (p *auditProcessor) requeueReports(due []window.Pending[heldMatch]) {
	var orphans []window.Pending[heldMatch]
	byRule := map[*ruleThrottle][]window.Pending[heldMatch]{}
	for _, d := range due {
		if t := p.state.throttles[d.Last.rule.ID]; t != nil {
			byRule[t] = append(byRule[t], d)
		} else {
			orphans = append(orphans, d)
		}
	}
	var lost []ruleLoss
	for t, ds := range byRule {
		if n := t.th.Requeue(ds); n > 0 {
			lost = append(lost, ruleLoss{rule: ds[0].Last.rule, dropped: n})
		}
	}
	p.droppedReports(append(lost, p.waitReports(orphans)...))
}

// waitReports keeps reports that have no throttle to go back to in the deliveries, at most max_keys of each rule, as
// its throttle keeps them (window.Throttle.Requeue: merged by key, then the newest): one rule's flood cannot push out
// another's reports. The bound is per rule of the reports, not per running throttle: a reload that removed the
// throttles leaves their reports here. It returns what it dropped of each rule.
func (p *auditProcessor) waitReports(reports []window.Pending[heldMatch]) []ruleLoss {
	if len(reports) == 0 {
		return nil
	}
	dl := p.state.deliveries
	dl.mu.Lock()
	defer dl.mu.Unlock()
	all := append(dl.reports, reports...)
	var ids []string
	byRule := map[string][]window.Pending[heldMatch]{}
	over := false
	for _, r := range all {
		id := r.Last.rule.ID
		if _, ok := byRule[id]; !ok {
			ids = append(ids, id)
		}
		byRule[id] = append(byRule[id], r)
		over = over || len(byRule[id]) > p.cfg.MaxKeys
	}
	if !over {
		dl.reports = all
		return nil
	}
	var lost []ruleLoss
	kept := make([]window.Pending[heldMatch], 0, len(all))
	for _, id := range ids {
		rs, n := window.MergePending(byRule[id], p.cfg.MaxKeys, func(r window.Pending[heldMatch]) string { return r.Key })
		if n > 0 {
			lost = append(lost, ruleLoss{rule: rs[0].Last.rule, dropped: n})
		}
		kept = append(kept, rs...)
	}
	// In the order of their matches, as one bound over them all left them.
	slices.SortStableFunc(kept, func(a, b window.Pending[heldMatch]) int { return a.LastAt.Compare(b.LastAt) })
	dl.reports = kept
	return lost
}

// droppedReports counts and logs throttle reports dropped past their bound while the next consumer refused them,
// naming each rule that lost reports.
func (p *auditProcessor) droppedReports(lost []ruleLoss) {
	slices.SortFunc(lost, func(a, b ruleLoss) int { return strings.Compare(a.rule.ID, b.rule.ID) })
	for _, l := range lost {
		p.telemetry.ProcessorAuditdetectRiskEventsDropped.Add(context.Background(), int64(l.dropped), reasonReportBacklog)
		p.logger.Warn("throttle reports dropped: the next consumer refused them for longer than their bound "+
			"(max_keys keys per throttled rule), the rule's oldest first", zap.String("rule", l.rule.Name),
			zap.String("rule_id", l.rule.ID), zap.Int("dropped", l.dropped), zap.Int("kept", p.cfg.MaxKeys))
	}
}

// deliveryWatch is the next consumer as processorhelper sees it: it passes each batch on and tells the processor
// what came back (processorhelper calls it with the batch the processor returned, on the same goroutine).
type deliveryWatch struct {
	consumer.Logs
	p *auditProcessor
	// own says the batches are the processor's own (the idle timer's): none comes again as the same object.
	own bool
}

func (w deliveryWatch) ConsumeLogs(ctx context.Context, ld plog.Logs) (err error) {
	// A next consumer that panics has not taken the batch: it is answered as refused, so that shutdown, waiting for
	// the batches on their way, does not wait for it forever.
	err = errPanicked
	defer func() { w.p.answered(ld, err, !w.own) }()
	err = w.Logs.ConsumeLogs(ctx, ld)
	return err
}

var errPanicked = errors.New("the next consumer panicked")

// appendReports writes one risk record set per held-back report: the latest held match, whose suppressed_count says
// how many more were held with it. Reports go into new resources, each a copy of the resource its match came from.
func (p *auditProcessor) appendReports(ld plog.Logs, due []window.Pending[heldMatch]) (added, dropped int) {
	var lrs plog.LogRecordSlice
	var cur *pcommon.Resource
	for _, d := range due {
		h := d.Last
		if h.resource != cur || cur == nil {
			rl := ld.ResourceLogs().AppendEmpty()
			if h.resource != nil {
				h.resource.CopyTo(rl.Resource())
			}
			lrs = rl.ScopeLogs().AppendEmpty().LogRecords()
			cur = h.resource
		}
		src := plog.NewLogRecord()
		res := engine.Result{
			Matches:    []engine.Match{{Rule: h.rule, Rows: []engine.Row{withSuppressed(h.row, d.Held-1)}}},
			AuditID:    h.auditID,
			Time:       d.LastAt,
			Provenance: h.provenance,
		}
		a, dr := p.writer.AppendRiskRecords(lrs, src, res)
		added += a
		dropped += dr
	}
	return added, dropped
}

// writeClosed takes the answers of closed windows (those waiting first), counts the new ones as matches of their
// rules, passes them through their throttles and writes them into ld in a resource of their own (a copy of res). It
// returns the answers written, to be given back if ld is refused: an answer its throttle held back is counted in the
// throttle, whose report carries it (given back too, it would be counted again by a throttle that has not seen it:
// after a restart, or a reload that changed its rule).
func (p *auditProcessor) writeClosed(ctx context.Context, ld plog.Logs, b *batch, res *pcommon.Resource) (closed []engine.Closed, added, dropped int) {
	d := p.state.deliveries
	closed, fresh := d.takeClosed(p.detector.engine)
	// A window's answer is a match of its rule, counted once: when it is taken, not when a refused batch's answers
	// come again.
	for _, c := range closed[len(closed)-fresh:] {
		p.telemetry.ProcessorAuditdetectRuleMatches.Add(ctx, 1, p.ruleAttrs[c.Rule.ID])
	}
	// Each answer goes into the resource its group's last event came in (a gateway serving several clusters), in
	// the order the answers came.
	var origins []uint64
	byOrigin := map[uint64][]engine.Closed{}
	for _, c := range closed {
		if _, ok := byOrigin[c.Origin]; !ok {
			origins = append(origins, c.Origin)
		}
		byOrigin[c.Origin] = append(byOrigin[c.Origin], c)
	}
	var sent []engine.Closed
	for _, o := range origins {
		r := d.resourceOf(o, res)
		kept, out := p.throttleClosed(byOrigin[o], b, r)
		a, dr := p.appendClosed(ld, kept, r)
		added, dropped, sent = added+a, dropped+dr, append(sent, out...)
	}
	return sent, added, dropped
}

// throttleClosed passes the answers of closed windows through their rules' throttles, as matches at the window's end:
// a rule answered at its close and throttled per user reports a user once per throttle window. An answer's identity
// (its rule, window end and group) makes the throttle give a retried answer the decision it gave the first time.
// It returns the answers to write (with suppressed_count) and, as taken, those that go out (not held back).
func (p *auditProcessor) throttleClosed(closed []engine.Closed, b *batch, res *pcommon.Resource) (kept, out []engine.Closed) {
	if len(p.state.throttles) == 0 {
		return closed, closed
	}
	resource := pcommon.NewResource()
	if res != nil {
		resource = *res
	}
	// Each call is one group of answers with a resource of its own (writeClosed: one per origin): the batch's copy
	// of the previous group's resource must not be reused for the matches this one holds back.
	b.resIdx = -1
	for _, c := range closed {
		if t := p.state.throttles[c.Rule.ID]; t != nil && admitted(c.Row) {
			// Given back after its throttle let it out: it carries the count it was let out with, which the
			// throttle no longer holds (a restart, or the throttle's memory of decisions moved on, would
			// otherwise decide it again and lose that count).
			kept, out = append(kept, c), append(out, c)
			continue
		}
		r := p.throttle(engine.Result{Matches: []engine.Match{{Rule: c.Rule, Rows: []engine.Row{c.Row}}},
			AuditID: closedIdentity(c), Time: c.Time}, b, -2, resource)
		for _, m := range r.Matches {
			for _, row := range m.Rows {
				a := engine.Closed{Rule: m.Rule, Row: row, Time: c.Time, Origin: c.Origin}
				kept, out = append(kept, a), append(out, a)
			}
		}
	}
	return kept, out
}

// admitted reports whether an answer's row has been through its throttle: withSuppressed put suppressed_count last,
// a number (a rule's own field of that name is replaced by it, so no rule row ends so otherwise).
func admitted(row engine.Row) bool {
	n := len(row.Fields)
	return n > 0 && row.Fields[n-1].Name == SuppressedCountField && row.Fields[n-1].Numeric
}

// closedIdentity names an answer of a closed window as the audit ID names an event: its rule, window end and row.
func closedIdentity(c engine.Closed) string {
	var id strings.Builder
	fmt.Fprintf(&id, "closed\x00%s\x00%d", c.Rule.ID, c.Time.UnixNano())
	for _, f := range c.Row.Fields {
		id.WriteByte(0)
		id.WriteString(strings.Join(f.Values, "\x1f"))
	}
	return id.String()
}

// appendClosed writes the risk records of the answers of windows that closed, in one new resource (a copy of res,
// the stream's resource, when there is one).
func (p *auditProcessor) appendClosed(ld plog.Logs, closed []engine.Closed, res *pcommon.Resource) (added, dropped int) {
	if len(closed) == 0 {
		return 0, 0
	}
	rl := ld.ResourceLogs().AppendEmpty()
	if res != nil {
		res.CopyTo(rl.Resource())
	}
	lrs := rl.ScopeLogs().AppendEmpty().LogRecords()
	for _, c := range closed {
		a, d := p.writer.AppendRiskRecords(lrs, plog.NewLogRecord(), engine.Result{
			Matches: []engine.Match{{Rule: c.Rule, Rows: []engine.Row{c.Row}}}, Time: c.Time})
		added += a
		dropped += d
	}
	return added, dropped
}

// maxOrigins bounds the resources kept for answers of closed windows: a gateway serves a few clusters, or the
// agents of a few hundred nodes.
const maxOrigins = 4096

// resourceOrigin names a resource by its attributes, whatever their order: the sum of a hash of each attribute
// (FNV-1a of its key, its value's type and its value). Never 0, which is no origin.
func resourceOrigin(res pcommon.Resource) uint64 {
	var sum uint64
	res.Attributes().Range(func(k string, v pcommon.Value) bool {
		const offset, prime = 14695981039346656037, 1099511628211
		h := uint64(offset)
		for i := 0; i < len(k); i++ {
			h = (h ^ uint64(k[i])) * prime
		}
		h = (h ^ 0xff) * prime // between key and value
		// The value's type: an int 1 and a string "1", or a slice and its JSON in a string, are other resources.
		h = (h ^ uint64(v.Type())) * prime
		s := v.Str()
		if v.Type() != pcommon.ValueTypeStr {
			s = v.AsString()
		}
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
		sum += h
		return true
	})
	if sum == 0 {
		sum = 1
	}
	return sum
}

// origin returns the origin of res, keeping a copy of res for the answers of windows that close later.
func (d *deliveries) origin(res pcommon.Resource) uint64 {
	o := resourceOrigin(res)
	d.keepOrigin(o, res)
	return o
}

// keepOrigin remembers res (a copy, when it is new) as the resource of origin o.
func (d *deliveries) keepOrigin(o uint64, res pcommon.Resource) {
	key := strconv.FormatUint(o, 16)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.origins.Get(key); !ok {
		c := pcommon.NewResource()
		res.CopyTo(c)
		d.origins.Add(key, c, nil)
	}
}

// resourceOf returns the resource of an origin, or fallback when it is not known (0, evicted, or from before a
// restart without it).
func (d *deliveries) resourceOf(origin uint64, fallback *pcommon.Resource) *pcommon.Resource {
	if origin == 0 {
		return fallback
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.origins.Get(strconv.FormatUint(origin, 16)); ok {
		return r
	}
	return fallback
}

// batchResource returns the resource answers of closed windows are written in: a copy of the batch's first
// resource (the stream's: k8s.cluster.name and the like), kept for the answers a shutdown sends. Nothing is copied
// when no rule answers at a window's close.
func (d *deliveries) batchResource(ld plog.Logs, e *engine.Engine) *pcommon.Resource {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e.AnswersAtClose() && ld.ResourceLogs().Len() > 0 {
		c := pcommon.NewResource()
		ld.ResourceLogs().At(0).Resource().CopyTo(c)
		d.resource = &c
	}
	return d.resource
}

// flushState pushes the throttles' held-back counts downstream at shutdown (keep nil), and at a rule reload those of
// the rules not in keep: processorhelper's shutdown has no consumer, so the processor keeps its own reference to the
// next one.
func (p *auditProcessor) flushState(ctx context.Context, keep map[string]bool) error {
	var due []window.Pending[heldMatch]
	ids := make([]string, 0, len(p.state.throttles))
	for id := range p.state.throttles {
		if !keep[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		due = append(due, p.state.throttles[id].th.Flush()...)
	}
	if keep == nil {
		due = append(due, p.state.deliveries.takeReports()...)
	}
	if len(due) == 0 || p.state.next == nil {
		return nil
	}
	ld := plog.NewLogs()
	added, dropped := p.appendReports(ld, due)
	if err := p.state.next.ConsumeLogs(ctx, ld); err != nil {
		// The reports wait for the next batch (a reload: their throttles are about to go) or, at shutdown, for the
		// final save and the next start.
		p.droppedReports(p.waitReports(due))
		return err
	}
	p.telemetry.ProcessorAuditdetectRiskEvents.Add(ctx, int64(added))
	if dropped > 0 {
		p.telemetry.ProcessorAuditdetectRiskEventsDropped.Add(ctx, int64(dropped), reasonPerRecord)
	}
	p.logger.Info("flushed held-back throttle counts", zap.Int("risk_records", added))
	return nil
}

// flushClosed sends, at shutdown, the answers of windows that closed and were not sent yet (through their throttles);
// answers the next consumer refuses are kept for the final save, and sent after a restart with storage. A window
// still open is not answered early: it is saved with storage, as a scheduled search would answer it only at its end.
func (p *auditProcessor) flushClosed(ctx context.Context) error {
	if p.cfg.Mode != ModeFork || p.state.next == nil {
		return nil
	}
	d := p.state.deliveries
	ld := plog.NewLogs()
	b := newBatch()
	closed, added, dropped := p.writeClosed(ctx, ld, b, d.resource)
	// The throttles may have made reports due (a key whose window the answers' time passed, a key evicted): they
	// go back to their throttles, for the throttles' flush that follows.
	p.requeueReports(b.due)
	if len(closed) == 0 {
		return nil
	}
	err := p.state.next.ConsumeLogs(ctx, ld)
	if err != nil {
		p.requeueClosed(d, closed)
		return fmt.Errorf("answers of closed windows not delivered at shutdown (kept in storage, if configured): %w", err)
	}
	p.telemetry.ProcessorAuditdetectRiskEvents.Add(ctx, int64(added))
	if dropped > 0 {
		p.telemetry.ProcessorAuditdetectRiskEventsDropped.Add(ctx, int64(dropped), reasonPerRecord)
	}
	return nil
}

// route sets the TraceID of an audit record that a windowed rule counts from the rule's key (route mode), and the
// routing attribute when one is configured. Other records keep their TraceID: the loadbalancing exporter sends a
// record without one anywhere.
func (p *auditProcessor) route(rec plog.LogRecord, body []byte, eval *engine.Evaluator) bool {
	key, ok, err := eval.RouteKey(body)
	if err != nil {
		return false
	}
	if ok {
		rec.SetTraceID(RouteTraceID(key))
		if p.cfg.RoutingAttribute != "" {
			rec.Attributes().PutStr(p.cfg.RoutingAttribute, key)
		}
	}
	return true
}

// RouteTraceID is the TraceID of a routing key: the 128-bit FNV-1a hash of the key, the same in every collector
// and every version, so that every agent sends a key to the same gateway.
func RouteTraceID(key string) pcommon.TraceID {
	h := fnv.New128a()
	h.Write([]byte(key))
	var id pcommon.TraceID
	copy(id[:], h.Sum(nil))
	if id.IsEmpty() {
		id[15] = 1 // an empty TraceID would be routed at random
	}
	return id
}

// recordState reports the keys held and evicted by every stateful rule (windowed stats groups, new_terms value
// combinations, keys with a sequence in progress, throttle keys), the late events and the held matches, the events
// whose stats groups were cut, and the events sequence rules took without holding them (logged once per burst).
func (p *auditProcessor) recordState(ctx context.Context) {
	s := p.state
	s.mu.Lock()
	defer s.mu.Unlock()
	tb := p.telemetry
	for id, n := range p.detector.engine.GroupsCut() {
		s.addDelta(ctx, tb.ProcessorAuditdetectStatsGroupsCut, "cut", id, n, s.attr(id, ""))
	}
	for _, w := range p.detector.engine.WindowStats() {
		attrs := s.attr(w.Rule.ID, "stats")
		tb.ProcessorAuditdetectWindowKeys.Record(ctx, int64(w.Keys), attrs)
		s.addDelta(ctx, tb.ProcessorAuditdetectWindowEvictedKeys, "evicted/stats", w.Rule.ID, w.Evicted, attrs)
		s.addDelta(ctx, tb.ProcessorAuditdetectWindowLateEvents, "late", w.Rule.ID, w.Late, s.attr(w.Rule.ID, ""))
	}
	for id, n := range p.detector.engine.NewTermsKeys() {
		attrs := s.attr(id, "new_terms")
		tb.ProcessorAuditdetectWindowKeys.Record(ctx, int64(n[0]), attrs)
		s.addDelta(ctx, tb.ProcessorAuditdetectWindowEvictedKeys, "evicted/new_terms", id, n[1], attrs)
	}
	for id, n := range p.detector.engine.SequenceLate() {
		s.addDelta(ctx, tb.ProcessorAuditdetectWindowLateEvents, "late/sequence", id, n, s.attr(id, ""))
	}
	for id, n := range p.detector.engine.SequenceKeys() {
		attrs := s.attr(id, "sequence")
		tb.ProcessorAuditdetectWindowKeys.Record(ctx, int64(n[0]), attrs)
		s.addDelta(ctx, tb.ProcessorAuditdetectWindowEvictedKeys, "evicted/sequence", id, n[1], attrs)
	}
	for _, h := range p.detector.engine.SequenceHolding() {
		s.addDelta(ctx, tb.ProcessorAuditdetectSequenceEventsUnheld, "unheld", h.Rule.ID, h.Unheld, s.attr(h.Rule.ID, ""))
		// Once per burst (a run of such events, over when a lateness passes without one), not per batch.
		prev := s.reported[reportKey{"bursts", h.Rule.ID}]
		if h.Bursts < prev {
			prev = 0 // an engine a reload made counts from zero
		}
		if h.Bursts > prev {
			p.logger.Warn("sequence rule at max_keys (events held for late arrivals, or keys): it takes events "+
				"without holding them allowed_lateness for older ones, and drops as late an older event of their key "+
				"arriving after them (sequence_events_unheld, window_late_events); raise max_keys if this recurs",
				zap.String("rule", h.Rule.Name), zap.String("rule_id", h.Rule.ID), zap.Uint64("events", h.Unheld),
				zap.Int("held", h.Held))
		}
		s.reported[reportKey{"bursts", h.Rule.ID}] = h.Bursts
	}
	for id, t := range s.throttles {
		keys, evicted, held := t.th.Stats()
		attrs := s.attr(id, "throttle")
		tb.ProcessorAuditdetectWindowKeys.Record(ctx, int64(keys), attrs)
		s.addDelta(ctx, tb.ProcessorAuditdetectWindowEvictedKeys, "evicted/throttle", id, evicted, attrs)
		s.addDelta(ctx, tb.ProcessorAuditdetectThrottledMatches, "held", id, held, s.attr(id, ""))
	}
}

// reportKey names a count the state telemetry reported: what ("evicted/stats") and of which rule; attrKey an
// attribute set. Pairs, not joined strings: recordState runs once a batch, and joining the names cost it an
// allocation for each count of each stateful rule.
type (
	reportKey struct{ name, ruleID string }
	attrKey   struct{ ruleID, state string }
)

// addDelta adds to counter what a cumulative count gained since it was last reported.
func (s *stateful) addDelta(ctx context.Context, counter metric.Int64Counter, name, ruleID string, total uint64,
	attrs metric.MeasurementOption,
) {
	key := reportKey{name, ruleID}
	prev := s.reported[key]
	if total < prev {
		// A total that went down belongs to a store that started again (a rule reload): all of it is new.
		prev = 0
	}
	if d := total - prev; d > 0 {
		counter.Add(ctx, int64(d), attrs)
	}
	s.reported[key] = total
}

func (s *stateful) attr(ruleID, state string) metric.MeasurementOption {
	key := attrKey{ruleID, state}
	if a, ok := s.attrs[key]; ok {
		return a
	}
	kvs := []attribute.KeyValue{attribute.String("rule_id", ruleID)}
	if state != "" {
		kvs = append(kvs, attribute.String("state", state))
	}
	a := metric.WithAttributeSet(attribute.NewSet(kvs...))
	s.attrs[key] = a
	return a
}
