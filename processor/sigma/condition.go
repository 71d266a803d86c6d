package sigma

import (
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/auditdetect/auditdetect/processor/rule"
)

// A condition is parsed by recursive descent over this grammar (keywords in any case):
//
//	expr     = and { "or" and }
//	and      = not { "and" not }
//	not      = "not" not | primary
//	primary  = "(" expr ")" | quantity "of" target | identifier
//	quantity = "1" | "any" | "all"
//	target   = "them" | identifier pattern (`*` matches any run of characters)

// condToken is one token of a condition: a word, a parenthesis or a pipe, at a byte offset.
type condToken struct {
	text string
	off  int
}

// condLex splits a condition into words (identifiers, patterns and keywords) and the characters ( ) |.
func condLex(s string) ([]condToken, error) {
	var toks []condToken
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '|':
			// An aggregation follows; the parser reports it, whatever its syntax.
			return append(toks, condToken{"|", i}), nil
		case c == '(' || c == ')':
			toks = append(toks, condToken{string(c), i})
			i++
		case isIdentChar(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			toks = append(toks, condToken{s[i:j], i})
			i = j
		default:
			return nil, &condError{off: i, reason: fmt.Sprintf("unexpected character %q in condition", rune(c))}
		}
	}
	return toks, nil
}

func isIdentChar(c byte) bool {
	return isWord(c) || c == '*' || c == '-' || c == '.'
}

type condError struct {
	off    int
	reason string
}

func (e *condError) Error() string { return e.reason }

type condParser struct {
	toks     []condToken
	pos      int
	end      int // offset of the end of the text, for errors at the end
	searches []search
	// referenced counts the comparisons the identifiers the condition names stand for, once per reference: the
	// engine expands each reference, so `sel or sel or ...` multiplies a search under maxTerms past it.
	referenced *int
}

// reference counts one use of s by the token at off, and fails past maxTerms.
func (cp *condParser) reference(s *search, off int) error {
	if *cp.referenced += s.terms; *cp.referenced > maxTerms {
		return &condError{off: off, reason: fmt.Sprintf("the condition expands into more than %d comparisons (each "+
			"search identifier counts its comparisons every time the condition names it): name each once", maxTerms)}
	}
	return nil
}

// condition compiles the condition text of node n against the search identifiers.
func (p *parser) condition(n *yaml.Node, searches []search, referenced *int) (rule.Expr, error) {
	text := n.Value
	e, err := parseCondition(text, searches, referenced)
	if err == nil {
		return e, nil
	}
	ce, ok := err.(*condError)
	if !ok {
		return nil, p.errorAt(n, err.Error())
	}
	re := p.errorAt(n, ce.reason)
	// Columns are exact for a one-line plain or quoted condition; otherwise the condition's own position is given.
	if !strings.ContainsAny(text, "\n") {
		switch n.Style {
		case 0:
			re.Column += ce.off
		case yaml.SingleQuotedStyle, yaml.DoubleQuotedStyle:
			re.Column += ce.off + 1
		}
	}
	return nil, re
}

func parseCondition(text string, searches []search, referenced *int) (rule.Expr, error) {
	toks, err := condLex(text)
	if err != nil {
		return nil, err
	}
	cp := &condParser{toks: toks, end: len(text), searches: searches, referenced: referenced}
	if len(toks) == 0 {
		return nil, &condError{off: 0, reason: "empty condition"}
	}
	e, err := cp.or(0)
	if err != nil {
		return nil, err
	}
	if t, ok := cp.peek(); ok {
		if t.text == "|" {
			return nil, &condError{off: t.off, reason: "aggregations in the condition (`| count() ...`) are not supported: they are deprecated in Sigma, and auditdetect runs Sigma rules one event at a time"}
		}
		return nil, &condError{off: t.off, reason: fmt.Sprintf("unexpected %q", t.text)}
	}
	return e, nil
}

func (cp *condParser) peek() (condToken, bool) {
	if cp.pos < len(cp.toks) {
		return cp.toks[cp.pos], true
	}
	return condToken{off: cp.end}, false
}

func (cp *condParser) keyword(kw string) bool {
	if t, ok := cp.peek(); ok && strings.EqualFold(t.text, kw) {
		cp.pos++
		return true
	}
	return false
}

// maxConditionDepth bounds nesting, so a hostile condition cannot exhaust the stack.
const maxConditionDepth = 100

func (cp *condParser) or(depth int) (rule.Expr, error) {
	if depth > maxConditionDepth {
		t, _ := cp.peek()
		return nil, &condError{off: t.off, reason: "condition nested too deeply"}
	}
	return cp.joined("or", func() (rule.Expr, error) { return cp.and(depth) }, simplifyOr)
}

func (cp *condParser) and(depth int) (rule.Expr, error) {
	return cp.joined("and", func() (rule.Expr, error) { return cp.not(depth) }, simplifyAnd)
}

// joined parses `next { kw next }` and combines the terms.
func (cp *condParser) joined(kw string, next func() (rule.Expr, error), combine func([]rule.Expr) rule.Expr) (rule.Expr, error) {
	var terms []rule.Expr
	for {
		t, err := next()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		if !cp.keyword(kw) {
			return combine(terms), nil
		}
	}
}

func (cp *condParser) not(depth int) (rule.Expr, error) {
	if cp.keyword("not") {
		if depth > maxConditionDepth {
			t, _ := cp.peek()
			return nil, &condError{off: t.off, reason: "condition nested too deeply"}
		}
		x, err := cp.not(depth + 1)
		if err != nil {
			return nil, err
		}
		return rule.Not{X: x}, nil
	}
	return cp.primary(depth)
}

func (cp *condParser) primary(depth int) (rule.Expr, error) {
	t, ok := cp.peek()
	if !ok {
		return nil, &condError{off: t.off, reason: "condition ends where a search identifier was expected"}
	}
	switch lower := strings.ToLower(t.text); {
	case t.text == "(":
		cp.pos++
		e, err := cp.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c, ok := cp.peek(); !ok || c.text != ")" {
			return nil, &condError{off: c.off, reason: "missing `)`"}
		}
		cp.pos++
		return e, nil
	case lower == "1" || lower == "any" || lower == "all":
		if cp.pos+1 < len(cp.toks) && strings.EqualFold(cp.toks[cp.pos+1].text, "of") {
			cp.pos += 2
			return cp.quantified(lower == "all")
		}
	case isReserved(lower) || t.text == ")" || t.text == "|":
		return nil, &condError{off: t.off, reason: fmt.Sprintf("unexpected %q where a search identifier was expected", t.text)}
	}
	if strings.Contains(t.text, "*") {
		return nil, &condError{off: t.off, reason: fmt.Sprintf("a pattern (%q) needs `1 of` or `all of`", t.text)}
	}
	cp.pos++
	s := cp.lookup(t.text)
	if s == nil {
		return nil, &condError{off: t.off, reason: fmt.Sprintf("unknown search identifier %q", t.text)}
	}
	if err := cp.reference(s, t.off); err != nil {
		return nil, err
	}
	return s.expr, nil
}

func isReserved(w string) bool {
	switch w {
	case "and", "or", "not", "of", "them":
		return true
	}
	return false
}

// quantified is `1 of x` / `all of x`: over the identifiers a pattern or `them` names, each as a whole. On one
// identifier both are the identifier itself: a list of mappings is ORed whatever the quantifier, as the
// specification says ("logically linked with their default behavior for maps (AND) and lists (OR)") and pySigma
// does.
func (cp *condParser) quantified(all bool) (rule.Expr, error) {
	t, ok := cp.peek()
	if !ok {
		return nil, &condError{off: t.off, reason: "`of` needs a search identifier, a pattern or `them`"}
	}
	cp.pos++
	if !strings.Contains(t.text, "*") && !strings.EqualFold(t.text, "them") {
		s := cp.lookup(t.text)
		if s == nil {
			return nil, &condError{off: t.off, reason: fmt.Sprintf("unknown search identifier %q", t.text)}
		}
		if err := cp.reference(s, t.off); err != nil {
			return nil, err
		}
		return s.expr, nil
	}
	combine := simplifyOr
	if all {
		combine = simplifyAnd
	}
	var pattern *regexp.Regexp
	if !strings.EqualFold(t.text, "them") {
		pattern = regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(t.text), `\*`, ".*") + "$")
	}
	var terms []rule.Expr
	for i, s := range cp.searches {
		// `them` and patterns leave out identifiers starting with an underscore, as the Sigma specification says
		// and pySigma does: they are helpers the condition names on its own.
		if strings.HasPrefix(s.name, "_") || pattern != nil && !pattern.MatchString(s.name) {
			continue
		}
		if err := cp.reference(&cp.searches[i], t.off); err != nil {
			return nil, err
		}
		terms = append(terms, s.expr)
	}
	if len(terms) == 0 {
		return nil, &condError{off: t.off, reason: fmt.Sprintf("%q matches no search identifier (those starting with _ are left out)", t.text)}
	}
	return combine(terms), nil
}

func (cp *condParser) lookup(name string) *search {
	for i := range cp.searches {
		if cp.searches[i].name == name {
			return &cp.searches[i]
		}
	}
	return nil
}
