package engine

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// TestComparisonsCountEveryLanguagesExpressions: the filter, search, where, a sequence's steps and until, and the
// conditions of a case anywhere in a value all count; a rule at the bound compiles and one past it does not.
func TestComparisonsCountEveryLanguagesExpressions(t *testing.T) {
	cmp := func(v string) rule.Expr {
		return rule.Compare{Field: rule.Field{Name: "user"}, Value: rule.Literal(v, false)}
	}
	list := func(n int) rule.Expr {
		or := rule.Or{}
		for i := range n {
			or = append(or, cmp(fmt.Sprint(i)))
		}
		return or
	}
	caseOf := func(n int) rule.Value {
		c := rule.Case{Else: rule.Constant{Text: "z"}}
		for i := range n {
			c.Whens = append(c.Whens, rule.When{Cond: cmp(fmt.Sprint(i)), Then: rule.Constant{Text: "a"}})
		}
		// A branch whose condition is an empty And still costs its test.
		c.Whens = append(c.Whens, rule.When{Cond: rule.And{}, Then: rule.Constant{Text: "b"}})
		return c
	}
	r := &rule.Rule{Name: "r", Filter: list(3), Pipeline: []rule.Stage{
		rule.Search{Cond: list(2)},
		rule.Where{Cond: rule.ValueCompare{Left: rule.Call{Func: "to_lower", Args: []rule.Value{caseOf(4)}}, Op: rule.OpEq,
			Right: rule.Constant{Text: "a"}}},
		rule.Eval{To: "x", Value: rule.Extract{From: caseOf(1), Regex: "(?P<g>.)", Group: "g", Else: caseOf(2)}},
	}}
	// 3 + 2 + (1 + 5) + (2 + 3)
	assert.Equal(t, 16, comparisons(r))
	seq := &rule.Rule{Name: "s", Pipeline: []rule.Stage{rule.Sequence{
		Steps: []rule.SequenceStep{{Cond: list(2)}, {Cond: list(3)}}, Until: rule.SequenceStep{Cond: list(4)}}}}
	assert.Equal(t, 9, comparisons(seq))

	_, err := Compile([]*rule.Rule{{Name: "at", Filter: list(rule.MaxComparisons)}}, Options{})
	require.NoError(t, err)
	_, err = Compile([]*rule.Rule{{Name: "past", Origin: rule.Origin{File: "f.yml", Line: 7},
		Filter: list(rule.MaxComparisons - 1), Pipeline: []rule.Stage{rule.Where{Cond: list(2)}}}}, Options{})
	require.Error(t, err)
	assert.Regexp(t, `^f\.yml:7: rule "past": the rule makes 10001 comparisons in all .*over the limit of 10000`, err.Error())
}
