package spl

import (
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// The `where` command uses eval syntax (expr.go): AND/OR/NOT with the usual precedence (NOT, then AND, then OR),
// comparisons of values and computed values, "strings" in double quotes, bare words and 'single-quoted' names as
// fields, and no wildcards except in like(). A comparison of a field with a constant keeps the rule model's field
// form (Compare); any other comparison, two fields' included, is one of computed values (ValueCompare).

func (p *parser) parseWhereCmd() (command, *posError) {
	p.lex.eval = true
	defer func() { p.lex.eval = false }()
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind == kEOF || t.kind == kPipe {
		return nil, errAt(t.pos, "missing condition before %s", t.describe())
	}
	it, err := p.exprOr()
	if err != nil {
		return nil, err
	}
	x, err := asCond(it)
	if err != nil {
		return nil, err
	}
	if t, err = p.peek(); err != nil {
		return nil, err
	}
	if t.kind != kEOF && t.kind != kPipe {
		return nil, errAt(t.pos, "unexpected %s in where expression", t.describe())
	}
	return whereCmd{x: x}, nil
}

// inList is `field IN (...)` or in(field, ...): an OR of = comparisons.
func inList(field string, list []operand) wexpr {
	var x wexpr
	for _, v := range list {
		var c wexpr = wCmp{field: field, op: rule.OpEq, lit: v.text, num: v.num}
		if v.null {
			c = wNever{} // null compares with nothing, as x = null() does
		}
		if x == nil {
			x = c
		} else {
			x = wOr{l: x, r: c}
		}
	}
	return x
}

// flip turns `5 < x` into `x > 5`.
func flip(op rule.Op) rule.Op {
	switch op {
	case rule.OpLt:
		return rule.OpGt
	case rule.OpLe:
		return rule.OpGe
	case rule.OpGt:
		return rule.OpLt
	case rule.OpGe:
		return rule.OpLe
	}
	return op
}

// operand is a constant of an IN list: its text, and whether it is an unquoted number or null (null(), 1/0).
type operand struct {
	text      string
	num, null bool
}

// likePattern turns an SQL LIKE pattern (% any run, _ one character) into a case-sensitive Glob.
func likePattern(s string) rule.Pattern {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '%':
			b.WriteByte('*')
		case '_':
			b.WriteByte('?')
		default:
			b.WriteString(rule.EscapeGlob(string(r)))
		}
	}
	return rule.Pattern{Kind: rule.Glob, Text: b.String(), CaseSensitive: true}
}

func isIdent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && !('a' <= c && c <= 'z') && !('A' <= c && c <= 'Z') && (i == 0 || !('0' <= c && c <= '9')) {
			return false
		}
	}
	return s != ""
}
