package engine

import (
	"slices"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Scale-out support. When several collectors share the audit stream, each key of a windowed rule (or of a sequence)
// must be counted in one place. The contrib loadbalancing exporter routes logs by TraceID only, so the agent tier asks RouteKey for the
// key the windowed rules would count an event under, and stamps a TraceID derived from it.
//
// Routing may over-approximate: an event routed by a key that the rule's later stages then drop costs nothing. So
// the key is read from the event right after the rule's filter, without running its pipeline (no GeoIP database is
// needed in the agent tier), from the by-fields the event itself carries.

// eventByFields returns the by-fields of the windowed stats that no earlier stage writes (iplocation outputs,
// rename targets, computed values), in by-order: the ones an agent can read from the event alone. A by-field copied
// from an event field (ES|QL's and Sigma correlations' group columns) is read where it was copied from.
func eventByFields(stages []rule.Stage, win rule.Stats, rs refs) []*fieldRef {
	written := map[string]bool{}
	copies := map[string]*fieldRef{}
	for _, st := range stages {
		switch st := st.(type) {
		case rule.Eval:
			// What the value reads is settled before its own field changes (eval verb=verb reads the verb before).
			f, ok := copiedField(st.Value)
			src, copied := copies[f.Name]
			computed := written[f.Name]
			delete(copies, st.To)
			delete(written, st.To)
			switch {
			case ok && copied: // a copy of a copy reads the same event field
				copies[st.To] = src
			case ok && !computed:
				copies[st.To] = newFieldRef(f)
			default: // computed, or a copy of a field an earlier stage computed
				written[st.To] = true
			}
		case rule.IPLocation:
			for _, f := range st.Outputs() {
				delete(copies, f)
				written[f] = true
			}
		case rule.Lookup:
			for _, f := range st.OutputNames() {
				delete(copies, f)
				written[f] = true
			}
		case rule.Rename:
			for _, p := range st.Pairs {
				delete(copies, p.To)
				written[p.To] = true
			}
		case rule.Stats:
			// The first stats reached is the windowed one (windowedStatsIndex): its by-fields are read before it.
			var out []*fieldRef
			for _, b := range win.By {
				switch f, copied := copies[b]; {
				case copied:
					out = append(out, f)
				case !written[b]:
					out = append(out, rs.get(b))
				}
			}
			return out
		}
	}
	return nil
}

// sequenceKeyFields returns the key fields of a sequence whose steps all key on the same event fields, which an agent
// can route by; none when the steps key on different fields (EQL's per-stage `by`, Sigma's aliases) or on none: such
// a rule is not routed (a key of its own would take the events other rules must route by their fields).
func sequenceKeyFields(sq rule.Sequence) []*fieldRef {
	first := sq.Steps[0].By
	steps := sq.Steps[1:]
	if sq.Until.Cond != nil {
		steps = slices.Concat(steps, []rule.SequenceStep{sq.Until})
	}
	for _, st := range steps {
		for j, f := range st.By {
			if f.Name != first[j].Name {
				return nil
			}
		}
	}
	out := make([]*fieldRef, len(first))
	for j, f := range first {
		out[j] = newFieldRef(f)
	}
	return out
}

// copiedField is the event field a computed value copies as it is: a field's values, or them only when not empty (the
// ES|QL reading of a field the ingest pipeline leaves unset when empty).
func copiedField(v rule.Value) (rule.Field, bool) {
	switch v := v.(type) {
	case rule.FieldValue:
		return v.Field, true
	case rule.Case:
		if len(v.Whens) == 1 && v.Else == nil && !v.All {
			if fv, ok := v.Whens[0].Then.(rule.FieldValue); ok {
				return fv.Field, true
			}
		}
	}
	return rule.Field{}, false
}

// sharedFields returns the event by-fields that every windowed rule (and sequence) groups on, in the first rule's order. Routing by
// them alone sends every event of any one group of any windowed rule to the same place.
func sharedFields(rules []*compiledRule) []*fieldRef {
	var shared []*fieldRef
	first := true
	for _, cr := range rules {
		if !cr.routed {
			continue
		}
		if first {
			shared, first = append([]*fieldRef(nil), cr.eventBy...), false
			continue
		}
		kept := shared[:0]
		for _, f := range shared {
			for _, g := range cr.eventBy {
				if samePath(g, f) {
					kept = append(kept, f)
					break
				}
			}
		}
		shared = kept
	}
	return shared
}

// samePath reports whether two by-fields read the same event field: `sourceIPs{}` in Splunk's spelling, and
// `sourceIPs` read with arrays transparent (ES|QL's and Sigma's group columns), are one.
func samePath(a, b *fieldRef) bool {
	return a.name == b.name || strings.ReplaceAll(a.name, "{}", "") == strings.ReplaceAll(b.name, "{}", "")
}

// RouteFields names the fields RouteKey reads when the windowed rules share by-fields; nil when they share none and
// each event is routed by the by-fields of the first windowed rule whose filter matches it.
func (e *Engine) RouteFields() []string {
	var out []string
	for _, f := range e.routeBy {
		out = append(out, f.name)
	}
	return out
}

// RouteKey returns the key under which the windowed rules (and sequences) would count the event, for routing it to the collector
// that holds their state. ok is false when no windowed rule's filter matches the event: such an event can go
// anywhere. A multi-valued field contributes its last value: of sourceIPs, the address the API server saw, which the
// client cannot set (a forged X-Forwarded-For first entry must not spread one client's events over the gateways).
// An error means the body is not a JSON object.
func (e *Engine) RouteKey(body []byte) (key string, ok bool, err error) {
	ev := e.Evaluator()
	defer ev.Close()
	return ev.RouteKey(body)
}

// RouteKey is Engine.RouteKey with the Evaluator's state.
func (ev *Evaluator) RouteKey(body []byte) (key string, ok bool, err error) {
	e, st := ev.e, ev.st
	view, err := st.parser.Parse(body)
	if err != nil {
		return "", false, err
	}
	st.ctx.begin() // a new event: forget the field values memoized for the last one
	src := source{view: view}
	for _, i := range e.index.candidates(&st.ctx, view) {
		cr := e.rules[i]
		if !cr.routed || !cr.filter.eval(&st.ctx, src) {
			continue
		}
		fields := e.routeBy
		if len(fields) == 0 {
			fields = cr.eventBy
		}
		var b strings.Builder
		var last []byte
		for j, f := range fields {
			if j > 0 {
				b.WriteByte(0)
			}
			last = last[:0]
			view.Each(f.path, func(v []byte) bool {
				last = append(last[:0], v...)
				return true
			})
			b.Write(last)
		}
		return b.String(), true, nil
	}
	return "", false, nil
}

// WindowStat is the state of one windowed rule.
type WindowStat struct {
	Rule *rule.Rule
	// Keys is the number of groups held; Evicted the groups evicted to respect MaxKeys; Late the events dropped
	// because their window had closed.
	Keys          int
	Evicted, Late uint64
}

// WindowStats reports the state of each windowed rule, in rule order.
func (e *Engine) WindowStats() []WindowStat {
	var out []WindowStat
	for _, cr := range e.rules {
		if cr.window != nil {
			held, evicted, late := cr.window.stat()
			out = append(out, WindowStat{Rule: cr.rule, Keys: held, Evicted: evicted, Late: late})
		}
	}
	return out
}
