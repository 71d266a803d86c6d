package spl

import (
	"fmt"
	"slices"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// compileQuery turns a checked syntax tree into the rule model. It cannot fail: the parser rejected everything the
// model cannot hold.
func compileQuery(q *query) (rule.Expr, []rule.Stage) {
	filter := compileNode(q.search)
	var stages []rule.Stage
	for _, c := range q.cmds {
		switch c := c.(type) {
		case searchCmd:
			cond := compileNode(c.x)
			if _, all := cond.(rule.True); all {
				continue // `search *`, the default body of every *_filter macro
			}
			stages = append(stages, rule.Search{Cond: cond})
		case whereCmd:
			stages = append(stages, rule.Where{Cond: compileWhere(c.x, false)})
		case fillCmd:
			stages = append(stages, rule.FillNull{Value: c.value, Fields: c.fields})
		case renameCmd:
			stages = append(stages, rule.Rename{Pairs: c.pairs})
		case statsCmd:
			stages = append(stages, rule.Stats{Aggs: c.aggs, By: c.by})
		case iplocCmd:
			stages = append(stages, rule.IPLocation{Field: c.field, Prefix: c.prefix})
		case lookupCmd:
			stages = append(stages, c.l)
		case evalCmd:
			for _, e := range c.evals {
				stages = append(stages, e)
			}
		case projectCmd:
			names := c.names
			if c.internal {
				// Splunk's fields keeps the internal fields unless it names them (`fields - _time`, `fields - _*`).
				names = append(slices.Clip(names), internalFields)
			}
			stages = append(stages, rule.Project{Fields: names, Remove: c.remove, Ordered: c.ordered})
		}
	}
	return filter, withEventTime(stages)
}

// metadataFields are Splunk's indexing metadata. An audit event does not carry them: in the collector, the pipeline
// that feeds the processor has already chosen the data, so a term on them (security_content's default
// `kube_audit` is source="kubernetes") is satisfied rather than matching nothing. That holds only for a term that
// selects the data the whole search runs on, so the parser accepts them only there (checkMetadata).
var metadataFields = map[string]bool{"index": true, "source": true, "sourcetype": true, "host": true, "splunk_server": true}

// checkMetadata rejects a term on a metadata field anywhere but where it selects the data: a conjunct of the base
// search made of metadata terms only, joined by AND or OR. Under NOT, beside another field in an OR, or in a
// `| search`, taking it as satisfied would change what the search means (`NOT (host=ci-* OR user=bot)` would match
// nothing), and the event cannot tell whether it holds.
func checkMetadata(n node, base bool) *posError {
	terms := []node{n}
	if a, ok := n.(andNode); ok {
		terms = flattenAnd(a)
	}
	for _, t := range terms {
		if base && selectsData(t) {
			continue
		}
		if pos, field, origin, ok := firstMetadata(t); ok {
			where := "in | search"
			if base {
				where = "under NOT or beside other fields in an OR"
			}
			err := errAt(pos, "%s is Splunk indexing metadata, which audit events do not carry: it may stand only as a "+
				"term of the base search that selects the data (the collector's pipeline has chosen it), not %s", field, where)
			if origin != nil {
				// Written in a macro's definition: said as a fault there, which the loader places in its file.
				f := *origin
				f.Reason = err.reason
				err.reason, err.macro = f.Describe(fmt.Sprintf("definition %d:%d", f.Line, f.Column)), &f
			}
			return err
		}
	}
	return nil
}

func flattenAnd(a andNode) []node {
	var out []node
	for _, x := range a {
		if inner, ok := x.(andNode); ok {
			out = append(out, flattenAnd(inner)...)
		} else {
			out = append(out, x)
		}
	}
	return out
}

// notMetadata rejects a metadata field where it can only fail: audit events do not carry it, so a `where` on it
// never holds and a `stats by` it drops every row; unless an earlier command made a field of that name.
func (p *parser) notMetadata(t token, where string) *posError {
	if metadataFields[t.text] && !p.defined[t.text] {
		return errAt(t.pos, "%s is Splunk indexing metadata, which audit events do not carry: %s on it would never "+
			"hold (it may stand only as a term of the base search that selects the data)", t.text, where)
	}
	return nil
}

// selectsData reports whether n is made of metadata terms joined by AND or OR (`index=x`, not `index!=x`, which
// asks of the data something the event cannot tell).
func selectsData(n node) bool {
	switch n := n.(type) {
	case andNode:
		return allOf(n, selectsData)
	case orNode:
		return allOf(n, selectsData)
	case cmpNode:
		return metadataFields[n.field] && n.op == rule.OpEq
	case inNode:
		return metadataFields[n.field]
	}
	return false
}

func allOf(ns []node, f func(node) bool) bool {
	for _, x := range ns {
		if !f(x) {
			return false
		}
	}
	return len(ns) > 0
}

// firstMetadata returns the first term of n on a metadata field.
func firstMetadata(n node) (pos int, field string, origin *MacroFault, ok bool) {
	return firstTerm(n, func(f string) bool { return metadataFields[f] })
}

// firstTerm returns the first term of n on a field that is.
func firstTerm(n node, is func(field string) bool) (pos int, field string, origin *MacroFault, ok bool) {
	switch n := n.(type) {
	case andNode:
		for _, x := range n {
			if pos, field, origin, ok = firstTerm(x, is); ok {
				return
			}
		}
	case orNode:
		for _, x := range n {
			if pos, field, origin, ok = firstTerm(x, is); ok {
				return
			}
		}
	case notNode:
		return firstTerm(n.x, is)
	case cmpNode:
		return n.pos, n.field, n.origin, is(n.field)
	case inNode:
		return n.pos, n.field, n.origin, is(n.field)
	}
	return 0, "", nil, false
}

// compileNode compiles a search-command expression: values are case-insensitive globs.
func compileNode(n node) rule.Expr {
	if selectsData(n) {
		return rule.True{} // only where checkMetadata let it stand: a conjunct of the base search
	}
	switch n := n.(type) {
	case andNode:
		terms := make([]rule.Expr, len(n))
		for i, x := range n {
			terms[i] = compileNode(x)
		}
		return and(terms...)
	case orNode:
		terms := make([]rule.Expr, len(n))
		for i, x := range n {
			terms[i] = compileNode(x)
		}
		return or(terms...)
	case notNode:
		return rule.Not{X: compileNode(n.x)}
	case cmpNode:
		return compare(n.field, n.op, n.val)
	case inNode:
		terms := make([]rule.Expr, len(n.vals))
		for i, v := range n.vals {
			terms[i] = compare(n.field, rule.OpEq, v)
		}
		return or(terms...)
	}
	return rule.True{} // allNode
}

func compare(field string, op rule.Op, v value) rule.Expr {
	f := rule.Field{Name: field}
	switch op {
	case rule.OpEq:
		if v.glob != "" && strings.Trim(v.glob, "*") == "" {
			return rule.Exists{Field: f} // field=*
		}
		fallthrough
	case rule.OpNe:
		return rule.Compare{Field: f, Op: op, Value: rule.Pattern{Kind: rule.Glob, Text: v.glob}}
	}
	// Ordered comparisons take the value literally: a `*` there is not a wildcard.
	return rule.Compare{Field: f, Op: op, Value: rule.Literal(v.text, false)}
}

// chain returns the operands of x, a wAnd or a wOr, and of the nodes of the same operator under it, in order,
// without recursion (the parser builds a long chain as a left-deep tree).
func chain(x wexpr) []wexpr {
	var out []wexpr
	stack := []wexpr{x}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		var l, r wexpr
		switch n := n.(type) {
		case wAnd:
			if _, same := x.(wAnd); !same {
				out = append(out, n)
				continue
			}
			l, r = n.l, n.r
		case wOr:
			if _, same := x.(wOr); !same {
				out = append(out, n)
				continue
			}
			l, r = n.l, n.r
		default:
			out = append(out, n)
			continue
		}
		stack = append(stack, r, l) // l first out
	}
	return out
}

// compileWhere compiles a where expression, pushing NOT down to the leaves. Eval logic is three-valued: a comparison
// with a missing field is null, and NOT null is still null, so a row without the field never passes. Negating at the
// leaves (x=v becomes x!=v, which needs x to exist) keeps that, where rule.Not over a comparison would not.
func compileWhere(x wexpr, neg bool) rule.Expr {
	switch x := x.(type) {
	case wAnd, wOr:
		// A chain of one operator (an IN list of thousands of values, `a OR b OR c ...`) is joined in one call:
		// joining it two at a time would copy the terms so far at each step, quadratic in its length.
		parts := chain(x)
		terms := make([]rule.Expr, len(parts))
		for i, p := range parts {
			terms[i] = compileWhere(p, neg)
		}
		if _, isAnd := x.(wAnd); isAnd != neg {
			return and(terms...)
		}
		return or(terms...)
	case wNot:
		return compileWhere(x.x, !neg)
	case wCmp:
		op := x.op
		if neg {
			op = negate(op)
		}
		v := rule.Literal(x.lit, true)
		// A number as the engine reads one (rule.ParseNumber): a longer or out-of-range literal is text, and so is the
		// inf that constant arithmetic past a double's range folds to.
		if _, ok := rule.ParseNumber(x.lit); x.num && ok && (op == rule.OpEq || op == rule.OpNe) {
			// Eval compares numerically when both sides are numbers, as <, <=, > and >= already do.
			v = rule.Pattern{Kind: rule.Number, Text: x.lit, CaseSensitive: true}
		}
		return rule.Compare{Field: rule.Field{Name: x.field}, Op: op, Value: v}
	case wValCmp:
		op := x.op
		if neg {
			op = negate(op)
		}
		return rule.ValueCompare{Left: x.l, Op: op, Right: x.r, AsText: x.text}
	case wValTest:
		// Whether a value is null is true or false, never null: NOT of it is its negation.
		if neg {
			return rule.Not{X: rule.ValueCompare{Left: x.v}}
		}
		return rule.ValueCompare{Left: x.v}
	case wNever:
		return rule.Not{X: rule.True{}}
	case wFunc:
		f := rule.Field{Name: x.field}
		switch x.name {
		case "true", "false":
			if (x.name == "true") != neg {
				return rule.True{}
			}
			return rule.Not{X: rule.True{}}
		case "isnull", "isnotnull":
			if (x.name == "isnull") == neg {
				return rule.Exists{Field: f}
			}
			return rule.Not{X: rule.Exists{Field: f}}
		}
		op := rule.OpEq
		if neg {
			op = rule.OpNe
		}
		return rule.Compare{Field: f, Op: op, Value: x.pat}
	}
	return rule.True{}
}

func negate(op rule.Op) rule.Op {
	switch op {
	case rule.OpEq:
		return rule.OpNe
	case rule.OpNe:
		return rule.OpEq
	case rule.OpLt:
		return rule.OpGe
	case rule.OpLe:
		return rule.OpGt
	case rule.OpGt:
		return rule.OpLe
	}
	return rule.OpLt // OpGe
}

// and flattens nested Ands and drops match-all terms.
func and(terms ...rule.Expr) rule.Expr {
	var out rule.And
	for _, t := range terms {
		switch t := t.(type) {
		case rule.True:
		case rule.And:
			out = append(out, t...)
		default:
			out = append(out, t)
		}
	}
	switch len(out) {
	case 0:
		return rule.True{}
	case 1:
		return out[0]
	}
	return out
}

// or flattens nested Ors; a match-all term makes the whole Or match all.
func or(terms ...rule.Expr) rule.Expr {
	var out rule.Or
	for _, t := range terms {
		switch t := t.(type) {
		case rule.True:
			return rule.True{}
		case rule.Or:
			out = append(out, t...)
		default:
			out = append(out, t)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}
