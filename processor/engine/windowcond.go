package engine

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// A window answers a group when the conditions after its stats first hold (window.go), while Splunk's hourly search
// answers once, with the counts at the end of the hour. The two agree for conditions that, once true, stay true
// as the window fills: `count > 5`, not `count = 3` (true on the 3rd of 4 events, while Splunk counts 4 and reports
// nothing) nor `count < 2` (true on every group's first event). A window filtered on any other condition answers
// when it closes, with its final counts, as the scheduled search does. planWindow checks the conditions a windowed
// stats is filtered on, and works out how many distinct values each dc() must keep to compare exactly with the
// numbers it is compared with.

// trend says how a condition on a group's aggregated row can change while its window fills.
type trend int

const (
	steady   trend = iota // reads no aggregate: the same all window long (a by-field, a field the row lacks)
	rising                // can turn from false to true, never back
	falling               // can turn from true to false, never back
	unsteady              // can turn either way
)

// maxDistinctKept bounds the distinct values one dc() keeps per group and window, whatever its threshold, and all
// the dc() of a rule between them: a rule comparing dc() with a larger number, or whose dc() would keep more between
// them, fails to load.
const maxDistinctKept = 10000

// windowPlan is the windowed stats of a rule and, per aggregate, the distinct values it keeps (0: the default).
// atClose says its conditions can stop holding as the window fills: the window answers when it closes (window.go).
type windowPlan struct {
	stats   rule.Stats
	keep    []int
	atClose bool
	// gate reads the conditions on a group's state before its row is built (stateGate); nil when it cannot.
	gate *stateGate
	// hopeless, of a window answered at its close, knows when its conditions can no longer hold (planHopeless).
	hopeless *stateGate
}

// planWindow checks the where/search stages after the windowed stats at index at and returns its plan. A condition
// that can stop holding as the window fills makes a window answered when it closes, unless atCloseRefused (no record
// could carry such an answer: the processor's enrich mode), when it is an error.
func planWindow(stages []rule.Stage, at int, atCloseRefused bool) (*windowPlan, error) {
	st := stages[at].(rule.Stats)
	plan := &windowPlan{stats: st, keep: make([]int, len(st.Aggs))}
	aggs := map[string]int{}     // row field name -> aggregate index
	derived := map[string]bool{} // fields an eval computed from aggregates
	// bounded are the fields that read a dc() or values() other than by a comparison with a number (computed from
	// one): those keep a bounded number of values, exact only for the thresholds a condition compares them with.
	bounded := map[string]string{}
	for i, a := range st.Aggs {
		aggs[a.OutputName()] = i
	}
	for _, later := range stages[at+1:] {
		var cond rule.Expr
		var cmd string
		switch later := later.(type) {
		case rule.Rename:
			for _, p := range later.Pairs {
				if i, ok := aggs[p.From]; ok {
					delete(aggs, p.From)
					aggs[p.To] = i
				}
			}
			continue
		case rule.Eval:
			delete(bounded, later.To)
			rule.EachValueField(later.Value, func(f rule.Field) {
				if _, agg := aggs[f.Name]; agg || derived[f.Name] {
					derived[later.To] = true
				}
				if i, agg := aggs[f.Name]; agg && (st.Aggs[i].Func == "dc" || st.Aggs[i].Func == "values") {
					bounded[later.To] = st.Aggs[i].OutputName()
				} else if src, ok := bounded[f.Name]; ok {
					bounded[later.To] = src
				}
			})
			continue
		case rule.Lookup:
			// As an eval: a field looked up from an aggregate is derived from it; one an OUTPUT writes is no aggregate.
			fromAgg := false
			for _, in := range later.InputNames() {
				if _, agg := aggs[in]; agg || derived[in] {
					fromAgg = true
				}
			}
			for _, out := range later.OutputNames() {
				if later.New && !fromAgg {
					continue // OUTPUTNEW leaves a field the row has: an aggregate always has a value
				}
				delete(aggs, out)
				delete(bounded, out)
				delete(derived, out)
				if fromAgg {
					derived[out] = true
				}
			}
			continue
		case rule.Project:
			// A field the projection takes away is no aggregate for a later condition: it reads nothing.
			for name := range aggs {
				if !later.Keeps(name) {
					delete(aggs, name)
				}
			}
			for name := range derived {
				if !later.Keeps(name) {
					delete(derived, name)
				}
			}
			for name := range bounded {
				if !later.Keeps(name) {
					delete(bounded, name)
				}
			}
			continue
		case rule.Where:
			cond, cmd = later.Cond, "where"
		case rule.Search:
			cond, cmd = later.Cond, "search"
		default:
			continue
		}
		var from string
		rule.EachField(cond, func(f rule.Field) {
			if derived[f.Name] {
				from = f.Name
			}
		})
		c := condCheck{aggs: aggs, stats: st}
		switch t := c.trend(cond, false); {
		case from == "" && t != falling && t != unsteady:
		case !atCloseRefused:
			if err := c.inexact(cmd, cond, bounded); err != nil {
				return nil, err
			}
			plan.atClose = true
		case from != "":
			return nil, fmt.Errorf("%s on %s: it is computed from an aggregate of the windowed stats, and a condition on it "+
				"cannot be checked as the window fills; compare the aggregate itself (or run the rule in mode: fork, "+
				"which answers it when the window closes)", cmd, from)
		default:
			return nil, c.refusal(cmd, cond)
		}
		if err := c.keep(cond, plan.keep); err != nil {
			return nil, err
		}
	}
	// Between them, the dc() aggregates a rule compares with large numbers keep at most maxDistinctKept values per
	// group and window, so that a rule of many such dc() cannot multiply its memory by their number (a dc() that
	// keeps the default 100 is not counted: it keeps what values() keeps).
	kept, each := 0, []string(nil)
	for i, a := range st.Aggs {
		if a.Func == "dc" && plan.keep[i] > maxValuesPerAggregate {
			kept += plan.keep[i]
			each = append(each, fmt.Sprintf("dc(%s) %d", a.Field, plan.keep[i]))
		}
	}
	if kept > maxDistinctKept {
		return nil, fmt.Errorf("the rule's dc() aggregates would keep %d distinct values per group between them (%s): "+
			"at most %d, so that a window's memory stays bounded; compare fewer dc() with large numbers",
			kept, strings.Join(each, ", "), maxDistinctKept)
	}
	if plan.atClose {
		plan.hopeless = planHopeless(stages, at)
	} else {
		plan.gate = planGate(stages, at)
	}
	return plan, nil
}

type condCheck struct {
	aggs  map[string]int
	stats rule.Stats
}

// trend is how e (negated when neg) can change as the window fills.
func (c condCheck) trend(e rule.Expr, neg bool) trend {
	var terms []rule.Expr
	switch e := e.(type) {
	case rule.Not:
		return c.trend(e.X, !neg)
	case rule.And:
		terms = e
	case rule.Or:
		terms = e
	default:
		t := c.termTrend(e)
		if neg {
			switch t {
			case rising:
				return falling
			case falling:
				return rising
			}
		}
		return t
	}
	out := steady
	for _, x := range terms {
		switch t := c.trend(x, neg); {
		case t == steady:
		case out == steady:
			out = t
		case t != out:
			return unsteady
		}
	}
	return out
}

// termTrend is how one comparison can change. count and dc only grow, values() only gains values, and an aggregate
// that has a value keeps one; anything else (min, max, earliest, latest, two fields compared, a value computed from
// an aggregate: `count*2 > 10`, `'dc(x)'/count > 0.5`) can go either way.
func (c condCheck) termTrend(e rule.Expr) trend {
	switch e := e.(type) {
	case rule.ValueCompare:
		t := steady
		rule.EachField(e, func(f rule.Field) {
			if _, ok := c.aggs[f.Name]; ok {
				t = unsteady
			}
		})
		return t
	case rule.Exists:
		if _, ok := c.aggs[e.Field.Name]; ok {
			return rising
		}
	case rule.FieldEquals:
		_, a := c.aggs[e.A.Name]
		_, b := c.aggs[e.B.Name]
		if a || b {
			return unsteady
		}
	case rule.Compare:
		i, ok := c.aggs[e.Field.Name]
		if !ok {
			return steady
		}
		switch c.stats.Aggs[i].Func {
		case "count", "dc":
			if _, num := threshold(e); !num {
				return unsteady
			}
			switch e.Op {
			case rule.OpGt, rule.OpGe:
				return rising
			case rule.OpLt, rule.OpLe:
				return falling
			}
		case "values":
			// Any one value matching makes the comparison true, and values are never taken back.
			if e.Op != rule.OpNe {
				return rising
			}
		}
		return unsteady
	}
	return steady
}

// inexact refuses a condition answered at a window's close that reads a dc() or values() other than by comparing it
// with a number (through a value computed from it, or compared with another field): they keep a bounded number of
// values, enough only for the numbers they are compared with, and the answer would not be Splunk's.
func (c condCheck) inexact(cmd string, cond rule.Expr, bounded map[string]string) error {
	isBounded := func(name string) (string, bool) {
		if i, ok := c.aggs[name]; ok && (c.stats.Aggs[i].Func == "dc" || c.stats.Aggs[i].Func == "values") {
			return c.stats.Aggs[i].OutputName(), true
		}
		src, ok := bounded[name]
		return src, ok
	}
	var err error
	rule.EachTerm(cond, func(t rule.Expr) {
		if err != nil {
			return
		}
		var name string
		switch t := t.(type) {
		case rule.FieldEquals, rule.ValueCompare:
			// Compared with another field or computed on (dc(x)/count): the kept values are not the count.
			rule.EachField(t, func(f rule.Field) {
				if src, ok := isBounded(f.Name); ok {
					name = src
				}
			})
		default:
			rule.EachField(t, func(f rule.Field) {
				if src, ok := bounded[f.Name]; ok {
					name = src
				}
			})
		}
		if name != "" {
			err = fmt.Errorf("%s `%s` reads %s other than by comparing it with a number: a window keeps at most %d "+
				"of its values (as many as the numbers it is compared with need), so the answer at the window's close "+
				"would not be exact; compare it with a number", cmd, termText(t, false), name, maxValuesPerAggregate)
		}
	})
	return err
}

// threshold is the number a comparison compares with, if it is one.
func threshold(e rule.Compare) (float64, bool) {
	if e.Value.Kind != rule.Glob && e.Value.Kind != rule.Number || !rule.IsDecimal(e.Value.Text) {
		return 0, false
	}
	// Out of float64's range (1e400) it is still a number: ±Inf, or 0 for 1e-400, as the evaluation reads it.
	n, err := strconv.ParseFloat(e.Value.Text, 64)
	return n, err == nil || errors.Is(err, strconv.ErrRange)
}

// keep raises, for each dc() that e compares with a number n, the distinct values it keeps to floor(n)+1: a count
// that stops there compares with n as the exact count would.
func (c condCheck) keep(e rule.Expr, keep []int) error {
	var err error
	rule.EachTerm(e, func(t rule.Expr) {
		cmp, ok := t.(rule.Compare)
		if !ok || err != nil {
			return
		}
		i, ok := c.aggs[cmp.Field.Name]
		if !ok || c.stats.Aggs[i].Func != "dc" {
			return
		}
		n, _ := threshold(cmp)
		if n >= maxDistinctKept {
			err = fmt.Errorf("`%s` compares dc(%s) with %s: a window counts at most %d distinct values per group, "+
				"so the numbers dc() is compared with must be below %d", termText(cmp, false), c.stats.Aggs[i].Field,
				cmp.Value.Text, maxDistinctKept, maxDistinctKept)
			return
		}
		if n >= 0 {
			keep[i] = max(keep[i], int(math.Floor(n))+1)
		}
	})
	return err
}

// refusal explains why a condition cannot be answered over a window, naming the first term that makes it so.
func (c condCheck) refusal(cmd string, cond rule.Expr) error {
	var culprit rule.Expr
	var neg bool
	var why trend
	var walk func(e rule.Expr, n bool)
	walk = func(e rule.Expr, n bool) {
		if culprit != nil {
			return
		}
		switch e := e.(type) {
		case rule.Not:
			walk(e.X, !n)
		case rule.And:
			for _, x := range e {
				walk(x, n)
			}
		case rule.Or:
			for _, x := range e {
				walk(x, n)
			}
		default:
			if t := c.trend(e, n); t == falling || t == unsteady {
				culprit, neg, why = e, n, t
			}
		}
	}
	walk(cond, false) // a condition that is not rising has a term that is not
	effect := "can hold and then stop holding as the window fills"
	if why == falling {
		effect = "can hold early in the window and stop holding as it fills"
	}
	if _, ok := culprit.(rule.ValueCompare); ok {
		effect = "computes on an aggregate, and a window cannot tell whether such a value only grows as it fills " +
			"(compare the aggregate itself with a number: count > 10; arithmetic of constants, count > 2*5, is folded)"
	}
	if cmp, ok := culprit.(rule.Compare); ok {
		if i, ok := c.aggs[cmp.Field.Name]; ok && (c.stats.Aggs[i].Func == "count" || c.stats.Aggs[i].Func == "dc") {
			n, num := threshold(cmp)
			switch op := cmp.Op; {
			case neg && (op == rule.OpGt || op == rule.OpGe) || !neg && (op == rule.OpLt || op == rule.OpLe):
				effect = "would fire on the first event of every group"
			case num && !neg && op == rule.OpEq:
				effect = fmt.Sprintf("would fire when the count reaches %s, though more events may come (a scheduled "+
					"search compares the count at the end)", strconv.FormatFloat(n, 'f', -1, 64))
			}
		}
	}
	return fmt.Errorf("%s `%s` %s: a window answers a group when its condition first holds, a scheduled search (Splunk's, "+
		"Elastic's) once, at the end of the window. Conditions on the aggregates of a windowed stats must only become true as the window fills: "+
		"count and dc() compared with a number by > or >=, values() by = or like(), isnotnull(), conditions on the "+
		"by-fields, and AND/OR of them (in mode: fork, any other condition is answered when the window closes)", cmd, termText(culprit, neg), effect)
}

// termText spells a term of the rule model for an error message.
func termText(e rule.Expr, neg bool) string {
	var s string
	switch e := e.(type) {
	case rule.Compare:
		s = e.Field.Name + e.Op.String() + e.Value.Text
	case rule.Exists:
		if neg {
			return "isnull(" + e.Field.Name + ")"
		}
		return "isnotnull(" + e.Field.Name + ")"
	default:
		s = rule.ExprText(e)
	}
	if neg {
		return "NOT " + s
	}
	return s
}

// stateGate reads the conditions that follow a windowed stats on a group's window state, without building its row:
// the terms that compare count or dc() with a number by <, <=, > or >=, read as the row's comparison reads them
// (orderNode: both sides numbers). A window builds a group's row for the rest of the pipeline only when the gate
// does not know the conditions to be false, so that the events of a group still short of its threshold build none
// (they were the bulk of a windowed rule's garbage). Terms it cannot read leave the answer to the row.
type stateGate struct{ cond gateExpr }

// holds reports false only when the conditions surely do not hold for the window's current state.
func (g *stateGate) holds(ws *windowState) bool {
	if g == nil {
		return true
	}
	val, known := g.cond.eval(ws)
	return val || !known
}

type gateExpr interface {
	eval(ws *windowState) (val, known bool)
}

type gateUnknown struct{}

func (gateUnknown) eval(*windowState) (bool, bool) { return false, false }

type gateAnd []gateExpr

func (a gateAnd) eval(ws *windowState) (bool, bool) {
	known := true
	for _, x := range a {
		v, k := x.eval(ws)
		if k && !v {
			return false, true
		}
		known = known && k
	}
	return true, known
}

type gateOr []gateExpr

func (o gateOr) eval(ws *windowState) (bool, bool) {
	known := true
	for _, x := range o {
		v, k := x.eval(ws)
		if k && v {
			return true, true
		}
		known = known && k
	}
	return false, known
}

type gateNot struct{ x gateExpr }

func (n gateNot) eval(ws *windowState) (bool, bool) {
	v, k := n.x.eval(ws)
	return !v, k
}

// gateCount compares a count (of events, or of the events with a value of the field: present) or a dc() with num.
type gateCount struct {
	agg         int
	dc, ofField bool
	op          rule.Op
	num         float64
}

func (c gateCount) eval(ws *windowState) (bool, bool) {
	var n int64
	switch s := &ws.aggs[c.agg]; {
	case c.dc:
		n = int64(len(s.vals))
	case c.ofField:
		n = s.present
	default:
		n = ws.count
	}
	cmp := 0
	switch x := float64(n); {
	case x < c.num:
		cmp = -1
	case x > c.num:
		cmp = 1
	}
	return c.op.Holds(cmp), true
}

// planGate builds the gate of the windowed stats at index at from the Where and Search stages after it, up to the
// first stage that could change what the aggregates' names hold (an eval, another stats...); nil when none of their
// terms can be read on the state.
func planGate(stages []rule.Stage, at int) *stateGate {
	st := stages[at].(rule.Stats)
	var conds gateAnd
	useful := false
	eachGateCond(stages, at, func(cond rule.Expr, aggs map[string]int) {
		conds = append(conds, gateOf(cond, aggs, st, &useful))
	})
	if !useful {
		return nil
	}
	return &stateGate{cond: conds}
}

// planHopeless builds, for a window answered at its close, the gate that tells when it can no longer answer: the
// conjuncts of the conditions after the stats that can turn from true to false but never back (count < 75, dc(x) <= 3
// and their negations of rising terms). Once one of them is false, the window's final row would fail it too, so the
// window stops folding its events into aggregates nobody will read. nil when no such conjunct can be read on the
// state.
func planHopeless(stages []rule.Stage, at int) *stateGate {
	st := stages[at].(rule.Stats)
	var conds gateAnd
	useful := false
	eachGateCond(stages, at, func(cond rule.Expr, aggs map[string]int) {
		conjuncts := []rule.Expr{cond}
		if and, ok := cond.(rule.And); ok {
			conjuncts = and
		}
		for _, x := range conjuncts {
			// Terms on aggregates other than count and dc() are not in aggs: steady to trend, unknown to gateOf, so
			// they never make a conjunct known to be false.
			if (condCheck{aggs: aggs, stats: st}).trend(x, false) == falling {
				conds = append(conds, gateOf(x, aggs, st, &useful))
			}
		}
	})
	if !useful {
		return nil
	}
	return &stateGate{cond: conds}
}

// eachGateCond calls fn with each Where or Search condition after the windowed stats at index at, up to the first
// stage that could change what the aggregates' names hold, and with the count and dc() aggregates by the names
// they have there.
func eachGateCond(stages []rule.Stage, at int, fn func(cond rule.Expr, aggs map[string]int)) {
	st := stages[at].(rule.Stats)
	aggs := map[string]int{}
	for i, a := range st.Aggs {
		// As snapshot writes them: the last aggregate of a name is the row's field.
		if f := strings.ToLower(a.Func); f == "count" || f == "dc" {
			aggs[a.OutputName()] = i
		} else {
			delete(aggs, a.OutputName())
		}
	}
	for _, later := range stages[at+1:] {
		switch later := later.(type) {
		case rule.FillNull:
			// count and dc() always have a value: nothing to fill.
		case rule.Rename:
			for _, p := range later.Pairs {
				if strings.Contains(p.From, "*") || strings.Contains(p.To, "*") {
					return
				}
				i, ok := aggs[p.From]
				delete(aggs, p.From)
				delete(aggs, p.To)
				if ok {
					aggs[p.To] = i
				}
			}
		case rule.Project:
			for name := range aggs {
				if !later.Keeps(name) {
					delete(aggs, name)
				}
			}
		case rule.Where:
			fn(later.Cond, aggs)
		case rule.Search:
			fn(later.Cond, aggs)
		default:
			return
		}
	}
}

// gateOf translates one condition; useful is set when a term can be read on the state.
func gateOf(e rule.Expr, aggs map[string]int, st rule.Stats, useful *bool) gateExpr {
	switch e := e.(type) {
	case rule.And:
		out := make(gateAnd, 0, len(e))
		for _, x := range e {
			out = append(out, gateOf(x, aggs, st, useful))
		}
		return out
	case rule.Or:
		out := make(gateOr, 0, len(e))
		for _, x := range e {
			out = append(out, gateOf(x, aggs, st, useful))
		}
		return out
	case rule.Not:
		return gateNot{gateOf(e.X, aggs, st, useful)}
	case rule.Compare:
		i, ok := aggs[e.Field.Name]
		if !ok || e.Value.Kind != rule.Glob {
			break
		}
		switch e.Op {
		case rule.OpLt, rule.OpLe, rule.OpGt, rule.OpGe:
		default:
			return gateUnknown{}
		}
		// As orderNode reads the value it compares with: a number only when the unescaped text is one.
		num, isNum := numberOf([]byte(unescapeGlob(e.Value.Text)))
		if !isNum {
			break
		}
		*useful = true
		a := st.Aggs[i]
		fn := strings.ToLower(a.Func)
		return gateCount{agg: i, dc: fn == "dc", ofField: fn == "count" && a.Field != "", op: e.Op, num: num}
	}
	return gateUnknown{}
}
