package elastic

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// EQL: only a single event query runs per event, `<category> where <condition>` or `any where <condition>`:
//
//	query     = (identifier | "any") "where" or
//	or        = and { "or" and };  and = not { "and" not };  not = "not" not | predicate
//	predicate = operand [ ("==" | "!=" | "<" | "<=" | ">" | ">=") operand
//	                    | ["not"] ("in" | "in~") "(" operand { "," operand } ")"
//	                    | ("like" | "like~" | "regex" | "regex~" | ":") (operand | "(" operand { "," operand } ")") ]
//	operand   = field | string | number | true | false | null | function "(" args ")" | "(" or ")"
//
// A predicate that is an operand alone is a condition: parentheses, a function, a boolean field, true or false.
//
// Sequences run as a rule.Sequence (eqlseq.go); samples and pipes are reported, naming what they are: they need many
// events.

type eqlTokKind int

const (
	eqlEOF eqlTokKind = iota
	eqlIdent
	eqlField    // backquoted
	eqlOptField // an optional field, `?name` or ?`name`: null when the field map does not cover it
	eqlString
	eqlNumber
	eqlOp
)

type eqlTok struct {
	kind eqlTokKind
	text string
	off  int
}

func eqlLex(src string) ([]eqlTok, error) {
	var toks []eqlTok
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case isSpace(c):
			i++
		case strings.HasPrefix(src[i:], "//"), strings.HasPrefix(src[i:], "/*"):
			end, err := commentEnd(src, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '`':
			name, n, err := lexBackquoted(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, eqlTok{eqlField, name, i})
			i += n
		case c == '?':
			// Elasticsearch's optional field: the same field, null where the index has no such field.
			switch {
			case i+1 < len(src) && src[i+1] == '`':
				name, n, err := lexBackquoted(src, i+1)
				if err != nil {
					return nil, err
				}
				toks = append(toks, eqlTok{eqlOptField, name, i})
				i += 1 + n
			case i+1 < len(src) && (isWord(src[i+1]) || src[i+1] == '@'):
				j := i + 1
				for j < len(src) && (isWord(src[j]) || src[j] == '.' || src[j] == '@') {
					j++
				}
				toks = append(toks, eqlTok{eqlOptField, src[i+1 : j], i})
				i = j
			default:
				return nil, errorAt(src, i, "`?` must be followed by a field name (an optional field, `?field`)")
			}
		case c == '"':
			s, n, err := lexString(src, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, eqlTok{eqlString, s, i})
			i += n
		case c == '\'':
			return nil, errorAt(src, i, "EQL strings use double quotes")
		case c >= '0' && c <= '9' || c == '-' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			j := i + 1
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.' || src[j] == 'e' || src[j] == 'E') {
				j++
			}
			toks = append(toks, eqlTok{eqlNumber, src[i:j], i})
			i = j
		case isWord(c) || c == '@':
			j := i
			for j < len(src) && (isWord(src[j]) || src[j] == '.' || src[j] == '@') {
				j++
			}
			if j < len(src) && src[j] == '~' { // like~, in~, regex~, startsWith~
				j++
			}
			toks = append(toks, eqlTok{eqlIdent, src[i:j], i})
			i = j
		default:
			op := ""
			for _, o := range []string{"==", "!=", "<=", ">=", "<", ">", ":", "(", ")", ",", "[", "]", "|", "="} {
				if strings.HasPrefix(src[i:], o) {
					op = o
					break
				}
			}
			if op == "" && strings.HasPrefix(src[i:], "![") {
				op = "![" // a sequence's missing event
			}
			if op == "" {
				return nil, errorAt(src, i, fmt.Sprintf("unexpected character %q", src[i:i+1]))
			}
			if op == "=" && !afterParam(toks) {
				return nil, errorAt(src, i, "`=` is not an EQL operator: use `==`")
			}

			toks = append(toks, eqlTok{eqlOp, op, i})
			i += len(op)
		}
	}
	return append(toks, eqlTok{eqlEOF, "", len(src)}), nil
}

// afterParam reports whether the last token is a sequence parameter's name (`with maxspan=5m`, `with runs=3`), the
// one place EQL writes a single `=`.
func afterParam(toks []eqlTok) bool {
	if len(toks) == 0 || toks[len(toks)-1].kind != eqlIdent {
		return false
	}
	name := strings.ToLower(toks[len(toks)-1].text)
	return name == "maxspan" || name == "runs"
}

// commentEnd returns the end of the // or /* */ comment at i (EQL's and ES|QL's).
func commentEnd(src string, i int) (int, error) {
	if strings.HasPrefix(src[i:], "//") {
		if end := strings.IndexByte(src[i:], '\n'); end >= 0 {
			return i + end, nil
		}
		return len(src), nil
	}
	end := strings.Index(src[i+2:], "*/")
	if end < 0 {
		return 0, errorAt(src, i, "unterminated comment")
	}
	return i + end + 4, nil
}

// lexBackquoted reads a `backquoted` field name at i and returns the name and its length.
func lexBackquoted(src string, i int) (string, int, error) {
	var b strings.Builder
	j := i + 1
	for ; j < len(src); j++ {
		if src[j] == '`' {
			if j+1 < len(src) && src[j+1] == '`' { // `` is a backquote
				b.WriteByte('`')
				j++
				continue
			}
			break
		}
		b.WriteByte(src[j])
	}
	if j >= len(src) {
		return "", 0, errorAt(src, i, "unterminated backquoted field name")
	}
	if b.Len() == 0 {
		return "", 0, errorAt(src, i, "an empty backquoted name names no field")
	}
	return b.String(), j + 1 - i, nil
}

func isWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// lexString reads an EQL "..." or """...""" string at i and returns its value and length.
func lexString(src string, i int) (string, int, error) { return quoted(src, i, true) }

// quoted reads a "..." or """...""" string at i. A triple-quoted string is raw; in the other, EQL has the escapes
// \n \t \r \b \f \" \\ \' and \u{...}, ES|QL only \n \t \r \" \\.
func quoted(src string, i int, eql bool) (string, int, error) {
	if strings.HasPrefix(src[i:], `"""`) {
		end := strings.Index(src[i+3:], `"""`)
		if end < 0 {
			return "", 0, errorAt(src, i, "unterminated string")
		}
		return src[i+3 : i+3+end], end + 6, nil
	}
	var b strings.Builder
	for j := i + 1; j < len(src); j++ {
		switch c := src[j]; c {
		case '"':
			return b.String(), j + 1 - i, nil
		case '\n':
			return "", 0, errorAt(src, i, "unterminated string")
		case '\\':
			if j+1 >= len(src) {
				return "", 0, errorAt(src, j, "unterminated string")
			}
			j++
			if e := src[j]; !eql && !strings.ContainsRune(`ntr"\`, rune(e)) {
				return "", 0, errorAt(src, j-1, fmt.Sprintf("unknown escape \\%c in a string (ES|QL has \\t \\n \\r \\\" \\\\; a \"\"\"triple-quoted\"\"\" string takes backslashes as they are)", e))
			}
			switch e := src[j]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '"', '\\', '\'':
				b.WriteByte(e)
			case 'u':
				r, n, err := unicodeEscape(src, j-1)
				if err != nil {
					return "", 0, err
				}
				b.WriteRune(r)
				j += n - 2
			default:
				return "", 0, errorAt(src, j-1, fmt.Sprintf("unknown escape \\%c in a string", e))
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, errorAt(src, i, "unterminated string")
}

// unicodeEscape reads Elasticsearch EQL's `\u{XXXX}` (2 to 8 hex digits, a code point that is not a surrogate) at
// the backslash at i, and returns the character and the escape's length.
func unicodeEscape(src string, i int) (rune, int, error) {
	rest := src[i:]
	end := strings.IndexByte(rest, '}')
	if !strings.HasPrefix(rest, `\u{`) || end < 0 || strings.ContainsAny(rest[:end], "\"\n") {
		return 0, 0, errorAt(src, i, "a \\u escape is \\u{XXXX}, with 2 to 8 hex digits")
	}
	hex := rest[3:end]
	n, err := strconv.ParseUint(hex, 16, 32)
	switch {
	case len(hex) < 2 || len(hex) > 8:
		return 0, 0, errorAt(src, i, fmt.Sprintf("a \\u escape has 2 to 8 hex digits, \\u{%s} has %d", hex, len(hex)))
	case err != nil || n > unicode.MaxRune:
		return 0, 0, errorAt(src, i, fmt.Sprintf("invalid character code \\u{%s}", hex))
	case 0xD800 <= n && n <= 0xDFFF:
		return 0, 0, errorAt(src, i, fmt.Sprintf("invalid character code \\u{%s}: a surrogate", hex))
	}
	return rune(n), end + 1, nil
}

// CompileEQL compiles a single-event EQL query into a rule expression, mapping its fields through fm. Errors are
// *Error; a sequence, a sample or a pipe is an *Error naming it.
func CompileEQL(query string, fm *FieldMap) (rule.Expr, error) {
	// The kind of query is named before lexing: sequence syntax (`with maxspan=5m`) is not single-event EQL.
	if m := eqlKind.FindStringSubmatchIndex(query); m != nil {
		kw := strings.ToLower(query[m[2]:m[3]])
		return nil, errorAt(query, m[2], fmt.Sprintf("EQL %s queries cannot run per event: they correlate several events", kw))
	}
	toks, err := eqlLex(query)
	if err != nil {
		return nil, err
	}
	p := &eqlParser{tokCursor: tokCursor{src: query, toks: toks}, fm: fm}
	cond, err := p.eventQuery()
	if err != nil {
		return nil, err
	}
	if err := p.end("EQL pipes (`| head`, `| tail`, `| filter`, ...) cannot run per event"); err != nil {
		return nil, err
	}
	return cond, nil
}

// eventQuery parses `<category> where <condition>` or `any where <condition>`.
func (p *eqlParser) eventQuery() (rule.Expr, error) {
	first := p.next()
	if first.kind != eqlIdent && first.kind != eqlString {
		return nil, p.failAt(first, "an EQL query starts with `any where` or `<category> where`")
	}
	if w := p.next(); w.kind != eqlIdent || !strings.EqualFold(w.text, "where") {
		return nil, p.failAt(w, "expected `where` after the event category")
	}
	cond, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(first.text, "any") && first.kind == eqlIdent {
		return cond, nil
	}
	// `<category> where` is a condition on event.category, mapped like any other field.
	cat, err := p.fm.resolve("event.category")
	if err != nil {
		return nil, p.failAt(first, err.Error())
	}
	catExpr, err := cat.compare(rule.Literal(first.text, true))
	if err != nil {
		return nil, p.failAt(first, err.Error())
	}
	return and(catExpr, cond), nil
}

// end fails unless every token has been read; pipes is what a `|` is told.
func (p *eqlParser) end(pipes string) error {
	if t := p.peek(); t.kind != eqlEOF {
		if t.text == "|" {
			return p.failAt(t, pipes)
		}
		return p.failAt(t, fmt.Sprintf("unexpected %q", t.text))
	}
	return nil
}

// isSequence reports whether an EQL query is a sequence.
func isSequence(query string) bool {
	m := eqlKind.FindStringSubmatch(query)
	return m != nil && strings.EqualFold(m[1], "sequence")
}

// eqlKind finds a leading `sequence`, `sample` or `join`, after any whitespace and comments.
var eqlKind = regexp.MustCompile(`(?is)^(?:\s+|/\*.*?\*/|//[^\n]*\n)*(sequence|sample|join)\b`)

type eqlParser struct {
	tokCursor
	fm *FieldMap
}

// tokCursor walks the tokens of an EQL or ES|QL query (their tokens are of the same kinds).
type tokCursor struct {
	src  string
	toks []eqlTok
	pos  int
}

func (p *tokCursor) peek() eqlTok { return p.toks[p.pos] }

func (p *tokCursor) next() eqlTok {
	t := p.toks[p.pos]
	if t.kind != eqlEOF {
		p.pos++
	}
	return t
}

func (p *tokCursor) failAt(t eqlTok, reason string) *Error { return errorAt(p.src, t.off, reason) }

func (p *tokCursor) isKeyword(t eqlTok, kw string) bool {
	return t.kind == eqlIdent && strings.EqualFold(t.text, kw)
}

func (p *tokCursor) accept(kw string) bool {
	if p.isKeyword(p.peek(), kw) {
		p.pos++
		return true
	}
	return false
}

func (p *eqlParser) or(depth int) (rule.Expr, error) {
	if depth > maxDepth {
		return nil, p.failAt(p.peek(), "query nested too deeply")
	}
	return joined(p.accept, "or", func() (rule.Expr, error) { return p.and(depth) }, or)
}

func (p *eqlParser) and(depth int) (rule.Expr, error) {
	return joined(p.accept, "and", func() (rule.Expr, error) { return p.not(depth) }, and)
}

func (p *eqlParser) not(depth int) (rule.Expr, error) {
	if p.accept("not") {
		if depth > maxDepth {
			return nil, p.failAt(p.peek(), "query nested too deeply")
		}
		x, err := p.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return not(x), nil
	}
	return p.predicate(depth)
}

// operand is one side of a comparison: a field, a literal, or (for a whole predicate) a boolean expression.
type operand struct {
	tok     eqlTok
	isField bool
	field   field
	value   string
	null    bool
	// expr is set for a parenthesised condition or a function call, which stand alone as predicates.
	expr rule.Expr
}

func (p *eqlParser) operand(depth int) (operand, error) {
	t := p.next()
	switch t.kind {
	case eqlString, eqlNumber:
		return operand{tok: t, value: t.text}, nil
	case eqlField, eqlOptField:
		return p.fieldOperand(t)
	case eqlOp:
		if t.text == "(" {
			e, err := p.or(depth + 1)
			if err != nil {
				return operand{}, err
			}
			if c := p.next(); c.text != ")" || c.kind != eqlOp {
				return operand{}, p.failAt(t, "missing `)` for this `(`")
			}
			return operand{tok: t, expr: e}, nil
		}
	case eqlIdent:
		switch strings.ToLower(t.text) {
		case "true", "false":
			return operand{tok: t, value: strings.ToLower(t.text)}, nil
		case "null":
			return operand{tok: t, null: true}, nil
		}
		if p.peek().kind == eqlOp && p.peek().text == "(" {
			e, err := p.function(t, depth)
			return operand{tok: t, expr: e}, err
		}
		return p.fieldOperand(t)
	}
	return operand{}, p.failAt(t, fmt.Sprintf("expected a field or a value, found %q", t.text))
}

func (p *eqlParser) fieldOperand(t eqlTok) (operand, error) {
	f, err := p.fm.resolve(t.text)
	var unmapped *unmappedError
	if t.kind == eqlOptField && errors.As(err, &unmapped) {
		// An optional field the index lacks is null in Elasticsearch: here, one no map entry covers is absent.
		f, err = field{ecs: t.text, target: target{kind: absentTarget}}, nil
	}
	if err != nil {
		return operand{}, p.failAt(t, err.Error())
	}
	return operand{tok: t, isField: true, field: f}, nil
}

var eqlCompareOps = map[string]rule.Op{"==": rule.OpEq, "!=": rule.OpNe, "<": rule.OpLt, "<=": rule.OpLe, ">": rule.OpGt, ">=": rule.OpGe}

func (p *eqlParser) predicate(depth int) (rule.Expr, error) {
	left, err := p.operand(depth)
	if err != nil {
		return nil, err
	}
	t := p.peek()
	lower := strings.ToLower(t.text)
	if t.kind == eqlOp {
		if op, ok := eqlCompareOps[t.text]; ok {
			p.pos++
			right, err := p.operand(depth)
			if err != nil {
				return nil, err
			}
			return p.compare(left, op, right)
		}
		if t.text == ":" {
			p.pos++
			return p.patterns(left, ":", depth)
		}
	}
	if t.kind == eqlIdent {
		negate := false
		if nt := p.toks[min(p.pos+1, len(p.toks)-1)]; lower == "not" && (p.isKeyword(nt, "in") || p.isKeyword(nt, "in~")) {
			negate = true
			p.pos++
			lower = strings.ToLower(nt.text)
		}
		switch lower {
		case "in", "in~", "like", "like~", "regex", "regex~":
			p.pos++
			e, err := p.patterns(left, lower, depth)
			if err != nil || !negate {
				return e, err
			}
			return not(e), nil
		}
	}
	// An operand alone: a condition in parentheses, a function, a boolean field, or true or false.
	switch {
	case left.expr != nil:
		return left.expr, nil
	case left.tok.kind == eqlIdent && !left.isField && !left.null:
		// operand reads only true and false as bare words that are neither fields nor null.
		return boolExpr(left.value == "true"), nil
	case left.isField:
		if err := p.notText(left); err != nil {
			return nil, err
		}
		return left.field.compare(rule.Literal("true", true))
	}
	return nil, p.failAt(left.tok, fmt.Sprintf("%q is not a condition", left.tok.text))
}

// compare is `a <op> b`, a field on at least one side.
func (p *eqlParser) compare(a operand, op rule.Op, b operand) (rule.Expr, error) {
	if !a.isField && b.isField {
		a, b = b, a
		switch op {
		case rule.OpLt:
			op = rule.OpGt
		case rule.OpLe:
			op = rule.OpGe
		case rule.OpGt:
			op = rule.OpLt
		case rule.OpGe:
			op = rule.OpLe
		}
	}
	switch {
	case a.expr != nil || b.expr != nil:
		return nil, p.failAt(a.tok, "a comparison needs a field and a value")
	case !a.isField:
		return nil, p.failAt(a.tok, "a comparison needs a field on one side")
	case b.null && (op == rule.OpEq || op == rule.OpNe):
		// EQL's null is a missing field.
		if op == rule.OpEq {
			return not(a.field.exists()), nil
		}
		return a.field.exists(), nil
	case b.null:
		return nil, p.failAt(b.tok, "null can only be compared with == or !=")
	}
	if err := p.notText(a); err != nil {
		return nil, err
	}
	if err := p.notText(b); err != nil {
		return nil, err
	}
	switch {
	case b.isField:
		e, err := a.field.equalsField(b.field, true)
		if err != nil {
			return nil, p.failAt(a.tok, err.Error())
		}
		switch op {
		case rule.OpEq:
			return e, nil
		case rule.OpNe:
			return and(a.field.exists(), b.field.exists(), not(e)), nil
		}
		return nil, p.failAt(a.tok, "two fields can only be compared with == or !=")
	}
	switch op {
	case rule.OpEq:
		return p.wrap(a.tok)(a.field.compare(a.field.literal(b.value, true)))
	case rule.OpNe:
		// No value may equal; a missing field matches. Elasticsearch translates `!=` into a bare must_not of the
		// term query (QL's BinaryComparisons translator; EQL's optimizer adds no exists test), as `not in` is.
		eq, err := a.field.compare(a.field.literal(b.value, true))
		if err != nil {
			return nil, p.failAt(a.tok, err.Error())
		}
		return not(eq), nil
	}
	return p.wrap(b.tok)(a.field.order(op, b.value))
}

func (p *eqlParser) wrap(t eqlTok) func(rule.Expr, error) (rule.Expr, error) {
	return func(e rule.Expr, err error) (rule.Expr, error) {
		if err != nil {
			return nil, p.failAt(t, err.Error())
		}
		return e, nil
	}
}

// patterns is `f in (...)`, `f like ...`, `f regex ...` and `f : ...`, with one value or a parenthesised list.
func (p *eqlParser) patterns(left operand, op string, depth int) (rule.Expr, error) {
	if !left.isField {
		return nil, p.failAt(left.tok, fmt.Sprintf("%s needs a field on its left", op))
	}
	if err := p.notText(left); err != nil {
		return nil, err
	}
	var vals []operand
	if t := p.peek(); t.kind == eqlOp && t.text == "(" {
		p.pos++
		for {
			v, err := p.operand(depth)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
			if t := p.next(); t.kind == eqlOp && t.text == ")" {
				break
			} else if t.kind != eqlOp || t.text != "," {
				return nil, p.failAt(t, "expected `,` or `)` in a list")
			}
		}
	} else if op == "in" || op == "in~" {
		return nil, p.failAt(t, "in needs a parenthesised list")
	} else {
		v, err := p.operand(depth)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
	}
	var terms []rule.Expr
	for _, v := range vals {
		if v.isField || v.expr != nil || v.null {
			return nil, p.failAt(v.tok, fmt.Sprintf("%s takes values, not fields or conditions", op))
		}
		var pat rule.Pattern
		switch op {
		case "in":
			pat = left.field.literal(v.value, true)
		case "in~":
			pat = left.field.literal(v.value, false)
		case "like", "like~", ":":
			// `:` and like~ are case-insensitive; all three take * and ? wildcards.
			pat = rule.Pattern{Kind: rule.Glob, Text: eqlGlob(v.value), CaseSensitive: op == "like"}
		case "regex", "regex~":
			// Elasticsearch runs EQL's regex as a regexp query: Lucene's syntax (`@` any string, "quoted" literals,
			// `^` an ordinary character), over the whole value, as ES|QL's RLIKE.
			src, err := luceneRegex(v.value)
			if err != nil {
				return nil, p.failAt(v.tok, fmt.Sprintf("invalid regular expression (Lucene syntax): %v", err))
			}
			pat = rule.Pattern{Kind: rule.Regex, Text: src, CaseSensitive: op == "regex"}
		}
		e, err := left.field.compare(pat)
		if err != nil {
			return nil, p.failAt(v.tok, err.Error())
		}
		terms = append(terms, e)
	}
	return or(terms...), nil
}

// notText fails for a field the integration maps as text (textFields): Elasticsearch EQL does not support text fields
// (its comparisons need an exact, keyword value, and these have no keyword sub-field), so the rule would not run in
// Elastic either. Only `== null` and `!= null` may test them.
func (p *eqlParser) notText(o operand) error {
	if o.isField && o.field.text {
		return p.failAt(o.tok, fmt.Sprintf("%s is a text field in the Kubernetes integration's mapping, with no keyword sub-field: Elasticsearch EQL cannot compare it (only `== null` and `!= null` can test it)", o.field.ecs))
	}
	return nil
}

// eqlGlob turns an EQL wildcard value into rule.Glob text: `*` and `?` are wildcards, everything else literal.
func eqlGlob(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// function compiles the string and network functions that test one field: startsWith, endsWith, stringContains
// (and their case-insensitive ~ forms) with one value, cidrMatch with any number of networks.
func (p *eqlParser) function(name eqlTok, depth int) (rule.Expr, error) {
	fn := strings.ToLower(strings.TrimSuffix(name.text, "~"))
	caseSensitive := !strings.HasSuffix(name.text, "~")
	switch fn {
	case "startswith", "endswith", "stringcontains", "cidrmatch":
	default:
		return nil, p.failAt(name, fmt.Sprintf("EQL function %s is not supported (startsWith, endsWith, stringContains, cidrMatch are)", name.text))
	}
	p.pos++ // (
	var args []operand
	for {
		a, err := p.operand(depth)
		if err != nil {
			return nil, err
		}
		args = append(args, a)
		if t := p.next(); t.kind == eqlOp && t.text == ")" {
			break
		} else if t.kind != eqlOp || t.text != "," {
			return nil, p.failAt(t, "expected `,` or `)` in the arguments")
		}
	}
	switch {
	case fn != "cidrmatch" && (len(args) != 2 || !args[0].isField):
		// Elasticsearch's string functions take exactly two arguments; only cidrMatch takes a list.
		return nil, p.failAt(name, fmt.Sprintf("%s takes two arguments, a field and a value: write one call per value, joined with or", name.text))
	case len(args) < 2 || !args[0].isField:
		return nil, p.failAt(name, fmt.Sprintf("%s needs a field and at least one network", name.text))
	}
	if err := p.notText(args[0]); err != nil {
		return nil, err
	}
	var terms []rule.Expr
	for _, a := range args[1:] {
		if a.isField || a.expr != nil || a.null {
			return nil, p.failAt(a.tok, fmt.Sprintf("%s takes values after the field", name.text))
		}
		lit := rule.EscapeGlob(a.value)
		var pat rule.Pattern
		switch fn {
		case "startswith":
			pat = rule.Pattern{Kind: rule.Glob, Text: lit + "*", CaseSensitive: caseSensitive}
		case "endswith":
			pat = rule.Pattern{Kind: rule.Glob, Text: "*" + lit, CaseSensitive: caseSensitive}
		case "stringcontains":
			pat = rule.Pattern{Kind: rule.Glob, Text: "*" + lit + "*", CaseSensitive: caseSensitive}
		case "cidrmatch":
			prefix, err := netip.ParsePrefix(a.value)
			if err != nil {
				return nil, p.failAt(a.tok, fmt.Sprintf("invalid CIDR %q", a.value))
			}
			pat = rule.Pattern{Kind: rule.CIDR, Text: prefix.String()}
		}
		e, err := args[0].field.compare(pat)
		if err != nil {
			return nil, p.failAt(a.tok, err.Error())
		}
		terms = append(terms, e)
	}
	return or(terms...), nil
}
