package elastic

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// KQL is parsed by recursive descent over Kibana's grammar (src/platform/packages/shared/kbn-es-query/grammar/
// grammar.peggy), minus nested queries (`field:{...}`) and free text:
//
//	query      = [or]
//	or         = and { OR and }                       OR, AND, NOT in any case
//	and        = not { AND not }
//	not        = NOT not | "(" or ")" | expression
//	expression = field ":" values | field ("<" | "<=" | ">" | ">=") literal
//	values     = "(" vor ")" | value
//	vor        = vand { OR vand };  vand = vnot { AND vnot };  vnot = NOT vnot | values
//	value      = quoted | unquoted                    unquoted: `*` is a wildcard, `\` escapes \():<>"*{} and keywords
//
// An unquoted literal may contain spaces; it ends before a special character or before whitespace followed by a
// keyword, and is trimmed, as in Kibana.

// Error is a fault in a query, at a 1-based line and column (in characters) of the query text.
type Error struct {
	Line, Column int
	Reason       string
}

func (e *Error) Error() string { return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Reason) }

// errorAt locates a byte offset of src.
func errorAt(src string, off int, reason string) *Error {
	off = min(max(off, 0), len(src))
	line := 1 + strings.Count(src[:off], "\n")
	start := strings.LastIndexByte(src[:off], '\n') + 1
	return &Error{Line: line, Column: 1 + utf8.RuneCountInString(src[start:off]), Reason: reason}
}

// CompileKQL compiles a KQL query into a rule expression, mapping its ECS fields through fm. An empty query matches
// every event. Errors are *Error.
func CompileKQL(query string, fm *FieldMap) (rule.Expr, error) {
	p := &kqlParser{src: query, fm: fm}
	p.space()
	if p.pos == len(p.src) {
		return rule.True{}, nil
	}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.src) {
		return nil, p.fail(fmt.Sprintf("unexpected %q", p.rest(20)))
	}
	return e, nil
}

type kqlParser struct {
	src string
	pos int
	fm  *FieldMap
}

// maxDepth bounds nesting in both query languages, so that a hostile query cannot exhaust the stack.
const maxDepth = 100

func (p *kqlParser) fail(reason string) *Error { return errorAt(p.src, p.pos, reason) }

func (p *kqlParser) rest(n int) string {
	r := p.src[p.pos:]
	if len(r) > n {
		r = r[:n] + "…"
	}
	return r
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *kqlParser) space() {
	for p.pos < len(p.src) && isSpace(p.src[p.pos]) {
		p.pos++
	}
}

// keywordAt reports whether the keyword kw (or, and, not) starts at offset i, followed by whitespace (or, for not,
// an opening parenthesis).
func (p *kqlParser) keywordAt(i int, kw string) bool {
	if i+len(kw) > len(p.src) || !strings.EqualFold(p.src[i:i+len(kw)], kw) {
		return false
	}
	j := i + len(kw)
	return j < len(p.src) && (isSpace(p.src[j]) || kw == "not" && p.src[j] == '(')
}

// keyword consumes kw (after whitespace) if it is next.
func (p *kqlParser) keyword(kw string) bool {
	save := p.pos
	p.space()
	if p.keywordAt(p.pos, kw) {
		p.pos += len(kw)
		p.space()
		return true
	}
	p.pos = save
	return false
}

func (p *kqlParser) or(depth int) (rule.Expr, error) {
	if depth > maxDepth {
		return nil, p.fail("query nested too deeply")
	}
	return joined(p.keyword, "or", func() (rule.Expr, error) { return p.and(depth) }, or)
}

func (p *kqlParser) and(depth int) (rule.Expr, error) {
	return joined(p.keyword, "and", func() (rule.Expr, error) { return p.not(depth) }, and)
}

// joined parses `next { kw next }`, accept consuming the keyword, and combines the terms; both query languages
// build their or and and lists with it.
func joined(accept func(kw string) bool, kw string, next func() (rule.Expr, error), combine func(...rule.Expr) rule.Expr) (rule.Expr, error) {
	var terms []rule.Expr
	for {
		t, err := next()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		if !accept(kw) {
			return combine(terms...), nil
		}
	}
}

func (p *kqlParser) not(depth int) (rule.Expr, error) {
	p.space()
	if p.keyword("not") {
		if depth > maxDepth {
			return nil, p.fail("query nested too deeply")
		}
		x, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return not(x), nil
	}
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		return p.group(func() (rule.Expr, error) { return p.or(depth + 1) })
	}
	return p.expression(depth)
}

// group parses `( inner )`, the opening parenthesis being next.
func (p *kqlParser) group(inner func() (rule.Expr, error)) (rule.Expr, error) {
	open := p.pos
	p.pos++
	e, err := inner()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos >= len(p.src) || p.src[p.pos] != ')' {
		// At the parenthesis left open, as the SPL compiler reports it: the end of a long query says little.
		return nil, errorAt(p.src, open, "missing `)` for this `(`")
	}
	p.pos++
	return e, nil
}

func (p *kqlParser) expression(depth int) (rule.Expr, error) {
	start := p.pos
	name, err := p.literal()
	if err != nil {
		return nil, err
	}
	if name.text == "" && !name.quoted {
		return nil, p.fail(fmt.Sprintf("expected a field name, found %q", p.rest(20)))
	}
	p.space()
	if p.pos >= len(p.src) || !strings.ContainsRune(":<>", rune(p.src[p.pos])) {
		p.pos = start
		return nil, p.fail("free-text search (a value without `field:`) is not supported: audit events are matched field by field")
	}
	if name.wild {
		p.pos = start
		return nil, p.fail(fmt.Sprintf("wildcard field names (%q) are not supported", name.raw))
	}
	f, err := p.fm.resolve(name.text)
	if err != nil {
		p.pos = start
		return nil, p.fail(err.Error())
	}
	if p.src[p.pos] == ':' {
		p.pos++
		p.space()
		if p.pos < len(p.src) && p.src[p.pos] == '{' {
			return nil, p.fail("nested field queries (`field:{...}`) are not supported")
		}
		return p.values(f, depth)
	}
	if f.text {
		p.pos = start
		return nil, p.fail(fmt.Sprintf("a range on %s is not supported: the integration maps it as text, and Elasticsearch would compare each of its words (a term range, which auditdetect does not run)", f.ecs))
	}
	op := rule.OpLt
	switch {
	case strings.HasPrefix(p.src[p.pos:], "<="):
		op, p.pos = rule.OpLe, p.pos+2
	case strings.HasPrefix(p.src[p.pos:], ">="):
		op, p.pos = rule.OpGe, p.pos+2
	case p.src[p.pos] == '<':
		op, p.pos = rule.OpLt, p.pos+1
	default:
		op, p.pos = rule.OpGt, p.pos+1
	}
	p.space()
	at := p.pos
	v, err := p.literal()
	if err != nil {
		return nil, err
	}
	if v.wild || v.text == "" && !v.quoted {
		p.pos = at
		return nil, p.fail("a range needs a plain value")
	}
	e, err := f.order(op, v.text)
	if err != nil {
		p.pos = at
		return nil, p.fail(err.Error())
	}
	return e, nil
}

// values parses the right-hand side of `field:` for field f.
func (p *kqlParser) values(f field, depth int) (rule.Expr, error) {
	if depth > maxDepth {
		return nil, p.fail("query nested too deeply")
	}
	if p.pos < len(p.src) && p.src[p.pos] == '(' {
		return p.group(func() (rule.Expr, error) { return p.valueOr(f, depth+1) })
	}
	at := p.pos
	v, err := p.literal()
	if err != nil {
		return nil, err
	}
	if v.text == "" && !v.quoted {
		return nil, p.fail(fmt.Sprintf("expected a value, found %q", p.rest(20)))
	}
	e, err := p.valueExpr(f, v)
	if err != nil {
		p.pos = at
		return nil, p.fail(err.Error())
	}
	return e, nil
}

func (p *kqlParser) valueOr(f field, depth int) (rule.Expr, error) {
	return joined(p.keyword, "or", func() (rule.Expr, error) { return p.valueAnd(f, depth) }, or)
}

func (p *kqlParser) valueAnd(f field, depth int) (rule.Expr, error) {
	return joined(p.keyword, "and", func() (rule.Expr, error) { return p.valueNot(f, depth) }, and)
}

func (p *kqlParser) valueNot(f field, depth int) (rule.Expr, error) {
	p.space()
	if p.keyword("not") {
		x, err := p.valueNot(f, depth+1)
		if err != nil {
			return nil, err
		}
		return not(x), nil
	}
	return p.values(f, depth+1)
}

// valueExpr is `f:v` for one value: `*` is existence, an unquoted value with `*` a wildcard match, anything else an
// exact, case-sensitive match (on a keyword field, as most of the integration's are), or a match of words on a text
// field (fullText). On an ip field, a value with `/` is a CIDR.
func (p *kqlParser) valueExpr(f field, v kqlLiteral) (rule.Expr, error) {
	switch {
	case !v.quoted && v.glob == "*":
		return f.exists(), nil
	case f.text:
		return f.fullText(v)
	case f.ip && !v.wild && strings.Contains(v.text, "/"):
		prefix, err := netip.ParsePrefix(v.text)
		if err != nil {
			return nil, fmt.Errorf("invalid CIDR %q for ip field %s", v.text, f.ecs)
		}
		return f.compare(rule.Pattern{Kind: rule.CIDR, Text: prefix.String()})
	case v.quoted || (f.ip || f.numeric) && !v.wild:
		return f.compare(f.literal(v.text, true))
	}
	return f.compare(rule.Pattern{Kind: rule.Glob, Text: v.glob, CaseSensitive: true})
}

// fullText is `f:v` on a text field, as Kibana queries it and Elasticsearch analyses both sides (standard analyzer,
// rule.Tokens): a quoted value is match_phrase, its words one after the other in one value; an unquoted value is
// match, any one of its words; an unquoted value with `*` is query_string, whose whitespace-separated parts are each a
// wildcard that must match one whole word (lower-cased, not analysed further) or, without `*`, any of their words. A
// value with no words matches nothing.
func (f field) fullText(v kqlLiteral) (rule.Expr, error) {
	if v.quoted {
		words := rule.Tokens(v.text)
		if len(words) == 0 {
			return falseExpr, nil
		}
		return f.compare(rule.Pattern{Kind: rule.Phrase, Text: strings.Join(words, " ")})
	}
	// An escape writes the same character to text and glob, so their whitespace-separated parts correspond; a part
	// is a wildcard where its glob differs from its text escaped: an unescaped `*`.
	texts, globs := strings.Fields(v.text), strings.Fields(v.glob)
	var terms []rule.Expr
	for i, glob := range globs {
		var pats []rule.Pattern
		if glob == "*" {
			// A lone `*` among the words: query_string reads it as "the field exists".
			terms = append(terms, f.exists())
			continue
		}
		if i >= len(texts) || rule.EscapeGlob(texts[i]) != glob {
			pats = append(pats, rule.Pattern{Kind: rule.Token, Text: strings.ToLower(glob)})
		} else {
			for _, w := range rule.Tokens(texts[i]) {
				pats = append(pats, rule.Pattern{Kind: rule.Phrase, Text: w})
			}
		}
		for _, pat := range pats {
			e, err := f.compare(pat)
			if err != nil {
				return nil, err
			}
			terms = append(terms, e)
		}
	}
	return or(terms...), nil
}

// kqlLiteral is a quoted or unquoted literal: text is its value, glob the rule.Glob form (wildcards kept).
type kqlLiteral struct {
	raw, text, glob string
	quoted, wild    bool
}

// literal reads a quoted or unquoted literal at the current position; an empty unquoted literal means none.
func (p *kqlParser) literal() (kqlLiteral, error) {
	if p.pos < len(p.src) && p.src[p.pos] == '"' {
		return p.quoted()
	}
	return p.unquoted()
}

func (p *kqlParser) quoted() (kqlLiteral, error) {
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			text := b.String()
			return kqlLiteral{raw: p.src[start:p.pos], text: text, glob: rule.EscapeGlob(text), quoted: true}, nil
		case c == '\\' && p.pos+1 < len(p.src):
			r, n, ok := p.escape(p.pos+1, `\"`)
			if !ok {
				// Kibana keeps an unknown escape's backslash inside quotes.
				b.WriteByte('\\')
				p.pos++
				continue
			}
			b.WriteString(r)
			p.pos += 1 + n
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	p.pos = start
	return kqlLiteral{}, p.fail("unterminated quoted string")
}

// escape decodes the escape sequence after a backslash at offset i: \t \r \n, \uXXXX, or one of the characters in
// literal. It returns the text, the bytes consumed after the backslash, and whether it was an escape.
func (p *kqlParser) escape(i int, literal string) (string, int, bool) {
	c := p.src[i]
	switch {
	case c == 't':
		return "\t", 1, true
	case c == 'r':
		return "\r", 1, true
	case c == 'n':
		return "\n", 1, true
	case c == 'u' && i+5 <= len(p.src):
		if n, err := strconv.ParseUint(p.src[i+1:i+5], 16, 32); err == nil {
			return string(rune(n)), 5, true
		}
	case strings.IndexByte(literal, c) >= 0:
		return string(c), 1, true
	}
	return "", 0, false
}

const kqlSpecial = `\():<>"*{}`

func (p *kqlParser) unquoted() (kqlLiteral, error) {
	start := p.pos
	var text, glob strings.Builder
	wild := false
	// end is the length of text and glob without the trailing unescaped whitespace, trimmed at the end.
	textEnd, globEnd := 0, 0
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\\':
			if p.pos+1 >= len(p.src) {
				return kqlLiteral{}, p.fail("a backslash at the end of the query escapes nothing")
			}
			// As in Kibana, \t \r \n and \u come first: `\not` is a newline and "ot".
			r, n, ok := p.escape(p.pos+1, kqlSpecial)
			if !ok {
				if r = p.escapedKeyword(p.pos + 1); r == "" {
					return kqlLiteral{}, p.fail(fmt.Sprintf("invalid escape \\%c (escape one of %s or a keyword, or quote the value)", p.src[p.pos+1], kqlSpecial))
				}
				n = len(r)
			}
			text.WriteString(r)
			glob.WriteString(rule.EscapeGlob(r))
			p.pos += 1 + n
		case strings.IndexByte(`():<>"{}`, c) >= 0:
			goto done
		case isSpace(c):
			j := p.pos
			for j < len(p.src) && isSpace(p.src[j]) {
				j++
			}
			if j == len(p.src) || p.keywordAt(j, "or") || p.keywordAt(j, "and") || p.keywordAt(j, "not") {
				goto done
			}
			text.WriteString(p.src[p.pos:j])
			glob.WriteString(p.src[p.pos:j])
			p.pos = j
			continue
		case c == '*':
			wild = true
			text.WriteByte(c)
			glob.WriteByte(c)
			p.pos++
		default:
			// Byte by byte: multi-byte characters pass through whole; only `?` is special to a glob here.
			text.WriteByte(c)
			if c == '?' {
				glob.WriteByte('\\')
			}
			glob.WriteByte(c)
			p.pos++
		}
		textEnd, globEnd = text.Len(), glob.Len()
	}
done:
	return kqlLiteral{
		raw:  strings.TrimSpace(p.src[start:p.pos]),
		text: text.String()[:textEnd],
		glob: glob.String()[:globEnd],
		wild: wild,
	}, nil
}

// escapedKeyword returns the keyword (or, and, not, as written) escaped at offset i, or "".
func (p *kqlParser) escapedKeyword(i int) string {
	for _, kw := range []string{"and", "not", "or"} {
		if i+len(kw) <= len(p.src) && strings.EqualFold(p.src[i:i+len(kw)], kw) {
			return p.src[i : i+len(kw)]
		}
	}
	return ""
}
