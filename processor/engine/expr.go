package engine

import (
	"bytes"
	"fmt"

	"github.com/auditdetect/auditdetect/processor/event"
	"github.com/auditdetect/auditdetect/processor/rule"
)

// source is what an expression reads fields from: the event itself, or a result row. It is a concrete type, not an
// interface, so that the callbacks passed to each do not escape and evaluation allocates nothing.
type source struct {
	view *event.View
	row  *row
}

func (s source) each(f *fieldRef, fn func(v []byte) bool) bool {
	if s.row != nil {
		return s.row.each(f, fn)
	}
	return s.view.Each(f.path, fn)
}

// fieldRef is a field compiled for both places it can be read from: as a row name and as an event path.
type fieldRef struct {
	name string
	path *event.Path
}

func newFieldRef(f rule.Field) *fieldRef {
	return &fieldRef{name: f.Name, path: event.CompilePath(f.Name, f.AnyArray)}
}

// node is a compiled boolean expression.
type node interface {
	eval(c *evalCtx, s source) bool
}

type trueNode struct{}

func (trueNode) eval(*evalCtx, source) bool { return true }

type andNode []node

func (n andNode) eval(c *evalCtx, s source) bool {
	for _, t := range n {
		if !t.eval(c, s) {
			return false
		}
	}
	return true
}

type orNode []node

func (n orNode) eval(c *evalCtx, s source) bool {
	for _, t := range n {
		if t.eval(c, s) {
			return true
		}
	}
	return false
}

type notNode struct{ x node }

func (n notNode) eval(c *evalCtx, s source) bool { return !n.x.eval(c, s) }

// matchNode is `field=pattern`: true when any value matches.
type matchNode struct {
	f *fieldRef
	m matcher
}

func (n matchNode) eval(c *evalCtx, s source) bool {
	found := false
	s.each(n.f, func(v []byte) bool {
		found = n.m.match(c, v)
		return !found
	})
	return found
}

// notEqualNode is Splunk's `field!=pattern`: the field exists and none of its values matches.
type notEqualNode struct {
	f *fieldRef
	m matcher
}

func (n notEqualNode) eval(c *evalCtx, s source) bool {
	exists, matched := false, false
	s.each(n.f, func(v []byte) bool {
		exists = true
		matched = n.m.match(c, v)
		return !matched
	})
	return exists && !matched
}

type existsNode struct{ f *fieldRef }

func (n existsNode) eval(_ *evalCtx, s source) bool {
	return !s.each(n.f, func([]byte) bool { return false })
}

// orderNode is a <, <=, > or >= comparison: numeric when both sides are numbers, else a string comparison.
type orderNode struct {
	f       *fieldRef
	op      rule.Op
	text    []byte
	num     float64
	numeric bool
	fold    bool
}

func (n orderNode) eval(c *evalCtx, s source) bool {
	found := false
	s.each(n.f, func(v []byte) bool {
		var cmp int
		if x, ok := numberOf(v); ok && n.numeric {
			switch {
			case x < n.num:
				cmp = -1
			case x > n.num:
				cmp = 1
			}
		} else {
			if n.fold {
				v = c.lowerASCII(v)
			}
			cmp = bytes.Compare(v, n.text)
		}
		switch n.op {
		case rule.OpLt:
			found = cmp < 0
		case rule.OpLe:
			found = cmp <= 0
		case rule.OpGt:
			found = cmp > 0
		case rule.OpGe:
			found = cmp >= 0
		}
		return !found
	})
	return found
}

// fieldEqualsNode is Sigma's fieldref: some value of a equals some value of b.
type fieldEqualsNode struct {
	a, b *fieldRef
	fold bool
}

func (n fieldEqualsNode) eval(_ *evalCtx, s source) bool {
	// Copy a's values first: the source may reuse its buffer while b is walked.
	var as [][]byte
	s.each(n.a, func(v []byte) bool {
		as = append(as, bytes.Clone(v))
		return true
	})
	found := false
	s.each(n.b, func(v []byte) bool {
		for _, a := range as {
			if (n.fold && bytes.EqualFold(a, v)) || (!n.fold && bytes.Equal(a, v)) {
				found = true
				return false
			}
		}
		return true
	})
	return found
}

// compileExpr turns a rule expression into a node, calling visit for each field it reads.
func compileExpr(e rule.Expr, visit func(*fieldRef)) (node, error) {
	ref := func(f rule.Field) *fieldRef {
		r := newFieldRef(f)
		if visit != nil {
			visit(r)
		}
		return r
	}
	switch e := e.(type) {
	case nil, rule.True:
		return trueNode{}, nil
	case rule.And:
		out := make(andNode, 0, len(e))
		for _, t := range e {
			n, err := compileExpr(t, visit)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	case rule.Or:
		out := make(orNode, 0, len(e))
		for _, t := range e {
			n, err := compileExpr(t, visit)
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		return out, nil
	case rule.Not:
		x, err := compileExpr(e.X, visit)
		if err != nil {
			return nil, err
		}
		return notNode{x}, nil
	case rule.Exists:
		return existsNode{ref(e.Field)}, nil
	case rule.FieldEquals:
		return fieldEqualsNode{a: ref(e.A), b: ref(e.B), fold: !e.CaseSensitive}, nil
	case rule.Compare:
		f := ref(e.Field)
		switch e.Op {
		case rule.OpEq, rule.OpNe:
			m, err := compilePattern(e.Value)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", e.Field.Name, err)
			}
			if e.Op == rule.OpEq {
				return matchNode{f, m}, nil
			}
			return notEqualNode{f, m}, nil
		case rule.OpLt, rule.OpLe, rule.OpGt, rule.OpGe:
			if e.Value.Kind != rule.Glob {
				return nil, fmt.Errorf("field %s: %s needs a plain value", e.Field.Name, e.Op)
			}
			text := unescapeGlob(e.Value.Text)
			n := orderNode{f: f, op: e.Op, text: []byte(text), fold: !e.Value.CaseSensitive}
			if n.fold {
				n.text = bytes.ToLower(n.text)
			}
			n.num, n.numeric = numberOf([]byte(text))
			return n, nil
		}
		return nil, fmt.Errorf("field %s: unknown operator %d", e.Field.Name, e.Op)
	}
	return nil, fmt.Errorf("unknown expression %T", e)
}

func unescapeGlob(s string) string {
	if !bytes.ContainsRune([]byte(s), '\\') {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b = append(b, s[i])
	}
	return string(b)
}
