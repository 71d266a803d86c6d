package spl

import (
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
		}
	}
	return filter, stages
}

// metadataFields are Splunk's indexing metadata. An audit event does not carry them: in the collector, the pipeline
// that feeds the processor has already chosen the data, so a term on them (security_content's default
// `kube_audit` is source="kubernetes") is satisfied rather than matching nothing.
var metadataFields = map[string]bool{"index": true, "source": true, "sourcetype": true, "host": true, "splunk_server": true}

// onlyMetadata reports whether every comparison in n is on a metadata field.
func onlyMetadata(n node) bool {
	switch n := n.(type) {
	case andNode:
		for _, x := range n {
			if !onlyMetadata(x) {
				return false
			}
		}
		return len(n) > 0
	case orNode:
		for _, x := range n {
			if !onlyMetadata(x) {
				return false
			}
		}
		return len(n) > 0
	case notNode:
		return onlyMetadata(n.x)
	case cmpNode:
		return metadataFields[n.field]
	case inNode:
		return metadataFields[n.field]
	}
	return false
}

// compileNode compiles a search-command expression: values are case-insensitive globs.
func compileNode(n node) rule.Expr {
	if onlyMetadata(n) {
		return rule.True{}
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

// compileWhere compiles a where expression, pushing NOT down to the leaves. Eval logic is three-valued: a comparison
// with a missing field is null, and NOT null is still null, so a row without the field never passes. Negating at the
// leaves (x=v becomes x!=v, which needs x to exist) keeps that, where rule.Not over a comparison would not.
func compileWhere(x wexpr, neg bool) rule.Expr {
	switch x := x.(type) {
	case wAnd:
		l, r := compileWhere(x.l, neg), compileWhere(x.r, neg)
		if neg {
			return or(l, r)
		}
		return and(l, r)
	case wOr:
		l, r := compileWhere(x.l, neg), compileWhere(x.r, neg)
		if neg {
			return and(l, r)
		}
		return or(l, r)
	case wNot:
		return compileWhere(x.x, !neg)
	case wCmp:
		op := x.op
		if neg {
			op = negate(op)
		}
		return rule.Compare{Field: rule.Field{Name: x.field}, Op: op, Value: rule.Literal(x.lit, true)}
	case wFieldEq:
		a, b := rule.Field{Name: x.a}, rule.Field{Name: x.b}
		eq := rule.FieldEquals{A: a, B: b, CaseSensitive: true}
		if x.ne == neg {
			return eq
		}
		return rule.And{rule.Exists{Field: a}, rule.Exists{Field: b}, rule.Not{X: eq}}
	case wFunc:
		f := rule.Field{Name: x.field}
		switch x.name {
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
