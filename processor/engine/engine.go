// Package engine compiles rules of the rule model into matchers, indexes them by audit operation, and evaluates
// audit events against them. Compile once, evaluate many: an Engine is immutable apart from the windowed state of
// stats rules, and is safe for concurrent use; per-evaluation scratch space is pooled.
package engine

import (
	"crypto/sha256"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/lint"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// Options tune compilation.
type Options struct {
	// GeoIP serves `iplocation`. Without it, rules that use iplocation fail to compile.
	GeoIP GeoIP
	// Window is the length of the event-time windows of stats rules that filter on an aggregate. Default 1h, the
	// interval ESCU detections are scheduled at.
	Window time.Duration
	// MaxKeys bounds the groups a windowed rule holds; the least recently updated is evicted. Default 100000.
	MaxKeys int
	// RuleWindows overrides Window for the rules with these IDs.
	RuleWindows map[string]time.Duration
	// AllowedLateness keeps a window open for events up to this much older than the newest event a windowed rule
	// has seen; an event for a window closed by then is dropped and counted. Default 0.
	AllowedLateness time.Duration
	// ReplayKeys bounds the event identities a stateful rule remembers, so that an event delivered again is not
	// counted again (replay.go). Default DefaultReplayKeys.
	ReplayKeys int
	// NewTermsLearning is how long, in event time from the first event a new_terms rule sees, the rule only learns
	// the combinations it sees and reports none: its history starts empty (at start-up, and after a reload that
	// changes the rule), so without it every combination of the traffic is reported once as new. Default 0: report
	// from the start.
	NewTermsLearning time.Duration
	// KeepClock keeps the clock of windows answered at their close (Clock, AdvanceClock, Evaluator.MoveClock) even
	// when no rule answers at its window's close: the processor's throttles move with it.
	KeepClock bool
	// NoCloseResults refuses windowed rules whose conditions can stop holding as the window fills, which are
	// answered when the window closes (TakeClosed): the processor's enrich mode has no record to write such an
	// answer on.
	NoCloseResults bool
	// RowFields adds, by rule ID, event fields to the result rows of rules without stats (rows that are the matching
	// event, which otherwise carry only the risk, threat and message fields and a summary): the fields a throttle
	// keys on, for one.
	RowFields map[string][]string
	// SkipNeverMatching leaves out of the evaluation the rules processor/lint says can never match an API server's
	// audit event (a term such as a top-level hostPath, or responseStatus.code=ALLOW, that no API server writes):
	// they are compiled, listed and counted like every rule, but no event is a candidate for them, where each would
	// cost every event of its operations a read and a test for nothing. The processor and the tools set it (and warn
	// of such rules); unset, every rule is evaluated as written, on any JSON (the compilers' tests).
	SkipNeverMatching bool
	// CountPrefilters counts, for each rule with a literal prefilter, the events that reach it, pass it, and then
	// hold the terms it guards (Engine.Prefilter), for `auditdetect rule-cost`. The processor leaves it off: three
	// atomic counts per evaluation are not free.
	CountPrefilters bool
}

// DefaultWindow is the window of windowed stats rules when Options.Window is zero.
const DefaultWindow = time.Hour

// MaxStateDuration bounds windows, allowed lateness and learning periods of event-time state (the processor's
// settings and the CLI's flags): past a year they mean nothing for an audit stream, and their sums with event times
// (a window's end plus its lateness) would overflow.
const MaxStateDuration = 366 * 24 * time.Hour

// DefaultMaxKeys is the group limit per windowed rule when Options.MaxKeys is zero.
const DefaultMaxKeys = 100000

// Engine evaluates audit events against compiled rules.
type Engine struct {
	rules   []*compiledRule
	index   *opIndex
	states  statePool
	auditID *event.Path
	stage   *event.Path
	times   []*event.Path
	// routeBy are the by-fields every windowed rule groups on, read from the event (route.go).
	routeBy []*fieldRef
	// newest is the newest event time read for a stateful rule, in Unix nanoseconds (closed.go), kept when a rule
	// answers at its window's close (atClose) or the caller asked for it (clocked).
	newest  atomic.Int64
	atClose bool
	clocked bool
	// readsTail says evaluation reads the end of an event, where the API server writes the timestamps and the
	// annotations (Evaluator.Prefetch).
	readsTail bool
}

type compiledRule struct {
	rule   *rule.Rule
	ops    []Operation
	filter node
	pre    []stageExec
	window *windowedStats
	// eventBy are the windowed stats' by-fields that come from the event itself, or a sequence's key fields
	// (route.go); routed says the rule's state is per key, so that a scale-out routes its events by eventBy.
	eventBy []*fieldRef
	routed  bool
	post    []stageExec
	// expose lists the event fields a row shows when no stats built it: the risk block's fields and a summary.
	expose []*fieldRef
	// timed says a stage before any window reads the event's time (new_terms).
	timed bool
	// clock says a value reads the event's time (event_time()): it is computed for the rule, without the state
	// timed rules keep.
	clock bool
	// groupsCut counts the events whose stats or new_terms by-fields held more value combinations than one event
	// may make groups (maxGroupsPerEvent).
	groupsCut atomic.Uint64
	// replay remembers what a stateful rule produced per event identity (replay.go); nil for stateless rules.
	replay *replayStore
	// tail says the rule's state or pipeline reads the end of the events its filter passes (readsTail).
	tail bool
	// stateKey identifies what the rule's detection state depends on, for AdoptState and RestoreState (adopt.go);
	// definitionKey is the key state was kept by before, which saved state carries too (persist.go).
	stateKey      string
	definitionKey [sha256.Size]byte
}

// evalState is one goroutine's parser and scratch space.
type evalState struct {
	parser event.Parser
	ctx    evalCtx
}

// statePool keeps evaluation states (a parser and its buffers) for reuse. It is a sync.Pool, which keeps one cache
// per CPU: a lock shared by every goroutine (a free list that outlives garbage collections, tried in commit 9ee82bb)
// made two concurrent RouteKey calls 2-3 times slower. sync.Pool drops its states at every second collection, and a
// fresh state allocates and relearns the key orders over its first events: about 90 µs, once per collection pair,
// a fraction of a percent of a busy collector's time.
type statePool struct{ pool sync.Pool }

func (p *statePool) get() *evalState {
	if st, ok := p.pool.Get().(*evalState); ok {
		return st
	}
	return &evalState{}
}

// put gives the state back without the last body it read: an idle state must not keep an event (a huge EventList
// record, of which the event was a part) from being collected.
func (p *statePool) put(st *evalState) {
	st.parser.Release()
	st.ctx.evRow.ev = nil
	clear(st.ctx.evRow.fields[:cap(st.ctx.evRow.fields)]) // values of the last event's columns
	p.pool.Put(st)
}

// summaryFields are shown on rows of rules without stats (Sigma, Elastic), so a risk event says what happened
// without copying the whole audit event into indexed fields.
var summaryFields = []string{
	"verb", "objectRef.resource", "objectRef.subresource", "objectRef.namespace", "objectRef.name",
	"user.username", "sourceIPs{}", "userAgent", "responseStatus.code",
}

// Compile compiles the rules. A rule that cannot be compiled yields a *rule.Error naming it.
func Compile(rules []*rule.Rule, opts Options) (*Engine, error) { return compile(rules, opts, true) }

// compile is Compile; with share false no term is shared (shared.go), so that tests can compare the two.
func compile(rules []*rule.Rule, opts Options, share bool) (*Engine, error) {
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.ReplayKeys <= 0 {
		opts.ReplayKeys = DefaultReplayKeys
	}
	e := &Engine{
		auditID: event.CompilePath("auditID", false),
		stage:   event.CompilePath("stage", false),
		times: []*event.Path{
			event.CompilePath("stageTimestamp", false),
			event.CompilePath("requestReceivedTimestamp", false),
		},
	}
	fs := &fields{refs: map[rule.Field]*fieldRef{}}
	if share {
		fs.shared = sharedTerms(rules)
	}
	var allOps [][]Operation
	for _, r := range rules {
		cr, err := compileRule(r, opts, fs)
		if err != nil {
			return nil, &rule.Error{File: r.Origin.File, Line: r.Origin.Line, Rule: r.Name, Reason: err.Error()}
		}
		e.rules = append(e.rules, cr)
		if opts.SkipNeverMatching && lint.Check(r).NeverMatches {
			allOps = append(allOps, nil) // in no operation's bucket: never a candidate
			continue
		}
		allOps = append(allOps, cr.ops)
	}
	e.index = buildIndex(allOps)
	e.routeBy = sharedFields(e.rules)
	e.atClose = e.answersAtClose()
	e.clocked = e.atClose || opts.KeepClock
	e.readsTail = readsTail(e.rules, fs)
	return e, nil
}

// readsTail says whether evaluating an event reads its end: a stateful rule reads the event's time (stageTimestamp,
// requestReceivedTimestamp), and a filter or a pipeline may read them or the annotations. The other fields rules read
// are in the head or in the request and response objects, which the reader reaches by streaming through them.
func readsTail(rules []*compiledRule, fs *fields) bool {
	for _, cr := range rules {
		if cr.tail {
			return true
		}
	}
	for f := range fs.refs {
		if inTail(f.Name) {
			return true
		}
	}
	return false
}

// pipelineReadsTail says whether a rule's pipeline reads a field at an event's end: rs holds the fields its stages
// read by name, and where, search and eval conditions compile theirs on their own.
func pipelineReadsTail(stages []rule.Stage, rs refs) bool {
	tail := false
	in := func(f rule.Field) { tail = tail || inTail(f.Name) }
	for name := range rs {
		in(rule.Field{Name: name})
	}
	for _, st := range stages {
		rule.EachExprField(st, in)
	}
	return tail
}

// inTail says whether a field is one the API server writes at an event's end.
func inTail(name string) bool {
	switch top, _, _ := strings.Cut(name, "."); top {
	case "annotations", "stageTimestamp", "requestReceivedTimestamp":
		return true
	}
	return false
}

// Runnable splits rules into those the engine compiles, each on its own, and the errors of those it refuses (a
// windowed condition that can stop holding as the window fills, iplocation without a database...): a loader reads
// rule files, and only the engine knows what it can run. Under on_rule_error: skip the processor and the tools run
// the first and report the second.
func Runnable(rules []*rule.Rule, opts Options) ([]*rule.Rule, []error) {
	kept := rules[:0:0]
	var refused []error
	for _, r := range rules {
		if _, err := Compile([]*rule.Rule{r}, opts); err != nil {
			refused = append(refused, err)
			continue
		}
		kept = append(kept, r)
	}
	return kept, refused
}

func compileRule(r *rule.Rule, opts Options, fs *fields) (*compiledRule, error) {
	if err := checkComparisons(r); err != nil {
		return nil, err
	}
	var count *prefilterCount
	if opts.CountPrefilters {
		count = &prefilterCount{}
	}
	ops := requiredOps(r.Filter)
	// The index makes an event a candidate of the rule only by its operation (Compile): the conjuncts it decides are
	// not tested again.
	filter, err := compileFilter(undecided(r.Filter, ops), hoisted(r), fs, count)
	if err != nil {
		return nil, err
	}
	cr := &compiledRule{rule: r, filter: filter, ops: ops}
	rs := refs{}
	pre, win, post, err := compilePipeline(r, rs, opts, fs, &cr.groupsCut)
	if err != nil {
		return nil, err
	}
	cr.pre, cr.post = pre, post
	cr.timed = readsTime(r.Pipeline)
	cr.clock = readsEventTime(r.Pipeline)
	_, sequence := firstStage(r.Pipeline).(rule.Sequence)
	if cr.timed || win != nil {
		// Windows and sequences change state on events that produce no row: every event is remembered.
		cr.replay = newReplayStore(opts.ReplayKeys, win != nil || sequence)
	}
	// Before the exposed fields join rs: only a match reads them.
	cr.tail = cr.replay != nil || cr.clock || pipelineReadsTail(r.Pipeline, rs)
	var size time.Duration
	if win != nil {
		size = opts.Window
		if r.Window > 0 {
			size = r.Window
		}
		if d, ok := opts.RuleWindows[r.ID]; ok && d > 0 {
			size = d
		}
		if err := checkTimeBuckets(r.Pipeline, windowedStatsIndex(r.Pipeline), size); err != nil {
			return nil, err
		}
		cr.window = newWindowedStats(*win, rs, size, opts.AllowedLateness, opts.MaxKeys, &cr.groupsCut)
		cr.window.feedsAfterFire = slices.ContainsFunc(cr.post, func(s stageExec) bool { _, ok := s.(*newTermsStage); return ok })
		// Forgetting a settled event is safe only when a second run of it changes nothing before the window either,
		// and while it would take more new groups than the redelivery memory holds events to evict its group
		// (windowedStats.update): the memory would have forgotten the event by then too.
		cr.window.maxKeys, cr.window.replayKeys = opts.MaxKeys, opts.ReplayKeys
		cr.window.forgetSettled = !slices.ContainsFunc(cr.pre, func(s stageExec) bool {
			switch s.(type) {
			case *newTermsStage, *sequenceStage:
				return true
			}
			return false
		})
		cr.eventBy = eventByFields(r.Pipeline, win.stats, rs)
		cr.routed = true
	}
	if sq, ok := firstStage(r.Pipeline).(rule.Sequence); ok {
		size = sequenceSpan(r, sq, opts)
		// A sequence with no key all its steps share is not routed: its events go wherever the others' keys send
		// them (docs/stateful.md, Scale-out).
		keyFields := sequenceKeyFields(sq)
		cr.eventBy, cr.routed = keyFields, len(keyFields) > 0
	}
	cr.stateKey, cr.definitionKey = stateKeys(r, size, opts.AllowedLateness, opts.MaxKeys, opts.ReplayKeys)
	if !hasStats(r.Pipeline) {
		seen := map[string]bool{}
		var names []string
		for _, o := range r.Risk.Objects {
			names = append(names, o.Field)
		}
		for _, t := range r.Risk.Threats {
			names = append(names, t.Field)
		}
		// Every field a token can ask for, whichever others the row fills (a token left unfilled gives its closing
		// `$` to the next one).
		names = append(names, rule.MessageFields(r.Risk.Message)...)
		names = append(names, summaryFields...)
		names = append(names, opts.RowFields[r.ID]...)
		for _, st := range r.Pipeline {
			// The fields a table or fields names one by one are shown, as the search's results show them.
			if p, ok := st.(rule.Project); ok && !p.Remove {
				names = append(names, p.Names()...)
			}
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				cr.expose = append(cr.expose, rs.get(n))
			}
		}
	}
	return cr, nil
}

func hasStats(stages []rule.Stage) bool {
	for _, s := range stages {
		if _, ok := s.(rule.Stats); ok {
			return true
		}
	}
	return false
}

// Prefilter is a rule's literal prefilter (prefilter.go) and, under Options.CountPrefilters, what it did. Clauses
// must all hold, each when the event's bytes hold one of its literals; Reached counts the events that passed the
// rule's cheaper terms and were searched, Passed those the search let through, Held those whose guarded terms then
// held.
type Prefilter struct {
	Clauses               [][]Literal
	Reached, Passed, Held uint64
}

// Literal is one string a prefilter searches for; Fold: in any case.
type Literal struct {
	Text string
	Fold bool
}

// Prefilter returns r's literal prefilter; false when r has none (every term it has reads the head or the tail,
// or no literal guards the others) or is not one of e's rules.
func (e *Engine) Prefilter(r *rule.Rule) (Prefilter, bool) {
	for _, cr := range e.rules {
		if cr.rule != r {
			continue
		}
		g, ok := cr.filter.(gateNode)
		if !ok || len(g.lits) == 0 {
			return Prefilter{}, false
		}
		var p Prefilter
		for _, cl := range g.lits {
			var lits []Literal
			for _, n := range cl {
				lits = append(lits, Literal{Text: string(n.lit), Fold: n.fold})
			}
			p.Clauses = append(p.Clauses, lits)
		}
		if g.count != nil {
			p.Reached, p.Passed, p.Held = g.count.reached.Load(), g.count.passed.Load(), g.count.held.Load()
		}
		return p, true
	}
	return Prefilter{}, false
}

// Rules returns the compiled rules in order.
func (e *Engine) Rules() []*rule.Rule {
	out := make([]*rule.Rule, len(e.rules))
	for i, cr := range e.rules {
		out[i] = cr.rule
	}
	return out
}

// Operations returns the operations each rule needs, in rule order (for the coverage catalog).
func (e *Engine) Operations() [][]Operation {
	out := make([][]Operation, len(e.rules))
	for i, cr := range e.rules {
		out[i] = cr.ops
	}
	return out
}

// Match is one rule's result on one event.
type Match struct {
	Rule *rule.Rule
	Rows []Row
}

// Result is what one event produced. Matches is nil for the common case of no match.
type Result struct {
	Matches []Match
	// AuditID, Stage and Time come from the event (auditID; stage; stageTimestamp, else requestReceivedTimestamp)
	// when it matched. AuditID and Stage are the event's identity (each stage of a request is an event of its own).
	AuditID string
	Stage   string
	Time    time.Time
	// Provenance is set by the caller, not the engine: the cloud attributes of the wrapper the event came in
	// (processor/normalize), which the RBA writer copies onto the risk records. Read only.
	Provenance map[string]string
}

// Prefetch starts loading into the CPU's caches the parts of body that evaluating it reads (event.Prefetch), without
// waiting for them: a caller with a batch of events calls it for the next event before it evaluates this one, so that
// the wait for memory overlaps the work.
func (ev *Evaluator) Prefetch(body []byte) { event.Prefetch(body, ev.e.readsTail) }

// Evaluate reads body once, lazily, and runs the rules the event's operation can match. An error means the body is
// not a JSON object; nothing else fails.
//
// The body is read only as far as the candidate rules need (event.Parser.Open): an event that no rule can match is
// usually decided from the fields the API server writes first, and a syntax error in a part never read goes
// unnoticed. An event that matches is checked in full before its matches are returned, so a malformed body never
// reaches the risk records; stateful stages (windows, new terms) may have counted it by then, as checking every
// event a broad stateful filter lets through would cost a full parse of most events.
func (e *Engine) Evaluate(body []byte) (Result, error) {
	ev := e.Evaluator()
	defer ev.Close()
	return ev.Evaluate(body)
}

// An Evaluator evaluates events one after the other with one state (a parser and its buffers), taken from the
// engine's pool once: a caller that evaluates a batch of records takes one per batch instead of one per record. It
// is not safe for concurrent use and must not be copied (go vet says so); Close gives the state back, after which
// the Evaluator must not be used.
type Evaluator struct {
	_  noCopy
	e  *Engine
	st *evalState
	// clock says the events evaluated move the windows' clock whatever rules they are candidates of (MoveClock).
	clock bool
}

// noCopy makes go vet's copylocks check report a copied Evaluator: two copies closed would give one state back twice.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}

// Evaluator takes a state from the pool for a series of evaluations.
func (e *Engine) Evaluator() Evaluator {
	st := e.states.get()
	st.ctx.origin = 0
	return Evaluator{e: e, st: st}
}

// SetOrigin names where the events evaluated next come from (the processor: its batch's resource), until it is set
// again. A window answered at its close keeps the origin of the last event each group counted, in Closed.Origin, so
// that its answer can be written where that event came from. 0 is no origin.
func (ev *Evaluator) SetOrigin(origin uint64) { ev.st.ctx.origin = origin }

// MoveClock says whether the events evaluated next, until it is set again, move the clock of windows answered at
// their close (closed.go) with their own time, whatever rules they are candidates of. Otherwise only the events of
// stateful rules move it, and a rule on a rare operation would answer only with the next rare event while the
// traffic no stateful rule reads (lease renewals) flows. The processor sets it for the last record of a batch: one
// timestamp read per batch rather than per event (per item when that record is an EventList). An event without a readable timestamp moves nothing.
func (ev *Evaluator) MoveClock(on bool) { ev.clock = on }

// Close gives the Evaluator's state back to the engine.
func (ev *Evaluator) Close() {
	if ev.st != nil {
		ev.e.states.put(ev.st)
		ev.st = nil
	}
}

// Evaluate is Engine.Evaluate with the Evaluator's state.
func (ev *Evaluator) Evaluate(body []byte) (Result, error) {
	e, st := ev.e, ev.st
	view, err := st.parser.Open(body)
	if err != nil {
		return Result{}, err
	}
	st.ctx.begin()
	var res Result
	var at time.Time
	st.ctx.ownTime = false // set with at
	noted := false         // at is counted in e.newest
	src := source{view: view}
	for _, i := range e.index.candidates(&st.ctx, view) {
		cr := e.rules[i]
		passed := cr.filter.eval(&st.ctx, src)
		if err := view.Err(); err != nil {
			// The body is malformed where the index or a filter read it: the event is refused (below), so no rule's
			// state may count it. A filter the index decides whole, or one of negations, passes without reading it.
			return Result{}, err
		}
		if !passed {
			continue
		}
		stateful := cr.window != nil || cr.timed
		if (stateful || cr.clock) && at.IsZero() {
			at, st.ctx.ownTime = e.eventTime(view)
		}
		if stateful && e.clocked && !noted {
			// Only a stateful rule's event moves the windows' clock (a stateless rule reading event_time does not).
			newestTime(&e.newest, at)
			noted = true
		}
		var rows []Row
		if id := e.statefulIdentity(cr, view, &st.ctx); id != nil {
			// An event delivered again gets what it produced the first time, without being counted again.
			rows = cr.replay.once(id, cr, &st.ctx, view, at)
		} else {
			rows = cr.run(&st.ctx, view, at)
		}
		if len(rows) > 0 {
			res.Matches = append(res.Matches, Match{Rule: cr.rule, Rows: rows})
		}
	}
	if err := view.Err(); err != nil {
		return Result{}, err
	}
	if ev.clock && e.clocked && !noted {
		if t, ok := e.readTime(view); ok {
			newestTime(&e.newest, t)
		}
	}
	if res.Matches != nil {
		if err := view.Validate(); err != nil {
			return Result{}, err
		}
		if id, ok := view.First(e.auditID); ok {
			res.AuditID = string(id)
		}
		if stage, ok := view.First(e.stage); ok {
			res.Stage = string(stage)
		}
		if at.IsZero() {
			at, _ = e.eventTime(view)
		}
		res.Time = at
	}
	return res, nil
}

// Candidates calls fn with each rule that the event's operation (objectRef.resource × verb) makes a candidate, in
// rule order: the rules whose filters Evaluate would run on it. It is for tools that explain what a rule set costs
// (`auditdetect rule-cost`). As for Evaluate, the body is read only as far as the verb and the resource: an error
// means it is not a JSON object or what was read is malformed.
func (ev *Evaluator) Candidates(body []byte, fn func(*rule.Rule)) error {
	view, err := ev.st.parser.Open(body)
	if err != nil {
		return err
	}
	ev.st.ctx.begin()
	for _, i := range ev.e.index.candidates(&ev.st.ctx, view) {
		fn(ev.e.rules[i].rule)
	}
	return view.Err()
}

// Match is Evaluate for callers that only want the matches (tests, rule tools).
func (e *Engine) Match(body []byte) ([]Match, error) {
	res, err := e.Evaluate(body)
	return res.Matches, err
}

// eventTime is the event's own time, so that replaying an old log gives the answers live traffic gave. An event
// with no readable timestamp takes the current time.
func (e *Engine) eventTime(view *event.View) (at time.Time, own bool) {
	if t, ok := e.readTime(view); ok {
		return t, true
	}
	return time.Now(), false
}

// readTime is the event's own time, if it has a readable timestamp.
func (e *Engine) readTime(view *event.View) (time.Time, bool) {
	for _, p := range e.times {
		if b, ok := view.First(p); ok {
			if t, ok := parseTime(b); ok {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// parseTime parses an RFC 3339 timestamp as time.Parse(time.RFC3339Nano) does. The API server's layout (UTC, "Z",
// up to nine digits of fraction) is read directly; any other spelling, valid or not, is left to time.Parse.
func parseTime(b []byte) (time.Time, bool) {
	if t, ok := parseUTC(b); ok {
		return t, true
	}
	// b2s: the string is not kept (a parse error, which would hold it, is dropped).
	t, err := time.Parse(time.RFC3339Nano, b2s(b))
	return t, err == nil
}

// parseUTC reads YYYY-MM-DDTHH:MM:SS[.F{1,9}]Z with every field in range; ok false for anything else.
func parseUTC(b []byte) (time.Time, bool) {
	const short = len("2006-01-02T15:04:05Z")
	if len(b) < short || len(b) > short+10 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' ||
		b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) int {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(b[0:4]), num(b[5:7]), num(b[8:10])
	hour, minute, sec := num(b[11:13]), num(b[14:16]), num(b[17:19])
	if year < 0 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour < 0 || hour > 23 ||
		minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if len(frac) < 2 || frac[0] != '.' {
			return time.Time{}, false
		}
		if nsec = num(frac[1:]); nsec < 0 {
			return time.Time{}, false
		}
		for k := len(frac) - 1; k < 9; k++ {
			nsec *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// daysIn is the number of days of the month in the (proleptic Gregorian) year.
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// run takes a matching event through the pipeline and returns its result rows.
func (cr *compiledRule) run(c *evalCtx, view *event.View, at time.Time) []Row {
	c.at = at
	// The event's own row lives in the evaluation's scratch space: a filter that passes (a broad new_terms filter
	// passes most events) costs no allocation until the pipeline keeps something.
	// Its fields' and hidden names' space is reused from rule to rule and event to event: a result row copies what
	// it keeps (finish), and an ES|QL rule sets a dozen columns on most events.
	c.evRow = row{ev: view, fields: c.evRow.fields[:0], hidden: c.evRow.hidden[:0], gates: c.evRow.gates[:0]}
	c.evRows[0] = &c.evRow
	rows := c.evRows[:1]
	for _, s := range cr.pre {
		if rows = s.run(c, rows); len(rows) == 0 {
			return nil
		}
	}
	if cr.window != nil {
		var kept []*row
		hits, unchanged := cr.window.update(rows, at, c.origin)
		// An event without a time of its own is given the clock's: delivered again, it can land in another window.
		c.unchanged = unchanged && c.ownTime
		for _, hit := range hits {
			out := []*row{hit.row}
			for _, s := range cr.post {
				if out = s.run(c, out); len(out) == 0 {
					break
				}
			}
			if len(out) > 0 && cr.window.fire(hit.win) {
				kept = append(kept, out...)
			}
		}
		rows = kept
	}
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		out = append(out, cr.finish(r))
	}
	return out
}

// finish turns a working row into a result row; a row that still reads the event shows only the exposed fields.
func (cr *compiledRule) finish(r *row) Row {
	if r.ev == nil {
		return Row{Fields: r.fields}
	}
	fin := &row{}
	for i := range r.fields {
		r.read(i) // a result row holds values, not copies still to read
	}
	fin.fields = append(fin.fields, r.fields...)
	for _, f := range cr.expose {
		if _, set := fin.get(f.name); set {
			continue
		}
		if vals := r.values(f); len(vals) > 0 { // none when a projection took the field away (isHidden)
			fin.set(f.name, vals, false)
		}
	}
	for i := len(r.gates) - 1; i >= 0; i-- {
		if r.gates[i].p.Ordered {
			// The event's fields join the row here: put them in the table's order too.
			r.gates[i].order(fin.fields)
			break
		}
	}
	return Row{Fields: fin.fields}
}

// GroupsCut reports, by rule ID, the events whose stats or new_terms by-fields held more value combinations than
// one event may make groups (1000): the first 999 counted, and the one of each by-field's last value. Rules that
// never cut are left out.
func (e *Engine) GroupsCut() map[string]uint64 {
	var out map[string]uint64
	for _, cr := range e.rules {
		if n := cr.groupsCut.Load(); n > 0 {
			if out == nil {
				out = map[string]uint64{}
			}
			out[cr.rule.ID] = n
		}
	}
	return out
}

// WindowKeys reports, per windowed rule name, the groups held and evicted.
func (e *Engine) WindowKeys() map[string][2]uint64 {
	out := map[string][2]uint64{}
	for _, cr := range e.rules {
		if cr.window != nil {
			held, ev, _ := cr.window.stat()
			out[cr.rule.Name] = [2]uint64{uint64(held), ev}
		}
	}
	return out
}
