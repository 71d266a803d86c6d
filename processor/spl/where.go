package spl

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// The `where` command uses eval syntax, not search syntax: AND/OR/NOT with the usual precedence (NOT, then AND,
// then OR), "strings" in double quotes, bare words and 'single-quoted' names as fields, and no wildcards except in
// like(). Only boolean forms the rule model can hold are accepted: comparisons of a field with a constant, equality of
// two fields, field IN (constants), and the functions in, like, match, cidrmatch, isnull and isnotnull.

func (p *parser) parseWhereCmd() (command, *posError) {
	p.lex.eval = true
	defer func() { p.lex.eval = false }()
	x, err := p.whereOr()
	if err != nil {
		return nil, err
	}
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind != kEOF && t.kind != kPipe {
		return nil, errAt(t.pos, "unexpected %s in where expression", t.describe())
	}
	return whereCmd{x: x}, nil
}

func (p *parser) whereOr() (wexpr, *posError) {
	l, err := p.whereAnd()
	for err == nil {
		var ok bool
		if ok, err = p.peekWord("OR", false); !ok || err != nil {
			break
		}
		p.next()
		var r wexpr
		if r, err = p.whereAnd(); err == nil {
			l = wOr{l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) whereAnd() (wexpr, *posError) {
	l, err := p.whereNot()
	for err == nil {
		t, perr := p.peek()
		if perr != nil {
			return nil, perr
		}
		if t.kind == kWord && strings.EqualFold(t.text, "XOR") {
			return nil, errAt(t.pos, "XOR is not supported")
		}
		if t.kind != kWord || !strings.EqualFold(t.text, "AND") {
			break
		}
		p.next()
		var r wexpr
		if r, err = p.whereNot(); err == nil {
			l = wAnd{l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) whereNot() (wexpr, *posError) {
	t, err := p.peek()
	if err != nil {
		return nil, err
	}
	if t.kind != kWord || !strings.EqualFold(t.text, "NOT") {
		return p.wherePrimary()
	}
	p.next()
	if err := p.nest(t.pos); err != nil {
		return nil, err
	}
	x, err := p.whereNot()
	p.depth--
	if err != nil {
		return nil, err
	}
	return wNot{x: x}, nil
}

func (p *parser) wherePrimary() (wexpr, *posError) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	switch t.kind {
	case kLParen:
		return group(p, t, p.whereOr)
	case kWord:
		if next, err := p.peek(); err != nil {
			return nil, err
		} else if next.kind == kLParen {
			return p.whereCall(t)
		}
	case kString, kQField:
	case kEOF, kPipe, kRParen:
		return nil, errAt(t.pos, "missing condition before %s", t.describe())
	default:
		return nil, errAt(t.pos, "unexpected %s in where expression", t.describe())
	}
	l, err := p.operand(t)
	if err != nil {
		return nil, err
	}
	opTok, err := p.next()
	if err != nil {
		return nil, err
	}
	if l.field && opTok.kind == kWord && strings.EqualFold(opTok.text, "IN") {
		return p.whereIn(l, opTok)
	}
	op, ok := whereOps[opTok.kind]
	if !ok {
		if l.field {
			return nil, errAt(t.pos, "field %q is not a condition: compare it with =, !=, <, <=, > or >=", l.text)
		}
		return nil, errAt(opTok.pos, "expected a comparison operator, found %s", opTok.describe())
	}
	rt, err := p.next()
	if err != nil {
		return nil, err
	}
	r, err := p.operand(rt)
	if err != nil {
		return nil, err
	}
	switch {
	case l.field && r.field:
		if op != rule.OpEq && op != rule.OpNe {
			return nil, errAt(opTok.pos, "comparing two fields with %s is not supported (only = and !=)", opTok.describe())
		}
		return wFieldEq{a: l.text, b: r.text, ne: op == rule.OpNe}, nil
	case l.field:
		return wCmp{field: l.text, op: op, lit: r.text, num: r.num}, nil
	case r.field:
		return wCmp{field: r.text, op: flip(op), lit: l.text, num: l.num}, nil
	}
	return nil, errAt(t.pos, "a comparison between two constants is not supported")
}

// whereIn parses the list of `field IN ("a", "b", 3)`: any of the constants, each compared as = compares it.
func (p *parser) whereIn(field operand, in token) (wexpr, *posError) {
	lp, err := p.next()
	if err != nil {
		return nil, err
	}
	if lp.kind != kLParen {
		return nil, errAt(lp.pos, "expected '(' after IN")
	}
	list, err := p.operands("the IN list", false)
	if err != nil {
		return nil, err
	}
	for _, v := range list {
		if v.field {
			return nil, errAt(v.pos, "IN takes constants (\"strings\" or numbers), not the field %q", v.text)
		}
	}
	return inList(field.text, list), nil
}

// operands parses the comma-separated operands after an opening parenthesis, up to the closing one: an IN list
// (at least one) or a function's arguments (none allowed). what names the list in errors.
func (p *parser) operands(what string, allowNone bool) ([]operand, *posError) {
	var list []operand
	for {
		t, err := p.next()
		if err != nil {
			return nil, err
		}
		if allowNone && t.kind == kRParen && len(list) == 0 {
			return list, nil
		}
		v, err := p.operand(t)
		if err != nil {
			return nil, err
		}
		v.pos = t.pos
		list = append(list, v)
		sep, err := p.next()
		if err != nil {
			return nil, err
		}
		if sep.kind == kRParen {
			return list, nil
		}
		if sep.kind != kComma {
			return nil, errAt(sep.pos, "expected ',' or ')' in %s, found %s", what, sep.describe())
		}
	}
}

// inList is `field IN (...)` or in(field, ...): an OR of = comparisons.
func inList(field string, list []operand) wexpr {
	var x wexpr
	for _, v := range list {
		var c wexpr = wCmp{field: field, op: rule.OpEq, lit: v.text, num: v.num}
		if x == nil {
			x = c
		} else {
			x = wOr{l: x, r: c}
		}
	}
	return x
}

var whereOps = map[kind]rule.Op{
	kEq: rule.OpEq, kEqEq: rule.OpEq, kNe: rule.OpNe, kLt: rule.OpLt, kLe: rule.OpLe, kGt: rule.OpGt, kGe: rule.OpGe,
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

// operand is a field reference or a constant (string or number) in a where expression.
type operand struct {
	text  string
	field bool
	num   bool // an unquoted number
	pos   int  // where it was written, in a list (operands)
}

func (p *parser) operand(t token) (operand, *posError) {
	switch t.kind {
	case kString:
		return operand{text: t.text}, nil
	case kQField:
		if t.text == "" {
			return operand{}, errAt(t.pos, "empty field name")
		}
		if err := p.notMetadata(t, "where"); err != nil {
			return operand{}, err
		}
		return operand{text: t.text, field: true}, nil
	case kWord:
		if next, err := p.peek(); err != nil {
			return operand{}, err
		} else if next.kind == kLParen {
			return operand{}, errAt(t.pos, "function %s() is not supported as a value in where", t.text)
		}
		switch {
		case rule.IsDecimal(t.text):
			return operand{text: t.text, num: true}, nil
		case isIdent(t.text):
			if err := p.notMetadata(t, "where"); err != nil {
				return operand{}, err
			}
			return operand{text: t.text, field: true}, nil
		}
		return operand{}, errAt(t.pos, "%s is not a field name, number or string: where supports comparisons only, "+
			"and field names with characters other than letters, digits and _ must be in single quotes", t.describe())
	case kEOF, kPipe, kRParen:
		return operand{}, errAt(t.pos, "missing value before %s", t.describe())
	}
	return operand{}, errAt(t.pos, "unexpected %s in where expression", t.describe())
}

// whereCall parses a boolean function call; name is the function word and the next token is '('.
func (p *parser) whereCall(name token) (wexpr, *posError) {
	p.next() // (
	args, err := p.operands(name.text+"(...)", true)
	if err != nil {
		return nil, err
	}
	fn := strings.ToLower(name.text)
	shape := func(want string) *posError { return errAt(name.pos, "%s takes %s", fn, want) }
	switch fn {
	case "true", "false":
		// case(..., true(), "default"): the condition that always holds.
		if len(args) != 0 {
			return nil, shape(fn + "()")
		}
		return wFunc{name: fn}, nil
	case "isnull", "isnotnull":
		if len(args) != 1 || !args[0].field {
			return nil, shape("one field: " + fn + "(field)")
		}
		return wFunc{name: fn, field: args[0].text}, nil
	case "like":
		if len(args) != 2 || !args[0].field || args[1].field {
			return nil, shape(`a field and a "pattern": like(field, "pat%")`)
		}
		return wFunc{name: fn, field: args[0].text, pat: likePattern(args[1].text)}, nil
	case "match":
		if len(args) != 2 || !args[0].field || args[1].field {
			return nil, shape(`a field and a "regex": match(field, "re")`)
		}
		if _, err := regexp.Compile(args[1].text); err != nil {
			return nil, errAt(name.pos, "match: the regular expression is not RE2 syntax: %v", err)
		}
		return wFunc{name: fn, field: args[0].text, pat: rule.Pattern{Kind: rule.Regex, Text: args[1].text, CaseSensitive: true}}, nil
	case "in":
		if len(args) < 2 || !args[0].field {
			return nil, shape(`a field and one or more constants: in(field, "a", "b")`)
		}
		for _, a := range args[1:] {
			if a.field {
				return nil, shape(`a field and one or more constants: in(field, "a", "b")`)
			}
		}
		return inList(args[0].text, args[1:]), nil
	case "cidrmatch":
		if len(args) != 2 || args[0].field || !args[1].field {
			return nil, shape(`a "cidr" and a field: cidrmatch("10.0.0.0/8", field)`)
		}
		if _, err := netip.ParsePrefix(args[0].text); err != nil {
			return nil, errAt(name.pos, "cidrmatch: %v", err)
		}
		return wFunc{name: fn, field: args[1].text, pat: rule.Pattern{Kind: rule.CIDR, Text: args[0].text}}, nil
	}
	return nil, errAt(name.pos, "unsupported function %s() in where", name.text)
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
