package elastic

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The ES|QL expression grammar (of WHERE, EVAL and STATS):
//
//	expr      = and { OR and };  and = not { AND not };  not = NOT not | predicate
//	predicate = operand [ [NOT] IN "(" operand {"," operand} ")" | [NOT] (LIKE | RLIKE) string
//	                    | IS [NOT] NULL | ("==" | "!=" | "<" | "<=" | ">" | ">=") operand ]
//	operand   = field | string | number | time span | true | false | null | function "(" [expr {"," expr}] ")"
//	          | "(" expr ")"

type esqlTok = eqlTok

type esqlNodeKind int

const (
	nLiteral esqlNodeKind = iota
	nField
	nCall
	nSpan
	nAnd
	nOr
	nNot
	nIsNull
	nCompare
	nIn
	nLike
	nRLike
)

// esqlNode is a parsed expression. tok is its first token (an operator's, for a predicate); args its operands.
type esqlNode struct {
	kind esqlNodeKind
	tok  esqlTok
	args []esqlNode
	neg  bool          // NOT IN, NOT LIKE, NOT RLIKE, IS NOT NULL
	span time.Duration // nSpan
}

// esqlLex tokenises src[from:end]; offsets are src's.
func esqlLex(src string, from, end int) ([]esqlTok, error) {
	var toks []esqlTok
	i := from
	for i < end {
		c := src[i]
		switch {
		case isSpace(c):
			i++
		case strings.HasPrefix(src[i:end], "//"), strings.HasPrefix(src[i:end], "/*"):
			e, err := commentEnd(src[:end], i)
			if err != nil {
				return nil, err
			}
			i = e
		case c == '`':
			name, n, err := lexBackquoted(src[:end], i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, esqlTok{kind: eqlField, text: name, off: i})
			i += n
		case c == '"':
			s, n, err := esqlString(src[:end], i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, esqlTok{kind: eqlString, text: s, off: i})
			i += n
		case c >= '0' && c <= '9':
			j := i
			for j < end && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			toks = append(toks, esqlTok{kind: eqlNumber, text: src[i:j], off: i})
			i = j
		case isWord(c) || c == '@':
			j := i
			for j < end && (isWord(src[j]) || src[j] == '.' || src[j] == '@') {
				j++
			}
			toks = append(toks, esqlTok{kind: eqlIdent, text: src[i:j], off: i})
			i = j
		default:
			op := ""
			for _, o := range []string{"==", "!=", "<=", ">=", "::", "<", ">", "=", "(", ")", ",", "+", "-", "*", "/", "%", ":", "?"} {
				if strings.HasPrefix(src[i:end], o) {
					op = o
					break
				}
			}
			if op == "" {
				return nil, errorAt(src, i, fmt.Sprintf("unexpected character %q", src[i:i+1]))
			}
			toks = append(toks, esqlTok{kind: eqlOp, text: op, off: i})
			i += len(op)
		}
	}
	return append(toks, esqlTok{kind: eqlEOF, off: end}), nil
}

// esqlString reads an ES|QL string at i, as Elasticsearch's lexer does (QUOTED_STRING, EsqlBaseLexer.g4 and
// lexer/Expression.g4): "..." with the escapes \t \n \r \" \\, or `'"""' (~[\r\n])*? '"""' '"'? '"'?`, a
// triple-quoted string as written, with no line break in it, that ends at the first """ and takes up to two more
// quotes after it into its text (AbstractBuilder.unquote drops three quotes from each end): """a"b"""" is a"b".
func esqlString(src string, i int) (string, int, error) {
	if !strings.HasPrefix(src[i:], `"""`) {
		return quoted(src, i, false)
	}
	j := i + 3
	for !strings.HasPrefix(src[j:], `"""`) {
		if j == len(src) || src[j] == '\n' || src[j] == '\r' {
			return "", 0, errorAt(src, i, "unterminated \"\"\"string\"\"\" (a triple-quoted string ends on its line)")
		}
		j++
	}
	end := j + 3
	for k := 0; k < 2 && end < len(src) && src[end] == '"'; k++ {
		end++
	}
	return src[i+3 : end-3], end - i, nil
}

// esqlParser reads the tokens of one ES|QL command.
type esqlParser struct{ tokCursor }

func newESQLParser(src string, toks []esqlTok) *esqlParser {
	return &esqlParser{tokCursor{src: src, toks: toks}}
}

func (p *esqlParser) acceptOp(op string) bool {
	if t := p.peek(); t.kind == eqlOp && t.text == op {
		p.pos++
		return true
	}
	return false
}

// assignment reads `<name> =` if that comes next.
func (p *esqlParser) assignment() (name string, ok bool) {
	t, eq := p.peek(), p.toks[min(p.pos+1, len(p.toks)-1)]
	if (t.kind == eqlIdent || t.kind == eqlField) && eq.kind == eqlOp && eq.text == "=" {
		p.pos += 2
		return t.text, true
	}
	return "", false
}

// end fails unless the command's tokens are all read.
func (p *esqlParser) end() error {
	if t := p.peek(); t.kind != eqlEOF {
		return p.failAt(t, fmt.Sprintf("unexpected %q", t.text))
	}
	return nil
}

func (p *esqlParser) expr(depth int) (esqlNode, error) {
	if depth > maxDepth {
		return esqlNode{}, p.failAt(p.peek(), "query nested too deeply")
	}
	return p.binary("or", nOr, func() (esqlNode, error) {
		return p.binary("and", nAnd, func() (esqlNode, error) { return p.not(depth) })
	})
}

// binary reads operands joined by the keyword kw, left to right, into nodes of kind.
func (p *esqlParser) binary(kw string, kind esqlNodeKind, operand func() (esqlNode, error)) (esqlNode, error) {
	l, err := operand()
	for err == nil && p.isKeyword(p.peek(), kw) {
		t := p.next()
		var r esqlNode
		if r, err = operand(); err == nil {
			l = esqlNode{kind: kind, tok: t, args: []esqlNode{l, r}}
		}
	}
	return l, err
}

func (p *esqlParser) not(depth int) (esqlNode, error) {
	if t := p.peek(); p.isKeyword(t, "not") {
		p.pos++
		if depth > maxDepth {
			return esqlNode{}, p.failAt(t, "query nested too deeply")
		}
		x, err := p.not(depth + 1)
		return esqlNode{kind: nNot, tok: t, args: []esqlNode{x}}, err
	}
	return p.predicate(depth)
}

func (p *esqlParser) predicate(depth int) (esqlNode, error) {
	left, err := p.operand(depth)
	if err != nil {
		return esqlNode{}, err
	}
	if err := p.noArithmetic(left); err != nil {
		return esqlNode{}, err
	}
	t := p.peek()
	neg := false
	if p.isKeyword(t, "not") {
		if nt := p.toks[p.pos+1]; p.isKeyword(nt, "in") || p.isKeyword(nt, "like") || p.isKeyword(nt, "rlike") {
			p.pos++
			neg, t = true, nt
		}
	}
	switch {
	case p.isKeyword(t, "in"):
		p.pos++
		if !p.acceptOp("(") {
			return esqlNode{}, p.failAt(p.peek(), "IN needs a parenthesised list")
		}
		list, err := p.list(func() (esqlNode, error) { return p.operand(depth) }, "the IN list")
		return esqlNode{kind: nIn, tok: t, neg: neg, args: append([]esqlNode{left}, list...)}, err
	case p.isKeyword(t, "like"), p.isKeyword(t, "rlike"):
		p.pos++
		kind := nLike
		if p.isKeyword(t, "rlike") {
			kind = nRLike
		}
		v, err := p.operand(depth)
		return esqlNode{kind: kind, tok: t, neg: neg, args: []esqlNode{left, v}}, err
	case p.isKeyword(t, "is"):
		p.pos++
		n := esqlNode{kind: nIsNull, tok: t, neg: p.accept("not"), args: []esqlNode{left}}
		if !p.accept("null") {
			return esqlNode{}, p.failAt(p.peek(), "expected IS NULL or IS NOT NULL")
		}
		return n, nil
	case t.kind == eqlOp:
		if _, ok := esqlCompareOps[t.text]; ok {
			p.pos++
			right, err := p.operand(depth)
			if err != nil {
				return esqlNode{}, err
			}
			if err := p.noArithmetic(right); err != nil {
				return esqlNode{}, err
			}
			if left.kind == nLiteral && (right.kind == nField || right.kind == nCall) {
				left, right = right, left
				t.text = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}[t.text]
			}
			return esqlNode{kind: nCompare, tok: t, args: []esqlNode{left, right}}, nil
		}
		switch t.text {
		case "+", "-", "*", "/", "%":
			return esqlNode{}, p.failAt(t, "arithmetic is not supported")
		case "::":
			return esqlNode{}, p.failAt(t, "casts (::) are not supported")
		case ":":
			return esqlNode{}, p.failAt(t, "the match operator (:) is not supported: use KQL(\"...\") or LIKE")
		}
	}
	return left, nil
}

// list reads items separated by commas up to the closing parenthesis (the opening one read already).
func (p *esqlParser) list(item func() (esqlNode, error), what string) ([]esqlNode, error) {
	var out []esqlNode
	for {
		x, err := item()
		if err != nil {
			return nil, err
		}
		out = append(out, x)
		if p.acceptOp(")") {
			return out, nil
		}
		if !p.acceptOp(",") {
			return nil, p.failAt(p.peek(), "expected , or ) in "+what)
		}
	}
}

// noArithmetic refuses an operator of arithmetic after an operand, naming NOW() when the operand is that: a
// condition on the time a query runs has no per-event meaning.
func (p *esqlParser) noArithmetic(x esqlNode) error {
	t := p.peek()
	if t.kind != eqlOp || !strings.Contains("+-*/%", t.text) {
		return nil
	}
	if x.kind == nCall && strings.EqualFold(x.tok.text, "now") {
		return p.failAt(x.tok, "NOW() is the time a run of the query starts: a condition on it has no meaning per event")
	}
	return p.failAt(t, "arithmetic is not supported")
}

// calendarUnits are ES|QL's date period units, whose length varies.
var calendarUnits = map[string]bool{"month": true, "months": true, "mo": true, "quarter": true, "quarters": true,
	"q": true, "year": true, "years": true, "yr": true, "y": true}

// timeUnits are ES|QL's time span units.
var timeUnits = map[string]time.Duration{
	"millisecond": time.Millisecond, "milliseconds": time.Millisecond, "ms": time.Millisecond,
	"second": time.Second, "seconds": time.Second, "sec": time.Second, "s": time.Second,
	"minute": time.Minute, "minutes": time.Minute, "min": time.Minute,
	"hour": time.Hour, "hours": time.Hour, "h": time.Hour,
	"day": 24 * time.Hour, "days": 24 * time.Hour, "d": 24 * time.Hour,
	"week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour, "w": 7 * 24 * time.Hour,
}

func (p *esqlParser) operand(depth int) (esqlNode, error) {
	t := p.next()
	switch t.kind {
	case eqlString:
		return esqlNode{kind: nLiteral, tok: t}, nil
	case eqlNumber:
		if u := p.peek(); u.kind == eqlIdent {
			word := strings.ToLower(u.text)
			if calendarUnits[word] {
				return esqlNode{}, p.failAt(u, fmt.Sprintf("a span of %s is not supported (calendar units vary in length): use a fixed unit, up to weeks", word))
			}
			if unit, ok := timeUnits[word]; ok {
				p.pos++
				n, err := strconv.ParseInt(t.text, 10, 64)
				if err != nil || n <= 0 || n > int64(math.MaxInt64/unit) {
					return esqlNode{}, p.failAt(t, "a time span is a positive whole number of units, at most about 290 years")
				}
				return esqlNode{kind: nSpan, tok: t, span: time.Duration(n) * unit}, nil
			}
		}
		return esqlNode{kind: nLiteral, tok: t}, nil
	case eqlField:
		return esqlNode{kind: nField, tok: t}, nil
	case eqlOp:
		switch t.text {
		case "(":
			x, err := p.expr(depth + 1)
			if err != nil {
				return esqlNode{}, err
			}
			if !p.acceptOp(")") {
				return esqlNode{}, p.failAt(t, "missing ) for this (")
			}
			return x, nil
		case "-":
			if n := p.peek(); n.kind == eqlNumber && n.off == t.off+1 {
				p.pos++
				n.text, n.off = "-"+n.text, t.off
				return esqlNode{kind: nLiteral, tok: n}, nil
			}
		case "?":
			return esqlNode{}, p.failAt(t, "query parameters (?) are not supported")
		}
	case eqlIdent:
		switch strings.ToLower(t.text) {
		case "true", "false", "null":
			return esqlNode{kind: nLiteral, tok: t}, nil
		}
		if p.acceptOp("(") {
			if p.acceptOp(")") {
				return esqlNode{kind: nCall, tok: t}, nil
			}
			args, err := p.list(func() (esqlNode, error) { return p.expr(depth + 1) }, "the arguments")
			return esqlNode{kind: nCall, tok: t, args: args}, err
		}
		return esqlNode{kind: nField, tok: t}, nil
	}
	return esqlNode{}, p.failAt(t, fmt.Sprintf("expected a field or a value, found %q", t.text))
}
