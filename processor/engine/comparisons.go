package engine

import (
	"fmt"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// comparisons counts r's leaf comparisons in its filter and its pipeline's expressions: each term (a value of a list,
// a pattern, an exists, a computed comparison), and the conditions of a case's branches wherever a value holds one.
func comparisons(r *rule.Rule) int {
	n := exprComparisons(r.Filter)
	for _, st := range r.Pipeline {
		switch st := st.(type) {
		case rule.Search:
			n += exprComparisons(st.Cond)
		case rule.Where:
			n += exprComparisons(st.Cond)
		case rule.Eval:
			n += valueComparisons(st.Value)
		case rule.Sequence:
			for _, step := range st.Steps {
				n += exprComparisons(step.Cond)
			}
			n += exprComparisons(st.Until.Cond)
		}
	}
	return n
}

func exprComparisons(e rule.Expr) int {
	n := 0
	rule.EachTerm(e, func(t rule.Expr) {
		n++
		if vc, ok := t.(rule.ValueCompare); ok {
			n += valueComparisons(vc.Left) + valueComparisons(vc.Right)
		}
	})
	return n
}

func valueComparisons(v rule.Value) int {
	n := 0
	switch v := v.(type) {
	case rule.Call:
		for _, a := range v.Args {
			n += valueComparisons(a)
		}
	case rule.Case:
		for _, w := range v.Whens {
			// A branch costs at least its test, whatever its condition holds.
			n += max(exprComparisons(w.Cond), 1) + valueComparisons(w.Then)
		}
		n += valueComparisons(v.Else)
	case rule.Extract:
		n += valueComparisons(v.From) + valueComparisons(v.Else)
	}
	return n
}

// checkComparisons refuses a rule over rule.MaxComparisons: every rule language passes here.
func checkComparisons(r *rule.Rule) error {
	if n := comparisons(r); n > rule.MaxComparisons {
		return fmt.Errorf("the rule makes %d comparisons in all (each value of a list, each pattern, each condition "+
			"and case branch of its filter and pipeline counts), over the limit of %d: split the rule, or list fewer values",
			n, rule.MaxComparisons)
	}
	return nil
}
