package auditdetectprocessor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/gob"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/rule"
	"github.com/auditdetect/auditdetect/processor/window"
)

// Detection state across restarts. With `storage` naming a storage extension (file_storage), the processor restores
// at start-up the state its stateful rules had when it last saved (engine.RestoreState: open stats windows,
// new_terms histories, sequence partials, for every rule whose detection is unchanged: an edited risk block keeps
// them), saves it every checkpoint_interval and at shutdown. A collector restarted for an upgrade or a rescheduled
// pod then neither misses a scan that spans the restart nor reports ordinary traffic as new. State is a cache of what the events said: when it cannot be read it
// is logged and the processor starts empty, as without storage; it never stops the collector.
//
// The throttles' windows are saved with it, so that a restart goes on suppressing the keys it suppressed, and the
// reports the next consumer refused (at shutdown, or at a reload), to be sent after the restart.

// The keys of the saved state in the processor's storage client: the engine's, and the throttles'.
const (
	stateStorageKey    = "detection_state"
	throttleStorageKey = "throttle_state"
)

// throttleStateVersion changes with any change to savedThrottles or to what it means.
const throttleStateVersion = 1

type savedThrottles struct {
	Version int
	Rules   []savedThrottle
	// Closed are the answers of closed windows not delivered yet (a refused batch, a refused shutdown flush): sent
	// after the restart. Added after version 1 was first written: older state has none.
	Closed []savedClosed
	// Reports are throttle reports not delivered yet (the shutdown flush refused, or a reload's): sent after the
	// restart. Added after version 1 was first written, as Closed.
	Reports []savedReport
	// Origins are the resources events came in, for the answers of windows that close after the restart (least
	// recently used first). Added after version 1 was first written, as Closed.
	Origins []savedOrigin
}

// savedReport is a throttle report (window.Pending of a held match), its rule named by id and the resource of its
// match kept as OTLP protobuf.
type savedReport struct {
	RuleID        string
	Key           string
	Held          int64
	First, LastAt time.Time
	Fields        []engine.RowField
	AuditID       string
	Provenance    map[string]string
	Resource      []byte
}

// savedClosed is an answer of a closed window (engine.Closed), its rule named by id.
type savedClosed struct {
	RuleID string
	Fields []engine.RowField
	Time   time.Time
	Origin uint64 // came after Closed was first written: older answers have none
}

// savedOrigin is a resource answers of closed windows may be written in (deliveries.origins), as OTLP protobuf.
type savedOrigin struct {
	ID       uint64
	Resource []byte
}

// savedThrottle is one rule's throttle: restored only to the same rule (same detection key: a changed risk message or
// score keeps it) throttled the same way.
type savedThrottle struct {
	RuleID string
	// Definition is the rule's engine.DefinitionKey (risk block included): state without Detection is restored by
	// it, and so is this state by a build of before Detection.
	Definition [sha256.Size]byte
	// Detection is the rule's engine.DetectionKey. Added after version 1 was first written: older state has none.
	Detection [sha256.Size]byte
	Fields    []string
	Window    time.Duration
	Keys      []window.KeyWindow
	// Decided is the throttle's memory of what it did with each row of the events it saw (ruleThrottle.decided),
	// least recently used first: a batch refused before the restart and delivered again after it is throttled as
	// it was the first time. Added after version 1 was first written: older state has none.
	Decided []savedDecision
}

// savedDecision is one remembered throttleDecision, by the row's identity.
type savedDecision struct {
	Identity   string
	Emitted    bool
	Suppressed int64
}

// encodedState is one save: the engine's state and the throttles'.
type encodedState struct {
	engine, throttles []byte
}

var (
	saveSuccess = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "success")))
	saveFailure = metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "failure")))
)

// stateStore is the storage client and the checkpoint goroutine's controls; nil without storage.
type stateStore struct {
	client storage.Client
	stop   chan struct{}
	done   chan struct{}
}

// openState gets the processor's storage client and restores the saved state into the running engine. A storage
// setting that names no storage extension fails start-up: the state would silently not be kept.
func (p *auditProcessor) openState(ctx context.Context, host component.Host) error {
	if p.cfg.Storage == nil {
		return nil
	}
	ext, ok := host.GetExtensions()[*p.cfg.Storage]
	if !ok {
		return fmt.Errorf("storage: extension %q is not among the collector's extensions (service::extensions)", p.cfg.Storage)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return fmt.Errorf("storage: extension %q is not a storage extension", p.cfg.Storage)
	}
	client, err := se.GetClient(ctx, component.KindProcessor, p.id, "")
	if err != nil {
		// file_storage times out on a client another instance holds: each pipeline runs its own instance.
		return fmt.Errorf("storage: %q: %w (is %s listed in more than one pipeline? each runs its own instance, and "+
			"they cannot share one state)", p.cfg.Storage, err, p.id)
	}
	p.store = &stateStore{client: client}
	p.restoreState(ctx)
	if p.cfg.CheckpointInterval > 0 {
		p.store.stop, p.store.done = make(chan struct{}), make(chan struct{})
		go p.checkpoints(p.cfg.CheckpointInterval)
	}
	return nil
}

// restoreAttempts and restoreBackoff bound how long start-up waits for a storage that fails to read.
const (
	restoreAttempts = 3
	restoreBackoff  = 200 * time.Millisecond
)

func (p *auditProcessor) restoreState(ctx context.Context) {
	ops := []*storage.Operation{storage.GetOperation(stateStorageKey), storage.GetOperation(throttleStorageKey)}
	var err error
	for attempt := 1; ; attempt++ {
		if err = p.store.client.Batch(ctx, ops...); err == nil || attempt == restoreAttempts {
			break
		}
		time.Sleep(restoreBackoff)
	}
	if err != nil {
		p.logger.Error("detection state not read from storage: stateful rules start empty, and the next checkpoint "+
			"replaces the saved state with this run's", zap.Error(err))
		return
	}
	if data := ops[0].Value; data == nil {
		p.logger.Info("no saved detection state: stateful rules start empty")
	} else if payload, err := unseal(data); err != nil {
		p.logger.Warn("saved detection state not used; stateful rules start empty, and the next checkpoint replaces it",
			zap.Error(err))
	} else if restored, dropped, err := p.detector.engine.RestoreState(bytes.NewReader(payload)); err != nil {
		p.logger.Warn("saved detection state unreadable; stateful rules start empty", zap.Error(err))
	} else {
		p.logger.Info("detection state restored",
			zap.Int("rules_restored", len(restored)), zap.Int("saved_rules_changed_or_gone", dropped))
	}
	if data := ops[1].Value; data != nil {
		payload, err := unseal(data)
		if err == nil {
			var n int
			if n, err = p.restoreThrottles(payload); err == nil {
				p.logger.Info("throttle windows restored", zap.Int("rules", n))
			}
		}
		if err != nil {
			p.logger.Warn("saved throttle state not used; throttles start empty", zap.Error(err))
		}
	}
}

// restoreThrottles opens again the windows of each throttle whose rule and throttle settings are unchanged, and
// returns how many throttles it restored.
func (p *auditProcessor) restoreThrottles(data []byte) (int, error) {
	var saved savedThrottles
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&saved); err != nil {
		return 0, err
	}
	if saved.Version != throttleStateVersion {
		return 0, fmt.Errorf("its format is version %d, this build reads version %d", saved.Version, throttleStateVersion)
	}
	rules := map[string]*rule.Rule{}
	for _, r := range p.detector.engine.Rules() {
		rules[r.ID] = r
	}
	if p.cfg.Mode == ModeFork {
		for _, o := range saved.Origins {
			if r := decodeResource(o.Resource); r != nil {
				p.state.deliveries.keepOrigin(o.ID, *r)
			}
		}
	}
	// An answer or report of a rule the rule set no longer loads (a reload removed it before the shutdown, or the
	// configuration did) cannot be written: its risk record is made from the rule's risk settings. It is dropped, and
	// said with the rules it was of.
	gone := map[string]bool{}
	var goneAnswers, goneReports int
	var closed []engine.Closed
	for _, c := range saved.Closed {
		if r := rules[c.RuleID]; r != nil {
			closed = append(closed, engine.Closed{Rule: r, Row: engine.Row{Fields: c.Fields}, Time: c.Time, Origin: c.Origin})
		} else {
			gone[c.RuleID] = true
			goneAnswers++
		}
	}
	if len(closed) > 0 && p.cfg.Mode == ModeFork { // only fork mode writes them (a mode change drops them)
		p.requeueClosed(p.state.deliveries, closed)
		p.logger.Info("answers of closed windows not delivered before the restart go out with the next batch",
			zap.Int("answers", len(closed)))
	}
	var reports []window.Pending[heldMatch]
	for _, r := range saved.Reports {
		rl := rules[r.RuleID]
		switch {
		case r.Held <= 0:
		case rl == nil:
			gone[r.RuleID] = true
			goneReports++
		default:
			reports = append(reports, window.Pending[heldMatch]{Key: r.Key, Held: r.Held, First: r.First, LastAt: r.LastAt,
				Last: heldMatch{rule: rl, row: engine.Row{Fields: r.Fields}, auditID: r.AuditID, provenance: r.Provenance,
					resource: decodeResource(r.Resource)}})
		}
	}
	if len(gone) > 0 {
		ids := slices.Sorted(maps.Keys(gone))
		p.logger.Warn("answers of closed windows and throttle reports saved for rules that are no longer loaded are "+
			"dropped: their risk records are made from the rule", zap.Strings("rule_ids", ids),
			zap.Int("answers", goneAnswers), zap.Int("reports", goneReports))
	}
	if len(reports) > 0 && p.cfg.Mode == ModeFork {
		p.droppedReports(p.waitReports(reports))
		p.logger.Info("throttle reports not delivered before the restart go out with the next batch",
			zap.Int("reports", len(reports)))
	}
	n := 0
	for _, st := range saved.Rules {
		t := p.state.throttles[st.RuleID]
		det, ok := p.detector.engine.DetectionKey(st.RuleID)
		same := det == st.Detection
		if st.Detection == ([sha256.Size]byte{}) { // saved before the detection key was: by the definition key
			def, _ := p.detector.engine.DefinitionKey(st.RuleID)
			same = def == st.Definition
		}
		if t == nil || !ok || !same || !slices.Equal(t.fields, st.Fields) || t.window != st.Window {
			continue
		}
		t.th.RestoreWindows(st.Keys)
		for _, d := range st.Decided {
			t.decided.Put([]byte(d.Identity), throttleDecision{emitted: d.Emitted, suppressed: d.Suppressed})
		}
		n++
	}
	return n, nil
}

func (p *auditProcessor) checkpoints(interval time.Duration) {
	defer close(p.store.done)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-p.store.stop:
			return
		case <-ticker.C:
			p.mu.RLock() // a reload swaps the engine and the throttles under the write lock
			data, err := p.encodeState()
			p.mu.RUnlock()
			if err == nil {
				// Written without the lock: a slow storage must not hold up a reload, and the batches queued
				// behind it.
				ctx, cancel := context.WithTimeout(context.Background(), max(interval, checkpointTimeout))
				err = p.writeState(ctx, data)
				cancel()
			}
			if err != nil {
				p.logger.Warn("detection state not saved; the next checkpoint tries again", zap.Error(err))
			}
		}
	}
}

// stopCheckpoints ends the checkpoint goroutine; it must be called without holding p.mu, which a checkpoint takes.
func (p *auditProcessor) stopCheckpoints() {
	if p.store != nil && p.store.stop != nil {
		close(p.store.stop)
		<-p.store.done
		p.store.stop = nil
	}
}

// checkpointTimeout is the least time a checkpoint's write may take before it is given up.
const checkpointTimeout = 30 * time.Second

// encodeState encodes the engine's state and the throttles' windows. The caller holds p.mu (read or write), so what
// it encodes is the running rule set's.
func (p *auditProcessor) encodeState() (encodedState, error) { return p.encodeStateWith(nil) }

// encodeStateWith is encodeState with the throttles' windows given (by rule id) rather than read: the shutdown takes
// them before its flush, which forgets them.
func (p *auditProcessor) encodeStateWith(windows map[string][]window.KeyWindow) (encodedState, error) {
	var st encodedState
	var buf bytes.Buffer
	err := p.detector.engine.SaveState(&buf)
	if err == nil {
		st.engine = buf.Bytes()
		saved := savedThrottles{Version: throttleStateVersion}
		ids := make([]string, 0, len(p.state.throttles))
		for id := range p.state.throttles {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			t := p.state.throttles[id]
			det, _ := p.detector.engine.DetectionKey(id)
			if def, ok := p.detector.engine.DefinitionKey(id); ok {
				keys, ok := windows[id]
				if !ok {
					keys = t.th.Windows()
				}
				// The decisions are read after the windows: a row admitted between the two reads is then remembered
				// as sent without its window, and its retry is sent again (a duplicate) rather than held back as a
				// repeat of itself (lost).
				var decided []savedDecision
				t.decided.Each(func(id string, d throttleDecision) bool {
					decided = append(decided, savedDecision{Identity: id, Emitted: d.emitted, Suppressed: d.suppressed})
					return true
				})
				saved.Rules = append(saved.Rules, savedThrottle{RuleID: id, Definition: def, Detection: det, Fields: t.fields,
					Window: t.window, Keys: keys, Decided: decided})
			}
		}
		d := p.state.deliveries
		// The resources are encoded after the lock is let go (up to maxOrigins of them, which batches would wait
		// for): the stored copies are never written to, only replaced.
		var originRes, reportRes []*pcommon.Resource
		d.mu.Lock()
		for _, c := range d.closed {
			saved.Closed = append(saved.Closed, savedClosed{RuleID: c.Rule.ID, Fields: c.Row.Fields, Time: c.Time,
				Origin: c.Origin})
		}
		d.origins.Each(func(key string, r *pcommon.Resource) bool {
			if id, err := strconv.ParseUint(key, 16, 64); err == nil {
				saved.Origins = append(saved.Origins, savedOrigin{ID: id})
				originRes = append(originRes, r)
			}
			return true
		})
		// No answer waiting was held back by its throttle (writeClosed gives back only those that went out): a
		// report counts each of its matches once.
		for _, r := range d.reports {
			h := r.Last
			saved.Reports = append(saved.Reports, savedReport{RuleID: h.rule.ID, Key: r.Key, Held: r.Held, First: r.First,
				LastAt: r.LastAt, Fields: h.row.Fields, AuditID: h.auditID, Provenance: h.provenance})
			reportRes = append(reportRes, h.resource)
		}
		d.mu.Unlock()
		for i, r := range originRes {
			saved.Origins[i].Resource = encodeResource(r)
		}
		for i, r := range reportRes {
			saved.Reports[i].Resource = encodeResource(r)
		}
		var tb bytes.Buffer
		err = gob.NewEncoder(&tb).Encode(&saved)
		st.throttles = tb.Bytes()
	}
	if err != nil {
		p.telemetry.ProcessorAuditdetectStateSaves.Add(context.Background(), 1, saveFailure)
		return st, fmt.Errorf("saving detection state: %w", err)
	}
	return st, nil
}

// writeState writes encoded state to storage, both values in one batch, each sealed.
func (p *auditProcessor) writeState(ctx context.Context, st encodedState) error {
	err := p.store.client.Batch(ctx, storage.SetOperation(stateStorageKey, seal(st.engine)),
		storage.SetOperation(throttleStorageKey, seal(st.throttles)))
	if err != nil {
		p.telemetry.ProcessorAuditdetectStateSaves.Add(ctx, 1, saveFailure)
		return fmt.Errorf("saving detection state: %w", err)
	}
	p.telemetry.ProcessorAuditdetectStateSaves.Add(ctx, 1, saveSuccess)
	p.telemetry.ProcessorAuditdetectStateBytes.Record(ctx, int64(len(st.engine)+len(st.throttles)))
	return nil
}

// stateMagic starts every saved value: the value's format, and a SHA-256 of what follows it. gob has no check of its
// own, and a damaged file could otherwise restore wrong counts or put corrupt values into risk records: a value
// whose sum does not match is refused whole, and the rules start empty.
var stateMagic = []byte("auditdetect-state-1\n")

func seal(data []byte) []byte {
	sum := sha256.Sum256(data)
	return slices.Concat(stateMagic, sum[:], data)
}

// unseal returns the value sealed in data, or why it cannot be trusted. A value without the magic line was written
// before values were sealed: it is returned as it is, for its own version check to name its version (an upgrade from
// such a build then says which format it found, rather than that the value is unknown).
func unseal(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(data, stateMagic) {
		return data, nil
	}
	if len(data) < len(stateMagic)+sha256.Size {
		return nil, errors.New("damaged: cut short")
	}
	data = data[len(stateMagic):]
	sum, payload := data[:sha256.Size], data[sha256.Size:]
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return nil, errors.New("damaged: its checksum does not match")
	}
	return payload, nil
}

// throttleWindows returns the windows of every throttle, by rule id, for the final save: the shutdown's flush
// forgets them.
func (p *auditProcessor) throttleWindows() map[string][]window.KeyWindow {
	out := make(map[string][]window.KeyWindow, len(p.state.throttles))
	for id, t := range p.state.throttles {
		out[id] = t.th.Windows()
	}
	return out
}

// finalState encodes the state for the last save, or returns nothing without storage. The caller holds p.mu for
// writing (no batch runs, so it is the final state), after the throttles' flush, with their windows taken before
// it: the reports the next consumer refused are saved with them.
func (p *auditProcessor) finalState(windows map[string][]window.KeyWindow) (encodedState, error) {
	if p.store == nil {
		return encodedState{}, nil
	}
	return p.encodeStateWith(windows)
}

// encodeResource keeps a report's resource as OTLP protobuf (nil for none).
func encodeResource(r *pcommon.Resource) []byte {
	if r == nil {
		return nil
	}
	ld := plog.NewLogs()
	r.CopyTo(ld.ResourceLogs().AppendEmpty().Resource())
	b, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
	if err != nil {
		return nil
	}
	return b
}

// decodeResource reads what encodeResource wrote; nil when there is nothing to read.
func decodeResource(b []byte) *pcommon.Resource {
	if len(b) == 0 {
		return nil
	}
	ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b)
	if err != nil || ld.ResourceLogs().Len() == 0 {
		return nil
	}
	r := pcommon.NewResource()
	ld.ResourceLogs().At(0).Resource().CopyTo(r)
	return &r
}

// closeState writes the last save, encoded by finalState (or the error it had), and closes the storage client.
func (p *auditProcessor) closeState(ctx context.Context, st encodedState, encodeErr error) error {
	if p.store == nil {
		return nil
	}
	err := encodeErr
	if err == nil {
		err = p.writeState(ctx, st)
	}
	return errors.Join(err, p.store.client.Close(ctx))
}
