package engine

import (
	"fmt"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Shared terms. Rules of one set test the same terms over and over: most ESCU rules test stage=ResponseComplete, the
// rules on every operation responseStatus.code=403, the workload rules one list of controllers. A term that more
// than one filter of the engine tests is compiled as a sharedNode, whose answer on an event is kept for the rest of
// the evaluation: the next rule testing it reads the answer instead of reading the field's values and comparing them
// again (on the generated mix, half the comparisons the built-in pack made were such repeats).

// sharedNode is a term tested by more than one filter of the engine; slot numbers its answer in evalCtx.answers.
type sharedNode struct {
	x    node
	slot int32
}

// termAnswer is a shared term's answer on the event of evaluation gen.
type termAnswer struct {
	gen   uint32
	holds bool
}

func (n sharedNode) eval(c *evalCtx, s source) bool {
	// On a row (a pipeline's search stage) the term reads the row, not the event: no answer is kept.
	if s.row != nil || c.gen == 0 {
		return n.x.eval(c, s)
	}
	if int(n.slot) < len(c.answers) && c.answers[n.slot].gen == c.gen {
		return c.answers[n.slot].holds
	}
	holds := n.x.eval(c, s)
	if int(n.slot) >= len(c.answers) {
		c.answers = append(c.answers, make([]termAnswer, int(n.slot)+1-len(c.answers))...)
	}
	c.answers[n.slot] = termAnswer{gen: c.gen, holds: holds}
	return holds
}

// sharedTerms counts the terms of the compiled filters, hoisted conjuncts and sequence steps of rules and numbers
// those tested more than once: the terms compiled as sharedNodes.
func sharedTerms(rules []*rule.Rule) map[string]int32 {
	counts := map[string]int{}
	var order []string
	var walk func(e rule.Expr)
	walk = func(e rule.Expr) {
		if k, ok := termKey(e); ok {
			if counts[k] == 0 {
				order = append(order, k)
			}
			counts[k]++
		}
		switch e := e.(type) {
		case rule.And:
			for _, t := range e {
				walk(t)
			}
		case rule.Or:
			for _, t := range e {
				walk(t)
			}
		case rule.Not:
			walk(e.X)
		}
	}
	for _, r := range rules {
		// The conjuncts the index decides are not compiled (compileRule): they are not counted.
		walk(undecided(r.Filter, requiredOps(r.Filter)))
		walk(hoisted(r))
		for _, st := range r.Pipeline {
			if sq, ok := st.(rule.Sequence); ok { // its steps' conditions read the event, with the shared fields
				for _, step := range sq.Steps {
					walk(step.Cond)
				}
				walk(sq.Until.Cond)
			}
		}
	}
	slots := map[string]int32{}
	for _, k := range order {
		if counts[k] > 1 {
			slots[k] = int32(len(slots))
		}
	}
	return slots
}

// termKey names a term that can be shared: a comparison of a field with a value (= or !=), a test that a field
// exists, or an Or of equality comparisons (an IN list). Two terms with one key test the same thing: a Compare or an
// Exists is plain data (names, flags and text), printed whole. Other terms are not shared.
func termKey(e rule.Expr) (string, bool) {
	switch e := e.(type) {
	case rule.Compare:
		if e.Op == rule.OpEq || e.Op == rule.OpNe {
			return fmt.Sprintf("%#v", e), true
		}
	case rule.Exists:
		return fmt.Sprintf("%#v", e), true
	case rule.Or:
		var b strings.Builder
		b.WriteString("or")
		for _, t := range e {
			c, ok := t.(rule.Compare)
			if !ok || c.Op != rule.OpEq {
				return "", false
			}
			fmt.Fprintf(&b, "|%#v", c)
		}
		return b.String(), true
	}
	return "", false
}

// share wraps n, compiled from e, as a sharedNode when fs numbers e among the shared terms.
func (fs *fields) share(e rule.Expr, n node) node {
	if fs == nil || fs.shared == nil {
		return n
	}
	k, ok := termKey(e)
	if !ok {
		return n
	}
	if slot, ok := fs.shared[k]; ok {
		return sharedNode{x: n, slot: slot}
	}
	return n
}
