package spl

import (
	"slices"
	"strings"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// Eval expressions: the syntax `where` and `eval` share (and if's and case's conditions). One grammar, Splunk's
// eval, with the usual precedence, loosest first: OR, AND, NOT, comparisons (= == != < <= > >= IN), + - and .
// (concatenation), * / %, unary minus; then parentheses, function calls, "strings", numbers and fields (bare, or
// 'single-quoted'). What an expression is (a condition or a value) and the type of a value (a number, a string, or a
// field's value, which is either) are checked as it is parsed, so that misuse the compiler can see (a condition added
// to a number, a string subtracted) fails where it is written.

// vtype is what the compiler knows of a value's type.
type vtype int

const (
	tAny  vtype = iota // a field's value, or a function's that may be either: a number when it reads as one
	tNum               // a number: a numeric literal, arithmetic, len(), tonumber()...
	tStr               // a string: a "quoted" literal, a text function's result
	tNull              // null()
)

// item is a parsed eval expression: a condition (cond set) or a value.
type item struct {
	pos  int
	cond wexpr
	val  rule.Value
	typ  vtype
	// field is the field the value is, as written: where keeps its own forms for a field compared with a constant.
	field string
	// lit says the value is a constant of the search, written or folded (2*5); num that it is an unquoted number.
	lit, num bool
	// depth is how deep the rule model's tree of it nests (deeper).
	depth int
}

// maxDepth bounds how deep one expression nests in the rule model. The engine compiles and evaluates a value by
// recursion, and a chain of operators nests one level per operator without a parenthesis (a + b + c is
// add(add(a, b), c)): a where of half a million of them, which a rule file of 1 MiB holds, overflowed the goroutine's
// stack and killed the process. Concatenation (`.`) is one level however long the chain.
const maxDepth = 1000

// deeper is the depth of a value or condition made at pos from parts: one more than the deepest.
func deeper(pos int, parts ...item) (int, *posError) {
	d := 0
	for _, it := range parts {
		d = max(d, it.depth)
	}
	if d+1 > maxDepth {
		return 0, errAt(pos, "expression nested too deeply: more than %d operators, calls and comparisons inside one "+
			"another (compute part of it in an eval before)", maxDepth)
	}
	return d + 1, nil
}

func (it item) constant() rule.Constant { c, _ := it.val.(rule.Constant); return c }

// exprWhat names the command whose expression is parsed, for messages.
func (p *parser) exprWhat() string {
	if p.inEval {
		return "eval"
	}
	return "where"
}

func (p *parser) exprOr() (item, *posError) {
	l, err := p.exprAnd()
	for err == nil {
		var ok bool
		if ok, err = p.peekWord("OR", false); !ok || err != nil {
			break
		}
		p.next()
		var r item
		if r, err = p.exprAnd(); err == nil {
			l, err = p.join(l, r, false)
		}
	}
	return l, err
}

func (p *parser) exprAnd() (item, *posError) {
	l, err := p.exprNot()
	for err == nil {
		t, perr := p.peek()
		if perr != nil {
			return item{}, perr
		}
		if t.kind == kWord && strings.EqualFold(t.text, "XOR") {
			return item{}, errAt(t.pos, "XOR is not supported")
		}
		if t.kind != kWord || !strings.EqualFold(t.text, "AND") {
			break
		}
		p.next()
		var r item
		if r, err = p.exprNot(); err == nil {
			l, err = p.join(l, r, true)
		}
	}
	return l, err
}

// join is `l AND r` or `l OR r`.
func (p *parser) join(l, r item, and bool) (item, *posError) {
	lc, err := asCond(l)
	if err != nil {
		return item{}, err
	}
	rc, err := asCond(r)
	if err != nil {
		return item{}, err
	}
	// A chain of one operator is one And or Or in the rule model (compileWhere): as deep as its deepest term.
	depth := max(l.depth, r.depth)
	if and {
		return item{pos: l.pos, cond: wAnd{l: lc, r: rc}, depth: depth}, nil
	}
	return item{pos: l.pos, cond: wOr{l: lc, r: rc}, depth: depth}, nil
}

// asCond is the condition it is, or an error saying it is a value.
func asCond(it item) (wexpr, *posError) {
	switch {
	case it.cond != nil:
		return it.cond, nil
	case it.field != "":
		return nil, errAt(it.pos, "field %q is not a condition: compare it with =, !=, <, <=, > or >=", it.field)
	}
	return nil, errAt(it.pos, "a value is not a condition: compare it with =, !=, <, <=, > or >=")
}

// asValue is the value it is, or an error saying it is a condition; what names where it stands.
func asValue(it item, what string) (rule.Value, *posError) {
	if it.cond != nil {
		return nil, errAt(it.pos, "a condition is not a value (%s): write if(condition, \"yes\", \"no\") for one", what)
	}
	return it.val, nil
}

func (p *parser) exprNot() (item, *posError) {
	t, err := p.peek()
	if err != nil {
		return item{}, err
	}
	if t.kind != kWord || !strings.EqualFold(t.text, "NOT") {
		return p.exprCmp()
	}
	p.next()
	if err := p.nest(t.pos); err != nil {
		return item{}, err
	}
	x, err := p.exprNot()
	p.depth--
	if err != nil {
		return item{}, err
	}
	c, err := asCond(x)
	if err != nil {
		return item{}, err
	}
	return item{pos: t.pos, cond: wNot{x: c}, depth: x.depth}, nil
}

var whereOps = map[kind]rule.Op{
	kEq: rule.OpEq, kEqEq: rule.OpEq, kNe: rule.OpNe, kLt: rule.OpLt, kLe: rule.OpLe, kGt: rule.OpGt, kGe: rule.OpGe,
}

func (p *parser) exprCmp() (item, *posError) {
	l, err := p.exprSum()
	if err != nil {
		return item{}, err
	}
	t, err := p.peek()
	if err != nil {
		return item{}, err
	}
	if t.kind == kWord && strings.EqualFold(t.text, "IN") && l.cond == nil {
		p.next()
		return p.exprIn(l)
	}
	op, ok := whereOps[t.kind]
	if !ok {
		return l, nil
	}
	p.next()
	r, err := p.exprSum()
	if err != nil {
		return item{}, err
	}
	return p.compare(l, t, op, r)
}

// compare is `l op r`: a field and a constant as the rule model's comparisons of a field, anything else (two fields
// included) as a comparison of computed values.
func (p *parser) compare(l item, opTok token, op rule.Op, r item) (item, *posError) {
	if l.cond != nil || r.cond != nil {
		return item{}, errAt(opTok.pos, "%s compares values, not conditions", opTok.describe())
	}
	depth, err := deeper(opTok.pos, l, r)
	if err != nil {
		return item{}, err
	}
	x := item{pos: l.pos, depth: depth}
	switch {
	case l.lit && r.lit:
		return item{}, errAt(l.pos, "a comparison between two constants is not supported")
	case l.typ == tNull || r.typ == tNull:
		x.cond = wNever{} // null compares with nothing
	case l.field != "" && r.lit:
		x.cond = wCmp{field: l.field, op: op, lit: r.constant().Text, num: r.num}
	case r.field != "" && l.lit:
		x.cond = wCmp{field: r.field, op: flip(op), lit: l.constant().Text, num: l.num}
	case l.typ == tNum && r.typ == tStr || l.typ == tStr && r.typ == tNum:
		return item{}, errAt(opTok.pos, "%s compares a number with a string, which is never true: make both numbers "+
			"(tonumber()) or both strings (tostring())", opTok.describe())
	default:
		// As a field's comparisons: = and != with a string compare text (where code="403"), ordering compares
		// numbers when both are; two strings always compare as text.
		text := l.typ == tStr && r.typ == tStr || (op == rule.OpEq || op == rule.OpNe) && (l.typ == tStr || r.typ == tStr)
		x.cond = wValCmp{l: l.val, op: op, r: r.val, text: text}
	}
	return x, nil
}

// exprIn parses the list of `x IN ("a", "b", 3)`: any of the constants, each compared as = compares it.
func (p *parser) exprIn(l item) (item, *posError) {
	lp, err := p.next()
	if err != nil {
		return item{}, err
	}
	if lp.kind != kLParen {
		return item{}, errAt(lp.pos, "expected '(' after IN")
	}
	list, err := p.exprList("the IN list")
	if err != nil {
		return item{}, err
	}
	return p.inItems(l, list, `IN takes constants ("strings" or numbers)`)
}

// exprList parses one or more expressions separated by commas, up to the ')' that closes the list (its '(' read);
// where names the list in errors.
func (p *parser) exprList(where string) ([]item, *posError) {
	var list []item
	for {
		v, err := p.exprOr()
		if err != nil {
			return nil, err
		}
		list = append(list, v)
		sep, err := p.next()
		if err != nil {
			return nil, err
		}
		switch sep.kind {
		case kRParen:
			return list, nil
		case kComma:
		default:
			return nil, errAt(sep.pos, "expected ',' or ')' in %s, found %s", where, sep.describe())
		}
	}
}

// inItems is x IN (list) or in(x, list...): l compared by = with each constant of list; usage names the form in
// errors.
func (p *parser) inItems(l item, list []item, usage string) (item, *posError) {
	for _, v := range list {
		switch {
		case v.field != "":
			return item{}, errAt(v.pos, "%s, not the field %q", usage, v.field)
		case !v.lit:
			return item{}, errAt(v.pos, "%s, not a computed value", usage)
		}
	}
	switch {
	case l.cond != nil:
		return item{}, errAt(l.pos, "%s: its left side is a condition, not a value", usage)
	case l.lit:
		return item{}, errAt(l.pos, "a comparison between two constants is not supported")
	case l.field != "":
		ops := make([]operand, len(list))
		for i, v := range list {
			ops[i] = operand{text: v.constant().Text, num: v.num, null: v.typ == tNull}
		}
		return item{pos: l.pos, cond: inList(l.field, ops)}, nil
	}
	var x wexpr
	depth := 0
	for _, v := range list {
		c, err := p.compare(l, token{kind: kEq, pos: v.pos}, rule.OpEq, v)
		if err != nil {
			return item{}, err
		}
		if x == nil {
			x = c.cond
		} else {
			x = wOr{l: x, r: c.cond}
		}
		depth = max(depth, c.depth)
	}
	return item{pos: l.pos, cond: x, depth: depth}, nil
}

// exprSum parses + - and ., left to right.
func (p *parser) exprSum() (item, *posError) {
	return p.exprLeft(p.exprProduct, kPlus, kMinus, kDot)
}

// exprProduct parses * / and %, left to right.
func (p *parser) exprProduct() (item, *posError) {
	return p.exprLeft(p.exprUnary, kStar, kSlash, kPercent)
}

// exprLeft parses operands joined by the operators ops, which bind alike, left to right.
func (p *parser) exprLeft(operand func() (item, *posError), ops ...kind) (item, *posError) {
	l, err := operand()
	for err == nil {
		t, perr := p.peek()
		if perr != nil {
			return item{}, perr
		}
		if !slices.Contains(ops, t.kind) {
			break
		}
		p.next()
		var r item
		if r, err = operand(); err == nil {
			l, err = p.arith(l, t, r)
		}
	}
	return l, err
}

func (p *parser) exprUnary() (item, *posError) {
	t, err := p.peek()
	if err != nil {
		return item{}, err
	}
	if t.kind != kMinus && t.kind != kPlus {
		return p.exprPrimary()
	}
	p.next()
	if err := p.nest(t.pos); err != nil {
		return item{}, err
	}
	x, err := p.exprUnary()
	p.depth--
	if err != nil {
		return item{}, err
	}
	if _, err := asValue(x, t.describe()+" takes a number"); err != nil {
		return item{}, err
	}
	switch {
	case x.typ == tStr:
		return item{}, errAt(t.pos, "%s takes a number, not a string", t.describe())
	case x.typ == tNull:
		return x, nil
	case x.lit && x.num:
		// A number as written keeps its form (-1.50 stays -1.50, as 1.50 does).
		text := strings.TrimPrefix(x.constant().Text, "+")
		if t.kind == kMinus {
			if rest, ok := strings.CutPrefix(text, "-"); ok {
				text = rest
			} else {
				text = "-" + text
			}
		}
		return item{pos: t.pos, val: rule.Constant{Text: text}, typ: tNum, lit: true, num: true}, nil
	case t.kind == kPlus:
		return item{}, errAt(t.pos, "unary '+' is supported before a number only")
	}
	depth, err := deeper(t.pos, x)
	if err != nil {
		return item{}, err
	}
	return item{pos: t.pos, val: rule.Call{Func: "negate", Args: []rule.Value{x.val}}, typ: tNum, depth: depth}, nil
}

// arithFuncs are the rule model's functions of the binary operators.
var arithFuncs = map[kind]string{kPlus: "add", kMinus: "subtract", kStar: "multiply", kSlash: "divide", kPercent: "modulo"}

// arith is `l op r` for + - * / % and `.`, folded when both are constants.
func (p *parser) arith(l item, opTok token, r item) (item, *posError) {
	what := opTok.describe() + " takes values"
	lv, err := asValue(l, what)
	if err != nil {
		return item{}, err
	}
	rv, err := asValue(r, what)
	if err != nil {
		return item{}, err
	}
	switch {
	case l.typ == tNull || r.typ == tNull:
		// Null in, null out, as Splunk's operators give it.
		return item{pos: l.pos, val: rule.Constant{Null: true}, typ: tNull, lit: true}, nil
	case opTok.kind == kDot:
		// Splunk's . joins text and numbers alike ("numbers are concatenated in their string represented form").
		return concatItems(l, r), nil
	case opTok.kind == kPlus && l.typ == tStr && r.typ == tStr:
		// + of two strings joins them.
		return concatItems(l, r), nil
	case opTok.kind == kPlus && (l.typ == tStr || r.typ == tStr):
		if l.typ == tNum || r.typ == tNum {
			return item{}, errAt(opTok.pos, "+ of a number and a string is null in Splunk (+ adds two numbers or joins "+
				"two strings): write . to join them as text")
		}
		return item{}, errAt(opTok.pos, "+ of a string and a value that may be a number (a field's) is null when it is "+
			"one: write . to join text, or tonumber() to add")
	case l.typ == tStr || r.typ == tStr:
		return item{}, errAt(opTok.pos, "%s takes numbers, not a string", opTok.describe())
	}
	for _, v := range []item{l, r} {
		if err := numberLiteral(v); err != nil {
			return item{}, err
		}
	}
	fn := arithFuncs[opTok.kind]
	if l.lit && r.lit {
		a, _ := rule.ParseNumber(l.constant().Text)
		b, _ := rule.ParseNumber(r.constant().Text)
		if n, ok := rule.Arithmetic(fn, a, b); ok {
			return item{pos: l.pos, val: rule.Constant{Text: rule.FormatNumber(n)}, typ: tNum, lit: true, num: true}, nil
		}
		return item{pos: l.pos, val: rule.Constant{Null: true}, typ: tNull, lit: true}, nil // a division by zero
	}
	depth, err := deeper(opTok.pos, l, r)
	if err != nil {
		return item{}, err
	}
	x := item{pos: l.pos, val: rule.Call{Func: fn, Args: []rule.Value{lv, rv}}, typ: tNum, depth: depth}
	if fn == "add" && (l.typ != tNum || r.typ != tNum) {
		x.typ = tAny // two fields' text joined
	}
	return x, nil
}

// numberLiteral checks that a number written in an arithmetic expression is one eval computes with.
func numberLiteral(v item) *posError {
	if v.lit && v.num {
		if _, ok := rule.ParseNumber(v.constant().Text); !ok {
			return errAt(v.pos, "%s is not a number eval can compute with: it is beyond double precision's range or "+
				"over 64 characters", v.constant().Text)
		}
	}
	return nil
}

// concatItems joins two values as text: one constant when both are, one concat call for a chain.
func concatItems(l, r item) item {
	if l.lit && r.lit {
		return item{pos: l.pos, val: rule.Constant{Text: l.constant().Text + r.constant().Text}, typ: tStr, lit: true}
	}
	// A chain (a . b . c ...) appends to the call its left side made, which nothing else holds: linear in its length.
	// The call is one level above its parts: a chain's parts are those of the calls it appends to.
	parts, depth := []rule.Value{l.val}, l.depth+1
	if c, ok := l.val.(rule.Call); ok && c.Func == "concat" {
		parts, depth = c.Args, l.depth
	}
	if c, ok := r.val.(rule.Call); ok && c.Func == "concat" {
		parts, depth = append(parts, c.Args...), max(depth, r.depth)
	} else {
		parts, depth = append(parts, r.val), max(depth, r.depth+1)
	}
	return item{pos: l.pos, val: rule.Call{Func: "concat", Args: parts}, typ: tStr, depth: depth}
}

func (p *parser) exprPrimary() (item, *posError) {
	t, err := p.next()
	if err != nil {
		return item{}, err
	}
	switch t.kind {
	case kLParen:
		x, err := group(p, t, p.exprOr)
		x.pos = t.pos
		return x, err
	case kString:
		return item{pos: t.pos, val: rule.Constant{Text: t.text}, typ: tStr, lit: true}, nil
	case kQField:
		if t.text == "" {
			return item{}, errAt(t.pos, "empty field name")
		}
		return p.fieldItem(t)
	case kWord:
		next, err := p.peek()
		if err != nil {
			return item{}, err
		}
		if next.kind == kLParen {
			return p.call(t)
		}
		if rule.IsDecimal(t.text) {
			return item{pos: t.pos, val: rule.Constant{Text: t.text}, typ: tNum, lit: true, num: true}, nil
		}
		if !isIdent(t.text) {
			return item{}, errAt(t.pos, "%s is not a field name, number or string: field names with characters other "+
				"than letters, digits and _ must be in single quotes", t.describe())
		}
		if next.kind == kDot && next.pos == t.pos+len(t.text) && next.pos+1 < len(p.lex.src) && isIdentByte(p.lex.src[next.pos+1]) {
			// Splunk would read user.username as the concatenation of two fields, user and username.
			end := next.pos
			for end < len(p.lex.src) && (isIdentByte(p.lex.src[end]) || strings.IndexByte(".{}", p.lex.src[end]) >= 0) {
				end++
			}
			name := p.lex.src[t.pos:end]
			return item{}, errAt(t.pos, "write the field %s in single quotes ('%s'): in eval syntax . joins two values, "+
				"and field names with characters other than letters, digits and _ must be in single quotes", name, name)
		}
		return p.fieldItem(t)
	case kEOF, kPipe, kRParen, kComma:
		return item{}, errAt(t.pos, "missing value before %s", t.describe())
	}
	return item{}, errAt(t.pos, "unexpected %s in %s expression", t.describe(), p.exprWhat())
}

func (p *parser) fieldItem(t token) (item, *posError) {
	if err := p.notMetadata(t, p.exprWhat()); err != nil {
		return item{}, err
	}
	return item{pos: t.pos, val: rule.FieldValue{Field: rule.Field{Name: t.text}}, typ: tAny, field: t.text}, nil
}

// call parses a function call; name is the function word and the next token is '('.
func (p *parser) call(name token) (item, *posError) {
	if err := p.nest(name.pos); err != nil {
		return item{}, err
	}
	defer func() { p.depth-- }()
	p.next() // (
	fn := strings.ToLower(name.text)
	var args []item
	if t, err := p.peek(); err != nil {
		return item{}, err
	} else if t.kind == kRParen {
		p.next()
	} else if args, err = p.exprList(name.text + "(...)"); err != nil {
		return item{}, err
	}
	depth, err := deeper(name.pos, args...)
	if err != nil {
		return item{}, err
	}
	if f, ok := condFuncs[fn]; ok {
		c, err := f(p, name, args)
		return item{pos: name.pos, cond: c, depth: depth}, err
	}
	if f, ok := valueFuncs[fn]; ok {
		for i, a := range args {
			if _, err := asValue(a, fn+"'s arguments are values"); err != nil && !(valueCondArg(fn, i)) {
				return item{}, err
			}
		}
		x, err := f(p, name, args)
		x.pos, x.depth = name.pos, depth
		return x, err
	}
	return item{}, errAt(name.pos, "unsupported function %s() (supported: %s)", name.text, supportedFuncs)
}
