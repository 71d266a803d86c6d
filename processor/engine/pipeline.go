package engine

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// stageExec is one compiled pipeline stage: it maps the rows of one event to new rows.
type stageExec interface {
	run(c *evalCtx, rows []*row) []*row
}

// refs hands out one fieldRef per field name of a rule, so that names and paths are compiled once.
type refs map[string]*fieldRef

func (rs refs) get(name string) *fieldRef {
	if r, ok := rs[name]; ok {
		return r
	}
	r := newFieldRef(rule.Field{Name: name})
	rs[name] = r
	return r
}

type fillNullStage struct {
	value  string
	fields []*fieldRef
}

func (s fillNullStage) run(_ *evalCtx, rows []*row) []*row {
	for _, r := range rows {
		for _, f := range s.fields {
			if !r.has(f) {
				r.set(f.name, []string{s.value}, false)
			}
		}
	}
	return rows
}

type filterStage struct{ cond node }

func (s filterStage) run(c *evalCtx, rows []*row) []*row {
	out := rows[:0]
	for _, r := range rows {
		if s.cond.eval(c, source{row: r}) {
			out = append(out, r)
		}
	}
	return out
}

type renameStage struct {
	pairs []renameRef
}

type renameRef struct {
	from *fieldRef
	to   string
}

func (s renameStage) run(_ *evalCtx, rows []*row) []*row {
	for _, r := range rows {
		for _, p := range s.pairs {
			if !r.has(p.from) {
				continue
			}
			vals := r.values(p.from)
			numeric := false
			for _, f := range r.fields {
				if f.Name == p.from.name {
					numeric = f.Numeric
				}
			}
			r.rename(p.from.name, p.to, vals, numeric)
		}
	}
	return rows
}

// projectStage keeps or removes row fields by name (rule.Project). A row that reads the event keeps reading it, the
// projection added to its gates (row.isHidden), so that the event's fields are filtered as they are read, never copied.
type projectStage struct{ p rule.Project }

func (s *projectStage) run(_ *evalCtx, rows []*row) []*row {
	for _, r := range rows {
		r.fields = slices.DeleteFunc(r.fields, func(f RowField) bool { return !s.p.Keeps(f.Name) })
		if s.p.Ordered {
			s.order(r.fields)
		}
		if r.ev != nil {
			r.gates = append(r.gates, s)
		}
	}
	return rows
}

// order puts fields in the order of the projection's names (stable: fields one name matches stay in their order;
// fields no name matches, which later stages set, go last).
func (s *projectStage) order(fields []RowField) {
	slices.SortStableFunc(fields, func(a, b RowField) int { return s.p.Rank(a.Name) - s.p.Rank(b.Name) })
}

// GeoIP resolves IP addresses for `iplocation`.
type GeoIP interface {
	Lookup(ip netip.Addr) (Location, bool)
}

// NoLocations is a GeoIP database without any location: iplocation rules compile against it and find nothing
// (tools that judge or time rules without a database, the processor's report of what it would refuse).
type NoLocations struct{}

func (NoLocations) Lookup(netip.Addr) (Location, bool) { return Location{}, false }

// Location is what `iplocation` adds to a row.
type Location struct {
	City, Country, Region string
	Lat, Lon              float64
}

type ipLocationStage struct {
	field  *fieldRef
	prefix string
	geo    GeoIP
}

func (s ipLocationStage) run(_ *evalCtx, rows []*row) []*row {
	for _, r := range rows {
		var loc Location
		found := false
		// Splunk looks up the first value of a multi-valued field.
		r.each(s.field, func(v []byte) bool {
			if addr, err := netip.ParseAddr(string(v)); err == nil {
				loc, found = s.geo.Lookup(addr.Unmap())
			}
			return false
		})
		if !found {
			continue
		}
		set := func(name, v string) {
			if v != "" {
				r.set(s.prefix+name, []string{v}, false)
			}
		}
		set("City", loc.City)
		set("Country", loc.Country)
		set("Region", loc.Region)
		set("lat", strconv.FormatFloat(loc.Lat, 'f', -1, 64))
		set("lon", strconv.FormatFloat(loc.Lon, 'f', -1, 64))
	}
	return rows
}

// statsStage is `stats ... by ...` evaluated on one event: one row per distinct by-tuple, rows missing a by-field
// dropped, each aggregate computed over the event's values.
type statsStage struct {
	by []*fieldRef
	// nullGroups: a missing by-field is the value nullGroup instead of no group (rule.Stats.NullGroups).
	nullGroups bool
	aggs       []aggExec
	// cut counts the events whose by-fields held more than maxGroupsPerEvent combinations (the rule's counter).
	cut *atomic.Uint64
}

type aggExec struct {
	fn    string
	field *fieldRef
	out   string
	// eachValue: a count of field counts its values, not the rows that have one (rule.Aggregate.EachValue).
	eachValue bool
	// keep is, for a windowed dc(), the distinct values it keeps when its rule compares it with a number that
	// maxValuesPerAggregate does not reach (windowPlan); 0 otherwise.
	keep int
}

func (s statsStage) run(_ *evalCtx, rows []*row) []*row {
	var out []*row
	// The tuples of one row are distinct already (a product of distinct values), and so are their keys unless a
	// value holds the separator: only several rows, or such a value, need the set.
	var seen map[string]bool
	aggs := make([]aggValue, len(s.aggs))
	for _, r := range rows {
		tuples := s.tuples(r)
		if seen == nil && (len(rows) > 1 || holdsNUL(tuples)) {
			seen = map[string]bool{}
		}
		// The aggregates are over the row's values, the same for each of its groups: computed once and shared (each
		// group computing its own cost the groups times the values, 1000 × 100,000 for a padded event).
		computed := false
		for _, tuple := range tuples {
			if seen != nil {
				key := strings.Join(tuple, "\x00")
				if seen[key] {
					continue
				}
				seen[key] = true
			}
			if !computed {
				for i, a := range s.aggs {
					vals, numeric := a.perEvent(r)
					aggs[i] = aggValue{slices.Clip(vals), numeric} // clipped: an append to one group's copy cannot write into another's
				}
				computed = true
			}
			nr := &row{fields: make([]RowField, 0, len(s.by)+len(s.aggs))}
			setGroup(nr, s.by, tuple)
			for i, a := range s.aggs {
				nr.set(a.out, aggs[i].vals, aggs[i].numeric)
			}
			out = append(out, nr)
		}
	}
	return out
}

// aggValue is one aggregate computed over a row.
type aggValue struct {
	vals    []string
	numeric bool
}

// nullGroup is a missing by-field's value in the tuple of a stats with null groups. It starts with the byte that
// separates a key's values, which no audit field's value written as JSON text starts with in practice; a value that
// did would join the null group, not another one.
const nullGroup = "\x00null"

// setGroup sets a group's by-fields on a row, leaving out those whose value is null. Each field's values are a
// one-element slice of tuple, clipped so that an append copies: a slice each cost an allocation per field.
func setGroup(r *row, by []*fieldRef, tuple []string) {
	for i, f := range by {
		if tuple[i] != nullGroup {
			r.set(f.name, tuple[i:i+1:i+1], false)
		}
	}
}

// holdsNUL reports whether a value of the tuples holds the byte that separates them in a key.
func holdsNUL(tuples [][]string) bool {
	for _, t := range tuples {
		for _, v := range t {
			if strings.IndexByte(v, 0) >= 0 {
				return true
			}
		}
	}
	return false
}

// tuples returns the cartesian product of the by-fields' distinct values: a multi-valued by-field yields one group
// per value, and a missing one yields none. Past maxGroupsPerEvent the first groups are kept, and the one of every
// field's last value: of sourceIPs, the address the API server saw, which a client cannot push out by padding
// X-Forwarded-For.
func (s statsStage) tuples(r *row) [][]string {
	if t, ok := s.singleTuple(r); ok {
		return t
	}
	return s.productTuples(r)
}

// productTuples is tuples for any row, each value copied on its own: the rows singleTuple declines, whose by-fields
// hold several values (several equal ones make one tuple here too).
func (s statsStage) productTuples(r *row) [][]string {
	// Each by-field's values first: a field without one makes no group.
	perField := make([][]string, len(s.by))
	groups := 1
	for i, f := range s.by {
		vals := distinct(r.values(f))
		if len(vals) == 0 {
			if !s.nullGroups {
				return nil
			}
			vals = []string{nullGroup}
		}
		perField[i] = vals
		groups = min(groups*len(vals), maxGroupsPerEvent+1)
	}
	if groups == 1 {
		t := make([]string, len(s.by))
		for i, vals := range perField {
			t[i] = vals[0]
		}
		return [][]string{t}
	}
	tuples := [][]string{nil}
	for i, vals := range perField {
		next := make([][]string, 0, min(len(tuples)*len(vals), maxGroupsPerEvent))
	product:
		for _, t := range tuples {
			for _, v := range vals {
				if len(next) == maxGroupsPerEvent {
					break product // a hostile event's values cost the cap, not their product
				}
				nt := make([]string, i+1, len(s.by))
				copy(nt, t)
				nt[i] = v
				next = append(next, nt)
			}
		}
		tuples = next
	}
	if groups > maxGroupsPerEvent {
		lastOfEach := make([]string, len(s.by))
		for i, vals := range perField {
			lastOfEach[i] = vals[len(vals)-1]
		}
		tuples[len(tuples)-1] = lastOfEach
		if s.cut != nil {
			s.cut.Add(1)
		}
	}
	return tuples
}

// singleTuple is tuples for a row whose by-fields hold at most one value each, as nearly every event's do: their
// values copied into one string, the tuple's values slices of it, in three allocations instead of two per field.
// ok is false when a field holds more than one value: then every value in the string would be kept alive by the
// group keys that use some of them (a window keeps its keys), so tuples copies each value on its own.
func (s statsStage) singleTuple(r *row) (tuples [][]string, ok bool) {
	var stack [256]byte
	var ends [16]int
	if len(s.by) > len(ends) {
		return nil, false
	}
	buf := stack[:0]
	for i, f := range s.by {
		n := 0
		r.eachString(f, func(v string) bool {
			n++
			if n == 1 {
				buf = append(buf, v...)
			}
			return n == 1
		})
		switch {
		case n > 1:
			return nil, false
		case n == 0 && !s.nullGroups:
			return nil, true
		}
		ends[i] = len(buf)
		if n == 0 {
			ends[i] = -1 - len(buf) // null: nothing added
		}
	}
	all := string(buf)
	t := make([]string, len(s.by))
	start := 0
	for i := range t {
		if ends[i] < 0 {
			t[i] = nullGroup
			continue
		}
		t[i] = all[start:ends[i]]
		start = ends[i]
	}
	return [][]string{t}, true
}

// singleKey appends to buf the group key of a row whose by-fields hold at most one value each (single), as
// tuples' one tuple joined by NUL would read, without copying a value: a window looks its group up with it, and makes
// the tuple only for a group it does not know. grouped is false when the row makes no group (a by-field without a
// value, where null groups are not made).
func (s statsStage) singleKey(r *row, buf []byte) (key []byte, single, grouped bool) {
	for i, f := range s.by {
		if i > 0 {
			buf = append(buf, 0)
		}
		n := 0
		r.eachString(f, func(v string) bool {
			if n++; n == 1 {
				buf = append(buf, v...)
			}
			return n == 1
		})
		switch {
		case n > 1:
			return buf, false, false
		case n == 0 && !s.nullGroups:
			return buf, true, false
		case n == 0:
			buf = append(buf, nullGroup...)
		}
	}
	return buf, true, true
}

// maxGroupsPerEvent bounds the rows one event can make through stats, however many values its by-fields hold.
const maxGroupsPerEvent = 1000

func (a aggExec) perEvent(r *row) ([]string, bool) {
	switch a.fn {
	case "count":
		if a.field != nil && a.eachValue {
			return []string{strconv.Itoa(len(r.values(a.field)))}, true
		}
		if a.field == nil || r.has(a.field) {
			return []string{"1"}, true
		}
		return []string{"0"}, true
	}
	vals := r.values(a.field)
	switch a.fn {
	case "values":
		return sortedDistinct(vals), false
	case "dc":
		return []string{strconv.Itoa(len(distinct(vals)))}, true
	case "min", "max":
		if len(vals) == 0 {
			return nil, false
		}
		return []string{extreme(vals, a.fn == "max")}, false
	case "earliest", "latest":
		if len(vals) == 0 {
			return nil, false
		}
		return []string{vals[0]}, false
	case "sum":
		var s aggState
		for _, v := range vals {
			s.addNumber(v)
		}
		return s.sumValue()
	}
	return nil, false
}

func distinct(vals []string) []string {
	if len(vals) < 2 {
		return vals
	}
	out := vals[:0:0]
	seen := make(map[string]bool, len(vals))
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// sortedDistinct is Splunk's values(): distinct values in lexicographic order. It sorts vals, a copy (row.values),
// in place: no second copy and no set.
func sortedDistinct(vals []string) []string {
	slices.Sort(vals)
	return slices.Compact(vals)
}

// extreme is min/max over one event's values, in Splunk's order (aggState.extremes): numbers before text.
func extreme(vals []string, max bool) string {
	var s aggState
	for _, v := range vals {
		s.extremes(v, asIs) // vals are copies already
	}
	return s.extreme(max)
}

func asIs(v string) string { return v }

// MaxPipelineSize bounds a rule's pipeline (pipelineSize). A row's fields are a short list, searched by name, so
// a pipeline that sets thousands of fields costs each event the square of that: 20,000 eval assignments took 0.8 s
// an event, 1,000 took 3 ms. Real rules have tens; at this bound an event costs well under a millisecond.
const MaxPipelineSize = 256

// pipelineSize counts the stages of a pipeline and the fields each names beyond its first.
func pipelineSize(stages []rule.Stage) int {
	n := 0
	for _, st := range stages {
		n++
		switch st := st.(type) {
		case rule.Rename:
			n += max(len(st.Pairs)-1, 0)
		case rule.FillNull:
			n += max(len(st.Fields)-1, 0)
		case rule.Project:
			n += max(len(st.Fields)-1, 0)
		case rule.Stats:
			n += max(len(st.Aggs)+len(st.By)-1, 0)
		}
	}
	return n
}

// compilePipeline compiles the stages of r, new_terms fields from the engine's filter fields fs. It returns the
// stages before a windowed stats, the windowed stats (nil when none) and the stages after it.
func compilePipeline(r *rule.Rule, rs refs, opts Options, fs *fields, cut *atomic.Uint64) (pre []stageExec, win *windowPlan, post []stageExec, err error) {
	if n := pipelineSize(r.Pipeline); n > MaxPipelineSize {
		return nil, nil, nil, fmt.Errorf("the pipeline has %d stages and fields in all (each command, eval "+
			"assignment, renamed, projected or filled field, aggregate and by field counts), over the limit of %d",
			n, MaxPipelineSize)
	}
	windowAt := windowedStatsIndex(r.Pipeline)
	stats := 0
	for _, st := range r.Pipeline {
		if _, ok := st.(rule.Stats); ok {
			if stats++; stats > 1 {
				// Only one stats is windowed: a second one, run per event, would count rows of one event.
				return nil, nil, nil, fmt.Errorf("more than one stats stage is not supported")
			}
		}
	}
	for i, st := range r.Pipeline {
		var ex stageExec
		switch st := st.(type) {
		case rule.FillNull:
			ex = fillNullStage{value: st.Value, fields: fillTargets(r, i, st, rs)}
		case rule.Search:
			n, err := compileExpr(st.Cond, nil)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("search: %w", err)
			}
			ex = filterStage{n}
		case rule.Where:
			n, err := compileExpr(st.Cond, nil)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("where: %w", err)
			}
			ex = filterStage{n}
		case rule.Rename:
			var s renameStage
			for _, p := range st.Pairs {
				s.pairs = append(s.pairs, renameRef{from: rs.get(p.From), to: p.To})
			}
			ex = s
		case rule.IPLocation:
			if opts.GeoIP == nil {
				return nil, nil, nil, fmt.Errorf("iplocation needs a GeoIP database: set geoip_database in the processor config")
			}
			ex = ipLocationStage{field: rs.get(st.Field), prefix: st.Prefix, geo: opts.GeoIP}
		case rule.NewTerms:
			if len(st.Fields) == 0 || st.History <= 0 {
				return nil, nil, nil, fmt.Errorf("new_terms needs fields and a positive history")
			}
			ex = newNewTermsStage(st, opts.MaxKeys, opts.NewTermsLearning, fs, cut)
		case rule.Sequence:
			if i != 0 {
				return nil, nil, nil, fmt.Errorf("a sequence must be the first stage of a pipeline")
			}
			if len(st.Steps) < 2 {
				return nil, nil, nil, fmt.Errorf("a sequence needs at least two steps, not %d", len(st.Steps))
			}
			for _, step := range slices.Concat(st.Steps[1:], []rule.SequenceStep{st.Until}) {
				if step.Cond != nil && len(step.By) != len(st.Steps[0].By) {
					return nil, nil, nil, fmt.Errorf("every step of a sequence has as many key fields (%d, then %d)", len(st.Steps[0].By), len(step.By))
				}
			}
			if ex, err = newSequenceStage(st, sequenceSpan(r, st, opts), opts.AllowedLateness, opts.MaxKeys, fs, cut); err != nil {
				return nil, nil, nil, fmt.Errorf("sequence: %w", err)
			}
		case rule.Copy:
			ex = copyStage{from: rs.get(st.From), to: st.To, ends: st.Ends}
		case rule.Lookup:
			if err := checkLookup(st); err != nil {
				return nil, nil, nil, err
			}
			ex = compileLookup(st, rs, fs)
		case rule.Eval:
			if st.To == "" {
				return nil, nil, nil, fmt.Errorf("eval needs a field to set")
			}
			v, err := compileValue(st.Value, rs)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("eval %s: %w", st.To, err)
			}
			ex = evalStage{to: st.To, v: v}
		case rule.Project:
			if len(st.Fields) == 0 {
				return nil, nil, nil, fmt.Errorf("a projection needs at least one field name")
			}
			ex = &projectStage{p: st}
		case rule.Stats:
			if i == windowAt {
				if win, err = planWindow(r.Pipeline, i, opts.NoCloseResults); err != nil {
					return nil, nil, nil, err
				}
				continue
			}
			ex = compileStats(st, rs, cut)
		default:
			return nil, nil, nil, fmt.Errorf("unsupported pipeline stage %T", st)
		}
		if win == nil {
			pre = append(pre, ex)
		} else {
			post = append(post, ex)
		}
	}
	return fuseCopies(pre), win, post, nil
}

func compileStats(st rule.Stats, rs refs, cut *atomic.Uint64) statsStage {
	s := statsStage{cut: cut, nullGroups: st.NullGroups}
	for _, b := range st.By {
		s.by = append(s.by, rs.get(b))
	}
	for _, a := range st.Aggs {
		ae := aggExec{fn: strings.ToLower(a.Func), out: a.OutputName(), eachValue: a.EachValue}
		if a.Field != "" {
			ae.field = rs.get(a.Field)
		}
		s.aggs = append(s.aggs, ae)
	}
	return s
}

// windowedStatsIndex returns the index of the stats stage whose results a later where/search filters on an
// aggregate (`stats count by ip | where count > 5`): only a window can answer those. -1 when there is none.
func windowedStatsIndex(stages []rule.Stage) int {
	for i, st := range stages {
		stats, ok := st.(rule.Stats)
		if !ok {
			continue
		}
		if stats.Windowed {
			return i
		}
		outputs := map[string]bool{}
		for _, a := range stats.Aggs {
			outputs[a.OutputName()] = true
		}
		for _, later := range stages[i+1:] {
			switch later := later.(type) {
			case rule.Rename:
				for _, p := range later.Pairs {
					if outputs[p.From] {
						outputs[p.To] = true
					}
				}
			case rule.Eval:
				// A value computed from an aggregate is an aggregate too: planWindow refuses a where on it.
				rule.EachValueField(later.Value, func(f rule.Field) {
					if outputs[f.Name] {
						outputs[later.To] = true
					}
				})
			case rule.Project:
				for name := range outputs {
					if !later.Keeps(name) {
						delete(outputs, name)
					}
				}
			case rule.Lookup:
				// What a lookup writes from an aggregate is derived from it, as an eval's value is (planWindow); what it
				// writes over an aggregate (OUTPUT) is no aggregate any more.
				fromAgg := slices.ContainsFunc(later.InputNames(), func(n string) bool { return outputs[n] })
				for _, n := range later.OutputNames() {
					switch {
					case fromAgg:
						outputs[n] = true
					case !later.New:
						delete(outputs, n)
					}
				}
			case rule.Where:
				if exprReadsAny(later.Cond, outputs) {
					return i
				}
			case rule.Search:
				if exprReadsAny(later.Cond, outputs) {
					return i
				}
			case rule.Stats:
				return -1
			}
		}
	}
	return -1
}

func exprReadsAny(e rule.Expr, names map[string]bool) bool {
	found := false
	rule.EachField(e, func(f rule.Field) {
		if names[f.Name] {
			found = true
		}
	})
	return found
}

// fillTargets is the field list of a fillnull: the listed fields, or with none every field a later stage reads
// before the next stats (by-fields and aggregated fields included) — Splunk fills "all fields of the result set",
// which for a stream means the fields the rest of the search uses.
func fillTargets(r *rule.Rule, at int, st rule.FillNull, rs refs) []*fieldRef {
	names := st.Fields
	if len(names) == 0 {
		names = rule.FillTargets(r.Pipeline[at+1:])
	}
	var out []*fieldRef
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, rs.get(n))
		}
	}
	return out
}
